/* Source address selection (RFC 6724 section 5 with fp6's additions), its
 * policy table and its cache: the published examples, each rule on its own,
 * the candidate set, the errors, and the cache under concurrent readers. */
#include "rib/srcsel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fp6 {
namespace {

Ip6 A(const char* s) {
    return *Ip6::parse(s);
}
Prefix6 P(const char* s) {
    return *Prefix6::parse(s);
}

constexpr uint16_t kOut = 0;    // the outgoing port in every case unless said
constexpr uint16_t kOther = 1;  // another port

/* A candidate from its address and words for its flags: "deprecated", "op"
 * (operator_preferred), "temp", "auto", "other" (on kOther, not kOut). */
SrcCandidate C(const char* addr, std::string_view flags = "", int plen = 64) {
    SrcCandidate c{.addr = A(addr), .plen = plen, .port = kOut};
    auto has = [&](std::string_view w) { return flags.find(w) != std::string_view::npos; };
    c.preferred = !has("deprecated");
    c.operator_preferred = has("op");
    c.temporary = has("temp");
    c.autoconf = has("auto");
    if (has("other"))
        c.port = kOther;
    return c;
}

struct Case {
    std::string name;
    const char* dst;
    std::vector<SrcCandidate> cands;
    const char* want;
    bool tie_only = false;  // only the final tie-break decides: reversing changes the answer
};

/* Runs the case as given and with its candidates reversed. */
void check(const Case& c, const PolicyTable& policy = PolicyTable()) {
    SCOPED_TRACE(c.name);
    SrcQuery q{.dst = A(c.dst), .out_port = kOut};
    absl::StatusOr<Ip6> got = select_source(q, c.cands, policy);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->str(), c.want);

    SCOPED_TRACE("candidates reversed");
    std::vector<SrcCandidate> rev(c.cands.rbegin(), c.cands.rend());
    got = select_source(q, rev, policy);
    ASSERT_TRUE(got.ok()) << got.status();
    if (c.tie_only)
        EXPECT_EQ(*got, rev.front().addr) << "the first candidate should win a full tie";
    else
        EXPECT_EQ(got->str(), c.want);
}

/* RFC 6724 section 10.1, all eight examples, all candidates on the outgoing
 * port with /64 prefixes. The home address of the sixth stands as an
 * operator_preferred address. Worked through the rules, each published
 * answer is the one they give, so every answer below is the published one.
 * (The fifth, "longest matching prefix", is decided in fp6 one step earlier,
 * by the prefix-contains-destination rule; the answer is the same.) */
TEST(SourceSelection, Rfc6724Section10_1Examples) {
    const std::vector<Case> cases = {
        {"prefer appropriate scope (global destination)",
         "2001:db8:1::1",
         {C("2001:db8:3::1"), C("fe80::1")},
         "2001:db8:3::1"},
        {"prefer appropriate scope (site-local multicast)",
         "ff05::1",
         {C("2001:db8:3::1"), C("fe80::1")},
         "2001:db8:3::1"},
        {"prefer same address",
         "2001:db8:1::1",
         {C("2001:db8:1::1", "deprecated"), C("2001:db8:2::1")},
         "2001:db8:1::1"},
        {"prefer appropriate scope (link-local destination)",
         "fe80::1",
         {C("fe80::2", "deprecated"), C("2001:db8:1::1")},
         "fe80::2"},
        {"longest matching prefix",
         "2001:db8:1::1",
         {C("2001:db8:1::2"), C("2001:db8:3::2")},
         "2001:db8:1::2"},
        {"prefer home address (operator_preferred)",
         "2001:db8:1::1",
         {C("2001:db8:1::2"), C("2001:db8:3::2", "op")},
         "2001:db8:3::2"},
        {"prefer matching label",
         "2002:c633:6401::1",
         {C("2002:c633:6401::d5e3:7953:13eb:22e8", "temp"), C("2001:db8:1::2")},
         "2002:c633:6401:0:d5e3:7953:13eb:22e8"},
        {"prefer temporary address",
         "2001:db8:1::d5e3:0:0:1",
         {C("2001:db8:1::2"), C("2001:db8:1::d5e3:7953:13eb:22e8", "temp")},
         "2001:db8:1:0:d5e3:7953:13eb:22e8"},
    };
    for (const Case& c : cases)
        check(c);
}

