#include "control/api/grammar.h"

#include <gtest/gtest.h>

#include "control/api/protocol.h"

namespace fp6 {
namespace {

using nlohmann::json;

struct GoodRow {
    const char* line;
    const char* cmd;
    json args;
};

TEST(Grammar, EveryCommandFormParses) {
    const GoodRow rows[] = {
        {"port add p0 devargs net_tap0,iface=fp0",
         "port.add",
         {{"ifname", "p0"}, {"devargs", "net_tap0,iface=fp0"}}},
        {"port add p0 devargs 0000:01:00.0 mtu 9000 no-linklocal",
         "port.add",
         {{"ifname", "p0"}, {"devargs", "0000:01:00.0"}, {"mtu", 9000}, {"no_linklocal", true}}},
        {"port add p0 no-linklocal devargs x",
         "port.add",
         {{"ifname", "p0"}, {"devargs", "x"}, {"no_linklocal", true}}},
        {"port set p0 up", "port.set", {{"ifname", "p0"}, {"state", "up"}}},
        {"port set p0 down", "port.set", {{"ifname", "p0"}, {"state", "down"}}},
        {"port set p0 host-if on", "port.set", {{"ifname", "p0"}, {"host_if", "on"}}},
        {"port set p0 mtu 1280 down retrans-timer 1000 dad-transmits 0",
         "port.set",
         {{"ifname", "p0"},
          {"mtu", 1280},
          {"state", "down"},
          {"retrans_timer", 1000},
          {"dad_transmits", 0}}},
        {"port set up up", "port.set", {{"ifname", "up"}, {"state", "up"}}},
        {"port del p0", "port.del", {{"ifname", "p0"}}},
        {"port show", "port.show", json::object()},
        {"port show p0", "port.show", {{"ifname", "p0"}}},
        {"port list p0", "port.show", {{"ifname", "p0"}}},
        {"addr add 2001:db8::1/64 dev p0",
         "addr.add",
         {{"local", "2001:db8::1/64"}, {"dev", "p0"}}},
        {"address add dev p0 2001:db8::1/64",
         "addr.add",
         {{"local", "2001:db8::1/64"}, {"dev", "p0"}}},
        {"a del 2001:db8::1/64 dev p0", "addr.del", {{"local", "2001:db8::1/64"}, {"dev", "p0"}}},
        {"addr show", "addr.show", json::object()},
        {"addr ls dev p0", "addr.show", {{"dev", "p0"}}},
        {"addr list", "addr.show", json::object()},
        {"route add 2001:db8::/32 via fe80::1",
         "route.add",
         {{"dst", "2001:db8::/32"}, {"gateway", "fe80::1"}}},
        {"route add 2001:db8::/32 via fe80::1 dev p0 metric 10",
         "route.add",
         {{"dst", "2001:db8::/32"}, {"gateway", "fe80::1"}, {"dev", "p0"}, {"metric", 10}}},
        {"route add 2001:db8::/32 dev p0", "route.add", {{"dst", "2001:db8::/32"}, {"dev", "p0"}}},
        {"ro add default via 2001:db8::1",
         "route.add",
         {{"dst", "default"}, {"gateway", "2001:db8::1"}}},
        {"route add blackhole 2001:db8:1::/48",
         "route.add",
         {{"type", "blackhole"}, {"dst", "2001:db8:1::/48"}}},
        {"route add unreachable 2001:db8:2::/48 metric 5",
         "route.add",
         {{"type", "unreachable"}, {"dst", "2001:db8:2::/48"}, {"metric", 5}}},
        {"route add prohibit ::/0", "route.add", {{"type", "prohibit"}, {"dst", "::/0"}}},
        {"route append 2001:db8::/32 nexthop via 2001:db8:a::2 weight 3 nexthop via "
         "fe80::1 dev p1",
         "route.append",
         {{"dst", "2001:db8::/32"},
          {"nexthops",
           {{{"gateway", "2001:db8:a::2"}, {"weight", 3}},
            {{"gateway", "fe80::1"}, {"dev", "p1"}}}}}},
        {"route replace 2001:db8::/32 via 2001:db8:c::1 recursive metric 7",
         "route.replace",
         {{"dst", "2001:db8::/32"},
          {"gateway", "2001:db8:c::1"},
          {"recursive", true},
          {"metric", 7}}},
        {"route load /tmp/routes.txt", "route.load", {{"file", "/tmp/routes.txt"}}},
        {"route show match 2001:db8::1", "route.show", {{"match", "2001:db8::1"}}},
        {"route add reject ::/0", "route.add", {{"type", "reject"}, {"dst", "::/0"}}},
        {"route add unicast ::/0 dev p0",
         "route.add",
         {{"type", "unicast"}, {"dst", "::/0"}, {"dev", "p0"}}},
        {"route del 2001:db8::/32", "route.del", {{"dst", "2001:db8::/32"}}},
        {"route delete 2001:db8::/32 via fe80::1 dev p0 metric 1024",
         "route.del",
         {{"dst", "2001:db8::/32"}, {"gateway", "fe80::1"}, {"dev", "p0"}, {"metric", 1024}}},
        {"route show", "route.show", json::object()},
        {"route show 2001:db8::/32", "route.show", {{"dst", "2001:db8::/32"}}},
        {"route get 2001:db8::5", "route.get", {{"dst", "2001:db8::5"}}},
        {"neigh add fe80::1 lladdr 02:00:00:00:00:01 dev p0",
         "neigh.add",
         {{"dst", "fe80::1"}, {"lladdr", "02:00:00:00:00:01"}, {"dev", "p0"}}},
        {"neighbor del fe80::1 dev p0", "neigh.del", {{"dst", "fe80::1"}, {"dev", "p0"}}},
        {"neighbour show", "neigh.show", json::object()},
        {"neigh show dev p0", "neigh.show", {{"dev", "p0"}}},
        {"stats show", "stats.show", json::object()},
        {"stats reset", "stats.reset", json::object()},
        {"show running-config", "config.show", json::object()},
        {"config show", "config.show", json::object()},
        {"config save", "config.save", json::object()},
        {"config save /etc/fp6/fp6.conf", "config.save", {{"file", "/etc/fp6/fp6.conf"}}},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.line);
        auto req = parse_command(split_words(r.line));
        ASSERT_TRUE(req.ok()) << req.status();
        EXPECT_EQ(*req, make_request(r.cmd, r.args));
        EXPECT_EQ((*req)["v"], kProtocolVersion);
        EXPECT_TRUE(is_known_command(r.cmd));
    }
}

TEST(Grammar, NumbersAreJsonNumbers) {
    auto req = parse_command({"port", "set", "p0", "mtu", "4294967295"});
    ASSERT_TRUE(req.ok());
    EXPECT_TRUE((*req)["args"]["mtu"].is_number_unsigned());
    EXPECT_EQ((*req)["args"]["mtu"].get<uint64_t>(), 4294967295u);
}

struct BadRow {
    const char* line;
    const char* error;
};

TEST(Grammar, EveryErrorNamesTheWord) {
    const BadRow rows[] = {
        {"",
         "missing command; expected one of: port, addr, route, neigh, stats, policy, config, "
         "show"},
        {"rout add ::/0 dev p0",
         "unknown word \"rout\"; expected one of: port, addr, route, "
         "neigh, stats, policy, config, show"},
        {"route",
         "missing word after \"route\"; expected one of: add, append, replace, del, flush, load, "
         "show, get"},
        {"route ad ::/0",
         "unknown word \"ad\"; expected one of: add, append, replace, del, flush, load, show, get"},
        {"stats get", "unknown word \"get\"; expected one of: show, reset"},
        {"port add p0 devargs", "missing value after \"devargs\""},
        {"route add ::/0 dev", "missing value after \"dev\""},
        {"port add p0 devargs x mtu abc", "\"mtu\" expects a number, got \"abc\""},
        {"port set p0 mtu -1", "\"mtu\" expects a number, got \"-1\""},
        {"port set p0 mtu 12x", "\"mtu\" expects a number, got \"12x\""},
        {"route add ::/0 dev p0 metric 4294967296",
         "\"metric\" expects a number up to 4294967295, got \"4294967296\""},
        {"route add ::/0 dev p0 metric 99999999999999999999999",
         "\"metric\" expects a number up to 4294967295, got \"99999999999999999999999\""},
        {"route add ::/0 dev p0 foo",
         "unknown word \"foo\"; expected one of: unicast, blackhole, unreachable, prohibit, "
         "reject, via, dev, weight, metric, src, recursive, pending"},
        {"route add ::/0 dev p0 dev p1", "\"dev\" given twice"},
        {"route add blackhole unreachable ::/0",
         "conflicting words \"blackhole\" and \"unreachable\""},
        {"port set p0 up down", "conflicting words \"up\" and \"down\""},
        {"port set p0 up up", "\"up\" given twice"},
        {"port set p0",
         "nothing to set; usage: port set NAME [up|down] [mtu N] "
         "[dad-transmits N] [retrans-timer MS] [strict-source on|off] [icmp-rate N] "
         "[icmp-burst N] [icmp-hop-limit N] [base-reachable MS] [neigh-max N] [ra on|off] "
         "[interval S] [lifetime S] [ra-prefix PREFIX] [no-onlink] [no-autonomous] "
         "[valid_lft S] [preferred_lft S] [redirects on|off] [host-if on|off|IFNAME]"},
        {"port set",
         "missing NAME; usage: port set NAME [up|down] [mtu N] [dad-transmits N] "
         "[retrans-timer MS] [strict-source on|off] [icmp-rate N] [icmp-burst N] "
         "[icmp-hop-limit N] [base-reachable MS] [neigh-max N] [ra on|off] [interval S] "
         "[lifetime S] [ra-prefix PREFIX] [no-onlink] [no-autonomous] [valid_lft S] "
         "[preferred_lft S] [redirects on|off] [host-if on|off|IFNAME]"},
        {"port add p0",
         "missing \"devargs DEVARGS\"; usage: port add NAME devargs DEVARGS "
         "[mtu N] [no-linklocal]"},
        {"port del", "missing NAME; usage: port del NAME"},
        {"port del p0 p1", "unexpected word \"p1\"; usage: port del NAME"},
        {"route add ::/0 nexthop", "empty \"nexthop\" group"},
        {"route add ::/0 nexthop via fe80::1 metric 5",
         "unknown word \"metric\"; expected one of: via, dev, weight"},
        {"stats show all", "unexpected word \"all\"; usage: stats show"},
        {"addr add 2001:db8::1/64",
         "missing \"dev NAME\"; usage: addr add ADDR/PLEN dev NAME [preferred-source] [temporary] "
         "[autoconf] "
         "[preferred_lft S|forever] [valid_lft S|forever]"},
        {"addr add dev p0",
         "missing ADDR/PLEN; usage: addr add ADDR/PLEN dev NAME [preferred-source] [temporary] "
         "[autoconf] "
         "[preferred_lft S|forever] [valid_lft S|forever]"},
        {"route add via fe80::1",
         "missing PREFIX; usage: route add "
         "[unicast|blackhole|unreachable|prohibit|reject] PREFIX "
         "[via GW] [dev NAME] [weight N] [metric N] [src ADDR] [recursive] [pending] "
         "[nexthop [via GW] [dev NAME] [weight N]]..."},
        {"route get", "missing ADDR; usage: route get ADDR [from ADDR] [oif NAME]"},
        {"neigh add fe80::1 dev p0",
         "missing \"lladdr MAC\"; usage: neigh add ADDR lladdr MAC "
         "dev NAME [router]"},
        {"neigh show p0", "unknown word \"p0\"; expected one of: dev"},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.line);
        auto req = parse_command(split_words(r.line));
        ASSERT_FALSE(req.ok()) << *req;
        EXPECT_TRUE(absl::IsInvalidArgument(req.status()));
        EXPECT_EQ(req.status().message(), r.error);
    }
}

