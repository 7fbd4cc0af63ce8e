/* The router's own addresses, per port, and the routes they imply.
 *
 * Concurrency. Control thread only. What the workers need of it (the usable
 * addresses and joined groups of each port) is copied into an immutable
 * PortAddrs and published by the control layer (see dataplane/tables.h).
 *
 * An address on an up port brings a connected route for its prefix and a
 * local /128; both go when the address goes or the port goes down, and come
 * back when the port comes up again. Every change of the usable set bumps
 * generation(), which source-address selection keys its cache on. */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/ip6.h"
#include "rib/rib.h"

namespace fp6 {

struct Address {
    Ip6 addr;
    int plen = 64;
    uint16_t port = kNoPort;
    Prefix6 subnet() const { return Prefix6(addr, plen).canonical(); }
};

/* Checks of an address given to `addr add`, as the original design does
 * them (illumos ip_addr_ok_v6 and friends), each with its own message:
 * unspecified, loopback, multicast, IPv4-mapped, IPv4-compatible with a
 * class-D address, a prefix length outside 1..128, and the subnet-router
 * anycast address (the address equal to its own subnet) unless the prefix
 * is /127 or /128 (RFC 6164). */
absl::Status check_address(const Ip6& addr, int plen);

class AddrTable {
public:
    explicit AddrTable(Rib& rib) : rib_(rib) {}

    /* Adds addr/plen to `port`. Refuses (status message says why, nothing
     * changes): check_address() failures; the same address already on this
     * port (AlreadyExists "exists"); a non-link-local address already on
     * another port (AlreadyExists "in use on PORT"). `port_up` says whether
     * the port's routes are to be installed now. Undone by del(). */
    absl::Status add(uint16_t port, const Ip6& addr, int plen, bool port_up);
    /* NotFound when the address is not on the port. */
    absl::Status del(uint16_t port, const Ip6& addr, int plen, bool port_up);
    /* Installs / withdraws the routes of every address of the port. */
    void port_up(uint16_t port);
    void port_down(uint16_t port);
    /* Drops every address of the port (the port is being deleted). */
    void forget_port(uint16_t port, bool port_up);

    std::vector<Address> on_port(uint16_t port) const;
    const std::vector<Address>& all() const { return addrs_; }
    /* Multicast groups the port listens to: all-nodes, all-routers and the
     * solicited-node group of each address (RFC 4291 2.7.1, 2.8). */
    std::vector<Ip6> groups(uint16_t port) const;
    bool is_ours(const Ip6& a) const;
    uint64_t generation() const { return generation_; }

private:
    void install(const Address& a);
    void withdraw(const Address& a);

    Rib& rib_;
    std::vector<Address> addrs_;  // in configuration order
    uint64_t generation_ = 0;
};

}  // namespace fp6
