/* Reassembly of fragments addressed to the router (control/reasm.h) on real
 * mbufs, with a fake clock: the datagram's bytes, the RFC 8200 4.5 errors,
 * the timeout and its Time Exceeded, the limits. The fixture checks that
 * every mbuf went back to the pool once the Reassembler is gone. */
#include "control/reasm.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "dataplane/icmp_limit.h"
#include "test/unit/eal_env.h"
#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using test::EalEnv;
using test::ip;
using test::mac;
using test::Pkt;
using Kind = ReasmAction::Kind;

const Mac kOurMac = mac("02:00:00:00:00:01");
const Mac kPeerMac = mac("02:00:00:00:ee:01");
constexpr uint8_t kProtoFragment = 44;
constexpr uint16_t kRxPort = 3;
constexpr uint64_t kTimeout = 60'000;  // RFC 8200 4.5: 60 s, in ms
constexpr size_t kHeaders = test::kEthLen + test::kIp6Len;

/* A UDP datagram's payload (header and data) of `size` bytes; the data is a
 * pattern that shows any misplaced byte. */
std::vector<uint8_t> udp_payload(size_t size) {
    std::vector<uint8_t> p(size);
    for (size_t i = 0; i < size; i++)
        p[i] = uint8_t(i * 7 + i / 251 + 3);
    p[0] = 0x03, p[1] = 0xe8;  // source port 1000
    p[2] = 0x07, p[3] = 0xd0;  // destination port 2000
    p[4] = uint8_t(size >> 8), p[5] = uint8_t(size);
    p[6] = p[7] = 0;
    return p;
}

Pkt base(const char* src = "2001:db8:9::1") {
    return Pkt().eth(kOurMac, kPeerMac).src(src).dst("2001:db8:1::1").hop_limit(61);
}

/* A fragment (RFC 8200 4.5) of `payload` from byte `begin` to `end`, the
 * Fragment header right after the IPv6 header. */
Pkt fragment(const std::vector<uint8_t>& payload, size_t begin, size_t end, bool more, uint32_t id,
             const char* src = "2001:db8:9::1") {
    std::vector<uint8_t> b = {test::kProtoUdp,     0,
                              uint8_t(begin >> 8), uint8_t(begin | more),
                              uint8_t(id >> 24),   uint8_t(id >> 16),
                              uint8_t(id >> 8),    uint8_t(id)};
    b.insert(b.end(), payload.begin() + begin, payload.begin() + end);
    return base(src).raw(kProtoFragment, b);
}

/* The frame the datagram would have been unfragmented. */
std::vector<uint8_t> whole(const std::vector<uint8_t>& payload, const char* src = "2001:db8:9::1") {
    return base(src).raw(test::kProtoUdp, payload).bytes();
}

class Reasm : public ::testing::Test {
  protected:
    void SetUp() override {
        pool_ = EalEnv::pool();
        ASSERT_NE(pool_, nullptr);
        avail_before_ = rte_mempool_avail_count(pool_);
        make({});
    }

    void TearDown() override {
        r_.reset();
        for (rte_mbuf* m : held_)
            rte_pktmbuf_free(m);
        held_.clear();
        EXPECT_EQ(rte_mempool_avail_count(pool_), avail_before_) << "an mbuf leaked";
    }

    void make(const ReasmConfig& cfg) {
        r_.reset();
        auto r = Reassembler::create(cfg, pool_);
        ASSERT_TRUE(r.ok()) << r.status();
        r_ = std::move(*r);
    }

    rte_mbuf* mbuf(const Pkt& p) {
        rte_mbuf* m = p.mbuf(pool_);
        EXPECT_NE(m, nullptr);
        m->port = kRxPort;
        m->hash.usr = 0xdeadbeef;
        return m;
    }

    /* Pushes p at `now`; the action's packet is freed at TearDown. */
    ReasmAction push(const Pkt& p, uint64_t now = 1000) {
        ReasmAction a = r_->push(mbuf(p), now);
        if (a.pkt != nullptr)
            held_.push_back(a.pkt);
        return a;
    }

    std::vector<ReasmAction> poll(uint64_t now) {
        std::vector<ReasmAction> out = r_->poll(now);
        for (const ReasmAction& a : out)
            held_.push_back(a.pkt);
        return out;
    }

