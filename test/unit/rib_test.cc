/* The RIB, the address table and the static neighbour cache: what they
 * accept, what they refuse (and that a refusal changes nothing), and the FIB
 * and next hops they derive. */
#include "rib/rib.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "rib/addr.h"
#include "test/unit/eal_env.h"

namespace fp6 {
namespace {

Prefix6 P(const char* s) {
    return *Prefix6::parse(s);
}
Ip6 A(const char* s) {
    return *Ip6::parse(s);
}
const Mac kMacA({0x02, 0, 0, 0, 0, 0xa});
const Mac kMacB({0x02, 0, 0, 0, 0, 0xb});

class RibTest : public ::testing::Test {
  protected:
    RibTest() : offline_(), nhs_(64), fib_(), rib_(nhs_, fib_), addrs_(rib_) {
        rib_.set_port(0, {"p0", Mac({0x02, 0, 0, 0, 0, 0x10}), true});
        rib_.set_port(1, {"p1", Mac({0x02, 0, 0, 0, 0, 0x11}), true});
        EXPECT_TRUE(addrs_.add(0, A("2001:db8:a::1"), 64, true).ok());
        EXPECT_TRUE(addrs_.add(1, A("2001:db8:b::1"), 64, true).ok());
        // As if duplicate address detection had passed.
        EXPECT_TRUE(addrs_.set_state(0, A("2001:db8:a::1"), AddrState::kPreferred));
        EXPECT_TRUE(addrs_.set_state(1, A("2001:db8:b::1"), AddrState::kPreferred));
        EXPECT_TRUE(rib_.commit().ok());
    }

    // The test thread is the writer here (offline_ comes first): publish()
    // waits for grace periods, which an online reader would hold up.
    std::string snapshot() const {
        std::string s;
        for (const Route* r : rib_.routes())
            s += r->dst.str() + " m" + std::to_string(r->metric) + " nh" +
                 std::to_string(r->nh_id) + "\n";
        return s + "fib " + std::to_string(fib_.size()) + " nhs " + std::to_string(nhs_.in_use());
    }
    const NextHop* fib_nh(const char* dst) { return nhs_.get(fib_.lookup(A(dst))); }

