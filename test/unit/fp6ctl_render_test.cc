#include "tools/fp6ctl/render.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fp6::ctl {
namespace {

using nlohmann::json;

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
        v.push_back(l);
    return v;
}

/* The column where word starts in line (npos if absent). */
size_t col(const std::string& line, const std::string& word) {
    return line.find(word);
}

TEST(Render, TableAlignsColumns) {
    Table t({"NAME", "MTU", "STATE"}, {false, true, false});
    t.add({"p0", "1500", "up"});
    t.add({"longname", "9000", "down"});
    t.add({"x", "68"});
    EXPECT_EQ(t.str(),
              "NAME       MTU  STATE\n"
              "p0        1500  up\n"
              "longname  9000  down\n"
              "x           68\n");
    EXPECT_EQ(Table({"A"}, {}).str(), "");
}

TEST(Render, Ports) {
    json data = json::parse(R"([
      {"ifname":"p0","port_id":0,"devargs":"net_tap0,iface=fp0","address":"02:00:00:00:00:01",
       "mtu":1500,"admin":"up","link":"up","operstate":"UP","future_field":[1,2],
       "stats":{"rx_packets":1,"rx_bytes":2,"tx_packets":3,"tx_bytes":4,"rx_missed":0,
                "rx_nombuf":0,"rx_errors":0,"tx_errors":0}},
      {"ifname":"uplink1","port_id":12,"devargs":"0000:01:00.0","address":"02:00:00:00:00:02",
       "mtu":9000,"admin":"down","link":"down","operstate":"DOWN"}])");
    auto l = lines_of(render("port.show", data));
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0], "NAME     PORT  ADMIN  LINK   MTU  ADDRESS            DEVARGS");
    EXPECT_EQ(l[1], "p0          0  up     up    1500  02:00:00:00:00:01  net_tap0,iface=fp0");
    EXPECT_EQ(l[2], "uplink1    12  down   down  9000  02:00:00:00:00:02  0000:01:00.0");
}

TEST(Render, AddrsShowFlagsAsWords) {
    json data = json::parse(R"([
      {"ifname":"p0","addr_info":[
        {"family":"inet6","local":"2001:db8::1","prefixlen":64,"scope":"global"},
        {"family":"inet6","local":"fe80::ff:fe00:1","prefixlen":64,"scope":"link",
         "tentative":true,"deprecated":false}]},
      {"ifname":"p1","addr_info":[
        {"family":"inet6","local":"2001:db8:1::1","prefixlen":48,"scope":"global",
         "dadfailed":true,"deprecated":true}]}])");
    auto l = lines_of(render_addrs(data));
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0], "DEV  ADDRESS             SCOPE   FLAGS");
    EXPECT_EQ(l[1], "p0   2001:db8::1/64      global  -");
    EXPECT_EQ(l[2], "p0   fe80::ff:fe00:1/64  link    tentative");
    EXPECT_EQ(l[3], "p1   2001:db8:1::1/48    global  dadfailed,deprecated");
}

TEST(Render, RoutesAndRouteGet) {
    json data = json::parse(R"([
      {"dst":"default","type":"unicast","gateway":"fe80::1","dev":"p0","protocol":"static",
       "metric":1024,"flags":[]},
      {"dst":"2001:db8::/64","type":"unicast","dev":"p0","protocol":"kernel","metric":256,
       "flags":["onlink","offload"]},
      {"dst":"2001:db8:dead::/48","type":"blackhole","protocol":"static","metric":1}])");
    auto l = lines_of(render("route.show", data));
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0], "DESTINATION         TYPE       GATEWAY  DEV  PROTO   METRIC  FLAGS");
    EXPECT_EQ(l[1], "default             unicast    fe80::1  p0   static    1024  -");
    EXPECT_EQ(l[2], "2001:db8::/64       unicast    -        p0   kernel     256  onlink,offload");
    EXPECT_EQ(l[3], "2001:db8:dead::/48  blackhole  -        -    static       1  -");

    json one = json::parse(R"({"dst":"2001:db8::5","type":"unicast","dev":"p0",
        "protocol":"kernel","metric":256,"flags":[],"prefsrc":"2001:db8::1"})");
    auto g = lines_of(render("route.get", one));
    ASSERT_EQ(g.size(), 2u);
    EXPECT_NE(col(g[0], "PREFSRC"), std::string::npos);
    EXPECT_EQ(col(g[0], "PREFSRC"), col(g[1], "2001:db8::1"));
}

TEST(Render, Neighs) {
    json data = json::parse(R"([
      {"dst":"fe80::1","dev":"p0","lladdr":"02:00:00:00:00:aa","state":["PERMANENT"],
       "router":true},
      {"dst":"2001:db8::22","dev":"p1","lladdr":"02:00:00:00:00:bb","state":["REACHABLE"]}])");
    auto l = lines_of(render("neigh.show", data));
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0], "ADDRESS       DEV  LLADDR             STATE      FLAGS");
    EXPECT_EQ(l[1], "fe80::1       p0   02:00:00:00:00:aa  PERMANENT  router");
    EXPECT_EQ(l[2], "2001:db8::22  p1   02:00:00:00:00:bb  REACHABLE  -");
}

