/* Router Advertisements (RFC 4861 6): the builder, checked through parse_nd,
 * the config checks, and the scheduler on a fake clock. */
#include "nd/ra.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <variant>

#include "nd/ndp.h"

namespace fp6 {
namespace {

const Ip6 kLinkLocal = *Ip6::parse("fe80::5054:ff:fe12:3456");
const Mac kMac = *Mac::parse("52:54:00:12:34:56");
const Ip6 kHost = *Ip6::parse("fe80::1");

Prefix6 pfx(const char* text) {
    return *Prefix6::parse(text);
}

RaConfig with_prefixes(std::vector<RaPrefix> prefixes) {
    RaConfig c;
    c.prefixes = std::move(prefixes);
    return c;
}

/* ---- build_ra ---- */

struct BuildCase {
    const char* name;
    RaConfig cfg;
    Ip6 dst;
};

std::vector<BuildCase> build_cases() {
    std::vector<BuildCase> cases;
    cases.push_back({"defaults, one /64", with_prefixes({{pfx("2001:db8:1::/64")}}), kAllNodes});
    {
        RaConfig c;
        c.managed = true;
        c.other = true;
        c.cur_hop_limit = 0;
        c.reachable_time_ms = 30000;
        c.retrans_timer_ms = 1000;
        c.mtu = 1500;
        c.lifetime_s = 0;
        c.prefixes = {{pfx("2001:db8:1::/64"), true, false, 0xffffffff, 0xffffffff},
                      {pfx("2001:db8:2::/64"), false, true, 7200, 3600},
                      {pfx("2001:db8:3::/48"), true, true, 100, 0}};
        cases.push_back({"every field set, lifetime 0, unicast", c, kHost});
    }
    {
        RaConfig c;
        c.max_interval_s = 4;
        c.mtu = 9000;
        cases.push_back({"no prefix, max 4 s", c, kAllNodes});
    }
    {
        RaConfig c;
        c.max_interval_s = 1800;
        c.min_interval_s = 1350;
        c.lifetime_s = 9000;
        c.cur_hop_limit = 255;
        c.prefixes = {{pfx("2001:db8:ffff:ffff::/64")}, {pfx("2001:db8::/32"), false, false, 1, 1}};
        cases.push_back({"longest intervals", c, kAllNodes});
    }
    return cases;
}

TEST(RouterAdvert, BuildRoundTripsThroughParseNd) {
    for (const BuildCase& bc : build_cases()) {
        for (bool final_ra : {false, true}) {
            SCOPED_TRACE(std::string(bc.name) + (final_ra ? ", final" : ""));
            ASSERT_TRUE(validate(bc.cfg).ok()) << validate(bc.cfg);
            std::array<uint8_t, 1500> buf{};
            const size_t n = build_ra(buf, kLinkLocal, bc.dst, bc.cfg, kMac, final_ra);
            ASSERT_EQ(n, ra_len(bc.cfg));
            EXPECT_EQ(n, 40u + 16 + 8 + (bc.cfg.mtu ? 8 : 0) + 32 * bc.cfg.prefixes.size());
            NdParse parsed = parse_nd(buf.data(), n);
            ASSERT_TRUE(std::holds_alternative<NdMessage>(parsed))
                << nd_drop_name(std::get<NdDrop>(parsed));
            const NdMessage& m = std::get<NdMessage>(parsed);
            EXPECT_EQ(m.type, kIcmp6RouterAdvert);
            EXPECT_EQ(m.src, kLinkLocal);
            EXPECT_EQ(m.dst, bc.dst);
            EXPECT_EQ(m.hop_limit, 255);
            EXPECT_EQ(m.cur_hop_limit, bc.cfg.cur_hop_limit);
            EXPECT_EQ(m.managed, bc.cfg.managed);
            EXPECT_EQ(m.other, bc.cfg.other);
            EXPECT_EQ(m.router_lifetime, final_ra ? 0u : bc.cfg.effective_lifetime_s());
            EXPECT_EQ(m.reachable_time, bc.cfg.reachable_time_ms);
            EXPECT_EQ(m.retrans_timer, bc.cfg.retrans_timer_ms);
            EXPECT_EQ(m.mtu, bc.cfg.mtu);
            ASSERT_TRUE(m.src_lladdr);
            EXPECT_EQ(*m.src_lladdr, kMac);
            ASSERT_EQ(m.prefixes.size(), bc.cfg.prefixes.size());
            for (size_t i = 0; i < m.prefixes.size(); i++) {
                SCOPED_TRACE("prefix " + std::to_string(i));
                const RaPrefix& want = bc.cfg.prefixes[i];
                EXPECT_EQ(m.prefixes[i].prefix, want.prefix);
                EXPECT_EQ(m.prefixes[i].on_link, want.on_link);
                EXPECT_EQ(m.prefixes[i].autonomous, want.autonomous);
                EXPECT_EQ(m.prefixes[i].valid_lifetime, want.valid_lft);
                EXPECT_EQ(m.prefixes[i].preferred_lifetime, want.preferred_lft);
            }
        }
    }
}

TEST(RouterAdvert, BuildWritesTheRfcLayout) {
    RaConfig c = with_prefixes({{pfx("2001:db8:1::/64")}});
    c.mtu = 1500;
    c.managed = true;
    std::array<uint8_t, 200> buf;
    buf.fill(0xee);
    const size_t n = build_ra(buf, kLinkLocal, kAllNodes, c, kMac, false);
    ASSERT_EQ(n, 40u + 16 + 8 + 8 + 32);
    EXPECT_EQ(buf[0] >> 4, 6);
    EXPECT_EQ((buf[4] << 8 | buf[5]), int(n - 40)) << "payload length";
    EXPECT_EQ(buf[6], 58) << "next header ICMPv6";
    EXPECT_EQ(buf[7], 255) << "hop limit (RFC 4861 6.1.2)";
    const uint8_t* icmp = buf.data() + 40;
    EXPECT_EQ(icmp[0], 134);
    EXPECT_EQ(icmp[1], 0) << "code";
    EXPECT_TRUE(icmp6_checksum_ok(kLinkLocal, kAllNodes, icmp, n - 40));
    EXPECT_EQ(icmp[4], 64) << "Cur Hop Limit default";
    EXPECT_EQ(icmp[5], 0x80) << "M only, reserved bits zero";
    EXPECT_EQ((icmp[6] << 8 | icmp[7]), 1800) << "3 x 600 s";
    for (int i = 8; i < 16; i++)
        EXPECT_EQ(icmp[i], 0) << "Reachable Time and Retrans Timer unspecified, byte " << i;
    const uint8_t slla[8] = {1, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    EXPECT_EQ(0, std::memcmp(icmp + 16, slla, 8));
    const uint8_t mtu[8] = {5, 1, 0, 0, 0, 0, 0x05, 0xdc};
    EXPECT_EQ(0, std::memcmp(icmp + 24, mtu, 8));
    const uint8_t* pi = icmp + 32;
    EXPECT_EQ(pi[0], 3);
    EXPECT_EQ(pi[1], 4);
    EXPECT_EQ(pi[2], 64);
    EXPECT_EQ(pi[3], 0xc0) << "L and A, reserved bits zero";
    for (int i = 12; i < 16; i++)
        EXPECT_EQ(pi[i], 0) << "Reserved2, byte " << i;
    EXPECT_EQ(Ip6::from_bytes(pi + 16), *Ip6::parse("2001:db8:1::"));
    EXPECT_EQ(buf[n], 0xee) << "nothing written past the RA";
}

TEST(RouterAdvert, FinalRaDiffersOnlyInRouterLifetime) {
    RaConfig c = with_prefixes({{pfx("2001:db8:1::/64")}});
    std::array<uint8_t, 200> normal{}, final_ra{};
    const size_t n = build_ra(normal, kLinkLocal, kAllNodes, c, kMac, false);
    ASSERT_EQ(build_ra(final_ra, kLinkLocal, kAllNodes, c, kMac, true), n);
    for (size_t i = 0; i < n; i++) {
        if (i == 42 || i == 43 || i == 46 || i == 47)
            continue;  // checksum, Router Lifetime
        EXPECT_EQ(normal[i], final_ra[i]) << "byte " << i;
    }
    EXPECT_EQ(final_ra[46], 0);
    EXPECT_EQ(final_ra[47], 0);
}

TEST(RouterAdvert, BuildRefusesWritingNothing) {
    const RaConfig good = with_prefixes({{pfx("2001:db8:1::/64")}});
    RaConfig bad = good;
    bad.max_interval_s = 2;
    struct Case {
        const char* name;
        size_t buf_len;
        Ip6 src, dst;
        RaConfig cfg;
    } cases[] = {
        {"buffer one byte short", ra_len(good) - 1, kLinkLocal, kAllNodes, good},
        {"empty buffer", 0, kLinkLocal, kAllNodes, good},
        {"global source", 200, *Ip6::parse("2001:db8::1"), kAllNodes, good},
        {"unspecified source", 200, Ip6(), kAllNodes, good},
        {"multicast source", 200, kAllNodes, kAllNodes, good},
        {"unspecified destination", 200, kLinkLocal, Ip6(), good},
        {"invalid config", 200, kLinkLocal, kAllNodes, bad},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        std::array<uint8_t, 200> buf;
        buf.fill(0xee);
        EXPECT_EQ(build_ra(std::span(buf).first(c.buf_len), c.src, c.dst, c.cfg, kMac, false), 0u);
        EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0xee; }));
    }
    std::array<uint8_t, 200> buf{};
    EXPECT_EQ(
        build_ra(std::span(buf).first(ra_len(good)), kLinkLocal, kAllNodes, good, kMac, false),
        ra_len(good))
        << "an exact-size buffer is enough";
}