/* In each rule test the expected winner ties with the other candidate on
 * every earlier rule and loses on as many later ones as can be arranged, so
 * that only the rule under test can explain the answer. */

TEST(SourceSelection, Rule1PreferSameAddress) {
    check({"same address beats every later rule",
           "2001:db8:1::1",
           {C("2001:db8:1::2", "op temp"), C("2001:db8:1::1", "deprecated auto other")},
           "2001:db8:1::1"});
}

TEST(SourceSelection, Rule2PreferAppropriateScope) {
    const std::vector<Case> cases = {
        {"global destination: global over link-local",
         "2001:db8:1::1",
         {C("fe80::1", "op temp"), C("2001:db8:9::1", "deprecated auto other")},
         "2001:db8:9::1"},
        {"link-local destination: link-local over global",
         "fe80::9",
         {C("2001:db8:1::1", "op temp"), C("fe80::1", "deprecated auto")},
         "fe80::1"},
        {"link-local multicast: link-local over global",
         "ff02::1",
         {C("2001:db8:1::1", "op temp"), C("fe80::1", "deprecated auto")},
         "fe80::1"},
        {"site-local multicast: global over link-local",
         "ff05::1",
         {C("fe80::1", "op temp"), C("2001:db8:1::1", "deprecated auto other")},
         "2001:db8:1::1"},
        {"site-local multicast: site-local over global",
         "ff05::1",
         {C("2001:db8:1::1", "op temp"), C("fec0::1", "deprecated auto other")},
         "fec0::1"},
        {"global multicast: global over site-local",
         "ff0e::1",
         {C("fec0::1", "op temp"), C("2001:db8:1::1", "deprecated auto other")},
         "2001:db8:1::1"},
        {"ULA destination is global scope: ULA over link-local",
         "fd00::1",
         {C("fe80::1", "op temp"), C("fd00:1::2", "deprecated auto other")},
         "fd00:1::2"},
    };
    for (const Case& c : cases)
        check(c);
}

TEST(SourceSelection, Rule3AvoidDeprecated) {
    check({"preferred over deprecated",
           "2001:db8:1::1",
           {C("2001:db8:1::2", "deprecated op temp"), C("2001:db8:2::1", "auto other")},
           "2001:db8:2::1"});
}

TEST(SourceSelection, Rule4PreferOperatorPreferred) {
    check({"preferred-source over the rest",
           "2001:db8:1::1",
           {C("2001:db8:1::2", "temp"), C("2001:db8:2::1", "op auto other")},
           "2001:db8:2::1"});
}

TEST(SourceSelection, Rule5PreferOutgoingPort) {
    check({"outgoing port over another port",
           "2001:db8:1::1",
           {C("2001:db8:1::2", "temp other"), C("2001:db8:2::1", "auto")},
           "2001:db8:2::1"});
}

TEST(SourceSelection, Rule6PreferMatchingLabel) {
    const std::vector<Case> cases = {
        {"6to4 destination (label 2)",
         "2002:c633:6401::1",
         {C("2001:db8:1::2", "temp"), C("2002:c633:6401::2", "auto")},
         "2002:c633:6401::2"},
        {"ULA destination (label 13)",
         "fd00:1::1",
         {C("2001:db8:1::2", "temp"), C("fd00:2::1", "auto")},
         "fd00:2::1"},
        {"global destination (label 1)",
         "2001:db8:1::1",
         {C("fd00:1::1", "temp"), C("2001:db8:2::1", "auto")},
         "2001:db8:2::1"},
    };
    for (const Case& c : cases)
        check(c);
}

TEST(SourceSelection, Rule7PreferTemporary) {
    check({"temporary over public",
           "2001:db8:1::1",
           {C("2001:db8:1::2"), C("2001:db8:2::99", "temp auto")},
           "2001:db8:2::99"});
}

