#include "rib/srcsel.h"

#include <algorithm>
#include <array>
#include <bit>

namespace fp6 {

namespace {

/* The two halves of an address as host-order integers, and back. */
uint64_t hi64(const Ip6& a) noexcept {
    return uint64_t(a.word(0)) << 32 | a.word(1);
}
uint64_t lo64(const Ip6& a) noexcept {
    return uint64_t(a.word(2)) << 32 | a.word(3);
}
Ip6 from_halves(uint64_t hi, uint64_t lo) noexcept {
    std::array<uint8_t, 16> b;
    for (int i = 0; i < 8; i++) {
        b[i] = uint8_t(hi >> (56 - 8 * i));
        b[8 + i] = uint8_t(lo >> (56 - 8 * i));
    }
    return Ip6(b);
}
/* The masks of a prefix length 0..128 over the two halves. */
uint64_t mask_hi(int len) noexcept {
    return len <= 0 ? 0 : len >= 64 ? ~uint64_t(0) : ~uint64_t(0) << (64 - len);
}
uint64_t mask_lo(int len) noexcept {
    return mask_hi(len - 64);
}

/* Leading bits two addresses share, 0..128, from their halves. */
int full_common_prefix_len(uint64_t a_hi, uint64_t a_lo, uint64_t b_hi, uint64_t b_lo) noexcept {
    if (uint64_t x = a_hi ^ b_hi; x != 0)
        return std::countl_zero(x);
    return 64 + std::countl_zero(a_lo ^ b_lo);  // countl_zero(0) is 64
}

int clamp_plen(int plen) noexcept {
    return std::clamp(plen, 0, 128);
}

/* RFC 6724 section 3.1 scope values. */
constexpr int kScopeLinkLocal = 0x2;
constexpr int kScopeSiteLocal = 0x5;
constexpr int kScopeGlobal = 0xe;

/* The scope of RFC 6724 3.1 of an address given by its halves. */
int scope_of(uint64_t hi, uint64_t lo) noexcept {
    if (hi >> 56 == 0xff)
        return int(hi >> 48) & 0x0f;  // multicast: its scope field (RFC 4291 2.7)
    if (hi >> 54 == 0xfe80 >> 6 || (hi == 0 && lo == 1))
        return kScopeLinkLocal;  // fe80::/10 and ::1 (RFC 6724 3.1, RFC 4007 4)
    if (hi >> 54 == 0xfec0 >> 6)
        return kScopeSiteLocal;  // fec0::/10, deprecated by RFC 3879
    return kScopeGlobal;         // ULAs too (RFC 6724 3.1, RFC 4193)
}

/* The destination, with what the rules need of it computed once. */
struct Dest {
    uint64_t hi, lo;
    uint16_t out_port;
    int scope;
    const PolicyTable::Entry* policy;  // nullptr: no label
    const PolicyTable& table;
};

/* A candidate, with what the rules compute of it, each at most once: its
 * halves and scope at once, its policy entry and common prefix with the
 * destination only when a rule that needs them is reached. */
struct View {
    const SrcCandidate* c = nullptr;
    uint64_t hi = 0, lo = 0;
    int scope = 0;
    int cpl = -1;  // full common prefix length with the destination; -1 not yet known
    const PolicyTable::Entry* policy = nullptr;
    bool policy_known = false;

