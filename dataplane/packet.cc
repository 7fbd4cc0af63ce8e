/* The worker's packet path: see packet.h.
 *
 * A burst is walked in three passes so that the FIB is asked once per burst:
 *  1. the checks that need no route (Ethernet, IPv6 header, addresses, the
 *     multicast and link-local destinations the rx port answers for) decide
 *     a drop, a punt, or "needs a lookup" and collect the destinations;
 *  2. one Fib::lookup_bulk() for every packet still alive;
 *  3. per packet, in arrival order: the next hop decides local delivery or
 *     forwarding, and forwarded packets are rewritten.
 * Punted and transmitted packets keep their arrival order. Dropped packets
 * are counted under exactly one reason; those owed an ICMPv6 error that may
 * be sent are punted after the local ones, the others freed together at the
 * end. Every error the router owes is decided in pass 3: pass 1 drops only
 * packets that get no error. A forwarded packet that goes back out of its rx
 * port may also leave a copy for a Redirect (RFC 4861 8.2), after the errors. */
#include "dataplane/packet.h"

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_debug.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <cassert>
#include <cstddef>
#include <cstring>
#include <iterator>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fp6 {

namespace {

/* Sentinel for the validators below: the packet passed. */
constexpr Drop kOk = Drop::kCount;

/* How many packets ahead of the one being examined the first pass prefetches. */
constexpr uint16_t kPrefetchAhead = 4;

constexpr uint8_t kIpVersion = 6;
constexpr uint8_t kNextHeaderHopByHop = 0;
constexpr uint8_t kNextHeaderIcmp6 = 58;

/* What the packet path decided for one packet. */
enum class Step : uint8_t {
    kForward,  // rewritten, goes out of the next hop's port
    kPunt,     // for the control thread
    kLookup,   // passed the route-independent checks, needs the FIB
    kPlain,    // kLookup, and sure to pass validate_forwarding() and any MTU
    kDrop,     // freed and counted under `why`
};

struct Verdict {
    Step step;
    Drop why;
    PuntReason icmp{};  // kDrop: the ICMPv6 error owed to the source, if any
};

constexpr Verdict forward() {
    return {Step::kForward, kOk};
}
constexpr Verdict punt() {
    return {Step::kPunt, kOk};
}
constexpr Verdict lookup() {
    return {Step::kLookup, kOk};
}
/* For the control thread to resolve the next hop (PuntReason kResolve). */
constexpr Verdict resolve() {
    return {Step::kPunt, kOk, PuntReason{PuntReason::kResolve, 0, 0}};
}
constexpr Verdict drop(Drop why, PuntReason icmp = {}) {
    return {Step::kDrop, why, icmp};
}

constexpr const char* kDropNames[] = {
    "not_ipv6",  "l2_not_ours",     "truncated",     "bad_version", "bad_length", "bad_source",
    "bad_dest",  "linklocal_scope", "mcast_forward", "hop_limit",   "no_route",   "no_neighbor",
    "blackhole", "unreachable",     "port_down",     "too_big",     "punt_full",  "tx_full",
};
static_assert(std::size(kDropNames) == size_t(Drop::kCount), "one name per Drop reason");

inline rte_ipv6_hdr* ip6_of(rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, sizeof(rte_ether_hdr));
}
inline const rte_ipv6_hdr* ip6_of(const rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, sizeof(rte_ether_hdr));
}

inline bool port_usable(const Tables& t, uint16_t port) {
    return port < RTE_MAX_ETHPORTS && t.ports[port].exists.load(std::memory_order_relaxed) &&
           t.admin_up(port);
}

/* The largest frame that fits every IPv6 link (RFC 8200 5: MTU >= 1280). */
constexpr uint32_t kAnyLinkFrame = sizeof(rte_ether_hdr) + 1280;

/* A port's MAC as a 4-byte and a 2-byte word, compared in two operations. */
struct MacWords {
    uint32_t lo;
    uint16_t hi;

    explicit MacWords(const uint8_t* mac) {
        std::memcpy(&lo, mac, 4);
        std::memcpy(&hi, mac + 4, 2);
    }
    bool same(const uint8_t* mac) const {
        uint32_t l;
        uint16_t h;
        std::memcpy(&l, mac, 4);
        std::memcpy(&h, mac + 4, 2);
        return ((l ^ lo) | uint32_t(h ^ hi)) == 0;
    }
};