/* ---- RaConfig defaults and validate() ---- */

TEST(RouterAdvert, Defaults) {
    struct Case {
        unsigned max_s;
        unsigned want_min_s, want_lifetime_s;
    } cases[] = {
        {600, 198, 1800}, {4, 3, 12}, {9, 3, 27}, {10, 3, 30}, {100, 33, 300}, {1800, 594, 5400},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE("max " + std::to_string(c.max_s));
        RaConfig cfg;
        cfg.max_interval_s = c.max_s;
        EXPECT_EQ(cfg.effective_min_interval_s(), c.want_min_s);
        EXPECT_EQ(cfg.effective_lifetime_s(), c.want_lifetime_s);
        EXPECT_TRUE(validate(cfg).ok()) << validate(cfg);
    }
    RaConfig cfg;
    EXPECT_FALSE(cfg.enabled);
    EXPECT_FALSE(cfg.managed || cfg.other);
    EXPECT_EQ(cfg.cur_hop_limit, 64);
    EXPECT_FALSE(cfg.mtu);
    cfg.lifetime_s = 0;
    cfg.min_interval_s = 100;
    EXPECT_EQ(cfg.effective_lifetime_s(), 0u);
    EXPECT_EQ(cfg.effective_min_interval_s(), 100u);
    RaPrefix p;
    EXPECT_TRUE(p.on_link && p.autonomous);
    EXPECT_EQ(p.valid_lft, 2592000u);
    EXPECT_EQ(p.preferred_lft, 604800u);
}

