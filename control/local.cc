/* Packets addressed to the router, as the control thread receives them from
 * the punt ring: neighbour discovery (duplicate address detection and the
 * defence of our addresses) and echo requests; what fp6 does not answer
 * itself goes to the port's host interface when it has one (control/host.h).
 * Control thread only. */
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <array>

#include "common/log.h"
#include "control/host.h"
#include "control/icmp6.h"
#include "control/router.h"
#include "dataplane/icmp_limit.h"
#include "nd/ndp.h"

namespace fp6 {
namespace {

constexpr uint8_t kProtoIcmp6 = 58;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kIcmp6EchoRequest = 128;
constexpr uint8_t kIcmp6EchoReply = 129;
constexpr size_t kEth = sizeof(rte_ether_hdr);
constexpr size_t kIp6 = 40;
constexpr uint8_t kEchoHopLimit = 64;

constexpr uint8_t kIcmp6MldQuery = 130;

/* An MLD query (RFC 3810 5.1, RFC 2710 3.6): ICMPv6 type 130, directly or
 * after a Hop-by-Hop header, hop limit 1, from a link-local source. */
bool is_mld_query(const uint8_t* ip6, size_t len) {
    if (len < kIp6 + 24 || ip6[7] != 1 || !Ip6::from_bytes(ip6 + 8).is_linklocal())
        return false;
    size_t off = kIp6;
    uint8_t next = ip6[6];
    if (next == 0) {  // Hop-by-Hop (Router Alert)
        size_t hbh = (size_t(ip6[kIp6 + 1]) + 1) * 8;
        next = ip6[kIp6];
        off += hbh;
    }
    return next == kProtoIcmp6 && off + 24 <= len && ip6[off] == kIcmp6MldQuery;
}

}  // namespace

void Router::handle_local(rte_mbuf* m) {
    uint16_t port = m->port;
    // Everything below reads the frame as one buffer; ND and echo requests
    // fit one segment, a chained one is not for us to answer.
    if (m->nb_segs != 1 || m->data_len < kEth + kIp6 || !port_routes_up(port)) {
        ctl_stats_.punt_unhandled++;
        rte_pktmbuf_free(m);
        return;
    }
    PuntReason why = punt_reason(m);
    // Copies of transit packets that left through the port they came in on.
    if (why.is_redirect()) {
        send_redirect(m);
        return;
    }
    // Transit packets waiting for their next hop's link-layer address.
    if (why.is_resolve()) {
        resolve_punt(m);
        return;
    }
    // Transit packets the workers could not forward and owe an error for.
    if (why.is_error()) {
        send_icmp_error(m, why.icmp_type, why.icmp_code, why.mtu);
        return;
    }
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    const uint8_t* ip6 = frame + kEth;
    size_t len = m->data_len - kEth;
    uint8_t next = ip6[6];
    uint8_t type = len > kIp6 ? ip6[kIp6] : 0;
    if (next == kProtoIcmp6 && type >= kIcmp6RouterSolicit && type <= kIcmp6NeighborAdvert) {
        handle_nd(m, port, ip6, len);
        return;
    }
    if (next == kProtoFragment) {
        // RFC 8200 5: fragments addressed to us are reassembled.
        uint64_t now = now_ms();
        apply_reasm(reasm_->push(m, now));
        for (const ReasmAction& a : reasm_->poll(now))
            apply_reasm(a);
        return;
    }
    if (next == kProtoIcmp6 && type == kIcmp6EchoRequest) {
        handle_echo(m, port, ip6, len);
        return;
    }
    if (is_mld_query(ip6, len)) {
        // RFC 3810 6.2: answer a query with our current state (at once, at
        // most once a second per port, rather than after a random delay).
        ctl_stats_.mld_queries++;
        rte_pktmbuf_free(m);
        if (port_nd_[port].mld_answers.allow(now_ms()))
            send_mld_report(port);
        return;
    }
    // RFC 8200 4: the headers of a packet addressed to us, then its upper
    // layer: to the host's stack when the port has a host interface, else
    // fp6 listens on no UDP port (RFC 4443 3.1: Port Unreachable).
    deliver_local(m, find_param_problem(ip6, len), ip6, len);
}

void Router::deliver_local(rte_mbuf* m, const ParamProblem& pp, const uint8_t* ip6, size_t len) {
    switch (local_verdict(pp, ip6, len, host_->has(m->port))) {
        case LocalVerdict::kParamProblem:
            send_icmp_error(m, kIcmp6ParamProblem, pp.code, pp.pointer);
            return;
        case LocalVerdict::kPortUnreachable:
            send_icmp_error(m, kIcmp6DstUnreachable, kUnreachPort, 0);
            return;
        case LocalVerdict::kHost:
            to_host(m);
            return;
        case LocalVerdict::kDiscard:
            ctl_stats_.local_discarded++;
            break;
        case LocalVerdict::kUnhandled:
            ctl_stats_.punt_unhandled++;
            break;
    }
    rte_pktmbuf_free(m);
}

void Router::apply_reasm(const ReasmAction& a) {
    switch (a.kind) {
        case ReasmAction::Kind::kNone:
            return;
        case ReasmAction::Kind::kTimeExceeded:
        case ReasmAction::Kind::kParamProblem:
            send_icmp_error(a.pkt, a.icmp_type, a.icmp_code, a.param);
            return;
        case ReasmAction::Kind::kReassembled:
            handle_datagram(a.pkt);
            return;
    }
}

void Router::handle_datagram(rte_mbuf* m) {
    // A reassembled datagram (possibly chained; its headers are in the first
    // segment). RFC 6980 5: ND never comes fragmented.
    const uint8_t* ip6 = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEth);
    size_t first = rte_pktmbuf_data_len(m) > kEth ? rte_pktmbuf_data_len(m) - kEth : 0;
    size_t whole = rte_pktmbuf_pkt_len(m) - kEth;
    // The walk reads contiguous bytes: those of the first segment, which
    // hold the whole header chain (RFC 7112). A chained datagram's walk
    // reads a copy of them whose Payload Length ends there; read whole, its
    // Payload Length would run past them and the walk discard it.
    const uint8_t* head = ip6;
    size_t head_len = std::min(first, whole);
    std::array<uint8_t, kIcmp6ErrorMaxLen> copy;
    if (first < whole && first >= kIp6) {
        head_len = std::min(first, copy.size());
        std::memcpy(copy.data(), ip6, head_len);
        copy[4] = uint8_t((head_len - kIp6) >> 8);
        copy[5] = uint8_t(head_len - kIp6);
        head = copy.data();
    }
    ParamProblem pp = find_param_problem(head, head_len);
    uint8_t type = pp.offset < head_len ? head[pp.offset] : 0;
    if (pp.action == ParamProblem::Action::kAccept && pp.next_header == kProtoIcmp6 &&
        type >= kIcmp6RouterSolicit && type <= kIcmp6Redirect) {
        ctl_stats_.nd_drops[size_t(NdDrop::kFragmented)]++;
        rte_pktmbuf_free(m);
        return;
    }
    if (m->nb_segs == 1 && pp.action == ParamProblem::Action::kAccept &&
        pp.next_header == kProtoIcmp6 && pp.offset == kIp6 && type == kIcmp6EchoRequest) {
        handle_echo(m, m->port, ip6, whole);
        return;
    }
    // An echo request larger than one segment needs a fragmented reply,
    // which fp6 does not originate: the host's stack answers it when the
    // port has a host interface (it fragments), else nobody does.
    deliver_local(m, pp, head, head_len);
}

