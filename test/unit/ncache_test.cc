/* The neighbour cache state machine on a fake clock (RFC 4861 7.2, 7.3 and
 * appendix C). */
#include "nd/ncache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>

namespace fp6 {
namespace {

const Ip6 kAddr = *Ip6::parse("2001:db8::1");
const Ip6 kLinkLocal = *Ip6::parse("fe80::1");
const Mac kMacA = *Mac::parse("02:00:00:00:00:0a");
const Mac kMacB = *Mac::parse("02:00:00:00:00:0b");

NcPacket pkt(uintptr_t n) {
    return reinterpret_cast<NcPacket>(n);
}

Ip6 host(uint32_t n) {
    Ip6 a = *Ip6::parse("2001:db8:1::");
    a[12] = uint8_t(n >> 24);
    a[13] = uint8_t(n >> 16);
    a[14] = uint8_t(n >> 8);
    a[15] = uint8_t(n);
    return a;
}

std::string describe(const NcAction& a) {
    switch (a.kind) {
        case NcAction::kSendNs:
            return a.multicast ? "ns multicast" : "ns unicast " + a.mac.str();
        case NcAction::kSend:
            return "send " + std::to_string(reinterpret_cast<uintptr_t>(a.pkt)) + " " + a.mac.str();
        case NcAction::kDropPacket:
            return "drop " + std::to_string(reinterpret_cast<uintptr_t>(a.pkt)) + " " +
                   nc_drop_name(a.reason);
        case NcAction::kMacKnown:
            return "known " + a.mac.str();
        case NcAction::kMacLost:
            return "lost";
        case NcAction::kRouterLost:
            return "router lost";
    }
    return "?";
}

/* The actions as short strings, for exact comparisons. */
std::vector<std::string> describe(const std::vector<NcAction>& acts) {
    std::vector<std::string> out;
    for (const NcAction& a : acts)
        out.push_back(describe(a));
    return out;
}

using Strings = std::vector<std::string>;

/* A cache on a fake clock. */
struct Harness {
    /* Runs poll() at every deadline up to and including `to`, collecting the
     * actions and the time each was returned. */
    std::vector<NcAction> advance(uint64_t to) {
        std::vector<NcAction> all;
        while (auto d = nc.next_deadline()) {
            if (*d > to)
                break;
            now = std::max(now, *d);
            for (const NcAction& a : nc.poll(now)) {
                all.push_back(a);
                when.push_back(now);
            }
        }
        now = std::max(now, to);
        return all;
    }
    NcState state(const Ip6& a = kAddr, uint16_t port = 0) const {
        auto e = nc.get(port, a, now);
        EXPECT_TRUE(e) << a.str() << " has no entry";
        return e ? e->state : NcState::kFailed;
    }
    bool present(const Ip6& a = kAddr, uint16_t port = 0) const {
        return nc.get(port, a, now).has_value();
    }

    NeighborCache nc{42};
    uint64_t now = 0;
    std::vector<uint64_t> when;
};

/* Where an entry for kAddr is before an event. */
enum class Start { kNone, kIncomplete, kReachable, kStale, kDelay, kProbe, kPermanent, kFailed };

const char* start_name(Start s) {
    switch (s) {
        case Start::kNone:
            return "none";
        case Start::kIncomplete:
            return "INCOMPLETE";
        case Start::kReachable:
            return "REACHABLE";
        case Start::kStale:
            return "STALE";
        case Start::kDelay:
            return "DELAY";
        case Start::kProbe:
            return "PROBE";
        case Start::kPermanent:
            return "PERMANENT";
        case Start::kFailed:
            return "FAILED";
    }
    return "?";
}

/* Brings kAddr on port 0 into state s, with MAC kMacA where it has one and
 * IsRouter = router (INCOMPLETE: packet 1 queued), and returns the time. */
uint64_t prepare(NeighborCache& nc, Start s, bool router = false) {
    uint64_t t = 1000;
    switch (s) {
        case Start::kNone:
            break;
        case Start::kIncomplete:
            nc.resolve(0, kAddr, pkt(1), t);
            if (router)
                nc.on_ra_or_rs(0, kAddr, std::nullopt, true, t);
            break;
        case Start::kReachable:
            nc.resolve(0, kAddr, pkt(1), t);
            nc.on_na(0, kAddr, kMacA, router, true, false, t);
            break;
        case Start::kStale:
            nc.on_ns(0, kAddr, kMacA, t);
            if (router)
                nc.on_ra_or_rs(0, kAddr, std::nullopt, true, t);
            break;
        case Start::kDelay:
            nc.on_ns(0, kAddr, kMacA, t);
            if (router)
                nc.on_ra_or_rs(0, kAddr, std::nullopt, true, t);
            nc.used(0, kAddr, t);
            break;
        case Start::kProbe:
            nc.on_ns(0, kAddr, kMacA, t);
            if (router)
                nc.on_ra_or_rs(0, kAddr, std::nullopt, true, t);
            nc.used(0, kAddr, t);
            t += kDelayFirstProbeMs;
            nc.poll(t);
            break;
        case Start::kPermanent:
            (void)nc.add_static(0, kAddr, kMacA, router, t);
            break;
        case Start::kFailed:
            nc.resolve(0, kAddr, pkt(1), t);
            t += 3000;
            for (uint64_t d = 1000; d <= 3000; d += 1000)
                nc.poll(1000 + d);
            break;
    }
    return t;
}

std::optional<NcState> to_state(Start s) {
    switch (s) {
        case Start::kNone:
            return std::nullopt;
        case Start::kIncomplete:
            return NcState::kIncomplete;
        case Start::kReachable:
            return NcState::kReachable;
        case Start::kStale:
            return NcState::kStale;
        case Start::kDelay:
            return NcState::kDelay;
        case Start::kProbe:
            return NcState::kProbe;
        case Start::kPermanent:
            return NcState::kPermanent;
        case Start::kFailed:
            return NcState::kFailed;
    }
    return std::nullopt;
}

TEST(NeighborCache, PreparedStatesAreWhatTheySay) {
    for (Start s : {Start::kIncomplete, Start::kReachable, Start::kStale, Start::kDelay,
                    Start::kProbe, Start::kPermanent, Start::kFailed}) {
        SCOPED_TRACE(start_name(s));
        NeighborCache nc(1);
        uint64_t t = prepare(nc, s);
        auto e = nc.get(0, kAddr, t);
        ASSERT_TRUE(e);
        EXPECT_EQ(e->state, *to_state(s));
    }
}

// ---------------------------------------------------------------------------
// Appendix C, first table: packet to send, timers.

TEST(NeighborCache, NoEntryPacketToSendCreatesIncompleteAndSendsMulticastNs) {
    NeighborCache nc(1);
    auto acts = nc.resolve(0, kAddr, pkt(1), 100);
    EXPECT_EQ(describe(acts), Strings({"ns multicast"}));
    EXPECT_EQ(acts[0].addr, kAddr);
    auto e = nc.get(0, kAddr, 100);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->state, NcState::kIncomplete);
    EXPECT_FALSE(e->mac);
    EXPECT_EQ(e->queued, 1u);
    EXPECT_EQ(nc.next_deadline(), 1100u) << "retransmit timer started";
}

TEST(NeighborCache, IncompleteRetransmitsThenFailsHoldsDownAndIsRemoved) {
    Harness h;
    h.nc.resolve(0, kAddr, pkt(1), 0);
    h.nc.resolve(0, kAddr, pkt(2), 500);
    auto acts = h.advance(2999);
    // RFC 4861 7.2.2: MAX_MULTICAST_SOLICIT (3) NS in all, RetransTimer apart.
    EXPECT_EQ(describe(acts), Strings({"ns multicast", "ns multicast"}));
    EXPECT_EQ(h.when, std::vector<uint64_t>({1000, 2000}));
    EXPECT_EQ(h.state(), NcState::kIncomplete);

    acts = h.advance(3000);
    EXPECT_EQ(describe(acts), Strings({"drop 1 resolution_failed", "drop 2 resolution_failed"}));
    EXPECT_EQ(h.state(), NcState::kFailed);
    EXPECT_EQ(h.nc.counters(0).resolution_failed, 1u);

    // Hold-down: packets are dropped at once, no new NS.
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(3), 4000)), Strings({"drop 3 failed"}));
    EXPECT_EQ(describe(h.nc.on_na(0, kAddr, kMacA, false, true, true, 4000)), Strings{})
        << "an NA finds no entry in hold-down";
    EXPECT_TRUE(h.advance(5999).empty());
    EXPECT_EQ(h.state(), NcState::kFailed);
    EXPECT_TRUE(h.advance(6000).empty()) << "the marker goes silently";
    EXPECT_FALSE(h.present());
    EXPECT_FALSE(h.nc.next_deadline());

    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(4), 7000)), Strings({"ns multicast"}))
        << "after the hold-down a packet starts a new resolution";
}