TEST(RouterAdvert, ValidateRanges) {
    struct Case {
        const char* name;
        void (*edit)(RaConfig&);
        const char* error;  // a substring of the message; nullptr: valid
    } cases[] = {
        {"defaults", [](RaConfig&) {}, nullptr},
        {"max 3 s", [](RaConfig& c) { c.max_interval_s = 3; },
         "max interval 3 s is outside 4..1800"},
        {"max 4 s", [](RaConfig& c) { c.max_interval_s = 4; }, nullptr},
        {"max 1800 s", [](RaConfig& c) { c.max_interval_s = 1800; }, nullptr},
        {"max 1801 s", [](RaConfig& c) { c.max_interval_s = 1801; }, "max interval 1801 s"},
        {"min 2 s", [](RaConfig& c) { c.min_interval_s = 2; },
         "min interval 2 s is outside 3..450"},
        {"min 3 s", [](RaConfig& c) { c.min_interval_s = 3; }, nullptr},
        {"min 0.75 max", [](RaConfig& c) { c.min_interval_s = 450; }, nullptr},
        {"min over 0.75 max", [](RaConfig& c) { c.min_interval_s = 451; }, "min interval 451 s"},
        {"min 3 with max 4",
         [](RaConfig& c) {
             c.max_interval_s = 4;
             c.min_interval_s = 3;
         },
         nullptr},
        {"min 4 with max 5",
         [](RaConfig& c) {
             c.max_interval_s = 5;
             c.min_interval_s = 4;
         },
         "outside 3..3.75 s"},
        {"lifetime 0", [](RaConfig& c) { c.lifetime_s = 0; }, nullptr},
        {"lifetime below max", [](RaConfig& c) { c.lifetime_s = 599; },
         "router lifetime 599 s must be 0 or 600..9000"},
        {"lifetime max", [](RaConfig& c) { c.lifetime_s = 600; }, nullptr},
        {"lifetime 9000", [](RaConfig& c) { c.lifetime_s = 9000; }, nullptr},
        {"lifetime 9001", [](RaConfig& c) { c.lifetime_s = 9001; }, "router lifetime 9001 s"},
        {"reachable 1 h", [](RaConfig& c) { c.reachable_time_ms = 3600000; }, nullptr},
        {"reachable over 1 h", [](RaConfig& c) { c.reachable_time_ms = 3600001; },
         "reachable time 3600001 ms"},
        {"mtu 1280", [](RaConfig& c) { c.mtu = 1280; }, nullptr},
        {"mtu 1279", [](RaConfig& c) { c.mtu = 1279; }, "mtu 1279 is below 1280"},
        {"prefix /48 autonomous", [](RaConfig& c) { c.prefixes = {{pfx("2001:db8::/48")}}; },
         nullptr},
        {"prefix ::/0", [](RaConfig& c) { c.prefixes = {{pfx("::/0")}}; }, nullptr},
        {"prefix /128", [](RaConfig& c) { c.prefixes = {{pfx("2001:db8::1/128")}}; }, nullptr},
        {"prefix host bits", [](RaConfig& c) { c.prefixes = {{pfx("2001:db8::1/64")}}; },
         "prefix 0 (2001:db8::1/64): bits set past the prefix length"},
        {"prefix length 129",
         [](RaConfig& c) { c.prefixes = {{Prefix6(*Ip6::parse("2001:db8::"), 129)}}; },
         "prefix length must be 0..128"},
        {"multicast prefix", [](RaConfig& c) { c.prefixes = {{pfx("ff02::/64")}}; }, "multicast"},
        {"link-local prefix", [](RaConfig& c) { c.prefixes = {{pfx("fe80::/64")}}; }, "link-local"},
        {"preferred over valid",
         [](RaConfig& c) {
             c.prefixes = {{pfx("2001:db8::/64"), true, true, 100, 101}};
         },
         "preferred lifetime 101 s exceeds valid lifetime 100 s"},
        {"preferred equals valid",
         [](RaConfig& c) {
             c.prefixes = {{pfx("2001:db8::/64"), true, true, 100, 100}};
         },
         nullptr},
        {"duplicate prefix",
         [](RaConfig& c) {
             c.prefixes = {{pfx("2001:db8::/64")},
                           {pfx("2001:db8:1::/64")},
                           {pfx("2001:db8::/64"), false, false}};
         },
         "prefix 2 (2001:db8::/64) is listed twice"},
        {"37 prefixes with MTU fit 1280 bytes",
         [](RaConfig& c) {
             c.mtu = 1500;
             for (int i = 0; i < 37; i++)
                 c.prefixes.push_back({Prefix6(Ip6({0x20, 0x01, 0x0d, 0xb8, 0, uint8_t(i)}), 64)});
         },
         nullptr},
        {"38 prefixes with MTU do not",
         [](RaConfig& c) {
             c.mtu = 1500;
             for (int i = 0; i < 38; i++)
                 c.prefixes.push_back({Prefix6(Ip6({0x20, 0x01, 0x0d, 0xb8, 0, uint8_t(i)}), 64)});
         },
         "38 prefixes make a 1288-byte RA"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        RaConfig cfg;
        c.edit(cfg);
        absl::Status st = validate(cfg);
        if (c.error == nullptr) {
            EXPECT_TRUE(st.ok()) << st;
        } else {
            EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
            EXPECT_NE(std::string(st.message()).find(c.error), std::string::npos) << st.message();
        }
    }
}

/* ---- RaScheduler ---- */

struct Sent {
    uint64_t t;
    RaAction a;
};

/* Drives a scheduler on a fake clock: advance_to() polls at every deadline
 * on the way, as the control thread's timer would. */
class Sim {
  public:
    explicit Sim(uint64_t seed, const RaConfig& cfg = RaConfig()) : s_(seed) {
        take(s_.configure(0, cfg));
    }
    void advance_to(uint64_t t) {
        while (auto d = s_.next_deadline()) {
            if (*d > t)
                break;
            EXPECT_GE(*d, now_) << "a deadline in the past";
            now_ = std::max(now_, *d);
            const size_t before = sent.size();
            take(s_.poll(now_));
            EXPECT_EQ(sent.size(), before + 1) << "a deadline with nothing to do at " << now_;
            if (sent.size() != before + 1)
                break;
        }
        now_ = std::max(now_, t);
        take(s_.poll(now_));
    }
    void start() { take(s_.start(now_)); }
    void stop() { take(s_.stop(now_)); }
    void rs() { take(s_.on_rs(now_, kHost)); }
    void configure(const RaConfig& cfg) { take(s_.configure(now_, cfg)); }
    uint64_t now() const { return now_; }
    RaScheduler& sched() { return s_; }
    std::vector<Sent> sent;

  private:
    void take(const std::vector<RaAction>& acts) {
        EXPECT_LE(acts.size(), 1u) << "two RAs at once";
        for (const RaAction& a : acts) {
            EXPECT_EQ(a.kind, RaAction::kSendRa);
            EXPECT_EQ(a.dst, kAllNodes);
            sent.push_back({now_, a});
        }
    }
    RaScheduler s_;
    uint64_t now_ = 0;
};

RaConfig intervals(unsigned max_s, std::optional<unsigned> min_s = std::nullopt) {
    RaConfig c;
    c.max_interval_s = max_s;
    c.min_interval_s = min_s;
    return c;
}

struct IntervalCase {
    const char* name;
    RaConfig cfg;
};

std::vector<IntervalCase> interval_cases() {
    return {{"max 4 min 3", intervals(4, 3)},
            {"max 10 (min 3)", intervals(10)},
            {"max 30 min 20", intervals(30, 20)},
            {"default 600 (min 198)", intervals(600)},
            {"max 1800 min 1350", intervals(1800, 1350)}};
}

void expect_multicast_spacing(const std::vector<Sent>& sent) {
    for (size_t i = 1; i < sent.size(); i++)
        EXPECT_GE(sent[i].t - sent[i - 1].t, kMinDelayBetweenRasMs)
            << "RAs " << i - 1 << " and " << i << " at " << sent[i - 1].t << " and " << sent[i].t;
}

TEST(RouterAdvert, InitialRasThenRandomIntervals) {
    for (const IntervalCase& ic : interval_cases()) {
        const uint64_t min_ms = ic.cfg.effective_min_interval_s() * 1000ull;
        const uint64_t max_ms = ic.cfg.max_interval_s * 1000ull;
        for (uint64_t seed = 0; seed < 20; seed++) {
            SCOPED_TRACE(std::string(ic.name) + ", seed " + std::to_string(seed));
            Sim sim(seed, ic.cfg);
            sim.advance_to(1000);
            EXPECT_TRUE(sim.sent.empty()) << "nothing before start";
            sim.start();
            ASSERT_EQ(sim.sent.size(), 1u) << "the first RA at once";
            EXPECT_EQ(sim.sent[0].t, 1000u);
            sim.advance_to(1000 + 30 * max_ms);
            ASSERT_GE(sim.sent.size(), 20u);
            for (size_t i = 1; i < sim.sent.size(); i++) {
                SCOPED_TRACE("RA " + std::to_string(i));
                const uint64_t gap = sim.sent[i].t - sim.sent[i - 1].t;
                EXPECT_FALSE(sim.sent[i].a.final_ra || sim.sent[i].a.solicited);
                if (i < kMaxInitialRtrAdvertisements) {
                    EXPECT_LE(gap, kMaxInitialRtrAdvertIntervalMs);
                    EXPECT_GE(gap, std::min(min_ms, kMaxInitialRtrAdvertIntervalMs));
                } else {
                    EXPECT_GE(gap, min_ms);
                    EXPECT_LE(gap, max_ms);
                }
            }
        }
    }
}

TEST(RouterAdvert, IntervalsAreSpreadOverTheRange) {
    Sim sim(7, intervals(100, 30));
    sim.start();
    sim.advance_to(3600 * 1000 * 24);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = kMaxInitialRtrAdvertisements; i < sim.sent.size(); i++) {
        const uint64_t gap = sim.sent[i].t - sim.sent[i - 1].t;
        lo = std::min(lo, gap);
        hi = std::max(hi, gap);
    }
    EXPECT_LT(lo, 35000u);
    EXPECT_GT(hi, 95000u);
}

