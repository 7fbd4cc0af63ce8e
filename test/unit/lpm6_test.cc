/* Lpm6 on its own, without EAL (so it runs under AddressSanitizer): answers
 * against a brute-force model through random adds and deletes, "table full"
 * with nothing changed, group recycling, and readers racing a writer. */
#include "rib/lpm6.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "common/rcu.h"

namespace fp6 {
namespace {

Prefix6 P(const char* s) {
    return *Prefix6::parse(s);
}
Ip6 A(const char* s) {
    return *Ip6::parse(s);
}

std::unique_ptr<Lpm6> make(uint32_t groups = 4096) {
    auto t = Lpm6::create(groups);
    EXPECT_TRUE(t.ok()) << t.status();
    return std::move(*t);
}

/* The answer by definition: the longest prefix in `model` covering a. */
uint32_t reference(const std::map<Prefix6, uint32_t>& model, const Ip6& a) {
    int best = -1;
    uint32_t nh = 0;
    for (const auto& [p, id] : model)
        if (p.contains(a) && p.len() > best) {
            best = p.len();
            nh = id;
        }
    return nh;
}

/* Prefixes crowded into a few /32s, lengths spread over every level
 * boundary, so adds and deletes nest, split and fold groups. */
Prefix6 random_prefix(std::mt19937& rng) {
    static const int kLens[] = {8,  16, 23, 24, 25, 31, 32,  33,  40, 44,
                                47, 48, 49, 56, 64, 96, 120, 127, 128};
    std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, uint8_t(0xb8 + rng() % 2)};
    for (size_t i = 4; i < 16; i++)
        b[i] = rng() % 4 == 0 ? uint8_t(rng()) : 0;
    int len = kLens[rng() % std::size(kLens)];
    return Prefix6(Ip6(b).masked(len), len);
}

Ip6 probe_near(std::mt19937& rng, const std::map<Prefix6, uint32_t>& model) {
    auto it = model.begin();
    std::advance(it, long(rng() % model.size()));
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), it->first.addr().data(), 16);
    if (rng() % 2)
        b[15 - rng() % 14] ^= uint8_t(1u << (rng() % 8));
    return Ip6(b);
}

TEST(Lpm6, LongestMatchAtEveryLevel) {
    auto t = make();
    ASSERT_TRUE(t->set(P("::/0"), 1).ok());
    ASSERT_TRUE(t->set(P("2001:db8::/32"), 2).ok());
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 3).ok());
    ASSERT_TRUE(t->set(P("2001:db8:1::5/128"), 4).ok());
    ASSERT_TRUE(t->set(P("2001:d00::/24"), 5).ok());
    EXPECT_EQ(t->lookup(A("3000::1").data()), 1u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::4").data()), 3u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::5").data()), 4u);
    EXPECT_EQ(t->lookup(A("2001:d01::1").data()), 5u);
    EXPECT_EQ(t->size(), 5u);
    EXPECT_EQ(*t->get(P("2001:db8:1::/48")), 3u);
    // Changing a next hop in place; deleting restores the cover.
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 9).ok());
    EXPECT_EQ(t->lookup(A("2001:db8:1::4").data()), 9u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::5").data()), 4u);
    EXPECT_TRUE(t->erase(P("2001:db8:1::/48")));
    EXPECT_EQ(t->lookup(A("2001:db8:1::4").data()), 2u);
    EXPECT_FALSE(t->erase(P("2001:db8:1::/48")));
    EXPECT_EQ(t->set(P("2001:db8::1/32"), 1).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t->set(P("2001:db8::/32"), 0).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t->set(P("2001:db8::/32"), Lpm6::kMaxNextHop + 1).code(),
              absl::StatusCode::kInvalidArgument);
}

