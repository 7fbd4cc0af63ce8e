/* Lpm6: fp6's longest-prefix-match table for IPv6, updated in place while
 * workers read it.
 *
 * Layout. The first 24 bits of a destination index a table of 2^24 entries;
 * every further byte indexes a 256-entry group. An entry is either a leaf
 * (a next hop id and the length of the prefix that put it there) or a link
 * to the group that resolves the next byte:
 *
 *     bit 31      1: link, bits 30..0 = group index x 256 (the group's
 *                    first entry, so that a level costs no shift)
 *                 0: leaf, bits 30..23 = prefix length, bits 22..0 = next hop
 *
 * A lookup is one load per level and never more than 14 (/128). Keeping the
 * prefix length in each leaf makes updates local: adding P/d overwrites only
 * the leaves under P whose length is <= d (less specific owners), deleting it
 * rewrites only the leaves of length d with P's closest covering prefix.
 *
 * Concurrency. One writer (the control thread) calls set()/erase()/
 * synchronize(); any number of RCU (QSBR) readers call lookup*() at the same
 * time. Every change is a sequence of aligned 4-byte stores, each leaving the
 * table in a state where any destination resolves to its old or its new
 * answer:
 *   - a new group is filled completely before the link to it is stored (with
 *     release order; readers load with acquire);
 *   - a group that no longer adds anything is first replaced by a leaf in its
 *     parent and then retired; retired groups are reused only after a grace
 *     period (synchronize()), so a reader that followed the old link still
 *     reads the values that were there. This is what DPDK 22.11's rte_fib6
 *     lacks: it recycles a group at once, and a concurrent reader can see
 *     another prefix's next hop.
 * Writer calls may wait for a grace period, so the writer must not be an
 * online RCU reader.
 *
 * Elision. A prefix whose next hop is its parent's (the longest other
 * prefix covering it) would write leaves that answer what is there
 * already, so it is only indexed, not written: the table holds the
 * prefixes that change an answer, and a table whose routes share gateways
 * needs far fewer groups (the real table with one next hop: 26,751 instead
 * of 48,908), so its lookups touch fewer cache lines. rte_fib6 does the
 * same (25,968 for that table). Every change re-checks the changed
 * prefix's children (the prefixes whose parent it is or was): a child that
 * must now answer for itself is written before its parent's range changes,
 * so that no answer ever differs from both the old and the new one; one
 * that now repeats its parent is unwritten later, by compact() at the end
 * of a batch (a churn that deletes and re-adds the prefix above it would
 * otherwise write it back and unwrite it again at every step). An
 * unwritten prefix's range holds the leaves of the written prefix above
 * it, with that prefix's depth, which is what later fills and deletes
 * match on.
 *
 * Capacity. Writing an elided prefix back (when the prefix above it is
 * deleted or changes next hop) needs groups, and delete cannot fail. So
 * each elided prefix keeps the groups its path could need (one per byte
 * past the 24th) reserved, and set() refuses what would take the groups in
 * use plus the reservation past max_groups; delete writes elided children
 * back from their own reservation, and compact() unwrites only what it can
 * keep groups for.
 * rte_fib6 reserves in the same spirit, for every prefix.
 *
 * Memory. Both tables are reserved as anonymous virtual memory and only the
 * pages written are backed: an empty table costs nothing, a table with a
 * default route costs 64 MiB for the first level, and each group 1 KiB
 * (and 2 bytes for its count of deep entries). No EAL is needed, so the
 * table is testable under sanitizers on its own. */
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ip6.h"

namespace fp6 {

class Lpm6 {
  public:
    static constexpr uint32_t kMaxNextHop = (1u << 23) - 1;
    // 4 GiB of address space reserved, backed only where written: an elided
    // prefix keeps up to 13 groups (see Capacity above); the real table with
    // one next hop uses 26,751 and keeps 368,114.
    static constexpr uint32_t kDefaultMaxGroups = 1u << 22;
    static constexpr uint32_t kMaxGroups = 1u << 23;  // what a link can address
    /* Groups (1 KiB each) past which the table is taken to outgrow the
     * caches: lookup_bulk() then walks level by level (see there). */
    static constexpr uint32_t kCachedGroups = 2048;

