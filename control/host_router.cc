/* Where the exception path (control/host.h) meets the Router: which port's
 * TUN a packet for the router goes up, what a TUN must look like (the
 * port's usable addresses, its MTU, up while the port is operational), and
 * how what the kernel sends down is checked and routed. Control thread
 * only. */
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>

#include "common/log.h"
#include "common/status.h"
#include "control/host.h"
#include "control/router.h"

namespace fp6 {
namespace {

constexpr size_t kEth = sizeof(rte_ether_hdr);
constexpr size_t kIp6 = 40;

}  // namespace

int Router::host_fd() const {
    return host_->poll_fd();
}

bool Router::to_host(rte_mbuf* m) {
    const uint16_t port = m->port;
    if (!host_->has(port))
        return false;
    // The IPv6 packet without its Ethernet header and without link padding
    // (the kernel would trim it too).
    size_t want = rte_pktmbuf_pkt_len(m) > kEth ? rte_pktmbuf_pkt_len(m) - kEth : 0;
    const uint8_t* ip6 = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEth);
    if (rte_pktmbuf_data_len(m) >= kEth + kIp6)
        want = std::min(want, kIp6 + (size_t(ip6[4]) << 8 | ip6[5]));
    std::array<std::span<const uint8_t>, 64> segs;
    size_t n = 0, skip = kEth;
    for (const rte_mbuf* s = m; s != nullptr && want > 0; s = s->next) {
        const uint8_t* p = rte_pktmbuf_mtod(s, const uint8_t*);
        size_t len = s->data_len, k = std::min(skip, len);
        p += k;
        len = std::min(len - k, want);
        skip -= k;
        if (len == 0)
            continue;
        if (n == segs.size()) {
            n = segs.size() + 1;  // more segments than one write takes
            break;
        }
        segs[n++] = {p, len};
        want -= len;
    }
    if (n > segs.size())
        host_->count_drop(port, HostDrop::kTunWriteFailed);
    else
        host_->write(port, std::span(segs.data(), n));
    rte_pktmbuf_free(m);
    return true;
}

void Router::handle_host() {
    // A bounded batch per call, as handle_punts(): the epoll set stays
    // readable while packets wait, so the loop comes back for the rest.
    constexpr unsigned kBatch = 256, kPerPort = 64;
    const uint32_t room = rte_pktmbuf_data_room_size(dp_->pool()) - RTE_PKTMBUF_HEADROOM;
    unsigned done = 0;
    for (uint16_t port : host_->ready()) {
        for (unsigned i = 0; i < kPerPort && done < kBatch; i++, done++) {
            rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
            if (m == nullptr) {
                // Read it anyway and drop it: left in the TUN it would keep
                // the loop awake with nothing it can do.
                static std::array<uint8_t, 65536> sink;
                if (host_->read(port, sink.data(), sink.size()) <= 0)
                    break;
                host_->count_drop(port, HostDrop::kNoMbuf);
                continue;
            }
            uint8_t* ip6 = rte_pktmbuf_mtod_offset(m, uint8_t*, kEth);
            ssize_t len =
                host_->read(port, ip6, std::min<size_t>(room, rte_pktmbuf_tailroom(m)) - kEth);
            if (len <= 0) {
                rte_pktmbuf_free(m);
                break;
            }
            rte_pktmbuf_append(m, uint16_t(kEth + size_t(len)));
            from_host(port, m);
        }
    }
    commit_if_dirty();
}

void Router::from_host(uint16_t port, rte_mbuf* m) {
    const size_t len = rte_pktmbuf_data_len(m) - kEth;
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    auto drop = [&](HostDrop why) {
        host_->count_drop(port, why);
        rte_pktmbuf_free(m);
    };
    auto checked = check_from_host(frame + kEth, len);
    if (auto* why = std::get_if<HostDrop>(&checked)) {
        // fp6 speaks MLD on the link itself; what the kernel reports says
        // which groups to listen to for it.
        if (*why == HostDrop::kNdMld)
            host_listens(port, mld_changes(frame + kEth, len));
        return drop(*why);
    }
    const HostPacket pkt = std::get<HostPacket>(checked);
    if (!port_routes_up(port))
        return drop(HostDrop::kPortDown);
    // The kernel may only speak for the router: from one of its usable
    // addresses; a link-local one of this very port (RFC 4291 2.5.6), and
    // only toward the link.
    bool ours = false;
    if (pkt.src.is_linklocal())
        ours = addrs_.is_usable_on(port, pkt.src) &&
               (pkt.dst.is_linklocal() || pkt.dst.is_linklocal_multicast());
    else
        for (const Address& a : addrs_.all())
            ours |= a.addr == pkt.src && a.usable();
    if (!ours)
        return drop(HostDrop::kBadSource);
    // Sent as the router's own: no hop limit to decrement (send_resolved).
    m->hash.usr = kHostOrigin;
    if (pkt.dst.is_multicast()) {
        // Out of the TUN's own port, to the group's MAC (RFC 2464 7). What
        // neighbours send to the groups the host listens to comes up
        // through host_listens().
        auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
        std::memcpy(eth->dst_addr.addr_bytes, Mac::for_multicast(pkt.dst).data(), 6);
        std::memcpy(eth->src_addr.addr_bytes, dp_->port(port).mac.data(), 6);
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
        host_->count_from_host(port, len);
        dp_->send(port, m);
        return;
    }
    if (pkt.dst.is_linklocal()) {
        // On the TUN's link: the port's neighbour cache resolves it, and
        // holds it meanwhile, as it does transit packets.
        host_->count_from_host(port, len);
        apply_nc(ncache_.resolve(port, pkt.dst, m, now_ms()));
        return;
    }
    // Whichever TUN the kernel chose, the FIB decides where it goes.
    host_->count_from_host(port, len);
    if (!send_via_fib(m))
        drop(HostDrop::kNoRoute);
}

