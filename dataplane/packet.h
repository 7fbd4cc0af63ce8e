/* The packet path of a worker, as a pure function over a burst: it validates
 * each packet, decides local delivery or forwarding, rewrites forwarded
 * packets, and sorts them into per-port transmit lists and a punt list. It
 * touches no device, so unit tests drive it with real mbufs and inspect the
 * result; the worker loop (worker.cc) does the I/O.
 *
 * Every packet that is not transmitted or punted for local delivery is
 * counted under exactly one drop reason. A dropped packet that the router
 * owes an ICMPv6 error for (RFC 4443) is, when the error is allowed, punted
 * to the control thread with the error in its punt reason (see PuntReason)
 * instead of being freed; every other dropped packet is freed. */
#pragma once

#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <netinet/in.h>

#include <cstdint>
#include <cstring>

#include "dataplane/icmp_limit.h"
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
    kUnreachable,     // unreachable / prohibit / reject route (the ICMPv6 code tells them apart)
    kPortDown,        // received on, or to be sent through, an admin-down or absent port
    kTooBig,          // larger than the out port's MTU (fp6 never fragments, RFC 8200 5)
    kPuntFull,        // the ring to the control thread was full
    kTxFull,          // the device did not take the packet
    kCount
};

/* The hash that keeps a flow on one ECMP path (RFC 6438): both addresses,
 * the flow label and, when TCP, UDP or SCTP follows the fixed header
 * directly, the two ports. The frame holds an Ethernet and an IPv6 header
 * (classify_local() checked). */
inline uint32_t flow_hash(const rte_mbuf* m) {
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
    // rte_hash_crc() loads 8 bytes at a time, and the addresses sit 22 bytes
    // into the frame: hash an aligned copy (a misaligned load is undefined
    // behaviour, which UBSan reports; found by test/fuzz/fuzz_packet).
    alignas(8) uint8_t addrs[32];
    std::memcpy(addrs, ip->src_addr, sizeof(addrs));
    uint32_t h = rte_hash_crc(addrs, sizeof(addrs), ip->vtc_flow & rte_cpu_to_be_32(0xfffff));
    const uint8_t proto = ip->proto;
    if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) &&
        m->data_len >= sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + 4) {
        uint32_t ports;
        std::memcpy(&ports, ip + 1, sizeof(ports));
        h = rte_hash_crc_4byte(ports, h);
    }
    return h;
}

const char* drop_name(Drop d);

/* Per-worker counters, written only by their worker (plain stores, no
 * atomics); the control thread reads them racily for `stats show`, which is
 * fine for 64-bit counters on the platforms DPDK supports. */
struct alignas(64) WorkerStats {
    uint64_t rx = 0;         // packets received
    uint64_t forwarded = 0;  // packets handed to tx
    uint64_t punted = 0;     // packets handed to the control thread for local delivery
    uint64_t drops[size_t(Drop::kCount)] = {};
    /* Of the dropped packets owed an ICMPv6 error: those handed to the control
     * thread to send it, and those whose error the rx port's bucket refused.
     * Packets for which no error may be sent (RFC 4443 2.4 (e)) are neither. */
    uint64_t icmp_punted = 0;
    uint64_t icmp_ratelimited = 0;
    uint64_t resolve_punted = 0;  // handed to the control thread to resolve a neighbour
    /* Of the forwarded packets that earn their source a Redirect (RFC 4861
     * 8.2): those whose copy went to the control thread, those the rx port's
     * redirect bucket refused, and those that got no copy (mbuf pool empty). */
    uint64_t redirect_punted = 0;
    uint64_t redirect_ratelimited = 0;
    uint64_t redirect_no_mbuf = 0;
    /* The worker loop's own counters (worker.cc): iterations of the poll
     * loop, rx bursts that returned packets (rx / rx_bursts is the mean
     * burst size), and TSC cycles spent in iterations that found packets
     * (busy) or none, sleeping included (idle). */
    uint64_t loops = 0;
    uint64_t rx_bursts = 0;
    uint64_t busy_cycles = 0;
    uint64_t idle_cycles = 0;
};

/* What the packet path keeps between bursts, private to one worker: declared
 * by the worker loop, passed to every classify_burst() of that worker. */
struct WorkerLocal {
    IcmpLimiter icmp;      // ICMPv6 errors per rx port (RFC 4443 2.4 (f))
    IcmpLimiter redirect;  // Redirects per rx port (RFC 4861 8.2), apart from the errors
    /* The TSC at the start of the worker's loop iteration, which
     * classify_burst() takes as its clock instead of reading it again;
     * 0: it reads the TSC itself. */
    uint64_t now = 0;
};

/* How much of a packet that earns a Redirect the worker copies for the
 * control thread, after the Ethernet header: the most an ICMPv6 message
 * quotes (1280 - 48, RFC 4443 2.4 (c)); a Redirect quotes less (RFC 4861
 * 4.6.3). */
inline constexpr uint32_t kRedirectCopyLen = 1232;

