#include "rib/fib.h"

#include <rte_errno.h>
#include <rte_fib6.h>

#include <atomic>

#include <algorithm>
#include "common/log.h"
#include "common/rcu.h"

namespace fp6 {
namespace {

/* rte_fib6's trie resolves the first 24 bits in one table and every further
 * byte in a 256-entry tbl8 group. On add, it reserves one group per byte of
 * the prefix past /24 that its closest covering prefix does not already
 * reach, without counting groups shared with siblings, and refuses the add
 * (ENOSPC) when the reserve would exceed the pool. Summing the levels of
 * every prefix bounds that reserve from above. */
uint32_t tbl8_groups_needed(const std::vector<FibEntry>& entries) {
    uint64_t groups = 0;
    for (const FibEntry& e : entries)
        if (e.prefix.len() > 24)
            groups += uint64_t(e.prefix.len() - 24 + 7) / 8;
    return uint32_t(std::min<uint64_t>(groups, UINT32_MAX / 2));
}

std::atomic<uint64_t> g_fib_names{0};

}  // namespace

Fib::Fib(int socket) : socket_(socket) {}

Fib::~Fib() {
    // Destroyed only after the workers stopped reading it.
    if (live_ != nullptr)
        rte_fib6_free(live_);
}

void Fib::lookup_bulk(const uint8_t (*dsts)[16], uint64_t* nh_ids, int n) const {
    rte_fib6* fib = rcu_dereference(live_);
    if (fib == nullptr) {
        for (int i = 0; i < n; i++)
            nh_ids[i] = 0;
        return;
    }
    rte_fib6_lookup_bulk(fib, const_cast<uint8_t(*)[16]>(dsts), nh_ids, n);
}

uint32_t Fib::lookup(const Ip6& dst) const {
    uint64_t nh = 0;
    uint8_t ip[1][16];
    std::memcpy(ip[0], dst.data(), 16);
    lookup_bulk(ip, &nh, 1);
    return uint32_t(nh);
}

absl::Status Fib::publish(const std::vector<FibEntry>& entries) {
    rte_fib6_conf conf{};
    conf.type = RTE_FIB6_TRIE;
    conf.default_nh = 0;
    conf.max_routes = int(entries.size() + entries.size() / 8 + 64);
    conf.rib_ext_sz = 0;
    conf.trie.nh_sz = RTE_FIB6_TRIE_4B;
    uint32_t groups = tbl8_groups_needed(entries);
    conf.trie.num_tbl8 = groups + groups / 8 + 64;

    std::string name = "fp6fib" + std::to_string(g_fib_names.fetch_add(1));
    rte_fib6* fresh = rte_fib6_create(name.c_str(), socket_, &conf);
    if (fresh == nullptr)
        return absl::ResourceExhaustedError(
            fmt::format("cannot create a FIB for {} routes ({} tbl8 groups): {}", entries.size(),
                        conf.trie.num_tbl8, rte_strerror(rte_errno)));
    for (const FibEntry& e : entries) {
        int rc = rte_fib6_add(fresh, e.prefix.addr().data(), uint8_t(e.prefix.len()), e.nh_id);
        if (rc < 0) {
            rte_fib6_free(fresh);
            return absl::ResourceExhaustedError(
                fmt::format("FIB refused {}: {}", e.prefix.str(),
                            rc == -ENOSPC ? "table full" : rte_strerror(-rc)));
        }
    }
    // Workers that already loaded the old table finish their burst on it;
    // it is freed once every worker has passed a quiescent state. Waiting
    // here (rather than in call_rcu) bounds memory to two tables however
    // fast changes come: a trie's tbl24 alone is 64 MiB.
    rte_fib6* old = rcu_xchg_pointer(&live_, fresh);
    if (old != nullptr) {
        synchronize_rcu();
        rte_fib6_free(old);
    }
    size_ = entries.size();
    generation_++;
    FP6_LOG(DEBUG, Rib, "FIB generation {} published: {} entries, {} tbl8 groups", generation_,
            size_, conf.trie.num_tbl8);
    return absl::OkStatus();
}

}  // namespace fp6