TEST(NeighborCache, QueueOverflowDropsTheOldest) {
    Harness h;
    h.nc.resolve(0, kAddr, pkt(1), 0);
    EXPECT_TRUE(h.nc.resolve(0, kAddr, pkt(2), 1).empty());
    EXPECT_TRUE(h.nc.resolve(0, kAddr, pkt(3), 2).empty());
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(4), 3)), Strings({"drop 1 queue_full"}));
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(5), 4)), Strings({"drop 2 queue_full"}));
    EXPECT_EQ(h.nc.get(0, kAddr, 4)->queued, 3u);
    EXPECT_EQ(h.nc.counters(0).queue_drops, 2u);
    auto acts = h.nc.on_na(0, kAddr, kMacA, false, true, false, 5);
    EXPECT_EQ(describe(acts), Strings({"send 3 02:00:00:00:00:0a", "send 4 02:00:00:00:00:0a",
                                       "send 5 02:00:00:00:00:0a", "known 02:00:00:00:00:0a"}));
}

TEST(NeighborCache, QueueLengthIsAParameter) {
    Harness h;
    NcParams p;
    p.queue_len = 1;
    ASSERT_TRUE(h.nc.set_params(0, p).ok());
    h.nc.resolve(0, kAddr, pkt(1), 0);
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(2), 1)), Strings({"drop 1 queue_full"}));
    EXPECT_EQ(h.nc.get(0, kAddr, 1)->queued, 1u);
}

/* RFC 6583: a scan of an on-link prefix creates an INCOMPLETE entry per
 * address; the packets they hold are capped across all ports together, and
 * resolution (or deletion) gives the room back. */
TEST(NeighborCache, PacketsAwaitingResolutionAreCappedRouterWide) {
    Harness h;
    h.nc.set_max_queued(4);
    auto addr = [](int i) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                  0,    0,    0,    0,    0, 0, 0, uint8_t(i)};
        return Ip6(b);
    };
    for (int i = 1; i <= 4; i++)
        EXPECT_EQ(describe(h.nc.resolve(uint16_t(i % 2), addr(i), pkt(uintptr_t(i)), 0)),
                  Strings({"ns multicast"}));
    EXPECT_EQ(h.nc.queued(), 4u);
    // A fifth address still gets its NS, but its packet is dropped.
    EXPECT_EQ(describe(h.nc.resolve(1, addr(5), pkt(5), 1)),
              Strings({"drop 5 queue_total", "ns multicast"}));
    EXPECT_EQ(describe(h.nc.resolve(0, addr(2), pkt(6), 1)), Strings({"drop 6 queue_total"}));
    EXPECT_EQ(h.nc.queued(), 4u);
    // An answer sends the queued packet and frees its room.
    h.nc.on_na(1, addr(1), kMacA, false, true, false, 2);
    EXPECT_EQ(h.nc.queued(), 3u);
    EXPECT_TRUE(h.nc.resolve(0, addr(2), pkt(7), 3).empty());
    EXPECT_EQ(h.nc.queued(), 4u);
    h.nc.forget_port(0);
    EXPECT_EQ(h.nc.queued(), 1u) << "the entries of port 0 took their packets with them";
}

TEST(NeighborCache, RetransTimerIsAParameter) {
    Harness h;
    NcParams p;
    p.retrans_ms = 250;
    ASSERT_TRUE(h.nc.set_params(0, p).ok());
    h.nc.resolve(0, kAddr, pkt(1), 0);
    auto acts = h.advance(750 + kFailedHoldMs - 1);
    EXPECT_EQ(describe(acts),
              Strings({"ns multicast", "ns multicast", "drop 1 resolution_failed"}));
    EXPECT_EQ(h.when, std::vector<uint64_t>({250, 500, 750}));
    EXPECT_EQ(h.state(), NcState::kFailed);
    h.advance(750 + kFailedHoldMs);
    EXPECT_FALSE(h.present());
}

TEST(NeighborCache, ReachableBecomesStaleAfterReachableTime) {
    Harness h;
    h.nc.resolve(0, kAddr, pkt(1), 0);
    h.nc.on_na(0, kAddr, kMacA, false, true, false, 0);
    auto d = h.nc.next_deadline();
    ASSERT_TRUE(d);
    EXPECT_GE(*d, 15000u);
    EXPECT_LE(*d, 45000u);
    EXPECT_TRUE(h.advance(*d - 1).empty());
    EXPECT_EQ(h.state(), NcState::kReachable);
    EXPECT_TRUE(h.advance(*d).empty()) << "the MAC stays published in STALE";
    EXPECT_EQ(h.state(), NcState::kStale);
    EXPECT_FALSE(h.nc.next_deadline()) << "STALE has no timer";
}