    /* The three fragments of a 3000-byte UDP datagram: 1448, 1448, 104. */
    std::vector<Pkt> three(uint32_t id, const char* src = "2001:db8:9::1") {
        return {fragment(payload_, 0, 1448, true, id, src),
                fragment(payload_, 1448, 2896, true, id, src),
                fragment(payload_, 2896, 3000, false, id, src)};
    }

    void expect_datagram(const ReasmAction& a, const char* src = "2001:db8:9::1") {
        ASSERT_EQ(a.kind, Kind::kReassembled);
        ASSERT_NE(a.pkt, nullptr);
        EXPECT_EQ(test::pkt_bytes(a.pkt), whole(payload_, src));
        EXPECT_EQ(rte_pktmbuf_pkt_len(a.pkt), kHeaders + payload_.size());
        EXPECT_EQ(a.pkt->port, kRxPort);
        EXPECT_EQ(a.pkt->l2_len, test::kEthLen);
        EXPECT_EQ(a.pkt->l3_len, test::kIp6Len);
        EXPECT_EQ(a.pkt->hash.usr, 0u);
        // The headers and the first fragment's data are in the first segment.
        EXPECT_GE(rte_pktmbuf_data_len(a.pkt), kHeaders + 1448);
    }

    rte_mempool* pool_ = nullptr;
    unsigned avail_before_ = 0;
    std::unique_ptr<Reassembler> r_;
    std::vector<rte_mbuf*> held_;
    const std::vector<uint8_t> payload_ = udp_payload(3000);
};

TEST_F(Reasm, InOrder) {
    const std::vector<Pkt> f = three(0x01020304);
    EXPECT_EQ(push(f[0]).kind, Kind::kNone);
    EXPECT_EQ(push(f[1]).kind, Kind::kNone);
    EXPECT_EQ(r_->flows_in_use(), 1u);
    EXPECT_EQ(r_->mbufs_held(), 3u);  // two fragments and the copy of the first
    const ReasmAction a = push(f[2]);
    expect_datagram(a);
    EXPECT_EQ(a.pkt->nb_segs, 3);
    EXPECT_EQ(r_->stats().fragments, 3u);
    EXPECT_EQ(r_->stats().reassembled, 1u);
    EXPECT_EQ(r_->flows_in_use(), 0u);
    EXPECT_EQ(r_->mbufs_held(), 0u);
    EXPECT_EQ(r_->next_deadline(), std::nullopt);
    // Nothing times out afterwards.
    EXPECT_TRUE(poll(1000 + kTimeout * 2).empty());
    EXPECT_EQ(r_->stats().timed_out, 0u);
}

/* Every arrival order gives the same datagram. */
TEST_F(Reasm, AnyOrder) {
    std::vector<int> order = {0, 1, 2};
    uint32_t id = 100;
    do {
        SCOPED_TRACE(std::to_string(order[0]) + std::to_string(order[1]) +
                     std::to_string(order[2]));
        const std::vector<Pkt> f = three(id++);
        EXPECT_EQ(push(f[order[0]]).kind, Kind::kNone);
        EXPECT_EQ(push(f[order[1]]).kind, Kind::kNone);
        expect_datagram(push(f[order[2]]));
        EXPECT_EQ(r_->flows_in_use(), 0u);
        EXPECT_EQ(r_->mbufs_held(), 0u);
    } while (std::next_permutation(order.begin(), order.end()));
    EXPECT_EQ(r_->stats().reassembled, 6u);
}

/* Datagrams with the same identification from different sources, and
 * different identifications from one source, are kept apart (RFC 8200 4.5). */
TEST_F(Reasm, InterleavedDatagrams) {
    const std::vector<Pkt> a = three(7, "2001:db8:9::1");
    const std::vector<Pkt> b = three(7, "2001:db8:9::2");
    const std::vector<Pkt> c = three(8, "2001:db8:9::1");
    for (int i = 0; i < 2; i++) {
        EXPECT_EQ(push(a[i]).kind, Kind::kNone);
        EXPECT_EQ(push(b[2 - i]).kind, Kind::kNone);
        EXPECT_EQ(push(c[i]).kind, Kind::kNone);
    }
    EXPECT_EQ(r_->flows_in_use(), 3u);
    expect_datagram(push(b[0]), "2001:db8:9::2");
    expect_datagram(push(c[2]));
    expect_datagram(push(a[2]));
    EXPECT_EQ(r_->flows_in_use(), 0u);
}

