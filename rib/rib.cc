#include "rib/rib.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/log.h"
#include "common/status.h"

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

constexpr size_t kMaxPaths = 32;

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

bool is_static_unicast(const Route& r) {
    return r.origin == RouteOrigin::kStatic && r.type == RouteType::kUnicast;
}

bool is_recursive(const Route& r) {
    return std::any_of(r.paths.begin(), r.paths.end(),
                       [](const RoutePath& p) { return p.recursive; });
}

/* Same words (the weight does not make a path different). */
bool same_path(const RoutePath& a, const RoutePath& b) {
    return a.gateway == b.gateway && a.port == b.port && a.recursive == b.recursive;
}

}  // namespace

std::string Rib::describe(const Route& r) const {
    std::string s = r.dst.str();
    if (r.type != RouteType::kUnicast)
        s = std::string(route_type_name(r.type)) + " " + s;
    for (const RoutePath& p : r.paths) {
        if (r.paths.size() > 1)
            s += " nexthop";
        if (p.gateway)
            s += " via " + p.gateway->str();
        if (const RibPortInfo* info = port_info(p.port))
            s += " dev " + info->name;
    }
    if (r.paths.empty())
        if (const RibPortInfo* info = port_info(r.port))
            s += " dev " + info->name;
    return s + " metric " + std::to_string(r.metric);
}

Rib::Rib(NextHopTable& nexthops, Fib& fib) : nexthops_(nexthops), fib_(fib) {}
Rib::~Rib() = default;

/* ---- ports ---- */

void Rib::set_port(uint16_t port, RibPortInfo info) {
    bool up = info.up;
    auto [it, fresh] = ports_.try_emplace(port, std::move(info));
    if (!fresh) {
        up = it->second.up;
        it->second = std::move(info);
        it->second.up = up;
    }
}

void Rib::set_port_up(uint16_t port, bool up) {
    auto it = ports_.find(port);
    if (it == ports_.end() || it->second.up == up)
        return;
    it->second.up = up;
    routes_changed_ = true;
}

void Rib::forget_port(uint16_t port) {
    ports_.erase(port);
    routes_changed_ = true;
}

const RibPortInfo* Rib::port_info(uint16_t port) const {
    auto it = ports_.find(port);
    return it == ports_.end() ? nullptr : &it->second;
}

bool Rib::port_up(uint16_t port) const {
    const RibPortInfo* p = port_info(port);
    return p != nullptr && p->up;
}

/* ---- next hops ---- */

NextHop Rib::nh_build(const NhKey& key) const {
    NextHop nh;
    nh.kind = key.kind;
    nh.port = key.port;
    nh.addr = key.addr;
    nh.l2.ether_type = htons(RTE_ETHER_TYPE_IPV6);
    if (const RibPortInfo* p = port_info(key.port))
        std::memcpy(nh.l2.src_addr.addr_bytes, p->mac.data(), 6);
    if (key.kind == NhKind::kNeighbor) {
        auto it = neigh_l2_.find(std::pair(key.port, key.addr));
        if (it != neigh_l2_.end()) {
            nh.resolved = true;
            std::memcpy(nh.l2.dst_addr.addr_bytes, it->second.data(), 6);
        }
    }
    return nh;
}

uint32_t Rib::nh_get(const NhKey& key) {
    if (auto it = nh_by_key_.find(key); it != nh_by_key_.end()) {
        it->second.refs++;
        return it->second.id;
    }
    uint32_t id = nexthops_.alloc();
    if (id == 0)
        return 0;
    nexthops_.publish(id, nh_build(key));
    nh_by_key_[key] = NhRef{id, 1};
    key_by_nh_[id] = key;
    return id;
}

