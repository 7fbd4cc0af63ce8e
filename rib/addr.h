/* The router's own addresses, per port, and the routes they imply.
 *
 * Concurrency. Control thread only. What the workers need of it (the usable
 * addresses and joined groups of each port) is copied into an immutable
 * PortAddrs and published by the control layer (see dataplane/tables.h).
 *
 * An address on an up port brings a connected route for its prefix at once
 * (so gateway routes through it can be configured while DAD runs, as Linux
 * and illumos allow) and its local /128 once it is preferred. Both go when
 * the address goes or the port goes down; the address itself stays, back to
 * tentative, and is checked again when the port comes up. Every change of
 * the usable set bumps generation(), which source-address selection keys its
 * cache on. */
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/ip6.h"
#include "rib/rib.h"

namespace fp6 {

/* An address is tentative until duplicate address detection proves it
 * unique (preferred), or duplicate when it did not. Only a preferred address
 * is used: as a source, and as a destination we accept. */
enum class AddrState : uint8_t { kTentative, kPreferred, kDuplicate };

/* What the operator says of an address besides its prefix (`addr add`). */
struct AddrOptions {
    bool operator_preferred = false;          // `preferred-source`: source selection's rule 4
    bool temporary = false;                   // RFC 4941 temporary address (rule 7)
    bool autoconf = false;                    // autoconfigured rather than static
    std::optional<uint64_t> preferred_until;  // ms on the control clock; none: forever
    std::optional<uint64_t> valid_until;      // ms on the control clock; none: forever
};

struct Address {
    Ip6 addr;
    int plen = 64;
    uint16_t port = kNoPort;
    AddrState state = AddrState::kTentative;
    bool auto_linklocal = false;  // derived from the MAC by fp6 at port up
    bool deprecated = false;      // its preferred lifetime ended: usable, but avoided
    AddrOptions opts;
    Prefix6 subnet() const { return Prefix6(addr, plen).canonical(); }
    /* Usable: DAD passed (preferred or deprecated, RFC 4862 5.5.4). */
    bool usable() const { return state == AddrState::kPreferred; }
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
    absl::Status add(uint16_t port, const Ip6& addr, int plen, bool port_up,
                     bool auto_linklocal = false, AddrOptions opts = {});
    /* NotFound when the address is not on the port. */
    absl::Status del(uint16_t port, const Ip6& addr, int plen, bool port_up);
    /* Installs / withdraws the routes of every address of the port; both
     * leave every address of the port tentative. */
    void port_up(uint16_t port);
    void port_down(uint16_t port);
    /* The outcome of DAD for an address of an up port: kPreferred installs
     * its local /128, kDuplicate (or back to kTentative) withdraws it.
     * Returns false if the address is not there. */
    bool set_state(uint16_t port, const Ip6& addr, AddrState state);
    const Address* find(uint16_t port, const Ip6& addr) const;
    /* Address lifetimes (RFC 4862 5.5.4): at `now`, addresses whose
     * preferred lifetime ended become deprecated, those whose valid lifetime
     * ended are removed (their routes withdrawn when `port_up(port)`).
     * Returns the (port, address) pairs that changed. */
    std::vector<std::pair<uint16_t, Ip6>> expire(uint64_t now,
                                                 const std::function<bool(uint16_t)>& port_up);
    /* The earliest lifetime deadline, if any. */
    std::optional<uint64_t> next_expiry() const;
    /* A usable (preferred) address of the port equal to `a`. */
    bool is_usable_on(uint16_t port, const Ip6& a) const;
    /* Drops every address of the port (the port is being deleted). */
    void forget_port(uint16_t port, bool port_up);

    std::vector<Address> on_port(uint16_t port) const;
    const std::vector<Address>& all() const { return addrs_; }
    /* Multicast groups the port listens to: all-nodes, all-routers and the
     * solicited-node group of each address (RFC 4291 2.7.1, 2.8). */
    std::vector<Ip6> groups(uint16_t port) const;
    bool is_ours(const Ip6& a) const;
    bool has_linklocal(uint16_t port) const;
    uint64_t generation() const { return generation_; }

  private:
    void install(const Address& a);
    void withdraw(const Address& a);

    Rib& rib_;
    std::vector<Address> addrs_;  // in configuration order
    uint64_t generation_ = 0;
};

}  // namespace fp6