/* Starts advertising, runs to the last RA of the initial burst, then
 * `since_last` further. Returns the time of that RA. */
uint64_t settle(Sim& sim, uint64_t since_last) {
    sim.start();
    while (sim.sent.size() < kMaxInitialRtrAdvertisements)
        sim.advance_to(*sim.sched().next_deadline());
    const uint64_t last = sim.sent.back().t;
    EXPECT_GT(*sim.sched().next_deadline(), last + since_last) << "the test needs a quiet link";
    sim.advance_to(last + since_last);
    EXPECT_EQ(sim.sent.back().t, last);
    return last;
}

TEST(RouterAdvert, SolicitedRaWithinHalfASecond) {
    uint64_t min_delay = UINT64_MAX, max_delay = 0;
    int second_rs_while_pending = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        Sim sim(seed);  // max 600 s, min 198 s: no unsolicited RA gets in the way
        settle(sim, 10000);
        const uint64_t rs_at = sim.now();
        const size_t before = sim.sent.size();
        sim.rs();
        sim.advance_to(rs_at + 100);
        if (sim.sent.size() == before) {
            sim.rs();  // a second RS while the answer is pending changes nothing
            second_rs_while_pending++;
        }
        sim.advance_to(rs_at + 2000);
        ASSERT_EQ(sim.sent.size(), before + 1) << "one answer for both RSs";
        const Sent ans = sim.sent.back();
        EXPECT_TRUE(ans.a.solicited);
        EXPECT_FALSE(ans.a.final_ra);
        EXPECT_LE(ans.t - rs_at, kMaxRaDelayTimeMs);
        min_delay = std::min(min_delay, ans.t - rs_at);
        max_delay = std::max(max_delay, ans.t - rs_at);
        // RFC 4861 6.2.6: the unsolicited timer restarts from the answer.
        sim.advance_to(ans.t + 600 * 1000);
        ASSERT_GE(sim.sent.size(), before + 2);
        EXPECT_FALSE(sim.sent[before + 1].a.solicited);
        EXPECT_GE(sim.sent[before + 1].t - ans.t, 198000u);
        EXPECT_LE(sim.sent[before + 1].t - ans.t, 600000u);
    }
    EXPECT_LT(min_delay, 100u) << "the delay is random over [0, 500] ms";
    EXPECT_GT(max_delay, 400u);
    EXPECT_GT(second_rs_while_pending, 100);
}