/* RFC 8200 4.5: exact duplicates are dropped, the datagram carries on. */
TEST_F(Reasm, DuplicateFragments) {
    const std::vector<Pkt> f = three(42);
    EXPECT_EQ(push(f[0]).kind, Kind::kNone);
    EXPECT_EQ(push(f[0]).kind, Kind::kNone);  // the first, twice
    EXPECT_EQ(push(f[1]).kind, Kind::kNone);
    EXPECT_EQ(push(f[1]).kind, Kind::kNone);  // a middle one, twice
    EXPECT_EQ(r_->mbufs_held(), 3u);
    expect_datagram(push(f[2]));
    EXPECT_EQ(r_->stats().duplicates, 2u);
    EXPECT_EQ(r_->stats().reassembled, 1u);
    // The last one, twice, before the rest.
    const std::vector<Pkt> g = three(43);
    EXPECT_EQ(push(g[2]).kind, Kind::kNone);
    EXPECT_EQ(push(g[2]).kind, Kind::kNone);
    EXPECT_EQ(push(g[1]).kind, Kind::kNone);
    expect_datagram(push(g[0]));
    EXPECT_EQ(r_->stats().duplicates, 3u);
    // A copy arriving after the datagram completed starts a new one, which times out.
    EXPECT_EQ(push(g[1], 2000).kind, Kind::kNone);
    EXPECT_EQ(r_->flows_in_use(), 1u);
    EXPECT_TRUE(poll(2000 + kTimeout).empty());
    EXPECT_EQ(r_->flows_in_use(), 0u);
}

/* RFC 8200 4.5: the timeout counts from the first-arriving fragment; a
 * datagram whose first fragment came earns Time Exceeded code 1 quoting it. */
TEST_F(Reasm, TimeoutWithFirstFragment) {
    const std::vector<Pkt> f = three(9);
    const std::vector<uint8_t> first = f[0].bytes();
    EXPECT_EQ(push(f[2], 5000).kind, Kind::kNone);
    EXPECT_EQ(push(f[0], 6000).kind, Kind::kNone);
    EXPECT_EQ(r_->next_deadline(), 5000 + kTimeout);
    EXPECT_TRUE(poll(5000 + kTimeout - 1).empty());
    EXPECT_EQ(r_->flows_in_use(), 1u);
    const std::vector<ReasmAction> out = poll(5000 + kTimeout);
    ASSERT_EQ(out.size(), 1u);
    const ReasmAction& te = out[0];
    EXPECT_EQ(te.kind, Kind::kTimeExceeded);
    EXPECT_EQ(te.icmp_type, kIcmp6TimeExceeded);
    EXPECT_EQ(te.icmp_code, kTimeExceededReassembly);
    EXPECT_EQ(te.param, 0u);
    ASSERT_NE(te.pkt, nullptr);
    // The first fragment as received, its first 14 + 1232 bytes.
    EXPECT_EQ(te.pkt->nb_segs, 1);
    EXPECT_EQ(te.pkt->port, kRxPort);
    EXPECT_EQ(test::pkt_bytes(te.pkt),
              std::vector<uint8_t>(first.begin(), first.begin() + test::kEthLen + 1232));
    EXPECT_EQ(r_->stats().timed_out, 1u);
    EXPECT_EQ(r_->stats().time_exceeded, 1u);
    EXPECT_EQ(r_->flows_in_use(), 0u);
    EXPECT_EQ(r_->mbufs_held(), 0u);
    EXPECT_EQ(r_->next_deadline(), std::nullopt);
    // The late middle fragment starts afresh: nothing completes.
    EXPECT_EQ(push(f[1], 5000 + kTimeout).kind, Kind::kNone);
    EXPECT_EQ(r_->flows_in_use(), 1u);
}

/* A short first fragment is quoted whole. */
TEST_F(Reasm, TimeoutQuotesAShortFirstFragment) {
    const Pkt f0 = fragment(payload_, 0, 64, true, 5);
    EXPECT_EQ(push(f0).kind, Kind::kNone);
    const std::vector<ReasmAction> out = poll(1000 + kTimeout);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(test::pkt_bytes(out[0].pkt), f0.bytes());
}