/* The packet almost every burst is made of, told in a few operations: a
 * single-segment frame unicast to the port's MAC, ethertype IPv6, version
 * 6, no link padding, a payload of 1 to 1240 bytes (a datagram of at most
 * 1280, which no link's MTU can refuse), a hop limit above 1, and a source
 * and destination whose first byte is none of 0x00, 0xfe, 0xff. Such a
 * packet passes every check of pass 1 and is kPlain (classify_local()
 * would say so too, in about twice the instructions); any other packet
 * takes classify_local(). */
class PlainFilter {
  public:
#if defined(__SSE2__)
    explicit PlainFilter(const uint8_t* mac) {
        // Bytes 0-15 of the frame: destination MAC (6), source MAC (6, any),
        // ethertype (2), version and traffic class (the high nibble only).
        // Built in registers: bytes stored one by one and read back as a
        // vector would stall on store forwarding, once a burst.
        uint64_t dst = 0;
        std::memcpy(&dst, mac, 6);
        constexpr uint64_t kHigh = uint64_t(RTE_ETHER_TYPE_IPV6 >> 8) << 32 |
                                   uint64_t(RTE_ETHER_TYPE_IPV6 & 0xff) << 40 |
                                   uint64_t(kIpVersion << 4) << 48;
        constexpr uint64_t kHighMask = uint64_t(0xffff) << 32 | uint64_t(0xf0) << 48;
        want_ = _mm_set_epi64x(int64_t(kHigh), int64_t(dst));
        mask_ = _mm_set_epi64x(int64_t(kHighMask), int64_t(0xffffffffffff));
    }
#else
    explicit PlainFilter(const uint8_t* mac) : mac_(mac) {}
#endif

    bool plain(const rte_mbuf* m, const uint8_t* frame) const {
        constexpr uint32_t kHeaders = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
        const uint32_t len = rte_pktmbuf_pkt_len(m);
        // One segment, and kHeaders + 1 <= len <= kAnyLinkFrame.
        if (unlikely(rte_pktmbuf_data_len(m) != len ||
                     len - (kHeaders + 1) >= kAnyLinkFrame - kHeaders))
            return false;
        const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(frame + sizeof(rte_ether_hdr));
        // & rather than &&: one branch for the lot.
        return l2_ok(frame) & (len - kHeaders == rte_be_to_cpu_16(ip->payload_len)) &
               (ip->hop_limits > 1) & (uint8_t(ip->src_addr[0] - 1) < 0xfd) &
               (uint8_t(ip->dst_addr[0] - 1) < 0xfd);
    }

  private:
#if defined(__SSE2__)
    bool l2_ok(const uint8_t* frame) const {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(frame));
        return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(h, mask_), want_)) == 0xffff;
    }
    __m128i want_, mask_;
#else
    bool l2_ok(const uint8_t* frame) const {
        const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
        return mac_.same(frame) & (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) &
               ((frame[sizeof(rte_ether_hdr)] >> 4) == kIpVersion);
    }
    MacWords mac_;
#endif
};

/* Ethernet header (IEEE 802.3 / RFC 2464), in the first data_len bytes. */
inline Drop validate_l2(const rte_mbuf* m, const MacWords& port_mac) {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    // RFC 2464 3: IPv6 is ethertype 0x86DD. TODO: 802.1Q tags.
    if (unlikely(eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV6)))
        return Drop::kNotIpv6;
    // IEEE 802.3 3.2.3: a station takes its own address and group (I/G bit) addresses.
    if (likely(port_mac.same(eth->dst_addr.addr_bytes)))
        return kOk;
    if (likely(rte_is_multicast_ether_addr(&eth->dst_addr)))
        return kOk;
    return Drop::kL2NotOurs;
}

/* IPv6 header (RFC 8200 3), in the first data_len bytes. Trims Ethernet
 * padding past the datagram. */
