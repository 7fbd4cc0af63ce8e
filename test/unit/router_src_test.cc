/* Source address selection as the router applies it (RFC 6724 section 5
 * through `route get`): the candidates it builds from its addresses, the
 * generation-keyed cache, a route's `src`, lifetimes and the two errors. */
#include <gtest/gtest.h>

#include "control/router.h"
#include "test/unit/eal_env.h"

namespace fp6 {
namespace {

class RouterSrcTest : public ::testing::Test {
  protected:
    void SetUp() override {
        rcu_thread_offline();
        RouterConfig cfg;
        cfg.dataplane.worker_lcores = {1};  // never launched
        cfg.dataplane.mbufs = 1023;
        cfg.max_nexthops = 1024;
        cfg.clock = [this] { return now_; };
        router_ = std::make_unique<Router>(cfg);
        ASSERT_TRUE(router_->init().ok());
        for (const char* p : {"p0", "p1"}) {
            ok("port.add", {{"ifname", p},
                            {"devargs", "net_null" + std::to_string(instance_++) + ",no-rx=1"},
                            {"no_linklocal", true}});
            ok("port.set", {{"ifname", p}, {"state", "up"}, {"dad_transmits", 0}});
        }
        ok("addr.add", {{"local", "2001:db8:a::1/64"}, {"dev", "p0"}});
        ok("addr.add", {{"local", "fe80::a/64"}, {"dev", "p0"}});
        ok("addr.add", {{"local", "2001:db8:b::1/64"}, {"dev", "p1"}});
        ok("addr.add", {{"local", "fe80::b/64"}, {"dev", "p1"}});
        ok("neigh.add", {{"dst", "2001:db8:b::2"}, {"lladdr", "02:00:00:00:00:02"}, {"dev", "p1"}});
        ok("route.add", {{"dst", "2001:db8:100::/48"}, {"gateway", "2001:db8:b::2"}});
    }
    void TearDown() override {
        router_->shutdown();
        router_.reset();
        rcu_barrier();
        rcu_thread_online();
    }
    absl::StatusOr<nlohmann::json> run(const std::string& cmd, nlohmann::json args) {
        return router_->execute(Request{cmd, std::move(args)});
    }
    nlohmann::json ok(const std::string& cmd, nlohmann::json args) {
        auto r = run(cmd, args);
        EXPECT_TRUE(r.ok()) << cmd << " " << args.dump() << ": " << r.status();
        return r.ok() ? *r : nlohmann::json();
    }
    std::string src_for(const std::string& dst, nlohmann::json extra = nlohmann::json::object()) {
        extra["dst"] = dst;
        nlohmann::json j = ok("route.get", extra);
        return j.contains("prefsrc") ? j["prefsrc"].get<std::string>()
                                     : "error: " + j.value("prefsrc_error", std::string("?"));
    }
    uint64_t control(const char* key) { return ok("stats.show", {})["control"][key]; }

