/* Next hops: the objects the FIB points at. One next hop is shared by every
 * route through the same gateway on the same port, so a neighbour's MAC
 * change is one pointer swap that the workers see for all of those routes.
 *
 * Concurrency. Writer: the control thread only (alloc/publish/release).
 * Readers: workers, between two quiescent states, through get(). A
 * published NextHop is immutable; a change publishes a new object with
 * rcu_assign_pointer() and the old one is freed by call_rcu() after a grace
 * period, so a worker holding the old pointer for the rest of its burst is
 * safe. Ids are recycled only after the FIB no longer names them (the RIB
 * releases an id after the FIB swap that dropped its last route). */
#pragma once

#include <rte_ether.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "common/ip6.h"
#include "common/rcu.h"

namespace fp6 {

enum class NhKind : uint8_t {
    kNoRoute = 0,  // id 0, the FIB's answer when nothing matches
    kLocal,        // one of our addresses: deliver to the control thread
    kBlackhole,    // drop silently
    kUnreachable,  // drop (ICMPv6 unreachable code 0 once ICMPv6 errors exist)
    kProhibit,     // drop (code 1)
    kReject,       // drop (code 6)
    kConnected,    // an on-link prefix whose destination has no neighbour entry yet
    kNeighbor,     // forward to `addr` on `port`; `l2` is valid when `resolved`
    kGroup,        // ECMP: one of `slots` by flow hash (members are never groups)
};

const char* nh_kind_name(NhKind k);

struct alignas(64) NextHop {
    NhKind kind = NhKind::kNoRoute;
    bool resolved = false;  // l2.dst_addr holds the neighbour's MAC
    uint16_t port = 0;
    uint32_t id = 0;
    rte_ether_hdr l2{};  // dst = neighbour, src = port MAC, type = IPv6 (big endian)
    Ip6 addr;            // the neighbour (kNeighbor) or unused
    /* The one field a worker writes: a coarse timestamp (TSC >> 28) of the
     * last packet forwarded through this next hop, stored only when it
     * changed, so the control thread can tell that a STALE neighbour is in
     * use (RFC 4861 7.3.3) without a lock or a per-packet atomic RMW. */
    mutable std::atomic<uint32_t> used{0};
    /* kGroup: member ids, each repeated in proportion to its weight; a flow
     * hash picks one (slot = hash * n_slots >> 32). */
    static constexpr int kMaxSlots = 64;
    uint16_t n_slots = 0;
    std::array<uint32_t, kMaxSlots> slots{};

    NextHop() = default;
    NextHop(const NextHop& o)
        : kind(o.kind),
          resolved(o.resolved),
          port(o.port),
          id(o.id),
          l2(o.l2),
          addr(o.addr),
          n_slots(o.n_slots),
          slots(o.slots) {}

    /* kind == kNeighbor && resolved, in one 2-byte compare: the fast
     * path's test for a next hop it can rewrite to at once. */
    bool resolved_neighbor() const noexcept {
        static_assert(offsetof(NextHop, kind) == 0 && offsetof(NextHop, resolved) == 1);
        constexpr uint8_t kWant[2] = {uint8_t(NhKind::kNeighbor), 1};
        uint16_t want, have;
        std::memcpy(&want, kWant, 2);
        std::memcpy(&have, this, 2);
        return have == want;
    }

    uint32_t pick(uint32_t flow_hash) const noexcept {
        return slots[uint32_t((uint64_t(flow_hash) * n_slots) >> 32)];
    }
};

class NextHopTable {
  public:
    static constexpr uint32_t kNoRouteId = 0;

    explicit NextHopTable(uint32_t capacity);
    ~NextHopTable();
    NextHopTable(const NextHopTable&) = delete;
    NextHopTable& operator=(const NextHopTable&) = delete;

    /* Worker side, inside an RCU read-side section (between quiescent
     * states). Never null for an id the current FIB holds. */
    const NextHop* get(uint32_t id) const noexcept { return rcu_dereference(slots_[id]); }
    /* get() for a loop over many ids: the slot array's address taken once
     * (a loop that writes packet bytes would otherwise make the compiler
     * read it again for every id). Valid while the table lives. */
    struct Reader {
        NextHop* const* slots;
        const NextHop* get(uint32_t id) const noexcept { return rcu_dereference(slots[id]); }
    };
    Reader reader() const noexcept { return Reader{slots_.data()}; }

    /* Control thread only. alloc() returns a fresh id, or 0 when the table
     * is full; publish() installs `nh` under `id` (nh.id is set to id) and
     * retires what was there; release() retires it and recycles the id after
     * a grace period. */
    uint32_t alloc();
    void publish(uint32_t id, const NextHop& nh);
    void release(uint32_t id);
    uint32_t capacity() const noexcept { return uint32_t(slots_.size()); }
    uint32_t in_use() const noexcept { return in_use_; }

  private:
    std::vector<NextHop*> slots_;
    std::mutex free_mu_;          // control thread and the call_rcu thread
    std::vector<uint32_t> free_;  // guarded by free_mu_
    uint32_t in_use_ = 0;
};

}  // namespace fp6
