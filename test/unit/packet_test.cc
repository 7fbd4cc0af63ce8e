/* The worker's packet path (classify_burst) on real mbufs, with a real Fib
 * and NextHopTable. Each test checks the verdict, the one counter that
 * moved, and, for forwarded packets, the rewrite. The fixture checks that
 * every mbuf went back to the pool. */
#include "dataplane/packet.h"

#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <unistd.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/rcu.h"
#include "rib/fib.h"
#include "rib/nexthop.h"
#include "test/unit/eal_env.h"
#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using test::EalEnv;
using test::ip;
using test::mac;
using test::Pkt;

constexpr uint16_t kRx = 0;      // the port bursts arrive on
constexpr uint16_t kOut = 1;     // where the neighbour routes go
constexpr uint16_t kAbsent = 2;  // no such port
constexpr uint16_t kDown = 3;    // exists, admin down

const Mac kRxMac = mac("02:00:00:00:00:01");
const Mac kOutMac = mac("02:00:00:00:00:02");
const Mac kDownMac = mac("02:00:00:00:00:04");
const Mac kPeerMac = mac("02:00:00:00:ee:01");   // the sender of every frame
const Mac kNeighMac = mac("02:00:00:00:99:99");  // the resolved next hop
const Mac kOtherMac = mac("02:00:00:00:77:77");  // someone else on the link
const Mac kBroadcast = mac("ff:ff:ff:ff:ff:ff");
const Mac kAllNodesMac = Mac::for_multicast(kAllNodes);

/* Addresses of the rx port. */
const Ip6 kRxLinkLocal = ip("fe80::1");
const Ip6 kRxGlobal = ip("2001:db8:1::1");  // also a /128 local route
const Ip6 kSolicited = kRxGlobal.solicited_node();

/* Destinations, one per kind of route. */
const char* const kDstConnected = "2001:db8:1::77";
const char* const kDstNeighbor = "2001:db8:2000::5";
const char* const kDstUnresolved = "2001:db8:3000::5";
const char* const kDstAbsentPort = "2001:db8:4000::5";
const char* const kDstDownPort = "2001:db8:5000::5";
const char* const kDstBlackhole = "2001:db8:dead::5";
const char* const kDstUnreachable = "2001:db8:bad0::5";
const char* const kDstProhibit = "2001:db8:bad1::5";
const char* const kDstReject = "2001:db8:bad2::5";
const char* const kDstNoRoute = "2001:db8:ffff::5";
const char* const kDstViaRxPort = "2001:db8:6000::5";  // a neighbour on the rx port

const char* const kRemoteSrc = "2001:db8:9::1";
const char* const kDstEcmp = "2001:db8:e000::5";  // a group of two neighbours
const Mac kEcmpMacA = mac("02:00:00:00:0e:0a");
const Mac kEcmpMacB = mac("02:00:00:00:0e:0b");

/* Sources for Redirects (RFC 4861 8.2). */
const char* const kOnLinkSrc = "2001:db8:1::77";     // in the rx port's connected prefix
const char* const kNeighbourSrc = "2001:db8:1::88";  // a resolved neighbour of the rx port (/128)
const char* const kOtherLinkSrc = "2001:db8:7::5";   // in the out port's connected prefix
const char* const kBehindGatewaySrc = "2001:db8:6000::7";  // behind the gateway on the rx port

/* What classify_burst did with a burst. */
struct Outcome {
    BurstResult r;
    WorkerStats st;
};

/* A frame that passes every check and is forwarded, to be altered by each test. */
Pkt good() {
    return Pkt()
        .eth(kRxMac, kPeerMac)
        .src(kRemoteSrc)
        .dst(kDstNeighbor)
        .hop_limit(64)
        .udp(1000, 2000, 32);
}

/* The ICMPv6 error counters of WorkerStats. */
struct IcmpCounts {
    uint64_t punted = 0;
    uint64_t ratelimited = 0;
};

/* The Redirect counters of WorkerStats. */
struct RedirectCounts {
    uint64_t punted = 0;
    uint64_t ratelimited = 0;
    uint64_t no_mbuf = 0;
};

/* Counters: rx as given, the named ones, and every other one zero. */
void expect_counters(const WorkerStats& st, uint64_t rx, uint64_t fwd, uint64_t punt,
                     const std::map<Drop, uint64_t>& drops = {}, IcmpCounts icmp = {},
                     RedirectCounts redirect = {}) {
    EXPECT_EQ(st.rx, rx);
    EXPECT_EQ(st.forwarded, fwd);
    EXPECT_EQ(st.punted, punt);
    for (size_t i = 0; i < size_t(Drop::kCount); i++) {
        const auto it = drops.find(Drop(i));
        EXPECT_EQ(st.drops[i], it == drops.end() ? 0 : it->second) << drop_name(Drop(i));
    }
    EXPECT_EQ(st.icmp_punted, icmp.punted);
    EXPECT_EQ(st.icmp_ratelimited, icmp.ratelimited);
    EXPECT_EQ(st.redirect_punted, redirect.punted);
    EXPECT_EQ(st.redirect_ratelimited, redirect.ratelimited);
    EXPECT_EQ(st.redirect_no_mbuf, redirect.no_mbuf);
}

void expect_dropped(const Outcome& o, Drop why) {
    EXPECT_EQ(o.r.n_tx, 0);
    EXPECT_EQ(o.r.n_punt, 0);
    expect_counters(o.st, 1, 0, 0, {{why, 1}});
}

void expect_punted(const Outcome& o) {
    EXPECT_EQ(o.r.n_tx, 0);
    EXPECT_EQ(o.r.n_punt, 1);
    expect_counters(o.st, 1, 0, 1);
}

void expect_forwarded(const Outcome& o, uint16_t port) {
    EXPECT_EQ(o.r.n_punt, 0);
    ASSERT_EQ(o.r.n_tx, 1);
    EXPECT_EQ(o.r.tx_port[0], port);
    EXPECT_TRUE(o.r.one_port);
    expect_counters(o.st, 1, 1, 0);
}

/* One packet and what must become of it. */
struct Case {
    std::string name;
    Pkt pkt;
    enum { kTx, kPunt, kDrop } verdict;
    Drop why = Drop::kCount;
};

Case tx(std::string name, Pkt p) {
    return {std::move(name), std::move(p), Case::kTx};
}
Case punted(std::string name, Pkt p) {
    return {std::move(name), std::move(p), Case::kPunt};
}
Case dropped(std::string name, Pkt p, Drop why) {
    return {std::move(name), std::move(p), Case::kDrop, why};
}

class PacketPath : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        nhs_ = new NextHopTable(64);
        fib_ = new Fib();

        auto route = [&](const char* prefix, const NextHop& nh) {
            const uint32_t id = nhs_->alloc();
            ASSERT_NE(id, 0u);
            nhs_->publish(id, nh);
            const absl::Status st = fib_->set(Prefix6::parse(prefix)->canonical(), id);
            ASSERT_TRUE(st.ok()) << st;
        };
        auto simple = [](NhKind k, uint16_t port = 0) {
            NextHop nh;
            nh.kind = k;
            nh.port = port;
            return nh;
        };
        auto neighbor = [](uint16_t port, const Mac& src, bool resolved) {
            NextHop nh;
            nh.kind = NhKind::kNeighbor;
            nh.port = port;
            nh.resolved = resolved;
            nh.addr = ip("fe80::99");
            if (resolved)
                std::memcpy(&nh.l2.dst_addr, kNeighMac.data(), RTE_ETHER_ADDR_LEN);
            std::memcpy(&nh.l2.src_addr, src.data(), RTE_ETHER_ADDR_LEN);
            nh.l2.ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
            return nh;
        };
        route("2001:db8:1::/64", simple(NhKind::kConnected, kRx));
        route("2001:db8:1::1/128", simple(NhKind::kLocal));
        route("2001:db8:2000::/48", neighbor(kOut, kOutMac, true));
        route("2001:db8:3000::/48", neighbor(kOut, kOutMac, false));
        route("2001:db8:4000::/48", neighbor(kAbsent, kOutMac, true));
        route("2001:db8:5000::/48", neighbor(kDown, kDownMac, true));
        route("2001:db8:6000::/48", neighbor(kRx, kRxMac, true));
        NextHop on_link = neighbor(kRx, kRxMac, true);  // a neighbour inside 2001:db8:1::/64
        on_link.addr = ip(kNeighbourSrc);
        route("2001:db8:1::88/128", on_link);
        route("2001:db8:7::/64", simple(NhKind::kConnected, kOut));
        route("2001:db8:dead::/48", simple(NhKind::kBlackhole));
        // ECMP: a group of two neighbours on kOut, told apart by their MACs.
        NextHop group;
        group.kind = NhKind::kGroup;
        for (const Mac& m : {kEcmpMacA, kEcmpMacB}) {
            NextHop member = neighbor(kOut, kOutMac, true);
            std::memcpy(&member.l2.dst_addr, m.data(), RTE_ETHER_ADDR_LEN);
            const uint32_t id = nhs_->alloc();
            ASSERT_NE(id, 0u);
            nhs_->publish(id, member);
            group.slots[group.n_slots++] = id;
        }
        route("2001:db8:e000::/48", group);
        route("2001:db8:bad0::/48", simple(NhKind::kUnreachable));
        route("2001:db8:bad1::/48", simple(NhKind::kProhibit));
        route("2001:db8:bad2::/48", simple(NhKind::kReject));
    }

    static void TearDownTestSuite() {
        // ~NextHopTable waits for its call_rcu callbacks (rcu_barrier), which
        // a QSBR reader may only do offline.
        rcu_thread_offline();
        delete fib_;
        delete nhs_;
        fib_ = nullptr;
        nhs_ = nullptr;
        rcu_thread_online();
    }

    void SetUp() override {
        pool_ = EalEnv::pool();
        ASSERT_NE(pool_, nullptr);
        avail_before_ = rte_mempool_avail_count(pool_);

        t_.fib = fib_;
        t_.nexthops = nhs_;
        add_port(kRx, kRxMac, true);
        add_port(kOut, kOutMac, true);
        add_port(kDown, kDownMac, false);
        rx_addrs_.unicast = {kRxLinkLocal, kRxGlobal};
        rx_addrs_.groups = {kAllNodes, kSolicited};
        t_.ports[kRx].addrs = &rx_addrs_;
        out_addrs_.unicast = {ip("fe80::2")};
        out_addrs_.groups = {kAllNodes};
        t_.ports[kOut].addrs = &out_addrs_;
    }

    void TearDown() override {
        for (rte_mbuf* m : held_)
            rte_pktmbuf_free(m);
        held_.clear();
        // Every mbuf allocated by the test is back: nothing leaked...
        EXPECT_EQ(rte_mempool_avail_count(pool_), avail_before_);
        // ... and nothing freed twice: a double free puts one mbuf in the pool
        // twice (and, the ring being exactly the pool's size, loses another
        // one), so draining the pool would hand out a pointer twice.
        std::vector<rte_mbuf*> all(rte_mempool_avail_count(pool_));
        ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool_, all.data(), unsigned(all.size())), 0);
        EXPECT_EQ(std::set<rte_mbuf*>(all.begin(), all.end()).size(), all.size())
            << "an mbuf was freed twice";
        rte_pktmbuf_free_bulk(all.data(), unsigned(all.size()));
    }

    void add_port(uint16_t id, const Mac& m, bool up) {
        t_.ports[id].mac = m;
        t_.ports[id].exists = true;
        t_.set_admin_up(id, up);
        t_.ports[id].link_up = up;
    }

    rte_mbuf* make(const Pkt& p) {
        rte_mbuf* m = p.mbuf(pool_);
        EXPECT_NE(m, nullptr) << "mbuf pool empty";
        return m;
    }

    /* Runs one burst, with local_ as the worker's state; the transmitted and
     * punted packets are freed at TearDown. */
    Outcome run(std::vector<rte_mbuf*> pkts, uint16_t rx = kRx) {
        Outcome o;
        classify_burst(t_, rx, pkts.data(), uint16_t(pkts.size()), &o.r, &o.st, local_);
        held_.insert(held_.end(), o.r.tx, o.r.tx + o.r.n_tx);
        held_.insert(held_.end(), o.r.punt, o.r.punt + o.r.n_punt);
        return o;
    }
    Outcome run1(const Pkt& p, uint16_t rx = kRx) { return run({make(p)}, rx); }

    /* Runs each case alone in a burst and checks its verdict and counters. */
    void check(const std::vector<Case>& cases) {
        for (const Case& c : cases) {
            SCOPED_TRACE(c.name);
            const Outcome o = run1(c.pkt);
            switch (c.verdict) {
                case Case::kTx:
                    expect_forwarded(o, kOut);
                    break;
                case Case::kPunt:
                    expect_punted(o);
                    break;
                case Case::kDrop:
                    expect_dropped(o, c.why);
                    break;
            }
        }
    }

    static inline Fib* fib_ = nullptr;
    static inline NextHopTable* nhs_ = nullptr;
    rte_mempool* pool_ = nullptr;
    unsigned avail_before_ = 0;
    Tables t_;
    PortAddrs rx_addrs_;
    PortAddrs out_addrs_;
    std::vector<rte_mbuf*> held_;
    WorkerLocal* local_ = nullptr;  // nullptr: no ICMPv6 error is ever punted
};