    std::unique_ptr<Router> router_;
    uint64_t now_ = 1000;
    static inline int instance_ = 100;
};

TEST_F(RouterSrcTest, RouteGetGivesRoutePortAndSource) {
    nlohmann::json j = ok("route.get", {{"dst", "2001:db8:100::5"}});
    EXPECT_EQ(j["route"], "2001:db8:100::/48");
    EXPECT_EQ(j["gateway"], "2001:db8:b::2");
    EXPECT_EQ(j["dev"], "p1");
    EXPECT_EQ(j["prefsrc"], "2001:db8:b::1") << "rule 5: an address of the outgoing port";
}

TEST_F(RouterSrcTest, LinkLocalDestinationTakesTheOutgoingPortsLinkLocal) {
    EXPECT_EQ(src_for("fe80::99", {{"oif", "p1"}}), "fe80::b");
    EXPECT_EQ(src_for("fe80::99", {{"oif", "p0"}}), "fe80::a");
    EXPECT_FALSE(run("route.get", {{"dst", "fe80::99"}}).ok()) << "ambiguous without oif";
}

TEST_F(RouterSrcTest, CacheFollowsEveryAddressChangeAtOnce) {
    EXPECT_EQ(src_for("2001:db8:100::5"), "2001:db8:b::1");
    // A better candidate appears: the cached answer must not survive.
    ok("addr.add", {{"local", "2001:db8:100::1/64"}, {"dev", "p1"}});
    EXPECT_EQ(src_for("2001:db8:100::5"), "2001:db8:100::1") << "the destination's own prefix";
    ok("addr.del", {{"local", "2001:db8:100::1/64"}, {"dev", "p1"}});
    EXPECT_EQ(src_for("2001:db8:100::5"), "2001:db8:b::1");
    // The port goes down: its addresses are no candidates.
    ok("port.set", {{"ifname", "p1"}, {"state", "down"}});
    EXPECT_EQ(src_for("2001:db8:a::5"), "2001:db8:a::1");
    EXPECT_EQ(src_for("3000::1", {{"oif", "p0"}}), "2001:db8:a::1");
}

TEST_F(RouterSrcTest, DeprecatedIsAvoidedAndExpiredIsRemoved) {
    ok("addr.add", {{"local", "2001:db8:b::7/64"},
                    {"dev", "p1"},
                    {"preferred_source", true},
                    {"preferred_lft", "10"},
                    {"valid_lft", "20"}});
    EXPECT_EQ(src_for("2001:db8:100::5"), "2001:db8:b::7") << "operator-preferred (rule 4)";
    now_ += 10'000;
    router_->on_timer();
    auto info = ok("addr.show", {{"dev", "p1"}})[0]["addr_info"];
    bool deprecated = false;
    for (const auto& a : info)
        if (a["local"] == "2001:db8:b::7")
            deprecated = a["deprecated"];
    EXPECT_TRUE(deprecated);
    EXPECT_EQ(src_for("2001:db8:100::5"), "2001:db8:b::1") << "rule 3 before rule 4";
    now_ += 10'000;
    router_->on_timer();
    // Held in a variable: a range-for over a member of a temporary would
    // outlive the temporary.
    const nlohmann::json after = ok("addr.show", {{"dev", "p1"}});
    for (const auto& a : after[0]["addr_info"])
        EXPECT_NE(a["local"], "2001:db8:b::7") << "valid lifetime over: removed";
}

TEST_F(RouterSrcTest, RouteSrcWinsWhileUsable) {
    ok("route.add",
       {{"dst", "2001:db8:200::/48"}, {"gateway", "2001:db8:b::2"}, {"prefsrc", "2001:db8:a::1"}});
    EXPECT_EQ(src_for("2001:db8:200::1"), "2001:db8:a::1");
    EXPECT_EQ(control("src_route"), 1u);
    // While its address is down with its port, the rules choose, and that is counted.
    ok("port.set", {{"ifname", "p0"}, {"state", "down"}});
    EXPECT_EQ(src_for("2001:db8:200::1"), "2001:db8:b::1");
    EXPECT_EQ(control("src_route_unusable"), 1u);
    EXPECT_FALSE(run("route.add", {{"dst", "2001:db8:300::/48"},
                                   {"gateway", "2001:db8:b::2"},
                                   {"prefsrc", "2001:db8:ff::1"}})
                     .ok())
        << "src must be one of our addresses";
}

TEST_F(RouterSrcTest, NoSourceAndNotReadyAreToldApart) {
    ok("port.set", {{"ifname", "p0"}, {"state", "down"}});
    ok("port.set", {{"ifname", "p1"}, {"state", "down"}});
    // The route via 2001:db8:b::2 went inactive with p1's connected route;
    // asking through p1 still runs source selection.
    EXPECT_FALSE(run("route.get", {{"dst", "2001:db8:100::5"}}).ok());
    EXPECT_EQ(src_for("2001:db8:100::5", {{"oif", "p1"}}), "error: no source address");
    EXPECT_EQ(control("src_none"), 1u);
    ok("port.set", {{"ifname", "p1"}, {"dad_transmits", 1}});
    ok("port.set", {{"ifname", "p1"}, {"state", "up"}});  // DAD running: tentative
    EXPECT_EQ(src_for("2001:db8:100::5"), "error: address not ready");
    EXPECT_EQ(control("src_not_ready"), 1u);
}

TEST_F(RouterSrcTest, StrictSourceKeepsTheChoiceOnTheOutgoingPort) {
    ok("addr.add", {{"local", "2001:db8:a::9/64"}, {"dev", "p0"}, {"preferred_source", true}});
    EXPECT_EQ(src_for("3000::1", {{"oif", "p1"}}), "2001:db8:a::9") << "rule 4 before rule 5";
    ok("port.set", {{"ifname", "p1"}, {"strict_source", "on"}});
    EXPECT_EQ(src_for("3000::1", {{"oif", "p1"}}), "2001:db8:b::1")
        << "strict-source: only the outgoing port's addresses";
}

TEST_F(RouterSrcTest, PolicyTableChangesTheAnswer) {
    ok("addr.add", {{"local", "fd00::1/64"}, {"dev", "p1"}});
    EXPECT_EQ(src_for("fd00:1::1", {{"oif", "p1"}}), "fd00::1") << "ULA label match (rule 6)";
    ok("policy.add", {{"prefix", "fd00:1::/32"}, {"precedence", 3}, {"label", 77}});
    ok("policy.add", {{"prefix", "2001:db8:b::/48"}, {"precedence", 3}, {"label", 77}});
    EXPECT_EQ(src_for("fd00:1::1", {{"oif", "p1"}}), "2001:db8:b::1")
        << "the policy change reaches a cached answer";
    ok("policy.del", {{"prefix", "2001:db8:b::/48"}});
    EXPECT_EQ(src_for("fd00:1::1", {{"oif", "p1"}}), "fd00::1");
    EXPECT_FALSE(run("policy.del", {{"prefix", "2001:db8:b::/48"}}).ok()) << "no such entry";
}

}  // namespace
}  // namespace fp6
