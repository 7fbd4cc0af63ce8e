#include "tools/fp6ctl/complete.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "control/api/grammar.h"

namespace fp6::ctl {
namespace {

using nlohmann::json;
using Words = std::vector<std::string>;

const LiveNames kLive = {{"p0", "p1", "uplink"}, {"2001:db8::1/64", "fe80::1/64"}};

bool has(const Words& v, const std::string& w) {
    return std::find(v.begin(), v.end(), w) != v.end();
}

TEST(Complete, FirstWordIsEveryObjectOfTheTable) {
    Words got = complete({}, "");
    for (const auto& c : command_table())
        EXPECT_TRUE(has(got, std::string(c.object))) << c.object;
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "duplicates";
}

TEST(Complete, PartialWordFilters) {
    EXPECT_EQ(complete({}, "ro"), Words{"route"});
    EXPECT_EQ(complete({"port"}, "s"), (Words{"set", "show"}));
    EXPECT_EQ(complete({}, "zz"), Words{});
}

TEST(Complete, VerbsOfEachObjectComeFromTheTable) {
    for (const auto& c : command_table()) {
        SCOPED_TRACE(usage(c));
        EXPECT_TRUE(has(complete({std::string(c.object)}, ""), std::string(c.verb)));
    }
}

TEST(Complete, AliasesAreUnderstood) {
    EXPECT_EQ(complete({"address"}, ""), complete({"addr"}, ""));
    EXPECT_EQ(complete({"neighbour", "ls"}, ""), complete({"neigh", "show"}, ""));
    EXPECT_EQ(complete({"addr", "delete", "2001:db8::1/64"}, ""), Words{"dev"});
}

TEST(Complete, EveryKeywordOfEveryCommandIsOfferedAfterTheVerb) {
    for (const auto& c : command_table()) {
        SCOPED_TRACE(usage(c));
        Words done{std::string(c.object), std::string(c.verb)};
        if (c.name_first)
            done.push_back("p0");
        Words got = complete(done, "");
        for (const auto& a : c.args) {
            if (a.role == ArgRole::kPositional)
                continue;
            for (auto w : a.words)
                if (w != "ra-prefix")  // spelled "ra prefix"
                    EXPECT_TRUE(has(got, std::string(w))) << w;
        }
    }
}

TEST(Complete, KeywordsGivenAreNotOfferedAgain) {
    Words got = complete({"port", "set", "p0", "mtu", "9000", "up"}, "");
    EXPECT_FALSE(has(got, "mtu"));
    EXPECT_FALSE(has(got, "up"));
    EXPECT_FALSE(has(got, "down"));  // the other word of the same choice
    EXPECT_TRUE(has(got, "dad-transmits"));
}

TEST(Complete, ValueOfAKeywordIsNotAKeyword) {
    // After "mtu" comes a number: nothing to offer.
    EXPECT_EQ(complete({"port", "set", "p0", "mtu"}, ""), Words{});
    EXPECT_EQ(complete({"port", "set", "p0", "strict-source"}, ""), (Words{"off", "on"}));
    EXPECT_EQ(complete({"port", "set", "p0", "ra"}, ""), (Words{"off", "on", "prefix"}));
    EXPECT_EQ(complete({"addr", "add", "2001:db8::1/64", "dev", "p0", "valid_lft"}, "f"),
              Words{"forever"});
}

TEST(Complete, RaPrefixTakesAPrefixThenItsFlags) {
    EXPECT_EQ(complete({"port", "set", "p0", "ra", "prefix"}, ""), Words{});
    Words got = complete({"port", "set", "p0", "ra", "prefix", "2001:db8::/64"}, "no-");
    EXPECT_EQ(got, (Words{"no-autonomous", "no-onlink"}));
}

TEST(Complete, PortNamesWhereTheGrammarWantsAPort) {
    EXPECT_EQ(live_kind({"port", "set"}), LiveKind::kPort);
    EXPECT_EQ(complete({"port", "set"}, "", kLive), (Words{"p0", "p1", "uplink"}));
    // Only the NAME may come first: no keywords before it.
    EXPECT_EQ(complete({"port", "set"}, "u", kLive), Words{"uplink"});
    EXPECT_EQ(complete({"neigh", "show", "dev"}, "", kLive), (Words{"p0", "p1", "uplink"}));
    EXPECT_EQ(complete({"route", "get", "2001:db8::9", "oif"}, "p", kLive), (Words{"p0", "p1"}));
    // A new port's name is the user's to choose.
    EXPECT_EQ(live_kind({"port", "add"}), LiveKind::kNone);
    EXPECT_EQ(complete({"port", "add"}, "", kLive), Words{});
}

TEST(Complete, AddressesWhereTheGrammarWantsOne) {
    EXPECT_EQ(live_kind({"addr", "del"}), LiveKind::kPrefix);
    EXPECT_EQ(complete({"addr", "del"}, "2001", kLive), Words{"2001:db8::1/64"});
    // "from" and "src" take an address without its length.
    EXPECT_EQ(live_kind({"route", "get", "2001:db8::9", "from"}), LiveKind::kAddress);
    EXPECT_EQ(complete({"route", "get", "2001:db8::9", "from"}, "", kLive),
              (Words{"2001:db8::1", "fe80::1"}));
    // A new address is not one of ours.
    EXPECT_EQ(live_kind({"addr", "add"}), LiveKind::kNone);
}

TEST(Complete, NexthopGroupsOfRouteAddAppendReplace) {
    for (const auto& c : command_table()) {
        if (c.group_word.empty())
            continue;
        SCOPED_TRACE(usage(c));
        Words done{std::string(c.object), std::string(c.verb)};
        // Not before the prefix: the parser needs it first.
        EXPECT_FALSE(has(complete(done, ""), std::string(c.group_word)));
        done.push_back("2001:db8::/32");
        EXPECT_TRUE(has(complete(done, ""), std::string(c.group_word)));
        // Right after the group word: the group's keywords only.
        done.push_back(std::string(c.group_word));
        Words group;
        for (const auto& a : c.group_args)
            group.emplace_back(a.words.front());
        std::sort(group.begin(), group.end());
        EXPECT_EQ(complete(done, ""), group);
    }
    // Within a group, the keywords it has are not offered again, and a new
    // group may start; the command's own keywords are not offered there.
    Words got = complete({"route", "add", "default", "nexthop", "via", "fe80::1", "dev", "p0"}, "");
    EXPECT_EQ(got, (Words{"nexthop", "weight"}));
    // A second group starts afresh.
    got = complete({"ro", "append", "default", "nexthop", "via", "fe80::1", "nexthop"}, "");
    EXPECT_EQ(got, (Words{"dev", "via", "weight"}));
    // Port names after a group's dev; nothing while a value is due.
    EXPECT_EQ(complete({"route", "replace", "default", "nexthop", "dev"}, "u", kLive),
              Words{"uplink"});
    EXPECT_EQ(complete({"route", "add", "default", "nexthop", "via"}, ""), Words{});
    EXPECT_EQ(complete({"route", "add", "default", "via"}, ""), Words{});
    // route del has no groups.
    EXPECT_FALSE(has(complete({"route", "del", "default"}, ""), "nexthop"));
}

TEST(Complete, NothingAfterAnUnknownObjectOrVerb) {
    EXPECT_EQ(complete({"bogus"}, ""), Words{});
    EXPECT_EQ(complete({"port", "bogus"}, ""), Words{});
}

TEST(Complete, HelpForNarrowsWithTheWordsTyped) {
    EXPECT_EQ(help_for({}), usage_text());
    std::string port = help_for({}, "po");
    EXPECT_NE(port.find("port add NAME devargs DEVARGS"), std::string::npos);
    EXPECT_EQ(port.find("route"), std::string::npos);
    EXPECT_EQ(help_for({"address", "delete"}), "addr del ADDR/PLEN dev NAME\n");
    EXPECT_EQ(help_for({"nope"}), "");
}

TEST(Complete, NamesFromShowReplies) {
    json ports = json::parse(R"([{"ifname":"p0"},{"ifname":"p1"},{"port_id":3},7])");
    EXPECT_EQ(port_names(ports), (Words{"p0", "p1"}));
    json addrs = json::parse(R"([{"ifname":"p0","addr_info":[
        {"local":"2001:db8::1","prefixlen":64},{"local":"fe80::1","prefixlen":64}]},
        {"ifname":"p1","addr_info":"junk"},{"ifname":"p2"}])");
    EXPECT_EQ(address_names(addrs), (Words{"2001:db8::1/64", "fe80::1/64"}));
    EXPECT_EQ(port_names(json()), Words{});
    EXPECT_EQ(address_names(json::object()), Words{});
}

TEST(Complete, SplitForCompletion) {
    auto lw = split_for_completion("port set p");
    EXPECT_EQ(lw.done, (Words{"port", "set"}));
    EXPECT_EQ(lw.partial, "p");
    lw = split_for_completion("port set ");
    EXPECT_EQ(lw.done, (Words{"port", "set"}));
    EXPECT_EQ(lw.partial, "");
    lw = split_for_completion("");
    EXPECT_TRUE(lw.done.empty());
    EXPECT_EQ(common_prefix({"dad-transmits", "dev", "down"}), "d");
    EXPECT_EQ(common_prefix({"no-onlink", "no-autonomous"}), "no-");
    EXPECT_EQ(common_prefix({}), "");
}

}  // namespace
}  // namespace fp6::ctl
