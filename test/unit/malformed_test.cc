/* Malformed and hostile packets, each with the verdict and the counter it
 * must produce, and none may leak an mbuf (the pool is counted before and
 * after every case).
 *
 * Part 1: the worker's packet path (classify_burst) on real mbufs: frames
 * shorter than their headers, Payload Length against the frame, the
 * version, jumbograms, and what a router must forward without looking
 * (fragments, extension-header chains however odd, bad ICMPv6 checksums:
 * RFC 8200 4, only the destination processes them), byte for byte.
 *
 * Part 2: packets for the router itself: the worker punts them, then the
 * control thread (a Router with a net_null port, on a fake clock) takes
 * them as it takes the punt ring's: ND options of length 0, past the end
 * and repeated, bad ICMPv6 checksums, extension-header chains that repeat,
 * overrun the payload or put Hop-by-Hop second. Each case names the
 * `stats show` counter that must move by one. */
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/rcu.h"
#include "control/router.h"
#include "dataplane/packet.h"
#include "nd/ndp.h"
#include "rib/fib.h"
#include "rib/nexthop.h"
#include "test/unit/eal_env.h"
#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using Bytes = std::vector<uint8_t>;
using test::EalEnv;
using test::ip;
using test::mac;
using test::Pkt;

constexpr uint16_t kRx = 0;
constexpr uint16_t kOut = 1;
constexpr size_t kEth = test::kEthLen;
constexpr size_t kIp6 = test::kIp6Len;

const Mac kRxMac = mac("02:00:00:00:00:01");
const Mac kOutMac = mac("02:00:00:00:00:02");
const Mac kPeerMac = mac("02:00:00:00:ee:01");

const Ip6 kRouter = ip("2001:db8:d::1");  // the Router's address of part 2, on the rx port
const Ip6 kPeer = ip("2001:db8:d::2");
const char* const kTransit = "2001:db8:2000::5";  // routed out of kOut
const char* const kRemote = "2001:db8:9::1";

constexpr uint8_t kHopByHop = 0, kUdp = 17, kRouting = 43, kFragment = 44, kIcmp6 = 58,
                  kNoNext = 59, kDestOpts = 60;

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

/* A Hop-by-Hop or Destination Options header with a PadN filling 8 bytes. */
Bytes opts8(uint8_t next) {
    return {next, 0, 1, 4, 0, 0, 0, 0};
}
/* A Fragment header (RFC 8200 4.5): offset in 8-byte units, M flag. */
Bytes frag(uint8_t next, uint16_t offset, bool more) {
    const uint16_t v = uint16_t(offset << 3 | (more ? 1 : 0));
    return {next, 0, uint8_t(v >> 8), uint8_t(v), 0x12, 0x34, 0x56, 0x78};
}
/* n Destination Options headers, each naming the next one, then `last`. */
Bytes opts_chain(int n, uint8_t last) {
    Bytes out;
    for (int i = 0; i < n; i++) {
        const Bytes h = opts8(i + 1 < n ? kDestOpts : last);
        out.insert(out.end(), h.begin(), h.end());
    }
    return out;
}
Bytes udp(size_t data = 8) {
    Bytes u(8 + data, 0x5a);
    u[0] = 0x30, u[1] = 0x39, u[2] = 0, u[3] = 53, u[4] = 0, u[5] = uint8_t(8 + data), u[6] = 0,
    u[7] = 0;
    return u;
}

/* A frame to be forwarded from kRemote to kTransit, to be altered. */
Pkt transit() {
    return Pkt().eth(kRxMac, kPeerMac).src(kRemote).dst(kTransit).hop_limit(64);
}

/* Byte `at` of a frame flipped. */
Bytes corrupt(Bytes f, size_t at) {
    f[at] ^= 0xff;
    return f;
}

struct Case {
    std::string name;
    Bytes frame;
    enum { kTx, kPunt, kDrop } verdict;
    Drop why = Drop::kCount;
};