TEST(NeighborCache, ReachableTimeIsRandomizedWithinBoundsPerEntryAndConfirmation) {
    Harness h;
    NcParams p;
    p.base_reachable_ms = 10000;
    ASSERT_TRUE(h.nc.set_params(0, p).ok());
    // 200 entries confirmed at t=0, then one entry confirmed 200 times.
    std::vector<uint64_t> spans;
    for (uint32_t i = 0; i < 200; i++) {
        h.nc.on_ns(0, host(i), kMacA, 0);
        h.nc.on_na(0, host(i), std::nullopt, false, true, false, 0);
        ASSERT_EQ(h.state(host(i)), NcState::kReachable);
    }
    std::map<Ip6, uint64_t> became_stale;
    for (uint64_t t = 0; t <= 15000; t += 50) {
        h.advance(t);
        for (uint32_t i = 0; i < 200; i++)
            if (!became_stale.count(host(i)) && h.state(host(i)) == NcState::kStale)
                became_stale[host(i)] = t;
    }
    ASSERT_EQ(became_stale.size(), 200u);
    for (const auto& [a, t] : became_stale)
        spans.push_back(t);
    uint64_t t0 = h.now;
    for (int i = 0; i < 200; i++) {
        h.nc.on_na(0, host(0), std::nullopt, false, true, false, t0);
        auto d = h.nc.next_deadline();
        ASSERT_TRUE(d);
        spans.push_back(*d - t0);
        h.nc.on_ns(0, host(0), kMacB, t0);  // MAC change: STALE, timer gone
        h.nc.on_ns(0, host(0), kMacA, t0);
        t0++;
    }
    auto [lo, hi] = std::minmax_element(spans.begin(), spans.end());
    // RFC 4861 6.3.2: uniformly between 0.5 and 1.5 times BaseReachableTime.
    EXPECT_GE(*lo, 5000u);
    EXPECT_LE(*hi, 15000u);
    EXPECT_LT(*lo, 6000u) << "spread over the whole range";
    EXPECT_GT(*hi, 14000u) << "spread over the whole range";
    // The 200 reconfirmations of one entry drew different times.
    std::vector<uint64_t> again(spans.begin() + 200, spans.end());
    std::sort(again.begin(), again.end());
    EXPECT_GT(std::unique(again.begin(), again.end()) - again.begin(), 150);
}

TEST(NeighborCache, StaleSendingPacketGoesDelayThenProbeThenDeleted) {
    Harness h;
    h.nc.on_ns(0, kAddr, kMacA, 0);
    EXPECT_EQ(h.state(), NcState::kStale);
    // Appendix C: STALE, sending packet: start delay timer, DELAY.
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(7), 100)), Strings({"send 7 02:00:00:00:00:0a"}));
    EXPECT_EQ(h.state(), NcState::kDelay);
    EXPECT_EQ(h.nc.next_deadline(), 5100u);
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(8), 200)), Strings({"send 8 02:00:00:00:00:0a"}))
        << "DELAY, sending packet: unchanged";
    EXPECT_EQ(h.nc.next_deadline(), 5100u) << "the delay timer is not restarted";

    auto acts = h.advance(5100);
    EXPECT_EQ(describe(acts), Strings({"ns unicast 02:00:00:00:00:0a"}));
    EXPECT_EQ(h.state(), NcState::kProbe);
    acts = h.advance(8099);
    EXPECT_EQ(describe(acts),
              Strings({"ns unicast 02:00:00:00:00:0a", "ns unicast 02:00:00:00:00:0a"}));
    EXPECT_EQ(h.when, std::vector<uint64_t>({5100, 6100, 7100}));
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(9), 8000)), Strings({"send 9 02:00:00:00:00:0a"}))
        << "PROBE, sending packet: unchanged, the cached MAC is still used";
    // RFC 4861 7.3.3: MAX_UNICAST_SOLICIT probes unanswered: entry deleted.
    acts = h.advance(8100);
    EXPECT_EQ(describe(acts), Strings({"lost"}));
    EXPECT_FALSE(h.present());
    EXPECT_EQ(h.nc.dynamic_size(0), 0u);
}

TEST(NeighborCache, UsedSignalMovesOnlyStaleToDelay) {
    Harness h;
    for (Start s : {Start::kReachable, Start::kStale, Start::kDelay, Start::kProbe,
                    Start::kPermanent, Start::kIncomplete, Start::kFailed}) {
        SCOPED_TRACE(start_name(s));
        NeighborCache nc(1);
        uint64_t t = prepare(nc, s);
        EXPECT_TRUE(nc.used(0, kAddr, t + 1).empty());
        NcState want = s == Start::kStale ? NcState::kDelay : *to_state(s);
        EXPECT_EQ(nc.get(0, kAddr, t + 1)->state, want);
    }
    EXPECT_TRUE(h.nc.used(0, kAddr, 0).empty()) << "an unknown entry is ignored";
    EXPECT_FALSE(h.present());
}

TEST(NeighborCache, ReachableSendingPacketStaysReachable) {
    Harness h;
    prepare(h.nc, Start::kReachable);
    auto d = h.nc.next_deadline();
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(2), 2000)),
              Strings({"send 2 02:00:00:00:00:0a"}));
    EXPECT_EQ(h.state(), NcState::kReachable);
    EXPECT_EQ(h.nc.next_deadline(), d);
}

TEST(NeighborCache, DelayConfirmedBySolicitedNaNeverProbes) {
    Harness h;
    prepare(h.nc, Start::kDelay);
    h.nc.on_na(0, kAddr, std::nullopt, false, true, false, 3000);
    EXPECT_EQ(h.state(), NcState::kReachable);
    auto acts = h.advance(10000);
    for (const NcAction& a : acts)
        EXPECT_NE(a.kind, NcAction::kSendNs);
}

TEST(NeighborCache, UpperLayerConfirmation) {
    Harness h;
    // Appendix C: !INCOMPLETE, upper-layer reachability confirmation:
    // REACHABLE.
    for (Start s : {Start::kReachable, Start::kStale, Start::kDelay, Start::kProbe,
                    Start::kPermanent, Start::kIncomplete, Start::kFailed}) {
        SCOPED_TRACE(start_name(s));
        NeighborCache nc(1);
        uint64_t t = prepare(nc, s);
        EXPECT_TRUE(nc.confirm(0, kAddr, t + 1).empty());
        bool becomes = s == Start::kReachable || s == Start::kStale || s == Start::kDelay ||
                       s == Start::kProbe;
        EXPECT_EQ(nc.get(0, kAddr, t + 1)->state, becomes ? NcState::kReachable : *to_state(s));
    }
}

// ---------------------------------------------------------------------------
// Neighbor Advertisements, RFC 4861 7.2.5 state by state.

enum class Ll { kNone, kSame, kDiff };

const char* ll_name(Ll l) {
    return l == Ll::kNone ? "no TLLA" : l == Ll::kSame ? "same TLLA" : "different TLLA";
}

std::optional<Mac> ll_mac(Ll l) {
    return l == Ll::kNone ? std::nullopt : l == Ll::kSame ? std::optional(kMacA) : kMacB;
}

