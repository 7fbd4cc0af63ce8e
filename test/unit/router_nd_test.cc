/* Bring-up of a port as the control thread runs it, on a fake clock, with
 * crafted ND packets injected where the workers would punt them: duplicate
 * address detection (RFC 4862 5.4), its interaction with invalid ND (RFC
 * 4861 7.1), and the defence of usable addresses. The port is a net_null
 * device: what fp6 sends is counted, then dropped. */
#include "control/router.h"

#include <gtest/gtest.h>

#include "nd/ndp.h"
#include "test/unit/eal_env.h"
#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using test::ip;
using test::Pkt;

const Ip6 kOurs = ip("2001:db8:d::1");
const Ip6 kPeer = ip("2001:db8:d::2");
const Mac kPeerMac({0x02, 0, 0, 0, 0, 0x22});

class RouterNdTest : public ::testing::Test {
  protected:
    void SetUp() override {
        rcu_thread_offline();  // the test thread writes the tables
        RouterConfig cfg;
        cfg.dataplane.worker_lcores = {1};  // never launched: nothing polls
        cfg.dataplane.mbufs = 1023;
        cfg.max_nexthops = 1024;
        cfg.clock = [this] { return now_; };
        router_ = std::make_unique<Router>(cfg);
        ASSERT_TRUE(router_->init().ok());
        ok("port.add", {{"ifname", "p0"}, {"devargs", "net_null" + std::to_string(instance_++)}});
        port_ = uint16_t(call("port.show", {})[0]["port_id"].get<int>());
        ok("port.set",
           {{"ifname", "p0"}, {"state", "up"}, {"dad_transmits", 2}, {"retrans_timer", 1000}});
        ok("addr.add", {{"local", "2001:db8:d::1/64"}, {"dev", "p0"}});
    }
    void TearDown() override {
        router_->shutdown();
        router_.reset();
        rcu_barrier();
        rcu_thread_online();
    }

    nlohmann::json call(const std::string& cmd, nlohmann::json args) {
        auto r = router_->execute(Request{cmd, args});
        EXPECT_TRUE(r.ok()) << cmd << ": " << r.status();
        return r.ok() ? *r : nlohmann::json();
    }
    void ok(const std::string& cmd, nlohmann::json args) { call(cmd, std::move(args)); }

    /* Runs the fake clock forward, firing timers as the event loop would. */
    void advance(uint64_t ms) {
        for (uint64_t end = now_ + ms; now_ < end;) {
            now_ += 10;
            router_->on_timer();
        }
    }
    nlohmann::json addr(const Ip6& a) {
        for (const auto& port : call("addr.show", {}))
            for (const auto& info : port["addr_info"])
                if (info["local"] == a.str())
                    return info;
        return {};
    }
    uint64_t control(const std::string& key) { return call("stats.show", {})["control"][key]; }
    uint64_t nd_drop(NdDrop d) {
        return call("stats.show", {})["control"]["nd_drops"][nd_drop_name(d)];
    }

    void inject(const std::vector<uint8_t>& frame) {
        rte_mbuf* m = Pkt::to_mbuf(test::EalEnv::pool(), frame);
        ASSERT_NE(m, nullptr);
        m->port = port_;
        router_->inject_local(m);
    }
    /* An NS body: reserved, target, then options. */
    static std::vector<uint8_t> ns_body(const Ip6& target, std::vector<uint8_t> options = {}) {
        std::vector<uint8_t> b(4, 0);
        b.insert(b.end(), target.data(), target.data() + 16);
        b.insert(b.end(), options.begin(), options.end());
        return b;
    }
    static std::vector<uint8_t> nonce_opt(uint64_t n) {
        return {14,
                1,
                uint8_t(n >> 40),
                uint8_t(n >> 32),
                uint8_t(n >> 24),
                uint8_t(n >> 16),
                uint8_t(n >> 8),
                uint8_t(n)};
    }
    static std::vector<uint8_t> slla_opt(const Mac& m) {
        return {1, 1, m.data()[0], m.data()[1], m.data()[2], m.data()[3], m.data()[4], m.data()[5]};
    }
    static Pkt dad_ns(const Ip6& target, std::vector<uint8_t> options) {
        return Pkt()
            .src(Ip6())
            .dst(target.solicited_node())
            .hop_limit(255)
            .icmp6(135, 0, ns_body(target, options));
    }
    static Pkt na(const Ip6& target, uint8_t flags) {
        std::vector<uint8_t> b{flags, 0, 0, 0};
        b.insert(b.end(), target.data(), target.data() + 16);
        return Pkt().src(kPeer).dst(kAllNodes).hop_limit(255).icmp6(136, 0, b);
    }

    std::unique_ptr<Router> router_;
    uint64_t now_ = 1000;
    uint16_t port_ = 0;
    static inline int instance_ = 0;
};