class Malformed : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        rcu_thread_offline();  // the FIB writer waits for grace periods
        nhs_ = new NextHopTable(16);
        fib_ = new Fib();
        auto route = [](const char* prefix, const NextHop& nh) {
            const uint32_t id = nhs_->alloc();
            ASSERT_NE(id, 0u);
            nhs_->publish(id, nh);
            ASSERT_TRUE(fib_->set(*Prefix6::parse(prefix), id).ok());
        };
        NextHop local;
        local.kind = NhKind::kLocal;
        route("2001:db8:d::1/128", local);
        NextHop neigh;
        neigh.kind = NhKind::kNeighbor;
        neigh.port = kOut;
        neigh.resolved = true;
        neigh.addr = ip("fe80::99");
        std::memcpy(neigh.l2.dst_addr.addr_bytes, mac("02:00:00:00:99:99").data(), 6);
        std::memcpy(neigh.l2.src_addr.addr_bytes, kOutMac.data(), 6);
        neigh.l2.ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
        route("2001:db8:2000::/48", neigh);
        fib_->commit(false);
        rcu_thread_online();
    }
    static void TearDownTestSuite() {
        rcu_thread_offline();
        delete fib_;
        delete nhs_;
        rcu_thread_online();
    }

    void SetUp() override {
        pool_ = EalEnv::pool();
        ASSERT_NE(pool_, nullptr);
        t_.fib = fib_;
        t_.nexthops = nhs_;
        for (uint16_t p : {kRx, kOut}) {
            t_.ports[p].mac = p == kRx ? kRxMac : kOutMac;
            t_.ports[p].exists = true;
            t_.set_admin_up(p, true);
            t_.ports[p].link_up = true;
        }
        rx_addrs_.unicast = {kRouter, ip("fe80::1")};
        rx_addrs_.groups = {kAllNodes, kRouter.solicited_node()};
        t_.ports[kRx].addrs = &rx_addrs_;
    }

    /* One frame through classify_burst: checks the verdict, that exactly
     * its counter moved, and that no mbuf was lost; returns the mbuf when
     * it was transmitted or punted (the caller owns it), else nullptr. */
    rte_mbuf* classify(const Case& c) {
        const unsigned before = rte_mempool_avail_count(pool_);
        rte_mbuf* m = Pkt::to_mbuf(pool_, c.frame);
        EXPECT_NE(m, nullptr);
        if (m == nullptr)
            return nullptr;
        BurstResult r;
        WorkerStats st;
        classify_burst(t_, kRx, &m, 1, &r, &st, nullptr);
        EXPECT_EQ(st.rx, 1u);
        for (size_t i = 0; i < size_t(Drop::kCount); i++)
            EXPECT_EQ(st.drops[i], c.verdict == Case::kDrop && Drop(i) == c.why ? 1u : 0u)
                << "drops." << drop_name(Drop(i));
        EXPECT_EQ(r.n_tx, c.verdict == Case::kTx ? 1 : 0);
        EXPECT_EQ(st.forwarded, c.verdict == Case::kTx ? 1u : 0u);
        EXPECT_EQ(r.n_punt, c.verdict == Case::kPunt ? 1 : 0);
        EXPECT_EQ(st.punted, c.verdict == Case::kPunt ? 1u : 0u);
        rte_mbuf* out = r.n_tx == 1 ? r.tx[0] : r.n_punt == 1 ? r.punt[0] : nullptr;
        if (out == nullptr) {
            EXPECT_EQ(rte_mempool_avail_count(pool_), before) << "a dropped frame leaked";
        }
        return out;
    }

    static inline Fib* fib_ = nullptr;
    static inline NextHopTable* nhs_ = nullptr;
    rte_mempool* pool_ = nullptr;
    Tables t_;
    PortAddrs rx_addrs_;
};

// ---------------------------------------------------------------------------
// Part 1: the worker.

/* Frames too short for their headers, or whose IPv6 header is wrong. */
TEST_F(Malformed, HeadersAndLengths) {
    const Pkt good = transit().udp(1000, 2000, 16);
    const Bytes hbh_no_jumbo = opts8(kUdp);
    const std::vector<Case> cases = {
        {"empty frame", {}, Case::kDrop, Drop::kTruncated},
        {"half an Ethernet header", Pkt(good).truncate(7).bytes(), Case::kDrop, Drop::kTruncated},
        {"Ethernet header only", Pkt(good).truncate(kEth).bytes(), Case::kDrop, Drop::kTruncated},
        {"IPv6 header cut at 39 bytes", Pkt(good).truncate(kEth + 39).bytes(), Case::kDrop,
         Drop::kTruncated},
        {"IPv6 header, no payload, payload length 24", Pkt(good).truncate(kEth + kIp6).bytes(),
         Case::kDrop, Drop::kBadLength},
        {"payload length one past the frame", Pkt(good).payload_len(25).bytes(), Case::kDrop,
         Drop::kBadLength},
        {"payload length 0xffff", Pkt(good).payload_len(0xffff).bytes(), Case::kDrop,
         Drop::kBadLength},
        {"version 4", Pkt(good).version(4).bytes(), Case::kDrop, Drop::kBadVersion},
        {"version 0", Pkt(good).version(0).bytes(), Case::kDrop, Drop::kBadVersion},
        {"version 15", Pkt(good).version(15).bytes(), Case::kDrop, Drop::kBadVersion},
        {"version 4 and truncated", Pkt(good).version(4).truncate(kEth + 20).bytes(), Case::kDrop,
         Drop::kTruncated},
        // RFC 2675: Payload Length 0 with a Hop-by-Hop header is a jumbogram;
        // fp6 takes none, with or without the Jumbo Payload option.
        {"jumbogram", transit().udp(1, 2, 8).jumbo().bytes(), Case::kDrop, Drop::kBadLength},
        {"payload length 0, Hop-by-Hop, no jumbo option",
         transit().raw(kHopByHop, cat({hbh_no_jumbo, udp()})).payload_len(0).bytes(), Case::kDrop,
         Drop::kBadLength},
        {"the good frame", good.bytes(), Case::kTx},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        if (rte_mbuf* m = classify(c))
            rte_pktmbuf_free(m);
    }
}