// ---------------------------------------------------------------------------

TEST(DropName, StableSnakeCaseNames) {
    const std::vector<std::string> want = {
        "not_ipv6",  "l2_not_ours",     "truncated",     "bad_version", "bad_length", "bad_source",
        "bad_dest",  "linklocal_scope", "mcast_forward", "hop_limit",   "no_route",   "no_neighbor",
        "blackhole", "unreachable",     "port_down",     "too_big",     "punt_full",  "tx_full"};
    ASSERT_EQ(want.size(), size_t(Drop::kCount));
    for (size_t i = 0; i < want.size(); i++)
        EXPECT_EQ(drop_name(Drop(i)), want[i]);
    EXPECT_STREQ(drop_name(Drop::kCount), "unknown");
}

/* RFC 8200 8.1: the one's complement sum over pseudo-header and data is all ones. */
bool l4_checksum_ok(const rte_ipv6_hdr* h) {
    uint32_t sum = rte_ipv6_phdr_cksum(h, 0);
    sum += rte_raw_cksum(h + 1, rte_be_to_cpu_16(h->payload_len));
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

TEST(PktBuilder, BuildsAValidDatagram) {
    const std::vector<uint8_t> f = good().bytes();
    ASSERT_EQ(f.size(), test::kEthLen + test::kIp6Len + 8 + 32);
    const auto* h = reinterpret_cast<const rte_ipv6_hdr*>(&f[test::kEthLen]);
    EXPECT_EQ(rte_be_to_cpu_32(h->vtc_flow) >> 28, 6u);
    EXPECT_EQ(rte_be_to_cpu_16(h->payload_len), 40);
    EXPECT_TRUE(l4_checksum_ok(h));
    const std::vector<uint8_t> e =
        Pkt().src(kRemoteSrc).dst(kRxGlobal).echo_request(7, 1, 10).bytes();
    const auto* h2 = reinterpret_cast<const rte_ipv6_hdr*>(&e[test::kEthLen]);
    EXPECT_EQ(h2->proto, test::kProtoIcmp6);
    EXPECT_TRUE(l4_checksum_ok(h2));
}

/* Rule 0: a burst on an absent or admin-down port is dropped whole. */
TEST_F(PacketPath, RxPortDownDropsTheBurst) {
    for (uint16_t port : {kDown, kAbsent, uint16_t(RTE_MAX_ETHPORTS), uint16_t(0xffff)}) {
        SCOPED_TRACE("rx port " + std::to_string(port));
        const Outcome o = run({make(good()), make(good().dst(kRxGlobal)), make(good())}, port);
        EXPECT_EQ(o.r.n_tx, 0);
        EXPECT_EQ(o.r.n_punt, 0);
        expect_counters(o.st, 3, 0, 0, {{Drop::kPortDown, 3}});
    }
}

/* Rule 1: the Ethernet header. */
TEST_F(PacketPath, Ethernet) {
    check({
        dropped("13-byte frame", good().truncate(13), Drop::kTruncated),
        dropped("empty frame", good().truncate(0), Drop::kTruncated),
        dropped("IPv4 ethertype", good().ether_type(RTE_ETHER_TYPE_IPV4), Drop::kNotIpv6),
        dropped("ARP", good().ether_type(RTE_ETHER_TYPE_ARP), Drop::kNotIpv6),
        dropped("802.1Q tag", good().ether_type(RTE_ETHER_TYPE_VLAN), Drop::kNotIpv6),
        dropped("another host's MAC", good().eth_dst(kOtherMac), Drop::kL2NotOurs),
        dropped("another port's MAC", good().eth_dst(kOutMac), Drop::kL2NotOurs),
        tx("our MAC", good()),
        punted("broadcast", good().eth_dst(kBroadcast).dst(kRxGlobal)),
        punted("multicast MAC", good().eth_dst(kAllNodesMac).dst(kAllNodes)),
        punted("multicast MAC of another group",
               good().eth_dst(Mac::for_multicast(kAllRouters)).dst(kAllNodes)),
    });
}

/* Rule 2: the IPv6 header and the Payload Length. */
TEST_F(PacketPath, Ip6Header) {
    const size_t full = test::kEthLen + test::kIp6Len;
    check({
        dropped("39-byte IPv6 header", good().truncate(full - 1), Drop::kTruncated),
        dropped("Ethernet header only", good().truncate(test::kEthLen), Drop::kTruncated),
        dropped("version 4", good().version(4), Drop::kBadVersion),
        dropped("version 0", good().version(0), Drop::kBadVersion),
        dropped("version 7", good().version(7), Drop::kBadVersion),
        dropped("payload length past the frame", good().payload_len(41), Drop::kBadLength),
        dropped("payload length 0xffff", good().payload_len(0xffff), Drop::kBadLength),
        dropped("cut payload", good().truncate(full + 10), Drop::kBadLength),
        dropped("jumbogram", good().jumbo(), Drop::kBadLength),
        tx("header only, payload length 0", good().raw(test::kProtoNone, {})),
        tx("exact length", good()),
        tx("padded", good().padding(6)),
    });
}

/* Rule 2: Ethernet padding is trimmed to the datagram's length. */
TEST_F(PacketPath, PaddingIsTrimmed) {
    struct {
        const char* name;
        Pkt pkt;
    } cases[] = {
        {"minimum frame padding", good().raw(test::kProtoNone, {}).padding(6, 0xee)},
        {"long trailer", good().padding(300, 0xee)},
        {"payload length shorter than the UDP data", good().payload_len(8)},
    };
    for (auto& c : cases) {
        SCOPED_TRACE(c.name);
        const std::vector<uint8_t> sent = c.pkt.bytes();
        const Outcome o = run1(c.pkt);
        expect_forwarded(o, kOut);
        if (o.r.n_tx != 1)
            continue;
        const rte_mbuf* m = o.r.tx[0];
        const size_t want =
            test::kEthLen + test::kIp6Len + rte_be_to_cpu_16(test::ip6_of(m)->payload_len);
        EXPECT_LT(want, sent.size());
        EXPECT_EQ(rte_pktmbuf_pkt_len(m), want);
        EXPECT_EQ(rte_pktmbuf_data_len(m), want);
        const std::vector<uint8_t> got = test::pkt_bytes(m);
        // The datagram is intact but for the hop limit.
        std::vector<uint8_t> expect(sent.begin() + test::kEthLen, sent.begin() + want);
        expect[7]--;
        EXPECT_EQ(std::vector<uint8_t>(got.begin() + test::kEthLen, got.end()), expect);
    }
}

/* Rule 2 on chained mbufs: headers must be in the first segment; padding in
 * the last one is trimmed. */
TEST_F(PacketPath, SegmentedFrames) {
    const size_t full = test::kEthLen + test::kIp6Len;
    {
        SCOPED_TRACE("IPv6 header split across segments");
        expect_dropped(run({good().mbuf_chain(pool_, full - 8, 64)}), Drop::kTruncated);
    }
    {
        SCOPED_TRACE("headers in the first segment, padding in the last");
        const Pkt p = good().padding(20);
        const Outcome o = run({p.mbuf_chain(pool_, full, 60)});
        expect_forwarded(o, kOut);
        if (o.r.n_tx == 1) {
            EXPECT_EQ(rte_pktmbuf_pkt_len(o.r.tx[0]), test::kEthLen + p.ip6_len());
            EXPECT_EQ(o.r.tx[0]->nb_segs, 2);
        }
    }
    {
        // Not Ethernet padding, which only short (single-segment) frames carry.
        SCOPED_TRACE("trailing bytes spanning two segments");
        expect_dropped(run({good().padding(20).mbuf_chain(pool_, full, 50)}), Drop::kBadLength);
    }
    {
        // 64 KiB + 10 trailing bytes: trimming them must not wrap to 10.
        SCOPED_TRACE("more than 64 KiB of trailing bytes");
        expect_dropped(run({good().padding(65536 + 10).mbuf_chain(pool_, full, 2000)}),
                       Drop::kBadLength);
    }
}

/* Rule 3: sources and destinations that are never valid (RFC 4291). */
TEST_F(PacketPath, InvalidAddresses) {
    check({
        dropped("multicast source", good().src("ff02::1"), Drop::kBadSource),
        dropped("global multicast source", good().src("ff0e::1"), Drop::kBadSource),
        dropped("loopback source", good().src("::1"), Drop::kBadSource),
        dropped("loopback source to us", good().src("::1").dst(kRxGlobal), Drop::kBadSource),
        dropped("loopback destination", good().dst("::1"), Drop::kBadDest),
        dropped("unspecified destination", good().dst("::"), Drop::kBadDest),
        dropped("source checked first", good().src("ff02::1").dst("::1"), Drop::kBadSource),
        // Checked before the hop limit too.
        dropped("loopback destination, hop limit 1", good().dst("::1").hop_limit(1),
                Drop::kBadDest),
    });
}

/* Rule 4: multicast destinations are ours if the port joined, else dropped. */
TEST_F(PacketPath, MulticastDestinations) {
    check({
        punted("all-nodes", good().eth_dst(kAllNodesMac).dst(kAllNodes)),
        punted("solicited-node", good().eth_dst(Mac::for_multicast(kSolicited)).dst(kSolicited)),
        punted("all-nodes with hop limit 1 (ND uses 255, MLD 1)",
               good().eth_dst(kAllNodesMac).dst(kAllNodes).hop_limit(1)),
        punted("solicited-node from the unspecified source (DAD)",
               good().eth_dst(Mac::for_multicast(kSolicited)).dst(kSolicited).src("::")),
        punted("all-nodes from a link-local source", good().dst(kAllNodes).src("fe80::5")),
        dropped("all-routers, not joined", good().dst(kAllRouters), Drop::kMcastForward),
        dropped("another solicited-node group", good().dst("ff02::1:ff12:3456"),
                Drop::kMcastForward),
        dropped("global scope group", good().dst("ff0e::101"), Drop::kMcastForward),
        dropped("site scope group", good().dst("ff05::2"), Drop::kMcastForward),
    });
}

/* Rule 4: a port with no address state has joined nothing. */
TEST_F(PacketPath, MulticastOnAPortWithoutAddresses) {
    t_.ports[kRx].addrs = nullptr;
    expect_dropped(run1(good().dst(kAllNodes)), Drop::kMcastForward);
}

/* Rule 4: the group must be joined on the rx port, not another. */
TEST_F(PacketPath, MulticastGroupOfAnotherPort) {
    out_addrs_.groups.push_back(kAllRouters);
    expect_dropped(run1(good().dst(kAllRouters)), Drop::kMcastForward);
}

/* Rule 5: link-local destinations are ours or dropped, never forwarded. */
TEST_F(PacketPath, LinkLocalDestinations) {
    check({
        punted("our link-local", good().dst(kRxLinkLocal)),
        punted("our link-local, hop limit 1", good().dst(kRxLinkLocal).hop_limit(1)),
        punted("our link-local from a link-local source", good().dst(kRxLinkLocal).src("fe80::5")),
        dropped("another host's link-local", good().dst("fe80::5"), Drop::kLinkLocalScope),
        dropped("the other port's link-local", good().dst("fe80::2"), Drop::kLinkLocalScope),
        dropped("top of fe80::/10", good().dst("febf::1"), Drop::kLinkLocalScope),
    });
}

/* Rule 5: without address state a port owns no link-local address. */
TEST_F(PacketPath, LinkLocalOnAPortWithoutAddresses) {
    t_.ports[kRx].addrs = nullptr;
    expect_dropped(run1(good().dst(kRxLinkLocal)), Drop::kLinkLocalScope);
}

/* Rule 6: local routes are punted whatever the hop limit and source scope. */
TEST_F(PacketPath, LocalDestinations) {
    check({
        punted("our global address", good().dst(kRxGlobal)),
        punted("hop limit 1", good().dst(kRxGlobal).hop_limit(1)),
        punted("hop limit 0", good().dst(kRxGlobal).hop_limit(0)),
        punted("unspecified source", good().dst(kRxGlobal).src("::")),
        punted("link-local source", good().dst(kRxGlobal).src("fe80::5")),
        punted("ICMPv6 echo", good().dst(kRxGlobal).echo_request(1, 2, 56)),
    });
}

/* Rule 6: what a packet to be forwarded must satisfy, before the route kind. */
TEST_F(PacketPath, ForwardingPreconditions) {
    check({
        dropped("unspecified source", good().src("::"), Drop::kBadSource),
        dropped("link-local source", good().src("fe80::5"), Drop::kLinkLocalScope),
        dropped("hop limit 1", good().hop_limit(1), Drop::kHopLimit),
        dropped("hop limit 0", good().hop_limit(0), Drop::kHopLimit),
        tx("hop limit 2", good().hop_limit(2)),
        dropped("unspecified source before hop limit", good().src("::").hop_limit(1),
                Drop::kBadSource),
        dropped("link-local source before hop limit", good().src("fe80::5").hop_limit(0),
                Drop::kLinkLocalScope),
        dropped("hop limit before no route", good().dst(kDstNoRoute).hop_limit(1), Drop::kHopLimit),
        dropped("hop limit before blackhole", good().dst(kDstBlackhole).hop_limit(1),
                Drop::kHopLimit),
        dropped("source before port down", good().dst(kDstDownPort).src("::"), Drop::kBadSource),
    });
}

/* Rule 6: the route kinds that do not forward. */
TEST_F(PacketPath, RouteKinds) {
    check({
        dropped("no route", good().dst(kDstNoRoute), Drop::kNoRoute),
        dropped("no route, outside 2001:db8::/32", good().dst("3fff::1"), Drop::kNoRoute),
        dropped("blackhole", good().dst(kDstBlackhole), Drop::kBlackhole),
        dropped("unreachable", good().dst(kDstUnreachable), Drop::kUnreachable),
        dropped("prohibit", good().dst(kDstProhibit), Drop::kUnreachable),
        dropped("reject", good().dst(kDstReject), Drop::kUnreachable),
        // RFC 4861 7.2.2: handed to the control thread, which resolves.
        punted("connected, no neighbour yet", good().dst(kDstConnected)),
        punted("unresolved neighbour", good().dst(kDstUnresolved)),
        dropped("out port absent", good().dst(kDstAbsentPort), Drop::kPortDown),
        dropped("out port admin down", good().dst(kDstDownPort), Drop::kPortDown),
        tx("resolved neighbour", good()),
    });
}

/* Rule 6: no FIB published yet means no route. */
TEST_F(PacketPath, NoTablesMeansNoRoute) {
    t_.fib = nullptr;
    t_.nexthops = nullptr;
    expect_dropped(run1(good()), Drop::kNoRoute);
    // What needs no route still works.
    expect_punted(run1(good().dst(kRxLinkLocal)));
}

/* Rule 6: the rewrite of a forwarded packet. */
TEST_F(PacketPath, ForwardRewritesHopLimitAndEthernet) {
    for (uint8_t hops : {uint8_t(2), uint8_t(64), uint8_t(255)}) {
        SCOPED_TRACE("hop limit " + std::to_string(hops));
        const Pkt p = good().hop_limit(hops).traffic_class(0x2e).flow_label(0x12345);
        const std::vector<uint8_t> sent = p.bytes();
        const Outcome o = run1(p);
        expect_forwarded(o, kOut);
        if (o.r.n_tx != 1)
            continue;
        const rte_mbuf* m = o.r.tx[0];
        EXPECT_EQ(test::hop_limit(m), hops - 1);
        EXPECT_EQ(test::eth_dst(m), kNeighMac);
        EXPECT_EQ(test::eth_src(m), kOutMac);
        EXPECT_EQ(test::ether_type(m), RTE_ETHER_TYPE_IPV6);
        EXPECT_EQ(rte_pktmbuf_pkt_len(m), sent.size());
        // Nothing else changed.
        std::vector<uint8_t> expect(sent.begin() + test::kEthLen, sent.end());
        expect[7]--;
        const std::vector<uint8_t> got = test::pkt_bytes(m);
        EXPECT_EQ(std::vector<uint8_t>(got.begin() + test::kEthLen, got.end()), expect);
    }
}

/* ECMP: every packet of a flow (addresses, flow label, ports) leaves by the
 * same member, and many flows share the members evenly. */
TEST_F(PacketPath, EcmpKeepsEachFlowOnOnePath) {
    constexpr int kFlows = 400;
    std::vector<Mac> first(kFlows);
    int to_a = 0;
    for (int round = 0; round < 2; round++) {
        for (int f = 0; f < kFlows; f += 32) {
            std::vector<rte_mbuf*> burst;
            for (int k = f; k < f + 32 && k < kFlows; k++)
                burst.push_back(make(good().dst(kDstEcmp).udp(uint16_t(1024 + k), 53, 8)));
            const Outcome o = run(burst);
            ASSERT_EQ(o.r.n_tx, burst.size());
            for (uint16_t i = 0; i < o.r.n_tx; i++) {
                const Mac got = test::eth_dst(o.r.tx[i]);
                ASSERT_TRUE(got == kEcmpMacA || got == kEcmpMacB) << got.str();
                if (round == 0) {
                    first[size_t(f + i)] = got;
                    to_a += got == kEcmpMacA;
                } else {
                    EXPECT_EQ(got, first[size_t(f + i)]) << "flow " << f + i << " moved";
                }
            }
        }
    }
    EXPECT_NEAR(double(to_a) / kFlows, 0.5, 0.1) << to_a << " of " << kFlows << " flows on A";
}

/* Rule 6: a packet larger than the out port's MTU is dropped (fp6 never
 * fragments, RFC 8200 5); one that fits exactly is sent. Without a worker
 * state no Packet Too Big is owed to anyone. */
TEST_F(PacketPath, LargerThanMtuIsDropped) {
    t_.ports[kOut].mtu = 1280;
    check({
        dropped("1448 bytes over 1280", good().udp(1, 2, 1400), Drop::kTooBig),
        dropped("one byte over", good().udp(1, 2, 1280 - 48 + 1), Drop::kTooBig),
        tx("exactly the MTU", good().udp(1, 2, 1280 - 48)),
        tx("padding does not count", good().udp(1, 2, 1280 - 48).padding(30)),
    });
    t_.ports[kOut].mtu = 9000;
    check({tx("a jumbo frame MTU", good().udp(1, 2, 1900))});
}

/* Rule 6: the out port and the source MAC are the next hop's, whatever the
 * rx port; here the neighbour is on the port the packet came in on. */
TEST_F(PacketPath, ForwardBackOutTheRxPort) {
    const Outcome o = run1(good().dst(kDstViaRxPort));
    expect_forwarded(o, kRx);
    if (o.r.n_tx == 1) {
        EXPECT_EQ(test::eth_dst(o.r.tx[0]), kNeighMac);
        EXPECT_EQ(test::eth_src(o.r.tx[0]), kRxMac);
    }
    // And a packet from port 1 to the route through port 1.
    expect_forwarded(run1(good().eth_dst(kOutMac), kOut), kOut);
}

/* Rule 7 and the burst as a whole: order, counts, and the result reset. */
TEST_F(PacketPath, ResultListsKeepArrivalOrder) {
    std::vector<rte_mbuf*> in = {
        make(good().dst(kRxGlobal)),     // punt
        make(good()),                    // tx
        make(good().dst(kAllNodes)),     // punt (before the FIB)
        make(good().hop_limit(1)),       // drop
        make(good().dst(kDstNeighbor)),  // tx
        make(good().dst(kRxLinkLocal)),  // punt (before the FIB)
        make(good().dst(kRxGlobal)),     // punt
    };
    const std::vector<rte_mbuf*> want_punt = {in[0], in[2], in[5], in[6]};
    const std::vector<rte_mbuf*> want_tx = {in[1], in[4]};
    const Outcome o = run(in);
    EXPECT_EQ(std::vector<rte_mbuf*>(o.r.punt, o.r.punt + o.r.n_punt), want_punt);
    EXPECT_EQ(std::vector<rte_mbuf*>(o.r.tx, o.r.tx + o.r.n_tx), want_tx);
    expect_counters(o.st, 7, 2, 4, {{Drop::kHopLimit, 1}});

    // A second burst into a used BurstResult starts from empty lists.
    BurstResult r = o.r;
    WorkerStats st;
    std::vector<rte_mbuf*> one = {make(good())};
    classify_burst(t_, kRx, one.data(), 1, &r, &st);
    EXPECT_EQ(r.n_tx, 1);
    EXPECT_EQ(r.n_punt, 0);
    held_.push_back(r.tx[0]);
}

/* Every rule at once: a full burst of 64 mixed packets, twice. */
TEST_F(PacketPath, MixedBurstOf64) {
    const size_t full = test::kEthLen + test::kIp6Len;
    const std::vector<Case> kinds = {
        tx("forward", good()),
        punted("local", good().dst(kRxGlobal)),
        punted("all-nodes", good().dst(kAllNodes).eth_dst(kAllNodesMac)),
        punted("link-local", good().dst(kRxLinkLocal)),
        tx("forward, padded", good().padding(12)),
        dropped("not IPv6", good().ether_type(RTE_ETHER_TYPE_IPV4), Drop::kNotIpv6),
        dropped("not ours", good().eth_dst(kOtherMac), Drop::kL2NotOurs),
        dropped("truncated", good().truncate(full - 1), Drop::kTruncated),
        dropped("version", good().version(4), Drop::kBadVersion),
        dropped("length", good().payload_len(999), Drop::kBadLength),
        dropped("source", good().src("ff02::1"), Drop::kBadSource),
        dropped("dest", good().dst("::1"), Drop::kBadDest),
        dropped("link-local dest", good().dst("fe80::5"), Drop::kLinkLocalScope),
        dropped("mcast", good().dst(kAllRouters), Drop::kMcastForward),
        dropped("hop limit", good().hop_limit(1), Drop::kHopLimit),
        dropped("no route", good().dst(kDstNoRoute), Drop::kNoRoute),
        punted("no neighbour", good().dst(kDstUnresolved)),
        punted("connected", good().dst(kDstConnected)),
        dropped("blackhole", good().dst(kDstBlackhole), Drop::kBlackhole),
        dropped("unreachable", good().dst(kDstReject), Drop::kUnreachable),
        dropped("port down", good().dst(kDstDownPort), Drop::kPortDown),
        tx("forward again", good().src("2001:db8:9::2")),
        tx("forward back out", good().dst(kDstViaRxPort)),
    };
    for (int round = 0; round < 2; round++) {
        SCOPED_TRACE("round " + std::to_string(round));
        std::vector<rte_mbuf*> in;
        std::vector<rte_mbuf*> want_tx, want_punt;
        std::vector<uint16_t> want_port;
        std::map<Drop, uint64_t> want_drops;
        for (size_t i = 0; i < BurstResult::kMax; i++) {
            const Case& c = kinds[(i * 7 + round) % kinds.size()];
            rte_mbuf* m = make(c.pkt);
            in.push_back(m);
            if (c.verdict == Case::kTx) {
                want_tx.push_back(m);
                want_port.push_back(test::ip6_dst(m) == ip(kDstViaRxPort) ? kRx : kOut);
            } else if (c.verdict == Case::kPunt) {
                want_punt.push_back(m);
            } else {
                want_drops[c.why]++;
            }
        }
        const Outcome o = run(in);
        EXPECT_EQ(std::vector<rte_mbuf*>(o.r.tx, o.r.tx + o.r.n_tx), want_tx);
        EXPECT_EQ(std::vector<rte_mbuf*>(o.r.punt, o.r.punt + o.r.n_punt), want_punt);
        expect_counters(o.st, BurstResult::kMax, want_tx.size(), want_punt.size(), want_drops);
        EXPECT_EQ(std::vector<uint16_t>(o.r.tx_port, o.r.tx_port + o.r.n_tx), want_port);
        // Both ports are in the mix: the worker must group the burst.
        ASSERT_NE(std::count(want_port.begin(), want_port.end(), kRx), 0);
        ASSERT_NE(std::count(want_port.begin(), want_port.end(), kOut), 0);
        EXPECT_FALSE(o.r.one_port);
        for (uint16_t i = 0; i < o.r.n_tx; i++) {
            EXPECT_EQ(test::hop_limit(o.r.tx[i]), 63);
            EXPECT_EQ(test::eth_dst(o.r.tx[i]), kNeighMac);
        }
    }
}

/* The worker sends a burst whose packets all leave through one port as it
 * is; one packet for another port among them makes it group the burst. */
TEST_F(PacketPath, OnePortIsToldOnlyWhenEveryPacketTakesIt) {
    for (size_t other : {size_t(BurstResult::kMax), size_t(0), size_t(BurstResult::kMax - 1)}) {
        SCOPED_TRACE("packet to the rx port: " + std::to_string(other));
        std::vector<rte_mbuf*> in;
        for (size_t i = 0; i < BurstResult::kMax; i++)
            in.push_back(make(i == other ? good().dst(kDstViaRxPort) : good()));
        const Outcome o = run(in);
        ASSERT_EQ(o.r.n_tx, BurstResult::kMax);
        EXPECT_EQ(o.r.one_port, other == size_t(BurstResult::kMax));
        EXPECT_EQ(o.r.tx_port[0], other == 0 ? kRx : kOut);
    }
}

/* Accounting: after many bursts and the test freeing what it was handed, the
 * pool is whole (checked by the fixture, here made explicit). */
TEST_F(PacketPath, NoMbufLeak) {
    const unsigned before = rte_mempool_avail_count(pool_);
    for (int burst = 0; burst < 50; burst++) {
        std::vector<rte_mbuf*> in;
        for (int i = 0; i < BurstResult::kMax; i++) {
            switch ((burst + i) % 4) {
                case 0:
                    in.push_back(make(good()));
                    break;
                case 1:
                    in.push_back(make(good().dst(kRxGlobal)));
                    break;
                case 2:
                    in.push_back(make(good().dst(kDstBlackhole)));
                    break;
                default:
                    in.push_back(make(good().truncate(20)));
                    break;
            }
        }
        const Outcome o = run(in);
        EXPECT_EQ(o.r.n_tx + o.r.n_punt + o.st.drops[size_t(Drop::kBlackhole)] +
                      o.st.drops[size_t(Drop::kTruncated)],
                  BurstResult::kMax);
        for (rte_mbuf* m : held_)
            rte_pktmbuf_free(m);
        held_.clear();
        ASSERT_EQ(rte_mempool_avail_count(pool_), before);
    }
    {
        SCOPED_TRACE("a whole burst on a down port");
        std::vector<rte_mbuf*> in;
        for (int i = 0; i < BurstResult::kMax; i++)
            in.push_back(make(good()));
        run(in, kDown);
        EXPECT_EQ(rte_mempool_avail_count(pool_), before);
    }
    {
        SCOPED_TRACE("an empty burst");
        const Outcome o = run({});
        expect_counters(o.st, 0, 0, 0);
    }
}

// ---------------------------------------------------------------------------
// ICMPv6 errors (RFC 4443): packets the router owes an error for are punted,
// tagged with it, when RFC 4443 2.4 (e) allows one and the rx port's bucket
// grants it; their drop reason still counts them.

/* The tag layout documented in packet.h. */
TEST(PuntReasonTag, Layout) {
    EXPECT_EQ(PuntReason{}.encode(), 0u);
    EXPECT_FALSE(PuntReason{}.is_error());
    EXPECT_EQ((PuntReason{kIcmp6PacketTooBig, 0, 1500}).encode(), 0x020005dcu);
    EXPECT_EQ((PuntReason{kIcmp6DstUnreachable, kUnreachReject, 0}).encode(), 0x01060000u);
    EXPECT_EQ(PuntReason::decode(0x03000000u),
              (PuntReason{kIcmp6TimeExceeded, kTimeExceededHopLimit, 0}));
    const PuntReason r{kIcmp6PacketTooBig, 0, 65535};
    EXPECT_EQ(PuntReason::decode(r.encode()), r);
    EXPECT_TRUE(r.is_error());
}

/* A TSC this fast never refills a bucket during a test: each holds exactly
 * its burst. */
constexpr uint64_t kFrozenHz = 1'000'000'000'000'000;

class IcmpErrors : public PacketPath {
  protected:
    void SetUp() override {
        PacketPath::SetUp();
        local_ = &frozen_;
    }

    /* p alone in a burst is punted, as received, with `want`, and counted
     * under `why`. */
    void expect_error(const Pkt& p, Drop why, PuntReason want) {
        const std::vector<uint8_t> sent = p.bytes();
        const Outcome o = run1(p);
        EXPECT_EQ(o.r.n_tx, 0);
        ASSERT_EQ(o.r.n_punt, 1);
        EXPECT_EQ(o.r.n_icmp, 1);
        expect_counters(o.st, 1, 0, 0, {{why, 1}}, {.punted = 1});
        EXPECT_EQ(punt_reason(o.r.punt[0]), want);
        // Neither the hop limit nor the Ethernet header was rewritten.
        EXPECT_EQ(test::pkt_bytes(o.r.punt[0]), sent);
    }

    /* p alone in a burst is freed and counted under `why` only: no error. */
    void expect_silent(const Pkt& p, Drop why) {
        const Outcome o = run1(p);
        EXPECT_EQ(o.r.n_tx, 0);
        EXPECT_EQ(o.r.n_punt, 0);
        EXPECT_EQ(o.r.n_icmp, 0);
        expect_counters(o.st, 1, 0, 0, {{why, 1}});
    }

    void set_bucket(uint16_t port, uint32_t rate, uint32_t burst) {
        t_.ports[port].icmp_rate = rate;
        t_.ports[port].icmp_burst = burst;
    }

    WorkerLocal frozen_{IcmpLimiter(kFrozenHz)};
};

}  // namespace