TEST_F(RouterNdTest, AddressIsTentativeThenUsable) {
    EXPECT_TRUE(addr(kOurs)["tentative"]);
    advance(1000 + 2 * 1000 + 50);
    EXPECT_FALSE(addr(kOurs)["tentative"]);
    EXPECT_FALSE(addr(kOurs)["dadfailed"]);
    // Two probes for the global address and two for the EUI-64 link-local.
    EXPECT_EQ(control("ns_sent"), 4u);
}

TEST_F(RouterNdTest, LinkLocalIsDerivedFromTheMac) {
    auto ports = call("port.show", {});
    Ip6 ll = linklocal_from_mac(*Mac::parse(ports[0]["address"].get<std::string>()));
    EXPECT_FALSE(addr(ll).is_null()) << ll.str();
}

TEST_F(RouterNdTest, NsFromUnspecifiedWithForeignNonceIsDuplicate) {
    advance(10);
    inject(dad_ns(kOurs, nonce_opt(0x123456)).bytes());
    EXPECT_TRUE(addr(kOurs)["dadfailed"]);
    advance(5000);
    EXPECT_TRUE(addr(kOurs)["dadfailed"]) << "a duplicate never becomes usable";
    EXPECT_TRUE(addr(kOurs)["tentative"]);
}

TEST_F(RouterNdTest, NaForTentativeAddressIsDuplicate) {
    inject(na(kOurs, 0x20).bytes());  // O set, no S: unsolicited
    EXPECT_TRUE(addr(kOurs)["dadfailed"]);
}

/* The address fp6 found duplicate is the other node's: a packet to it is
 * resolved through that node's answers like any neighbour's (it was
 * unreachable while fp6 discarded NAs naming one of its own addresses). */
TEST_F(RouterNdTest, DuplicateAddressIsResolvedAsTheOwnersNeighbour) {
    inject(na(kOurs, 0x20).bytes());
    ASSERT_TRUE(addr(kOurs)["dadfailed"]);
    advance(5000);  // the link-local address passes DAD meanwhile
    // A transit packet to it, punted for resolution as a worker would.
    rte_mbuf* m = Pkt::to_mbuf(
        test::EalEnv::pool(), Pkt().src("2001:db8:f::9").dst(kOurs).hop_limit(9).udp(1, 2).bytes());
    ASSERT_NE(m, nullptr);
    m->port = port_;
    m->hash.usr = PuntReason{PuntReason::kResolve, 0, 0}.encode();
    router_->inject_local(m);
    // The owner answers the solicitation: solicited, override, its MAC.
    std::vector<uint8_t> b{0x60, 0, 0, 0};
    b.insert(b.end(), kOurs.data(), kOurs.data() + 16);
    b.insert(b.end(), {2, 1, 0x02, 0, 0, 0, 0, 0x22});
    inject(Pkt().src(kOurs).dst(kOurs).hop_limit(255).icmp6(136, 0, b).bytes());
    std::string lladdr;
    for (const auto& n : call("neigh.show", {}))
        if (n["dst"] == kOurs.str())
            lladdr = n.value("lladdr", "");
    EXPECT_EQ(lladdr, kPeerMac.str());
}

TEST_F(RouterNdTest, NsFromUnicastSourceDoesNotConflict) {
    inject(Pkt()
               .src(kPeer)
               .dst(kOurs.solicited_node())
               .hop_limit(255)
               .icmp6(135, 0, ns_body(kOurs, slla_opt(kPeerMac)))
               .bytes());
    advance(3100);
    EXPECT_FALSE(addr(kOurs)["tentative"]);
    EXPECT_EQ(control("na_sent"), 0u) << "no answer for a tentative address";
}

TEST_F(RouterNdTest, InvalidNdNeverConflicts) {
    struct Row {
        const char* name;
        std::vector<uint8_t> frame;
        NdDrop reason;
    };
    auto corrupt = [](std::vector<uint8_t> f, size_t at) {
        f[at] ^= 0xff;
        return f;
    };
    const size_t icmp = test::kEthLen + test::kIp6Len;
    std::vector<Row> rows = {
        {"hop limit 254", dad_ns(kOurs, {}).hop_limit(254).bytes(), NdDrop::kBadHopLimit},
        {"code 1",
         Pkt()
             .src(Ip6())
             .dst(kOurs.solicited_node())
             .hop_limit(255)
             .icmp6(135, 1, ns_body(kOurs))
             .bytes(),
         NdDrop::kBadCode},
        {"bad checksum", corrupt(dad_ns(kOurs, {}).bytes(), icmp + 2), NdDrop::kBadChecksum},
        {"option length 0", dad_ns(kOurs, {14, 0, 0, 0, 0, 0, 0, 0}).bytes(),
         NdDrop::kOptionLenZero},
        {"option past the end", dad_ns(kOurs, {14, 2, 0, 0, 0, 0, 0, 0}).bytes(),
         NdDrop::kOptionTruncated},
        {"from :: to a unicast destination",
         Pkt().src(Ip6()).dst(kOurs).hop_limit(255).icmp6(135, 0, ns_body(kOurs)).bytes(),
         NdDrop::kUnspecSrcNotSolicitedNode},
        {"from :: with a source link-layer option", dad_ns(kOurs, slla_opt(kPeerMac)).bytes(),
         NdDrop::kUnspecSrcWithSlla},
        {"NA with S to multicast", na(kOurs, 0x60).bytes(), NdDrop::kSolicitedToMulticast},
        {"too short",
         Pkt()
             .src(Ip6())
             .dst(kOurs.solicited_node())
             .hop_limit(255)
             .icmp6(135, 0, std::vector<uint8_t>(4, 0))
             .bytes(),
         NdDrop::kTooShort},
    };
    for (const Row& r : rows) {
        SCOPED_TRACE(r.name);
        uint64_t before = nd_drop(r.reason);
        inject(r.frame);
        EXPECT_EQ(nd_drop(r.reason), before + 1);
        EXPECT_FALSE(addr(kOurs)["dadfailed"]);
    }
    advance(3100);
    EXPECT_FALSE(addr(kOurs)["tentative"]) << "DAD succeeded despite all of them";
}

