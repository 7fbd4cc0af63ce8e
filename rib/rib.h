/* The routing information base: every route fp6 knows, the next hops they
 * share, and the derivation of the FIB the workers read.
 *
 * Concurrency. Control thread only. The RIB never touches the live FIB or a
 * live next hop except through Fib::publish() and NextHopTable::publish()/
 * release(), which are the RCU publication points (see fib.h, nexthop.h).
 * Mutations mark the RIB dirty; commit() publishes one new FIB for a whole
 * batch of them (a command, a startup config, a route load). */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

struct Route {
    Prefix6 dst;  // canonical
    RouteType type = RouteType::kUnicast;
    RouteOrigin origin = RouteOrigin::kStatic;
    uint32_t metric = kMetricDefault;
    std::optional<Ip6> gateway;
    uint16_t port = kNoPort;     // outgoing port; kNoPort for reject-like types
    uint32_t nh_id = 0;          // the next hop this route holds a reference on
    uint32_t owners = 1;         // connected/local: how many addresses imply this route
    std::optional<Ip6> prefsrc;  // `src ADDR`: wins over source selection while usable
};

/* What `route add` / `route del` ask for. Unset fields are wildcards for del. */
struct RouteSpec {
    Prefix6 dst;
    RouteType type = RouteType::kUnicast;
    std::optional<Ip6> gateway;
    std::optional<uint16_t> port;
    std::optional<uint32_t> metric;
    std::optional<Ip6> prefsrc;  // the caller checks it is one of our addresses
};

/* What the RIB needs to know of a port; the port layer owns ports. */
struct RibPortInfo {
    std::string name;
    Mac mac;
};

class Rib {
  public:
    Rib(NextHopTable& nexthops, Fib& fib);
    ~Rib();

    /* Ports. set_port() before any route uses the port; forget_port() after
     * every route and neighbour on it is gone. */
    void set_port(uint16_t port, RibPortInfo info);
    void forget_port(uint16_t port);
    const RibPortInfo* port_info(uint16_t port) const;

    /* Static routes (control thread). add_static() refuses, with the reason
     * in the status message and no side effect on any table: a prefix with
     * host bits (InvalidArgument, naming the canonical prefix), a gateway
     * that is unspecified, multicast, or link-local without a port, a
     * gateway not on-link through a connected route, a port that disagrees
     * with the gateway's connected route, a gateway or reject-like type
     * mismatch (InvalidArgument), the same prefix and metric already there
     * (AlreadyExists "route exists"). del_static() undoes it: NotFound "no
     * such route" when nothing matches, FailedPrecondition when the words
     * match several routes, and refuses connected/local routes. */
    absl::Status add_static(const RouteSpec& spec);
    absl::Status del_static(const RouteSpec& spec);

    /* Routes implied by addresses (called by the address layer). Each add
     * takes a reference, each del drops one; the route goes with the last. */
    void add_connected(const Prefix6& prefix, uint16_t port);
    void del_connected(const Prefix6& prefix, uint16_t port);
    void add_local(const Ip6& addr, uint16_t port);
    void del_local(const Ip6& addr, uint16_t port);

    /* Link-layer knowledge from neighbour discovery or static entries: a MAC
     * for (port, addr), or nullopt when it is no longer known. Every next hop
     * toward that neighbour is republished at once, and the neighbour gets a
     * /128 FIB entry while its best RIB route is a connected one on `port`. */
    void set_neighbor(uint16_t port, const Ip6& addr, std::optional<Mac> mac);

    /* Publishes a new FIB when anything changed since the last commit. On
     * failure (table full, memory) the workers keep the previous FIB. */
    absl::Status commit();

    /* Longest-prefix match on the RIB itself (best route of the longest
     * matching prefix), for on-link checks and `route get`. */
    const Route* lookup(const Ip6& dst) const;
    /* Every route, ordered by prefix then metric. */
    std::vector<const Route*> routes() const;
    const NextHopTable& nexthops() const { return nexthops_; }
    /* The next hop toward neighbour (port, addr), if one exists. */
    const NextHop* neighbor_nexthop(uint16_t port, const Ip6& addr) const;
    size_t fib_size() const { return fib_.size(); }

  private:
    struct NhKey {
        NhKind kind;
        uint16_t port;
        Ip6 addr;
        friend bool operator==(const NhKey&, const NhKey&) = default;
        template <typename H>
        friend H AbslHashValue(H h, const NhKey& k) {
            return H::combine(std::move(h), k.kind, k.port, k.addr);
        }
    };
    struct NhRef {
        uint32_t id;
        uint32_t refs;
    };

    uint32_t nh_get(NhKind kind, uint16_t port, const Ip6& addr);
    void nh_put(uint32_t id);
    NextHop nh_build(NhKind kind, uint16_t port, const Ip6& addr) const;
    void add_owned(Route r);
    void del_owned(const Prefix6& dst, RouteOrigin origin, uint16_t port);
    std::vector<FibEntry> derive_fib() const;
    absl::Status check_gateway(const RouteSpec& spec, uint16_t* port) const;

    NextHopTable& nexthops_;
    Fib& fib_;
    std::map<Prefix6, std::vector<Route>> routes_;  // each vector sorted by metric
    absl::flat_hash_map<NhKey, NhRef> nh_by_key_;
    absl::flat_hash_map<uint32_t, NhKey> key_by_nh_;
    std::vector<uint32_t> nh_to_release_;  // refcount hit zero; released after the next publish
    absl::flat_hash_map<std::pair<uint16_t, Ip6>, Mac> neigh_l2_;
    absl::flat_hash_map<std::pair<uint16_t, Ip6>, uint32_t> neigh_nh_;  // refs held by neighbours
    absl::flat_hash_map<uint16_t, RibPortInfo> ports_;
    bool dirty_ = false;
};

}  // namespace fp6