TEST(Lpm6, MatchesTheModelThroughRandomChurnAndEmptiesCompletely) {
    auto t = make(1 << 16);
    std::mt19937 rng(11);
    std::map<Prefix6, uint32_t> model;
    for (int step = 0; step < 3000; step++) {
        Prefix6 p = random_prefix(rng);
        if (model.count(p) && rng() % 3 != 0) {
            ASSERT_TRUE(t->erase(p));
            model.erase(p);
        } else {
            uint32_t nh = 1 + rng() % 100000;
            ASSERT_TRUE(t->set(p, nh).ok());
            model[p] = nh;
        }
        if (step % 200 == 0)
            t->synchronize();
        if (model.empty())
            continue;
        for (int k = 0; k < 8; k++) {
            Ip6 a = probe_near(rng, model);
            ASSERT_EQ(t->lookup(a.data()), reference(model, a)) << a.str() << " step " << step;
        }
    }
    ASSERT_EQ(t->size(), model.size());
    for (const auto& [p, nh] : model)
        ASSERT_TRUE(t->erase(p));
    t->synchronize();
    EXPECT_EQ(t->size(), 0u);
    EXPECT_EQ(t->groups_in_use(), 0u) << "every group folds back once its prefixes are gone";
    std::mt19937 probe(3);
    for (int k = 0; k < 1000; k++) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, uint8_t(0xb8 + probe() % 2)};
        for (size_t i = 4; i < 16; i++)
            b[i] = uint8_t(probe());
        ASSERT_EQ(t->lookup(b.data()), 0u);
    }
}

/* lookup_bulk() walks a small table one destination after the other and a
 * large one level by level: both give lookup()'s answers. */
/* Every walk of lookup_bulk() the CPU has, each test run once per walk;
 * one the CPU lacks is skipped, saying so. */
class Lpm6Walk : public ::testing::TestWithParam<Lpm6::Walk> {
  protected:
    void SetUp() override {
        if (!Lpm6::cpu_has(GetParam()))
            GTEST_SKIP() << "this CPU cannot run the " << Lpm6::walk_name(GetParam()) << " walk";
    }
    std::unique_ptr<Lpm6> make_walking(uint32_t groups) {
        auto t = make(groups);
        EXPECT_TRUE(t->set_walk(GetParam()));
        EXPECT_EQ(t->walk(), GetParam());
        return t;
    }
};

INSTANTIATE_TEST_SUITE_P(Walks, Lpm6Walk,
                         ::testing::Values(Lpm6::Walk::kScalar, Lpm6::Walk::kAvx2,
                                           Lpm6::Walk::kAvx512),
                         [](const auto& info) { return std::string(Lpm6::walk_name(info.param)); });

TEST_P(Lpm6Walk, BulkLookupAgreesWithLookup) {
    auto t = make_walking(1 << 16);
    std::mt19937 rng(5);
    std::map<Prefix6, uint32_t> model;
    auto check = [&](const char* when) {
        uint8_t dsts[64][16];
        uint32_t nhs[64];
        // Whole vectors, a lone destination, and tails of every kind.
        for (unsigned n : {32u, 1u, 7u, 8u, 15u, 16u, 17u, 31u, 64u}) {
            for (int round = 0; round < 16; round++) {
                for (unsigned i = 0; i < n; i++)
                    std::memcpy(dsts[i], probe_near(rng, model).data(), 16);
                t->lookup_bulk(dsts, nhs, n);
                for (unsigned i = 0; i < n; i++)
                    ASSERT_EQ(nhs[i], reference(model, Ip6::from_bytes(dsts[i])))
                        << when << ", " << n << " destinations, destination " << i;
            }
        }
    };
    auto add = [&](const Prefix6& p) {
        uint32_t nh = 1 + rng() % Lpm6::kMaxNextHop;
        ASSERT_TRUE(t->set(p, nh).ok());
        model[p] = nh;
    };
    for (int i = 0; i < 200; i++)
        add(random_prefix(rng));
    // /128s: the deepest walk, all 16 bytes.
    for (int i = 0; i < 20; i++)
        add(Prefix6(probe_near(rng, model), 128));
    ASSERT_LT(t->groups_in_use(), Lpm6::kCachedGroups);
    check("small table");
    // /64s in distinct /40s: each needs groups of its own at three levels.
    for (uint32_t i = 0; i < 2 * Lpm6::kCachedGroups / 3 + 1; i++) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb9, uint8_t(i >> 8), uint8_t(i), 0, 7};
        add(Prefix6(Ip6(b), 64));
    }
    ASSERT_GT(t->groups_in_use(), Lpm6::kCachedGroups);
    check("large table");
}