inline Drop validate_ip6(rte_mbuf* m) {
    const rte_ipv6_hdr* ip = ip6_of(m);
    // RFC 8200 3: Version = 6.
    if (unlikely((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != kIpVersion))
        return Drop::kBadVersion;
    const uint32_t l3_len = rte_pktmbuf_pkt_len(m) - uint32_t(sizeof(rte_ether_hdr));
    const uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
    // RFC 8200 3: Payload Length counts every byte after the fixed header.
    if (unlikely(payload + sizeof(rte_ipv6_hdr) > l3_len))
        return Drop::kBadLength;
    // RFC 2675 3: payload length 0 with a Hop-by-Hop header is a jumbogram; unsupported.
    if (unlikely(payload == 0 && ip->proto == kNextHeaderHopByHop))
        return Drop::kBadLength;
    // RFC 8200 3: the datagram ends after Payload Length bytes; what follows is
    // link padding (IEEE 802.3 pads frames to 60 bytes).
    const uint32_t excess = l3_len - payload - uint32_t(sizeof(rte_ipv6_hdr));
    if (unlikely(excess != 0) &&
        (excess > UINT16_MAX || rte_pktmbuf_trim(m, uint16_t(excess)) != 0))
        return Drop::kBadLength;  // trailing bytes beyond the last segment: not padding
    return kOk;
}

/* Both headers, which must lie in the first segment (every PMD delivers
 * them there with the default buffer size). A frame too short for them is
 * truncated, unless its Ethernet header already says it is not for us. */
inline Drop validate_headers(rte_mbuf* m, const MacWords& port_mac) {
    constexpr uint32_t kHeaders = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
    if (unlikely(rte_pktmbuf_data_len(m) < kHeaders)) {
        if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr))
            return Drop::kTruncated;
        const Drop why = validate_l2(m, port_mac);
        return why != kOk ? why : Drop::kTruncated;
    }
    if (Drop why = validate_l2(m, port_mac); unlikely(why != kOk))
        return why;
    return validate_ip6(m);
}

/* Source and destination, whatever the route (RFC 4291), read in place: the
 * common case looks at their first bytes only. */
inline Drop validate_addrs(const uint8_t* src, const uint8_t* dst) {
    // RFC 4291 2.7: multicast is never a source address.
    if (unlikely(src[0] == 0xff))
        return Drop::kBadSource;
    // ::1 and :: both start with a zero byte and few other addresses do.
    // RFC 4291 2.5.3: the loopback address never leaves a node, nor arrives on a link.
    if (unlikely(src[0] == 0) && Ip6::from_bytes(src).is_loopback())
        return Drop::kBadSource;
    if (unlikely(dst[0] == 0)) {
        const Ip6 d = Ip6::from_bytes(dst);
        if (d.is_loopback())
            return Drop::kBadDest;
        // RFC 4291 2.5.2: the unspecified address is never a destination.
        if (d.is_unspecified())
            return Drop::kBadDest;
    }
    return kOk;
}

/* Destinations whose fate the rx port decides: multicast and link-local. */
inline Verdict scoped_destination(const Ip6& dst, const PortAddrs* addrs) {
    if (dst.is_multicast()) {
        // Groups the port joined are ours; there is no multicast routing.
        if (addrs != nullptr && addrs->has_group(dst))
            return punt();
        return drop(Drop::kMcastForward);
    }
    if (dst.is_linklocal()) {
        // RFC 4291 2.5.6: a link-local destination is never forwarded.
        if (addrs != nullptr && addrs->has_unicast(dst))
            return punt();
        return drop(Drop::kLinkLocalScope);
    }
    return lookup();
}

/* Pass 1 for one packet. On kLookup or kPlain, dst[0..15] holds the
 * destination. kPlain says that pass 3 may skip validate_forwarding() and
 * the MTU check: a hop limit above 1, a source that is neither unspecified
 * nor link-local (its first byte neither 0 nor 0xfe; 0xff was dropped
 * here), and a datagram no link can refuse. */