TEST(NeighborCache, NaInIncomplete) {
    struct Row {
        Ll ll;
        bool s, o;
        NcState want;
        Strings acts;
    };
    const Strings sent = {"send 1 02:00:00:00:00:0b", "known 02:00:00:00:00:0b"};
    const Row rows[] = {
        // 7.2.5: without TLLA the advertisement is silently discarded.
        {Ll::kNone, false, false, NcState::kIncomplete, {}},
        {Ll::kNone, false, true, NcState::kIncomplete, {}},
        {Ll::kNone, true, false, NcState::kIncomplete, {}},
        {Ll::kNone, true, true, NcState::kIncomplete, {}},
        // Appendix C: INCOMPLETE, NA S=0, O=any: record, send queued, STALE
        // (then DELAY: a packet was sent to a STALE entry, 7.3.3).
        {Ll::kDiff, false, false, NcState::kDelay, sent},
        {Ll::kDiff, false, true, NcState::kDelay, sent},
        // Appendix C: INCOMPLETE, NA S=1, O=any: record, send queued,
        // REACHABLE.
        {Ll::kDiff, true, false, NcState::kReachable, sent},
        {Ll::kDiff, true, true, NcState::kReachable, sent},
    };
    for (const Row& r : rows) {
        for (bool router : {false, true}) {
            SCOPED_TRACE(testing::Message()
                         << ll_name(r.ll) << " S=" << r.s << " O=" << r.o << " R=" << router);
            NeighborCache nc(1);
            uint64_t t = prepare(nc, Start::kIncomplete);
            auto acts = nc.on_na(0, kAddr, ll_mac(r.ll), router, r.s, r.o, t + 10);
            EXPECT_EQ(describe(acts), r.acts);
            auto e = nc.get(0, kAddr, t + 10);
            ASSERT_TRUE(e);
            EXPECT_EQ(e->state, r.want);
            if (r.want == NcState::kIncomplete) {
                EXPECT_EQ(e->queued, 1u);
                EXPECT_FALSE(e->router);
            } else {
                EXPECT_EQ(e->mac, kMacB);
                EXPECT_EQ(e->queued, 0u);
                EXPECT_EQ(e->router, router) << "IsRouter from R";
            }
        }
    }
}

TEST(NeighborCache, NaInEveryOtherState) {
    // 7.2.5 for an entry that is not INCOMPLETE (cached MAC kMacA, IsRouter
    // false, NA with R=1): `reachable` is the outcome for REACHABLE,
    // `others` for STALE, DELAY and PROBE; nullopt means unchanged.
    struct Row {
        Ll ll;
        bool s, o;
        std::optional<NcState> reachable, others;
        bool new_mac;  // the TLLA replaced the MAC (and kMacKnown was returned)
        bool updated;  // case II: the entry was updated (IsRouter from R)
    };
    const auto R = NcState::kReachable, S = NcState::kStale;
    const std::optional<NcState> U;
    const Row rows[] = {
        // II, no TLLA: S=1 gives REACHABLE (7.2.5), otherwise unchanged;
        // IsRouter updated (appendix C: "update content of IsRouter flag").
        {Ll::kNone, false, false, U, U, false, true},
        {Ll::kNone, false, true, U, U, false, true},
        {Ll::kNone, true, false, R, R, false, true},
        {Ll::kNone, true, true, R, R, false, true},
        // II, the same address: appendix C "!INCOMPLETE, NA S=0, O=any, same
        // address: unchanged" and "NA S=1, O=0, same address: REACHABLE".
        {Ll::kSame, false, false, U, U, false, true},
        {Ll::kSame, false, true, U, U, false, true},
        {Ll::kSame, true, false, R, R, false, true},
        {Ll::kSame, true, true, R, R, false, true},
        // I, a different address without Override: REACHABLE becomes STALE
        // (I.a), the others ignore it (I.b); appendix C rows "REACHABLE, NA
        // S=1, O=0, different: STALE", "STALE, PROBE or DELAY ...:
        // unchanged", "!INCOMPLETE, NA S=0, O=0: unchanged".
        {Ll::kDiff, false, false, S, U, false, false},
        {Ll::kDiff, true, false, S, U, false, false},
        // II, a different address with Override: appendix C "NA S=0, O=1,
        // different: record, STALE" and "NA S=1, O=1: record, REACHABLE".
        {Ll::kDiff, false, true, S, S, true, true},
        {Ll::kDiff, true, true, R, R, true, true},
    };
    for (Start st : {Start::kReachable, Start::kStale, Start::kDelay, Start::kProbe}) {
        for (const Row& r : rows) {
            SCOPED_TRACE(testing::Message() << start_name(st) << ", " << ll_name(r.ll)
                                            << " S=" << r.s << " O=" << r.o);
            NeighborCache nc(1);
            uint64_t t = prepare(nc, st) + 10;
            auto acts = nc.on_na(0, kAddr, ll_mac(r.ll), true, r.s, r.o, t);
            auto e = nc.get(0, kAddr, t);
            ASSERT_TRUE(e);
            auto want = st == Start::kReachable ? r.reachable : r.others;
            EXPECT_EQ(e->state, want.value_or(*to_state(st)));
            EXPECT_EQ(e->mac, r.new_mac ? kMacB : kMacA);
            EXPECT_EQ(describe(acts), r.new_mac ? Strings({"known 02:00:00:00:00:0b"}) : Strings{});
            EXPECT_EQ(e->router, r.updated);
            if (want) {
                EXPECT_EQ(e->age_ms, 0u) << "the state was entered anew";
            }
        }
    }
}

TEST(NeighborCache, NaIgnoredWithoutEntryInFailedAndPermanent) {
    for (Start st : {Start::kNone, Start::kFailed, Start::kPermanent}) {
        for (Ll ll : {Ll::kNone, Ll::kSame, Ll::kDiff})
            for (int flags = 0; flags < 8; flags++) {
                bool r = flags & 1, s = flags & 2, o = flags & 4;
                SCOPED_TRACE(testing::Message() << start_name(st) << ", " << ll_name(ll)
                                                << " R=" << r << " S=" << s << " O=" << o);
                NeighborCache nc(1);
                uint64_t t = prepare(nc, st, true) + 10;
                auto before = nc.get(0, kAddr, t);
                EXPECT_TRUE(nc.on_na(0, kAddr, ll_mac(ll), r, s, o, t).empty());
                auto after = nc.get(0, kAddr, t);
                ASSERT_EQ(after.has_value(), before.has_value()) << "creates no entry";
                if (after) {
                    EXPECT_EQ(after->state, before->state);
                    EXPECT_EQ(after->mac, before->mac);
                    EXPECT_EQ(after->router, before->router);
                }
            }
    }
}

TEST(NeighborCache, NaClearingRouterFlagIsReported) {
    Harness h;
    prepare(h.nc, Start::kReachable, true);
    EXPECT_TRUE(h.nc.get(0, kAddr, h.now)->router);
    EXPECT_TRUE(h.nc.on_na(0, kAddr, kMacA, true, true, false, 1100).empty());
    EXPECT_EQ(describe(h.nc.on_na(0, kAddr, kMacA, false, true, false, 1200)),
              Strings({"router lost"}));
    EXPECT_FALSE(h.nc.get(0, kAddr, h.now)->router);
    EXPECT_TRUE(h.nc.on_na(0, kAddr, kMacA, false, true, false, 1300).empty());
    // Case I (different MAC, no Override) updates nothing, IsRouter included.
    h.nc.on_na(0, kAddr, kMacA, true, true, false, 1400);
    EXPECT_TRUE(h.nc.on_na(0, kAddr, kMacB, false, true, false, 1500).empty());
    EXPECT_TRUE(h.nc.get(0, kAddr, h.now)->router);
}

