#include "rib/rib.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "common/log.h"

namespace fp6 {

const char* route_type_name(RouteType t) {
    switch (t) {
        case RouteType::kUnicast:
            return "unicast";
        case RouteType::kBlackhole:
            return "blackhole";
        case RouteType::kUnreachable:
            return "unreachable";
        case RouteType::kProhibit:
            return "prohibit";
        case RouteType::kReject:
            return "reject";
    }
    return "?";
}

std::optional<RouteType> route_type_from_name(std::string_view name) {
    for (RouteType t : {RouteType::kUnicast, RouteType::kBlackhole, RouteType::kUnreachable,
                        RouteType::kProhibit, RouteType::kReject})
        if (name == route_type_name(t))
            return t;
    return std::nullopt;
}

namespace {

NhKind kind_for_type(RouteType t) {
    switch (t) {
        case RouteType::kBlackhole:
            return NhKind::kBlackhole;
        case RouteType::kUnreachable:
            return NhKind::kUnreachable;
        case RouteType::kProhibit:
            return NhKind::kProhibit;
        case RouteType::kReject:
            return NhKind::kReject;
        case RouteType::kUnicast:
            break;
    }
    return NhKind::kConnected;
}

bool is_onlink_route(const Route& r) {
    return r.type == RouteType::kUnicast && r.origin != RouteOrigin::kLocal && !r.gateway;
}

std::string describe(const Route& r, const Rib& rib) {
    std::string s = r.dst.str();
    if (r.type != RouteType::kUnicast)
        s = std::string(route_type_name(r.type)) + " " + s;
    if (r.gateway)
        s += " via " + r.gateway->str();
    if (const RibPortInfo* p = rib.port_info(r.port))
        s += " dev " + p->name;
    return s + " metric " + std::to_string(r.metric);
}

}  // namespace

Rib::Rib(NextHopTable& nexthops, Fib& fib) : nexthops_(nexthops), fib_(fib) {}
Rib::~Rib() = default;

void Rib::set_port(uint16_t port, RibPortInfo info) {
    ports_[port] = std::move(info);
}
void Rib::forget_port(uint16_t port) {
    ports_.erase(port);
}

const RibPortInfo* Rib::port_info(uint16_t port) const {
    auto it = ports_.find(port);
    return it == ports_.end() ? nullptr : &it->second;
}

NextHop Rib::nh_build(NhKind kind, uint16_t port, const Ip6& addr) const {
    NextHop nh;
    nh.kind = kind;
    nh.port = port;
    nh.addr = addr;
    nh.l2.ether_type = htons(RTE_ETHER_TYPE_IPV6);
    if (const RibPortInfo* p = port_info(port))
        std::memcpy(nh.l2.src_addr.addr_bytes, p->mac.data(), 6);
    if (kind == NhKind::kNeighbor) {
        auto it = neigh_l2_.find(std::pair(port, addr));
        if (it != neigh_l2_.end()) {
            nh.resolved = true;
            std::memcpy(nh.l2.dst_addr.addr_bytes, it->second.data(), 6);
        }
    }
    return nh;
}

uint32_t Rib::nh_get(NhKind kind, uint16_t port, const Ip6& addr) {
    NhKey key{kind, port, addr};
    if (auto it = nh_by_key_.find(key); it != nh_by_key_.end()) {
        it->second.refs++;
        return it->second.id;
    }
    uint32_t id = nexthops_.alloc();
    if (id == 0)
        return 0;
    nexthops_.publish(id, nh_build(kind, port, addr));
    nh_by_key_[key] = NhRef{id, 1};
    key_by_nh_[id] = key;
    return id;
}

void Rib::nh_put(uint32_t id) {
    auto kit = key_by_nh_.find(id);
    if (kit == key_by_nh_.end())
        return;
    auto it = nh_by_key_.find(kit->second);
    if (--it->second.refs > 0)
        return;
    nh_by_key_.erase(it);
    key_by_nh_.erase(kit);
    // The live FIB may still name `id`: release it only once a FIB without
    // it has been published (commit()).
    nh_to_release_.push_back(id);
    dirty_ = true;
}

absl::Status Rib::check_gateway(const RouteSpec& spec, uint16_t* port) const {
    const Ip6& gw = *spec.gateway;
    if (gw.is_unspecified())
        return absl::InvalidArgumentError("gateway :: is unspecified");
    if (gw.is_multicast() || gw.is_loopback())
        return absl::InvalidArgumentError(
            fmt::format("gateway {} is not a unicast neighbour address", gw.str()));
    if (gw.is_linklocal()) {
        if (!spec.port)
            return absl::InvalidArgumentError(fmt::format(
                "link-local gateway {} needs dev: it is ambiguous across ports", gw.str()));
        *port = *spec.port;
        return absl::OkStatus();
    }
    const Route* r = lookup(gw);
    if (r != nullptr && r->origin == RouteOrigin::kLocal)
        return absl::InvalidArgumentError(fmt::format(
            "gateway {} is one of our own addresses; use dev for an interface route", gw.str()));
    if (r == nullptr || !is_onlink_route(*r))
        return absl::FailedPreconditionError(
            fmt::format("gateway {} is not on-link: no connected route covers it", gw.str()));
    if (spec.port && *spec.port != r->port)
        return absl::InvalidArgumentError(
            fmt::format("gateway {} is on-link through {}, not through {}", gw.str(),
                        port_info(r->port) ? port_info(r->port)->name : "?",
                        port_info(*spec.port) ? port_info(*spec.port)->name : "?"));
    *port = r->port;
    return absl::OkStatus();
}

absl::Status Rib::add_static(const RouteSpec& spec) {
    if (spec.dst.has_host_bits())
        return absl::InvalidArgumentError(
            fmt::format("prefix {} has host bits set; did you mean {}?", spec.dst.str(),
                        spec.dst.canonical().str()));
    bool unicast = spec.type == RouteType::kUnicast;
    if (!unicast && (spec.gateway || spec.port))
        return absl::InvalidArgumentError(
            fmt::format("a {} route takes no gateway or dev", route_type_name(spec.type)));
    if (unicast && !spec.gateway && !spec.port)
        return absl::InvalidArgumentError("a unicast route needs via GATEWAY or dev PORT");
    if (spec.port && port_info(*spec.port) == nullptr)
        return absl::NotFoundError("unknown port");

    uint16_t port = spec.port.value_or(kNoPort);
    if (spec.gateway) {
        absl::Status st = check_gateway(spec, &port);
        if (!st.ok())
            return st;
    }
    uint32_t metric = spec.metric.value_or(kMetricDefault);
    if (auto it = routes_.find(spec.dst); it != routes_.end())
        for (const Route& r : it->second)
            if (r.metric == metric)
                return absl::AlreadyExistsError(
                    fmt::format("route exists: {}", describe(r, *this)));
    NhKind kind = !unicast       ? kind_for_type(spec.type)
                  : spec.gateway ? NhKind::kNeighbor
                                 : NhKind::kConnected;
    uint32_t id = nh_get(kind, unicast ? port : kNoPort, spec.gateway.value_or(Ip6()));
    if (id == 0)
        return absl::ResourceExhaustedError("next hop table full");
    Route r;
    r.dst = spec.dst;
    r.type = spec.type;
    r.origin = RouteOrigin::kStatic;
    r.metric = metric;
    r.gateway = spec.gateway;
    r.port = unicast ? port : kNoPort;
    r.nh_id = id;
    r.prefsrc = spec.prefsrc;
    auto& list = routes_[spec.dst];
    list.insert(
        std::upper_bound(list.begin(), list.end(), r,
                         [](const Route& a, const Route& b) { return a.metric < b.metric; }),
        r);
    dirty_ = true;
    return absl::OkStatus();
}

absl::Status Rib::del_static(const RouteSpec& spec) {
    if (spec.dst.has_host_bits())
        return absl::InvalidArgumentError(
            fmt::format("prefix {} has host bits set; did you mean {}?", spec.dst.str(),
                        spec.dst.canonical().str()));
    auto it = routes_.find(spec.dst);
    if (it == routes_.end())
        return absl::NotFoundError(fmt::format("no such route: {}", spec.dst.str()));
    auto matches = [&](const Route& r) {
        return (!spec.gateway || r.gateway == spec.gateway) &&
               (!spec.port || r.port == *spec.port) && (!spec.metric || r.metric == *spec.metric) &&
               (spec.type == RouteType::kUnicast || r.type == spec.type);
    };
    std::vector<size_t> hits;
    bool owned_hit = false;
    for (size_t i = 0; i < it->second.size(); i++) {
        const Route& r = it->second[i];
        if (!matches(r))
            continue;
        if (r.origin == RouteOrigin::kStatic)
            hits.push_back(i);
        else
            owned_hit = true;
    }
    if (hits.empty()) {
        if (owned_hit)
            return absl::FailedPreconditionError(fmt::format(
                "{} belongs to an address; delete the address instead", spec.dst.str()));
        return absl::NotFoundError(fmt::format("no such route: {}", spec.dst.str()));
    }
    if (hits.size() > 1) {
        std::string names;
        for (size_t i : hits)
            names += (names.empty() ? "" : "; ") + describe(it->second[i], *this);
        return absl::FailedPreconditionError("several routes match: " + names);
    }
    nh_put(it->second[hits[0]].nh_id);
    it->second.erase(it->second.begin() + long(hits[0]));
    if (it->second.empty())
        routes_.erase(it);
    dirty_ = true;
    return absl::OkStatus();
}

void Rib::add_owned(Route r) {
    auto& list = routes_[r.dst];
    for (Route& e : list) {
        if (e.origin == r.origin && e.port == r.port) {
            e.owners++;
            return;
        }
    }
    NhKind kind = r.origin == RouteOrigin::kLocal ? NhKind::kLocal : NhKind::kConnected;
    uint16_t nh_port = r.origin == RouteOrigin::kLocal ? kNoPort : r.port;
    r.nh_id = nh_get(kind, nh_port, Ip6());
    if (r.nh_id == 0) {
        // TODO: surface this to the address layer; with a table sized for a
        // million routes and these next hops shared per port it cannot fill.
        FP6_LOG(ERR, Rib, "next hop table full: {} not installed", r.dst.str());
        if (list.empty())
            routes_.erase(r.dst);
        return;
    }
    list.insert(
        std::upper_bound(list.begin(), list.end(), r,
                         [](const Route& a, const Route& b) { return a.metric < b.metric; }),
        r);
    dirty_ = true;
}

void Rib::del_owned(const Prefix6& dst, RouteOrigin origin, uint16_t port) {
    auto it = routes_.find(dst);
    if (it == routes_.end())
        return;
    auto& list = it->second;
    for (auto r = list.begin(); r != list.end(); ++r) {
        if (r->origin != origin || r->port != port)
            continue;
        if (--r->owners == 0) {
            nh_put(r->nh_id);
            list.erase(r);
            dirty_ = true;
        }
        break;
    }
    if (list.empty())
        routes_.erase(it);
}

void Rib::add_connected(const Prefix6& prefix, uint16_t port) {
    Route r;
    r.dst = prefix.canonical();
    r.origin = RouteOrigin::kConnected;
    r.metric = kMetricConnected;
    r.port = port;
    add_owned(r);
}

void Rib::del_connected(const Prefix6& prefix, uint16_t port) {
    del_owned(prefix.canonical(), RouteOrigin::kConnected, port);
}

void Rib::add_local(const Ip6& addr, uint16_t port) {
    Route r;
    r.dst = Prefix6(addr, 128);
    r.origin = RouteOrigin::kLocal;
    r.metric = kMetricLocal;
    r.port = port;
    add_owned(r);
}

void Rib::del_local(const Ip6& addr, uint16_t port) {
    del_owned(Prefix6(addr, 128), RouteOrigin::kLocal, port);
}

void Rib::set_neighbor(uint16_t port, const Ip6& addr, std::optional<Mac> mac) {
    auto key = std::pair(port, addr);
    if (mac)
        neigh_l2_[key] = *mac;
    else
        neigh_l2_.erase(key);
    // One write per next hop: every route through this neighbour sees it.
    if (auto it = nh_by_key_.find(NhKey{NhKind::kNeighbor, port, addr}); it != nh_by_key_.end())
        nexthops_.publish(it->second.id, nh_build(NhKind::kNeighbor, port, addr));
    auto held = neigh_nh_.find(key);
    if (mac && held == neigh_nh_.end()) {
        uint32_t id = nh_get(NhKind::kNeighbor, port, addr);
        if (id != 0) {
            neigh_nh_[key] = id;
            dirty_ = true;
        }
    } else if (!mac && held != neigh_nh_.end()) {
        nh_put(held->second);
        neigh_nh_.erase(held);
        dirty_ = true;
    }
}

const NextHop* Rib::neighbor_nexthop(uint16_t port, const Ip6& addr) const {
    auto it = nh_by_key_.find(NhKey{NhKind::kNeighbor, port, addr});
    return it == nh_by_key_.end() ? nullptr : nexthops_.get(it->second.id);
}

const Route* Rib::lookup(const Ip6& dst) const {
    for (int len = 128; len >= 0; len--) {
        auto it = routes_.find(Prefix6(dst.masked(len), len));
        if (it != routes_.end() && !it->second.empty())
            return &it->second.front();
    }
    return nullptr;
}

std::vector<const Route*> Rib::routes() const {
    std::vector<const Route*> out;
    for (const auto& [dst, list] : routes_)
        for (const Route& r : list)
            out.push_back(&r);
    return out;
}

std::vector<FibEntry> Rib::derive_fib() const {
    std::vector<FibEntry> entries;
    entries.reserve(routes_.size() + neigh_nh_.size());
    absl::flat_hash_set<Prefix6> hosts;
    for (const auto& [dst, list] : routes_) {
        // Link-local destinations are never looked up (the packet path keeps
        // them on their link), and fe80::/64 exists once per port.
        if (list.empty() || dst.addr().is_linklocal())
            continue;
        entries.push_back({dst, list.front().nh_id});
    }
    // A resolved neighbour inside an on-link prefix of its port gets a /128
    // pointing at its own next hop, below any configured /128 route.
    for (const auto& [key, id] : neigh_nh_) {
        const auto& [port, addr] = key;
        if (addr.is_linklocal())
            continue;
        const Route* best = lookup(addr);
        if (best == nullptr || !is_onlink_route(*best) || best->port != port)
            continue;
        if (best->dst.len() == 128 || !hosts.insert(Prefix6(addr, 128)).second)
            continue;
        entries.push_back({Prefix6(addr, 128), id});
    }
    return entries;
}

absl::Status Rib::commit() {
    if (!dirty_)
        return absl::OkStatus();
    absl::Status st = fib_.publish(derive_fib());
    if (!st.ok())
        return st;
    // The FIB just published names none of these ids; a worker may still be
    // in a burst on the old FIB, which release() covers with a grace period.
    for (uint32_t id : nh_to_release_)
        nexthops_.release(id);
    nh_to_release_.clear();
    dirty_ = false;
    return absl::OkStatus();
}

}  // namespace fp6