uint32_t Rib::nh_get_members(const Members& m) {
    if (m.size() == 1)
        return nh_get(m[0].first);
    if (auto it = group_by_members_.find(m); it != group_by_members_.end()) {
        it->second.refs++;
        return it->second.id;
    }
    // The group holds a reference on each member, so members outlive it.
    std::vector<uint32_t> ids;
    for (const auto& [key, weight] : m) {
        uint32_t id = nh_get(key);
        if (id == 0) {
            for (uint32_t got : ids)
                nh_put(got);
            return 0;
        }
        ids.push_back(id);
    }
    uint32_t gid = nexthops_.alloc();
    if (gid == 0) {
        for (uint32_t got : ids)
            nh_put(got);
        return 0;
    }
    // Slots in proportion to the weights, at least one per member, at most
    // NextHop::kMaxSlots in all (64ths of the traffic is the resolution).
    uint64_t total = 0;
    for (const auto& [key, weight] : m)
        total += weight;
    std::vector<uint32_t> count(m.size());
    uint32_t used = 0;
    for (size_t i = 0; i < m.size(); i++) {
        uint64_t share = total <= uint64_t(NextHop::kMaxSlots)
                             ? m[i].second
                             : m[i].second * uint64_t(NextHop::kMaxSlots) / total;
        count[i] = uint32_t(std::max<uint64_t>(1, share));
        used += count[i];
    }
    while (used > uint32_t(NextHop::kMaxSlots)) {
        auto big = std::max_element(count.begin(), count.end());
        (*big)--;
        used--;
    }
    NextHop g;
    g.kind = NhKind::kGroup;
    g.port = kNoPort;
    for (size_t i = 0; i < m.size(); i++)
        for (uint32_t k = 0; k < count[i]; k++)
            g.slots[g.n_slots++] = ids[i];
    nexthops_.publish(gid, g);
    group_by_members_[m] = NhRef{gid, 1};
    members_by_group_[gid] = {m, std::move(ids)};
    return gid;
}

void Rib::nh_put(uint32_t id) {
    if (id == 0)
        return;
    if (auto git = members_by_group_.find(id); git != members_by_group_.end()) {
        auto it = group_by_members_.find(git->second.first);
        if (--it->second.refs > 0)
            return;
        for (uint32_t member : git->second.second)
            nh_put(member);
        group_by_members_.erase(it);
        members_by_group_.erase(git);
        nh_to_release_.push_back(id);
        return;
    }
    auto kit = key_by_nh_.find(id);
    if (kit == key_by_nh_.end())
        return;
    auto it = nh_by_key_.find(kit->second);
    if (--it->second.refs > 0)
        return;
    nh_by_key_.erase(it);
    key_by_nh_.erase(kit);
    // The live FIB may still name `id` for a reader in flight: it is
    // released after the commit that stops naming it and a grace period.
    nh_to_release_.push_back(id);
}

/* ---- resolution ---- */

const Route* Rib::best_active(const RouteList& list) const {
    for (const Route& r : list)
        if (r.active)
            return &r;
    return nullptr;
}

const Route* Rib::lookup_where(const Ip6& dst, bool (*ok)(const Route&)) const {
    for (int len = 128; len >= 0; len--) {
        if (len_count_[size_t(len)] == 0)
            continue;
        auto it = routes_.find(Prefix6(dst.masked(len), len));
        if (it == routes_.end())
            continue;
        for (const Route& r : it->second)
            if (r.active && (ok == nullptr || ok(r)))
                return &r;
    }
    return nullptr;
}

const Route* Rib::lookup(const Ip6& dst) const {
    return lookup_where(dst, nullptr);
}

uint16_t Rib::route_port(const Route& r) const {
    if (r.origin != RouteOrigin::kStatic || r.paths.empty())
        return r.port;
    if (r.nh_id != 0) {
        if (auto k = key_by_nh_.find(r.nh_id); k != key_by_nh_.end())
            return k->second.port;
        if (auto g = members_by_group_.find(r.nh_id); g != members_by_group_.end())
            return g->second.first.front().first.port;
    }
    return r.paths[0].port;
}

Rib::Members Rib::resolve(const PathKey& k) const {
    if (!k.gateway)  // dev NAME: on-link through the port while it is up
        return port_up(k.port) ? Members{{{NhKind::kConnected, k.port, Ip6()}, 1}} : Members{};
    const Ip6& gw = *k.gateway;
    if (gw.is_linklocal())
        return port_up(k.port) ? Members{{{NhKind::kNeighbor, k.port, gw}, 1}} : Members{};
    if (!k.recursive) {
        const Route* r = lookup(gw);
        if (r == nullptr || !r->onlink())
            return {};
        uint16_t port = route_port(*r);
        if (k.port != kNoPort && k.port != port)
            return {};
        return {{{NhKind::kNeighbor, port, gw}, 1}};
    }
    // Recursive: follow the best route to the gateway that is not itself
    // recursive (one level, so resolution cannot loop).
    const Route* r = lookup_where(gw, [](const Route& c) { return !is_recursive(c); });
    if (r == nullptr || r->origin == RouteOrigin::kLocal || r->type != RouteType::kUnicast)
        return {};
    if (r->onlink())
        return {{{NhKind::kNeighbor, route_port(*r), gw}, 1}};
    return route_members(*r);
}