TEST(Lpm6, RefusesAWalkTheCpuLacks) {
    if (Lpm6::cpu_has(Lpm6::Walk::kAvx2) && Lpm6::cpu_has(Lpm6::Walk::kAvx512))
        GTEST_SKIP() << "this CPU runs every walk";
    auto t = make();
    for (auto w : {Lpm6::Walk::kAvx2, Lpm6::Walk::kAvx512}) {
        if (Lpm6::cpu_has(w))
            continue;
        EXPECT_FALSE(t->set_walk(w)) << Lpm6::walk_name(w);
        EXPECT_EQ(t->walk(), Lpm6::Walk::kScalar);
    }
    EXPECT_TRUE(t->set_walk(Lpm6::Walk::kScalar));
}

TEST(Lpm6, TableFullRefusesAndChangesNothing) {
    auto t = make(4);
    ASSERT_TRUE(t->set(P("2001:db8::/32"), 1).ok());    // one group (bits 24..31)
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 2).ok());  // two more
    const uint32_t used = t->groups_in_use();
    EXPECT_EQ(used, 3u);
    absl::Status st = t->set(P("2001:db9:0:1::/64"), 3);  // would need five
    EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(std::string(st.message()).find("table full"), std::string::npos) << st;
    EXPECT_EQ(t->groups_in_use(), used);
    EXPECT_EQ(t->size(), 2u);
    EXPECT_FALSE(t->get(P("2001:db9:0:1::/64")));
    EXPECT_EQ(t->lookup(A("2001:db9:0:1::1").data()), 0u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 1u);
    // A prefix that fits in what is left still goes in.
    EXPECT_TRUE(t->set(P("2001:db8:1:100::/56"), 4).ok());
    EXPECT_EQ(t->lookup(A("2001:db8:1:100::1").data()), 4u);
}

/* Resident memory of this process, from /proc/self/statm. */
size_t resident_bytes() {
    size_t size = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%zu %zu", &size, &resident) != 2)
            resident = 0;
        std::fclose(f);
    }
    return resident * size_t(sysconf(_SC_PAGESIZE));
}

TEST(Lpm6, PopulateBacksTheFirstGroupsAndCapsAtTheMost) {
    auto t = make(1 << 15);
    const size_t before = resident_bytes();
    const size_t bytes = t->populate(1 << 14);
    if (bytes == 0)
        GTEST_SKIP() << "the kernel does not populate (MADV_POPULATE_WRITE, Linux 5.14)";
    EXPECT_EQ(bytes, size_t(16) << 20);
    EXPECT_GE(resident_bytes() - before, size_t(15) << 20) << "16 MiB of groups now resident";
    // Nothing in the table changed, and it fills as before.
    EXPECT_EQ(t->groups_in_use(), 0u);
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 2).ok());
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 0u);
    // More groups than the table may have: only those it may.
    EXPECT_EQ(make(8)->populate(1000), size_t(8) << 10);
}