TEST(RouterAdvert, SolicitedRaPushedByTheThreeSecondRule) {
    uint64_t late = 0;  // the most an answer came after the 3 s, for RSs 0-1 s after the RA
    for (uint64_t since_last : {0u, 1u, 1000u, 2500u, 2999u}) {
        for (uint64_t seed = 0; seed < 20; seed++) {
            SCOPED_TRACE("RS " + std::to_string(since_last) + " ms after an RA, seed " +
                         std::to_string(seed));
            Sim sim(seed);
            const uint64_t last = settle(sim, since_last);
            const size_t before = sim.sent.size();
            sim.rs();
            sim.advance_to(last + 10000);
            ASSERT_EQ(sim.sent.size(), before + 1);
            EXPECT_TRUE(sim.sent.back().a.solicited);
            EXPECT_GE(sim.sent.back().t, last + kMinDelayBetweenRasMs);
            EXPECT_LE(sim.sent.back().t, last + kMinDelayBetweenRasMs + kMaxRaDelayTimeMs);
            if (since_last <= 1000)
                late = std::max(late, sim.sent.back().t - last - kMinDelayBetweenRasMs);
        }
    }
    EXPECT_GT(late, 300u) << "3 s plus the random delay (RFC 4861 6.2.6), not 3 s flat";
}