Rib::Members Rib::route_members(const Route& r) const {
    Members out;
    for (const RoutePath& p : r.paths) {
        auto it = resolutions_.find(PathKey{p.gateway, p.port, p.recursive});
        if (it == resolutions_.end())
            continue;
        for (const auto& [key, weight] : it->second.members)
            out.push_back({key, weight * p.weight});
    }
    std::sort(out.begin(), out.end());
    // The same neighbour reached by two paths is one member with both shares.
    size_t w = 0;
    for (size_t i = 0; i < out.size(); i++) {
        if (w > 0 && out[w - 1].first == out[i].first)
            out[w - 1].second += out[i].second;
        else
            out[w++] = out[i];
    }
    out.resize(w);
    return out;
}

void Rib::derive(Route& r) {
    if (!is_static_unicast(r))
        return;
    // One path with at most one member (most routes): that member, weight
    // aside, is what route_members() would give, without building a set.
    Members built;
    const Members* m = &built;
    auto one =
        r.paths.size() == 1
            ? resolutions_.find(PathKey{r.paths[0].gateway, r.paths[0].port, r.paths[0].recursive})
            : resolutions_.end();
    if (one != resolutions_.end() && one->second.members.size() <= 1)
        m = &one->second.members;
    else
        built = route_members(r);
    uint32_t id = m->empty() ? 0 : nh_get_members(*m);
    if (id == 0 && !m->empty())
        FP6_LOG(ERR, Rib, "next hop table full: {} stays inactive", r.dst.str());
    if (id == r.nh_id && id != 0) {
        nh_put(id);  // the reference the route already holds is enough
        return;
    }
    uint32_t old = r.nh_id;
    r.nh_id = id;
    r.active = id != 0;
    nh_put(old);
    if (old != id)
        changed_route(r);
}

void Rib::path_use(const Route& r, const RoutePath& p, int delta) {
    PathKey key{p.gateway, p.port, p.recursive};
    RouteId rid{r.dst, r.metric};
    if (delta > 0) {
        auto [it, fresh] = resolutions_.try_emplace(key);
        if (fresh)
            it->second.members = resolve(key);
        it->second.users.insert(rid);
        return;
    }
    auto it = resolutions_.find(key);
    if (it == resolutions_.end())
        return;
    it->second.users.erase(rid);
    if (it->second.users.empty())
        resolutions_.erase(it);
}

void Rib::reresolve() {
    // Non-recursive paths depend on on-link routes and ports; recursive ones
    // on every non-recursive route, so they go second. A pass can change
    // which routes are active, so each kind runs until nothing moves (two
    // passes in practice).
    for (bool recursive : {false, true}) {
        for (int pass = 0; pass < 8; pass++) {
            std::vector<RouteId> touched;
            for (auto& [key, res] : resolutions_) {
                if (key.recursive != recursive)
                    continue;
                Members now = resolve(key);
                if (now == res.members)
                    continue;
                res.members = std::move(now);
                touched.insert(touched.end(), res.users.begin(), res.users.end());
            }
            if (touched.empty())
                break;
            for (const RouteId& rid : touched) {
                auto it = routes_.find(rid.first);
                if (it == routes_.end())
                    continue;
                for (Route& r : it->second)
                    if (r.metric == rid.second)
                        derive(r);
            }
        }
    }
}

