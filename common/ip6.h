/* Value types for what every layer of fp6 talks about: an IPv6 address, a
 * prefix, an Ethernet address. They are plain 16/17/6-byte values, cheap to
 * copy, hashable with absl, and parse/format with the words iproute2 uses. */
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace fp6 {

/* An IPv6 address in network byte order. */
class Ip6 {
  public:
    constexpr Ip6() noexcept = default;
    constexpr explicit Ip6(const std::array<uint8_t, 16>& b) noexcept : b_(b) {}
    static Ip6 from_bytes(const void* p) noexcept {
        Ip6 a;
        std::memcpy(a.b_.data(), p, 16);
        return a;
    }
    /* Parses the text form (RFC 4291 2.2); nullopt if it is not one. */
    static std::optional<Ip6> parse(std::string_view text);
    std::string str() const; /* RFC 5952 canonical text */

    constexpr const uint8_t* data() const noexcept { return b_.data(); }
    uint8_t* data() noexcept { return b_.data(); }
    constexpr uint8_t operator[](int i) const noexcept { return b_[i]; }
    uint8_t& operator[](int i) noexcept { return b_[i]; }
    constexpr const std::array<uint8_t, 16>& bytes() const noexcept { return b_; }

    /* 32-bit word i (0..3) in host order. */
    constexpr uint32_t word(int i) const noexcept {
        return uint32_t(b_[4 * i]) << 24 | uint32_t(b_[4 * i + 1]) << 16 |
               uint32_t(b_[4 * i + 2]) << 8 | b_[4 * i + 3];
    }

    /* :: and ::1 (RFC 4291 2.5.2, 2.5.3) as two 8-byte words: a byte loop
     * here is if-converted by GCC into ORs of every byte, run on each packet
     * even where the caller tests the first byte before asking. */
    constexpr bool is_unspecified() const noexcept {
        if (std::is_constant_evaluated())
            return *this == Ip6();
        const auto [hi, lo] = halves();
        return (hi | lo) == 0;
    }
    constexpr bool is_loopback() const noexcept {
        if (std::is_constant_evaluated())
            return *this == Ip6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        const auto [hi, lo] = halves();
        return hi == 0 && lo == kLoopbackLow;
    }
    constexpr bool is_multicast() const noexcept { return b_[0] == 0xff; }
    /* fe80::/10 (RFC 4291 2.5.6). */
    constexpr bool is_linklocal() const noexcept { return b_[0] == 0xfe && (b_[1] & 0xc0) == 0x80; }
    /* ff02::/16 and ff01::/16: link- and interface-local multicast scopes. */
    constexpr bool is_linklocal_multicast() const noexcept {
        return b_[0] == 0xff && ((b_[1] & 0x0f) == 0x02 || (b_[1] & 0x0f) == 0x01);
    }
    /* ::ffff:0:0/96 (RFC 4291 2.5.5.2). */
    constexpr bool is_v4mapped() const noexcept {
        for (int i = 0; i < 10; i++)
            if (b_[i] != 0)
                return false;
        return b_[10] == 0xff && b_[11] == 0xff;
    }
    /* ::/96 minus :: and ::1 (deprecated IPv4-compatible, RFC 4291 2.5.5.1). */
    constexpr bool is_v4compat() const noexcept {
        for (int i = 0; i < 12; i++)
            if (b_[i] != 0)
                return false;
        return !is_unspecified() && !is_loopback();
    }
    /* The multicast scope field (RFC 4291 2.7); only meaningful for multicast. */
    constexpr int mcast_scope() const noexcept { return b_[1] & 0x0f; }

    /* ff02::1:ffXX:XXXX for this address (RFC 4291 2.7.1). */
    constexpr Ip6 solicited_node() const noexcept {
        std::array<uint8_t, 16> s{0xff, 0x02, 0, 0, 0,    0,      0,      0,
                                  0,    0,    0, 1, 0xff, b_[13], b_[14], b_[15]};
        return Ip6(s);
    }

    /* Number of leading bits this address shares with o (0..128). */
    int common_prefix_len(const Ip6& o) const noexcept;
    /* This address with every bit past plen cleared. */
    Ip6 masked(int plen) const noexcept;

    /* Two 8-byte compares rather than a memcmp call: hash tables keyed by
     * addresses and prefixes compare keys on every probe. */
    friend constexpr bool operator==(const Ip6& a, const Ip6& b) noexcept {
        if (std::is_constant_evaluated())
            return a.b_ == b.b_;
        uint64_t x[2], y[2];
        std::memcpy(x, a.b_.data(), 16);
        std::memcpy(y, b.b_.data(), 16);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
    friend constexpr auto operator<=>(const Ip6&, const Ip6&) noexcept = default;
    template <typename H>
    friend H AbslHashValue(H h, const Ip6& a) {
        return H::combine_contiguous(std::move(h), a.b_.data(), a.b_.size());
    }

  private:
    /* The low 8 bytes of ::1 as a native-order word. */
    static constexpr uint64_t kLoopbackLow =
        std::endian::native == std::endian::little ? uint64_t(1) << 56 : 1;
    /* The address as two native-order 8-byte words. */
    std::pair<uint64_t, uint64_t> halves() const noexcept {
        uint64_t w[2];
        std::memcpy(w, b_.data(), 16);
        return {w[0], w[1]};
    }

    std::array<uint8_t, 16> b_{};
};

/* Well-known addresses. */
inline constexpr Ip6 kAllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
inline constexpr Ip6 kAllRouters{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

/* A prefix: an address and a length 0..128. A Prefix6 built by parse() or
 * of() may carry host bits; canonical() clears them, and has_host_bits()
 * tells whether the text meant something else than it said. */
class Prefix6 {
  public:
    constexpr Prefix6() noexcept = default;
    constexpr Prefix6(const Ip6& a, int len) noexcept : addr_(a), len_(uint8_t(len)) {}

    /* "ADDR/LEN", "ADDR" (a /128) or "default" (::/0). */
    static std::optional<Prefix6> parse(std::string_view text);
    std::string str() const; /* "default" is spelled ::/0 */

    constexpr const Ip6& addr() const noexcept { return addr_; }
    constexpr int len() const noexcept { return len_; }
    Prefix6 canonical() const noexcept { return Prefix6(addr_.masked(len_), len_); }
    bool has_host_bits() const noexcept { return addr_.masked(len_) != addr_; }
    bool contains(const Ip6& a) const noexcept { return a.masked(len_) == addr_.masked(len_); }

    friend constexpr bool operator==(const Prefix6&, const Prefix6&) noexcept = default;
    friend constexpr auto operator<=>(const Prefix6&, const Prefix6&) noexcept = default;
    template <typename H>
    friend H AbslHashValue(H h, const Prefix6& p) {
        return H::combine(std::move(h), p.addr_, p.len_);
    }

  private:
    Ip6 addr_;
    uint8_t len_ = 0;
};

/* A 48-bit Ethernet address. */
class Mac {
  public:
    constexpr Mac() noexcept = default;
    constexpr explicit Mac(const std::array<uint8_t, 6>& b) noexcept : b_(b) {}
    static Mac from_bytes(const void* p) noexcept {
        Mac m;
        std::memcpy(m.b_.data(), p, 6);
        return m;
    }
    /* "aa:bb:cc:dd:ee:ff" */
    static std::optional<Mac> parse(std::string_view text);
    std::string str() const;

    constexpr const uint8_t* data() const noexcept { return b_.data(); }
    constexpr bool is_zero() const noexcept { return *this == Mac(); }
    constexpr bool is_multicast() const noexcept { return b_[0] & 1; }
    /* 33:33:xx:xx:xx:xx for an IPv6 multicast group (RFC 2464 7). */
    static constexpr Mac for_multicast(const Ip6& g) noexcept {
        return Mac({0x33, 0x33, g[12], g[13], g[14], g[15]});
    }

    friend constexpr bool operator==(const Mac&, const Mac&) noexcept = default;
    template <typename H>
    friend H AbslHashValue(H h, const Mac& m) {
        return H::combine_contiguous(std::move(h), m.b_.data(), m.b_.size());
    }

  private:
    std::array<uint8_t, 6> b_{};
};

}  // namespace fp6
