#include "rib/nexthop.h"

#include <cassert>

namespace fp6 {

const char* nh_kind_name(NhKind k) {
    switch (k) {
        case NhKind::kNoRoute:
            return "none";
        case NhKind::kLocal:
            return "local";
        case NhKind::kBlackhole:
            return "blackhole";
        case NhKind::kUnreachable:
            return "unreachable";
        case NhKind::kProhibit:
            return "prohibit";
        case NhKind::kReject:
            return "reject";
        case NhKind::kConnected:
            return "connected";
        case NhKind::kNeighbor:
            return "neighbor";
        case NhKind::kGroup:
            return "group";
    }
    return "?";
}

NextHopTable::NextHopTable(uint32_t capacity) : slots_(capacity, nullptr) {
    assert(capacity >= 2);
    // Id 0 is the FIB's "no route" answer and is never freed, so a worker
    // always finds an object behind it.
    slots_[kNoRouteId] = new NextHop{};
    for (uint32_t id = capacity - 1; id > kNoRouteId; id--)
        free_.push_back(id);
}

NextHopTable::~NextHopTable() {
    // Only destroyed once no worker runs (shutdown, or a unit test); wait
    // for the id-recycling callbacks that still point at this table.
    rcu_barrier();
    for (NextHop* nh : slots_)
        delete nh;
}

uint32_t NextHopTable::alloc() {
    std::lock_guard lock(free_mu_);
    if (free_.empty())
        return 0;
    uint32_t id = free_.back();
    free_.pop_back();
    in_use_++;
    return id;
}

void NextHopTable::publish(uint32_t id, const NextHop& nh) {
    assert(id != kNoRouteId && id < slots_.size());
    auto* fresh = new NextHop(nh);
    fresh->id = id;
    // Readers that loaded the old pointer keep using it until their next
    // quiescent state; call_rcu frees it only after that.
    NextHop* old = rcu_xchg_pointer(&slots_[id], fresh);
    rcu_delete(old);
}

void NextHopTable::release(uint32_t id) {
    assert(id != kNoRouteId && id < slots_.size());
    NextHop* old = rcu_xchg_pointer(&slots_[id], nullptr);
    rcu_delete(old);
    in_use_--;
    // The caller has already published a FIB that no longer names `id`, but
    // a worker may still hold the previous FIB's answer until its next
    // quiescent state, so the id is recycled only after a grace period too.
    // The callback runs on liburcu's call_rcu thread, hence the mutex (never
    // taken by a worker).
    rcu_defer([this, id] {
        std::lock_guard lock(free_mu_);
        free_.push_back(id);
    });
}

}  // namespace fp6