void Rib::changed_route(const Route& r) {
    dirty_.insert(r.dst);
    forget_gateways(r.dst);
    // Resolutions need another look only when a route covering one of their
    // gateways changed (ports changing state set the flag themselves).
    if (!routes_changed_)
        for (const auto& [key, res] : resolutions_)
            if (key.gateway && r.dst.contains(*key.gateway)) {
                routes_changed_ = true;
                break;
            }
    // A neighbour's /128 exists only while an on-link route of its port is
    // its best route: re-derive those inside an on-link route that moved.
    if (r.onlink())
        for (const auto& [key, id] : neigh_nh_)
            if (r.dst.contains(key.second))
                dirty_.insert(Prefix6(key.second, 128));
}

/* ---- route changes ---- */

Rib::GatewayView Rib::gateway_view(const Ip6& gw) const {
    if (auto it = gateway_views_.find(gw); it != gateway_views_.end())
        return it->second;
    GatewayView v;
    if (auto it = routes_.find(Prefix6(gw, 128)); it != routes_.end())
        v.local = std::any_of(it->second.begin(), it->second.end(),
                              [](const Route& r) { return r.origin == RouteOrigin::kLocal; });
    if (const Route* r = lookup(gw)) {
        v.len = r->dst.len();
        v.onlink = r->onlink();
        if (v.onlink)
            v.port = route_port(*r);
    }
    if (gateway_views_.size() >= kGatewayViews) {
        gateway_views_.clear();
        gateway_views_min_len_ = 129;
    }
    gateway_views_.emplace(gw, v);
    gateway_views_min_len_ = std::min(gateway_views_min_len_, v.len);
    return v;
}

void Rib::forget_gateways(const Prefix6& changed) {
    // Only a route of a prefix covering the gateway, and no shorter than
    // the best one found for it, can change what lookup() answers (or, at
    // /128, whether the gateway is ours).
    if (changed.len() < gateway_views_min_len_)
        return;
    absl::erase_if(gateway_views_, [&](const auto& e) {
        return changed.len() >= e.second.len && changed.contains(e.first);
    });
    if (gateway_views_.empty())
        gateway_views_min_len_ = 129;
}

absl::Status Rib::check_path(const RoutePath& p, bool pending) const {
    if (p.port != kNoPort && port_info(p.port) == nullptr)
        return absl::NotFoundError("unknown port");
    if (p.weight == 0 || p.weight > kMaxWeight)
        return absl::InvalidArgumentError(
            fmt::format("weight {} out of range 1..{}", p.weight, kMaxWeight));
    if (!p.gateway) {
        if (p.port == kNoPort)
            return absl::InvalidArgumentError("a unicast route needs via GATEWAY or dev PORT");
        if (p.recursive)
            return absl::InvalidArgumentError("recursive needs a gateway");
        return absl::OkStatus();
    }
    const Ip6& gw = *p.gateway;
    if (gw.is_unspecified())
        return absl::InvalidArgumentError("gateway :: is unspecified");
    if (gw.is_multicast() || gw.is_loopback())
        return absl::InvalidArgumentError(
            fmt::format("gateway {} is not a unicast neighbour address", gw.str()));
    const GatewayView v = gateway_view(gw);
    if (v.local)
        return absl::InvalidArgumentError(fmt::format(
            "gateway {} is one of our own addresses; use dev for an interface route", gw.str()));
    if (gw.is_linklocal()) {
        if (p.port == kNoPort)
            return absl::InvalidArgumentError(fmt::format(
                "link-local gateway {} needs dev: it is ambiguous across ports", gw.str()));
        if (p.recursive)
            return absl::InvalidArgumentError(
                fmt::format("link-local gateway {} cannot be recursive", gw.str()));
        return absl::OkStatus();
    }
    if (p.recursive) {
        if (p.port != kNoPort)
            return absl::InvalidArgumentError(
                "a recursive gateway is resolved through any route; drop dev");
        return absl::OkStatus();
    }
    if (pending && (!v.onlink || (p.port != kNoPort && p.port != v.port)))
        return absl::OkStatus();  // inactive until the gateway is on-link (through p.port)
    if (!v.onlink)
        return absl::FailedPreconditionError(fmt::format(
            "gateway {} is not on-link: no connected route covers it (add recursive to resolve "
            "it through other routes)",
            gw.str()));
    if (p.port != kNoPort && p.port != v.port)
        return absl::InvalidArgumentError(
            fmt::format("gateway {} is on-link through {}, not through {}", gw.str(),
                        port_info(v.port) ? port_info(v.port)->name : "?",
                        port_info(p.port) ? port_info(p.port)->name : "?"));
    return absl::OkStatus();
}