/* RFC 8200 4.5: without the first fragment, no Time Exceeded. */
TEST_F(Reasm, TimeoutWithoutFirstFragment) {
    const std::vector<Pkt> f = three(10);
    EXPECT_EQ(push(f[1]).kind, Kind::kNone);
    EXPECT_EQ(push(f[2]).kind, Kind::kNone);
    EXPECT_EQ(r_->next_deadline(), 1000 + kTimeout);
    EXPECT_TRUE(poll(1000 + kTimeout).empty());
    EXPECT_EQ(r_->stats().timed_out, 1u);
    EXPECT_EQ(r_->stats().time_exceeded, 0u);
    EXPECT_EQ(r_->flows_in_use(), 0u);
    EXPECT_EQ(r_->mbufs_held(), 0u);
}

/* Several datagrams time out in start order; push() expires too, and its
 * Time Exceeded waits for poll() (next_deadline() says so). */
TEST_F(Reasm, TimeoutsInOrderAndFromPush) {
    EXPECT_EQ(push(fragment(payload_, 0, 1448, true, 1), 1000).kind, Kind::kNone);
    EXPECT_EQ(push(fragment(payload_, 1448, 2896, true, 2), 2000).kind, Kind::kNone);
    EXPECT_EQ(push(fragment(payload_, 0, 1448, true, 3, "2001:db8:9::3"), 3000).kind, Kind::kNone);
    EXPECT_EQ(r_->next_deadline(), 1000 + kTimeout);
    // A fragment of another datagram at 3000 + timeout expires all three.
    EXPECT_EQ(push(fragment(payload_, 0, 1448, true, 4), 3000 + kTimeout).kind, Kind::kNone);
    EXPECT_EQ(r_->next_deadline(), 0u);
    EXPECT_EQ(r_->flows_in_use(), 1u);
    const std::vector<ReasmAction> out = poll(3000 + kTimeout);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(test::ip6_src(out[0].pkt), ip("2001:db8:9::1"));
    EXPECT_EQ(test::ip6_src(out[1].pkt), ip("2001:db8:9::3"));
    EXPECT_EQ(r_->stats().timed_out, 3u);
    EXPECT_EQ(r_->next_deadline(), 3000 + 2 * kTimeout);
}

/* A clock that goes back reads as standing still. */
TEST_F(Reasm, ClockGoingBack) {
    EXPECT_EQ(push(fragment(payload_, 0, 1448, true, 1), 5000).kind, Kind::kNone);
    EXPECT_EQ(push(fragment(payload_, 0, 1448, true, 2), 10).kind, Kind::kNone);
    EXPECT_EQ(r_->next_deadline(), 5000 + kTimeout);
    EXPECT_EQ(poll(5000 + kTimeout).size(), 2u);
}

/* RFC 8200 4.5: a fragment other than the last whose length is not a
 * multiple of 8: Parameter Problem code 0 at the Payload Length. */
TEST_F(Reasm, LengthNotAMultipleOf8) {
    const Pkt bad = fragment(payload_, 0, 1447, true, 11);
    const std::vector<uint8_t> sent = bad.bytes();
    const ReasmAction a = push(bad);
    EXPECT_EQ(a.kind, Kind::kParamProblem);
    EXPECT_EQ(a.icmp_type, kIcmp6ParamProblem);
    EXPECT_EQ(a.icmp_code, kParamErroneousField);
    EXPECT_EQ(a.param, 4u);
    ASSERT_NE(a.pkt, nullptr);
    EXPECT_EQ(test::pkt_bytes(a.pkt), sent);  // the fragment, as received
    EXPECT_EQ(a.pkt->port, kRxPort);
    EXPECT_EQ(push(fragment(payload_, 8, 13, true, 11)).kind, Kind::kParamProblem);
    EXPECT_EQ(r_->stats().param_problem, 2u);
    EXPECT_EQ(r_->flows_in_use(), 0u);
    // The last fragment may end anywhere.
    EXPECT_EQ(push(fragment(payload_, 1448, 2999, false, 11)).kind, Kind::kNone);
}