inline Verdict classify_local(rte_mbuf* m, const MacWords& port_mac, const PortAddrs* addrs,
                              uint8_t* dst) {
    if (Drop why = validate_headers(m, port_mac); unlikely(why != kOk))
        return drop(why);
    const rte_ipv6_hdr* ip = ip6_of(m);
    if (Drop why = validate_addrs(ip->src_addr, ip->dst_addr); unlikely(why != kOk))
        return drop(why);
    // Multicast (ff) and link-local (fe80::/10) destinations.
    if (unlikely(ip->dst_addr[0] >= 0xfe)) {
        const Verdict v = scoped_destination(Ip6::from_bytes(ip->dst_addr), addrs);
        if (v.step != Step::kLookup)
            return v;
    }
    // Three tests, and no branch between them (& rather than &&).
    const bool plain = (ip->hop_limits > 1) & (uint8_t(ip->src_addr[0] - 1) < 0xfd) &
                       (rte_pktmbuf_pkt_len(m) <= kAnyLinkFrame);
    std::memcpy(dst, ip->dst_addr, 16);
    static_assert(uint8_t(Step::kPlain) == uint8_t(Step::kLookup) + 1);
    return {Step(uint8_t(Step::kLookup) + plain), kOk};
}

/* RFC 4443 3.1: Destination Unreachable with `code`. */
constexpr PuntReason unreachable(uint8_t code) {
    return {kIcmp6DstUnreachable, code, 0};
}

/* What only a packet that would be forwarded must satisfy: a drop (with the
 * error owed, if any), or forward() when it passes. */
inline Verdict validate_forwarding(const rte_ipv6_hdr* ip) {
    const Ip6 src = Ip6::from_bytes(ip->src_addr);
    // RFC 4291 2.5.2: a packet with the unspecified source is never forwarded.
    if (unlikely(src[0] == 0) && src.is_unspecified())
        return drop(Drop::kBadSource);
    // RFC 4291 2.5.6: nor one with a link-local source (it would leave its link);
    // RFC 4443 3.1: code 2, beyond scope of source address.
    if (unlikely(src.is_linklocal()))
        return drop(Drop::kLinkLocalScope, unreachable(kUnreachBeyondScope));
    // RFC 8200 3 / RFC 4443 3.3: a router discards a packet whose hop limit
    // reaches 0 and sends Time Exceeded, code 0.
    if (unlikely(ip->hop_limits <= 1))
        return drop(Drop::kHopLimit, {kIcmp6TimeExceeded, kTimeExceededHopLimit, 0});
    return forward();
}

/* What the next hop makes of a packet that is not for us: a drop (with the
 * error owed, if any), or forward() when the next hop can take it. */
inline Verdict validate_nexthop(const Tables& t, const NextHop& nh) {
    switch (nh.kind) {
        case NhKind::kNeighbor:
            // RFC 4861 7.2.2: the control thread resolves the neighbour and
            // queues the packet meanwhile.
            if (unlikely(!nh.resolved))
                return resolve();
            if (unlikely(!port_usable(t, nh.port)))
                return drop(Drop::kPortDown);
            return forward();
        case NhKind::kNoRoute:
            // RFC 4443 3.1: code 0, no route to destination.
            return drop(Drop::kNoRoute, unreachable(kUnreachNoRoute));
        case NhKind::kBlackhole:
            return drop(Drop::kBlackhole);  // silent by definition
        // RFC 4443 3.1, one code per kind of route.
        case NhKind::kUnreachable:
            return drop(Drop::kUnreachable, unreachable(kUnreachNoRoute));
        case NhKind::kProhibit:
            return drop(Drop::kUnreachable, unreachable(kUnreachProhibited));
        case NhKind::kReject:
            return drop(Drop::kUnreachable, unreachable(kUnreachReject));
        case NhKind::kConnected:
            // On-link destination without a neighbour entry yet: resolve it.
            return resolve();
        case NhKind::kLocal:
        case NhKind::kGroup:
            break;  // handled by the caller (a group's member is never a group)
    }
    return drop(Drop::kNoRoute, unreachable(kUnreachNoRoute));
}