TEST(NeighborCache, MulticastOrZeroLinkLayerAddressesAreIgnored) {
    Harness h;
    const Mac mcast = *Mac::parse("33:33:00:00:00:01");
    h.nc.resolve(0, kAddr, pkt(1), 0);
    EXPECT_TRUE(h.nc.on_na(0, kAddr, mcast, false, true, true, 1).empty());
    EXPECT_TRUE(h.nc.on_na(0, kAddr, Mac(), false, true, true, 1).empty());
    EXPECT_TRUE(h.nc.on_ns(0, kAddr, mcast, 1).empty());
    EXPECT_EQ(h.state(), NcState::kIncomplete);
    EXPECT_TRUE(h.nc.on_ns(0, host(1), Mac(), 1).empty());
    EXPECT_FALSE(h.present(host(1)));
}

// ---------------------------------------------------------------------------
// NS, RS and RA: RFC 4861 7.2.3, 6.2.6, 6.3.4 and appendix C's second table.

enum class Msg { kNs, kRs, kRa };

const char* msg_name(Msg m) {
    return m == Msg::kNs ? "NS" : m == Msg::kRs ? "RS" : "RA";
}

std::vector<NcAction> deliver(NeighborCache& nc, Msg m, std::optional<Mac> ll, uint64_t t) {
    if (m == Msg::kNs)
        return nc.on_ns(0, kAddr, ll, t);
    return nc.on_ra_or_rs(0, kAddr, ll, m == Msg::kRa, t);
}

TEST(NeighborCache, SolicitationsAndAdvertisementsWithSourceLinkLayerAddress) {
    struct Row {
        Start st;
        Ll ll;
        std::optional<NcState> want;  // nullopt: no entry
        Strings acts;
    };
    const Strings known_b = {"known 02:00:00:00:00:0b"};
    const Row rows[] = {
        // Appendix C: -, NS/RS/RA: create entry, record, STALE.
        {Start::kNone, Ll::kDiff, NcState::kStale, known_b},
        // 6.2.6, 7.2.3: no link-layer address, no entry.
        {Start::kNone, Ll::kNone, std::nullopt, {}},
        // INCOMPLETE, NS/RS/RA: record, send queued packets, STALE (DELAY
        // once the queued packet went out, 7.3.3).
        {Start::kIncomplete,
         Ll::kDiff,
         NcState::kDelay,
         {"send 1 02:00:00:00:00:0b", "known 02:00:00:00:00:0b"}},
        // INCOMPLETE, NS/RS without link-layer address: unchanged.
        {Start::kIncomplete, Ll::kNone, NcState::kIncomplete, {}},
        // !INCOMPLETE, different address: update, STALE.
        {Start::kReachable, Ll::kDiff, NcState::kStale, known_b},
        {Start::kStale, Ll::kDiff, NcState::kStale, known_b},
        {Start::kDelay, Ll::kDiff, NcState::kStale, known_b},
        {Start::kProbe, Ll::kDiff, NcState::kStale, known_b},
        // !INCOMPLETE, same address: unchanged.
        {Start::kReachable, Ll::kSame, NcState::kReachable, {}},
        {Start::kStale, Ll::kSame, NcState::kStale, {}},
        {Start::kDelay, Ll::kSame, NcState::kDelay, {}},
        {Start::kProbe, Ll::kSame, NcState::kProbe, {}},
        {Start::kReachable, Ll::kNone, NcState::kReachable, {}},
        {Start::kProbe, Ll::kNone, NcState::kProbe, {}},
        // PERMANENT: never changed by packets.
        {Start::kPermanent, Ll::kDiff, NcState::kPermanent, {}},
        {Start::kPermanent, Ll::kNone, NcState::kPermanent, {}},
        // FAILED hold-down is no entry: a link-layer address creates STALE.
        {Start::kFailed, Ll::kDiff, NcState::kStale, known_b},
        {Start::kFailed, Ll::kNone, NcState::kFailed, {}},
    };
    for (const Row& r : rows)
        for (Msg m : {Msg::kNs, Msg::kRs, Msg::kRa}) {
            SCOPED_TRACE(testing::Message()
                         << start_name(r.st) << ", " << msg_name(m) << " " << ll_name(r.ll));
            NeighborCache nc(1);
            uint64_t t = prepare(nc, r.st) + 10;
            auto before = nc.get(0, kAddr, t);
            auto acts = deliver(nc, m, ll_mac(r.ll), t);
            EXPECT_EQ(describe(acts), r.acts);
            auto e = nc.get(0, kAddr, t);
            ASSERT_EQ(e.has_value(), r.want.has_value());
            if (!e)
                continue;
            EXPECT_EQ(e->state, *r.want);
            if (r.acts == known_b || (r.st == Start::kIncomplete && r.ll == Ll::kDiff))
                EXPECT_EQ(e->mac, kMacB);
            else
                EXPECT_EQ(e->mac, before ? before->mac : std::nullopt);
            // IsRouter: false for a created entry (7.2.3) and after an RS
            // (6.2.6), true after an RA (6.3.4), unchanged by an NS; a
            // PERMANENT or FAILED entry is not touched.
            bool want_router = false;
            if (r.st != Start::kPermanent && r.st != Start::kFailed && m == Msg::kRa)
                want_router = true;
            if (r.st == Start::kFailed && r.ll != Ll::kNone && m == Msg::kRa)
                want_router = true;  // created anew by the RA
            EXPECT_EQ(e->router, want_router);
        }
}

TEST(NeighborCache, RsClearsRouterFlagAndRaSetsIt) {
    Harness h;
    h.nc.on_ra_or_rs(0, kAddr, kMacA, true, 0);
    EXPECT_TRUE(h.nc.get(0, kAddr, 0)->router);
    EXPECT_TRUE(h.nc.on_ns(0, kAddr, kMacA, 1).empty());
    EXPECT_TRUE(h.nc.get(0, kAddr, 1)->router) << "an NS leaves IsRouter alone";
    EXPECT_EQ(describe(h.nc.on_ra_or_rs(0, kAddr, std::nullopt, false, 2)),
              Strings({"router lost"}))
        << "RFC 4861 6.2.6: an RS, with or without SLLA, clears IsRouter";
    EXPECT_TRUE(h.nc.on_ra_or_rs(0, kAddr, std::nullopt, true, 3).empty());
    EXPECT_TRUE(h.nc.get(0, kAddr, 3)->router);
}

TEST(NeighborCache, SolicitationsFromUnspecifiedOrMulticastAreIgnored) {
    Harness h;
    EXPECT_TRUE(h.nc.on_ns(0, Ip6(), kMacA, 0).empty());
    EXPECT_TRUE(h.nc.on_ns(0, kAllNodes, kMacA, 0).empty());
    EXPECT_TRUE(h.nc.on_ra_or_rs(0, Ip6(), kMacA, false, 0).empty());
    EXPECT_TRUE(h.nc.list(0).empty());
    EXPECT_EQ(describe(h.nc.on_ra_or_rs(0, kLinkLocal, kMacA, true, 0)),
              Strings({"known 02:00:00:00:00:0a"}));
}

// ---------------------------------------------------------------------------
// Static entries, deletion, flush.

