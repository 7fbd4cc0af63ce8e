/* The routing information base: every route fp6 knows, the next hops they
 * share, which of them are usable, and the FIB entries derived from them.
 *
 * Concurrency. Control thread only. The RIB never touches the live FIB or a
 * live next hop except through Fib::set()/erase()/commit() and
 * NextHopTable::publish()/release(), the RCU publication points (see fib.h,
 * nexthop.h). Mutations record which prefixes changed; commit() brings the
 * FIB in line with them, one in-place update per changed prefix, and only
 * then recycles next hops no longer named.
 *
 * Paths and their resolution. A unicast route has one or more paths (ECMP).
 * A path is `via GW [dev NAME]`, `dev NAME`, or `via GW recursive`. Every
 * route with the same path words shares one resolution, re-evaluated at each
 * commit that changed routes:
 *   - `dev NAME`, `via fe80::x dev NAME`: usable while the port is up;
 *   - `via GW`: usable while GW is on-link, i.e. the best route covering GW is
 *     a connected or interface route (on the port the path names, if any);
 *   - `via GW recursive` (the original design's RTF_INDIRECT): usable while
 *     the best non-recursive route covering GW is usable and forwards;
 *     packets then go where that route sends them (every path of it).
 * A route with no usable path is inactive: it stays in the RIB, leaves the
 * FIB, and comes back when a path does. */
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ip6.h"
#include "rib/fib.h"
#include "rib/nexthop.h"

namespace fp6 {

inline constexpr uint16_t kNoPort = 0xffff;

enum class RouteType : uint8_t { kUnicast, kBlackhole, kUnreachable, kProhibit, kReject };
enum class RouteOrigin : uint8_t {
    kLocal,      // /128 of one of our usable addresses (belongs to the address)
    kConnected,  // on-link prefix of an address (belongs to the address)
    kStatic,     // added by command
};

const char* route_type_name(RouteType t);
std::optional<RouteType> route_type_from_name(std::string_view name);

inline constexpr uint32_t kMetricLocal = 0;
inline constexpr uint32_t kMetricConnected = 256;
inline constexpr uint32_t kMetricDefault = 1024;
inline constexpr uint32_t kMaxWeight = 256;

/* One way a unicast route forwards. */
struct RoutePath {
    std::optional<Ip6> gateway;
    uint16_t port = kNoPort;  // `dev`, or the port an on-link gateway was found on
    uint32_t weight = 1;      // 1..kMaxWeight, relative share of flows
    bool recursive = false;
    friend bool operator==(const RoutePath&, const RoutePath&) = default;
};

struct Route {
    Prefix6 dst;  // canonical
    RouteType type = RouteType::kUnicast;
    RouteOrigin origin = RouteOrigin::kStatic;
    uint32_t metric = kMetricDefault;
    std::vector<RoutePath> paths;  // unicast static routes: at least one
    uint16_t port = kNoPort;       // connected/local routes: their port
    std::optional<Ip6> prefsrc;    // `src ADDR`: wins over source selection while usable
    uint32_t owners = 1;           // connected/local: how many addresses imply this route

    /* Derived by the RIB. */
    bool active = false;
    uint32_t nh_id = 0;  // the next hop (or group) the FIB gets while active; a reference

    /* The first path's gateway and the outgoing port, for the many callers
     * that only care about single-path routes. */
    std::optional<Ip6> gateway() const { return paths.empty() ? std::nullopt : paths[0].gateway; }
    uint16_t out_port() const { return paths.empty() ? port : paths[0].port; }
    bool onlink() const {
        return type == RouteType::kUnicast && origin != RouteOrigin::kLocal &&
               (origin == RouteOrigin::kConnected || (paths.size() == 1 && !paths[0].gateway));
    }
};

/* What `route add/append/replace/del` ask for. Unset fields are wildcards for
 * del (which takes at most one path). */
struct RouteSpec {
    RouteSpec() = default;
    /* A route of at most one path: `via gateway` and/or `dev port`. */
    RouteSpec(const Prefix6& d, RouteType t = RouteType::kUnicast,
              std::optional<Ip6> gateway = std::nullopt,
              std::optional<uint16_t> port = std::nullopt, std::optional<uint32_t> m = std::nullopt)
        : dst(d), type(t), metric(m) {
        if (gateway || port)
            paths.push_back(RoutePath{gateway, port.value_or(kNoPort)});
    }

