/* The forwarding table the workers read: a longest-prefix-match structure
 * mapping a destination to a next hop id (see nexthop.h).
 *
 * Concurrency. Writer: the control thread, through publish(). Readers: the
 * workers, through lookup_bulk(), inside an RCU read-side section. DPDK
 * 22.11's rte_fib6 has no RCU support (a deleted route's tbl8 group is reused
 * at once), so a change never edits the live table: publish() builds a new
 * rte_fib6 from the whole entry set, swaps the pointer with
 * rcu_assign_pointer(), and frees the old table after a grace period.
 * TODO: a rebuild costs O(routes) per change batch; the performance issue
 * replaces this with a structure that updates in place under RCU. */
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/ip6.h"

struct rte_fib6;

namespace fp6 {

struct FibEntry {
    Prefix6 prefix;  // canonical
    uint32_t nh_id;
};

class Fib {
  public:
    /* `socket` is the NUMA socket for the tables (SOCKET_ID_ANY is fine). */
    explicit Fib(int socket);
    ~Fib();
    Fib(const Fib&) = delete;
    Fib& operator=(const Fib&) = delete;

    /* Worker side. Looks up n (<= 64 per call is typical) destinations and
     * writes their next hop ids; 0 means no route. Thread-safe for any number
     * of RCU readers concurrently with publish(). */
    void lookup_bulk(const uint8_t (*dsts)[16], uint64_t* nh_ids, int n) const;
    uint32_t lookup(const Ip6& dst) const;

    /* Control thread. Replaces the whole table with `entries` (prefixes must
     * be unique and canonical). On failure (memory, table full) the live table
     * is left unchanged and the error says why. Waits for one grace period
     * before freeing the old table, so the caller must not be an online RCU
     * reader. */
    absl::Status publish(const std::vector<FibEntry>& entries);

    size_t size() const noexcept { return size_; }
    uint64_t generation() const noexcept { return generation_; }

  private:
    rte_fib6* live_ = nullptr;  // RCU-protected
    int socket_;
    size_t size_ = 0;
    uint64_t generation_ = 0;
};

}  // namespace fp6
