#include "common/ip6.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace fp6 {

std::optional<Ip6> Ip6::parse(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
        return std::nullopt;
    char buf[INET6_ADDRSTRLEN];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    Ip6 a;
    if (inet_pton(AF_INET6, buf, a.b_.data()) != 1)
        return std::nullopt;
    return a;
}

std::string Ip6::str() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, b_.data(), buf, sizeof(buf));
    return buf;
}

int Ip6::common_prefix_len(const Ip6& o) const noexcept {
    for (int i = 0; i < 16; i++) {
        uint8_t x = b_[i] ^ o.b_[i];
        if (x != 0)
            return i * 8 + __builtin_clz(unsigned(x)) - 24;
    }
    return 128;
}

Ip6 Ip6::masked(int plen) const noexcept {
    if (plen >= 128)
        return *this;
    // As two big-endian 64-bit halves: a mask is one shift per half.
    uint64_t half[2];
    std::memcpy(half, b_.data(), 16);
    uint64_t hi = __builtin_bswap64(half[0]), lo = __builtin_bswap64(half[1]);
    if (plen <= 0) {
        hi = lo = 0;
    } else if (plen <= 64) {
        hi &= plen == 64 ? ~uint64_t(0) : ~(~uint64_t(0) >> plen);
        lo = 0;
    } else {
        lo &= ~(~uint64_t(0) >> (plen - 64));
    }
    half[0] = __builtin_bswap64(hi);
    half[1] = __builtin_bswap64(lo);
    Ip6 r;
    std::memcpy(r.b_.data(), half, 16);
    return r;
}

std::optional<Prefix6> Prefix6::parse(std::string_view text) {
    if (text == "default")
        return Prefix6(Ip6(), 0);
    auto slash = text.find('/');
    auto a = Ip6::parse(text.substr(0, slash));
    if (!a)
        return std::nullopt;
    if (slash == std::string_view::npos)
        return Prefix6(*a, 128);
    std::string_view lens = text.substr(slash + 1);
    unsigned len = 0;
    auto [end, ec] = std::from_chars(lens.data(), lens.data() + lens.size(), len);
    if (ec != std::errc() || end != lens.data() + lens.size() || lens.empty() || len > 128)
        return std::nullopt;
    return Prefix6(*a, int(len));
}

std::string Prefix6::str() const {
    return addr_.str() + "/" + std::to_string(len_);
}

std::optional<Mac> Mac::parse(std::string_view text) {
    if (text.size() != 17)
        return std::nullopt;
    Mac m;
    for (int i = 0; i < 6; i++) {
        if (i > 0 && text[3 * i - 1] != ':')
            return std::nullopt;
        const char* p = text.data() + 3 * i;
        auto [end, ec] = std::from_chars(p, p + 2, m.b_[i], 16);
        if (ec != std::errc() || end != p + 2)
            return std::nullopt;
    }
    return m;
}

std::string Mac::str() const {
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", b_[0], b_[1], b_[2], b_[3],
                  b_[4], b_[5]);
    return buf;
}

}  // namespace fp6