absl::Status Rib::check_spec(const RouteSpec& spec) const {
    if (spec.dst.has_host_bits())
        return absl::InvalidArgumentError(
            fmt::format("prefix {} has host bits set; did you mean {}?", spec.dst.str(),
                        spec.dst.canonical().str()));
    if (spec.type != RouteType::kUnicast) {
        if (!spec.paths.empty())
            return absl::InvalidArgumentError(
                fmt::format("a {} route takes no gateway or dev", route_type_name(spec.type)));
        return absl::OkStatus();
    }
    if (spec.paths.empty())
        return absl::InvalidArgumentError("a unicast route needs via GATEWAY or dev PORT");
    if (spec.paths.size() > kMaxPaths)
        return absl::InvalidArgumentError(
            fmt::format("{} next hops; at most {}", spec.paths.size(), kMaxPaths));
    for (size_t i = 0; i < spec.paths.size(); i++) {
        FP6_RETURN_IF_ERROR(check_path(spec.paths[i], spec.pending));
        for (size_t j = 0; j < i; j++)
            if (same_path(spec.paths[i], spec.paths[j]))
                return absl::InvalidArgumentError("the same next hop is given twice");
    }
    return absl::OkStatus();
}

void Rib::insert_route(Route r) {
    auto at = routes_.lower_bound(r.dst);
    insert_route(std::move(r), at);
}

void Rib::insert_route(Route r, RouteMap::iterator at) {
    if (at == routes_.end() || at->first != r.dst)
        at = routes_.emplace_hint(at, r.dst, RouteList{});
    RouteList& list = at->second;
    if (list.empty())
        len_count_[size_t(r.dst.len())]++;
    auto pos = std::upper_bound(list.begin(), list.end(), r,
                                [](const Route& a, const Route& b) { return a.metric < b.metric; });
    Route& in = *list.insert(pos, std::move(r));
    if (is_static_unicast(in)) {
        in.active = false;
        in.nh_id = 0;
        for (const RoutePath& p : in.paths)
            path_use(in, p, +1);
        derive(in);
        if (!in.active)
            changed_route(in);  // an inactive route still changes on-link answers
    } else {
        in.active = in.nh_id != 0;
        changed_route(in);
    }
    if (in.origin == RouteOrigin::kStatic)
        static_routes_++;
}

void Rib::remove_route(Prefix6 dst, uint32_t metric) {
    auto it = routes_.find(dst);
    if (it == routes_.end())
        return;
    const RouteList& list = it->second;
    auto r =
        std::find_if(list.begin(), list.end(), [&](const Route& c) { return c.metric == metric; });
    if (r != list.end())
        remove_route(it, size_t(r - list.begin()));
}

void Rib::remove_route(RouteMap::iterator at, size_t index) {
    RouteList& list = at->second;
    auto r = list.begin() + long(index);
    if (is_static_unicast(*r))
        for (const RoutePath& p : r->paths)
            path_use(*r, p, -1);
    if (r->origin == RouteOrigin::kStatic)
        static_routes_--;
    uint32_t id = r->nh_id;
    Route gone = std::move(*r);
    list.erase(r);
    gone.active = false;
    changed_route(gone);
    nh_put(id);
    if (list.empty()) {
        len_count_[size_t(at->first.len())]--;
        routes_.erase(at);
    }
}

Route Rib::make_static(const RouteSpec& spec) {
    Route r;
    r.dst = spec.dst;
    r.type = spec.type;
    r.origin = RouteOrigin::kStatic;
    r.metric = spec.metric.value_or(kMetricDefault);
    r.paths = spec.paths;
    r.prefsrc = spec.prefsrc;
    if (spec.type != RouteType::kUnicast)
        r.nh_id = nh_get({kind_for_type(spec.type), kNoPort, Ip6()});
    return r;
}

Route* Rib::find_route(const Prefix6& dst, uint32_t metric) {
    auto it = routes_.find(dst);
    if (it == routes_.end())
        return nullptr;
    for (Route& r : it->second)
        if (r.metric == metric)
            return &r;
    return nullptr;
}