/* RFC 8200 3: what follows Payload Length bytes is link padding: trimmed,
 * and the datagram forwarded. */
TEST_F(Malformed, PayloadShorterThanTheFrameIsPadding) {
    struct {
        const char* name;
        Bytes frame;
        size_t datagram;
    } cases[] = {
        {"30 bytes of padding", transit().udp(1, 2, 8).padding(30, 0xee).bytes(), kIp6 + 16},
        {"payload length 8 of 24 UDP bytes", transit().udp(1, 2, 16).payload_len(8).bytes(),
         kIp6 + 8},
        {"payload length 0: everything after the header",
         transit().udp(1, 2, 8).payload_len(0).bytes(), kIp6},
    };
    for (auto& c : cases) {
        SCOPED_TRACE(c.name);
        rte_mbuf* m = classify({c.name, c.frame, Case::kTx});
        if (m == nullptr)
            continue;
        EXPECT_EQ(rte_pktmbuf_pkt_len(m), kEth + c.datagram);
        const Bytes got = test::pkt_bytes(m);
        ASSERT_EQ(got.size(), kEth + c.datagram);
        for (size_t i = kEth; i < got.size(); i++) {
            if (i != kEth + 7) {
                EXPECT_EQ(got[i], c.frame[i]) << "byte " << i;
            }
        }
        rte_pktmbuf_free(m);
    }
}

/* RFC 8200 4: extension headers are the destination's business (fp6 acts on
 * no Hop-by-Hop option); a router forwards them untouched, however broken,
 * and so it does fragments (RFC 8200 5: never reassembled in transit) and
 * ICMPv6 whose checksum is wrong. Only the hop limit and the Ethernet
 * header change. */
TEST_F(Malformed, TransitPacketsAreForwardedUntouched) {
    const size_t icmp_at = kEth + kIp6;
    const std::vector<Case> cases = {
        {"first fragment", transit().raw(kFragment, cat({frag(kUdp, 0, true), udp(16)})).bytes(),
         Case::kTx},
        {"middle fragment",
         transit().raw(kFragment, cat({frag(kUdp, 3, true), Bytes(24, 7)})).bytes(), Case::kTx},
        {"last fragment, odd length",
         transit().raw(kFragment, cat({frag(kUdp, 9, false), Bytes(13, 7)})).bytes(), Case::kTx},
        {"atomic fragment", transit().raw(kFragment, cat({frag(kUdp, 0, false), udp()})).bytes(),
         Case::kTx},
        {"fragment header cut short", transit().raw(kFragment, {kUdp, 0, 0}).bytes(), Case::kTx},
        {"Hop-by-Hop not first",
         transit().raw(kDestOpts, cat({opts8(kHopByHop), opts8(kUdp), udp()})).bytes(), Case::kTx},
        {"40 Destination Options headers in a row",
         transit().raw(kDestOpts, cat({opts_chain(40, kUdp), udp()})).bytes(), Case::kTx},
        {"a chain of 170 headers (1360 bytes)",
         transit().raw(kDestOpts, opts_chain(170, kNoNext)).bytes(), Case::kTx},
        {"header length past the payload",
         transit().raw(kDestOpts, {kUdp, 200, 1, 4, 0, 0, 0, 0}).bytes(), Case::kTx},
        {"routing header with segments left",
         transit().raw(kRouting, cat({{kUdp, 0, 0, 5, 0, 0, 0, 0}, udp()})).bytes(), Case::kTx},
        {"ICMPv6 echo, bad checksum", corrupt(transit().echo_request(1, 1, 8).bytes(), icmp_at + 2),
         Case::kTx},
        {"ICMPv6 error, bad checksum",
         corrupt(transit().icmp6(1, 0, Bytes(44, 0x60)).bytes(), icmp_at + 3), Case::kTx},
        {"NS in transit (option length 0)",
         transit()
             .hop_limit(255)
             .icmp6(135, 0, cat({Bytes(4, 0), Bytes(16, 0x20), {1, 0, 0, 0, 0, 0, 0, 0}}))
             .bytes(),
         Case::kTx},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        rte_mbuf* m = classify(c);
        if (m == nullptr)
            continue;
        const Bytes got = test::pkt_bytes(m);
        ASSERT_EQ(got.size(), c.frame.size());
        EXPECT_EQ(got[kEth + 7], c.frame[kEth + 7] - 1) << "hop limit";
        for (size_t i = kEth; i < got.size(); i++) {
            if (i != kEth + 7) {
                EXPECT_EQ(got[i], c.frame[i]) << "byte " << i;
            }
        }
        rte_pktmbuf_free(m);
    }
}