/* For GoogleTest's messages; found by argument-dependent lookup in fp6. */
void PrintTo(const PuntReason& r, std::ostream* os) {
    *os << "{type " << int(r.icmp_type) << ", code " << int(r.icmp_code) << ", mtu " << r.mtu
        << "}";
}

namespace {

const PuntReason kTimeExceeded{kIcmp6TimeExceeded, kTimeExceededHopLimit, 0};
constexpr PuntReason unreach(uint8_t code) {
    return {kIcmp6DstUnreachable, code, 0};
}
constexpr PuntReason too_big(uint16_t mtu) {
    return {kIcmp6PacketTooBig, 0, mtu};
}

/* RFC 4443 3.3: hop limit 0 or 1 when forwarding, code 0. */
TEST_F(IcmpErrors, TimeExceeded) {
    for (uint8_t hops : {uint8_t(1), uint8_t(0)}) {
        SCOPED_TRACE("hop limit " + std::to_string(hops));
        expect_error(good().hop_limit(hops), Drop::kHopLimit, kTimeExceeded);
    }
    // Checked before the route: the route's own error is not owed.
    expect_error(good().dst(kDstNoRoute).hop_limit(1), Drop::kHopLimit, kTimeExceeded);
    expect_error(good().dst(kDstReject).hop_limit(1), Drop::kHopLimit, kTimeExceeded);
}

/* RFC 4443 3.1 code 0: no route, also before any table is published. */
TEST_F(IcmpErrors, NoRoute) {
    expect_error(good().dst(kDstNoRoute), Drop::kNoRoute, unreach(kUnreachNoRoute));
    expect_error(good().dst("3fff::1"), Drop::kNoRoute, unreach(kUnreachNoRoute));
    t_.fib = nullptr;
    t_.nexthops = nullptr;
    expect_error(good(), Drop::kNoRoute, unreach(kUnreachNoRoute));
}

/* RFC 4443 3.1: unreachable, prohibit and reject routes share a drop
 * reason; the code tells them apart. */
TEST_F(IcmpErrors, UnreachableRoutes) {
    expect_error(good().dst(kDstUnreachable), Drop::kUnreachable, unreach(kUnreachNoRoute));
    expect_error(good().dst(kDstProhibit), Drop::kUnreachable, unreach(kUnreachProhibited));
    expect_error(good().dst(kDstReject), Drop::kUnreachable, unreach(kUnreachReject));
}

/* RFC 4443 3.1 code 2: a link-local source would leave its link. */
TEST_F(IcmpErrors, BeyondScopeOfSource) {
    expect_error(good().src("fe80::5"), Drop::kLinkLocalScope, unreach(kUnreachBeyondScope));
    // Before the hop limit, as the drop reason.
    expect_error(good().src("fe80::5").hop_limit(1), Drop::kLinkLocalScope,
                 unreach(kUnreachBeyondScope));
    // A link-local destination that is not ours is dropped without an error.
    expect_silent(good().dst("fe80::5"), Drop::kLinkLocalScope);
}

/* RFC 4443 3.2: larger than the out port's MTU, with that MTU. */
TEST_F(IcmpErrors, PacketTooBig) {
    t_.ports[kOut].mtu = 1280;
    expect_error(good().udp(1, 2, 1400), Drop::kTooBig, too_big(1280));
    expect_error(good().udp(1, 2, 1280 - 48 + 1), Drop::kTooBig, too_big(1280));
    t_.ports[kOut].mtu = 1400;
    expect_error(good().udp(1, 2, 1400), Drop::kTooBig, too_big(1400));
    // After the hop limit: a packet that would expire is not too big.
    expect_error(good().udp(1, 2, 1400).hop_limit(1), Drop::kHopLimit, kTimeExceeded);
    // The MTU of the out port, not of the rx port.
    t_.ports[kRx].mtu = 1280;
    t_.ports[kOut].mtu = 1500;
    expect_forwarded(run1(good().udp(1, 2, 1400)), kOut);
}

/* RFC 4443 2.4 (e.1), (e.2): never for an ICMPv6 error or a Redirect. */
TEST_F(IcmpErrors, NeverForIcmpErrorsOrRedirects) {
    const std::vector<uint8_t> body(4 + 48, 0);
    for (uint8_t type : {uint8_t(1), uint8_t(2), uint8_t(3), uint8_t(4), uint8_t(0), uint8_t(100),
                         uint8_t(127), uint8_t(137)}) {
        SCOPED_TRACE("type " + std::to_string(type));
        expect_silent(good().hop_limit(1).icmp6(type, 0, body), Drop::kHopLimit);
        expect_silent(good().dst(kDstReject).icmp6(type, 0, body), Drop::kUnreachable);
    }
    t_.ports[kOut].mtu = 1280;
    expect_silent(good().icmp6(3, 0, std::vector<uint8_t>(1400)), Drop::kTooBig);
    // An ICMPv6 header whose type is missing: silence.
    expect_silent(good().hop_limit(1).raw(test::kProtoIcmp6, {}), Drop::kHopLimit);
    // Informational messages other than Redirect do get errors.
    for (uint8_t type : {uint8_t(128), uint8_t(129), uint8_t(135), uint8_t(136), uint8_t(255)}) {
        SCOPED_TRACE("type " + std::to_string(type));
        expect_error(good().hop_limit(1).icmp6(type, 0, body), Drop::kHopLimit, kTimeExceeded);
    }
    expect_error(good().dst(kDstNoRoute).echo_request(1, 1, 16), Drop::kNoRoute,
                 unreach(kUnreachNoRoute));
}

/* RFC 4443 2.4 (e.4), (e.5): never for a link-layer multicast or broadcast
 * frame, except Packet Too Big. */
TEST_F(IcmpErrors, NeverForLinkLayerMulticastOrBroadcast) {
    const Mac kOtherGroup = mac("33:33:00:00:12:34");
    for (const Mac& l2 : {kAllNodesMac, kOtherGroup, kBroadcast}) {
        SCOPED_TRACE(l2.str());
        expect_silent(good().eth_dst(l2).hop_limit(1), Drop::kHopLimit);
        expect_silent(good().eth_dst(l2).dst(kDstNoRoute), Drop::kNoRoute);
        expect_silent(good().eth_dst(l2).dst(kDstProhibit), Drop::kUnreachable);
        expect_silent(good().eth_dst(l2).src("fe80::5"), Drop::kLinkLocalScope);
        t_.ports[kOut].mtu = 1280;
        expect_error(good().eth_dst(l2).udp(1, 2, 1400), Drop::kTooBig, too_big(1280));
        t_.ports[kOut].mtu = 1500;
    }
}

/* RFC 4443 2.4 (e.3), (e.6): never for a multicast destination, nor to an
 * unspecified, multicast or loopback source (those are dropped before any
 * error is owed; with a bucket they stay silent). */
TEST_F(IcmpErrors, NeverForMulticastDestinationsOrBadSources) {
    expect_silent(good().dst(kAllRouters).hop_limit(1), Drop::kMcastForward);
    expect_silent(good().dst("ff0e::101").udp(1, 2, 1400), Drop::kMcastForward);
    expect_silent(good().src("::").hop_limit(1), Drop::kBadSource);
    expect_silent(good().src("::").dst(kDstNoRoute), Drop::kBadSource);
    expect_silent(good().src("ff02::1").hop_limit(1), Drop::kBadSource);
    expect_silent(good().src("::1").dst(kDstReject), Drop::kBadSource);
}

/* Drops that owe no error. */
TEST_F(IcmpErrors, NeverForSilentDrops) {
    const size_t full = test::kEthLen + test::kIp6Len;
    expect_silent(good().dst(kDstBlackhole), Drop::kBlackhole);
    expect_silent(good().dst(kDstDownPort), Drop::kPortDown);
    expect_silent(good().dst(kDstAbsentPort), Drop::kPortDown);
    expect_silent(good().eth_dst(kOtherMac).hop_limit(1), Drop::kL2NotOurs);
    expect_silent(good().hop_limit(1).truncate(full - 1), Drop::kTruncated);
    expect_silent(good().hop_limit(1).payload_len(999), Drop::kBadLength);
    expect_silent(good().hop_limit(1).version(4), Drop::kBadVersion);
    expect_silent(good().dst("::1"), Drop::kBadDest);
}

/* Local deliveries carry PuntReason 0, whatever the mbuf held there (the
 * field overlays the RSS hash). */
TEST_F(IcmpErrors, LocalPuntsAreTaggedZero) {
    for (const Pkt& p : {good().dst(kRxGlobal), good().dst(kRxLinkLocal), good().dst(kAllNodes)}) {
        rte_mbuf* m = make(p);
        m->hash.usr = 0xdeadbeef;
        const Outcome o = run({m});
        expect_punted(o);
        EXPECT_EQ(o.r.n_icmp, 0);
        if (o.r.n_punt == 1) {
            EXPECT_EQ(punt_reason(o.r.punt[0]), PuntReason{});
        }
    }
}

/* The errors follow the local punts, each kind in arrival order. */
TEST_F(IcmpErrors, ErrorsFollowLocalPunts) {
    std::vector<rte_mbuf*> in = {
        make(good().hop_limit(1)),        // error 1
        make(good().dst(kRxGlobal)),      // local 1
        make(good()),                     // tx
        make(good().dst(kDstReject)),     // error 2
        make(good().dst(kAllNodes)),      // local 2 (pass 1)
        make(good().dst(kDstBlackhole)),  // freed
        make(good().dst(kDstNoRoute)),    // error 3
    };
    const std::vector<rte_mbuf*> want_punt = {in[1], in[4], in[0], in[3], in[6]};
    const Outcome o = run(in);
    EXPECT_EQ(std::vector<rte_mbuf*>(o.r.punt, o.r.punt + o.r.n_punt), want_punt);
    EXPECT_EQ(o.r.n_icmp, 3);
    ASSERT_EQ(o.r.n_tx, 1);
    EXPECT_EQ(o.r.tx[0], in[2]);
    expect_counters(
        o.st, 7, 1, 2,
        {{Drop::kHopLimit, 1}, {Drop::kUnreachable, 1}, {Drop::kBlackhole, 1}, {Drop::kNoRoute, 1}},
        {.punted = 3});
    if (o.r.n_punt == 5) {
        EXPECT_EQ(punt_reason(o.r.punt[0]), PuntReason{});
        EXPECT_EQ(punt_reason(o.r.punt[1]), PuntReason{});
        EXPECT_EQ(punt_reason(o.r.punt[2]), kTimeExceeded);
        EXPECT_EQ(punt_reason(o.r.punt[3]), unreach(kUnreachReject));
        EXPECT_EQ(punt_reason(o.r.punt[4]), unreach(kUnreachNoRoute));
    }
}

/* RFC 4443 2.4 (f): the rx port's bucket lets `burst` errors through, then
 * refuses until it refills; the refused packets are freed. */
TEST_F(IcmpErrors, BucketBurstThenLimited) {
    set_bucket(kRx, 1, 3);
    std::vector<rte_mbuf*> in;
    for (int i = 0; i < 5; i++)
        in.push_back(make(good().hop_limit(1)));
    Outcome o = run(in);
    EXPECT_EQ(std::vector<rte_mbuf*>(o.r.punt, o.r.punt + o.r.n_punt),
              std::vector<rte_mbuf*>(in.begin(), in.begin() + 3));
    EXPECT_EQ(o.r.n_icmp, 3);
    expect_counters(o.st, 5, 0, 0, {{Drop::kHopLimit, 5}}, {.punted = 3, .ratelimited = 2});

    // Empty: the next burst gets nothing.
    o = run({make(good().dst(kDstNoRoute)), make(good().hop_limit(0))});
    EXPECT_EQ(o.r.n_punt, 0);
    expect_counters(o.st, 2, 0, 0, {{Drop::kNoRoute, 1}, {Drop::kHopLimit, 1}}, {.ratelimited = 2});
    // Local delivery does not depend on it.
    expect_punted(run1(good().dst(kRxGlobal)));
}

/* Packets that may get no error take no token and are not counted as limited. */
TEST_F(IcmpErrors, IneligiblePacketsTakeNoToken) {
    set_bucket(kRx, 1, 2);
    std::vector<rte_mbuf*> in;
    for (int i = 0; i < 5; i++)
        in.push_back(make(good().hop_limit(1).icmp6(1, 0, std::vector<uint8_t>(8))));
    for (int i = 0; i < 5; i++)
        in.push_back(make(good().hop_limit(1).eth_dst(kBroadcast)));
    in.push_back(make(good().hop_limit(1)));
    in.push_back(make(good().hop_limit(1)));
    in.push_back(make(good().hop_limit(1)));
    const Outcome o = run(in);
    EXPECT_EQ(std::vector<rte_mbuf*>(o.r.punt, o.r.punt + o.r.n_punt),
              std::vector<rte_mbuf*>(in.begin() + 10, in.begin() + 12));
    expect_counters(o.st, 13, 0, 0, {{Drop::kHopLimit, 13}}, {.punted = 2, .ratelimited = 1});
}

/* One bucket per rx port. */
TEST_F(IcmpErrors, BucketPerRxPort) {
    set_bucket(kRx, 1, 1);
    set_bucket(kOut, 1, 1);
    expect_error(good().hop_limit(1), Drop::kHopLimit, kTimeExceeded);
    Outcome o = run1(good().hop_limit(1));
    expect_counters(o.st, 1, 0, 0, {{Drop::kHopLimit, 1}}, {.ratelimited = 1});
    // The other port's bucket is full.
    o = run1(good().eth_dst(kOutMac).hop_limit(1), kOut);
    ASSERT_EQ(o.r.n_punt, 1);
    EXPECT_EQ(punt_reason(o.r.punt[0]), kTimeExceeded);
    expect_counters(o.st, 1, 0, 0, {{Drop::kHopLimit, 1}}, {.punted = 1});
}

/* A rate or a burst of 0 lets nothing through. */
TEST_F(IcmpErrors, RateOrBurstZeroSendsNothing) {
    for (auto [rate, burst] : {std::pair{0u, 10u}, std::pair{100u, 0u}}) {
        SCOPED_TRACE("rate " + std::to_string(rate) + " burst " + std::to_string(burst));
        set_bucket(kRx, rate, burst);
        const Outcome o = run1(good().hop_limit(1));
        EXPECT_EQ(o.r.n_punt, 0);
        expect_counters(o.st, 1, 0, 0, {{Drop::kHopLimit, 1}}, {.ratelimited = 1});
    }
}

/* Without a worker state nothing is punted, whatever is owed. */
TEST_F(IcmpErrors, NoWorkerStateNoErrors) {
    local_ = nullptr;
    expect_silent(good().hop_limit(1), Drop::kHopLimit);
    expect_silent(good().dst(kDstReject), Drop::kUnreachable);
}

/* On the real TSC: the bucket refills with time, up to its burst. The TSC
 * is read once per burst, so a burst never refills itself. */
TEST_F(IcmpErrors, BucketRefillsOnTheTsc) {
    WorkerLocal real;  // rte_get_tsc_hz()
    local_ = &real;
    set_bucket(kRx, 1000, 2);  // a token per millisecond, two at most
    for (int round = 0; round < 3; round++) {
        SCOPED_TRACE("round " + std::to_string(round));
        const Outcome o =
            run({make(good().hop_limit(1)), make(good().hop_limit(1)), make(good().hop_limit(1))});
        EXPECT_EQ(o.r.n_punt, 2);
        expect_counters(o.st, 3, 0, 0, {{Drop::kHopLimit, 3}}, {.punted = 2, .ratelimited = 1});
        usleep(20 * 1000);  // 20 tokens' worth: the bucket is full again
    }
}

/* The worker's loop hands its TSC reading to the packet path
 * (WorkerLocal::now): that clock, not the TSC, refills the bucket. */
TEST_F(IcmpErrors, BucketRefillsOnTheWorkersClock) {
    WorkerLocal clocked;  // rte_get_tsc_hz() ticks a second
    local_ = &clocked;
    set_bucket(kRx, 1000, 2);  // a token per millisecond, two at most
    auto three_owed = [&] {
        return run(
            {make(good().hop_limit(1)), make(good().hop_limit(1)), make(good().hop_limit(1))});
    };
    clocked.now = rte_get_tsc_hz();  // one second into the worker's clock
    Outcome o = three_owed();
    EXPECT_EQ(o.r.n_punt, 2);
    // 20 ms pass on the TSC, none on the worker's clock: nothing refilled.
    usleep(20 * 1000);
    o = three_owed();
    EXPECT_EQ(o.r.n_punt, 0);
    expect_counters(o.st, 3, 0, 0, {{Drop::kHopLimit, 3}}, {.ratelimited = 3});
    // 20 ms on the worker's clock, at once: full again.
    clocked.now += rte_get_tsc_hz() / 50;
    o = three_owed();
    EXPECT_EQ(o.r.n_punt, 2);
    expect_counters(o.st, 3, 0, 0, {{Drop::kHopLimit, 3}}, {.punted = 2, .ratelimited = 1});
}

/* A whole burst of 64 owed errors with the default bucket (10). */
TEST_F(IcmpErrors, FullBurstWithDefaultBucket) {
    std::vector<rte_mbuf*> in;
    for (int i = 0; i < BurstResult::kMax; i++)
        in.push_back(make(i % 2 ? good().hop_limit(1) : good().dst(kDstNoRoute)));
    const Outcome o = run(in);
    EXPECT_EQ(o.r.n_punt, kIcmpDefaultBurst);
    EXPECT_EQ(o.r.n_icmp, kIcmpDefaultBurst);
    expect_counters(o.st, 64, 0, 0, {{Drop::kHopLimit, 32}, {Drop::kNoRoute, 32}},
                    {.punted = kIcmpDefaultBurst, .ratelimited = 64 - kIcmpDefaultBurst});
}

/* The counters when the punt ring takes only part of a burst's punts: the
 * errors, last in the list, are lost first and stay counted as drops. */
TEST(PuntShortfall, Accounting) {
    BurstResult r;
    r.n_punt = 4;
    r.n_icmp = 2;
    auto after = [&](unsigned enqueued) {
        WorkerStats st;
        st.punted = 2;
        st.icmp_punted = 2;
        punt_shortfall(r, enqueued, &st);
        return st;
    };
    WorkerStats st = after(4);
    EXPECT_EQ(st.punted, 2u);
    EXPECT_EQ(st.icmp_punted, 2u);
    EXPECT_EQ(st.drops[size_t(Drop::kPuntFull)], 0u);
    st = after(3);
    EXPECT_EQ(st.punted, 2u);
    EXPECT_EQ(st.icmp_punted, 1u);
    EXPECT_EQ(st.drops[size_t(Drop::kPuntFull)], 0u);
    st = after(1);
    EXPECT_EQ(st.punted, 1u);
    EXPECT_EQ(st.icmp_punted, 0u);
    EXPECT_EQ(st.drops[size_t(Drop::kPuntFull)], 1u);
    st = after(0);
    EXPECT_EQ(st.punted, 0u);
    EXPECT_EQ(st.icmp_punted, 0u);
    EXPECT_EQ(st.drops[size_t(Drop::kPuntFull)], 2u);
    // No errors in the burst: every loss is a local punt.
    r.n_icmp = 0;
    st = WorkerStats{};
    st.punted = 4;
    punt_shortfall(r, 1, &st);
    EXPECT_EQ(st.punted, 1u);
    EXPECT_EQ(st.icmp_punted, 0u);
    EXPECT_EQ(st.drops[size_t(Drop::kPuntFull)], 3u);
}

// ---------------------------------------------------------------------------
// Redirects (RFC 4861 8.2): a packet forwarded back out of its rx port, from
// a neighbour on that link, is forwarded and also copied to the control
// thread, tagged with a Redirect, when the port allows it and its redirect
// bucket grants.

/* The Redirect part of the tag layout documented in packet.h. */
TEST(PuntReasonTag, Redirect) {
    const PuntReason via{kIcmp6Redirect, 0, 0};
    const PuntReason direct{kIcmp6Redirect, 0, PuntReason::kRedirectTargetIsDestination};
    EXPECT_EQ(via.encode(), 0x89000000u);
    EXPECT_EQ(direct.encode(), 0x89000001u);
    EXPECT_EQ(PuntReason::decode(direct.encode()), direct);
    EXPECT_TRUE(via.is_redirect());
    EXPECT_FALSE(via.target_is_destination());
    EXPECT_TRUE(direct.target_is_destination());
    EXPECT_FALSE(via.is_error());
    EXPECT_FALSE(via.is_resolve());
    // The flag means nothing for other types.
    EXPECT_FALSE((PuntReason{kIcmp6PacketTooBig, 0, 1}).target_is_destination());
    EXPECT_FALSE((PuntReason{kIcmp6PacketTooBig, 0, 1}).is_redirect());
}

class Redirects : public PacketPath {
  protected:
    void SetUp() override {
        PacketPath::SetUp();
        local_ = &frozen_;
    }