absl::Status Rib::add_static(const RouteSpec& spec) {
    FP6_RETURN_IF_ERROR(check_spec(spec));
    // One search of the routes serves the check and the insertion.
    const uint32_t metric = spec.metric.value_or(kMetricDefault);
    auto at = routes_.lower_bound(spec.dst);
    if (at != routes_.end() && at->first == spec.dst)
        for (const Route& r : at->second)
            if (r.metric == metric)
                return absl::AlreadyExistsError(fmt::format("route exists: {}", describe(r)));
    Route r = make_static(spec);
    if (spec.type != RouteType::kUnicast && r.nh_id == 0)
        return absl::ResourceExhaustedError("next hop table full");
    insert_route(std::move(r), at);  // make_static() left the routes as they were
    return absl::OkStatus();
}

void Rib::set_paths(Route& r, std::vector<RoutePath> paths) {
    // Users are a set: leave the old paths before joining the new ones
    // (which may be the same).
    for (const RoutePath& p : r.paths)
        path_use(r, p, -1);
    for (const RoutePath& p : paths)
        path_use(r, p, +1);
    r.paths = std::move(paths);
    derive(r);
    changed_route(r);
}

absl::Status Rib::append_static(const RouteSpec& spec) {
    FP6_RETURN_IF_ERROR(check_spec(spec));
    Route* r = find_route(spec.dst, spec.metric.value_or(kMetricDefault));
    if (r == nullptr)
        return add_static(spec);
    if (!is_static_unicast(*r) || spec.type != RouteType::kUnicast)
        return absl::FailedPreconditionError(
            fmt::format("cannot append next hops to {}", describe(*r)));
    std::vector<RoutePath> paths = r->paths;
    for (const RoutePath& p : spec.paths) {
        for (const RoutePath& q : paths)
            if (same_path(p, q))
                return absl::AlreadyExistsError(fmt::format("next hop exists in {}", describe(*r)));
        paths.push_back(p);
    }
    if (paths.size() > kMaxPaths)
        return absl::InvalidArgumentError(
            fmt::format("{} next hops; at most {}", paths.size(), kMaxPaths));
    set_paths(*r, std::move(paths));
    return absl::OkStatus();
}

absl::Status Rib::replace_static(const RouteSpec& spec) {
    FP6_RETURN_IF_ERROR(check_spec(spec));
    uint32_t metric = spec.metric.value_or(kMetricDefault);
    Route* r = find_route(spec.dst, metric);
    if (r == nullptr)
        return add_static(spec);
    if (r->origin != RouteOrigin::kStatic)
        return absl::FailedPreconditionError(
            fmt::format("{} belongs to an address; delete the address instead", spec.dst.str()));
    if (is_static_unicast(*r) && spec.type == RouteType::kUnicast) {
        // In place: the FIB entry moves from the old next hop to the new one
        // in one store, with no moment without a route.
        r->prefsrc = spec.prefsrc;
        set_paths(*r, spec.paths);
        return absl::OkStatus();
    }
    Route fresh = make_static(spec);
    if (spec.type != RouteType::kUnicast && fresh.nh_id == 0)
        return absl::ResourceExhaustedError("next hop table full");
    remove_route(spec.dst, metric);
    insert_route(std::move(fresh));
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
    const RoutePath* want = spec.paths.empty() ? nullptr : &spec.paths[0];
    // `dev` matches the port a path was given or, without one, the port
    // its gateway is on-link through now.
    auto path_port = [&](const RoutePath& p) {
        if (p.port != kNoPort)
            return p.port;
        auto res = resolutions_.find(PathKey{p.gateway, p.port, p.recursive});
        return res == resolutions_.end() || res->second.members.empty()
                   ? kNoPort
                   : res->second.members.front().first.port;
    };
    auto path_matches = [&](const RoutePath& p) {
        return (!want->gateway || p.gateway == want->gateway) &&
               (want->port == kNoPort || path_port(p) == want->port);
    };
    auto matches = [&](const Route& r) {
        if (spec.metric && r.metric != *spec.metric)
            return false;
        if (spec.type != RouteType::kUnicast && r.type != spec.type)
            return false;
        if (want == nullptr)
            return true;
        if (r.origin != RouteOrigin::kStatic)  // owned routes match by port
            return !want->gateway && want->port == r.port;
        return std::any_of(r.paths.begin(), r.paths.end(), path_matches);
    };
    RouteList& list = it->second;
    size_t hit = 0, hits = 0;
    bool owned_hit = false;
    for (size_t i = 0; i < list.size(); i++) {
        if (!matches(list[i]))
            continue;
        if (list[i].origin != RouteOrigin::kStatic)
            owned_hit = true;
        else if (hits++ == 0)
            hit = i;
    }
    if (hits == 0) {
        if (owned_hit)
            return absl::FailedPreconditionError(fmt::format(
                "{} belongs to an address; delete the address instead", spec.dst.str()));
        return absl::NotFoundError(fmt::format("no such route: {}", spec.dst.str()));
    }
    if (hits > 1) {
        std::string names;
        for (const Route& r : list)
            if (r.origin == RouteOrigin::kStatic && matches(r))
                names += (names.empty() ? "" : "; ") + describe(r);
        return absl::FailedPreconditionError("several routes match: " + names);
    }
    Route& r = list[hit];
    if (want != nullptr && r.paths.size() > 1) {
        std::vector<RoutePath> keep;
        for (const RoutePath& p : r.paths)
            if (!path_matches(p))
                keep.push_back(p);
        if (!keep.empty()) {
            set_paths(r, std::move(keep));
            return absl::OkStatus();
        }
    }
    remove_route(it, hit);
    return absl::OkStatus();
}

