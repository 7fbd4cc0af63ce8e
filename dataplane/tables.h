/* Everything a worker reads, in one place.
 *
 * Concurrency. Writer of every field: the control thread. Readers: the
 * workers, inside an RCU read-side section (between two quiescent states).
 * - PortView::addrs is an immutable PortAddrs published with
 *   rcu_assign_pointer() and freed with call_rcu() after a grace period.
 * - PortView scalar fields (link_up, mtu, icmp_rate, icmp_burst, redirects)
 *   and Tables' admin state words are single atomics that a worker may see
 *   change between packets; no packet needs more than one of them to be
 *   consistent with another (a bucket may see a new rate with the old
 *   burst for one error).
 * - fib and nexthops are owned by the RIB, see rib/fib.h and rib/nexthop.h. */
#pragma once

#include <rte_ethdev.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/ip6.h"
#include "common/rcu.h"
#include "dataplane/icmp_limit.h"
#include "rib/fib.h"
#include "rib/nexthop.h"

namespace fp6 {

/* The addresses a port answers for, as the packet path needs them. */
struct PortAddrs {
    std::vector<Ip6> unicast;  // usable (not tentative, not duplicate) addresses of the port
    std::vector<Ip6> groups;   // multicast groups joined on the port

    bool has_unicast(const Ip6& a) const noexcept {
        for (const Ip6& u : unicast)
            if (u == a)
                return true;
        return false;
    }
    bool has_group(const Ip6& g) const noexcept {
        for (const Ip6& m : groups)
            if (m == g)
                return true;
        return false;
    }
};

struct alignas(64) PortView {
    std::atomic<bool> exists{false};
    std::atomic<bool> link_up{false};
    std::atomic<uint16_t> mtu{1500};
    /* ICMPv6 errors owed to packets received on this port that each worker
     * hands to the control thread (RFC 4443 2.4 (f)): at most icmp_burst at
     * once, refilled at icmp_rate per second, per worker (n workers polling
     * the port may let n times as many through). Either 0: none. */
    std::atomic<uint32_t> icmp_rate{kIcmpDefaultRate};
    std::atomic<uint32_t> icmp_burst{kIcmpDefaultBurst};
    /* Whether a packet forwarded back out of this port, from a neighbour on
     * its link, earns that neighbour a Redirect (RFC 4861 8.2): the worker
     * then punts a copy (PuntReason::is_redirect), limited by a bucket of
     * its own with the icmp_rate and icmp_burst above. */
    std::atomic<bool> redirects{true};
    Mac mac;                     // set before `exists` becomes true, never changed after
    PortAddrs* addrs = nullptr;  // RCU-protected, may be null (no address)

    const PortAddrs* read_addrs() const noexcept { return rcu_dereference(addrs); }
};

struct Tables {
    const Fib* fib = nullptr;
    const NextHopTable* nexthops = nullptr;
    PortView ports[RTE_MAX_ETHPORTS];

    /* The software admin state of each port (down ports drop rx and tx),
     * as bits: the fast path tests a next hop's port with one load and a
     * bit test. Only ever up for a port that exists. */
    bool admin_up(uint16_t port) const noexcept {
        return (admin_words_[port / 64].load(std::memory_order_relaxed) >> (port % 64)) & 1;
    }
    /* The whole of the first word, for a loop over many packets when every
     * port id fits in it. */
    static constexpr bool kOneAdminWord = RTE_MAX_ETHPORTS <= 64;
    uint64_t admin_word() const noexcept { return admin_words_[0].load(std::memory_order_relaxed); }
    /* Writer (the control thread; tests). */
    void set_admin_up(uint16_t port, bool up) noexcept {
        const uint64_t bit = uint64_t(1) << (port % 64);
        if (up)
            admin_words_[port / 64].fetch_or(bit);
        else
            admin_words_[port / 64].fetch_and(~bit);
    }

  private:
    std::atomic<uint64_t> admin_words_[(RTE_MAX_ETHPORTS + 63) / 64] = {};
};

}  // namespace fp6