/* Pass 3 for one packet that needed the FIB. */
inline Verdict classify_route(const Tables& t, rte_mbuf* m, const NextHop* nh) {
    // No table yet: no route (RFC 4443 3.1 code 0).
    if (unlikely(nh == nullptr))
        return drop(Drop::kNoRoute, unreachable(kUnreachNoRoute));
    // Packets to the router are accepted whatever their hop limit (RFC 8200 3).
    if (unlikely(nh->kind == NhKind::kLocal))
        return punt();
    const rte_ipv6_hdr* ip = ip6_of(m);
    if (Verdict v = validate_forwarding(ip); unlikely(v.step == Step::kDrop))
        return v;
    if (Verdict v = validate_nexthop(t, *nh); unlikely(v.step != Step::kForward))
        return v;
    // RFC 8200 5: routers do not fragment; RFC 4443 3.2: a packet larger than
    // the link's MTU gets Packet Too Big carrying that MTU.
    const uint16_t mtu = t.ports[nh->port].mtu.load(std::memory_order_relaxed);
    if (unlikely(uint32_t(rte_be_to_cpu_16(ip->payload_len)) + sizeof(rte_ipv6_hdr) > mtu))
        return drop(Drop::kTooBig, {kIcmp6PacketTooBig, 0, mtu});
    return forward();
}

/* Rewrites a packet for its next hop: hop limit and Ethernet header. IPv6 has
 * no header checksum to fix (RFC 8200 3). */
inline void rewrite(uint8_t* frame, const NextHop& nh) {
    reinterpret_cast<rte_ipv6_hdr*>(frame + sizeof(rte_ether_hdr))->hop_limits--;
    std::memcpy(frame, &nh.l2, sizeof(rte_ether_hdr));
}

/* Whether an error of `type` may be sent for m, as far as its Ethernet and
 * IPv6 headers and the byte after them show (RFC 4443 2.4 (e)); the control
 * thread checks again through extension headers. */
inline bool error_eligible(const rte_mbuf* m, uint8_t type) {
    const rte_ipv6_hdr* ip = ip6_of(m);
    // RFC 4443 2.4 (e.6): not to a source that names no single node.
    const Ip6 src = Ip6::from_bytes(ip->src_addr);
    if (src.is_unspecified() || src.is_multicast())
        return false;
    // RFC 4443 2.4 (e.3), (e.4), (e.5): not for a multicast destination, nor
    // a link-layer multicast or broadcast frame, except Packet Too Big. (The
    // Parameter Problem exception is the control thread's: no worker sends
    // one.)
    if (type != kIcmp6PacketTooBig) {
        if (ip->dst_addr[0] == 0xff)
            return false;
        if (rte_is_multicast_ether_addr(&rte_pktmbuf_mtod(m, const rte_ether_hdr*)->dst_addr))
            return false;  // the I/G bit: broadcast too
    }
    // RFC 4443 2.4 (e.1), (e.2): not for an ICMPv6 error or a Redirect
    // (RFC 4861 4.5). A message whose type is not in the first segment gets
    // nothing either.
    if (ip->proto == kNextHeaderIcmp6) {
        if (ip->payload_len == 0 ||
            rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + 1)
            return false;
        const uint8_t icmp_type = *reinterpret_cast<const uint8_t*>(ip + 1);
        if (icmp_type < kIcmp6FirstInfo || icmp_type == kIcmp6Redirect)
            return false;
    }
    return true;
}

/* RFC 4861 8.2: whether the FIB places `src` on rx_port's link: a connected
 * route of rx_port (an on-link prefix whose neighbour is not resolved yet),
 * or a neighbour next hop on rx_port whose address is src itself (the /128
 * of a neighbour inside an on-link prefix, or a gateway sending from its own
 * address). A gateway route through rx_port that merely covers src says it
 * lives behind that gateway, not on the link. */
inline bool source_on_link(const Tables& t, const Ip6& src, uint16_t rx_port) {
    if (unlikely(t.fib == nullptr || t.nexthops == nullptr))
        return false;
    const NextHop* nh = t.nexthops->get(t.fib->lookup(src));
    if (nh == nullptr || nh->port != rx_port)
        return false;
    return nh->kind == NhKind::kConnected || (nh->kind == NhKind::kNeighbor && nh->addr == src);
}

}  // namespace

const char* drop_name(Drop d) {
    const size_t i = size_t(d);
    return i < std::size(kDropNames) ? kDropNames[i] : "unknown";
}