void Router::send_redirect(rte_mbuf* m) {
    const uint16_t port = m->port;
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    auto skip = [&] {
        ctl_stats_.redirects_skipped++;
        rte_pktmbuf_free(m);
    };
    if (len < kEth + kIp6 || !port_routes_up(port))
        return skip();
    const uint8_t* ip6 = frame + kEth;
    const Ip6 host = Ip6::from_bytes(ip6 + 8), dst = Ip6::from_bytes(ip6 + 24);
    // RFC 4861 8.2: the better first hop is the next hop we chose; look it
    // up again, the FIB may have changed since the worker did.
    const NextHop* nh = fib_nexthop(dst, flow_hash(m));
    if (nh == nullptr || nh->kind != NhKind::kNeighbor || nh->port != port)
        return skip();
    const Ip6 target = nh->addr;
    // RFC 4861 8.2: the target is the destination itself when on-link, else
    // the router's link-local address (a global gateway address would not do).
    if (target != dst && !target.is_linklocal())
        return skip();
    std::optional<Mac> tlla;
    if (nh->resolved)
        tlla = Mac::from_bytes(nh->l2.dst_addr.addr_bytes);
    std::optional<Ip6> ll;
    for (const Address& a : addrs_.on_port(port))
        if (!ll && a.usable() && a.addr.is_linklocal())
            ll = a.addr;
    if (!ll || !port_nd_[port].redirects.allow(now_ms()))
        return skip();
    std::array<uint8_t, kRedirectMaxLen> buf;
    size_t n = build_redirect(buf, *ll, host, target, dst, tlla, ip6, len - kEth);
    Mac to = Mac::from_bytes(reinterpret_cast<const rte_ether_hdr*>(frame)->src_addr.addr_bytes);
    rte_pktmbuf_free(m);
    if (n == 0) {
        ctl_stats_.redirects_skipped++;
        return;
    }
    send_ip6(port, to, buf.data(), n);
    ctl_stats_.redirects_sent++;
}