    /* From `src` on the rx port's link to a destination behind another
     * router on that link. */
    static Pkt same_link(const char* src = kOnLinkSrc, const char* dst = kDstViaRxPort) {
        return good().src(src).dst(dst);
    }

    /* p alone in a burst on kRx is forwarded out of kRx, and a copy of it as
     * received is punted with a Redirect tag. */
    void expect_redirect(const Pkt& p, bool target_is_destination) {
        const std::vector<uint8_t> sent = p.bytes();
        const Outcome o = run1(p);
        ASSERT_EQ(o.r.n_tx, 1);
        EXPECT_EQ(o.r.tx_port[0], kRx);
        ASSERT_EQ(o.r.n_punt, 1);
        EXPECT_EQ(o.r.n_redirect, 1);
        EXPECT_EQ(o.r.n_icmp, 0);
        expect_counters(o.st, 1, 1, 0, {}, {}, {.punted = 1});
        const rte_mbuf* copy = o.r.punt[0];
        const rte_mbuf* fwd = o.r.tx[0];
        EXPECT_NE(copy, fwd);
        const PuntReason why = punt_reason(copy);
        EXPECT_EQ(why, (PuntReason{kIcmp6Redirect, 0,
                                   target_is_destination ? PuntReason::kRedirectTargetIsDestination
                                                         : uint16_t(0)}));
        EXPECT_TRUE(why.is_redirect());
        EXPECT_EQ(copy->port, kRx);
        // As received, hop limit and Ethernet header untouched, cut to
        // 14 + 1232 bytes, in one segment.
        const size_t want = std::min(sent.size(), test::kEthLen + kRedirectCopyLen);
        EXPECT_EQ(test::pkt_bytes(copy), std::vector<uint8_t>(sent.begin(), sent.begin() + want));
        EXPECT_EQ(copy->nb_segs, 1);
        // The original is forwarded as any other.
        EXPECT_EQ(test::hop_limit(fwd), test::hop_limit(copy) - 1);
        EXPECT_EQ(test::eth_dst(fwd), kNeighMac);
        EXPECT_EQ(test::eth_src(fwd), kRxMac);
        EXPECT_EQ(rte_pktmbuf_pkt_len(fwd), sent.size());
    }