    Prefix6 dst;
    RouteType type = RouteType::kUnicast;
    std::vector<RoutePath> paths;  // a path's port is kNoPort when no dev was given
    std::optional<uint32_t> metric;
    std::optional<Ip6> prefsrc;  // the caller checks it is one of our addresses
    /* `pending`: a gateway that is not on-link now (or on-link through
     * another port than the one named) is no refusal: the route is added
     * inactive and becomes active when the gateway is on-link. `config
     * save` writes it for routes inactive when saved, so that the file
     * replays into the same table. */
    bool pending = false;
};

/* What the RIB needs to know of a port; the port layer owns ports. */
struct RibPortInfo {
    std::string name;
    Mac mac;
    bool up = false;  // operational: its routes may forward
};

struct RibCounts {
    size_t routes = 0, active = 0, static_routes = 0, prefixes = 0, fib_entries = 0, nexthops = 0,
           groups = 0;
    /* The FIB's memory: 1 KiB groups in use and the most it may use, bytes
     * of table written, bytes of its prefix index. */
    size_t fib_groups = 0, fib_groups_max = 0, fib_table_bytes = 0, fib_index_bytes = 0;
    Lpm6::Walk fib_walk = Lpm6::Walk::kScalar;  // how the workers' lookups walk it
};

class Rib {
  public:
    Rib(NextHopTable& nexthops, Fib& fib);
    ~Rib();

    /* Ports. set_port() before any route uses the port; forget_port() after
     * every route and neighbour on it is gone. */
    void set_port(uint16_t port, RibPortInfo info);
    void set_port_up(uint16_t port, bool up);
    void forget_port(uint16_t port);
    const RibPortInfo* port_info(uint16_t port) const;

    /* Static routes (control thread). Each refuses, with the reason in the
     * status message and no side effect on any table: a prefix with host
     * bits, a gateway that is unspecified, multicast or loopback, a
     * link-local gateway without dev, a gateway that is one of our
     * addresses, a gateway not on-link (unless recursive), a dev that
     * disagrees with the gateway's on-link port, a gateway on a reject-like
     * type (InvalidArgument / FailedPrecondition), the same prefix and metric
     * already there (AlreadyExists "route exists").
     *   add:     a new route;
     *   append:  more paths for the route of that prefix and metric (ECMP),
     *            or a new route when there is none;
     *   replace: the route of that prefix and metric swapped for this one in
     *            one commit, or a new route.
     * del_static(): NotFound "no such route" when nothing matches,
     * FailedPrecondition "several routes match: ..." naming them, and refuses
     * connected/local routes. A path given to del removes only that path of
     * a multipath route. */
    absl::Status add_static(const RouteSpec& spec);
    absl::Status append_static(const RouteSpec& spec);
    absl::Status replace_static(const RouteSpec& spec);
    absl::Status del_static(const RouteSpec& spec);
    /* Removes every static route; the count removed. */
    size_t flush_static();

    /* Routes implied by addresses (called by the address layer). Each add
     * takes a reference, each del drops one; the route goes with the last. */
    void add_connected(const Prefix6& prefix, uint16_t port);
    void del_connected(const Prefix6& prefix, uint16_t port);
    void add_local(const Ip6& addr, uint16_t port);
    void del_local(const Ip6& addr, uint16_t port);

    /* Link-layer knowledge from neighbour discovery or static entries: a MAC
     * for (port, addr), or nullopt when it is no longer known. Every next hop
     * toward that neighbour is republished at once, and the neighbour gets a
     * /128 FIB entry while its best RIB route is an on-link one on `port`. */
    void set_neighbor(uint16_t port, const Ip6& addr, std::optional<Mac> mac);