TEST(Render, StatsNameDropReasonsNonzeroFirst) {
    json data = json::parse(R"({
      "ports":[{"ifname":"p0","rx_packets":100,"tx_packets":90,"rx_bytes":12345,
                "tx_bytes":11111,"rx_missed":0,"rx_nombuf":0,"rx_errors":1,"tx_errors":0}],
      "workers":[{"lcore":1,"rx_packets":100,"forwarded":90,"punted":5,"drops":5}],
      "drops":{"hop_limit":2,"no_route":3,"bad_header":0,"no_neigh":0}})");
    std::string out = render("stats.show", data);
    auto l = lines_of(out);
    ASSERT_EQ(l.size(), 11u) << out;
    EXPECT_EQ(l[0],
              "PORT  RX-PACKETS  RX-BYTES  TX-PACKETS  TX-BYTES  RX-MISSED  RX-NOMBUF  "
              "RX-ERRORS  TX-ERRORS");
    EXPECT_EQ(l[1],
              "p0           100     12345          90     11111          0          0  "
              "        1          0");
    EXPECT_EQ(l[2], "");
    EXPECT_EQ(l[3], "LCORE  RX-PACKETS  FORWARDED  PUNTED  DROPS");
    EXPECT_EQ(l[4], "    1         100         90       5      5");
    EXPECT_EQ(l[5], "");
    EXPECT_EQ(l[6], "DROP-REASON  PACKETS");
    EXPECT_EQ(l[7], "no_route           3");
    EXPECT_EQ(l[8], "hop_limit          2");
    EXPECT_EQ(l[9], "bad_header         0");
    EXPECT_EQ(l[10], "no_neigh           0");
}

TEST(Render, HumanCountHasThreeSignificantDigitsAndAnSiSuffix) {
    struct Row {
        uint64_t n;
        const char* want;
    };
    const Row rows[] = {
        {0, "0"},
        {999, "999"},
        {1000, "1.00k"},
        {1234, "1.23k"},
        {9994, "9.99k"},
        {9996, "10.0k"},  // rounds up into the next width
        {12345, "12.3k"},
        {99949, "99.9k"},
        {99960, "100k"},
        {123456, "123k"},
        {999499, "999k"},
        {999500, "1.00M"},  // not "1000k"
        {1234567, "1.23M"},
        {14880952, "14.9M"},
        {100000000000ULL, "100G"},
        {1234567890123ULL, "1.23T"},
        {1000000000000000ULL, "1.00P"},
        {18446744073709551615ULL, "18.4E"},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.n);
        EXPECT_EQ(human_count(r.n), r.want);
    }
}

TEST(Render, HumanStatsUseSuffixesOnCountersOnly) {
    json data = json::parse(R"({
      "ports":[{"ifname":"p0","rx_packets":14880952,"tx_packets":999,"rx_bytes":952380928,
                "tx_bytes":0,"rx_missed":1000,"rx_nombuf":0,"rx_errors":0,"tx_errors":0}],
      "workers":[{"lcore":12,"rx_packets":14880952,"forwarded":14000000,"punted":5,"drops":880947}],
      "drops":{"no_route":880947}})");
    auto l = lines_of(render("stats.show", data, {.human = true}));
    ASSERT_EQ(l.size(), 8u);
    EXPECT_EQ(l[1],
              "p0         14.9M      952M         999         0      1.00k          0  "
              "        0          0");
    // The lcore is a name, not a counter.
    EXPECT_EQ(l[4], "   12       14.9M      14.0M       5   881k");
    EXPECT_EQ(l[7], "no_route        881k");
    // Without -h the same data prints exact numbers.
    EXPECT_NE(render("stats.show", data).find("14880952"), std::string::npos);
}

TEST(Render, ProgressLines) {
    // A quarter of the file in 1 s: 250k lines/s, 3 s left.
    EXPECT_EQ(render_progress("route.load", json{{"lines", 250000},
                                                 {"bytes", 1000},
                                                 {"bytes_total", 4000},
                                                 {"applied", 249998},
                                                 {"refused", 2},
                                                 {"ms", 1000}}),
              "route load: 250000 lines, 25%, 2 refused, 250k/s, about 3.0 s left");
    // A pipe: no size, so no share and no time left.
    EXPECT_EQ(render_progress("route.load",
                              json{{"lines", 900}, {"bytes", 9000}, {"bytes_total", 0}, {"ms", 0}}),
              "route load: 900 lines");
    EXPECT_EQ(render_progress("route.flush", json{{"removed", 100}, {"total", 2100}, {"ms", 40}}),
              "route flush: 100 of 2100 routes removed, 2.50k/s, about 0.8 s left");
    // 12 s left shows without a decimal; fields of the wrong type count as absent.
    EXPECT_EQ(render_progress("route.flush", json{{"removed", 10}, {"total", 130}, {"ms", 1000}}),
              "route flush: 10 of 130 routes removed, 10/s, about 12 s left");
    EXPECT_EQ(render_progress("route.load", json{{"lines", "many"}, {"ms", -1}}),
              "route load: 0 lines");
}

TEST(Render, EmptyDataPrintsNothing) {
    EXPECT_EQ(render("route.add", nullptr), "");
    EXPECT_EQ(render("route.show", json::array()), "");
    EXPECT_EQ(render("stats.reset", json::object()), "");
    EXPECT_EQ(render("port.add", json{{"port_id", 3}}), "{\n  \"port_id\": 3\n}\n");
}

TEST(Render, MistypedFieldsDoNotThrow) {
    json weird = json::parse(R"([1, "x", {"ifname":["a"],"addr_info":"nope"}, {"dst":null}])");
    for (const char* cmd : {"port.show", "addr.show", "route.show", "neigh.show", "stats.show"}) {
        SCOPED_TRACE(cmd);
        EXPECT_NO_THROW(render(cmd, weird));
        EXPECT_NO_THROW(render(cmd, json{{"ports", 5}, {"drops", {{"x", "y"}}}}));
    }
}

}  // namespace
}  // namespace fp6::ctl