void Router::send_icmp_error(rte_mbuf* m, uint8_t type, uint8_t code, uint32_t param) {
    uint16_t rx_port = m->port;
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
    const uint8_t* ip6 = frame + kEth;
    size_t len = rte_pktmbuf_data_len(m) > kEth ? rte_pktmbuf_data_len(m) - kEth : 0;
    const Ip6 asker = len >= kIp6 ? Ip6::from_bytes(ip6 + 8) : Ip6();
    bool l2_multicast = rte_is_multicast_ether_addr(&eth->dst_addr);
    auto done = [&] { rte_pktmbuf_free(m); };
    if (len < kIp6 || !error_allowed(ip6, len, l2_multicast, type, code, addrs_.is_ours(asker))) {
        ctl_stats_.icmp_errors_not_allowed++;
        return done();
    }
    PortNd& nd = port_nd_[rx_port];
    if (!nd.icmp_errors.allow(now_ms())) {
        ctl_stats_.icmp_errors_suppressed++;
        return done();
    }
    // Toward the asker: through its route when its neighbour is known,
    // else back to the previous hop that handed us the packet.
    uint16_t out_port = rx_port;
    Mac out_mac = Mac::from_bytes(eth->src_addr.addr_bytes);
    const Route* route = asker.is_linklocal() ? nullptr : rib_.lookup(asker);
    if (const NextHop* nh = fib_nexthop(asker, 0); nh != nullptr && nh->kind == NhKind::kNeighbor &&
                                                   nh->resolved && port_routes_up(nh->port)) {
        out_port = nh->port;
        out_mac = Mac::from_bytes(nh->l2.dst_addr.addr_bytes);
    }
    absl::StatusOr<Ip6> src = select_source(asker, out_port, route);
    if (!src.ok()) {
        ctl_stats_.icmp_no_source++;
        return done();
    }
    std::array<uint8_t, kIcmp6ErrorMaxLen> buf;
    size_t n = build_icmp6_error(buf, *src, type, code, param, ip6, len, nd.icmp_hop_limit);
    done();
    if (n == 0) {
        ctl_stats_.icmp_errors_not_allowed++;
        return;
    }
    send_ip6(out_port, out_mac, buf.data(), n);
    ctl_stats_.icmp_errors_sent++;
}