    /* Brings the FIB in line with every change since the last commit. On
     * failure (table full) the changes not applied stay pending, so undoing
     * the RIB change and committing again restores the previous FIB.
     * Without `grace` (inside a long batch) next hops that lost their last
     * route are kept until a later commit with it, which waits for a grace
     * period once for all of them. */
    absl::Status commit(bool grace = true);

    /* Longest-prefix match on the RIB itself: the best active route of the
     * longest prefix that has one. */
    const Route* lookup(const Ip6& dst) const;
    /* The routes of one prefix, best first (empty when none). */
    std::vector<const Route*> routes_of(const Prefix6& p) const;
    /* Every route, ordered by prefix then metric; `fn` may stop the walk by
     * returning false. Starts after `after` when given. */
    void walk(const std::function<bool(const Route&)>& fn,
              const std::optional<Prefix6>& after = std::nullopt) const;
    std::vector<const Route*> routes() const;
    const NextHopTable& nexthops() const { return nexthops_; }
    /* The port a route's traffic leaves by (its first member's), or kNoPort. */
    uint16_t route_port(const Route& r) const;
    bool port_up(uint16_t port) const;
    /* "2001:db8::/32 via 2001:db8:1::1 dev p0 metric 1024", for messages. */
    std::string describe(const Route& r) const;
    /* The next hop toward neighbour (port, addr), if one exists. */
    const NextHop* neighbor_nexthop(uint16_t port, const Ip6& addr) const;
    size_t fib_size() const { return fib_.size(); }
    RibCounts counts() const;

  private:
    /* One thing a packet can be handed to: a neighbour, or "on-link through
     * port" (kConnected), or a local/reject-like sink. */
    struct NhKey {
        NhKind kind;
        uint16_t port;
        Ip6 addr;
        friend bool operator==(const NhKey&, const NhKey&) = default;
        friend bool operator<(const NhKey& a, const NhKey& b) {
            return std::tie(a.kind, a.port, a.addr) < std::tie(b.kind, b.port, b.addr);
        }
        template <typename H>
        friend H AbslHashValue(H h, const NhKey& k) {
            return H::combine(std::move(h), k.kind, k.port, k.addr);
        }
    };
    /* A weighted member set: what a route forwards to. */
    using Members = std::vector<std::pair<NhKey, uint32_t>>;  // sorted by key
    struct NhRef {
        uint32_t id;
        uint32_t refs;
    };
    /* The words of a path that decide its resolution (not its weight). */
    struct PathKey {
        std::optional<Ip6> gateway;
        uint16_t port;
        bool recursive;
        friend bool operator==(const PathKey&, const PathKey&) = default;
        template <typename H>
        friend H AbslHashValue(H h, const PathKey& k) {
            return H::combine(std::move(h), k.gateway.has_value(), k.gateway.value_or(Ip6()),
                              k.port, k.recursive);
        }
    };
    using RouteList = std::vector<Route>;  // sorted by metric
    /* Address order, then length, as Prefix6's own order, with two 64-bit
     * compares instead of a memcmp call: the RIB's hottest comparison. */
    struct PrefixLess {
        static uint64_t half(const Prefix6& p, int i) {
            uint64_t v;
            std::memcpy(&v, p.addr().data() + 8 * i, 8);
            return __builtin_bswap64(v);
        }
        bool operator()(const Prefix6& a, const Prefix6& b) const {
            uint64_t a0 = half(a, 0), b0 = half(b, 0);
            if (a0 != b0)
                return a0 < b0;
            uint64_t a1 = half(a, 1), b1 = half(b, 1);
            if (a1 != b1)
                return a1 < b1;
            return a.len() < b.len();
        }
    };

    using RouteId = std::pair<Prefix6, uint32_t>;  // prefix and metric name a route
    struct RouteIdLess {
        bool operator()(const RouteId& a, const RouteId& b) const {
            if (a.first != b.first)
                return PrefixLess()(a.first, b.first);
            return a.second < b.second;
        }
    };
    struct Resolution {
        Members members;  // empty: unusable
        /* Routes with this path. Ordered: a route load usually comes in
         * prefix order, and then each insert or erase lands next to the
         * previous one, where a hash set's would land anywhere in a
         * table of megabytes. */
        absl::btree_set<RouteId, RouteIdLess> users;
    };
    using RouteMap = absl::btree_map<Prefix6, RouteList, PrefixLess>;