    explicit View(const SrcCandidate* cand = nullptr) noexcept : c(cand) {
        if (c != nullptr) {
            hi = hi64(c->addr), lo = lo64(c->addr);
            scope = scope_of(hi, lo);
        }
    }
    const PolicyTable::Entry* policy_of(const Dest& d) noexcept {
        if (!policy_known) {
            policy = d.table.match(c->addr);
            policy_known = true;
        }
        return policy;
    }
    int cpl_with(const Dest& d) noexcept {
        if (cpl < 0)
            cpl = full_common_prefix_len(hi, lo, d.hi, d.lo);
        return cpl;
    }
};

/* Each rule compares the best candidate so far (a) with the next one (b):
 * positive prefers a, negative prefers b, 0 leaves it to the next rule. */
int prefer(bool a, bool b) noexcept {
    return int(a) - int(b);
}
int prefer_larger(int a, int b) noexcept {
    return (a > b) - (a < b);
}

/* RFC 6724 5, rule 1: prefer the same address (SA = D). */
int rule1_same_address(const Dest& d, View& a, View& b) {
    return prefer(a.hi == d.hi && a.lo == d.lo, b.hi == d.hi && b.lo == d.lo);
}

/* RFC 6724 5, rule 2: prefer appropriate scope. If Scope(SA) < Scope(SB):
 * prefer SB when Scope(SA) < Scope(D), else SA; and the other way round. */
int rule2_appropriate_scope(const Dest& d, View& a, View& b) {
    if (a.scope < b.scope)
        return a.scope < d.scope ? -1 : 1;
    if (b.scope < a.scope)
        return b.scope < d.scope ? 1 : -1;
    return 0;
}

/* RFC 6724 5, rule 3: avoid deprecated addresses. */
int rule3_avoid_deprecated(const Dest&, View& a, View& b) {
    return prefer(a.c->preferred, b.c->preferred);
}

/* RFC 6724 5, rule 4 (prefer home addresses), which fp6 has no use for, is
 * where the operator's `preferred-source` address ranks. */
int rule4_operator_preferred(const Dest&, View& a, View& b) {
    return prefer(a.c->operator_preferred, b.c->operator_preferred);
}

/* RFC 6724 5, rule 5: prefer the outgoing interface. */
int rule5_outgoing_port(const Dest& d, View& a, View& b) {
    return prefer(a.c->port == d.out_port, b.c->port == d.out_port);
}

/* RFC 6724 5, rule 6: prefer matching label, Label(S) = Label(D). An
 * address no policy entry covers has no label and matches nothing. */
int rule6_matching_label(const Dest& d, View& a, View& b) {
    auto matches = [&](View& v) {
        const PolicyTable::Entry* p = v.policy_of(d);
        return p != nullptr && d.policy != nullptr && p->label == d.policy->label;
    };
    return prefer(matches(a), matches(b));
}

/* RFC 6724 5, rule 7: prefer temporary addresses (RFC 6724 reverses RFC
 * 3484's "prefer public addresses"). */
int rule7_prefer_temporary(const Dest&, View& a, View& b) {
    return prefer(a.c->temporary, b.c->temporary);
}

/* fp6: prefer an address whose prefix contains the destination (the
 * destination is on its subnet), the longer prefix first. */
int fp6_prefix_contains_destination(const Dest& d, View& a, View& b) {
    auto key = [&](View& v) {
        int plen = clamp_plen(v.c->plen);
        return v.cpl_with(d) >= plen ? plen : -1;
    };
    return prefer_larger(key(a), key(b));
}

/* fp6: prefer a statically configured address to an autoconfigured one. */
int fp6_static_over_autoconf(const Dest&, View& a, View& b) {
    return prefer(!a.c->autoconf, !b.c->autoconf);
}

/* RFC 6724 5, rule 8: use longest matching prefix, CommonPrefixLen(S, D) of
 * RFC 6724 2.2 counted only up to S's prefix length. */
int rule8_longest_matching_prefix(const Dest& d, View& a, View& b) {
    return prefer_larger(std::min(a.cpl_with(d), clamp_plen(a.c->plen)),
                         std::min(b.cpl_with(d), clamp_plen(b.c->plen)));
}

/* The rules in order; 0 when none decides (the caller keeps a, the first
 * found: the final tie-break is configuration order). */
int compare(const Dest& d, View& a, View& b) {
    int v = rule1_same_address(d, a, b);
    v = v != 0 ? v : rule2_appropriate_scope(d, a, b);
    v = v != 0 ? v : rule3_avoid_deprecated(d, a, b);
    v = v != 0 ? v : rule4_operator_preferred(d, a, b);
    v = v != 0 ? v : rule5_outgoing_port(d, a, b);
    v = v != 0 ? v : rule6_matching_label(d, a, b);
    v = v != 0 ? v : rule7_prefer_temporary(d, a, b);
    v = v != 0 ? v : fp6_prefix_contains_destination(d, a, b);
    v = v != 0 ? v : fp6_static_over_autoconf(d, a, b);
    v = v != 0 ? v : rule8_longest_matching_prefix(d, a, b);
    return v;
}

/* RFC 6724 4: multicast addresses and the unspecified address are never
 * candidates (the address table refuses them anyway). */
bool can_be_source(const View& v) noexcept {
    return v.hi >> 56 != 0xff && (v.hi | v.lo) != 0;
}

/* RFC 6724 4: for a link-local destination only addresses of the outgoing
 * link qualify. fp6 applies it to unicast fe80::/10 and to multicast of
 * interface- or link-local scope; strict_source applies it to every
 * destination. */
bool only_outgoing_port(const SrcQuery& q) noexcept {
    const Ip6& dst = q.dst;
    return q.strict_source || dst.is_linklocal() ||
           (dst.is_multicast() && dst.mcast_scope() <= kScopeLinkLocal);
}

}  // namespace

PolicyTable::PolicyTable() {
    // RFC 6724 2.1, the default policy table.
    static constexpr struct {
        std::array<uint8_t, 16> addr;
        int len;
        uint32_t precedence, label;
    } kDefault[] = {
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, 50, 0},       // ::1/128
        {{}, 0, 40, 1},                                                       // ::/0
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}, 96, 35, 4},  // ::ffff:0:0/96
        {{0x20, 0x02}, 16, 30, 2},                                            // 2002::/16
        {{0x20, 0x01}, 32, 5, 5},                                             // 2001::/32
        {{0xfc}, 7, 3, 13},                                                   // fc00::/7
        {{}, 96, 1, 3},                                                       // ::/96
        {{0xfe, 0xc0}, 10, 1, 11},                                            // fec0::/10
        {{0x3f, 0xfe}, 16, 1, 12},                                            // 3ffe::/16
    };
    for (const auto& e : kDefault)
        (void)add(Prefix6(Ip6(e.addr), e.len), e.precedence, e.label);
    version_ = 0;
}