TEST(RouterAdvert, RsAnsweredByAnUnsolicitedRaDueFirst) {
    // Max 4 s, min 3 s: the RA after the one at `last` is due 3-4 s later;
    // an RS 2.9 s after `last` would be answered 3-3.5 s after it.
    int answered_by_unsolicited = 0;
    for (uint64_t seed = 0; seed < 100; seed++) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        Sim sim(seed, intervals(4, 3));
        sim.start();
        sim.advance_to(60000);
        sim.advance_to(*sim.sched().next_deadline());
        const uint64_t last = sim.sent.back().t;
        ASSERT_EQ(last, sim.now());
        const uint64_t next = *sim.sched().next_deadline();
        sim.advance_to(last + 2900);
        const size_t before = sim.sent.size();
        sim.rs();
        sim.advance_to(last + 10000);
        ASSERT_GT(sim.sent.size(), before);
        const Sent& ans = sim.sent[before];
        EXPECT_LE(ans.t, last + kMinDelayBetweenRasMs + kMaxRaDelayTimeMs);
        EXPECT_LE(ans.t, next) << "never later than the unsolicited RA";
        if (!ans.a.solicited) {
            EXPECT_EQ(ans.t, next);
            answered_by_unsolicited++;
        }
        if (sim.sent.size() > before + 1) {
            EXPECT_GE(sim.sent[before + 1].t - ans.t, 3000u) << "no extra RA for the RS";
        }
    }
    EXPECT_GT(answered_by_unsolicited, 0);
    EXPECT_LT(answered_by_unsolicited, 100);
}

TEST(RouterAdvert, RsIgnoredUnlessAdvertising) {
    Sim sim(1);
    sim.rs();
    sim.advance_to(10000);
    EXPECT_TRUE(sim.sent.empty());
    EXPECT_FALSE(sim.sched().next_deadline());
    sim.start();
    sim.advance_to(100000);
    sim.stop();
    sim.advance_to(200000);
    const size_t n = sim.sent.size();
    sim.rs();
    sim.advance_to(300000);
    EXPECT_EQ(sim.sent.size(), n);
}

TEST(RouterAdvert, StopSendsFinalRasThenNothing) {
    for (uint64_t since_last : {0u, 1000u, 2999u, 3000u, 50000u}) {
        SCOPED_TRACE("stop " + std::to_string(since_last) + " ms after an RA");
        Sim sim(3);
        const uint64_t last = settle(sim, since_last);
        const size_t before = sim.sent.size();
        sim.stop();
        EXPECT_FALSE(sim.sched().advertising());
        EXPECT_TRUE(sim.sched().stopping());
        const size_t at_once = since_last >= kMinDelayBetweenRasMs ? 1 : 0;
        EXPECT_EQ(sim.sent.size(), before + at_once)
            << "the first final RA at once, unless the 3 s rule holds it back";
        sim.advance_to(sim.now() + 3600 * 1000);
        ASSERT_EQ(sim.sent.size(), before + kMaxFinalRtrAdvertisements);
        for (size_t i = before; i < sim.sent.size(); i++) {
            EXPECT_TRUE(sim.sent[i].a.final_ra);
            EXPECT_FALSE(sim.sent[i].a.solicited);
        }
        EXPECT_EQ(sim.sent[before].t, std::max(last + since_last, last + kMinDelayBetweenRasMs));
        EXPECT_EQ(sim.sent[before + 1].t - sim.sent[before].t, kMinDelayBetweenRasMs);
        EXPECT_EQ(sim.sent[before + 2].t - sim.sent[before + 1].t, kMinDelayBetweenRasMs);
        EXPECT_FALSE(sim.sched().stopping());
        EXPECT_FALSE(sim.sched().next_deadline());
        sim.stop();  // stopping again does nothing
        sim.advance_to(sim.now() + 3600 * 1000);
        EXPECT_EQ(sim.sent.size(), before + kMaxFinalRtrAdvertisements);
    }
}