void Router::handle_nd(rte_mbuf* m, uint16_t port, const uint8_t* ip6, size_t len) {
    NdParse parsed = parse_nd(ip6, len);
    const rte_ether_hdr* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    Mac eth_src = Mac::from_bytes(eth->src_addr.addr_bytes);
    rte_pktmbuf_free(m);
    if (auto* drop = std::get_if<NdDrop>(&parsed)) {
        ctl_stats_.nd_drops[size_t(*drop)]++;
        return;
    }
    const NdMessage& msg = std::get<NdMessage>(parsed);
    const uint64_t now = now_ms();
    switch (msg.type) {
        case kIcmp6RouterSolicit:
        case kIcmp6RouterAdvert:
            // RFC 4861 6.2.6, 6.3.4: the sender's link-layer address, if given.
            if (!msg.src.is_unspecified())
                apply_nc(ncache_.on_ra_or_rs(port, msg.src, msg.src_lladdr,
                                             msg.type == kIcmp6RouterAdvert, now));
            // RFC 4861 6.2.6: a valid RS gets a solicited RA (received RAs never
            // change fp6's routes: its routes come from its configuration).
            if (msg.type == kIcmp6RouterSolicit && port_nd_[port].ra.enabled)
                apply_ra(port, port_nd_[port].ra_sched.on_rs(now, msg.src));
            return;
        case kIcmp6NeighborAdvert: {
            const Address* ours = addrs_.find(port, msg.target);
            // RFC 4862 5.4.4: an NA for a tentative address: someone has it.
            // A duplicate one (DAD failed) is the other node's: its answers
            // resolve it as any neighbour's, or it could not be reached.
            if (ours != nullptr && ours->state == AddrState::kTentative)
                apply_dad(dad_.on_na(port, msg.target));
            else if (ours == nullptr || ours->state == AddrState::kDuplicate)
                apply_nc(ncache_.on_na(port, msg.target, msg.tgt_lladdr, msg.router, msg.solicited,
                                       msg.override_, now));
            return;
        }
        default:
            break;
    }
    const Address* ours = addrs_.find(port, msg.target);
    if (ours == nullptr)
        return;  // an NS for someone else
    if (ours->state == AddrState::kTentative) {
        // RFC 4862 5.4.3: only someone else's DAD (from ::) conflicts; an NS
        // from a unicast source for a tentative address is ignored.
        if (msg.src.is_unspecified())
            apply_dad(dad_.on_dad_ns(port, msg.target, msg.nonce));
        return;
    }
    if (!ours->usable())
        return;
    if (msg.src.is_unspecified()) {
        // RFC 4861 7.2.4: an NS from :: is another node's DAD for our
        // address: answer to all-nodes, unsolicited, so it sees the conflict.
        send_na(port, Mac::for_multicast(kAllNodes), kAllNodes, msg.target, false);
        return;
    }
    // RFC 4861 7.2.3: the asker's link-layer address goes into the cache
    // (STALE), then the solicited answer goes to it.
    apply_nc(ncache_.on_ns(port, msg.src, msg.src_lladdr, now));
    send_na(port, msg.src_lladdr.value_or(eth_src), msg.src, msg.target, true);
}

