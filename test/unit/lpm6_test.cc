/* Lpm6 on its own, without EAL (so it runs under AddressSanitizer): answers
 * against a brute-force model through random adds and deletes, "table full"
 * with nothing changed, group recycling, and readers racing a writer. */
#include "rib/lpm6.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
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

/* Random adds, changes and deletes of crowded prefixes with next hops
 * 1..next_hops, each followed by lookups checked against the model; then
 * everything deleted. Returns the most prefixes elided at once. */
size_t churn_against_model(unsigned seed, int steps, uint32_t next_hops) {
    auto t = make(1 << 16);
    std::mt19937 rng(seed);
    std::map<Prefix6, uint32_t> model;
    size_t most_elided = 0;
    for (int step = 0; step < steps; step++) {
        Prefix6 p = random_prefix(rng);
        if (model.count(p) && rng() % 3 != 0) {
            EXPECT_TRUE(t->erase(p));
            model.erase(p);
        } else {
            uint32_t nh = 1 + rng() % next_hops;
            EXPECT_TRUE(t->set(p, nh).ok());
            model[p] = nh;
        }
        most_elided = std::max(most_elided, t->elided());
        EXPECT_LE(t->groups_in_use() + t->groups_reserved(), t->max_groups());
        if (rng() % 4 == 0)
            t->compact();  // also unwrites what now repeats its parent
        if (step % 200 == 0)
            t->synchronize();
        for (int k = 0; k < 8 && !model.empty(); k++) {
            Ip6 a = probe_near(rng, model);
            EXPECT_EQ(t->lookup(a.data()), reference(model, a)) << a.str() << " step " << step;
        }
        if (::testing::Test::HasFailure())
            return most_elided;
    }
    EXPECT_EQ(t->size(), model.size());
    for (const auto& [p, nh] : model)
        EXPECT_TRUE(t->erase(p));
    t->synchronize();
    EXPECT_EQ(t->size(), 0u);
    EXPECT_EQ(t->groups_in_use(), 0u) << "every group folds back once its prefixes are gone";
    EXPECT_EQ(t->groups_reserved(), 0u);
    EXPECT_EQ(t->elided(), 0u);
    std::mt19937 probe(3);
    for (int k = 0; k < 1000; k++) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, uint8_t(0xb8 + probe() % 2)};
        for (size_t i = 4; i < 16; i++)
            b[i] = uint8_t(probe());
        EXPECT_EQ(t->lookup(b.data()), 0u);
    }
    return most_elided;
}

TEST(Lpm6, MatchesTheModelThroughRandomChurnAndEmptiesCompletely) {
    churn_against_model(11, 3000, 100000);
}

/* Two next hops: prefixes are elided, written back and elided again all
 * the time. */