    uint32_t nh_get(const NhKey& key);
    uint32_t nh_get_members(const Members& m);
    void nh_put(uint32_t id);
    NextHop nh_build(const NhKey& key) const;

    /* What check_path() needs to know of a gateway: whether it is one of
     * our addresses, and the best active route covering it (its prefix
     * length, whether it is on-link, and the port then). */
    struct GatewayView {
        bool local = false;
        bool onlink = false;
        uint16_t port = kNoPort;  // while onlink
        int len = -1;             // the best route's prefix length; -1: none
    };
    GatewayView gateway_view(const Ip6& gw) const;
    void forget_gateways(const Prefix6& changed);

    absl::Status check_spec(const RouteSpec& spec) const;
    absl::Status check_path(const RoutePath& p, bool pending) const;
    Route make_static(const RouteSpec& spec);
    Route* find_route(const Prefix6& dst, uint32_t metric);
    void insert_route(Route r);
    /* The same where `at` is routes_.lower_bound(r.dst). */
    void insert_route(Route r, RouteMap::iterator at);
    void remove_route(Prefix6 dst, uint32_t metric);  // by value: callers pass the route's own dst
    /* The same for the route at `index` of the list `at` points to. */
    void remove_route(RouteMap::iterator at, size_t index);
    void set_paths(Route& r, std::vector<RoutePath> paths);
    void path_use(const Route& r, const RoutePath& p, int delta);
    Members resolve(const PathKey& k) const;
    Members route_members(const Route& r) const;
    void derive(Route& r);
    void changed_route(const Route& r);
    void add_owned(Route r);
    void del_owned(const Prefix6& dst, RouteOrigin origin, uint16_t port);
    const Route* best_active(const RouteList& list) const;
    const Route* lookup_where(const Ip6& dst, bool (*ok)(const Route&)) const;
    std::optional<uint32_t> desired_fib(const Prefix6& p) const;
    void reresolve();

    NextHopTable& nexthops_;
    Fib& fib_;
    RouteMap routes_;
    std::array<uint32_t, 129> len_count_{};  // prefixes per length, to skip empty ones
    absl::flat_hash_map<NhKey, NhRef> nh_by_key_;
    absl::flat_hash_map<uint32_t, NhKey> key_by_nh_;
    absl::flat_hash_map<Members, NhRef> group_by_members_;
    absl::flat_hash_map<uint32_t, std::pair<Members, std::vector<uint32_t>>> members_by_group_;
    absl::flat_hash_map<PathKey, Resolution> resolutions_;
    std::vector<uint32_t> nh_to_release_;  // refcount hit zero; released after the next commit
    absl::flat_hash_map<std::pair<uint16_t, Ip6>, Mac> neigh_l2_;
    absl::flat_hash_map<std::pair<uint16_t, Ip6>, uint32_t> neigh_nh_;  // refs held by neighbours
    absl::flat_hash_map<uint16_t, RibPortInfo> ports_;
    absl::flat_hash_set<Prefix6> dirty_;  // FIB entries to recompute
    std::vector<Prefix6> todo_;           // commit()'s copy of dirty_, kept for its capacity
    /* gateway_view()'s answers, so that a route load checks each distinct
     * gateway once rather than once a route. An answer depends only on the
     * routes of prefixes covering the gateway, and every change to one of
     * those goes through changed_route(), which forgets the answers it may
     * change (forget_gateways()). Bounded: cleared when it reaches
     * kGatewayViews. */
    static constexpr size_t kGatewayViews = 16;
    mutable absl::flat_hash_map<Ip6, GatewayView> gateway_views_;
    mutable int gateway_views_min_len_ = 129;  // at most the least len in gateway_views_
    bool routes_changed_ = false;              // resolutions to re-evaluate
    size_t static_routes_ = 0;
};

}  // namespace fp6