void classify_burst(const Tables& t, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                    BurstResult* out, WorkerStats* st, WorkerLocal* local) {
    RTE_ASSERT(n <= BurstResult::kMax);
    rte_mbuf* dropped[BurstResult::kMax];
    uint16_t n_drop = 0;
    auto drop_pkt = [&](rte_mbuf* m, Drop why) {
        st->drops[size_t(why)]++;
        dropped[n_drop++] = m;
    };
    auto punt_local = [&](rte_mbuf* m) {
        m->hash.usr = 0;  // PuntReason: local delivery
        out->punt[out->n_punt++] = m;
        st->punted++;
    };

    out->n_tx = 0;
    out->one_port = true;
    out->n_punt = 0;
    out->n_icmp = 0;
    out->n_redirect = 0;
    st->rx += n;

    if (unlikely(!port_usable(t, rx_port))) {
        st->drops[size_t(Drop::kPortDown)] += n;
        rte_pktmbuf_free_bulk(pkts, n);
        return;
    }
    const PortView& port = t.ports[rx_port];
    const MacWords port_mac(port.mac.data());
    const PlainFilter filter(port.mac.data());
    constexpr size_t kDstOffset = sizeof(rte_ether_hdr) + offsetof(rte_ipv6_hdr, dst_addr);
    const PortAddrs* addrs = port.read_addrs();

    // Pass 1: the checks that need no route.
    Step step[BurstResult::kMax];
    // Where each frame starts, so that pass 3 rewrites it without reading
    // the mbuf again (a lookup in a large table evicts that line).
    uint8_t* frames[BurstResult::kMax];
    uint8_t dsts[BurstResult::kMax][16];
    for (uint16_t i = 0; i < n && i < kPrefetchAhead; i++)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    // While the packets are plain (usually the whole burst), packet i's
    // destination is dsts[i] and its step kPlain, left unwritten for the
    // loop of pass 3 that reads it; from the first packet that is not
    // plain on, each takes the full checks.
    // Both loops: fetch a later header, note where packet i's frame starts.
    auto frame_of = [&](uint16_t i) {
        if (i + kPrefetchAhead < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
        return frames[i] = rte_pktmbuf_mtod(pkts[i], uint8_t*);
    };
    uint16_t i = 0;
    for (; i < n; i++) {
        uint8_t* const frame = frame_of(i);
        if (unlikely(!filter.plain(pkts[i], frame)))
            break;
#ifndef NDEBUG
        // Debug and sanitizer builds (the fuzz targets among them) check
        // that the filter never says plain where the full checks do not.
        uint8_t full_dst[16];
        assert(classify_local(pkts[i], port_mac, addrs, full_dst).step == Step::kPlain &&
               std::memcmp(full_dst, frame + kDstOffset, 16) == 0);
#endif
        std::memcpy(dsts[i], frame + kDstOffset, 16);
    }
    const uint16_t n_run = i;
    uint16_t n_lookup = i;
    uint16_t n_plain = i;
    for (; i < n; i++) {
        frame_of(i);
        const Verdict v = classify_local(pkts[i], port_mac, addrs, dsts[n_lookup]);
        step[i] = v.step;
        if (likely(v.step == Step::kPlain || v.step == Step::kLookup)) {
            n_lookup++;
            n_plain += v.step == Step::kPlain;
        } else if (v.step == Step::kDrop) {
            drop_pkt(pkts[i], v.why);
        }
    }

    // Pass 2: one FIB lookup for the burst.
    uint32_t nh_ids[BurstResult::kMax];
    if (n_lookup != 0) {
        if (likely(t.fib != nullptr && t.nexthops != nullptr))
            t.fib->lookup_bulk(dsts, nh_ids, n_lookup);
        else
            std::memset(nh_ids, 0, sizeof(nh_ids[0]) * n_lookup);  // no table yet: no route
    }

    // Pass 3: next hops, in arrival order. Packets owed an ICMPv6 error that
    // may be sent wait in `errors` and follow the local punts.
    rte_mbuf* errors[BurstResult::kMax];
    uint16_t n_err = 0;
    const uint64_t now = local != nullptr && local->now != 0 ? local->now : rte_get_tsc_cycles();
    auto punt_error = [&](rte_mbuf* m, PuntReason why) {
        if (local == nullptr || !error_eligible(m, why.icmp_type))
            return false;
        // RFC 4443 2.4 (f): a token bucket limits the rate of errors.
        if (!local->icmp.allow(rx_port, now, port.icmp_rate.load(std::memory_order_relaxed),
                               port.icmp_burst.load(std::memory_order_relaxed))) {
            st->icmp_ratelimited++;
            return false;
        }
        m->hash.usr = why.encode();
        errors[n_err++] = m;
        st->icmp_punted++;
        return true;
    };
    // RFC 4861 8.2: copies of forwarded packets whose source is owed a
    // Redirect; they follow the errors. Called before the rewrite, for a
    // packet going back out of rx_port.
    rte_mbuf* redirects[BurstResult::kMax];
    uint16_t n_redir = 0;
    const bool redirects_on = local != nullptr && port.redirects.load(std::memory_order_relaxed);
    auto punt_redirect = [&](rte_mbuf* m, const NextHop& nh) {
        const rte_ipv6_hdr* ip = ip6_of(m);
        if (!source_on_link(t, Ip6::from_bytes(ip->src_addr), rx_port))
            return;
        // RFC 4861 8.2: the rate of Redirects is limited, apart from the errors'.
        if (!local->redirect.allow(rx_port, now, port.icmp_rate.load(std::memory_order_relaxed),
                                   port.icmp_burst.load(std::memory_order_relaxed))) {
            st->redirect_ratelimited++;
            return;
        }
        rte_mbuf* c =
            rte_pktmbuf_copy(m, m->pool, 0, uint32_t(sizeof(rte_ether_hdr)) + kRedirectCopyLen);
        if (unlikely(c == nullptr)) {
            st->redirect_no_mbuf++;
            return;
        }
        // RFC 4861 4.5: the target is the destination itself when it is the
        // neighbour the packet went to.
        const bool on_link = std::memcmp(nh.addr.data(), ip->dst_addr, 16) == 0;
        c->port = rx_port;
        c->hash.usr = PuntReason{kIcmp6Redirect, 0,
                                 on_link ? PuntReason::kRedirectTargetIsDestination : uint16_t(0)}
                          .encode();
        redirects[n_redir++] = c;
        st->redirect_punted++;
    };
    const uint32_t use_stamp = uint32_t(now >> 28);
    // The out port whose packets may earn a Redirect; none is UINT16_MAX.
    const uint16_t redirect_port = redirects_on ? rx_port : UINT16_MAX;
    uint16_t n_fwd = 0;
    // Whether every forwarded packet leaves through one port: then the bits
    // set in any port number are set in all.
    uint16_t ports_or = 0, ports_and = UINT16_MAX;
    // Rewrites and sends, for a next hop that earns no Redirect.
    auto send = [&](rte_mbuf* m, const NextHop& nh, uint8_t* frame) {
        // Tells the control thread the neighbour is in use (a STALE entry
        // then gets verified): a store only when it changed.
        if (unlikely(nh.used.load(std::memory_order_relaxed) != use_stamp))
            nh.used.store(use_stamp, std::memory_order_relaxed);
        rewrite(frame, nh);
        out->tx[n_fwd] = m;
        out->tx_port[n_fwd++] = nh.port;
        ports_or |= nh.port;
        ports_and &= nh.port;
    };
    auto forward_to = [&](rte_mbuf* m, const NextHop& nh, uint8_t* frame) {
        if (unlikely(nh.port == redirect_port))
            punt_redirect(m, nh);
        send(m, nh, frame);
    };
    const NextHopTable* const nexthops = n_lookup != 0 ? t.nexthops : nullptr;
    // Whatever the common case below does not take. Inlined into both loops:
    // called out of line, it would make the burst's counters (n_fwd and the
    // others it shares) live in memory instead of registers.
    auto route = [&](uint16_t i, const NextHop* nh) __attribute__((always_inline)) {
        rte_mbuf* const m = pkts[i];
        // ECMP: the flow's member of the group (members are never groups).
        if (unlikely(nh != nullptr && nh->kind == NhKind::kGroup))
            nh = nexthops->get(nh->pick(flow_hash(m)));
        const Verdict v = classify_route(t, m, nh);
        if (likely(v.step == Step::kForward)) {
            forward_to(m, *nh, frames[i]);
        } else if (v.step == Step::kPunt) {
            punt_local(m);
            if (v.icmp.icmp_type == PuntReason::kResolve) {
                m->hash.usr = v.icmp.encode();
                st->resolve_punted++;
            }
        } else if (unlikely(v.icmp.is_error())) {
            st->drops[size_t(v.why)]++;  // not forwarded, whether the error goes or not
            if (!punt_error(m, v.icmp))
                dropped[n_drop++] = m;
        } else {
            drop_pkt(m, v.why);
        }
    };
    // The common case in one test: a packet that validate_forwarding() and
    // any MTU would pass (pass 1 said kPlain) to a resolved neighbour on a
    // port that is up (only ever true for a port that exists) and that is
    // not the port whose packets earn a Redirect. Where one word holds
    // every port's admin state, it is read once for the burst, with that
    // port's bit cleared.
    uint64_t fast_ports = 0;
    if constexpr (Tables::kOneAdminWord) {
        fast_ports = t.admin_word();
        if (redirect_port < 64)
            fast_ports &= ~(uint64_t(1) << redirect_port);
    }
    auto common = [&t, fast_ports, redirect_port](const NextHop* nh) {
        const bool ok = Tables::kOneAdminWord ? (fast_ports >> nh->port) & 1
                                              : t.admin_up(nh->port) && nh->port != redirect_port;
        return nh->resolved_neighbor() && ok;
    };
    if (likely(n_plain == n && nexthops != nullptr)) {
        // The usual burst: every packet plain, packet i's next hop in nh_ids[i].
        const NextHopTable::Reader reader = nexthops->reader();
        for (uint16_t i = 0; i < n; i++) {
            const NextHop* nh = reader.get(nh_ids[i]);
            if (likely(common(nh)))
                send(pkts[i], *nh, frames[i]);
            else
                route(i, nh);
        }
    } else {
        std::memset(step, uint8_t(Step::kPlain), n_run);  // what pass 1 left unwritten
        uint16_t j = 0;
        for (uint16_t i = 0; i < n; i++) {
            if (step[i] == Step::kPlain || step[i] == Step::kLookup) {
                const NextHop* nh = nexthops != nullptr ? nexthops->get(nh_ids[j]) : nullptr;
                j++;
                if (step[i] == Step::kPlain && nh != nullptr && common(nh))
                    send(pkts[i], *nh, frames[i]);
                else
                    route(i, nh);
            } else if (step[i] == Step::kPunt) {
                punt_local(pkts[i]);
            }
        }
    }
    out->n_tx = n_fwd;
    out->one_port = ports_or == ports_and || n_fwd == 0;
    st->forwarded += n_fwd;
    if (n_err != 0) {
        std::memcpy(&out->punt[out->n_punt], errors, sizeof(errors[0]) * n_err);
        out->n_punt += n_err;
        out->n_icmp = n_err;
    }
    if (n_redir != 0) {
        std::memcpy(&out->punt[out->n_punt], redirects, sizeof(redirects[0]) * n_redir);
        out->n_punt += n_redir;
        out->n_redirect = n_redir;
    }

    if (n_drop != 0)
        rte_pktmbuf_free_bulk(dropped, n_drop);
}

void punt_shortfall(const BurstResult& r, unsigned enqueued, WorkerStats* st) {
    if (enqueued >= r.n_punt)
        return;
    unsigned lost = r.n_punt - enqueued;
    // The Redirect copies are the last n_redirect entries, the errors the
    // n_icmp before them: they are the first ones lost, in that order.
    const unsigned lost_redirects = lost < r.n_redirect ? lost : r.n_redirect;
    st->redirect_punted -= lost_redirects;
    lost -= lost_redirects;
    const unsigned lost_errors = lost < r.n_icmp ? lost : r.n_icmp;
    st->icmp_punted -= lost_errors;
    st->punted -= lost - lost_errors;
    st->drops[size_t(Drop::kPuntFull)] += lost - lost_errors;
}

}  // namespace fp6