TEST(Lpm6, MatchesTheModelWhenPrefixesShareNextHops) {
    EXPECT_GT(churn_against_model(5, 4000, 2), 20u) << "the test elided little: it tests little";
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
        uint8_t dsts[160][16];
        uint32_t nhs[160];
        // Whole vectors, a lone destination, tails of every kind, and more
        // than one pass of the widest walk (64 at a time).
        for (unsigned n : {32u, 1u, 7u, 8u, 15u, 16u, 17u, 31u, 33u, 48u, 49u, 63u, 64u, 65u, 100u,
                           128u, 160u}) {
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

/* A walk reads the n destinations it is given and not one byte past them
 * (the vector walks load whole rows under a mask): here the byte after the
 * last row is an unreadable page. */
TEST_P(Lpm6Walk, ReadsNoDestinationPastTheLast) {
    auto t = make_walking(1 << 10);
    ASSERT_TRUE(t->set(P("2001:db8::/32"), 3).ok());
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 4).ok());
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    ASSERT_EQ(mprotect(static_cast<uint8_t*>(mem) + page, page, PROT_NONE), 0);
    for (unsigned n = 1; n <= 80; n++) {
        auto* rows = reinterpret_cast<uint8_t(*)[16]>(static_cast<uint8_t*>(mem) + page - 16 * n);
        for (unsigned i = 0; i < n; i++)
            std::memcpy(rows[i], (i % 2 ? A("2001:db8:1::9") : A("2001:db8:2::9")).data(), 16);
        uint32_t nhs[80];
        t->lookup_bulk(rows, nhs, n);
        for (unsigned i = 0; i < n; i++)
            ASSERT_EQ(nhs[i], i % 2 ? 4u : 3u) << n << " destinations, destination " << i;
    }
    munmap(mem, 2 * page);
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

/* A prefix whose next hop is its parent's is indexed but not written, and
 * written back as soon as that stops being true, whichever prefix changes. */
TEST(Lpm6, ElidesAPrefixThatRepeatsItsParentsNextHop) {
    auto t = make();
    ASSERT_TRUE(t->set(P("2001:db8::/32"), 1).ok());
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 1).ok());
    EXPECT_EQ(t->elided(), 1u);
    EXPECT_EQ(t->groups_in_use(), 1u) << "only the /32's group";
    EXPECT_EQ(*t->get(P("2001:db8:1::/48")), 1u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 1u);
    // Its own next hop changes: written.
    ASSERT_TRUE(t->set(P("2001:db8:1::/48"), 2).ok());
    EXPECT_EQ(t->elided(), 0u);
    EXPECT_EQ(t->groups_in_use(), 3u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 1u);
    // The parent's changes to the same: unwritten again, at the batch's end.
    ASSERT_TRUE(t->set(P("2001:db8::/32"), 2).ok());
    EXPECT_EQ(t->elided(), 0u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 2u);
    t->compact();
    EXPECT_EQ(t->elided(), 1u);
    t->synchronize();
    EXPECT_EQ(t->groups_in_use(), 1u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 2u);
    // A prefix between them with another next hop: the /48 is its child now.
    ASSERT_TRUE(t->set(P("2001:db8::/40"), 3).ok());
    EXPECT_EQ(t->elided(), 0u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 3u);
    EXPECT_EQ(t->lookup(A("2001:db8:100::1").data()), 2u);
    // ... and it goes again: the /48 repeats the /32 now, and compact()
    // unwrites it where its groups can be kept.
    ASSERT_TRUE(t->erase(P("2001:db8::/40")));
    EXPECT_EQ(t->elided(), 0u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 2u);
    t->compact();
    EXPECT_EQ(t->elided(), 1u);
    EXPECT_EQ(t->groups_reserved(), 3u);
    // The parent goes: the /48 must answer alone.
    ASSERT_TRUE(t->erase(P("2001:db8::/32")));
    EXPECT_EQ(t->elided(), 0u);
    EXPECT_EQ(t->lookup(A("2001:db8:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:2::1").data()), 0u);
    // Added under an elided prefix, and that one deleted.
    ASSERT_TRUE(t->set(P("::/0"), 2).ok());
    t->compact();
    EXPECT_EQ(t->elided(), 1u);
    ASSERT_TRUE(t->set(P("2001:db8:1:1::/64"), 2).ok());
    ASSERT_TRUE(t->set(P("2001:db8:1:2::/64"), 5).ok());
    EXPECT_EQ(t->elided(), 2u);
    ASSERT_TRUE(t->erase(P("2001:db8:1::/48")));
    EXPECT_EQ(t->elided(), 1u) << "the first /64 repeats ::/0 now";
    EXPECT_EQ(t->lookup(A("2001:db8:1:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:1:2::1").data()), 5u);
    ASSERT_TRUE(t->erase(P("::/0")));
    EXPECT_EQ(t->lookup(A("2001:db8:1:1::1").data()), 2u);
    EXPECT_EQ(t->lookup(A("2001:db8:1:3::1").data()), 0u);
    ASSERT_TRUE(t->erase(P("2001:db8:1:1::/64")));
    ASSERT_TRUE(t->erase(P("2001:db8:1:2::/64")));
    t->synchronize();
    EXPECT_EQ(t->groups_in_use(), 0u);
    EXPECT_EQ(t->groups_reserved(), 0u);
    EXPECT_EQ(t->elided(), 0u);
}

/* Deleting a parent writes back its elided children, which needs groups
 * the table may not have free: their reservation guarantees them. */
TEST(Lpm6, DeleteFindsTheGroupsToWriteBackElidedChildren) {
    auto t = make(7);
    ASSERT_TRUE(t->set(P("2001:db8::/32"), 1).ok());      // one group in use
    ASSERT_TRUE(t->set(P("2001:db8:100::/48"), 1).ok());  // elided, keeps 3
    ASSERT_TRUE(t->set(P("2001:db8:200::/48"), 1).ok());  // elided, keeps 3
    EXPECT_EQ(t->groups_in_use(), 1u);
    EXPECT_EQ(t->groups_reserved(), 6u);
    EXPECT_EQ(t->set(P("2001:db8:300::/48"), 1).code(), absl::StatusCode::kResourceExhausted)
        << "kept in full, though one group is in use";
    ASSERT_TRUE(t->erase(P("2001:db8::/32")));
    EXPECT_EQ(t->elided(), 0u);
    EXPECT_EQ(t->groups_reserved(), 0u);
    EXPECT_EQ(t->groups_in_use(), 4u) << "one shared group at bits 24 and 32, one each at 40";
    EXPECT_EQ(t->lookup(A("2001:db8:100::1").data()), 1u);
    EXPECT_EQ(t->lookup(A("2001:db8:200::1").data()), 1u);
    EXPECT_EQ(t->lookup(A("2001:db8:300::1").data()), 0u);
    EXPECT_EQ(t->lookup(A("2001:db8::1").data()), 0u);
}