TEST(RouterAdvert, RestartWorks) {
    struct Case {
        const char* name;
        uint64_t restart_after;  // ms after stop()
        size_t finals;           // final RAs sent before the restart cancels the rest
    } cases[] = {
        {"restart at once", 0, 1},
        {"restart between finals", 4000, 2},
        {"restart after the finals", 20000, 3},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Sim sim(5);
        settle(sim, 10000);
        const size_t before = sim.sent.size();
        sim.stop();
        const uint64_t stop_at = sim.now();
        sim.advance_to(stop_at + c.restart_after);
        sim.start();
        EXPECT_TRUE(sim.sched().advertising());
        EXPECT_FALSE(sim.sched().stopping()) << "start cancels the final RAs left";
        sim.start();  // starting again does nothing
        const uint64_t start_at = sim.now();
        sim.advance_to(start_at + 3600 * 1000);
        size_t finals = 0;
        for (size_t i = before; i < sim.sent.size(); i++)
            finals += sim.sent[i].a.final_ra;
        EXPECT_EQ(finals, c.finals);
        const size_t first = before + c.finals;
        ASSERT_GT(sim.sent.size(), first + 3);
        EXPECT_FALSE(sim.sent[first].a.final_ra);
        EXPECT_EQ(sim.sent[first].t,
                  std::max(start_at, sim.sent[first - 1].t + kMinDelayBetweenRasMs))
            << "the first RA as soon as the 3 s rule allows";
        EXPECT_LE(sim.sent[first + 1].t - sim.sent[first].t, kMaxInitialRtrAdvertIntervalMs)
            << "a new initial burst";
        EXPECT_LE(sim.sent[first + 2].t - sim.sent[first + 1].t, kMaxInitialRtrAdvertIntervalMs);
        EXPECT_GE(sim.sent[first + 3].t - sim.sent[first + 2].t, 198000u);
        expect_multicast_spacing(sim.sent);
    }
}

TEST(RouterAdvert, ConfigChangeRestartsTheInitialRas) {
    Sim sim(9);
    settle(sim, 100000);
    const size_t before = sim.sent.size();
    RaConfig cfg = intervals(1800, 1000);
    cfg.prefixes = {{pfx("2001:db8::/64")}};
    sim.configure(cfg);
    ASSERT_EQ(sim.sent.size(), before + 1) << "the new information at once";
    sim.advance_to(sim.now() + 7200 * 1000);
    ASSERT_GT(sim.sent.size(), before + 4);
    EXPECT_LE(sim.sent[before + 1].t - sim.sent[before].t, kMaxInitialRtrAdvertIntervalMs);
    EXPECT_LE(sim.sent[before + 2].t - sim.sent[before + 1].t, kMaxInitialRtrAdvertIntervalMs);
    for (size_t i = before + 3; i < sim.sent.size(); i++) {
        EXPECT_GE(sim.sent[i].t - sim.sent[i - 1].t, 1000000u) << "the new intervals";
        EXPECT_LE(sim.sent[i].t - sim.sent[i - 1].t, 1800000u);
    }
    // Configuring a stopped port sends nothing.
    Sim idle(9);
    idle.configure(cfg);
    idle.advance_to(100000);
    EXPECT_TRUE(idle.sent.empty());
}

TEST(RouterAdvert, InvalidIntervalsStillKeepThreeSeconds) {
    Sim sim(11, intervals(1, 0));  // fails validate(); the scheduler clamps
    sim.start();
    for (int i = 0; i < 200; i++) {
        sim.rs();
        sim.advance_to(sim.now() + 700);
    }
    ASSERT_GT(sim.sent.size(), 10u);
    expect_multicast_spacing(sim.sent);
}

/* The property: over a long run with RSs at random times, two multicast RAs
 * are never less than 3 s apart, every RS is answered within 0.5 s or
 * within 0.5 s of the 3 s the rule imposes, and unsolicited RAs keep to
 * their intervals. */