// ---------------------------------------------------------------------------
// Part 2: the router's own packets, through the worker and the control thread.

class MalformedLocal : public Malformed {
  protected:
    void SetUp() override {
        Malformed::SetUp();
        rcu_thread_offline();  // the test thread writes the Router's tables
        RouterConfig cfg;
        cfg.dataplane.worker_lcores = {1};  // never launched
        cfg.dataplane.mbufs = 1023;
        cfg.max_nexthops = 1024;
        cfg.clock = [this] { return now_; };
        router_ = std::make_unique<Router>(cfg);
        ASSERT_TRUE(router_->init().ok());
        ok("port.add", {{"ifname", "p0"}, {"devargs", "net_null" + std::to_string(instance_++)}});
        port_ = uint16_t(call("port.show", {})[0]["port_id"].get<int>());
        ok("port.set",
           {{"ifname", "p0"}, {"state", "up"}, {"dad_transmits", 1}, {"retrans_timer", 1000}});
        ok("addr.add", {{"local", kRouter.str() + "/64"}, {"dev", "p0"}});
        for (int i = 0; i < 250; i++) {  // 2.5 s: duplicate address detection is over
            now_ += 10;
            router_->on_timer();
        }
    }
    void TearDown() override {
        router_->shutdown();
        router_.reset();
        rcu_barrier();
        rcu_thread_online();
    }

    nlohmann::json call(const std::string& cmd, nlohmann::json args) {
        auto r = router_->execute(Request{cmd, std::move(args)});
        EXPECT_TRUE(r.ok()) << cmd << ": " << r.status();
        return r.ok() ? *r : nlohmann::json();
    }
    void ok(const std::string& cmd, nlohmann::json args) { call(cmd, std::move(args)); }

    /* The control counters of `stats show`, nd_drops flattened as
     * "nd_drops.NAME". */
    std::map<std::string, uint64_t> counters() {
        std::map<std::string, uint64_t> out;
        const nlohmann::json c = call("stats.show", {})["control"];
        for (const auto& [k, v] : c.items()) {
            if (v.is_number_unsigned())
                out[k] = v.get<uint64_t>();
            else if (k == "nd_drops")
                for (const auto& [name, n] : v.items())
                    out["nd_drops." + name] = n.get<uint64_t>();
        }
        return out;
    }

    std::unique_ptr<Router> router_;
    uint64_t now_ = 1000;
    uint16_t port_ = 0;
    static inline int instance_ = 0;
};

/* An NS to the router: reserved, target, options. */
Pkt ns_to_router(const Bytes& options) {
    return Pkt()
        .eth(kRxMac, kPeerMac)
        .src(kPeer)
        .dst(kRouter)
        .hop_limit(255)
        .icmp6(135, 0, cat({Bytes(4, 0), Bytes(kRouter.data(), kRouter.data() + 16), options}));
}