size_t Rib::flush_static() {
    std::vector<RouteId> gone;
    for (const auto& [dst, list] : routes_)
        for (const Route& r : list)
            if (r.origin == RouteOrigin::kStatic)
                gone.push_back({dst, r.metric});
    for (const RouteId& rid : gone)
        remove_route(rid.first, rid.second);
    return gone.size();
}

void Rib::add_owned(Route r) {
    if (auto it = routes_.find(r.dst); it != routes_.end())
        for (Route& e : it->second)
            if (e.origin == r.origin && e.port == r.port) {
                e.owners++;
                return;
            }
    if (Route* clash = find_route(r.dst, r.metric)) {
        // A static route took this prefix and metric first; the address's
        // route goes one metric later rather than not at all.
        FP6_LOG(WARNING, Rib, "{} metric {} is taken by {}; using metric {}", r.dst.str(), r.metric,
                describe(*clash), r.metric + 1);
        r.metric++;
        if (find_route(r.dst, r.metric) != nullptr)
            return;
    }
    NhKind kind = r.origin == RouteOrigin::kLocal ? NhKind::kLocal : NhKind::kConnected;
    uint16_t nh_port = r.origin == RouteOrigin::kLocal ? kNoPort : r.port;
    r.nh_id = nh_get({kind, nh_port, Ip6()});
    if (r.nh_id == 0) {
        // TODO: surface this to the address layer; with these next hops
        // shared per port it cannot happen before the table holds a million.
        FP6_LOG(ERR, Rib, "next hop table full: {} not installed", r.dst.str());
        return;
    }
    insert_route(std::move(r));
}

void Rib::del_owned(const Prefix6& dst, RouteOrigin origin, uint16_t port) {
    auto it = routes_.find(dst);
    if (it == routes_.end())
        return;
    for (Route& r : it->second) {
        if (r.origin != origin || r.port != port)
            continue;
        if (--r.owners == 0)
            remove_route(dst, r.metric);
        return;
    }
}

void Rib::add_connected(const Prefix6& prefix, uint16_t port) {
    Route r;
    r.dst = prefix.canonical();
    r.origin = RouteOrigin::kConnected;
    r.metric = kMetricConnected;
    r.port = port;
    add_owned(std::move(r));
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
    add_owned(std::move(r));
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
    // One write per next hop: every route and group through this neighbour
    // sees it.
    NhKey nk{NhKind::kNeighbor, port, addr};
    if (auto it = nh_by_key_.find(nk); it != nh_by_key_.end())
        nexthops_.publish(it->second.id, nh_build(nk));
    auto held = neigh_nh_.find(key);
    if (mac && held == neigh_nh_.end()) {
        uint32_t id = nh_get(nk);
        if (id != 0) {
            neigh_nh_[key] = id;
            dirty_.insert(Prefix6(addr, 128));
        }
    } else if (!mac && held != neigh_nh_.end()) {
        nh_put(held->second);
        neigh_nh_.erase(held);
        dirty_.insert(Prefix6(addr, 128));
    }
}