/* Why a packet was punted, in the mbuf's m->hash.usr (which overlays the RSS
 * hash; classify_burst writes it on every punted packet):
 *
 *   bits 31-24  ICMPv6 error type the router owes the packet's source (RFC 4443 3);
 *               137 (kIcmp6Redirect): a Redirect (RFC 4861 4.5), see below;
 *               kResolve: see there;
 *               0: no error, the packet is for local delivery
 *   bits 23-16  ICMPv6 code (0 for a Redirect)
 *   bits 15-0   Packet Too Big: the MTU of the out port (PortView::mtu);
 *               Redirect: flags, kRedirectTargetIsDestination; else 0
 *
 * A packet punted with an error was not forwarded; it arrives as it was
 * received (hop limit and Ethernet header untouched) and m->port is its rx
 * port. The control thread still checks RFC 4443 2.4 (e) through extension
 * headers (control/icmp6.h error_allowed) before sending the error.
 *
 * A packet punted with a Redirect is a COPY of a packet that was forwarded
 * (the original went out of its rx port m->port): its Ethernet frame as
 * received, hop limit untouched, cut to sizeof(rte_ether_hdr) +
 * kRedirectCopyLen bytes, from the mbuf pool of the original. Its source is
 * a neighbour on m->port's link (RFC 4861 8.2); the better first hop for
 * its destination is the next hop the worker forwarded it to, which the
 * control thread looks up again: the Redirect's target is that neighbour's
 * link-local address, or, with kRedirectTargetIsDestination, the
 * destination itself (on-link: the next hop's address was the destination,
 * RFC 4861 4.5). It is never an error to answer with an ICMPv6 error. */
struct PuntReason {
    /* Not an ICMPv6 type: the packet was not forwarded because its next hop
     * has no link-layer address yet; the control thread resolves it (RFC
     * 4861 7.2.2) and sends the packet once it can. */
    static constexpr uint8_t kResolve = 0xff;
    /* Redirect flag: the destination is the next hop itself (on-link). */
    static constexpr uint16_t kRedirectTargetIsDestination = 1;

    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    uint16_t mtu = 0;

    constexpr bool is_error() const noexcept { return icmp_type != 0 && icmp_type < 128; }
    constexpr bool is_resolve() const noexcept { return icmp_type == kResolve; }
    constexpr bool is_redirect() const noexcept { return icmp_type == kIcmp6Redirect; }
    constexpr bool target_is_destination() const noexcept {
        return is_redirect() && (mtu & kRedirectTargetIsDestination) != 0;
    }
    constexpr uint32_t encode() const noexcept {
        return uint32_t(icmp_type) << 24 | uint32_t(icmp_code) << 16 | mtu;
    }
    static constexpr PuntReason decode(uint32_t tag) noexcept {
        return {uint8_t(tag >> 24), uint8_t(tag >> 16), uint16_t(tag)};
    }
    friend constexpr bool operator==(const PuntReason&, const PuntReason&) = default;
};

inline PuntReason punt_reason(const rte_mbuf* m) {
    return PuntReason::decode(m->hash.usr);
}

/* Result of classify_burst(). tx[i] goes out of port tx_port[i]. The punt
 * list holds the packets for local delivery first, then n_icmp packets owed
 * an ICMPv6 error, then the n_redirect copies of forwarded packets owed a
 * Redirect (so that when the punt ring is short of room the Redirects, then
 * the errors, not the local traffic, are lost). A packet is never in more
 * than one list, a copy apart, so n_punt <= n. */
struct BurstResult {
    static constexpr int kMax = 64;
    uint16_t n_tx = 0;
    uint16_t n_punt = 0;      // including the n_icmp errors and the n_redirect copies
    uint16_t n_icmp = 0;      // punt[n_punt - n_redirect - n_icmp, n_punt - n_redirect)
    uint16_t n_redirect = 0;  // punt[n_punt - n_redirect, n_punt): Redirect copies
    bool one_port = true;     // every tx_port[i] is tx_port[0] (or n_tx is 0)
    rte_mbuf* tx[kMax];
    uint16_t tx_port[kMax];
    rte_mbuf* punt[kMax];
};

/* Classifies n <= BurstResult::kMax packets received on `rx_port`. Must be
 * called inside an RCU read-side section. Overwrites *out (n_tx, n_punt,
 * n_icmp and n_redirect start from 0); tx, the local punts, the error punts
 * and the Redirect copies each keep the packets' arrival order. Counts each
 * dropped packet under one reason in st->drops; frees it, unless it is owed
 * an ICMPv6 error that RFC 4443 2.4 (e) allows (as far as the IPv6 header
 * shows) and the rx port's bucket in local->icmp grants, in which case it is
 * punted with its PuntReason (st->icmp_punted; a refusal of the bucket
 * counts st->icmp_ratelimited).
 *
 * RFC 4861 8.2: a packet forwarded out of rx_port itself, while that port's
 * `redirects` is on, whose source the FIB places on rx_port's link (a
 * connected route of rx_port, or a neighbour next hop on rx_port whose
 * address is the source: one more lookup, for such packets only), is
 * forwarded as any other and, when rx_port's bucket in local->redirect
 * grants, also copied (rte_pktmbuf_copy, before the rewrite) into the punt
 * list with a Redirect PuntReason (st->redirect_punted; refused by the
 * bucket: st->redirect_ratelimited; no mbuf: st->redirect_no_mbuf).
 * local == nullptr: no error and no Redirect copy is ever punted. */
void classify_burst(const Tables& t, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                    BurstResult* out, WorkerStats* st, WorkerLocal* local = nullptr);

/* The counters' side of a punt ring that took only the first `enqueued` of
 * r.n_punt packets (the caller frees the rest): a local punt that was not
 * taken moves from st->punted to drops[punt_full]; an error punt stays under
 * its drop reason and leaves st->icmp_punted; a Redirect copy leaves
 * st->redirect_punted (its original was forwarded). */
void punt_shortfall(const BurstResult& r, unsigned enqueued, WorkerStats* st);

}  // namespace fp6