TEST(SourceSelection, PreferPrefixContainingDestination) {
    const std::vector<Case> cases = {
        // 2001:db8:1::100/120 shares 119 bits with the destination but its
        // prefix does not hold it; the /64 does.
        {"containing prefix over a longer common prefix",
         "2001:db8:1::1",
         {C("2001:db8:1::100", "", 120), C("2001:db8:1::5", "auto")},
         "2001:db8:1::5"},
        {"the longer containing prefix first",
         "2001:db8:1::1",
         {C("2001:db8:1::6", "", 48), C("2001:db8:1::5", "auto", 64)},
         "2001:db8:1::5"},
    };
    for (const Case& c : cases)
        check(c);
}

TEST(SourceSelection, PreferStaticOverAutoconf) {
    // Neither /64 holds the destination; the autoconfigured one shares 48
    // bits with it, the static one 46.
    check({"static over autoconfigured",
           "2001:db8:1::1",
           {C("2001:db8:1:8000::1", "auto"), C("2001:db8:2::1")},
           "2001:db8:2::1"});
}

TEST(SourceSelection, Rule8LongestMatchingPrefix) {
    check({"48 common bits over 46",
           "2001:db8:1::1",
           {C("2001:db8:2::1"), C("2001:db8:1:8000::1")},
           "2001:db8:1:8000::1"});
    // RFC 6724 2.2: counted only up to the source's prefix length.
    EXPECT_EQ(common_prefix_len(A("fe80::1"), 64, A("fe80::2")), 64);
    EXPECT_EQ(common_prefix_len(A("2001:db8:1::1"), 128, A("2001:db8:1::1")), 128);
    EXPECT_EQ(common_prefix_len(A("2001:db8:1::1"), 64, A("2001:db8:2::1")), 46);
    EXPECT_EQ(common_prefix_len(A("::"), 128, A("8000::")), 0);
}

TEST(SourceSelection, FinalTieBreakIsConfigurationOrder) {
    check({"identical but for the address",
           "2001:db8:1::1",
           {C("2001:db8:1::a"), C("2001:db8:1::b")},
           "2001:db8:1::a",
           true});
}

TEST(SourceSelection, ScopesOfRfc6724Section3_1) {
    const std::vector<std::pair<const char*, int>> cases = {
        {"fe80::1", 0x2}, {"::1", 0x2},     {"2001:db8::1", 0xe}, {"fd00::1", 0xe},
        {"fc00::1", 0xe}, {"fec0::1", 0x5}, {"ff01::1", 0x1},     {"ff02::1", 0x2},
        {"ff05::1", 0x5}, {"ff08::1", 0x8}, {"ff0e::1", 0xe},     {"2002::1", 0xe},
    };
    for (const auto& [addr, scope] : cases) {
        SCOPED_TRACE(addr);
        EXPECT_EQ(address_scope(A(addr)), scope);
    }
}

TEST(SourceSelection, NoCandidateIsNotFoundTentativeOnlyIsUnavailable) {
    PolicyTable policy;
    struct ErrCase {
        std::string name;
        SrcQuery q;
        std::vector<SrcCandidate> cands;
        absl::StatusCode code;
        const char* message;
    };
    const std::vector<ErrCase> cases = {
        {"no address at all",
         {.dst = A("2001:db8::1")},
         {},
         absl::StatusCode::kNotFound,
         "no source address"},
        {"only tentative addresses",
         {.dst = A("2001:db8::1"), .tentative = 2},
         {},
         absl::StatusCode::kUnavailable,
         "address not ready"},
        {"link-local destination, addresses only on another port",
         {.dst = A("fe80::9"), .out_port = kOut},
         {C("fe80::1", "other"), C("2001:db8::1", "other")},
         absl::StatusCode::kNotFound,
         "no source address"},
        {"link-local destination, the outgoing port's address tentative",
         {.dst = A("fe80::9"), .out_port = kOut, .tentative = 1},
         {C("fe80::1", "other")},
         absl::StatusCode::kUnavailable,
         "address not ready"},
    };
    for (const ErrCase& c : cases) {
        SCOPED_TRACE(c.name);
        absl::StatusOr<Ip6> got = select_source(c.q, c.cands, policy);
        ASSERT_FALSE(got.ok()) << got->str();
        EXPECT_EQ(got.status().code(), c.code);
        EXPECT_EQ(got.status().message(), c.message);
    }
}

