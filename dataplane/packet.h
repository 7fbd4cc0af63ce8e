/* The packet path of a worker, as a pure function over a burst: it validates
 * each packet, decides local delivery or forwarding, rewrites forwarded
 * packets, and sorts them into per-port transmit lists and a punt list. It
 * touches no device, so unit tests drive it with real mbufs and inspect the
 * result; the worker loop (worker.cc) does the I/O.
 *
 * Every packet that is not transmitted or punted is freed and counted under
 * exactly one drop reason. */
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/tables.h"

namespace fp6 {

/* Why a packet was dropped. The names (drop_name) are stable: they are the
 * keys of `stats show` and of the metrics. */
enum class Drop : uint8_t {
    kNotIpv6,         // ethertype is not IPv6
    kL2NotOurs,       // destination MAC neither the port's nor multicast
    kTruncated,       // frame shorter than the Ethernet + IPv6 headers
    kBadVersion,      // IP version not 6
    kBadLength,       // payload length longer than the frame
    kBadSource,       // multicast or loopback source; unspecified source when forwarding
    kBadDest,         // loopback or unspecified destination
    kLinkLocalScope,  // link-local source or destination that would leave its link
    kMcastForward,    // multicast destination we do not listen to (no multicast routing)
    kHopLimit,        // hop limit 0 or 1 when forwarding
    kNoRoute,         // no FIB entry
    kNoNeighbor,      // next hop without a resolved link-layer address
    kBlackhole,       // blackhole route
    kUnreachable,     // unreachable / prohibit / reject route
    kPortDown,        // received on, or to be sent through, an admin-down or absent port
    kPuntFull,        // the ring to the control thread was full
    kTxFull,          // the device did not take the packet
    kCount
};

const char* drop_name(Drop d);

/* Per-worker counters, written only by their worker (plain stores, no
 * atomics); the control thread reads them racily for `stats show`, which is
 * fine for 64-bit counters on the platforms DPDK supports. */
struct alignas(64) WorkerStats {
    uint64_t rx = 0;        // packets received
    uint64_t forwarded = 0; // packets handed to tx
    uint64_t punted = 0;    // packets handed to the control thread
    uint64_t drops[size_t(Drop::kCount)] = {};
};

/* Result of classify_burst(). tx[i] goes out of port tx_port[i]. */
struct BurstResult {
    static constexpr int kMax = 64;
    uint16_t n_tx = 0;
    uint16_t n_punt = 0;
    rte_mbuf* tx[kMax];
    uint16_t tx_port[kMax];
    rte_mbuf* punt[kMax];
};

/* Classifies n <= BurstResult::kMax packets received on `rx_port`. Must be
 * called inside an RCU read-side section. Overwrites *out (n_tx and n_punt
 * start from 0); tx and punt keep the packets' arrival order. Frees dropped
 * packets and counts each under one reason in st->drops. */
void classify_burst(const Tables& t, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                    BurstResult* out, WorkerStats* st);

}  // namespace fp6
