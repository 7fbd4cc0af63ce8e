/* Neighbour discovery as the control thread runs it (RFC 4861 7.2, 7.3):
 * resolution of the next hops the workers could not use, the neighbour
 * cache's actions, and the signal from the fast path that a STALE entry is
 * in use. The cache itself (nd/ncache.h) is a pure state machine; this file
 * is where its actions meet packets, the RIB and the ports. */
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>

#include "common/log.h"
#include "control/router.h"
#include "dataplane/icmp_limit.h"
#include "nd/ndp.h"

namespace fp6 {
namespace {

constexpr size_t kEth = sizeof(rte_ether_hdr);
constexpr size_t kIp6 = 40;

}  // namespace

void Router::resolve_punt(rte_mbuf* m) {
    ctl_stats_.resolve_received++;
    // The FIB may have changed since the worker looked: ask it again.
    if (!send_via_fib(m)) {
        ctl_stats_.resolve_dropped[size_t(NcDrop::kRemoved)]++;
        rte_pktmbuf_free(m);
    }
}

bool Router::send_via_fib(rte_mbuf* m) {
    const uint8_t* ip6 = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEth);
    const Ip6 dst = Ip6::from_bytes(ip6 + 24);
    const NextHop* nh = fib_nexthop(dst, flow_hash(m));
    if (nh == nullptr || (nh->kind != NhKind::kNeighbor && nh->kind != NhKind::kConnected) ||
        !port_routes_up(nh->port))
        return false;
    if (nh->kind == NhKind::kNeighbor && nh->resolved) {
        send_resolved(m, nh->port, Mac::from_bytes(nh->l2.dst_addr.addr_bytes));
        return true;
    }
    const Ip6 target = nh->kind == NhKind::kNeighbor ? nh->addr : dst;
    apply_nc(ncache_.resolve(nh->port, target, m, now_ms()));
    return true;
}

void Router::send_resolved(rte_mbuf* m, uint16_t port, const Mac& mac) {
    // The worker checked the forwarding rules (hop limit > 1 among them) and
    // left the packet as it came: finish what it would have done. A packet
    // of the router's own (from the host path) is not forwarded: its hop
    // limit is the sender's.
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    uint8_t* ip6 = reinterpret_cast<uint8_t*>(eth) + kEth;
    const bool own = m->hash.usr == kHostOrigin;
    if (!own && ip6[7] <= 1) {
        rte_pktmbuf_free(m);
        return;
    }
    if (!own) {
        ip6[7]--;
        ctl_stats_.resolved_sent++;
    }
    std::memcpy(eth->dst_addr.addr_bytes, mac.data(), 6);
    std::memcpy(eth->src_addr.addr_bytes, dp_->port(port).mac.data(), 6);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    dp_->send(port, m);
}

void Router::send_ns_resolve(uint16_t port, const Ip6& target, std::optional<Mac> unicast_to) {
    // RFC 4861 7.2.2: from one of the outgoing interface's addresses, with
    // our link-layer address, to the solicited-node group (or, probing a
    // known neighbour, to the neighbour itself).
    std::optional<Ip6> src;
    absl::StatusOr<Ip6> chosen = select_source(target, port);
    if (chosen.ok() && addrs_.is_usable_on(port, *chosen))
        src = *chosen;
    for (const Address& a : addrs_.on_port(port))
        if (!src && a.usable())
            src = a.addr;
    if (!src) {
        ctl_stats_.ns_no_source++;
        return;
    }
    const Ip6 dst = unicast_to ? target : target.solicited_node();
    std::array<uint8_t, kNsMaxLen> buf;
    size_t len = build_ns(buf, *src, dst, target, dp_->port(port).mac, std::nullopt);
    if (len == 0)
        return;
    send_ip6(port, unicast_to.value_or(Mac::for_multicast(dst)), buf.data(), len);
    ctl_stats_.ns_sent++;
}

void Router::apply_nc(const std::vector<NcAction>& actions) {
    for (const NcAction& a : actions) {
        switch (a.kind) {
            case NcAction::kSendNs:
                send_ns_resolve(a.port, a.addr, a.multicast ? std::nullopt : std::optional(a.mac));
                break;
            case NcAction::kSend:
                send_resolved(static_cast<rte_mbuf*>(a.pkt), a.port, a.mac);
                break;
            case NcAction::kDropPacket: {
                auto* m = static_cast<rte_mbuf*>(a.pkt);
                ctl_stats_.resolve_dropped[size_t(a.reason)]++;
                // RFC 4861 7.2.2 and RFC 4443 3.1: resolution failed, code 3.
                if (a.reason == NcDrop::kResolutionFailed)
                    send_icmp_error(m, kIcmp6DstUnreachable, kUnreachAddress, 0);
                else
                    rte_pktmbuf_free(m);
                break;
            }
            case NcAction::kMacKnown:
                rib_.set_neighbor(a.port, a.addr, a.mac);
                rib_dirty_ = true;
                break;
            case NcAction::kMacLost:
                rib_.set_neighbor(a.port, a.addr, std::nullopt);
                nh_use_seen_.erase({a.port, a.addr});
                rib_dirty_ = true;
                break;
            case NcAction::kRouterLost:
                FP6_LOG(INFO, Nd, "{}: {} is no longer a router", dp_->port(a.port).name,
                        a.addr.str());
                break;
        }
    }
}

void Router::commit_if_dirty() {
    if (!rib_dirty_)
        return;
    rib_dirty_ = false;
    if (absl::Status st = rib_.commit(); !st.ok())
        FP6_LOG(ERR, Rib, "neighbour routes not published: {}", std::string(st.message()));
}

void Router::poll_neighbor_use() {
    // Each next hop carries the workers' stamp of its last use. Whenever it
    // moved since the last poll, the neighbour was used: that keeps an entry
    // in use the last one evicted, and moves a STALE one to DELAY (RFC 4861
    // 7.3.3). The baseline belongs to one NextHop object: a MAC change
    // publishes a new one (stamp 0), which only starts a new baseline.
    uint64_t now = now_ms();
    for (const NcEntry& e : ncache_.list(now)) {
        const NextHop* nh = rib_.neighbor_nexthop(e.port, e.addr);
        if (nh == nullptr)
            continue;
        uint32_t used = nh->used.load(std::memory_order_relaxed);
        auto [it, fresh] = nh_use_seen_.try_emplace({e.port, e.addr}, UseSeen{nh, used});
        if (fresh || it->second.nh != nh) {
            it->second = UseSeen{nh, used};
            continue;
        }
        if (it->second.stamp == used)
            continue;
        it->second.stamp = used;
        apply_nc(ncache_.used(e.port, e.addr, now));
    }
    commit_if_dirty();
}

}  // namespace fp6