    /* p alone in a burst on `rx` is forwarded, and nothing else happens but
     * the Redirect counters in `rc`. */
    void expect_no_redirect(const Pkt& p, uint16_t rx = kRx, RedirectCounts rc = {}) {
        const Outcome o = run1(p, rx);
        EXPECT_EQ(o.r.n_tx, 1);
        EXPECT_EQ(o.r.n_punt, 0);
        EXPECT_EQ(o.r.n_redirect, 0);
        expect_counters(o.st, 1, 1, 0, {}, {}, rc);
    }

    void set_bucket(uint16_t port, uint32_t rate, uint32_t burst) {
        t_.ports[port].icmp_rate = rate;
        t_.ports[port].icmp_burst = burst;
    }

    WorkerLocal frozen_{IcmpLimiter(kFrozenHz), IcmpLimiter(kFrozenHz)};
};

/* A source in the rx port's on-link prefix, or a resolved neighbour of it;
 * the target is the next hop, a router on the link. */
TEST_F(Redirects, OnLinkSourceBackOutTheSameLink) {
    expect_redirect(same_link(kOnLinkSrc), false);
    expect_redirect(same_link(kNeighbourSrc), false);
    // Whatever the upper layer, ICMPv6 errors and Redirects included: RFC
    // 4443 2.4 (e) is about errors, not Redirects.
    expect_redirect(same_link().echo_request(1, 2, 16), false);
    expect_redirect(same_link().icmp6(137, 0, std::vector<uint8_t>(36)), false);
}

/* RFC 4861 4.5: when the next hop is the destination itself, the tag says so. */
TEST_F(Redirects, TargetIsTheDestination) {
    expect_redirect(same_link(kOnLinkSrc, kNeighbourSrc), true);
}

/* RFC 4443 2.4 (c) size: the copy is cut, the original is not. */
TEST_F(Redirects, LongPacketsAreCopiedCut) {
    expect_redirect(same_link().udp(1, 2, 1400), false);
    expect_redirect(same_link().udp(1, 2, 1232 - 48), false);  // exactly 14 + 1232
}

/* Only for packets going back out of the port they came in on. */
TEST_F(Redirects, NotForAnotherOutPort) {
    expect_no_redirect(good().src(kOnLinkSrc));  // out of kOut
    expect_no_redirect(good().src(kNeighbourSrc));
}

/* Only for sources on the rx port's link, as the FIB says. */
TEST_F(Redirects, NotForSourcesOffTheLink) {
    expect_no_redirect(same_link(kRemoteSrc));          // no route back
    expect_no_redirect(same_link(kBehindGatewaySrc));   // behind a gateway on the same port
    expect_no_redirect(same_link(kOtherLinkSrc));       // on another port's link
    expect_no_redirect(same_link("2001:db8:dead::1"));  // blackhole route
}

/* The per-port setting, read at each burst: the rx port's decides. */
TEST_F(Redirects, PerPortSetting) {
    EXPECT_TRUE(t_.ports[kRx].redirects.load());  // on by default
    t_.ports[kRx].redirects = false;
    expect_no_redirect(same_link());
    t_.ports[kRx].redirects = true;
    t_.ports[kOut].redirects = false;
    expect_redirect(same_link(), false);
    // Port 1 to port 1, from a source on port 1's link.
    const Pkt p = good().eth_dst(kOutMac).src(kOtherLinkSrc);
    expect_no_redirect(p, kOut);
    t_.ports[kOut].redirects = true;
    const Outcome o = run1(p, kOut);
    ASSERT_EQ(o.r.n_redirect, 1);
    EXPECT_EQ(o.r.punt[0]->port, kOut);
    EXPECT_EQ(punt_reason(o.r.punt[0]), (PuntReason{kIcmp6Redirect, 0, 0}));
}

/* Without a worker state, no copy. */
TEST_F(Redirects, NoWorkerStateNoCopies) {
    local_ = nullptr;
    expect_no_redirect(same_link());
}

/* RFC 4861 8.2: the rate is limited, by a bucket apart from the errors'. */
TEST_F(Redirects, BucketLimitsCopies) {
    set_bucket(kRx, 1, 3);
    std::vector<rte_mbuf*> in;
    for (int i = 0; i < 5; i++)
        in.push_back(make(same_link()));
    Outcome o = run(in);
    EXPECT_EQ(o.r.n_tx, 5);
    EXPECT_EQ(o.r.n_punt, 3);
    EXPECT_EQ(o.r.n_redirect, 3);
    expect_counters(o.st, 5, 5, 0, {}, {}, {.punted = 3, .ratelimited = 2});
    // Empty now; the error bucket is untouched.
    o = run({make(same_link()), make(good().hop_limit(1))});
    EXPECT_EQ(o.r.n_redirect, 0);
    EXPECT_EQ(o.r.n_icmp, 1);
    expect_counters(o.st, 2, 1, 0, {{Drop::kHopLimit, 1}}, {.punted = 1}, {.ratelimited = 1});
    // Packets that earn no Redirect take no token.
    set_bucket(kRx, 0, 10);
    expect_no_redirect(same_link(kRemoteSrc));
    expect_no_redirect(same_link(), kRx, {.ratelimited = 1});
}

/* One bucket per rx port. */
TEST_F(Redirects, BucketPerRxPort) {
    set_bucket(kRx, 1, 1);
    set_bucket(kOut, 1, 1);
    expect_redirect(same_link(), false);
    expect_no_redirect(same_link(), kRx, {.ratelimited = 1});
    const Outcome o = run1(good().eth_dst(kOutMac).src(kOtherLinkSrc), kOut);
    EXPECT_EQ(o.r.n_redirect, 1);
}

/* The copies come last, after the local punts and the errors, each list in
 * arrival order; a packet too big or expiring earns its error, not a copy. */
TEST_F(Redirects, CopiesFollowErrors) {
    t_.ports[kRx].mtu = 1280;
    std::vector<rte_mbuf*> in = {
        make(same_link()),                           // tx 1, copy 1
        make(good().dst(kRxGlobal)),                 // local
        make(same_link().hop_limit(1)),              // error 1 (hop limit), no copy
        make(good()),                                // tx 2 (out of kOut)
        make(same_link(kNeighbourSrc)),              // tx 3, copy 2
        make(same_link().udp(1, 2, 1400)),           // error 2 (too big), no copy
        make(same_link(kOnLinkSrc, kNeighbourSrc)),  // tx 4, copy 3
    };
    const Outcome o = run(in);
    ASSERT_EQ(o.r.n_tx, 4);
    EXPECT_EQ(std::vector<rte_mbuf*>(o.r.tx, o.r.tx + o.r.n_tx),
              (std::vector<rte_mbuf*>{in[0], in[3], in[4], in[6]}));
    ASSERT_EQ(o.r.n_punt, 6);
    EXPECT_EQ(o.r.n_icmp, 2);
    EXPECT_EQ(o.r.n_redirect, 3);
    EXPECT_EQ(o.r.punt[0], in[1]);
    EXPECT_EQ(o.r.punt[1], in[2]);
    EXPECT_EQ(o.r.punt[2], in[5]);
    EXPECT_EQ(punt_reason(o.r.punt[0]), PuntReason{});
    EXPECT_EQ(punt_reason(o.r.punt[1]).icmp_type, kIcmp6TimeExceeded);
    EXPECT_EQ(punt_reason(o.r.punt[2]).icmp_type, kIcmp6PacketTooBig);
    for (int i = 3; i < 6; i++)
        EXPECT_TRUE(punt_reason(o.r.punt[i]).is_redirect());
    EXPECT_FALSE(punt_reason(o.r.punt[3]).target_is_destination());
    EXPECT_FALSE(punt_reason(o.r.punt[4]).target_is_destination());
    EXPECT_TRUE(punt_reason(o.r.punt[5]).target_is_destination());
    EXPECT_EQ(test::ip6_src(o.r.punt[4]), ip(kNeighbourSrc));
    expect_counters(o.st, 7, 4, 1, {{Drop::kHopLimit, 1}, {Drop::kTooBig, 1}}, {.punted = 2},
                    {.punted = 3});
}

/* A full burst of 64 same-link packets: the punt list holds every copy. */
TEST_F(Redirects, FullBurst) {
    set_bucket(kRx, 1, 1000);
    std::vector<rte_mbuf*> in;
    for (int i = 0; i < BurstResult::kMax; i++)
        in.push_back(make(same_link()));
    const Outcome o = run(in);
    EXPECT_EQ(o.r.n_tx, BurstResult::kMax);
    EXPECT_EQ(o.r.n_punt, BurstResult::kMax);
    EXPECT_EQ(o.r.n_redirect, BurstResult::kMax);
    expect_counters(o.st, 64, 64, 0, {}, {}, {.punted = 64});
}

/* An empty pool: forwarded, no copy, counted. */
TEST_F(Redirects, NoMbufForTheCopy) {
    rte_mempool* small = rte_pktmbuf_pool_create("fp6_redirect_small", 7, 0, 0,
                                                 RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(small, nullptr);
    rte_mbuf* m = same_link().mbuf(small);
    ASSERT_NE(m, nullptr);
    std::vector<rte_mbuf*> rest(rte_mempool_avail_count(small));
    ASSERT_EQ(rte_pktmbuf_alloc_bulk(small, rest.data(), unsigned(rest.size())), 0);
    Outcome o;
    classify_burst(t_, kRx, &m, 1, &o.r, &o.st, local_);
    EXPECT_EQ(o.r.n_tx, 1);
    EXPECT_EQ(o.r.n_punt, 0);
    expect_counters(o.st, 1, 1, 0, {}, {}, {.no_mbuf = 1});
    rte_pktmbuf_free_bulk(o.r.tx, o.r.n_tx);
    // The copy comes from the original's pool, whatever the others hold.
    m = same_link().mbuf(EalEnv::pool());
    classify_burst(t_, kRx, &m, 1, &o.r, &o.st, local_);
    ASSERT_EQ(o.r.n_redirect, 1);
    EXPECT_EQ(o.r.punt[0]->pool, EalEnv::pool());
    rte_pktmbuf_free(o.r.punt[0]);
    rte_pktmbuf_free_bulk(o.r.tx, o.r.n_tx);
    rte_pktmbuf_free_bulk(rest.data(), unsigned(rest.size()));
    EXPECT_EQ(rte_mempool_avail_count(small), 7u);
    rte_mempool_free(small);
}

/* Many mixed bursts: every copy and original is accounted for (the fixture
 * checks the pool). */
TEST_F(Redirects, NoMbufLeak) {
    set_bucket(kRx, 1, 100000);
    for (int burst = 0; burst < 30; burst++) {
        std::vector<rte_mbuf*> in;
        for (int i = 0; i < BurstResult::kMax; i++) {
            switch ((burst + i) % 5) {
                case 0:
                    in.push_back(make(same_link()));
                    break;
                case 1:
                    in.push_back(make(same_link().hop_limit(1)));
                    break;
                case 2:
                    in.push_back(make(good().dst(kRxGlobal)));
                    break;
                case 3:
                    in.push_back(make(same_link(kRemoteSrc)));
                    break;
                default:
                    in.push_back(make(same_link().udp(1, 2, 1400)));
                    break;
            }
        }
        const Outcome o = run(in);
        EXPECT_EQ(o.r.n_tx + o.r.n_punt - o.r.n_redirect, BurstResult::kMax);
        for (rte_mbuf* m : held_)
            rte_pktmbuf_free(m);
        held_.clear();
    }
}

/* A punt ring short of room loses the copies first, then the errors. */
TEST(PuntShortfall, RedirectsAreLostFirst) {
    BurstResult r;
    r.n_punt = 6;
    r.n_icmp = 2;
    r.n_redirect = 2;
    auto after = [&](unsigned enqueued) {
        WorkerStats st;
        st.punted = 2;
        st.icmp_punted = 2;
        st.redirect_punted = 2;
        punt_shortfall(r, enqueued, &st);
        return st;
    };
    WorkerStats st = after(6);
    EXPECT_EQ(st.redirect_punted, 2u);
    EXPECT_EQ(st.icmp_punted, 2u);
    st = after(5);
    EXPECT_EQ(st.redirect_punted, 1u);
    EXPECT_EQ(st.icmp_punted, 2u);
    EXPECT_EQ(st.punted, 2u);
    st = after(3);
    EXPECT_EQ(st.redirect_punted, 0u);
    EXPECT_EQ(st.icmp_punted, 1u);
    EXPECT_EQ(st.punted, 2u);
    EXPECT_EQ(st.drops[size_t(Drop::kPuntFull)], 0u);
    st = after(1);
    EXPECT_EQ(st.redirect_punted, 0u);
    EXPECT_EQ(st.icmp_punted, 0u);
    EXPECT_EQ(st.punted, 1u);
    EXPECT_EQ(st.drops[size_t(Drop::kPuntFull)], 1u);
}

}  // namespace
}  // namespace fp6
