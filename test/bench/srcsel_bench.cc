/* Source address selection: nanoseconds per selection when the cache
 * answers, and when it misses (lookup, select_source(), put()) with 2, 16
 * and 256 candidate addresses. Prints one line per case; runs about a
 * second in all. */
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "rib/srcsel.h"

namespace fp6 {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kCaseTime = std::chrono::milliseconds(250);
constexpr uint32_t kDsts = 1024;  // distinct destinations cycled through
constexpr uint16_t kPorts = 4;

/* 2001:db8:HH:LL:: + tail, for HH:LL = i. */
Ip6 addr(uint8_t b2, uint32_t i, uint8_t tail) {
    std::array<uint8_t, 16> b{0x20,      0x01, 0x0d, 0xb8, b2, uint8_t(i >> 16), uint8_t(i >> 8),
                              uint8_t(i)};
    b[15] = tail;
    return Ip6(b);
}

/* n candidates as a router might have them: a link-local address per port,
 * the rest global /64s spread over the ports, some autoconfigured, some
 * temporary, one deprecated. */
std::vector<SrcCandidate> candidates(uint32_t n) {
    std::vector<SrcCandidate> c;
    for (uint32_t i = 0; i < n; i++) {
        SrcCandidate s{.addr = addr(0x00, i, 1), .plen = 64, .port = uint16_t(i % kPorts)};
        if (i < kPorts && n > kPorts) {
            std::array<uint8_t, 16> ll{0xfe, 0x80};
            ll[15] = uint8_t(i + 1);
            s.addr = Ip6(ll);
        }
        s.autoconf = i % 3 == 1;
        s.temporary = i % 7 == 5;
        s.preferred = i != n / 2;
        c.push_back(s);
    }
    return c;
}

/* Destinations under no candidate's prefix, so every rule runs. */
std::vector<Ip6> destinations() {
    std::vector<Ip6> d;
    for (uint32_t i = 0; i < kDsts; i++)
        d.push_back(addr(0x80, i * 2654435761u, 0x99));
    return d;
}

/* Runs body(i) for i = 0, 1, ... in rounds until kCaseTime has passed;
 * returns nanoseconds per call. */
template <typename F>
double time_per_call(F&& body, uint64_t& calls) {
    calls = 0;
    uint64_t round = 1024;
    auto start = Clock::now();
    Clock::duration spent{};
    while (spent < kCaseTime) {
        for (uint64_t i = 0; i < round; i++)
            body(calls + i);
        calls += round;
        spent = Clock::now() - start;
        round *= 2;
    }
    return std::chrono::duration<double, std::nano>(spent).count() / double(calls);
}

void report(const char* what, double ns, uint64_t calls) {
    std::printf("srcsel %-32s %9.1f ns/selection  (%llu runs)\n", what, ns,
                static_cast<unsigned long long>(calls));
    std::fflush(stdout);
}

int run() {
    const PolicyTable policy;
    const std::vector<Ip6> dsts = destinations();
    uint64_t sink = 0, calls = 0;

    {
        // Fill, then time the keys that stayed (a full bucket overwrites).
        SrcCache cache(4 * kDsts);
        for (uint32_t i = 0; i < kDsts; i++)
            cache.put(dsts[i], uint16_t(i % kPorts), 1, addr(0x00, i, 1));
        std::vector<uint32_t> kept;
        for (uint32_t i = 0; i < kDsts; i++)
            if (cache.lookup(dsts[i], uint16_t(i % kPorts), 1).has_value())
                kept.push_back(i);
        uint64_t misses = 0;
        double ns = time_per_call(
            [&](uint64_t i) {
                uint32_t k = kept[i % kept.size()];
                std::optional<Ip6> s = cache.lookup(dsts[k], uint16_t(k % kPorts), 1);
                misses += !s.has_value();
                sink += s.has_value() ? (*s)[15] : 0;
            },
            calls);
        report("cache hit", ns, calls);
        if (misses != 0) {
            std::fprintf(stderr, "srcsel_bench: %llu lookups missed in the hit case\n",
                         static_cast<unsigned long long>(misses));
            return 1;
        }
    }

    for (uint32_t n : {2u, 16u, 256u}) {
        const std::vector<SrcCandidate> cands = candidates(n);
        SrcCache cache(4 * kDsts);
        double ns = time_per_call(
            [&](uint64_t i) {
                uint32_t k = uint32_t(i % kDsts);
                SrcQuery q{.dst = dsts[k], .out_port = uint16_t(k % kPorts)};
                uint64_t gen = i + 2;  // never the generation stored: always a miss
                std::optional<Ip6> s = cache.lookup(q.dst, q.out_port, gen);
                if (!s.has_value()) {
                    absl::StatusOr<Ip6> sel = select_source(q, cands, policy);
                    s = sel.ok() ? *sel : Ip6();
                    cache.put(q.dst, q.out_port, gen, *s);
                }
                sink += (*s)[15];
            },
            calls);
        char what[64];
        std::snprintf(what, sizeof what, "cache miss, %u candidates", n);
        report(what, ns, calls);
    }
    std::printf("srcsel checksum %llu\n", static_cast<unsigned long long>(sink));
    return 0;
}

}  // namespace
}  // namespace fp6

int main() {
    return fp6::run();
}