/* RFC 8200 4.5: a fragment that would make the datagram's Payload Length
 * exceed 65535: Parameter Problem code 0 at the Fragment Offset. */
TEST_F(Reasm, ReassembledLengthOver65535) {
    const std::vector<uint8_t> big(65536, 0x11);
    const Pkt bad = fragment(big, 65528, 65536, false, 12);
    const ReasmAction a = push(bad);
    EXPECT_EQ(a.kind, Kind::kParamProblem);
    EXPECT_EQ(a.icmp_code, kParamErroneousField);
    EXPECT_EQ(a.param, 42u);  // 40 + 2: the Fragment Offset
    EXPECT_EQ(test::pkt_bytes(a.pkt), bad.bytes());
    EXPECT_EQ(push(fragment(big, 64000, 65536, true, 12)).kind, Kind::kParamProblem);
    // Up to 65535 is fine.
    EXPECT_EQ(push(fragment(big, 65528, 65535, false, 12)).kind, Kind::kNone);
    EXPECT_EQ(r_->stats().param_problem, 2u);
}

/* RFC 8200 4.5, RFC 6946: an atomic fragment is a whole datagram. */
TEST_F(Reasm, AtomicFragment) {
    const std::vector<uint8_t> small = udp_payload(100);
    // Another datagram with its key is pending: the atomic one is apart.
    EXPECT_EQ(push(fragment(payload_, 1448, 2896, true, 13)).kind, Kind::kNone);
    const ReasmAction a = push(fragment(small, 0, small.size(), false, 13).padding(20));
    ASSERT_EQ(a.kind, Kind::kReassembled);
    EXPECT_EQ(test::pkt_bytes(a.pkt), whole(small));
    EXPECT_EQ(a.pkt->port, kRxPort);
    EXPECT_EQ(a.pkt->hash.usr, 0u);
    EXPECT_EQ(r_->stats().atomic, 1u);
    EXPECT_EQ(r_->flows_in_use(), 1u);
}

/* RFC 8200 4.5, RFC 5722: overlapping fragments abandon the datagram, with
 * no ICMPv6 message, not even at the timeout. */
TEST_F(Reasm, OverlapAbandonsSilently) {
    const std::vector<Pkt> f = three(14);
    EXPECT_EQ(push(f[0]).kind, Kind::kNone);
    EXPECT_EQ(push(fragment(payload_, 1440, 2888, true, 14)).kind, Kind::kNone);
    EXPECT_EQ(r_->stats().inconsistent, 1u);
    // The rest of it is dropped; it never completes.
    EXPECT_EQ(push(f[1]).kind, Kind::kNone);
    EXPECT_EQ(push(f[2]).kind, Kind::kNone);
    EXPECT_EQ(r_->stats().abandoned_drops, 3u);
    EXPECT_TRUE(poll(1000 + kTimeout).empty());
    EXPECT_EQ(r_->stats().timed_out, 1u);
    EXPECT_EQ(r_->stats().time_exceeded, 0u);
    EXPECT_EQ(r_->flows_in_use(), 0u);
    EXPECT_EQ(r_->mbufs_held(), 0u);
}

/* Fragments that contradict the datagram's end abandon it too. */
TEST_F(Reasm, ContradictingEnd) {
    struct Case {
        const char* name;
        std::vector<Pkt> frags;
    } cases[] = {
        {"two last fragments",
         {fragment(payload_, 0, 1448, true, 20), fragment(payload_, 2896, 3000, false, 20),
          fragment(payload_, 1448, 2000, false, 20)}},
        {"data past the end",
         {fragment(payload_, 1448, 2000, false, 21), fragment(payload_, 2000, 2896, true, 21)}},
        {"a last fragment before data",
         {fragment(payload_, 2000, 2896, true, 22), fragment(payload_, 1448, 2000, false, 22)}},
        {"same bytes, other M flag",
         {fragment(payload_, 1448, 2896, true, 23), fragment(payload_, 1448, 2896, false, 23)}},
    };
    uint64_t n = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        for (const Pkt& p : c.frags)
            EXPECT_EQ(push(p).kind, Kind::kNone);
        EXPECT_EQ(r_->stats().inconsistent, ++n);
    }
    EXPECT_TRUE(poll(1000 + kTimeout).empty());
    EXPECT_EQ(r_->mbufs_held(), 0u);
}