absl::Status PolicyTable::add(const Prefix6& prefix, uint32_t precedence, uint32_t label) {
    if (prefix.len() > 128)
        return absl::InvalidArgumentError("prefix length must be 0..128");
    if (prefix.has_host_bits())
        return absl::InvalidArgumentError(prefix.str() + ": bits set past the prefix length");
    Row row{hi64(prefix.addr()), lo64(prefix.addr()), mask_hi(prefix.len()), mask_lo(prefix.len()),
            Entry{prefix, precedence, label}};
    // Longest prefix first, so that the first match is the longest one.
    auto before = [](const Row& x, const Row& y) {
        if (x.entry.prefix.len() != y.entry.prefix.len())
            return x.entry.prefix.len() > y.entry.prefix.len();
        return x.entry.prefix.addr() < y.entry.prefix.addr();
    };
    auto it = std::lower_bound(rows_.begin(), rows_.end(), row, before);
    if (it != rows_.end() && it->entry.prefix == prefix)
        *it = row;
    else
        rows_.insert(it, row);
    version_++;
    return absl::OkStatus();
}

absl::Status PolicyTable::del(const Prefix6& prefix) {
    auto it = std::find_if(rows_.begin(), rows_.end(),
                           [&](const Row& r) { return r.entry.prefix == prefix; });
    if (it == rows_.end())
        return absl::NotFoundError(prefix.str() + ": no such policy entry");
    rows_.erase(it);
    version_++;
    return absl::OkStatus();
}

std::vector<PolicyTable::Entry> PolicyTable::list() const {
    std::vector<Entry> out;
    out.reserve(rows_.size());
    for (const Row& r : rows_)
        out.push_back(r.entry);
    return out;
}

const PolicyTable::Entry* PolicyTable::match(const Ip6& a) const noexcept {
    uint64_t hi = hi64(a), lo = lo64(a);
    for (const Row& r : rows_)
        if ((hi & r.mask_hi) == r.hi && (lo & r.mask_lo) == r.lo)
            return &r.entry;
    return nullptr;
}

int address_scope(const Ip6& a) noexcept {
    return scope_of(hi64(a), lo64(a));
}

int common_prefix_len(const Ip6& src, int plen, const Ip6& dst) noexcept {
    return std::min(full_common_prefix_len(hi64(src), lo64(src), hi64(dst), lo64(dst)),
                    clamp_plen(plen));
}

bool in_candidate_set(const SrcQuery& q, uint16_t port) noexcept {
    return !only_outgoing_port(q) || port == q.out_port;
}