    /* Reserves the address space; ResourceExhausted when that fails. */
    static absl::StatusOr<std::unique_ptr<Lpm6>> create(uint32_t max_groups = kDefaultMaxGroups);
    ~Lpm6();
    Lpm6(const Lpm6&) = delete;
    Lpm6& operator=(const Lpm6&) = delete;

    /* Readers. The next hop of the longest prefix covering dst, 0 if none. */
    uint32_t lookup(const uint8_t* dst) const noexcept {
        uint32_t e = load(&tbl24_[uint32_t(dst[0]) << 16 | uint32_t(dst[1]) << 8 | dst[2]]);
        for (int byte = 3; e & kLink; byte++)
            e = load(next(groups_, e, dst[byte]));
        return e & kNhMask;
    }
    /* The same for n destinations, in the walk set_walk() chose. */
    void lookup_bulk(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept {
        switch (walk_.load(std::memory_order_relaxed)) {
            case Walk::kAvx512:
                lookup_avx512(dsts, nhs, n);
                return;
            case Walk::kAvx2:
                lookup_avx2(dsts, nhs, n);
                return;
            case Walk::kScalar:
                break;
        }
        lookup_scalar(dsts, nhs, n);
    }

    /* How lookup_bulk() walks the table. kScalar: one destination after the
     * other while the table fits the caches, level by level across the
     * batch once it does not (see kCachedGroups). kAvx2 and kAvx512: 8 or
     * up to 64 destinations at once, a level at a time, with gathers. All
     * give the same answers, and read no byte past the n-th destination. */
    enum class Walk : uint8_t { kScalar, kAvx2, kAvx512 };
    static const char* walk_name(Walk w) noexcept;
    /* Whether this CPU (and the OS, which must save the wider registers)
     * runs `w`. No EAL needed. */
    static bool cpu_has(Walk w) noexcept;
    /* Any thread, any time: readers take the new walk at their next
     * lookup_bulk(). False, and nothing changed, when the CPU lacks it. */
    bool set_walk(Walk w) noexcept;
    Walk walk() const noexcept { return walk_.load(std::memory_order_relaxed); }

    /* Writer. Adds p -> nh or changes the next hop of p. Refused with
     * ResourceExhausted "table full" when p's groups cannot be reserved
     * (nothing changes then), InvalidArgument when nh is 0 or above
     * kMaxNextHop or p has host bits. */
    absl::Status set(const Prefix6& p, uint32_t nh);
    /* Writer. Removes p; false when p is not in the table. Never short of
     * groups (see Capacity); may wait for a grace period to reuse some. */
    bool erase(const Prefix6& p);
    /* Writer, at the end of a batch of set()/erase(): unwrites the prefixes
     * that came to repeat their parent's next hop during it (see Elision).
     * Never changes an answer. */
    void compact();
    /* Writer. When groups were retired (or `always`), waits for a grace
     * period and makes the groups retired before the call reusable. set()
     * does this by itself when it runs short. */
    void synchronize(bool always = false);

    /* Writer, best before any route. Backs the memory of the first
     * `groups` groups (capped at max_groups()) now, so that the routes that
     * later use them do not wait for the kernel to find and clear pages: a
     * first load of the real table spends about a fifth of its time there.
     * Returns the bytes populated; 0 when the kernel refused (nothing is
     * lost then: pages are backed on first use as before). */
    size_t populate(uint32_t groups) noexcept;

    /* Writer side views. */
    std::optional<uint32_t> get(const Prefix6& p) const;
    size_t size() const noexcept { return size_; }
    uint32_t groups_in_use() const noexcept {
        return high_water_ - uint32_t(free_.size()) - uint32_t(retired_.size());
    }
    uint32_t groups_retired() const noexcept { return uint32_t(retired_.size()); }
    /* Groups kept for the elided prefixes (see Capacity); with
     * groups_in_use(), at most max_groups(). */
    uint64_t groups_reserved() const noexcept { return reserved_; }
    /* Prefixes indexed but not written (see Elision). */
    size_t elided() const noexcept { return elided_; }
    uint32_t max_groups() const noexcept { return max_groups_; }
    /* Bytes of table memory written so far (first level pages touched plus
     * groups ever handed out) and of the writer's prefix index. */
    size_t table_bytes() const noexcept;
    size_t index_bytes() const noexcept;

  private:
    static constexpr uint32_t kLink = 1u << 31;
    // In an index value, beside the next hop: the prefix is elided.
    static constexpr uint32_t kElided = 1u << 31;
    static uint32_t nh_of(uint32_t value) noexcept { return value & ~kElided; }
    static constexpr uint32_t kNhMask = kMaxNextHop;
    static constexpr int kDepthShift = 23;

    static uint32_t load(const uint32_t* p) noexcept {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static void store(uint32_t* p, uint32_t v) noexcept {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static uint32_t leaf(uint32_t nh, int depth) noexcept {
        return uint32_t(depth) << kDepthShift | nh;
    }
    static int depth_of(uint32_t e) noexcept { return int(e >> kDepthShift); }

    Lpm6(uint32_t* tbl24, uint32_t* groups, uint16_t* deep, uint32_t max_groups);
    /* The entry that link e leads to for byte b. The link's flag is taken
     * off by biasing the base address instead of masking e: one operation
     * less on the chain of dependent loads a lookup is (unsigned address
     * arithmetic, so the bias wraps back). */
    static const uint32_t* next(const uint32_t* groups, uint32_t e, uint8_t b) noexcept {
        const uintptr_t biased = reinterpret_cast<uintptr_t>(groups) - uintptr_t(kLink) * 4;
        return reinterpret_cast<const uint32_t*>(biased + (uintptr_t(e) + b) * 4);
    }
    static uint32_t link_to(uint32_t group) noexcept { return kLink | group << 8; }
    static uint32_t group_of(uint32_t link) noexcept { return (link & ~kLink) >> 8; }
    uint32_t* group(uint32_t link) const noexcept { return groups_ + (link & ~kLink); }
    uint32_t group_index(const uint32_t* g) const noexcept { return uint32_t((g - groups_) >> 8); }
    /* An entry that keeps its group from folding: a link, or a leaf of a
     * prefix longer than `start`, the bit the group's level starts at. */
    static bool deep(uint32_t e, int start) noexcept { return (e & kLink) || depth_of(e) > start; }
    /* Stores entry i of t, a table at `level` (0: the first level), keeping
     * the group's count of deep entries (deep_) and the first level's
     * written pages. */
    void put(uint32_t* t, int level, uint32_t i, uint32_t value);
    uint32_t groups_available() const noexcept {
        return uint32_t(free_.size()) + (max_groups_ - high_water_);
    }
    uint32_t alloc_group();
    void lookup_scalar(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept;
    void lookup_by_level(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept;
    /* In lpm6_simd.cc, compiled for their instruction sets; called only
     * where cpu_has() said yes. */
    void lookup_avx2(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept;
    void lookup_avx512(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept;
    template <unsigned NV>
    void walk_avx2(const uint8_t (*dsts)[16], uint32_t* nhs) const noexcept;
    template <unsigned NV>
    void walk_avx512(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept;
    /* Groups p's path still lacks. */
    uint32_t groups_missing(const Ip6& a, int depth) const;
    /* Stores `value` into entries [first, first + count) of `t` (a table at
     * `level`) whose depth is in [lo, hi], descending into linked groups. */
    void fill(uint32_t* t, int level, uint32_t first, uint32_t count, uint32_t value, int lo,
              int hi);
    /* The leaf of the longest written prefix shorter than `depth` covering
     * a (0 if none). */
    uint32_t covering_leaf(const Ip6& a, int depth) const;
    /* A prefix and its index value. */
    struct Kin {
        Ip6 addr;
        int len;
        uint32_t value;
    };
    /* The leaf of the longest written prefix shorter than `depth` covering
     * a, as covering_leaf(), from the table where it can. */
    uint32_t written_cover(const Ip6& a, int depth) const;
    /* The table's answer for a (writer side: plain loads). */
    uint32_t leaf_at(const Ip6& a) const;
    /* A prefix as the ordered index keeps it: the address as two integers
     * in host order, then the length. Sorted by address, then length, a
     * prefix comes before those inside it, and they follow it together.
     * Comparisons are integer compares: the byte swaps are done when a key
     * is made or turned back into an address, not at every comparison. */
    struct Key {
        uint64_t hi, lo;
        uint32_t len;

        static Key of(const Ip6& a, int len) noexcept {
            uint64_t w[2];
            std::memcpy(w, a.data(), 16);
            return {__builtin_bswap64(w[0]), __builtin_bswap64(w[1]), uint32_t(len)};
        }
        static Key of(const Prefix6& p) noexcept { return of(p.addr(), p.len()); }
        Ip6 addr() const noexcept {
            const uint64_t w[2] = {__builtin_bswap64(hi), __builtin_bswap64(lo)};
            std::array<uint8_t, 16> b;
            std::memcpy(b.data(), w, 16);
            return Ip6(b);
        }
        /* The last key inside this prefix: its last address, as a /128. */
        Key last() const noexcept {
            const uint64_t hi_host = len >= 64 ? 0 : ~uint64_t(0) >> len;
            const uint64_t lo_host = len >= 128  ? 0
                                     : len <= 64 ? ~uint64_t(0)
                                                 : ~uint64_t(0) >> (len - 64);
            return {hi | hi_host, lo | lo_host, 128};
        }
        bool operator<(const Key& o) const noexcept {
            if (hi != o.hi)
                return hi < o.hi;
            if (lo != o.lo)
                return lo < o.lo;
            return len < o.len;
        }
    };
    using Ordered = absl::btree_set<Key>;
    /* Calls f(Kin) for each child of p: each prefix inside it with no
     * other prefix between them. `first`: the first prefix after p in
     * ordered_. */
    template <class F>
    void for_each_child(const Prefix6& p, Ordered::const_iterator first, F&& f) const;
    /* Writes a/depth -> nh into the table, creating its path's groups. */
    void materialize(const Ip6& a, int depth, uint32_t nh);
    /* Rewrites the leaves a/depth wrote with `cover` (the leaf of the
     * written prefix above it), and folds the groups that no longer add
     * anything. */
    void unmaterialize(const Ip6& a, int depth, uint32_t cover);
    /* Counts a prefix of length len into (or out of) the elided ones and
     * their reservation (see Capacity). */
    void count_elided(int len, bool elided);
    /* Sets the elided flag of a prefix in the index, and counts it. */
    void mark(const Kin& k, bool elided);
    bool length_used(int len) const noexcept { return len_bits_[len >> 6] >> (len & 63) & 1; }

    // What readers load at every lookup, alone on a cache line: the
    // writer's stores to its own fields below would otherwise take the
    // line from every worker's cache at each update (measured: fib_bench's
    // churn reader 140 -> 158 M lookups/s).
    alignas(64) uint32_t* tbl24_;
    uint32_t* groups_;
    /* Set by the writer once more than kCachedGroups groups were handed
     * out; readers then walk lookup_bulk() level by level. */
    std::atomic<bool> by_level_{false};
    std::atomic<Walk> walk_{Walk::kScalar};
    // The writer's.
    /* Per group, its deep entries: none, and the group folds into its
     * parent's entry (found without reading the group's 256 entries). */
    alignas(64) uint16_t* deep_;
    uint32_t max_groups_;
    uint32_t high_water_ = 0;
    std::vector<uint32_t> free_;     // reusable now
    std::vector<uint32_t> retired_;  // reusable after the next grace period
    std::vector<bool> tbl24_pages_;  // which 2 MiB pages of the first level were written
    std::array<absl::flat_hash_map<Ip6, uint32_t>, 129> by_len_;  // next hop | kElided
    Ordered ordered_;                                             // the same prefixes
    uint64_t reserved_ = 0;
    size_t elided_ = 0;
    std::vector<Prefix6> unwrite_later_;  // for compact()
    std::array<uint64_t, 3> len_bits_{};  // lengths with at least one prefix
    size_t size_ = 0;
};

}  // namespace fp6