void Router::host_listens(uint16_t port, const std::vector<MldChange>& changes) {
    std::vector<Ip6>& mine = host_groups_[port];
    bool changed = false;
    for (const MldChange& c : changes) {
        // ff02::1 is every node's anyway (RFC 4291 2.7.1).
        if (!c.group.is_multicast() || c.group == kAllNodes)
            continue;
        auto it = std::find(mine.begin(), mine.end(), c.group);
        if (c.listening == (it != mine.end()))
            continue;
        if (c.listening)
            mine.push_back(c.group);
        else
            mine.erase(it);
        changed = true;
        FP6_LOG(INFO, Port, "{}: the host {} {}", dp_->port(port).name,
                c.listening ? "listens to" : "left", c.group.str());
    }
    if (!changed)
        return;
    publish_port_addrs(port);
    program_mcast(port);
}

std::vector<Ip6> Router::port_groups(uint16_t port) const {
    std::vector<Ip6> g = addrs_.groups(port);
    if (auto it = host_groups_.find(port); it != host_groups_.end())
        for (const Ip6& h : it->second)
            if (std::find(g.begin(), g.end(), h) == g.end())
                g.push_back(h);
    return g;
}

void Router::sync_host(uint16_t port) {
    if (!host_->has(port))
        return;
    HostIfWant want;
    want.up = port_routes_up(port);
    const uint32_t room = rte_pktmbuf_data_room_size(dp_->pool()) - RTE_PKTMBUF_HEADROOM;
    want.mtu = host_if_mtu(dp_->port(port).mtu, room);
    if (want.up)
        for (const Address& a : addrs_.on_port(port))
            if (a.usable())
                want.addrs.push_back({a.addr, uint8_t(a.plen), a.deprecated});
    host_->sync(port, want);
}

absl::Status Router::open_host_if(uint16_t port, const std::string& value) {
    FP6_ASSIGN(name, host_if_name(dp_->port(port).name, value));
    if (host_->name_of(port) == name)
        return absl::OkStatus();
    if (absl::Status st = host_->open(port, dp_->port(port).name, name); !st.ok()) {
        FP6_LOG(WARNING, Port, "{}: {}", dp_->port(port).name, std::string(st.message()));
        return st;
    }
    sync_host(port);
    return absl::OkStatus();
}

nlohmann::json Router::host_json() const {
    auto counters = [](nlohmann::json& j, const HostCounters& c) {
        j["to_host_packets"] = c.to_host_packets;
        j["to_host_bytes"] = c.to_host_bytes;
        j["from_host_packets"] = c.from_host_packets;
        j["from_host_bytes"] = c.from_host_bytes;
    };
    nlohmann::json out = nlohmann::json::object();
    counters(out, host_->totals());
    nlohmann::json drops = nlohmann::json::object();
    for (size_t d = 0; d < size_t(HostDrop::kCount); d++)
        drops[host_drop_name(HostDrop(d))] = host_->totals().drops[d];
    out["drops"] = drops;
    nlohmann::json ports = nlohmann::json::array();
    for (const HostPath::IfInfo& i : host_->list()) {
        nlohmann::json p = {{"ifname", dp_->port(i.port).name}, {"host_if", i.name}, {"up", i.up}};
        counters(p, i.counters);
        uint64_t dropped = 0;
        for (uint64_t d : i.counters.drops)
            dropped += d;
        p["drops"] = dropped;
        ports.push_back(p);
    }
    out["ports"] = ports;
    return out;
}

}  // namespace fp6