    struct Offline {
        Offline() { rcu_thread_offline(); }
        ~Offline() { rcu_thread_online(); }
    } offline_;
    NextHopTable nhs_;
    Fib fib_;
    Rib rib_;
    AddrTable addrs_;
    /* What the neighbour cache tells the RIB (Rib::set_neighbor). */
    struct Neighbours {
        Rib& rib;
        absl::Status add_static(uint16_t port, const Ip6& a, const Mac& m) {
            rib.set_neighbor(port, a, m);
            return absl::OkStatus();
        }
        absl::Status del(uint16_t port, const Ip6& a) {
            rib.set_neighbor(port, a, std::nullopt);
            return absl::OkStatus();
        }
    } neigh_{rib_};
};

TEST_F(RibTest, AddressBringsConnectedAndLocalRoutes) {
    EXPECT_EQ(fib_nh("2001:db8:a::1")->kind, NhKind::kLocal);
    EXPECT_EQ(fib_nh("2001:db8:a::99")->kind, NhKind::kConnected);
    EXPECT_EQ(fib_nh("2001:db8:a::99")->port, 0);
    EXPECT_EQ(fib_nh("2001:db8:c::1")->kind, NhKind::kNoRoute);
    ASSERT_TRUE(addrs_.del(0, A("2001:db8:a::1"), 64, true).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:a::1")->kind, NhKind::kNoRoute);
}

TEST_F(RibTest, TentativeAddressHasConnectedRouteButNoLocalEntry) {
    ASSERT_TRUE(addrs_.add(0, A("2001:db8:a::7"), 64, true).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:a::7")->kind, NhKind::kConnected);
    uint64_t gen = addrs_.generation();
    ASSERT_TRUE(addrs_.set_state(0, A("2001:db8:a::7"), AddrState::kPreferred));
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:a::7")->kind, NhKind::kLocal);
    EXPECT_GT(addrs_.generation(), gen) << "the usable set changed";
    ASSERT_TRUE(addrs_.set_state(0, A("2001:db8:a::7"), AddrState::kDuplicate));
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:a::7")->kind, NhKind::kConnected);
    EXPECT_EQ(addrs_.groups(0).size(), 3u)
        << "all-nodes, all-routers, a::1's group, not the duplicate's";
}

TEST_F(RibTest, PortDownWithdrawsAndUpRestoresRoutes) {
    addrs_.port_down(0);
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:a::99")->kind, NhKind::kNoRoute);
    EXPECT_EQ(addrs_.find(0, A("2001:db8:a::1"))->state, AddrState::kTentative)
        << "the address stays, to be checked again";
    addrs_.port_up(0);
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:a::99")->kind, NhKind::kConnected);
    EXPECT_EQ(fib_nh("2001:db8:a::1")->kind, NhKind::kConnected) << "local only after DAD";
}

TEST_F(RibTest, GatewayRouteFollowsItsNeighbour) {
    ASSERT_TRUE(
        rib_.add_static({P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:a::2")}).ok());
    ASSERT_TRUE(rib_.commit().ok());
    const NextHop* nh = fib_nh("2001:db8:100::1");
    ASSERT_EQ(nh->kind, NhKind::kNeighbor);
    EXPECT_FALSE(nh->resolved);
    EXPECT_EQ(nh->port, 0);

    ASSERT_TRUE(neigh_.add_static(0, A("2001:db8:a::2"), kMacA).ok());
    ASSERT_TRUE(rib_.commit().ok());
    nh = fib_nh("2001:db8:100::1");
    ASSERT_TRUE(nh->resolved);
    EXPECT_EQ(Mac::from_bytes(nh->l2.dst_addr.addr_bytes), kMacA);
    EXPECT_EQ(Mac::from_bytes(nh->l2.src_addr.addr_bytes).str(), "02:00:00:00:00:10");
    // The neighbour itself is reachable through the same next hop.
    EXPECT_EQ(fib_nh("2001:db8:a::2"), nh);

    // A MAC change is one republication seen by every route through it.
    ASSERT_TRUE(neigh_.add_static(0, A("2001:db8:a::2"), kMacB).ok());
    EXPECT_EQ(Mac::from_bytes(fib_nh("2001:db8:100::1")->l2.dst_addr.addr_bytes), kMacB);

    ASSERT_TRUE(neigh_.del(0, A("2001:db8:a::2")).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_FALSE(fib_nh("2001:db8:100::1")->resolved);
    EXPECT_EQ(fib_nh("2001:db8:a::2")->kind, NhKind::kConnected);
}

TEST_F(RibTest, RoutesThroughOneGatewayShareOneNextHop) {
    for (int i = 0; i < 50; i++) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8, 0x10, uint8_t(i)};
        ASSERT_TRUE(
            rib_.add_static({Prefix6(Ip6(b), 48), RouteType::kUnicast, A("2001:db8:a::2")}).ok());
    }
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:1000::1"), fib_nh("2001:db8:1031::1"));
}

struct Refusal {
    const char* name;
    RouteSpec spec;
    absl::StatusCode code;
    const char* message_part;
};

TEST_F(RibTest, AddRefusesWithReasonAndChangesNothing) {
    ASSERT_TRUE(
        rib_.add_static({P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:a::2")}).ok());
    ASSERT_TRUE(rib_.commit().ok());
    const std::vector<Refusal> cases = {
        {"host bits",
         {P("2001:db8:100::1/48"), RouteType::kUnicast, A("2001:db8:a::2")},
         absl::StatusCode::kInvalidArgument,
         "did you mean 2001:db8:100::/48"},
        {"unspecified gateway",
         {P("2001:db8:200::/48"), RouteType::kUnicast, A("::")},
         absl::StatusCode::kInvalidArgument,
         "unspecified"},
        {"link-local without dev",
         {P("2001:db8:200::/48"), RouteType::kUnicast, A("fe80::1")},
         absl::StatusCode::kInvalidArgument,
         "needs dev"},
        {"not on-link",
         {P("2001:db8:200::/48"), RouteType::kUnicast, A("2001:db8:c::1")},
         absl::StatusCode::kFailedPrecondition,
         "not on-link"},
        {"dev disagrees",
         {P("2001:db8:200::/48"), RouteType::kUnicast, A("2001:db8:a::2"), uint16_t(1)},
         absl::StatusCode::kInvalidArgument,
         "on-link through p0, not through p1"},
        {"own address",
         {P("2001:db8:200::/48"), RouteType::kUnicast, A("2001:db8:a::1")},
         absl::StatusCode::kInvalidArgument,
         "our own addresses"},
        {"exists",
         {P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:a::3")},
         absl::StatusCode::kAlreadyExists,
         "route exists"},
        {"blackhole with gateway",
         {P("2001:db8:300::/48"), RouteType::kBlackhole, A("2001:db8:a::2")},
         absl::StatusCode::kInvalidArgument,
         "takes no gateway"},
        {"nothing to reach",
         {P("2001:db8:300::/48"), RouteType::kUnicast},
         absl::StatusCode::kInvalidArgument,
         "needs via"},
    };
    const std::string before = snapshot();
    for (const Refusal& c : cases) {
        SCOPED_TRACE(c.name);
        absl::Status st = rib_.add_static(c.spec);
        EXPECT_EQ(st.code(), c.code) << st;
        EXPECT_NE(std::string(st.message()).find(c.message_part), std::string::npos) << st;
        EXPECT_TRUE(rib_.commit().ok());
        EXPECT_EQ(snapshot(), before);
    }
}

TEST_F(RibTest, DeleteNeedsExactlyOneStaticMatch) {
    ASSERT_TRUE(rib_.add_static({P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:a::2"),
                                 std::nullopt, 10})
                    .ok());
    ASSERT_TRUE(rib_.add_static({P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:b::2"),
                                 std::nullopt, 20})
                    .ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->port, 0) << "the lower metric forwards";
    EXPECT_EQ(rib_.del_static({P("2001:db8:200::/48")}).code(), absl::StatusCode::kNotFound);
    absl::Status several = rib_.del_static({P("2001:db8:100::/48")});
    EXPECT_EQ(several.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(several.message()).find("several routes match"), std::string::npos);
    EXPECT_EQ(rib_.del_static({P("2001:db8:a::/64")}).code(), absl::StatusCode::kFailedPrecondition)
        << "connected routes belong to their address";
    ASSERT_TRUE(
        rib_.del_static({P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:a::2")}).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->port, 1) << "the remaining route takes over";
}

/* Regression: deleting the last route of a prefix by its gateway freed the
 * route list, then read the prefix length through a reference into it (a
 * heap use-after-free that ASan reports, found by the benchmark's churn; in
 * a plain build a garbage length could decrement the wrong per-length count
 * and hide routes of that length from lookup()). tools/sanitize.sh runs this
 * test under ASan in CI. */
TEST_F(RibTest, DeletingTheLastRouteOfAPrefixByGatewayKeepsTheIndex) {
    ASSERT_TRUE(
        rib_.add_static({P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:a::2")}).ok());
    for (int round = 0; round < 3; round++) {
        ASSERT_TRUE(
            rib_.add_static({P("2001:db8:100:1::/64"), RouteType::kUnicast, A("2001:db8:b::2")})
                .ok());
        ASSERT_TRUE(rib_.commit().ok());
        const Route* r = rib_.lookup(A("2001:db8:100:1::1"));
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->dst, P("2001:db8:100:1::/64")) << "round " << round;
        ASSERT_TRUE(
            rib_.del_static({P("2001:db8:100:1::/64"), RouteType::kUnicast, A("2001:db8:b::2")})
                .ok());
        ASSERT_TRUE(rib_.commit().ok());
        r = rib_.lookup(A("2001:db8:100:1::1"));
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->dst, P("2001:db8:100::/48")) << "round " << round;
        EXPECT_EQ(fib_nh("2001:db8:100:1::1")->port, 0) << "round " << round;
    }
    ASSERT_TRUE(
        rib_.del_static({P("2001:db8:100::/48"), RouteType::kUnicast, A("2001:db8:a::2")}).ok());
    ASSERT_TRUE(rib_.commit().ok());
    const Route* left = rib_.lookup(A("2001:db8:100:1::1"));
    EXPECT_TRUE(left == nullptr || left->dst.len() == 0) << "only a default route may remain";
}

/* `pending` (what config save writes for an inactive gateway route): a
 * gateway that is not on-link is no refusal; the route waits inactive and
 * forwards once an address puts the gateway on-link. */
TEST_F(RibTest, PendingRouteWaitsForItsGatewayToBeOnLink) {
    RouteSpec plain{P("2001:db8:300::/48"), RouteType::kUnicast, A("2001:db8:c::2")};
    EXPECT_EQ(rib_.add_static(plain).code(), absl::StatusCode::kFailedPrecondition);
    RouteSpec pending = plain;
    pending.pending = true;
    ASSERT_TRUE(rib_.add_static(pending).ok());
    ASSERT_TRUE(rib_.commit().ok());
    ASSERT_EQ(rib_.routes_of(P("2001:db8:300::/48")).size(), 1u);
    EXPECT_FALSE(rib_.routes_of(P("2001:db8:300::/48"))[0]->active);
    EXPECT_EQ(fib_nh("2001:db8:300::1")->kind, NhKind::kNoRoute);
    // The gateway's subnet appears on port 1: the route comes alive there.
    ASSERT_TRUE(addrs_.add(1, A("2001:db8:c::1"), 64, true).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_TRUE(rib_.routes_of(P("2001:db8:300::/48"))[0]->active);
    EXPECT_EQ(fib_nh("2001:db8:300::1")->kind, NhKind::kNeighbor);
    EXPECT_EQ(fib_nh("2001:db8:300::1")->port, 1);
    // The other refusals stay: pending does not make our own address a gateway.
    RouteSpec own{P("2001:db8:400::/48"), RouteType::kUnicast, A("2001:db8:a::1")};
    own.pending = true;
    EXPECT_EQ(rib_.add_static(own).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RibTest, RejectTypesAndInterfaceRoutes) {
    ASSERT_TRUE(rib_.add_static({P("2001:db8:dead::/48"), RouteType::kBlackhole}).ok());
    ASSERT_TRUE(rib_.add_static({P("2001:db8:beef::/48"), RouteType::kUnreachable}).ok());
    ASSERT_TRUE(
        rib_.add_static({P("2001:db8:cafe::/48"), RouteType::kUnicast, std::nullopt, uint16_t(1)})
            .ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:dead::1")->kind, NhKind::kBlackhole);
    EXPECT_EQ(fib_nh("2001:db8:beef::1")->kind, NhKind::kUnreachable);
    EXPECT_EQ(fib_nh("2001:db8:cafe::1")->kind, NhKind::kConnected);
    EXPECT_EQ(fib_nh("2001:db8:cafe::1")->port, 1);
    // A neighbour on an interface route is reachable directly.
    ASSERT_TRUE(neigh_.add_static(1, A("2001:db8:cafe::7"), kMacA).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_TRUE(fib_nh("2001:db8:cafe::7")->resolved);
}

TEST(CheckAddress, RefusesWhatCannotBeAssigned) {
    struct Row {
        const char* addr;
        int plen;
        const char* why;  // nullptr: accepted
    };
    const Row rows[] = {
        {"2001:db8::1", 64, nullptr},
        {"::", 64, "unspecified"},
        {"::1", 128, "loopback"},
        {"ff02::1", 64, "multicast"},
        {"::ffff:10.0.0.1", 96, "IPv4-mapped"},
        {"::224.0.0.1", 96, "class D"},
        {"::10.0.0.1", 96, nullptr},
        {"2001:db8::", 64, "subnet-router anycast"},
        {"2001:db8::", 127, nullptr},
        {"2001:db8::", 128, nullptr},
        {"2001:db8::1", 0, "1..128"},
        {"2001:db8::1", 129, "1..128"},
    };
    for (const Row& r : rows) {
        SCOPED_TRACE(std::string(r.addr) + "/" + std::to_string(r.plen));
        absl::Status st = check_address(A(r.addr), r.plen);
        if (r.why == nullptr) {
            EXPECT_TRUE(st.ok()) << st;
        } else {
            EXPECT_NE(std::string(st.message()).find(r.why), std::string::npos) << st;
        }
    }
}

TEST_F(RibTest, AddressUniqueness) {
    absl::Status st = addrs_.add(0, A("2001:db8:a::1"), 64, true);
    EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
    EXPECT_NE(std::string(st.message()).find("exists"), std::string::npos);
    st = addrs_.add(1, A("2001:db8:a::1"), 64, true);
    EXPECT_NE(std::string(st.message()).find("in use on p0"), std::string::npos) << st;
    EXPECT_TRUE(addrs_.add(0, A("fe80::1"), 64, true).ok());
    EXPECT_TRUE(addrs_.add(1, A("fe80::1"), 64, true).ok()) << "link-local is per link";
    EXPECT_EQ(addrs_.del(0, A("2001:db8:a::5"), 64, true).code(), absl::StatusCode::kNotFound);
}

RouteSpec Via(const char* dst, const char* gw, uint32_t metric = kMetricDefault) {
    return RouteSpec(P(dst), RouteType::kUnicast, A(gw), std::nullopt, metric);
}
RouteSpec Multi(const char* dst, std::vector<RoutePath> paths) {
    RouteSpec s(P(dst));
    s.paths = std::move(paths);
    return s;
}
RoutePath Hop(const char* gw, uint32_t weight = 1) {
    RoutePath p;
    p.gateway = A(gw);
    p.weight = weight;
    return p;
}

TEST_F(RibTest, RecursiveRouteFollowsTheRouteToItsGateway) {
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:c::/64", "2001:db8:a::2")).ok());
    RouteSpec rec = Via("2001:db8:100::/48", "2001:db8:c::1");
    absl::Status st = rib_.add_static(rec);
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
    EXPECT_NE(std::string(st.message()).find("add recursive"), std::string::npos) << st;
    rec.paths[0].recursive = true;
    ASSERT_TRUE(rib_.add_static(rec).ok());
    ASSERT_TRUE(rib_.commit().ok());
    const NextHop* nh = fib_nh("2001:db8:100::1");
    ASSERT_EQ(nh->kind, NhKind::kNeighbor);
    EXPECT_EQ(nh->addr, A("2001:db8:a::2")) << "packets go where the gateway's route sends them";
    EXPECT_EQ(nh->port, 0);

    // The route to the gateway moves: the recursive route follows.
    ASSERT_TRUE(rib_.replace_static(Via("2001:db8:c::/64", "2001:db8:b::2")).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->addr, A("2001:db8:b::2"));
    EXPECT_EQ(fib_nh("2001:db8:100::1")->port, 1);

    // It goes: the recursive route stays in the RIB, inactive, out of the FIB.
    ASSERT_TRUE(rib_.del_static(RouteSpec(P("2001:db8:c::/64"))).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->kind, NhKind::kNoRoute);
    auto kept = rib_.routes_of(P("2001:db8:100::/48"));
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_FALSE(kept[0]->active);

    // It comes back.
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:c::/64", "2001:db8:a::2")).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->addr, A("2001:db8:a::2"));
    EXPECT_TRUE(rib_.routes_of(P("2001:db8:100::/48"))[0]->active);
}

TEST_F(RibTest, InactiveRouteStepsAsideAndReturns) {
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:a::2", 10)).ok());
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:b::2", 20)).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->port, 0) << "metric 10 forwards";

    // p0's address goes, and with it the connected route the gateway needs.
    ASSERT_TRUE(addrs_.del(0, A("2001:db8:a::1"), 64, true).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->port, 1) << "metric 20 takes over";
    auto both = rib_.routes_of(P("2001:db8:100::/48"));
    ASSERT_EQ(both.size(), 2u);
    EXPECT_FALSE(both[0]->active);
    EXPECT_TRUE(both[1]->active);

    ASSERT_TRUE(addrs_.add(0, A("2001:db8:a::1"), 64, true).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->port, 0) << "metric 10 is back";

    // A link-local gateway lives and dies with its port.
    ASSERT_TRUE(rib_.add_static(RouteSpec(P("2001:db8:200::/48"), RouteType::kUnicast, A("fe80::2"),
                                          uint16_t(1)))
                    .ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:200::1")->addr, A("fe80::2"));
    rib_.set_port_up(1, false);
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:200::1")->kind, NhKind::kNoRoute);
    rib_.set_port_up(1, true);
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:200::1")->addr, A("fe80::2"));
}

/* The share of 100k random flow hashes each member of a group gets. */
std::map<uint32_t, double> shares(const NextHopTable& nhs, const NextHop& group) {
    std::map<uint32_t, double> n;
    std::mt19937 rng(9);
    constexpr int kFlows = 100000;
    for (int i = 0; i < kFlows; i++) {
        uint32_t member = group.pick(uint32_t(rng()));
        EXPECT_EQ(nhs.get(member)->kind, NhKind::kNeighbor) << "members are never groups";
        n[member] += 1.0 / kFlows;
    }
    return n;
}

TEST_F(RibTest, EcmpSharesByWeightAndDropsInactivePaths) {
    ASSERT_TRUE(
        rib_.add_static(Multi("2001:db8:100::/48", {Hop("2001:db8:a::2"), Hop("2001:db8:b::2")}))
            .ok());
    ASSERT_TRUE(rib_.commit().ok());
    const NextHop* g = fib_nh("2001:db8:100::1");
    ASSERT_EQ(g->kind, NhKind::kGroup);
    for (auto [id, share] : shares(nhs_, *g))
        EXPECT_NEAR(share, 0.5, 0.05) << "within 10 % of an even split";

    ASSERT_TRUE(rib_.replace_static(Multi("2001:db8:100::/48",
                                          {Hop("2001:db8:a::2", 3), Hop("2001:db8:b::2", 1)}))
                    .ok());
    ASSERT_TRUE(rib_.commit().ok());
    g = fib_nh("2001:db8:100::1");
    ASSERT_EQ(g->kind, NhKind::kGroup);
    for (auto [id, share] : shares(nhs_, *g))
        EXPECT_NEAR(share, nhs_.get(id)->port == 0 ? 0.75 : 0.25, 0.03);

    // A path whose gateway stops being on-link leaves the group.
    ASSERT_TRUE(addrs_.del(1, A("2001:db8:b::1"), 64, true).ok());
    ASSERT_TRUE(rib_.commit().ok());
    const NextHop* one = fib_nh("2001:db8:100::1");
    ASSERT_EQ(one->kind, NhKind::kNeighbor);
    EXPECT_EQ(one->addr, A("2001:db8:a::2"));
    ASSERT_TRUE(addrs_.add(1, A("2001:db8:b::1"), 64, true).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->kind, NhKind::kGroup) << "and comes back";
}

TEST_F(RibTest, AppendReplaceDeleteOnePathAndFlush) {
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:a::2")).ok());
    RouteSpec more = Via("2001:db8:100::/48", "2001:db8:b::2");
    ASSERT_TRUE(rib_.append_static(more).ok());
    EXPECT_EQ(rib_.append_static(more).code(), absl::StatusCode::kAlreadyExists);
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->kind, NhKind::kGroup);
    ASSERT_EQ(rib_.routes_of(P("2001:db8:100::/48"))[0]->paths.size(), 2u);

    // del with a gateway takes that path out of a multipath route.
    ASSERT_TRUE(rib_.del_static(Via("2001:db8:100::/48", "2001:db8:a::2")).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->addr, A("2001:db8:b::2"));

    // replace swaps in place; replace of nothing adds.
    ASSERT_TRUE(rib_.replace_static(Via("2001:db8:100::/48", "2001:db8:a::3")).ok());
    ASSERT_TRUE(rib_.replace_static(Via("2001:db8:200::/48", "2001:db8:a::4")).ok());
    ASSERT_TRUE(rib_.add_static(RouteSpec(P("2001:db8:dead::/48"), RouteType::kBlackhole)).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->addr, A("2001:db8:a::3"));
    EXPECT_EQ(fib_nh("2001:db8:200::1")->addr, A("2001:db8:a::4"));
    EXPECT_EQ(rib_.replace_static(RouteSpec(P("2001:db8:a::/64"), RouteType::kBlackhole,
                                            std::nullopt, std::nullopt, kMetricConnected))
                  .code(),
              absl::StatusCode::kFailedPrecondition)
        << "a connected route is not the operator's to replace";

    EXPECT_EQ(rib_.flush_static(), 3u);
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->kind, NhKind::kNoRoute);
    EXPECT_EQ(fib_nh("2001:db8:a::9")->kind, NhKind::kConnected) << "connected routes stay";
    EXPECT_EQ(rib_.counts().static_routes, 0u);
}

TEST_F(RibTest, SeveralRoutesMatchNamesThem) {
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:a::2", 10)).ok());
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:b::2", 20)).ok());
    absl::Status st = rib_.del_static(RouteSpec(P("2001:db8:100::/48")));
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(st.message(),
              "several routes match: 2001:db8:100::/48 via 2001:db8:a::2 metric 10; "
              "2001:db8:100::/48 via 2001:db8:b::2 metric 20");
    EXPECT_TRUE(rib_.del_static(RouteSpec(P("2001:db8:100::/48"), RouteType::kUnicast, std::nullopt,
                                          uint16_t(1)))
                    .ok())
        << "dev singles one out";
}

/* A route load checks each line's gateway against the routes as they are
 * after the lines before it, committing without a grace period as it goes
 * (commit(false)): the RIB remembers what it found for a gateway, and every
 * route change that could alter that answer must be seen at once. */
RouteSpec ViaDev(const char* dst, const char* gw, uint16_t port) {
    return RouteSpec(P(dst), RouteType::kUnicast, A(gw), port);
}

TEST_F(RibTest, GatewayCheckSeesRouteChangesWithinALoad) {
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:a::2")).ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    // A /128 interface route on p1 now puts the gateway on-link through p1.
    ASSERT_TRUE(rib_.add_static(RouteSpec(P("2001:db8:a::2/128"), RouteType::kUnicast, std::nullopt,
                                          uint16_t(1)))
                    .ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    absl::Status st = rib_.add_static(ViaDev("2001:db8:200::/48", "2001:db8:a::2", 0));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_EQ(st.message(), "gateway 2001:db8:a::2 is on-link through p1, not through p0");
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:300::/48", "2001:db8:a::2")).ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    EXPECT_EQ(fib_nh("2001:db8:300::1")->port, 1);
    // Without the connected /64 the /128 still decides: nothing changes.
    ASSERT_TRUE(addrs_.del(0, A("2001:db8:a::1"), 64, true).ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    EXPECT_EQ(rib_.add_static(ViaDev("2001:db8:200::/48", "2001:db8:a::2", 0)).code(),
              absl::StatusCode::kInvalidArgument);
    // The /128 goes too: no route covers the gateway any more.
    ASSERT_TRUE(rib_.del_static(RouteSpec(P("2001:db8:a::2/128"))).ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    st = rib_.add_static(Via("2001:db8:400::/48", "2001:db8:a::2"));
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
    EXPECT_NE(std::string(st.message()).find("is not on-link"), std::string::npos) << st;
    // The address comes back on p0: so does the gateway, through p0.
    ASSERT_TRUE(addrs_.add(0, A("2001:db8:a::1"), 64, true).ok());
    ASSERT_TRUE(addrs_.set_state(0, A("2001:db8:a::1"), AddrState::kPreferred));
    ASSERT_TRUE(rib_.commit(false).ok());
    ASSERT_TRUE(rib_.add_static(ViaDev("2001:db8:200::/48", "2001:db8:a::2", 0)).ok());
    ASSERT_TRUE(rib_.commit().ok());
    EXPECT_EQ(fib_nh("2001:db8:200::1")->port, 0);
}

TEST_F(RibTest, GatewayCheckSeesAShorterRouteAndANewAddress) {
    // Nothing covers 2001:db8:c::2, then an interface route of a /48 does.
    EXPECT_EQ(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:c::2")).code(),
              absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(rib_.add_static(RouteSpec(P("2001:db8:c::/48"), RouteType::kUnicast, std::nullopt,
                                          uint16_t(1)))
                    .ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:100::/48", "2001:db8:c::2")).ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    EXPECT_EQ(fib_nh("2001:db8:100::1")->port, 1);
    // A gateway accepted once becomes one of our addresses.
    ASSERT_TRUE(rib_.add_static(Via("2001:db8:200::/48", "2001:db8:b::5")).ok());
    ASSERT_TRUE(addrs_.add(1, A("2001:db8:b::5"), 64, true).ok());
    ASSERT_TRUE(addrs_.set_state(1, A("2001:db8:b::5"), AddrState::kPreferred));
    ASSERT_TRUE(rib_.commit(false).ok());
    absl::Status st = rib_.add_static(Via("2001:db8:300::/48", "2001:db8:b::5"));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_NE(std::string(st.message()).find("one of our own addresses"), std::string::npos) << st;
}

/* More distinct gateways than the RIB remembers at once: each is still
 * checked against the routes of the moment. */
TEST_F(RibTest, ManyGatewaysEachCheckedRight) {
    constexpr int kGateways = 40;
    auto gw = [](int i) { return fmt::format("2001:db8:a::{:x}", 0x100 + i); };
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < kGateways; i++) {
            const std::string dst = fmt::format("2001:db8:{:x}::/48", 0x1000 + round * 0x100 + i);
            ASSERT_TRUE(rib_.add_static(Via(dst.c_str(), gw(i).c_str())).ok()) << dst;
            ASSERT_TRUE(rib_.commit(false).ok());
        }
    // A gateway checked lately moves to p1 by a /128 interface route; the
    // others stay on p0.
    constexpr int kMoved = kGateways - 3;
    const std::string moved = gw(kMoved) + "/128";
    ASSERT_TRUE(
        rib_.add_static(RouteSpec(P(moved.c_str()), RouteType::kUnicast, std::nullopt, uint16_t(1)))
            .ok());
    ASSERT_TRUE(rib_.commit(false).ok());
    for (int i = kGateways - 1; i >= 0; i--) {  // the ones checked last first
        SCOPED_TRACE(i);
        const std::string dst = fmt::format("2001:db8:{:x}::/48", 0x2000 + i);
        absl::Status st = rib_.add_static(ViaDev(dst.c_str(), gw(i).c_str(), 0));
        EXPECT_EQ(st.ok(), i != kMoved) << st;
    }
}

TEST(RibFull, TableFullRefusesWithoutCorruptingWhatIsThere) {
    struct Offline {
        Offline() { rcu_thread_offline(); }
        ~Offline() { rcu_thread_online(); }
    } off;
    NextHopTable nhs(64);
    Fib fib(4u);  // four groups: a /48 takes three
    Rib rib(nhs, fib);
    rib.set_port(0, {"p0", Mac({0x02, 0, 0, 0, 0, 0x10}), true});
    ASSERT_TRUE(rib.add_static(RouteSpec(P("2001:db8:1::/48"), RouteType::kUnicast, std::nullopt,
                                         uint16_t(0)))
                    .ok());
    ASSERT_TRUE(rib.commit().ok());
    RouteSpec big(P("2001:db9:0:1::/64"), RouteType::kUnicast, std::nullopt, uint16_t(0));
    ASSERT_TRUE(rib.add_static(big).ok());
    absl::Status st = rib.commit();
    EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(std::string(st.message()).find("table full"), std::string::npos) << st;
    // What the control thread does with a refusal: take it back, commit.
    ASSERT_TRUE(rib.del_static(big).ok());
    ASSERT_TRUE(rib.commit().ok());
    EXPECT_EQ(fib.size(), 1u);
    EXPECT_EQ(nhs.get(fib.lookup(A("2001:db8:1::1")))->kind, NhKind::kConnected);
    EXPECT_EQ(fib.lookup(A("2001:db9:0:1::1")), 0u);
}

}  // namespace
}  // namespace fp6