TEST(Lpm6, RetiredGroupsComeBackOnlyAfterAGracePeriod) {
    auto t = make(9);
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 1).ok());
    EXPECT_EQ(t->groups_in_use(), 3u);
    ASSERT_TRUE(t->erase(P("2001:db8:1::/48")));
    EXPECT_EQ(t->groups_in_use(), 0u);
    EXPECT_EQ(t->groups_retired(), 3u) << "a reader may still be inside them";
    t->synchronize();
    EXPECT_EQ(t->groups_retired(), 0u);
    // Running short, set() waits for a grace period by itself.
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 1).ok());
    ASSERT_TRUE(t->erase(P("2001:db8:1::/48")));
    ASSERT_TRUE(t->set(P("2001:db8:2:3::/64"), 2).ok());  // five groups: 8 of 9 ever used
    ASSERT_TRUE(t->set(P("2001:db9:2:3::/64"), 3).ok()) << "four groups: needs the retired ones";
    EXPECT_EQ(t->groups_in_use(), 9u);
}

/* Readers look up probe addresses while the writer adds and deletes nested
 * prefixes around them as fast as it can, folding and reusing groups. Each
 * prefix has its own next hop, and one /16 covering everything never goes,
 * so every answer must be the next hop of a prefix covering the probe: a
 * recycled group read too early, a torn entry or a half-built group would
 * show up as another prefix's next hop or as 0. */
TEST_P(Lpm6Walk, ConcurrentReadersOnlySeeCoveringPrefixes) {
    auto t = make_walking(1 << 14);
    constexpr uint32_t kCover = 1;
    ASSERT_TRUE(t->set(P("2001::/16"), kCover).ok());
    std::mt19937 rng(5);
    std::vector<Prefix6> universe;
    std::map<Prefix6, uint32_t> id_of;
    while (universe.size() < 400) {
        Prefix6 p = random_prefix(rng);
        if (p.len() <= 16 || id_of.count(p))
            continue;
        id_of[p] = uint32_t(universe.size()) + 2;
        universe.push_back(p);
    }
    // Probes: addresses inside the prefixes, each with the set of answers
    // it may legitimately get.
    struct Probe {
        Ip6 addr;
        std::vector<uint32_t> allowed;
    };
    std::vector<Probe> probes;
    for (int k = 0; k < 512; k++) {
        Ip6 a = probe_near(rng, id_of);
        Probe pr{a, {kCover}};
        for (const auto& [p, id] : id_of)
            if (p.contains(a))
                pr.allowed.push_back(id);
        probes.push_back(pr);
    }

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> lookups{0}, wrong{0};
    auto reader = [&](unsigned seed) {
        rcu_register_thread();
        std::mt19937 r(seed);
        uint8_t dsts[32][16];
        uint32_t nhs[32];
        const Probe* picked[32];
        while (!stop.load(std::memory_order_relaxed)) {
            for (int k = 0; k < 32; k++) {
                picked[k] = &probes[r() % probes.size()];
                std::memcpy(dsts[k], picked[k]->addr.data(), 16);
            }
            t->lookup_bulk(dsts, nhs, 32);
            for (int k = 0; k < 32; k++) {
                const auto& ok = picked[k]->allowed;
                if (std::find(ok.begin(), ok.end(), nhs[k]) == ok.end())
                    wrong.fetch_add(1);
            }
            lookups.fetch_add(32, std::memory_order_relaxed);
            rcu_quiescent_state();
        }
        rcu_unregister_thread();
    };
    std::thread r1(reader, 1), r2(reader, 2);
    std::vector<bool> present(universe.size(), false);
    uint64_t changes = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < until || changes < 20000) {
        size_t i = rng() % universe.size();
        if (present[i])
            ASSERT_TRUE(t->erase(universe[i]));
        else
            ASSERT_TRUE(t->set(universe[i], id_of[universe[i]]).ok());
        present[i] = !present[i];
        if (++changes % 64 == 0)
            t->synchronize();
    }
    stop = true;
    r1.join();
    r2.join();
    EXPECT_GT(lookups.load(), 10000u);
    EXPECT_EQ(wrong.load(), 0u) << "of " << lookups.load() << " lookups during " << changes
                                << " changes";
}

}  // namespace
}  // namespace fp6