TEST(SourceSelection, LinkLocalDestinationUsesOnlyOutgoingPort) {
    PolicyTable policy;
    // The other port's address wins every rule but the candidate set.
    const std::vector<SrcCandidate> cands = {C("fe80::1", "op temp other"),
                                             C("fe80::2", "deprecated auto")};
    const std::vector<std::pair<const char*, const char*>> cases = {
        {"fe80::9", "fe80::2"},  // link-local unicast
        {"ff02::1", "fe80::2"},  // link-local multicast
        {"ff01::1", "fe80::2"},  // interface-local multicast
        {"ff05::1", "fe80::1"},  // site-local multicast: every port qualifies
    };
    for (const auto& [dst, want] : cases) {
        SCOPED_TRACE(dst);
        SrcQuery q{.dst = A(dst), .out_port = kOut};
        absl::StatusOr<Ip6> got = select_source(q, cands, policy);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(got->str(), want);
        EXPECT_EQ(in_candidate_set(q, kOther), std::string_view(want) == "fe80::1");
        EXPECT_TRUE(in_candidate_set(q, kOut));
    }
    // A global destination may take another port's address.
    SrcQuery q{.dst = A("2001:db8:9::1"), .out_port = kOut};
    const std::vector<SrcCandidate> elsewhere = {C("2001:db8:1::1", "other")};
    absl::StatusOr<Ip6> got = select_source(q, elsewhere, policy);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->str(), "2001:db8:1::1");
}

TEST(SourceSelection, StrictSourceUsesOnlyOutgoingPort) {
    PolicyTable policy;
    const std::vector<SrcCandidate> cands = {C("2001:db8:1::2", "other"), C("fe80::1")};
    SrcQuery q{.dst = A("2001:db8:1::1"), .out_port = kOut};
    absl::StatusOr<Ip6> got = select_source(q, cands, policy);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->str(), "2001:db8:1::2") << "without strict_source, scope decides";

    q.strict_source = true;
    got = select_source(q, cands, policy);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->str(), "fe80::1");
    EXPECT_FALSE(in_candidate_set(q, kOther));

    const std::vector<SrcCandidate> elsewhere = {C("2001:db8:1::2", "other")};
    got = select_source(q, elsewhere, policy);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
}

TEST(SourceSelection, PolicyTableDefaultAndLongestMatch) {
    PolicyTable policy;
    std::vector<std::string> listed;
    for (const PolicyTable::Entry& e : policy.list())
        listed.push_back(absl::StrCat(e.prefix.str(), " ", e.precedence, " ", e.label));
    const std::vector<std::string> want = {
        "::1/128 50 0",   "::/96 1 3",      "::ffff:0.0.0.0/96 35 4",
        "2001::/32 5 5",  "2002::/16 30 2", "3ffe::/16 1 12",
        "fec0::/10 1 11", "fc00::/7 3 13",  "::/0 40 1",
    };
    EXPECT_EQ(listed, want);
    const std::vector<std::pair<const char*, uint32_t>> labels = {
        {"::1", 0},     {"::2", 3},      {"::ffff:102:304", 4}, {"2001::1", 5},  {"2001:db8::1", 1},
        {"2002::1", 2}, {"fd00::1", 13}, {"fec0::1", 11},       {"3ffe::1", 12}, {"fe80::1", 1},
    };
    for (const auto& [addr, label] : labels) {
        SCOPED_TRACE(addr);
        const PolicyTable::Entry* e = policy.match(A(addr));
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->label, label);
    }
}