void Router::handle_echo(rte_mbuf* m, uint16_t port, const uint8_t*, size_t len) {
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t* ip6 = frame + kEth;
    Ip6 src = Ip6::from_bytes(ip6 + 8), dst = Ip6::from_bytes(ip6 + 24);
    size_t plen = size_t(ip6[4]) << 8 | ip6[5];
    uint8_t* icmp = ip6 + kIp6;
    bool ok = plen + kIp6 == len && plen >= 8 && icmp[1] == 0 &&
              icmp6_checksum_ok(src, dst, icmp, plen) && !src.is_unspecified() &&
              !src.is_multicast();
    std::optional<Ip6> from;
    if (ok && !dst.is_multicast()) {
        // Any usable address of ours answers (the FIB punted it as local).
        for (const Address& a : addrs_.all())
            if (a.addr == dst && a.usable())
                from = dst;
    } else if (ok && (dst == kAllNodes || dst == kAllRouters)) {
        // Answered from a unicast address of the port it came in on, chosen
        // by source selection toward the asker.
        absl::StatusOr<Ip6> chosen = select_source(src, port);
        if (chosen.ok() && addrs_.is_usable_on(port, *chosen))
            from = *chosen;
        for (const Address& a : addrs_.on_port(port))
            if (!from && a.usable() && a.addr.is_linklocal() == src.is_linklocal())
                from = a.addr;
    }
    if (!from) {
        ctl_stats_.punt_unhandled++;
        rte_pktmbuf_free(m);
        return;
    }
    if (!port_nd_[port].echo_replies.allow(now_ms())) {
        ctl_stats_.echo_suppressed++;
        rte_pktmbuf_free(m);
        return;
    }
    // The reply reuses the request's buffer: addresses swapped, payload
    // echoed whole, and it goes back to the L2 address it came from.
    // TODO: a reply toward an off-link asker follows the request's last hop
    // rather than a route lookup, as send_icmp_error() does; it keeps the
    // request's buffer and needs no neighbour, but asymmetric paths differ.
    auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
    rte_ether_addr peer = eth->src_addr;
    eth->dst_addr = peer;
    std::memcpy(eth->src_addr.addr_bytes, dp_->port(port).mac.data(), 6);
    ip6[7] = kEchoHopLimit;
    std::memcpy(ip6 + 8, from->data(), 16);
    std::memcpy(ip6 + 24, src.data(), 16);
    icmp[0] = kIcmp6EchoReply;
    icmp[2] = icmp[3] = 0;
    uint16_t ck = icmp6_checksum(*from, src, icmp, plen);
    icmp[2] = uint8_t(ck >> 8);
    icmp[3] = uint8_t(ck);
    ctl_stats_.echo_replies++;
    dp_->send(port, m);
}

void Router::send_ip6(uint16_t port, const Mac& dst_mac, const uint8_t* buf, size_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
    uint8_t* p =
        m ? reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(kEth + len))) : nullptr;
    if (p == nullptr) {
        ctl_stats_.no_mbuf++;
        rte_pktmbuf_free(m);
        return;
    }
    auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
    std::memcpy(eth->dst_addr.addr_bytes, dst_mac.data(), 6);
    std::memcpy(eth->src_addr.addr_bytes, dp_->port(port).mac.data(), 6);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    std::memcpy(p + kEth, buf, len);
    dp_->send(port, m);
}

void Router::send_ns_probe(uint16_t port, const Ip6& target, uint64_t nonce) {
    // RFC 4862 5.4.2: from ::, to the target's solicited-node group, no
    // source link-layer option; with a Nonce (RFC 7527).
    std::array<uint8_t, kNsMaxLen> buf;
    Ip6 group = target.solicited_node();
    size_t len = build_ns(buf, Ip6(), group, target, std::nullopt, nonce);
    if (len == 0)
        return;
    send_ip6(port, Mac::for_multicast(group), buf.data(), len);
    ctl_stats_.ns_sent++;
}

void Router::send_na(uint16_t port, const Mac& dst_mac, const Ip6& dst, const Ip6& target,
                     bool solicited) {
    // RFC 4861 7.2.4: R set (we are a router), O set, our MAC as target
    // link-layer address; from the target address itself.
    std::array<uint8_t, kNaMaxLen> buf;
    size_t len = build_na(buf, target, dst, target, true, solicited, true, dp_->port(port).mac);
    if (len == 0)
        return;
    send_ip6(port, dst_mac, buf.data(), len);
    ctl_stats_.na_sent++;
}

}  // namespace fp6
