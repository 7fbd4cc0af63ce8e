/* The FIB and the next-hop table under concurrent readers: whatever the
 * writer does, a reader only ever sees states the table went through. */
#include "rib/fib.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "rib/nexthop.h"
#include "test/unit/eal_env.h"

namespace fp6 {
namespace {

Prefix6 P(const char* s) {
    return *Prefix6::parse(s);
}
Ip6 A(const char* s) {
    return *Ip6::parse(s);
}

/* The test thread writes the tables here; Fib::publish() waits for a grace
 * period, so the thread is offline while it does. */
struct Offline {
    Offline() { rcu_thread_offline(); }
    ~Offline() { rcu_thread_online(); }
};

TEST(Fib, LongestMatchWinsAndMissIsZero) {
    Offline off;
    Fib fib;
    ASSERT_TRUE(fib.set(P("2001:db8::/32"), 1).ok());
    ASSERT_TRUE(fib.set(P("2001:db8:1::/48"), 2).ok());
    ASSERT_TRUE(fib.set(P("2001:db8:1::5/128"), 3).ok());
    ASSERT_TRUE(fib.set(P("::/0"), 4).ok());
    fib.commit(true);
    EXPECT_EQ(fib.lookup(A("2001:db8:2::1")), 1u);
    EXPECT_EQ(fib.lookup(A("2001:db8:1::1")), 2u);
    EXPECT_EQ(fib.lookup(A("2001:db8:1::5")), 3u);
    EXPECT_EQ(fib.lookup(A("3000::1")), 4u);
    EXPECT_TRUE(fib.erase(P("::/0")));
    EXPECT_TRUE(fib.erase(P("2001:db8:1::/48")));
    EXPECT_TRUE(fib.erase(P("2001:db8:1::5/128")));
    fib.commit(true);
    EXPECT_EQ(fib.lookup(A("3000::1")), 0u);
    EXPECT_EQ(fib.lookup(A("2001:db8:1::5")), 1u);
    EXPECT_EQ(fib.size(), 1u);
}

TEST(Fib, EmptyTableAnswersNoRoute) {
    Fib fib;
    EXPECT_EQ(fib.lookup(A("2001:db8::1")), 0u);
    EXPECT_FALSE(fib.erase(P("2001:db8::/32")));
}

/* Readers look up addresses under stable prefixes (whose answer never
 * changes) and under churning ones (present with their own next hop, or
 * absent and then covered by the stable /32) while the writer republishes
 * the table and the next hops as fast as it can. */
TEST(Fib, ConcurrentReadersSeeOnlyPublishedStates) {
    Fib fib;
    NextHopTable nhs(1024);
    constexpr int kStable = 8, kChurn = 64;
    std::vector<uint32_t> stable_id(kStable), churn_id(kChurn);
    auto nh_with_mac = [](uint8_t v) {
        NextHop nh;
        nh.kind = NhKind::kNeighbor;
        nh.resolved = true;
        std::memset(nh.l2.dst_addr.addr_bytes, v, 6);
        return nh;
    };
    for (auto& id : stable_id) {
        id = nhs.alloc();
        nhs.publish(id, nh_with_mac(1));
    }
    for (auto& id : churn_id) {
        id = nhs.alloc();
        nhs.publish(id, nh_with_mac(1));
    }
    auto stable_prefix = [](int i) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, uint8_t(0xb0 + i)};
        return Prefix6(Ip6(b), 32);
    };
    auto churn_prefix = [](int i) {
        std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb0, 0, uint8_t(i), 0, 0};
        return Prefix6(Ip6(b), 56);  // inside stable prefix 0
    };
    for (int i = 0; i < kStable; i++)
        ASSERT_TRUE(fib.set(stable_prefix(i), stable_id[i]).ok());

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> lookups{0}, wrong{0};
    auto reader = [&](int seed) {
        rcu_register_thread();
        std::mt19937 rng(seed);
        uint8_t dsts[32][16];
        uint32_t ids[32];
        int kind[32];
        while (!stop.load(std::memory_order_relaxed)) {
            for (int k = 0; k < 32; k++) {
                kind[k] = int(rng() % (kStable + kChurn));
                Prefix6 p =
                    kind[k] < kStable ? stable_prefix(kind[k]) : churn_prefix(kind[k] - kStable);
                std::memcpy(dsts[k], p.addr().data(), 16);
                dsts[k][15] = uint8_t(rng());
                if (kind[k] < kStable)
                    dsts[k][4] = 0xff;  // outside every churning /56
            }
            fib.lookup_bulk(dsts, ids, 32);
            for (int k = 0; k < 32; k++) {
                bool ok = kind[k] < kStable
                              ? ids[k] == stable_id[kind[k]]
                              : ids[k] == churn_id[kind[k] - kStable] || ids[k] == stable_id[0];
                const NextHop* nh = nhs.get(uint32_t(ids[k]));
                // A next hop is replaced whole: all six MAC bytes agree.
                const uint8_t* m = nh ? nh->l2.dst_addr.addr_bytes : nullptr;
                ok = ok && nh != nullptr && nh->id == ids[k] &&
                     std::all_of(m, m + 6, [&](uint8_t b) { return b == m[0]; });
                if (!ok)
                    wrong.fetch_add(1);
            }
            lookups.fetch_add(32, std::memory_order_relaxed);
            rcu_quiescent_state();
        }
        rcu_unregister_thread();
    };
    std::thread r1(reader, 1), r2(reader, 2);
    // The writer must not hold up the grace periods it starts.
    rcu_thread_offline();
    std::mt19937 rng(7);
    std::vector<bool> present(kChurn, false);
    for (int round = 0; round < 150 || lookups.load() < 20000; round++) {
        for (int k = 0; k < 8; k++) {
            int i = int(rng() % kChurn);
            present[i] = !present[i];
            if (present[i])
                ASSERT_TRUE(fib.set(churn_prefix(i), churn_id[i]).ok());
            else
                ASSERT_TRUE(fib.erase(churn_prefix(i)));
        }
        fib.commit(round % 4 == 0);
        nhs.publish(churn_id[round % kChurn], nh_with_mac(uint8_t(round)));
    }
    stop = true;
    r1.join();
    r2.join();
    rcu_thread_online();
    EXPECT_GT(lookups.load(), 1000u);
    EXPECT_EQ(wrong.load(), 0u);
}

TEST(NextHopTable, RecyclesIdsOnlyAfterAGracePeriod) {
    NextHopTable nhs(3);  // ids 1 and 2 usable
    uint32_t a = nhs.alloc(), b = nhs.alloc();
    EXPECT_NE(a, 0u);
    EXPECT_NE(b, 0u);
    EXPECT_EQ(nhs.alloc(), 0u) << "table full";
    nhs.publish(a, NextHop{});
    nhs.release(a);
    EXPECT_EQ(nhs.get(a), nullptr);
    test::EalEnv::quiescent();
    rcu_thread_offline();
    rcu_barrier();  // the recycling callback has run
    rcu_thread_online();
    EXPECT_EQ(nhs.alloc(), a);
}

}  // namespace
}  // namespace fp6