TEST(RouterAdvert, RandomRunProperties) {
    struct RsRate {
        const char* name;
        uint64_t mean_gap_ms;
    } rates[] = {{"RS storm", 300}, {"busy link", 2500}, {"quiet link", 60000}};
    for (const IntervalCase& ic : interval_cases()) {
        const uint64_t min_ms = ic.cfg.effective_min_interval_s() * 1000ull;
        const uint64_t max_ms = ic.cfg.max_interval_s * 1000ull;
        for (const RsRate& rate : rates) {
            SCOPED_TRACE(std::string(ic.name) + ", " + rate.name);
            Sim sim(1234, ic.cfg);
            std::mt19937_64 rng(99);
            std::exponential_distribution<double> gap(1.0 / double(rate.mean_gap_ms));
            struct Rs {
                uint64_t t;
                std::optional<uint64_t> last_ra;  // the last RA before it
                size_t next_index;                // sim.sent.size() when it came
            };
            std::vector<Rs> rss;
            sim.start();
            const uint64_t end = 6 * 3600 * 1000ull;
            uint64_t t = 0;
            while (true) {
                t += uint64_t(gap(rng)) + 1;
                if (t > end)
                    break;
                sim.advance_to(t);
                std::optional<uint64_t> last;
                if (!sim.sent.empty())
                    last = sim.sent.back().t;
                rss.push_back({t, last, sim.sent.size()});
                sim.rs();
            }
            sim.advance_to(end + 10000);
            expect_multicast_spacing(sim.sent);
            for (const Rs& rs : rss) {
                if (rs.t + 4000 > end)
                    break;
                ASSERT_LT(rs.next_index, sim.sent.size());
                const uint64_t answer = sim.sent[rs.next_index].t;
                uint64_t bound = rs.t + kMaxRaDelayTimeMs;
                if (rs.last_ra)
                    bound =
                        std::max(bound, *rs.last_ra + kMinDelayBetweenRasMs + kMaxRaDelayTimeMs);
                EXPECT_LE(answer, bound) << "RS at " << rs.t;
            }
            for (size_t i = 1; i < sim.sent.size(); i++) {
                EXPECT_FALSE(sim.sent[i].a.final_ra);
                if (sim.sent[i].a.solicited)
                    continue;
                const uint64_t g = sim.sent[i].t - sim.sent[i - 1].t;
                const bool initial = i < kMaxInitialRtrAdvertisements;
                EXPECT_GE(g, initial ? std::min(min_ms, kMaxInitialRtrAdvertIntervalMs) : min_ms)
                    << "unsolicited RA " << i;
                EXPECT_LE(g, initial ? std::min(max_ms, kMaxInitialRtrAdvertIntervalMs) : max_ms)
                    << "unsolicited RA " << i;
            }
            if (HasFailure())
                return;
        }
    }
}

/* Random starts, stops, RSs and config changes: the 3 s rule always holds,
 * final RAs come only after a stop and at most three per stop, nothing
 * comes while stopped. Also polls every 10 ms to check next_deadline()
 * hides nothing. */
TEST(RouterAdvert, RandomStartStopKeepsTheRules) {
    for (uint64_t seed = 0; seed < 10; seed++) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        RaScheduler s(seed);
        std::mt19937_64 rng(seed + 1000);
        std::vector<Sent> sent;
        s.configure(0, intervals(4, 3));
        size_t finals_since_stop = 0;
        bool advertising = false;
        for (uint64_t now = 0; now < 2 * 3600 * 1000ull; now += 10) {
            std::vector<RaAction> acts;
            switch (rng() % 1000) {
                case 0:
                    acts = s.start(now);
                    advertising = true;
                    finals_since_stop = 0;
                    break;
                case 1:
                    acts = s.stop(now);
                    if (advertising)
                        finals_since_stop = 0;
                    advertising = false;
                    break;
                case 2:
                    acts = s.configure(now, intervals(4 + rng() % 10, 3));
                    break;
                case 3:
                case 4:
                case 5:
                    acts = s.on_rs(now, kHost);
                    break;
                default: {
                    const auto d = s.next_deadline();
                    acts = s.poll(now);
                    EXPECT_EQ(!acts.empty(), d && *d <= now) << "at " << now;
                }
            }
            EXPECT_LE(acts.size(), 1u);
            for (const RaAction& a : acts) {
                sent.push_back({now, a});
                EXPECT_EQ(a.final_ra, !advertising) << "at " << now;
                if (a.final_ra) {
                    EXPECT_LE(++finals_since_stop, kMaxFinalRtrAdvertisements);
                }
            }
            EXPECT_EQ(s.advertising(), advertising);
        }
        EXPECT_GT(sent.size(), 100u);
        expect_multicast_spacing(sent);
        if (HasFailure())
            return;
    }
}

}  // namespace
}  // namespace fp6
