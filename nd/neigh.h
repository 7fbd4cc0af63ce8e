/* The neighbour cache. For now it holds static (PERMANENT) entries added by
 * command; neighbour discovery (resolution, the RFC 4861 state machine)
 * builds on it.
 *
 * Concurrency. Control thread only. Workers never read the cache: a
 * neighbour's MAC reaches them through its next hop, republished by
 * Rib::set_neighbor(). */
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "common/ip6.h"
#include "rib/addr.h"
#include "rib/rib.h"

namespace fp6 {

enum class NeighState : uint8_t { kPermanent };
const char* neigh_state_name(NeighState s);

struct Neighbor {
    uint16_t port;
    Ip6 addr;
    Mac mac;
    NeighState state = NeighState::kPermanent;
};

class NeighCache {
public:
    NeighCache(Rib& rib, const AddrTable& addrs) : rib_(rib), addrs_(addrs) {}

    /* Adds or replaces a static entry. Refuses a multicast, unspecified or
     * loopback address, one of our own addresses ("is a local address"),
     * and a multicast or zero MAC. Undone by del(). */
    absl::Status add_static(uint16_t port, const Ip6& addr, const Mac& mac);
    /* NotFound "no such neighbor" when absent. */
    absl::Status del(uint16_t port, const Ip6& addr);
    /* Every entry of the port goes (the port is being deleted). */
    void forget_port(uint16_t port);

    std::vector<Neighbor> list() const;

private:
    Rib& rib_;
    const AddrTable& addrs_;
    std::map<std::pair<uint16_t, Ip6>, Neighbor> entries_;
};

}  // namespace fp6