/* An address and the answers a reader may get for it while the table
 * changes. */
struct Probe {
    Ip6 addr;
    std::vector<uint32_t> allowed;
};

/* Two RCU reader threads looking probes up in bursts of 32 with
 * lookup_bulk() until stop(), counting the answers a probe does not allow. */
class Readers {
  public:
    Readers(const Lpm6& t, const std::vector<Probe>& probes) : t_(t), probes_(probes) {
        for (unsigned seed : {1u, 2u})
            threads_.emplace_back([this, seed] { run(seed); });
    }
    // A failed assertion returns early: the threads stop then too.
    ~Readers() { stop(); }
    void stop() {
        stop_ = true;
        for (std::thread& th : threads_)
            if (th.joinable())
                th.join();
    }
    std::atomic<uint64_t> lookups{0}, wrong{0};

  private:
    void run(unsigned seed) {
        rcu_register_thread();
        std::mt19937 r(seed);
        uint8_t dsts[32][16];
        uint32_t nhs[32];
        const Probe* picked[32];
        while (!stop_.load(std::memory_order_relaxed)) {
            for (int k = 0; k < 32; k++) {
                picked[k] = &probes_[r() % probes_.size()];
                std::memcpy(dsts[k], picked[k]->addr.data(), 16);
            }
            t_.lookup_bulk(dsts, nhs, 32);
            for (int k = 0; k < 32; k++) {
                const auto& ok = picked[k]->allowed;
                if (std::find(ok.begin(), ok.end(), nhs[k]) == ok.end())
                    wrong.fetch_add(1);
            }
            lookups.fetch_add(32, std::memory_order_relaxed);
            rcu_quiescent_state();
        }
        rcu_unregister_thread();
    }
    const Lpm6& t_;
    const std::vector<Probe>& probes_;
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

/* Readers look inside 64 /48s that never change (next hop 1 or 2, each
 * with a /56 of its own next hop inside) while the writer adds, changes and
 * deletes prefixes above them with next hops 1 to 3, so the /48s are elided
 * and written back all the time. Each probe has exactly one right answer;
 * an elided /48 unwritten before its parent's new leaf is in place, or
 * written back after, would show the parent's next hop. */
TEST_P(Lpm6Walk, ElisionNeverShowsAnotherAnswer) {
    auto t = make_walking(1 << 14);
    std::vector<Probe> probes;
    std::mt19937 rng(9);
    for (int x = 0; x < 64; x++) {
        const uint32_t nh = 1 + uint32_t(x % 2);
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8, uint8_t(x >> 2), uint8_t(x << 6)};
        ASSERT_TRUE(t->set(Prefix6(Ip6(b), 48), nh).ok());
        b[6] = 0x80;
        ASSERT_TRUE(t->set(Prefix6(Ip6(b), 56), nh).ok());
        for (int k = 0; k < 8; k++) {
            b[6] = uint8_t(rng());
            for (size_t i = 7; i < 16; i++)
                b[i] = uint8_t(rng());
            probes.push_back({Ip6(b), {nh}});
        }
    }
    const Prefix6 above[] = {P("2001:db8::/32"), P("2001:db8::/40"), P("2001:db8:800::/37"),
                             P("2001:db8::/44"), P("2001:db0::/28")};

    Readers readers(*t, probes);
    uint64_t changes = 0;
    size_t most_elided = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < until || changes < 20000) {
        const Prefix6& p = above[rng() % std::size(above)];
        if (rng() % 3 == 0)
            t->erase(p);
        else
            ASSERT_TRUE(t->set(p, 1 + rng() % 3).ok());
        t->compact();
        most_elided = std::max(most_elided, t->elided());
        if (++changes % 64 == 0)
            t->synchronize();
    }
    readers.stop();
    EXPECT_GT(most_elided, 60u) << "the /48s were rarely elided: the test tests little";
    EXPECT_GT(readers.lookups.load(), 10000u);
    EXPECT_EQ(readers.wrong.load(), 0u)
        << "of " << readers.lookups.load() << " lookups during " << changes << " changes";
}

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
    std::vector<Probe> probes;
    for (int k = 0; k < 512; k++) {
        Ip6 a = probe_near(rng, id_of);
        Probe pr{a, {kCover}};
        for (const auto& [p, id] : id_of)
            if (p.contains(a))
                pr.allowed.push_back(id);
        probes.push_back(pr);
    }

    Readers readers(*t, probes);
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
    readers.stop();
    EXPECT_GT(readers.lookups.load(), 10000u);
    EXPECT_EQ(readers.wrong.load(), 0u)
        << "of " << readers.lookups.load() << " lookups during " << changes << " changes";
}

}  // namespace
}  // namespace fp6