/* rte_ip_frag holds at most RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments of a
 * datagram: exactly that many reassemble, one more gives it up. */
TEST_F(Reasm, FragmentCountLimit) {
    const size_t n = RTE_LIBRTE_IP_FRAG_MAX_FRAG;
    const std::vector<uint8_t> p = udp_payload(8 * (n + 1));
    {
        SCOPED_TRACE("the most");
        const std::vector<uint8_t> q(p.begin(), p.begin() + 8 * n);
        for (size_t i = 0; i + 1 < n; i++)
            EXPECT_EQ(push(fragment(q, 8 * i, 8 * i + 8, true, 30)).kind, Kind::kNone);
        const ReasmAction a = push(fragment(q, 8 * (n - 1), 8 * n, false, 30));
        ASSERT_EQ(a.kind, Kind::kReassembled);
        EXPECT_EQ(test::pkt_bytes(a.pkt), whole(q));
    }
    {
        SCOPED_TRACE("one more");
        // The last first: then the middle ones fill the table's slots.
        EXPECT_EQ(push(fragment(p, 8 * n, 8 * n + 8, false, 31)).kind, Kind::kNone);
        for (size_t i = 0; i < n; i++)
            EXPECT_EQ(push(fragment(p, 8 * i, 8 * i + 8, true, 31)).kind, Kind::kNone);
        EXPECT_EQ(r_->stats().too_many_fragments, 1u);
        EXPECT_EQ(r_->flows_in_use(), 0u);
        EXPECT_EQ(r_->mbufs_held(), 0u);
        EXPECT_TRUE(poll(1000 + kTimeout).empty());  // given up: no Time Exceeded
    }
}

/* max_flows datagrams at once; the next one is dropped until one goes. */
TEST_F(Reasm, TableFull) {
    ReasmConfig cfg;
    cfg.max_flows = 4;
    make(cfg);
    for (uint32_t id = 1; id <= 4; id++)
        EXPECT_EQ(push(fragment(payload_, 0, 1448, true, id)).kind, Kind::kNone);
    EXPECT_EQ(r_->flows_in_use(), 4u);
    EXPECT_EQ(push(fragment(payload_, 0, 1448, true, 5)).kind, Kind::kNone);
    EXPECT_EQ(r_->stats().table_full, 1u);
    EXPECT_EQ(r_->flows_in_use(), 4u);
    // Datagrams already started still take fragments.
    EXPECT_EQ(push(fragment(payload_, 1448, 2896, true, 2)).kind, Kind::kNone);
    expect_datagram(push(fragment(payload_, 2896, 3000, false, 2)));
    // Room again.
    const std::vector<Pkt> f = three(5);
    EXPECT_EQ(push(f[0]).kind, Kind::kNone);
    EXPECT_EQ(push(f[1]).kind, Kind::kNone);
    expect_datagram(push(f[2]));
    // At the timeout the three left go, each with its Time Exceeded.
    EXPECT_EQ(poll(1000 + kTimeout).size(), 3u);
    EXPECT_EQ(push(fragment(payload_, 0, 1448, true, 6), 1000 + kTimeout).kind, Kind::kNone);
    EXPECT_EQ(r_->flows_in_use(), 1u);
    EXPECT_EQ(r_->stats().table_full, 1u);
}

/* The mbuf budget: fragments and copies of first fragments. */
TEST_F(Reasm, MbufBudget) {
    ReasmConfig cfg;
    cfg.max_mbufs = 3;
    make(cfg);
    const std::vector<Pkt> f = three(1);
    EXPECT_EQ(push(f[0]).kind, Kind::kNone);         // 2: the fragment and its copy
    EXPECT_EQ(push(three(2)[0]).kind, Kind::kNone);  // 2 more: no
    EXPECT_EQ(r_->stats().table_full, 1u);
    EXPECT_EQ(push(three(2)[1]).kind, Kind::kNone);  // 1 more: yes
    EXPECT_EQ(r_->mbufs_held(), 3u);
    EXPECT_EQ(push(f[1]).kind, Kind::kNone);  // over
    EXPECT_EQ(r_->stats().table_full, 2u);
    EXPECT_EQ(r_->flows_in_use(), 2u);
}

