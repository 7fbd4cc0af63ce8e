#include "rib/lpm6.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/rcu.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14 (older glibc headers lack it); older kernels: EINVAL
#endif

namespace fp6 {
namespace {

constexpr size_t kTbl24Entries = size_t(1) << 24;
constexpr size_t kGroupBytes = 256 * sizeof(uint32_t);
constexpr uint32_t kTbl24PageShift = 19;  // 2 MiB of 4-byte entries

void* reserve(size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return nullptr;
    // Large pages where the kernel offers them: fewer TLB misses per lookup.
    madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

/* The first 24 bits of an address: one 4-byte load and a byte swap rather
 * than three byte loads. */
uint32_t index24(const uint8_t* a) {
    uint32_t w;
    std::memcpy(&w, a, sizeof(w));
    return __builtin_bswap32(w) >> 8;
}

/* Level 0 is the first table (bits 0..23); level k >= 1 resolves byte 2 + k.
 * The level at which a prefix of length `depth` ends: */
int last_level(int depth) {
    return depth <= 24 ? 0 : (depth - 24 + 7) / 8;
}
int level_end(int level) {
    return 24 + 8 * level;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Lpm6>> Lpm6::create(uint32_t max_groups) {
    if (max_groups == 0 || max_groups > kMaxGroups)
        return absl::InvalidArgumentError(fmt::format("bad group count {}", max_groups));
    auto* tbl24 = static_cast<uint32_t*>(reserve(kTbl24Entries * sizeof(uint32_t)));
    auto* groups = static_cast<uint32_t*>(reserve(size_t(max_groups) * kGroupBytes));
    auto* deep = static_cast<uint16_t*>(reserve(size_t(max_groups) * sizeof(uint16_t)));
    if (tbl24 == nullptr || groups == nullptr || deep == nullptr) {
        if (tbl24 != nullptr)
            munmap(tbl24, kTbl24Entries * sizeof(uint32_t));
        if (groups != nullptr)
            munmap(groups, size_t(max_groups) * kGroupBytes);
        if (deep != nullptr)
            munmap(deep, size_t(max_groups) * sizeof(uint16_t));
        return absl::ResourceExhaustedError(
            fmt::format("cannot reserve address space for {} FIB groups", max_groups));
    }
    return std::unique_ptr<Lpm6>(new Lpm6(tbl24, groups, deep, max_groups));
}

Lpm6::Lpm6(uint32_t* tbl24, uint32_t* groups, uint16_t* deep, uint32_t max_groups)
    : tbl24_(tbl24),
      groups_(groups),
      deep_(deep),
      max_groups_(max_groups),
      tbl24_pages_(kTbl24Entries >> kTbl24PageShift) {}

Lpm6::~Lpm6() {
    munmap(tbl24_, kTbl24Entries * sizeof(uint32_t));
    munmap(groups_, size_t(max_groups_) * kGroupBytes);
    munmap(deep_, size_t(max_groups_) * sizeof(uint16_t));
}

const char* Lpm6::walk_name(Walk w) noexcept {
    switch (w) {
        case Walk::kScalar:
            return "scalar";
        case Walk::kAvx2:
            return "avx2";
        case Walk::kAvx512:
            return "avx512";
    }
    return "unknown";
}

bool Lpm6::cpu_has(Walk w) noexcept {
    switch (w) {
        case Walk::kScalar:
            return true;
#if defined(__x86_64__)
        // libgcc's CPU model checks both cpuid and the registers the OS saves (xgetbv).
        case Walk::kAvx2:
            return __builtin_cpu_supports("avx2");
        case Walk::kAvx512:
            return __builtin_cpu_supports("avx512f");
#else
        case Walk::kAvx2:
        case Walk::kAvx512:
            return false;
#endif
    }
    return false;
}

bool Lpm6::set_walk(Walk w) noexcept {
    if (!cpu_has(w))
        return false;
    walk_.store(w, std::memory_order_relaxed);
    return true;
}

void Lpm6::lookup_scalar(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept {
    // Two ways, measured (docs/performance.md): walking level by level
    // across the batch overlaps the cache misses of a large table (random
    // destinations of the real table: 14 ns a lookup against 18 ns), while
    // a table that fits the caches is walked faster one destination after
    // the other, in about half the instructions a level.
    if (by_level_.load(std::memory_order_relaxed)) {
        lookup_by_level(dsts, nhs, n);
        return;
    }
    // The walks are independent: the core runs several at once, out of
    // order. First-level entries are fetched a few destinations ahead.
    constexpr unsigned kAhead = 4;
    const uint32_t* const tbl24 = tbl24_;
    const uint32_t* const groups = groups_;
    for (unsigned i = 0; i < n && i < kAhead; i++)
        __builtin_prefetch(&tbl24[index24(dsts[i])]);
    for (unsigned i = 0; i < n; i++) {
        if (i + kAhead < n)
            __builtin_prefetch(&tbl24[index24(dsts[i + kAhead])]);
        const uint8_t* d = dsts[i];
        uint32_t e = load(&tbl24[index24(d)]);
        // Unrolled: each level reads its byte at a fixed offset, with no
        // counter to step (four instructions a level instead of six). A
        // /128's leaf is at byte 15, so the walk always ends by then.
#pragma GCC unroll 13
        for (int byte = 3; byte < 16; byte++) {
            if (!(e & kLink))
                break;
            e = load(next(groups, e, d[byte]));
        }
        nhs[i] = e & kNhMask;
    }
}

void Lpm6::lookup_by_level(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept {
    // Level by level across the batch: the loads of one level are
    // independent of each other, so their cache misses overlap instead of
    // queueing behind one destination's chain.
    constexpr unsigned kChunk = 64;
    uint32_t e[kChunk];
    // The tables' addresses in registers: the acquire loads below would
    // otherwise make the compiler read the members again every time.
    const uint32_t* const tbl24 = tbl24_;
    const uint32_t* const groups = groups_;
    for (unsigned base = 0; base < n; base += kChunk) {
        const unsigned m = std::min(kChunk, n - base);
        const uint8_t(*d)[16] = dsts + base;
        uint32_t deeper = 0;
        for (unsigned i = 0; i < m; i++) {
            e[i] = load(&tbl24[index24(d[i])]);
            deeper |= e[i];
        }
        for (int byte = 3; (deeper & kLink) && byte < 16; byte++) {
            deeper = 0;
            for (unsigned i = 0; i < m; i++) {
                if (e[i] & kLink)
                    e[i] = load(next(groups, e[i], d[i][byte]));
                deeper |= e[i];
            }
        }
        for (unsigned i = 0; i < m; i++)
            nhs[base + i] = e[i] & kNhMask;
    }
}

uint32_t Lpm6::alloc_group() {
    if (!free_.empty()) {
        uint32_t g = free_.back();
        free_.pop_back();
        return g;
    }
    if (high_water_ == kCachedGroups)
        by_level_.store(true, std::memory_order_relaxed);
    return high_water_++;
}

uint32_t Lpm6::groups_missing(const Ip6& a, int depth) const {
    int last = last_level(depth);
    const uint32_t* t = tbl24_;
    uint32_t i = index24(a.data());
    for (int level = 1; level <= last; level++) {
        uint32_t e = t[i];
        if (!(e & kLink))
            return uint32_t(last - level + 1);
        t = group(e);
        i = a.data()[2 + level];
    }
    return 0;
}

void Lpm6::put(uint32_t* t, int level, uint32_t i, uint32_t value) {
    if (level == 0) {
        tbl24_pages_[i >> kTbl24PageShift] = true;
    } else {
        const int start = level_end(level - 1);
        deep_[group_index(t)] += uint16_t(int(deep(value, start)) - int(deep(t[i], start)));
    }
    store(&t[i], value);
}

void Lpm6::fill(uint32_t* t, int level, uint32_t first, uint32_t count, uint32_t value, int lo,
                int hi) {
    for (uint32_t i = first; i < first + count; i++) {
        uint32_t e = t[i];
        if (e & kLink) {
            fill(group(e), level + 1, 0, 256, value, lo, hi);
        } else if (int d = depth_of(e); d >= lo && d <= hi && e != value) {
            put(t, level, i, value);
        }
    }
}

uint32_t Lpm6::covering_leaf(const Ip6& a, int depth) const {
    for (int len = depth - 1; len >= 0; len--) {
        if (!length_used(len))
            continue;
        const auto& m = by_len_[size_t(len)];
        if (auto it = m.find(a.masked(len)); it != m.end() && !(it->second & kElided))
            return leaf(it->second, len);
    }
    return 0;
}

uint32_t Lpm6::leaf_at(const Ip6& a) const {
    uint32_t e = tbl24_[index24(a.data())];
    for (int byte = 3; (e & kLink) && byte < 16; byte++)
        e = *next(groups_, e, a.data()[byte]);
    return e;
}

uint32_t Lpm6::written_cover(const Ip6& a, int depth) const {
    // The table answers first. The leaf it gives for an address is the
    // longest written prefix covering it; for a's first address, or for
    // the first address of a/depth's sibling (its last bit flipped: every
    // prefix shorter than depth covering one covers the other), a leaf
    // shorter than `depth` is therefore the one asked for. A written
    // a/depth, or prefixes inside it and inside its sibling at those
    // addresses, hide it: then the index says.
    if (uint32_t e = leaf_at(a); depth_of(e) < depth)
        return e;
    if (depth > 0) {
        std::array<uint8_t, 16> b = a.bytes();
        b[size_t(depth - 1) / 8] ^= uint8_t(0x80 >> ((depth - 1) % 8));
        if (uint32_t e = leaf_at(Ip6(b)); depth_of(e) < depth)
            return e;
    }
    return covering_leaf(a, depth);
}

template <class F>
void Lpm6::for_each_child(const Prefix6& p, Ordered::const_iterator first, F&& f) const {
    // In ordered_, the prefixes inside p follow it, and a prefix comes
    // before those inside it: the first one is a child, and so is the first
    // one past each child's own range.
    const Key last = Key::of(p).last();
    auto it = first;
    while (it != ordered_.end() && !(last < *it)) {
        const Key k = *it;
        const Ip6 a = k.addr();
        f(Kin{a, int(k.len), by_len_[k.len].at(a)});
        it = ordered_.upper_bound(k.last());
    }
}

void Lpm6::count_elided(int len, bool elided) {
    const uint32_t levels = uint32_t(last_level(len));
    if (elided) {
        elided_++;
        reserved_ += levels;
    } else {
        elided_--;
        reserved_ -= levels;
    }
}

void Lpm6::mark(const Kin& k, bool elided) {
    by_len_[size_t(k.len)][k.addr] = nh_of(k.value) | (elided ? kElided : 0);
    count_elided(k.len, elided);
}

absl::Status Lpm6::set(const Prefix6& p, uint32_t nh) {
    if (nh == 0 || nh > kMaxNextHop)
        return absl::InvalidArgumentError(fmt::format("next hop id {} out of range", nh));
    if (p.has_host_bits())
        return absl::InvalidArgumentError(fmt::format("prefix {} has host bits", p.str()));
    const Ip6& a = p.addr();
    const int depth = p.len();
    auto& index = by_len_[size_t(depth)];
    const auto found = index.find(a);
    const bool existed = found != index.end();
    const uint32_t old = existed ? found->second : 0;
    if (existed && nh_of(old) == nh)
        return absl::OkStatus();

    // p's parent (the longest prefix above it) has the next hop of the
    // written prefix above p: that one's leaf is what answers for p when p
    // is elided.
    const uint32_t cover = written_cover(a, depth);
    const bool elide = cover != 0 && (cover & kNhMask) == nh;
    const bool was_elided = existed && (old & kElided);
    // p's children now have p's next hop as their parent's. They follow p
    // in ordered_, where a new p goes just before them.
    const Key key = Key::of(p);
    const auto after = existed ? std::next(ordered_.find(key)) : ordered_.upper_bound(key);
    std::vector<Kin> to_write;
    const uint64_t reserve = elide && !was_elided ? uint32_t(last_level(depth)) : 0;
    for_each_child(p, after, [&](const Kin& k) {
        const bool was = k.value & kElided, now = nh_of(k.value) == nh;
        if (was && !now)
            to_write.push_back(k);
        else if (!was && now)
            unwrite_later_.push_back(Prefix6(k.addr, k.len));  // compact()
    });
    // What is written now, plus what the elided prefixes may need, stays
    // within max_groups (see Capacity; the children written back draw on
    // their own reservation).
    const uint32_t missing = !elide && (!existed || was_elided) ? groups_missing(a, depth) : 0;
    if (uint64_t(groups_in_use()) + missing + reserved_ + reserve > max_groups_)
        return absl::ResourceExhaustedError(fmt::format(
            "table full: {} needs {} more groups, {} of {} in use, {} kept for elided prefixes",
            p.str(), missing + reserve, groups_in_use(), max_groups_, reserved_));

    for (const Kin& k : to_write) {  // before p's range changes: they keep their answer
        materialize(k.addr, k.len, nh_of(k.value));
        mark(k, false);
    }
    if (!elide)
        materialize(a, depth, nh);
    else if (existed && !was_elided)
        unmaterialize(a, depth, cover);  // what is above gives nh already

    index.insert_or_assign(a, nh | (elide ? kElided : 0));
    if (!existed) {
        ordered_.insert(after, key);
        size_++;
        len_bits_[size_t(depth) >> 6] |= uint64_t(1) << (depth & 63);
    }
    if (elide != was_elided)
        count_elided(depth, elide);
    return absl::OkStatus();
}

void Lpm6::compact() {
    // Each is unwritten only if it still repeats the written prefix above
    // it (so no answer changes) and its groups can be kept; otherwise it
    // stays written, which is as right, only larger.
    std::vector<Prefix6> todo = std::move(unwrite_later_);
    unwrite_later_.clear();
    for (const Prefix6& k : todo) {
        const auto& m = by_len_[size_t(k.len())];
        const auto it = m.find(k.addr());
        if (it == m.end() || (it->second & kElided))
            continue;
        const uint32_t cover = written_cover(k.addr(), k.len());
        const uint32_t levels = uint32_t(last_level(k.len()));
        if (cover == 0 || (cover & kNhMask) != it->second ||
            uint64_t(groups_in_use()) + reserved_ + levels > max_groups_)
            continue;
        unmaterialize(k.addr(), k.len(), cover);
        mark(Kin{k.addr(), k.len(), it->second}, true);
    }
}

void Lpm6::materialize(const Ip6& a, int depth, uint32_t nh) {
    const uint32_t missing = groups_missing(a, depth);
    if (missing > groups_available())
        synchronize();
    if (missing > groups_available()) {
        // Cannot happen: the groups in use never exceed the reservation.
        FP6_LOG(ERR, Rib, "FIB: no group left for {}/{} within the reservation", a.str(), depth);
        return;
    }
    // Walk down to the level where the prefix ends, creating groups on the
    // way. A new group starts as 256 copies of the leaf it replaces, so
    // linking it in changes no answer.
    const int last = last_level(depth);
    uint32_t* t = tbl24_;
    uint32_t i = index24(a.data());
    for (int level = 1; level <= last; level++) {
        uint32_t e = t[i];
        if (!(e & kLink)) {
            uint32_t g = alloc_group();
            uint32_t* fresh = groups_ + size_t(g) * 256;
            for (int k = 0; k < 256; k++)
                fresh[k] = e;
            // A leaf in the parent covers the new group whole: not deep in it.
            deep_[g] = 0;
            put(t, level - 1, i, link_to(g));
            e = link_to(g);
        }
        t = group(e);
        i = a.data()[2 + level];
    }
    uint32_t span = 1u << (level_end(last) - depth);
    fill(t, last, i, span, leaf(nh, depth), 0, depth);
}

bool Lpm6::erase(const Prefix6& p) {
    const Ip6& a = p.addr();
    const int depth = p.len();
    auto& index = by_len_[size_t(depth)];
    auto it = index.find(a);
    if (it == index.end())
        return false;
    const uint32_t value = it->second;

    // p's children get p's parent as theirs, whose next hop is that of the
    // written prefix above p. Those elided under p that now differ from it
    // are written back first (their reservation holds the groups). Those
    // written that now repeat it are left to compact(), which unwrites them
    // if their groups can be kept: a delete cannot be refused for want of
    // them.
    const uint32_t cover = written_cover(a, depth);
    const auto at = ordered_.find(Key::of(p));
    std::vector<Kin> to_write;
    for_each_child(p, std::next(at), [&](const Kin& k) {
        const bool now = cover != 0 && nh_of(k.value) == (cover & kNhMask);
        if ((k.value & kElided) && !now)
            to_write.push_back(k);
        else if (!(k.value & kElided) && now)
            unwrite_later_.push_back(Prefix6(k.addr, k.len));
    });
    for (const Kin& k : to_write) {
        materialize(k.addr, k.len, nh_of(k.value));
        mark(k, false);
    }
    if (!(value & kElided))
        unmaterialize(a, depth, cover);
    else
        count_elided(depth, false);

    index.erase(a);
    ordered_.erase(at);
    size_--;
    if (index.empty())
        len_bits_[size_t(depth) >> 6] &= ~(uint64_t(1) << (depth & 63));
    return true;
}

void Lpm6::unmaterialize(const Ip6& a, int depth, uint32_t cover) {
    struct Step {
        uint32_t* parent;
        uint32_t slot;
    };
    std::array<Step, 14> path;
    const int last = last_level(depth);
    uint32_t* t = tbl24_;
    uint32_t i = index24(a.data());
    for (int level = 1; level <= last; level++) {
        uint32_t e = t[i];
        if (!(e & kLink)) {
            FP6_LOG(ERR, Rib, "FIB index and table disagree about {}/{}", a.str(), depth);
            return;
        }
        // materialize() linked every level down to `last` and a group
        // holding a leaf deeper than its start is never folded, so the path
        // is whole.
        path[size_t(level)] = {t, i};
        t = group(e);
        i = a.data()[2 + level];
    }
    uint32_t span = 1u << (level_end(last) - depth);
    fill(t, last, i, span, cover, depth, depth);

    // Fold groups, deepest first, that now hold one leaf everywhere and no
    // prefix longer than the level they start at: the parent's entry can
    // say the same thing alone. Such a group is one with no deep entry (a
    // link, or a leaf longer than its start): every entry then holds the
    // leaf of the longest prefix covering the group whole, the same one.
    for (int level = last; level >= 1; level--) {
        Step s = path[size_t(level)];
        uint32_t link = s.parent[s.slot];
        const uint32_t* g = group(link);
        if (deep_[group_of(link)] != 0)
            break;
        const uint32_t v = g[0];
#ifndef NDEBUG
        for (int k = 0; k < 256; k++)
            assert(g[k] == v && !deep(v, level_end(level - 1)));
#endif
        put(s.parent, level - 1, s.slot, v);
        retired_.push_back(group_of(link));
    }
}

void Lpm6::synchronize(bool always) {
    if (retired_.empty() && !always)
        return;
    std::vector<uint32_t> batch = std::move(retired_);
    retired_.clear();
    synchronize_rcu();
    free_.insert(free_.end(), batch.begin(), batch.end());
}

std::optional<uint32_t> Lpm6::get(const Prefix6& p) const {
    const auto& m = by_len_[size_t(p.len())];
    auto it = m.find(p.addr());
    if (it == m.end())
        return std::nullopt;
    return nh_of(it->second);
}

size_t Lpm6::populate(uint32_t groups) noexcept {
    const size_t bytes = size_t(std::min(groups, max_groups_)) * kGroupBytes;
    if (bytes == 0)
        return 0;
    if (madvise(groups_, bytes, MADV_POPULATE_WRITE) == 0)
        return bytes;
    FP6_LOG(WARNING, Rib, "cannot populate {} bytes of FIB groups: {}", bytes,
            std::strerror(errno));
    return 0;
}

size_t Lpm6::table_bytes() const noexcept {
    size_t pages = size_t(std::count(tbl24_pages_.begin(), tbl24_pages_.end(), true));
    return (pages << kTbl24PageShift) * sizeof(uint32_t) +
           size_t(high_water_) * (kGroupBytes + sizeof(uint16_t));
}

size_t Lpm6::index_bytes() const noexcept {
    size_t bytes = 0;
    for (const auto& m : by_len_)
        bytes += m.capacity() * (sizeof(std::pair<Ip6, uint32_t>) + 1);
    // The ordered copy: its keys, and a third more for the B-tree's nodes
    // running partly empty.
    return bytes + ordered_.size() * sizeof(Key) * 4 / 3;
}

}  // namespace fp6