TEST_F(RouterNdTest, FragmentedNdIsDropped) {
    // RFC 6980 5: an NS behind a Fragment header is not ND.
    std::vector<uint8_t> frag{58, 0, 0, 0, 0, 0, 0, 1};
    std::vector<uint8_t> body = ns_body(kOurs);
    std::vector<uint8_t> payload = frag;
    payload.insert(payload.end(), {135, 0, 0, 0});
    payload.insert(payload.end(), body.begin(), body.end());
    inject(Pkt().src(Ip6()).dst(kOurs.solicited_node()).hop_limit(255).raw(44, payload).bytes());
    EXPECT_EQ(nd_drop(NdDrop::kFragmented), 1u);
    EXPECT_FALSE(addr(kOurs)["dadfailed"]);
}

TEST_F(RouterNdTest, UsableAddressIsDefended) {
    advance(3100);
    ASSERT_FALSE(addr(kOurs)["tentative"]);
    // Address resolution from a neighbour: a solicited NA back.
    inject(Pkt()
               .src(kPeer)
               .dst(kOurs.solicited_node())
               .hop_limit(255)
               .icmp6(135, 0, ns_body(kOurs, slla_opt(kPeerMac)))
               .bytes());
    EXPECT_EQ(control("na_sent"), 1u);
    // Someone else's DAD for our address: an NA to all-nodes.
    inject(dad_ns(kOurs, nonce_opt(7)).bytes());
    EXPECT_EQ(control("na_sent"), 2u);
    EXPECT_FALSE(addr(kOurs)["dadfailed"]) << "a usable address stays usable";
    // An NS for an address that is not ours gets nothing.
    inject(Pkt()
               .src(kPeer)
               .dst(ip("2001:db8:d::9").solicited_node())
               .hop_limit(255)
               .icmp6(135, 0, ns_body(ip("2001:db8:d::9"), slla_opt(kPeerMac)))
               .bytes());
    EXPECT_EQ(control("na_sent"), 2u);
}

TEST_F(RouterNdTest, EchoRequestToUsableAddressIsAnswered) {
    inject(Pkt().src(kPeer).dst(kOurs).echo_request(1, 1, 56).bytes());
    EXPECT_EQ(control("echo_replies"), 0u) << "not while tentative";
    advance(3100);
    inject(Pkt().src(kPeer).dst(kOurs).echo_request(1, 2, 56).bytes());
    EXPECT_EQ(control("echo_replies"), 1u);
}

TEST_F(RouterNdTest, PortDownKeepsAddressesAndUpRunsDadAgain) {
    advance(3100);
    ASSERT_FALSE(addr(kOurs)["tentative"]);
    ok("port.set", {{"ifname", "p0"}, {"state", "down"}});
    EXPECT_TRUE(addr(kOurs)["tentative"]);
    for (const auto& r : call("route.show", {}))
        EXPECT_NE(r["dst"], "2001:db8:d::/64") << "connected route withdrawn";
    ok("port.set", {{"ifname", "p0"}, {"state", "up"}});
    EXPECT_TRUE(addr(kOurs)["tentative"]);
    bool connected = false;
    for (const auto& r : call("route.show", {}))
        connected |= r["dst"] == "2001:db8:d::/64";
    EXPECT_TRUE(connected) << "the connected route is back at once";
    advance(3100);
    EXPECT_FALSE(addr(kOurs)["tentative"]);
}

TEST_F(RouterNdTest, ZeroTransmitsDisablesDad) {
    ok("port.set", {{"ifname", "p0"}, {"dad_transmits", 0}});
    ok("addr.add", {{"local", "2001:db8:e::1/64"}, {"dev", "p0"}});
    EXPECT_FALSE(addr(ip("2001:db8:e::1"))["tentative"]);
}

}  // namespace
}  // namespace fp6
