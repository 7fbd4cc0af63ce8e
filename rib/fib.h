/* The forwarding table the workers read: longest-prefix match from a
 * destination to a next hop id (see nexthop.h), over fp6's own Lpm6
 * (lpm6.h), which updates in place under RCU.
 *
 * Concurrency. Writer: the control thread, through set()/erase()/commit().
 * Readers: the workers, through lookup_bulk(), between two quiescent states.
 * A reader sees, for each destination, the answer from before or after each
 * set()/erase(), never a torn or foreign one. commit() waits for a grace
 * period when the table retired groups or the caller asks (to recycle next
 * hop ids the table stopped naming), so the writer must be an offline RCU
 * thread. */
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "common/ip6.h"
#include "rib/lpm6.h"

namespace fp6 {

class Fib {
  public:
    /* Reserves (does not commit) address space for `max_groups` groups of
     * 1 KiB; aborts the process if even that fails (start-up only). */
    explicit Fib(uint32_t max_groups = Lpm6::kDefaultMaxGroups);
    /* Lpm6::populate(). */
    size_t populate(uint32_t groups) noexcept { return lpm_->populate(groups); }
    Fib(int) = delete;  // not a NUMA socket: Fib(SOCKET_ID_ANY) would mean 4G groups

    /* Worker side: n destinations in, next hop ids out (0: no route). */
    void lookup_bulk(const uint8_t (*dsts)[16], uint32_t* nh_ids, unsigned n) const noexcept {
        lpm_->lookup_bulk(dsts, nh_ids, n);
    }
    uint32_t lookup(const Ip6& dst) const noexcept { return lpm_->lookup(dst.data()); }

    /* Control thread. set() adds or changes p (ResourceExhausted "table
     * full ..." when the table cannot hold it; nothing changed then). */
    absl::Status set(const Prefix6& p, uint32_t nh_id) { return lpm_->set(p, nh_id); }
    bool erase(const Prefix6& p) { return lpm_->erase(p); }
    std::optional<uint32_t> get(const Prefix6& p) const { return lpm_->get(p); }
    /* Ends a batch of changes. With `grace`, or when groups were retired,
     * returns only after every reader has left the state before the batch. */
    void commit(bool grace);

    /* The lookup_bulk() walk (Lpm6::set_walk): false when the CPU lacks it. */
    bool set_walk(Lpm6::Walk w) noexcept { return lpm_->set_walk(w); }

    size_t size() const noexcept { return lpm_->size(); }
    uint64_t generation() const noexcept { return generation_; }
    const Lpm6& table() const noexcept { return *lpm_; }

  private:
    std::unique_ptr<Lpm6> lpm_;
    uint64_t generation_ = 0;
};

}  // namespace fp6