absl::StatusOr<Ip6> select_source(const SrcQuery& q, std::span<const SrcCandidate> candidates,
                                  const PolicyTable& policy) {
    const Dest d{hi64(q.dst),          lo64(q.dst),         q.out_port,
                 address_scope(q.dst), policy.match(q.dst), policy};
    const bool only_out = only_outgoing_port(q);
    View best;
    for (const SrcCandidate& c : candidates) {
        if (only_out && c.port != q.out_port)
            continue;
        View v(&c);
        if (!can_be_source(v))
            continue;
        if (best.c == nullptr || compare(d, best, v) < 0)
            best = v;
    }
    if (best.c != nullptr)
        return best.c->addr;
    if (q.tentative > 0)
        return absl::UnavailableError("address not ready");
    return absl::NotFoundError("no source address");
}

SrcCache::SrcCache(size_t capacity) {
    size_t n = std::bit_ceil(std::max<size_t>(capacity, kWays));
    nbuckets_ = n / kWays;
    slots_ = std::make_unique<Slot[]>(n);
}

SrcCache::Slot* SrcCache::bucket(uint64_t dst_hi, uint64_t dst_lo, uint16_t port) const noexcept {
    uint64_t h = dst_hi * 0x9e3779b97f4a7c15ULL ^ (dst_lo + port) * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    return &slots_[(h & (nbuckets_ - 1)) * kWays];
}

std::optional<Ip6> SrcCache::lookup(const Ip6& dst, uint16_t port,
                                    uint64_t generation) const noexcept {
    const uint64_t dh = hi64(dst), dl = lo64(dst), meta = kValid | port;
    const Slot* b = bucket(dh, dl, port);
    for (int w = 0; w < kWays; w++) {
        const Slot& s = b[w];
        for (int t = 0; t < kReadTries; t++) {
            uint64_t s1 = s.seq.load(std::memory_order_acquire);
            if (s1 & 1)
                continue;  // the writer is in the middle of it
            uint64_t e_dh = s.dst_hi.load(std::memory_order_relaxed);
            uint64_t e_dl = s.dst_lo.load(std::memory_order_relaxed);
            uint64_t e_meta = s.meta.load(std::memory_order_relaxed);
            uint64_t e_gen = s.gen.load(std::memory_order_relaxed);
            uint64_t e_sh = s.src_hi.load(std::memory_order_relaxed);
            uint64_t e_sl = s.src_lo.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            if (s.seq.load(std::memory_order_relaxed) != s1)
                continue;  // changed while we copied it
            if (e_dh == dh && e_dl == dl && e_meta == meta && e_gen == generation)
                return from_halves(e_sh, e_sl);
            break;  // a consistent entry of another key or generation
        }
    }
    return std::nullopt;
}

void SrcCache::put(const Ip6& dst, uint16_t port, uint64_t generation, const Ip6& src) noexcept {
    const uint64_t dh = hi64(dst), dl = lo64(dst), meta = kValid | port;
    Slot* b = bucket(dh, dl, port);
    // The only writer reads its own words: relaxed loads see its last stores.
    auto rd = [](const std::atomic<uint64_t>& x) { return x.load(std::memory_order_relaxed); };
    Slot* target = nullptr;
    for (int w = 0; w < kWays && target == nullptr; w++)
        if (rd(b[w].meta) == meta && rd(b[w].dst_hi) == dh && rd(b[w].dst_lo) == dl)
            target = &b[w];
    for (int w = 0; w < kWays && target == nullptr; w++)
        if (!(rd(b[w].meta) & kValid) || rd(b[w].gen) != generation)
            target = &b[w];
    if (target == nullptr)
        target = &b[next_victim_++ % kWays];

    uint64_t seq = rd(target->seq);
    target->seq.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    target->dst_hi.store(dh, std::memory_order_relaxed);
    target->dst_lo.store(dl, std::memory_order_relaxed);
    target->meta.store(meta, std::memory_order_relaxed);
    target->gen.store(generation, std::memory_order_relaxed);
    target->src_hi.store(hi64(src), std::memory_order_relaxed);
    target->src_lo.store(lo64(src), std::memory_order_relaxed);
    target->seq.store(seq + 2, std::memory_order_release);
}

}  // namespace fp6