TEST_F(MalformedLocal, EachCaseMovesItsCounter) {
    const Bytes slla_a = {1, 1, 0x02, 0, 0, 0, 0xaa, 0x01};
    const Pkt to_router = Pkt().eth(kRxMac, kPeerMac).src(kPeer).dst(kRouter).hop_limit(64);
    const size_t icmp_at = kEth + kIp6;
    struct Row {
        std::string name;
        Bytes frame;
        std::string counter;  // the one that moves by 1
    };
    const std::vector<Row> rows = {
        {"well-formed echo request (control case)", Pkt(to_router).echo_request(9, 1, 8).bytes(),
         "echo_replies"},
        {"well-formed NS (control case)", ns_to_router(slla_a).bytes(), "na_sent"},
        // RFC 4861 7.1.1: every option has a length > 0; the classic infinite loop.
        {"ND option of length 0", ns_to_router({1, 0, 2, 0, 0, 0, 0, 1}).bytes(),
         "nd_drops.option_len_zero"},
        {"ND option of length 0 after a good one",
         ns_to_router(cat({slla_a, {14, 0, 0, 0}})).bytes(), "nd_drops.option_len_zero"},
        {"ND option past the end", ns_to_router({1, 2, 2, 0, 0, 0, 0, 1}).bytes(),
         "nd_drops.option_truncated"},
        {"ND option header cut", ns_to_router(cat({slla_a, {1}})).bytes(),
         "nd_drops.option_truncated"},
        {"NS with a bad checksum", corrupt(ns_to_router(slla_a).bytes(), icmp_at + 2),
         "nd_drops.bad_checksum"},
        {"echo request with a bad checksum",
         corrupt(Pkt(to_router).echo_request(9, 2, 8).bytes(), icmp_at + 3), "punt_unhandled"},
        // RFC 8200 4: the router is the destination; at most 8 headers are walked.
        {"nine Destination Options headers",
         Pkt(to_router).raw(kDestOpts, cat({opts_chain(9, kUdp), udp()})).bytes(),
         "local_discarded"},
        {"a chain of 170 headers", Pkt(to_router).raw(kDestOpts, opts_chain(170, kNoNext)).bytes(),
         "local_discarded"},
        {"header length past the payload",
         Pkt(to_router).raw(kDestOpts, {kUdp, 200, 1, 4, 0, 0, 0, 0}).bytes(), "local_discarded"},
        {"option past its header",
         Pkt(to_router).raw(kDestOpts, cat({{kUdp, 0, 1, 9, 0, 0, 0, 0}, udp()})).bytes(),
         "local_discarded"},
        // RFC 8200 4.1: Hop-by-Hop elsewhere than first: Parameter Problem code 1.
        {"Hop-by-Hop not first",
         Pkt(to_router).raw(kDestOpts, cat({opts8(kHopByHop), opts8(kUdp), udp()})).bytes(),
         "icmp_errors_sent"},
    };
    const unsigned before = rte_mempool_avail_count(pool_);
    for (const Row& row : rows) {
        SCOPED_TRACE(row.name);
        rte_mbuf* m = classify({row.name, row.frame, Case::kPunt});
        if (m == nullptr)
            continue;
        EXPECT_EQ(punt_reason(m), PuntReason{});
        const std::map<std::string, uint64_t> was = counters();
        ASSERT_TRUE(was.count(row.counter)) << "no counter " << row.counter;
        m->port = port_;
        router_->inject_local(m);
        const std::map<std::string, uint64_t> now = counters();
        EXPECT_EQ(now.at(row.counter), was.at(row.counter) + 1) << row.counter;
        // No other way of refusing a packet counted it.
        for (const auto& [k, v] : now) {
            const bool refusal =
                k.rfind("nd_drops.", 0) == 0 || k == "local_discarded" || k == "punt_unhandled";
            if (refusal && k != row.counter) {
                EXPECT_EQ(v, was.at(k)) << k << " moved";
            }
        }
    }
    // Whatever the router sent went out of the net_null port and was freed.
    EXPECT_EQ(rte_mempool_avail_count(pool_), before) << "an mbuf leaked";
}

/* RFC 4861 4.6 (as fp6 reads it): of two Source Link-Layer Address options
 * the first wins. */
TEST_F(MalformedLocal, DuplicateNdOptionsFirstWins) {
    const Bytes slla_a = {1, 1, 0x02, 0, 0, 0, 0xaa, 0x01};
    const Bytes slla_b = {1, 1, 0x02, 0, 0, 0, 0xbb, 0x02};
    const unsigned before = rte_mempool_avail_count(pool_);
    rte_mbuf* m =
        classify({"two SLLA options", ns_to_router(cat({slla_a, slla_b})).bytes(), Case::kPunt});
    ASSERT_NE(m, nullptr);
    m->port = port_;
    router_->inject_local(m);
    bool found = false;
    for (const auto& n : call("neigh.show", {}))
        if (n["dst"] == kPeer.str()) {
            found = true;
            EXPECT_EQ(n.value("lladdr", ""), "02:00:00:00:aa:01");
        }
    EXPECT_TRUE(found) << "the NS created no neighbour entry";
    EXPECT_EQ(rte_mempool_avail_count(pool_), before) << "an mbuf leaked";
}

}  // namespace
}  // namespace fp6