struct SplitRow {
    const char* line;
    std::vector<std::string> words;
};

TEST(Grammar, SplitWordsHandlesCommentsAndQuotes) {
    const SplitRow rows[] = {
        {"", {}},
        {"   \t ", {}},
        {"# a comment", {}},
        {"route show  # trailing comment", {"route", "show"}},
        {"a\tb\r\n", {"a", "b"}},
        {"port add p0 devargs \"net_tap0,iface=a b\"",
         {"port", "add", "p0", "devargs", "net_tap0,iface=a b"}},
        {"x devargs=\"a b\"c", {"x", "devargs=a bc"}},
        {"say \"a \\\"quoted\\\" \\\\ word\"", {"say", "a \"quoted\" \\ word"}},
        {"\"\" end", {"", "end"}},
        {"\"#not a comment\" x#y", {"#not a comment", "x#y"}},
        {"open \"quote runs on", {"open", "quote runs on"}},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.line);
        EXPECT_EQ(split_words(r.line), r.words);
    }
}

TEST(Grammar, ParseLineSkipsBlankLinesAndRejectsOpenQuotes) {
    auto blank = parse_line("   # only a comment");
    ASSERT_TRUE(blank.ok());
    EXPECT_FALSE(blank->has_value());

    auto cmd = parse_line("port add p0 devargs \"net_tap0,iface=fp 0\"  # first port");
    ASSERT_TRUE(cmd.ok()) << cmd.status();
    ASSERT_TRUE(cmd->has_value());
    EXPECT_EQ((**cmd)["args"]["devargs"], "net_tap0,iface=fp 0");

    auto open = parse_line("port add p0 devargs \"net_tap0");
    EXPECT_EQ(open.status().message(), "unterminated quote");

    auto bad = parse_line("route frob");
    EXPECT_EQ(bad.status().message(),
              "unknown word \"frob\"; expected one of: add, append, replace, del, flush, load, "
              "show, get");
}

TEST(Grammar, UsageTextCoversTheTable) {
    std::string text = usage_text();
    EXPECT_NE(text.find("port add NAME devargs DEVARGS [mtu N] [no-linklocal]\n"),
              std::string::npos);
    EXPECT_NE(text.find("neigh add ADDR lladdr MAC dev NAME [router]\n"), std::string::npos);
    EXPECT_NE(text.find("route show [PREFIX] [match ADDR]\n"), std::string::npos);
    size_t lines = std::count(text.begin(), text.end(), '\n');
    EXPECT_EQ(lines, command_table().size());
    EXPECT_FALSE(is_known_command("route.frob"));
    EXPECT_FALSE(is_known_command("route"));
}

}  // namespace
}  // namespace fp6