TEST(SourceSelection, PolicyTableAddDelChangeTheAnswer) {
    PolicyTable policy;
    const SrcQuery q{.dst = A("2001:db8:1::1"), .out_port = kOut};
    const std::vector<SrcCandidate> cands = {C("fd00::1"), C("2001:db8:2::1")};
    auto pick = [&](const std::vector<SrcCandidate>& c = {}) {
        absl::StatusOr<Ip6> got = select_source(q, c.empty() ? cands : c, policy);
        return got.ok() ? got->str() : got.status().ToString();
    };
    EXPECT_EQ(pick(), "2001:db8:2::1");  // label 1 = label 1

    uint64_t v = policy.version();
    ASSERT_TRUE(policy.add(P("2001:db8:1::/48"), 45, 13).ok());
    EXPECT_GT(policy.version(), v);
    EXPECT_EQ(pick(), "fd00::1") << "the destination now has the ULA label";
    EXPECT_EQ(policy.list().size(), 10u);

    ASSERT_TRUE(policy.add(P("2001:db8:1::/48"), 45, 1).ok());
    EXPECT_EQ(policy.list().size(), 10u) << "add replaces the entry of the same prefix";
    EXPECT_EQ(pick(), "2001:db8:2::1");

    ASSERT_TRUE(policy.add(P("2001:db8:1::/48"), 45, 13).ok());
    EXPECT_EQ(pick(), "fd00::1");
    ASSERT_TRUE(policy.del(P("2001:db8:1::/48")).ok());
    EXPECT_EQ(policy.list().size(), 9u);
    EXPECT_EQ(pick(), "2001:db8:2::1");

    v = policy.version();
    absl::Status st = policy.del(P("2001:db8:1::/48"));
    EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
    st = policy.add(P("2001:db8:1::1/48"), 1, 1);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(policy.version(), v) << "refusals change nothing";
    EXPECT_EQ(policy.list().size(), 9u);

    // Without ::/0 the destination has no label; no label matches nothing,
    // so rule 6 no longer decides and rule 7 (temporary) does.
    const std::vector<SrcCandidate> with_temp = {C("2001:db8:2::1"), C("fd00::1", "temp")};
    EXPECT_EQ(pick(with_temp), "2001:db8:2::1");
    ASSERT_TRUE(policy.del(P("::/0")).ok());
    EXPECT_EQ(policy.match(A("2001:db8:1::1")), nullptr);
    EXPECT_EQ(pick(with_temp), "fd00::1");
}

/* Sources whose 16 bytes all equal b. */
Ip6 Filled(uint8_t b) {
    std::array<uint8_t, 16> x;
    x.fill(b);
    return Ip6(x);
}
/* The i-th of many distinct destinations. */
Ip6 Dst(uint32_t i) {
    std::array<uint8_t, 16> x{0x20, 0x01, 0x0d, 0xb8};
    x[12] = uint8_t(i >> 24), x[13] = uint8_t(i >> 16), x[14] = uint8_t(i >> 8), x[15] = uint8_t(i);
    return Ip6(x);
}

TEST(SourceSelection, CacheHitAndMisses) {
    SrcCache cache(64);
    const Ip6 d = A("2001:db8:1::1"), s = A("2001:db8:2::1");
    EXPECT_FALSE(cache.lookup(d, 1, 5).has_value()) << "empty";
    cache.put(d, 1, 5, s);
    EXPECT_EQ(cache.lookup(d, 1, 5), s);
    EXPECT_FALSE(cache.lookup(d, 2, 5).has_value()) << "other port";
    EXPECT_FALSE(cache.lookup(A("2001:db8:1::2"), 1, 5).has_value()) << "other destination";
    EXPECT_FALSE(cache.lookup(d, 1, 6).has_value()) << "newer generation";
    cache.put(d, 1, 6, A("2001:db8:3::1"));
    EXPECT_EQ(cache.lookup(d, 1, 6), A("2001:db8:3::1"));
    EXPECT_FALSE(cache.lookup(d, 1, 5).has_value()) << "replaced, not duplicated";
    EXPECT_EQ(SrcCache(0).capacity(), size_t(SrcCache::kWays));
    EXPECT_EQ(SrcCache(5).capacity(), 8u);
}