/* What push() does not take. */
TEST_F(Reasm, Malformed) {
    const size_t full = kHeaders + 8;
    const std::vector<Pkt> bad = {
        base().udp(1, 2, 100),                                    // no Fragment header
        fragment(payload_, 0, 1448, true, 1).truncate(full - 1),  // cut Fragment header
        fragment(payload_, 0, 1448, true, 1).truncate(full + 100),
        fragment(payload_, 0, 1448, true, 1).payload_len(7),
        fragment(payload_, 8, 8, true, 1),  // no data
        fragment(payload_, 8, 8, false, 1),
    };
    for (const Pkt& p : bad)
        EXPECT_EQ(push(p).kind, Kind::kNone);
    EXPECT_EQ(r_->stats().malformed, bad.size());
    EXPECT_EQ(r_->flows_in_use(), 0u);
    // Link padding is not data.
    const std::vector<Pkt> f = three(2);
    EXPECT_EQ(push(Pkt(f[0]).padding(30)).kind, Kind::kNone);
    EXPECT_EQ(push(Pkt(f[2]).padding(30)).kind, Kind::kNone);
    expect_datagram(push(f[1]));
}

/* Fragments in chained mbufs reassemble too. */
TEST_F(Reasm, SegmentedFragments) {
    const std::vector<Pkt> f = three(3);
    for (size_t i = 0; i < f.size(); i++) {
        rte_mbuf* m = f[i].mbuf_chain(pool_, kHeaders + 8 + 100, 500);
        ASSERT_NE(m, nullptr);
        m->port = kRxPort;
        const ReasmAction a = r_->push(m, 1000);
        if (a.pkt != nullptr)
            held_.push_back(a.pkt);
        if (i + 1 < f.size()) {
            EXPECT_EQ(a.kind, Kind::kNone);
        } else {
            ASSERT_EQ(a.kind, Kind::kReassembled);
            EXPECT_EQ(test::pkt_bytes(a.pkt), whole(payload_));
        }
    }
}

/* A Reassembler dropped with datagrams and Time Exceeded actions pending
 * gives every mbuf back (checked by the fixture), and so does a long run. */
TEST_F(Reasm, NoLeak) {
    uint64_t now = 1000;
    for (uint32_t round = 0; round < 20; round++) {
        for (uint32_t id = 0; id < 30; id++) {
            const std::vector<Pkt> f = three(round * 100 + id);
            switch (id % 5) {
                case 0:
                    push(f[0], now), push(f[2], now), push(f[1], now);
                    break;
                case 1:
                    push(f[0], now), push(f[0], now);
                    break;
                case 2:
                    push(f[2], now);
                    break;
                case 3:
                    push(f[0], now), push(fragment(payload_, 8, 1456, true, round * 100 + id), now);
                    break;
                default:
                    push(fragment(payload_, 0, 1447, true, round * 100 + id), now);
                    break;
            }
        }
        now += kTimeout / 2;
        poll(now);
        for (rte_mbuf* m : held_)
            rte_pktmbuf_free(m);
        held_.clear();
    }
    push(three(9999)[0], now);
    push(three(9998)[1], now);
    r_->push(mbuf(three(9997)[0]), now - 1);
    EXPECT_GT(r_->mbufs_held(), 0u);
    EXPECT_GT(r_->stats().time_exceeded, 0u);
    // A Time Exceeded left in the queue, then the Reassembler goes.
    push(three(9996)[0], now + kTimeout + 1);
    EXPECT_EQ(r_->next_deadline(), 0u);
}

TEST(ReasmConfigCheck, Refused) {
    ReasmConfig cfg;
    cfg.bucket_entries = 3;
    EXPECT_FALSE(Reassembler::create(cfg, EalEnv::pool()).ok());
    cfg = {};
    cfg.timeout = 0;
    EXPECT_FALSE(Reassembler::create(cfg, EalEnv::pool()).ok());
    cfg = {};
    cfg.max_flows = 0;
    EXPECT_FALSE(Reassembler::create(cfg, EalEnv::pool()).ok());
    EXPECT_FALSE(Reassembler::create({}, nullptr).ok());
    EXPECT_TRUE(Reassembler::create({}, EalEnv::pool()).ok());
}

}  // namespace
}  // namespace fp6