const NextHop* Rib::neighbor_nexthop(uint16_t port, const Ip6& addr) const {
    auto it = nh_by_key_.find(NhKey{NhKind::kNeighbor, port, addr});
    return it == nh_by_key_.end() ? nullptr : nexthops_.get(it->second.id);
}

/* ---- the FIB ---- */

std::optional<uint32_t> Rib::desired_fib(const Prefix6& p) const {
    // Link-local destinations are never looked up (the packet path keeps
    // them on their link), and fe80::/64 exists once per port.
    if (p.addr().is_linklocal())
        return std::nullopt;
    if (auto it = routes_.find(p); it != routes_.end())
        if (const Route* best = best_active(it->second))
            return best->nh_id;
    if (p.len() != 128)
        return std::nullopt;
    // A resolved neighbour inside an on-link prefix of its port gets a /128
    // pointing at its own next hop, below any configured /128 route.
    const Route* best = lookup(p.addr());
    if (best == nullptr || !best->onlink() || best->dst.len() == 128)
        return std::nullopt;
    auto held = neigh_nh_.find(std::pair(route_port(*best), p.addr()));
    if (held == neigh_nh_.end())
        return std::nullopt;
    return held->second;
}

absl::Status Rib::commit(bool grace) {
    if (routes_changed_) {
        routes_changed_ = false;
        reresolve();
    }
    std::vector<Prefix6>& todo = todo_;
    todo.assign(dirty_.begin(), dirty_.end());
    dirty_.clear();
    // No get() first: Lpm6::set() of the next hop a prefix already has
    // returns at once, and erase() of a prefix the FIB lacks finds nothing.
    for (size_t i = 0; i < todo.size(); i++) {
        const Prefix6& p = todo[i];
        std::optional<uint32_t> want = desired_fib(p);
        if (!want) {
            fib_.erase(p);
            continue;
        }
        if (absl::Status st = fib_.set(p, *want); !st.ok()) {
            // Keep what is not applied pending: undoing the RIB change and
            // committing again brings the FIB back in line.
            dirty_.insert(todo.begin() + long(i), todo.end());
            return st;
        }
    }
    if (!grace)
        return absl::OkStatus();
    // Next hops no route names any more: the FIB stopped naming them above,
    // and after a grace period no worker holds their ids either.
    fib_.commit(!nh_to_release_.empty());
    for (uint32_t id : nh_to_release_)
        nexthops_.release(id);
    nh_to_release_.clear();
    return absl::OkStatus();
}

/* ---- views ---- */

std::vector<const Route*> Rib::routes_of(const Prefix6& p) const {
    std::vector<const Route*> out;
    if (auto it = routes_.find(p); it != routes_.end())
        for (const Route& r : it->second)
            out.push_back(&r);
    return out;
}

void Rib::walk(const std::function<bool(const Route&)>& fn,
               const std::optional<Prefix6>& after) const {
    auto it = after ? routes_.upper_bound(*after) : routes_.begin();
    for (; it != routes_.end(); ++it)
        for (const Route& r : it->second)
            if (!fn(r))
                return;
}

std::vector<const Route*> Rib::routes() const {
    std::vector<const Route*> out;
    walk([&](const Route& r) {
        out.push_back(&r);
        return true;
    });
    return out;
}

RibCounts Rib::counts() const {
    RibCounts c;
    c.prefixes = routes_.size();
    for (const auto& [dst, list] : routes_)
        for (const Route& r : list) {
            c.routes++;
            c.active += r.active;
        }
    c.static_routes = static_routes_;
    c.fib_entries = fib_.size();
    c.nexthops = nh_by_key_.size();
    c.groups = group_by_members_.size();
    const Lpm6& t = fib_.table();
    c.fib_groups = t.groups_in_use();
    c.fib_groups_max = t.max_groups();
    c.fib_table_bytes = t.table_bytes();
    c.fib_index_bytes = t.index_bytes();
    c.fib_walk = t.walk();
    return c;
}

}  // namespace fp6