TEST(NeighborCache, StaticReplacesIncompleteAndSendsItsQueue) {
    Harness h;
    h.nc.resolve(0, kAddr, pkt(1), 0);
    h.nc.resolve(0, kAddr, pkt(2), 0);
    auto r = h.nc.add_static(0, kAddr, kMacB, false, 10);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(describe(*r), Strings({"send 1 02:00:00:00:00:0b", "send 2 02:00:00:00:00:0b",
                                     "known 02:00:00:00:00:0b"}));
    EXPECT_EQ(h.state(), NcState::kPermanent);
    EXPECT_FALSE(h.nc.next_deadline()) << "no retransmissions left";
    EXPECT_EQ(h.nc.dynamic_size(0), 0u);
    EXPECT_EQ(h.nc.size(0), 1u);
}

TEST(NeighborCache, StaticReplacesDynamicAndReportsOnlyRealMacChanges) {
    Harness h;
    prepare(h.nc, Start::kReachable);
    auto r = h.nc.add_static(0, kAddr, kMacA, false, 2000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(describe(*r), Strings{}) << "the same MAC: nothing to republish";
    r = h.nc.add_static(0, kAddr, kMacB, false, 2000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(describe(*r), Strings({"known 02:00:00:00:00:0b"}));
    r = h.nc.add_static(0, kAddr, kMacB, true, 2000);
    ASSERT_TRUE(r.ok() && r->empty());
    r = h.nc.add_static(0, kAddr, kMacB, false, 2000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(describe(*r), Strings({"router lost"}));
    EXPECT_EQ(h.nc.get(0, kAddr, 2000)->state, NcState::kPermanent);
}

TEST(NeighborCache, StaticIsNeverChangedByPacketsOrTime) {
    Harness h;
    ASSERT_TRUE(h.nc.add_static(0, kAddr, kMacA, true, 0).ok());
    for (int flags = 0; flags < 8; flags++)
        EXPECT_TRUE(h.nc.on_na(0, kAddr, kMacB, flags & 1, flags & 2, flags & 4, 1).empty());
    EXPECT_TRUE(h.nc.on_ns(0, kAddr, kMacB, 1).empty());
    EXPECT_TRUE(h.nc.on_ra_or_rs(0, kAddr, kMacB, false, 1).empty());
    EXPECT_TRUE(h.nc.on_ra_or_rs(0, kAddr, std::nullopt, false, 1).empty());
    EXPECT_TRUE(h.nc.used(0, kAddr, 2).empty());
    EXPECT_EQ(describe(h.nc.resolve(0, kAddr, pkt(1), 3)), Strings({"send 1 02:00:00:00:00:0a"}));
    EXPECT_TRUE(h.advance(1000000).empty());
    auto e = h.nc.get(0, kAddr, h.now);
    EXPECT_EQ(e->state, NcState::kPermanent);
    EXPECT_EQ(e->mac, kMacA);
    EXPECT_TRUE(e->router);
}

TEST(NeighborCache, StaticRefusesBadAddresses) {
    Harness h;
    EXPECT_FALSE(h.nc.add_static(0, kAllNodes, kMacA, false, 0).ok());
    EXPECT_FALSE(h.nc.add_static(0, Ip6(), kMacA, false, 0).ok());
    EXPECT_FALSE(h.nc.add_static(0, *Ip6::parse("::1"), kMacA, false, 0).ok());
    EXPECT_FALSE(h.nc.add_static(0, kAddr, *Mac::parse("33:33:00:00:00:01"), false, 0).ok());
    EXPECT_FALSE(h.nc.add_static(0, kAddr, Mac(), false, 0).ok());
    EXPECT_TRUE(h.nc.list(0).empty());
}

TEST(NeighborCache, DelRemovesAnyEntry) {
    Harness h;
    auto r = h.nc.del(0, kAddr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(r.status().message(), "no such neighbor: 2001:db8::1");

    h.nc.resolve(0, kAddr, pkt(1), 0);
    r = h.nc.del(0, kAddr);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(describe(*r), Strings({"drop 1 removed"}));
    EXPECT_FALSE(h.nc.next_deadline());

    ASSERT_TRUE(h.nc.add_static(0, kAddr, kMacA, false, 0).ok());
    r = h.nc.del(0, kAddr);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(describe(*r), Strings({"lost"}));
    EXPECT_FALSE(h.present());
    EXPECT_FALSE(h.nc.del(0, kAddr).ok());
}

TEST(NeighborCache, FlushKeepsStaticEntries) {
    Harness h;
    ASSERT_TRUE(h.nc.add_static(0, host(1), kMacA, false, 0).ok());
    h.nc.on_ns(0, host(2), kMacA, 0);     // STALE
    h.nc.resolve(0, host(3), pkt(3), 0);  // INCOMPLETE
    h.nc.on_ns(1, host(4), kMacA, 0);     // another port
    auto acts = h.nc.flush(0);
    EXPECT_EQ(describe(acts), Strings({"lost", "drop 3 removed"}));
    EXPECT_EQ(acts[0].addr, host(2));
    EXPECT_EQ(h.nc.size(0), 1u);
    EXPECT_EQ(h.state(host(1)), NcState::kPermanent);
    EXPECT_EQ(h.state(host(4), 1), NcState::kStale);
}

TEST(NeighborCache, ForgetPortRemovesEverythingAndItsParameters) {
    Harness h;
    NcParams p;
    p.neigh_max = 7;
    ASSERT_TRUE(h.nc.set_params(0, p).ok());
    ASSERT_TRUE(h.nc.add_static(0, host(1), kMacA, false, 0).ok());
    h.nc.resolve(0, host(3), pkt(3), 0);
    auto acts = h.nc.forget_port(0);
    EXPECT_EQ(describe(acts), Strings({"lost", "drop 3 removed"}));
    EXPECT_EQ(h.nc.size(0), 0u);
    EXPECT_EQ(h.nc.params(0).neigh_max, NcParams{}.neigh_max);
    EXPECT_FALSE(h.nc.next_deadline());
}

// ---------------------------------------------------------------------------
// Bounds.

TEST(NeighborCache, NsFloodKeepsTheTableAtItsBoundAndSparesEntriesInUse) {
    Harness h;
    const NcParams p;  // neigh_max 4096
    for (uint32_t i = 0; i < 10; i++)
        ASSERT_TRUE(h.nc.add_static(0, host(1000000 + i), kMacA, false, 0).ok());
    for (uint32_t i = 0; i < 100; i++) {
        h.nc.resolve(0, host(2000000 + i), pkt(i + 1), 0);
        h.nc.on_na(0, host(2000000 + i), kMacA, false, true, false, 0);
    }
    h.nc.on_ns(0, host(3000000), kMacA, 0);
    h.nc.used(0, host(3000000), 0);  // DELAY
    size_t peak = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        h.nc.on_ns(0, host(i), kMacB, 1 + i / 10000);  // 100k sources within 10 ms
        peak = std::max(peak, h.nc.dynamic_size(0));
    }
    EXPECT_EQ(peak, p.neigh_max);
    EXPECT_EQ(h.nc.dynamic_size(0), p.neigh_max);
    EXPECT_EQ(h.nc.size(0), p.neigh_max + 10) << "static entries are not counted";
    for (uint32_t i = 0; i < 10; i++)
        EXPECT_EQ(h.state(host(1000000 + i)), NcState::kPermanent);
    for (uint32_t i = 0; i < 100; i++)
        EXPECT_EQ(h.state(host(2000000 + i)), NcState::kReachable);
    EXPECT_EQ(h.state(host(3000000)), NcState::kDelay);
    // The newest sources are the ones kept (least recently used evicted).
    EXPECT_TRUE(h.present(host(99999)));
    EXPECT_FALSE(h.present(host(0)));
    EXPECT_EQ(h.nc.counters(0).evicted, 100000u - (p.neigh_max - 101));
}

TEST(NeighborCache, EvictionTakesFailedMarkersThenLeastRecentlyUsedStale) {
    Harness h;
    NcParams p;
    p.neigh_max = 4;
    ASSERT_TRUE(h.nc.set_params(0, p).ok());
    h.nc.on_ns(0, host(1), kMacA, 0);     // STALE, used at 0
    h.nc.on_ns(0, host(2), kMacA, 10);    // STALE, created at 10
    h.nc.resolve(0, host(3), pkt(3), 0);  // INCOMPLETE, FAILED at 3000
    h.advance(3000);
    ASSERT_EQ(h.state(host(3)), NcState::kFailed);
    h.nc.resolve(0, host(4), pkt(4), 3000);  // INCOMPLETE: never evicted
    h.nc.used(0, host(1), 3000);             // DELAY, then...
    h.nc.on_ns(0, host(1), kMacB, 3000);     // STALE again, last used at 3000
    EXPECT_EQ(h.nc.dynamic_size(0), 4u);

    EXPECT_EQ(describe(h.nc.on_ns(0, host(5), kMacA, 3001)), Strings({"known 02:00:00:00:00:0a"}));
    EXPECT_FALSE(h.present(host(3))) << "the FAILED marker goes first";
    auto acts = h.nc.on_ns(0, host(6), kMacA, 3002);
    EXPECT_EQ(describe(acts), Strings({"lost", "known 02:00:00:00:00:0a"}));
    EXPECT_EQ(acts[0].addr, host(2)) << "then the least recently used STALE entry";
    EXPECT_TRUE(h.present(host(1)));
    EXPECT_EQ(h.nc.counters(0).evicted, 2u);
}

TEST(NeighborCache, FullTableOfEntriesInUseRefusesNewOnes) {
    Harness h;
    NcParams p;
    p.neigh_max = 3;
    ASSERT_TRUE(h.nc.set_params(0, p).ok());
    for (uint32_t i = 0; i < 3; i++) {
        h.nc.resolve(0, host(i), pkt(i + 1), 0);
        h.nc.on_na(0, host(i), kMacA, false, true, false, 0);
    }
    EXPECT_TRUE(h.nc.on_ns(0, host(10), kMacA, 1).empty());
    EXPECT_FALSE(h.present(host(10)));
    EXPECT_EQ(describe(h.nc.resolve(0, host(11), pkt(11), 1)), Strings({"drop 11 table_full"}));
    EXPECT_EQ(h.nc.counters(0).table_full, 2u);
    ASSERT_TRUE(h.nc.add_static(0, host(12), kMacA, false, 1).ok()) << "`neigh add` still works";
    EXPECT_EQ(h.nc.dynamic_size(0), 3u);
}

TEST(NeighborCache, IncompleteCreationIsRateLimited) {
    Harness h;
    NcParams p;
    p.incomplete_rate = 10;  // one per 100 ms
    p.incomplete_burst = 5;
    ASSERT_TRUE(h.nc.set_params(0, p).ok());
    for (uint32_t i = 0; i < 5; i++)
        EXPECT_EQ(describe(h.nc.resolve(0, host(i), pkt(i + 1), 0)), Strings({"ns multicast"}));
    EXPECT_EQ(describe(h.nc.resolve(0, host(5), pkt(6), 0)), Strings({"drop 6 rate_limited"}));
    EXPECT_EQ(describe(h.nc.resolve(0, host(0), pkt(7), 0)), Strings{})
        << "an existing INCOMPLETE entry takes no token";
    EXPECT_EQ(describe(h.nc.resolve(0, host(5), pkt(8), 99)), Strings({"drop 8 rate_limited"}));
    EXPECT_EQ(describe(h.nc.resolve(0, host(5), pkt(9), 100)), Strings({"ns multicast"}));
    EXPECT_EQ(describe(h.nc.resolve(0, host(6), pkt(10), 150)), Strings({"drop 10 rate_limited"}));
    EXPECT_EQ(h.nc.counters(0).rate_limited, 3u);
    // Other ports have their own bucket; learnt (STALE) entries need none.
    EXPECT_EQ(describe(h.nc.resolve(1, host(6), pkt(11), 150)), Strings({"ns multicast"}));
    EXPECT_EQ(describe(h.nc.on_ns(0, host(7), kMacA, 150)), Strings({"known 02:00:00:00:00:0a"}));
    // After a long pause the bucket holds only its burst.
    for (uint32_t i = 0; i < 6; i++)
        h.nc.resolve(0, host(100 + i), pkt(100 + i), 100000);
    EXPECT_EQ(h.nc.counters(0).rate_limited, 4u);
}

TEST(NeighborCache, ScanFloodKeepsMemoryFlat) {
    Harness h;
    // 1000 new destinations a second for a minute, defaults: the token
    // bucket (256/s) and the 6 s life of an unanswered entry bound the table.
    size_t peak = 0;
    uint64_t drops = 0, ns = 0;
    for (uint32_t i = 0; i < 60000; i++) {
        uint64_t t = i;  // one per ms
        for (const NcAction& a : h.nc.poll(t))
            ns += a.kind == NcAction::kSendNs, drops += a.kind == NcAction::kDropPacket;
        for (const NcAction& a : h.nc.resolve(0, host(i), pkt(i + 1), t))
            ns += a.kind == NcAction::kSendNs, drops += a.kind == NcAction::kDropPacket;
        peak = std::max(peak, h.nc.dynamic_size(0));
    }
    EXPECT_LE(peak, 256u + 256u * 6u);
    EXPECT_LT(peak, NcParams{}.neigh_max);
    EXPECT_LE(ns, 3u * (256u + 256u * 60u)) << "NS sent stay within 3 per token";
    EXPECT_GT(h.nc.counters(0).rate_limited, 40000u);
}

// ---------------------------------------------------------------------------
// Listing, parameters, names.

TEST(NeighborCache, ListShowsEveryField) {
    Harness h;
    ASSERT_TRUE(h.nc.add_static(0, host(1), kMacA, true, 0).ok());
    h.nc.resolve(0, host(2), pkt(1), 100);
    h.nc.resolve(0, host(2), pkt(2), 200);
    h.nc.on_ns(1, host(3), kMacB, 300);
    auto l = h.nc.list(1000);
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0].addr, host(1));
    EXPECT_STREQ(nc_state_name(l[0].state), "PERMANENT");
    EXPECT_EQ(l[0].mac, kMacA);
    EXPECT_TRUE(l[0].router);
    EXPECT_EQ(l[0].age_ms, 1000u);
    EXPECT_STREQ(nc_state_name(l[1].state), "INCOMPLETE");
    EXPECT_FALSE(l[1].mac);
    EXPECT_EQ(l[1].queued, 2u);
    EXPECT_EQ(l[1].age_ms, 900u);
    EXPECT_EQ(l[2].port, 1);
    EXPECT_STREQ(nc_state_name(l[2].state), "STALE");
    EXPECT_EQ(l[2].age_ms, 700u);
}

TEST(NeighborCache, StableNames) {
    EXPECT_STREQ(nc_state_name(NcState::kIncomplete), "INCOMPLETE");
    EXPECT_STREQ(nc_state_name(NcState::kReachable), "REACHABLE");
    EXPECT_STREQ(nc_state_name(NcState::kStale), "STALE");
    EXPECT_STREQ(nc_state_name(NcState::kDelay), "DELAY");
    EXPECT_STREQ(nc_state_name(NcState::kProbe), "PROBE");
    EXPECT_STREQ(nc_state_name(NcState::kPermanent), "PERMANENT");
    EXPECT_STREQ(nc_state_name(NcState::kFailed), "FAILED");
    EXPECT_STREQ(nc_state_name(NcState(99)), "?");
    EXPECT_STREQ(nc_drop_name(NcDrop::kQueueFull), "queue_full");
    EXPECT_STREQ(nc_drop_name(NcDrop::kFailed), "failed");
    EXPECT_STREQ(nc_drop_name(NcDrop::kResolutionFailed), "resolution_failed");
    EXPECT_STREQ(nc_drop_name(NcDrop::kRateLimited), "rate_limited");
    EXPECT_STREQ(nc_drop_name(NcDrop::kTableFull), "table_full");
    EXPECT_STREQ(nc_drop_name(NcDrop::kRemoved), "removed");
    EXPECT_STREQ(nc_drop_name(NcDrop(99)), "?");
}

TEST(NeighborCache, ParametersAreValidated) {
    NeighborCache nc(1);
    auto bad = [&](auto tweak) {
        NcParams p;
        tweak(p);
        return !nc.set_params(0, p).ok();
    };
    EXPECT_TRUE(bad([](NcParams& p) { p.base_reachable_ms = 0; }));
    EXPECT_TRUE(bad([](NcParams& p) { p.base_reachable_ms = 3600001; }));
    EXPECT_TRUE(bad([](NcParams& p) { p.retrans_ms = 0; }));
    EXPECT_TRUE(bad([](NcParams& p) { p.neigh_max = 0; }));
    EXPECT_TRUE(bad([](NcParams& p) { p.queue_len = 0; }));
    EXPECT_TRUE(bad([](NcParams& p) { p.queue_len = 257; }));
    EXPECT_TRUE(bad([](NcParams& p) { p.incomplete_burst = 0; }));
    EXPECT_TRUE(bad([](NcParams& p) { p.incomplete_rate = 1000001; }));
    EXPECT_FALSE(bad([](NcParams& p) { p.incomplete_rate = 0, p.incomplete_burst = 0; }));
    EXPECT_EQ(nc.params(0).incomplete_rate, 0u);
    EXPECT_EQ(nc.params(5).neigh_max, 4096u) << "an unset port has the defaults";
}

// ---------------------------------------------------------------------------
// Invariants under random events.

TEST(NeighborCache, RandomEventsReturnEveryPacketOnceAndPublishTheRightMac) {
    NeighborCache nc(7);
    NcParams p;
    p.neigh_max = 6;
    p.incomplete_rate = 20;
    p.incomplete_burst = 4;
    ASSERT_TRUE(nc.set_params(0, p).ok());
    ASSERT_TRUE(nc.set_params(1, p).ok());
    std::mt19937 rng(1234);
    std::map<uintptr_t, int> returned;
    std::map<std::pair<uint16_t, Ip6>, Mac> published;
    uintptr_t next_pkt = 1;
    auto apply = [&](const std::vector<NcAction>& acts) {
        for (const NcAction& a : acts) {
            if (a.kind == NcAction::kSend || a.kind == NcAction::kDropPacket)
                returned[reinterpret_cast<uintptr_t>(a.pkt)]++;
            if (a.kind == NcAction::kSend) {
                auto it = published.find({a.port, a.addr});
                if (it != published.end()) {
                    EXPECT_EQ(a.mac, it->second) << "packets go to the published MAC";
                }
            }
            if (a.kind == NcAction::kMacKnown) {
                auto it = published.find({a.port, a.addr});
                EXPECT_TRUE(it == published.end() || it->second != a.mac) << "a real change";
                published[{a.port, a.addr}] = a.mac;
            }
            if (a.kind == NcAction::kMacLost) {
                EXPECT_EQ(published.erase({a.port, a.addr}), 1u) << "lost what was known";
            }
        }
    };
    const Mac macs[] = {kMacA, kMacB};
    uint64_t t = 0;
    for (int step = 0; step < 50000; step++) {
        t += rng() % 300;
        uint16_t port = rng() % 2;
        Ip6 a = host(rng() % 10);
        auto ll = [&]() -> std::optional<Mac> {
            int k = rng() % 3;
            return k == 2 ? std::nullopt : std::optional(macs[k]);
        };
        switch (rng() % 12) {
            case 0:
            case 1:
            case 2:
                apply(nc.resolve(port, a, reinterpret_cast<NcPacket>(next_pkt++), t));
                break;
            case 3:
                apply(nc.used(port, a, t));
                break;
            case 4:
                apply(nc.on_ns(port, a, ll(), t));
                break;
            case 5:
                apply(nc.on_ra_or_rs(port, a, ll(), rng() % 2, t));
                break;
            case 6:
            case 7: {
                int f = rng() % 8;
                apply(nc.on_na(port, a, ll(), f & 1, f & 2, f & 4, t));
                break;
            }
            case 8:
                if (rng() % 20 == 0) {
                    auto r = nc.add_static(port, a, macs[rng() % 2], rng() % 2, t);
                    ASSERT_TRUE(r.ok());
                    apply(*r);
                } else if (auto r = nc.del(port, a); r.ok()) {
                    apply(*r);
                }
                break;
            case 9:
                if (rng() % 50 == 0)
                    apply(nc.flush(port));
                if (rng() % 200 == 0) {
                    apply(nc.forget_port(port));
                    ASSERT_TRUE(nc.set_params(port, p).ok());  // forgotten with the port
                }
                break;
            default:
                apply(nc.poll(t));
                break;
        }
        if (step % 1000 == 0) {
            // What the workers were told matches the cache.
            for (uint16_t pt = 0; pt < 2; pt++) {
                EXPECT_LE(nc.dynamic_size(pt), p.neigh_max);
                for (uint32_t h = 0; h < 10; h++) {
                    auto e = nc.get(pt, host(h), t);
                    auto it = published.find({pt, host(h)});
                    std::optional<Mac> told;
                    if (it != published.end())
                        told = it->second;
                    EXPECT_EQ(e ? e->mac : std::nullopt, told);
                }
            }
        }
    }
    apply(nc.clear());
    EXPECT_TRUE(published.empty());
    EXPECT_EQ(returned.size(), next_pkt - 1) << "every packet came back";
    for (const auto& [pk, n] : returned)
        EXPECT_EQ(n, 1) << "packet " << pk << " came back " << n << " times";
    EXPECT_FALSE(nc.next_deadline());
    EXPECT_TRUE(nc.list(t).empty());
}

}  // namespace
}  // namespace fp6