TEST(SourceSelection, CacheNothingStaleSurvivesABump) {
    SrcCache cache(1024);
    constexpr uint32_t kN = 2000;  // more than fit: some overwrite others
    for (uint32_t i = 0; i < kN; i++)
        cache.put(Dst(i), uint16_t(i % 3), 1, Filled(uint8_t(i)));
    int hits = 0;
    for (uint32_t i = 0; i < kN; i++) {
        std::optional<Ip6> got = cache.lookup(Dst(i), uint16_t(i % 3), 1);
        if (got.has_value()) {
            hits++;
            EXPECT_EQ(*got, Filled(uint8_t(i))) << i;
        }
    }
    EXPECT_GT(hits, 0);
    EXPECT_LE(size_t(hits), cache.capacity());
    for (uint32_t i = 0; i < kN; i++)
        ASSERT_FALSE(cache.lookup(Dst(i), uint16_t(i % 3), 2).has_value()) << i;
    for (uint32_t i = 0; i < 100; i++)
        cache.put(Dst(i), uint16_t(i % 3), 2, Filled(uint8_t(i + 1)));
    for (uint32_t i = 0; i < kN; i++) {
        std::optional<Ip6> got = cache.lookup(Dst(i), uint16_t(i % 3), 2);
        if (i >= 100) {
            ASSERT_FALSE(got.has_value()) << i;
        } else if (got.has_value()) {
            EXPECT_EQ(*got, Filled(uint8_t(i + 1))) << i;
        }
    }
}

TEST(SourceSelection, CacheFullBucketOverwrites) {
    SrcCache cache(SrcCache::kWays);  // a single bucket
    for (uint32_t i = 0; i < 100; i++)
        cache.put(Dst(i), 0, 1, Filled(uint8_t(i)));
    for (uint32_t i = 0; i < 100; i++) {
        std::optional<Ip6> got = cache.lookup(Dst(i), 0, 1);
        if (i >= 100 - SrcCache::kWays)
            ASSERT_EQ(got, Filled(uint8_t(i))) << "the last puts are all there";
        else
            ASSERT_FALSE(got.has_value()) << i;
    }
}

/* One writer rewrites a single bucket as fast as it can, K keys in turn,
 * the c-th put storing a source whose 16 bytes all equal c mod 256 under key
 * c mod K; readers look the keys up. A torn read would show unequal bytes,
 * or a byte of another key. */
TEST(SourceSelection, CacheConcurrentReadersNeverSeeTornEntries) {
    constexpr uint32_t kKeys = 8;  // divides 256
    constexpr uint32_t kPuts = 2'000'000;
    SrcCache cache(SrcCache::kWays);
    std::atomic<bool> done{false};
    std::atomic<uint64_t> torn{0}, hits{0}, lookups{0};
    auto reader = [&](uint32_t first) {
        uint64_t t = 0, h = 0, n = 0;
        for (uint32_t k = first; !done.load(std::memory_order_relaxed); k = (k + 1) % kKeys) {
            n++;
            std::optional<Ip6> got = cache.lookup(Dst(k), 7, 1);
            if (!got.has_value())
                continue;
            h++;
            uint8_t b = (*got)[0];
            bool ok = b % kKeys == k;
            for (int i = 1; i < 16; i++)
                ok = ok && (*got)[i] == b;
            t += !ok;
        }
        torn += t, hits += h, lookups += n;
    };
    std::vector<std::thread> readers;
    for (uint32_t r = 0; r < 3; r++)
        readers.emplace_back(reader, r);
    for (uint32_t c = 0; c < kPuts; c++)
        cache.put(Dst(c % kKeys), 7, 1, Filled(uint8_t(c)));
    done = true;
    for (std::thread& t : readers)
        t.join();
    EXPECT_EQ(torn.load(), 0u);
    EXPECT_GT(hits.load(), 0u);
    RecordProperty("lookups", std::to_string(lookups.load()));
    RecordProperty("hits", std::to_string(hits.load()));
}

}  // namespace
}  // namespace fp6
