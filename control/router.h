/* The router's state as the control thread owns it: ports, addresses,
 * routes, neighbours, and the tables published to the workers. The control
 * thread is the only writer of everything here; each mutation ends with
 * commit(), which publishes what changed (FIB, next hops, per-port address
 * tables) under RCU. */
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "control/api/protocol.h"
#include "control/icmp6.h"
#include "control/reasm.h"
#include "control/redirect.h"
#include "dataplane/dataplane.h"
#include "nd/dad.h"
#include "nd/ncache.h"
#include "nd/ra.h"
#include "rib/addr.h"
#include "rib/fib.h"
#include "rib/nexthop.h"
#include "rib/rib.h"
#include "rib/srcsel.h"

namespace fp6 {

class HostPath;
struct MldChange;

struct RouterConfig {
    DataplaneConfig dataplane;
    uint32_t max_nexthops = 1u << 20;
    /* FIB groups (1 KiB each, reserved, backed when used): about 350k hold
     * a million Internet-like prefixes; "table full" past this. */
    uint32_t fib_groups = Lpm6::kDefaultMaxGroups;
    /* Of those, how many to back with memory at start (Lpm6::populate):
     * fp6d's --fib-prefault; 0 (tests) backs each when it is first used. */
    uint32_t fib_prefault = 0;
    /* How the workers' FIB lookups walk the table; one the CPU can run. */
    Lpm6::Walk fib_walk = Lpm6::Walk::kScalar;
    /* Milliseconds on a monotonic clock; tests replace it with a fake one. */
    std::function<uint64_t()> clock;
    /* The --config file fp6d started with (absolute), or empty: where
     * `config save` writes when it is given no FILE. */
    std::string config_path;
};

/* Control-thread counters of what arrived over the punt ring and what the
 * control thread sent. */
struct ControlStats {
    uint64_t punt_received = 0;
    uint64_t punt_unhandled = 0;  // nothing in fp6 answers this kind of packet yet
    uint64_t ns_sent = 0, na_sent = 0, echo_replies = 0;
    uint64_t nd_drops[32] = {};  // indexed by NdDrop
    uint64_t no_mbuf = 0;
    uint64_t src_route = 0;           // a route's `src` chose the source
    uint64_t src_route_unusable = 0;  // a route's `src` was tentative, duplicate or gone
    uint64_t src_none = 0;            // "no source address"
    uint64_t src_not_ready = 0;       // "address not ready"
    uint64_t icmp_errors_sent = 0;
    uint64_t icmp_errors_suppressed = 0;   // the port's token bucket said no
    uint64_t icmp_errors_not_allowed = 0;  // RFC 4443 2.4 (e): never answered
    uint64_t icmp_no_source = 0;           // no source address for the error
    uint64_t echo_suppressed = 0;
    uint64_t local_discarded = 0;      // RFC 8200 4: headers say discard silently
    uint64_t resolve_received = 0;     // packets handed over for neighbour resolution
    uint64_t resolved_sent = 0;        // of those, sent once the neighbour answered
    uint64_t resolve_dropped[8] = {};  // indexed by NcDrop
    uint64_t ns_no_source = 0;         // no usable address on the port to solicit from
    uint64_t mld_reports_sent = 0;
    uint64_t mld_queries = 0;
    uint64_t ra_sent = 0;
    uint64_t redirects_sent = 0;
    uint64_t redirects_skipped = 0;  // no link-local target or source, or rate-limited
    uint64_t ra_no_linklocal = 0;    // an RA was due but the port has no usable link-local
};

/* Per-port settings of neighbour discovery, and whether the port is
 * operational (admin up and link up), which is when its addresses work. */
struct PortNd {
    DadParams dad;
    bool no_linklocal = false;
    bool strict_source = false;  // source selection only from this port's addresses
    bool oper = false;
    uint8_t icmp_hop_limit = 64;  // hop limit of the ICMPv6 errors fp6 sends
    TokenBucket icmp_errors{kIcmpDefaultRate, kIcmpDefaultBurst};  // RFC 4443 2.4 (f)
    TokenBucket echo_replies{kIcmpDefaultRate * 10, kIcmpDefaultBurst * 10};
    TokenBucket mld_answers{1, 2};  // reports in answer to queries: at most 1/s
    TokenBucket redirects{kIcmpDefaultRate, kIcmpDefaultBurst};  // RFC 4861 8.2 rate limit
    RaConfig ra;                                                 // `port set NAME ra ...`
    RaScheduler ra_sched;
};

class Router {
  public:
    explicit Router(RouterConfig cfg);
    ~Router();

    /* Creates the data plane (mempool, rings). */
    absl::Status init();
    Dataplane& dataplane() { return *dp_; }

    /* Runs one request of the control protocol; the reply's data, or the
     * reason it was refused. A refused request leaves every table as it was.
     * With `sliced`, a long route operation (route load, route flush) may
     * return after its first slice: the data is then a progress report and
     * take_job() has the rest. Without, it runs to its end here. */
    absl::StatusOr<nlohmann::json> execute(const Request& req, bool sliced = false);

    /* Periodic work and punted packets (called from the event loop). */
    void poll_links();
    void handle_punts();
    /* Timers of neighbour discovery: the event loop arms a timer for
     * next_deadline() (CLOCK_MONOTONIC, ms) and calls on_timer() then. */
    std::optional<uint64_t> next_deadline() const;
    void on_timer();
    uint64_t now_ms() const { return cfg_.clock(); }

    /* The source fp6 uses for a packet it originates toward `dst` out of
     * `oif` (kNoPort when unknown): the route's `src` while that address is
     * usable, else RFC 6724 section 5 over our usable addresses, cached per
     * (dst, oif) and made stale by the source generation. NotFound "no
     * source address" or Unavailable "address not ready". */
    absl::StatusOr<Ip6> select_source(const Ip6& dst, uint16_t oif, const Route* route = nullptr);

    /* The exception path to the host's stack (control/host.h): an fd the
     * event loop watches, readable when a TUN has a packet from the kernel,
     * and what reads and routes those packets. */
    int host_fd() const;
    void handle_host();

    /* Hands a frame to the local-delivery path as if a worker had punted it
     * (m->port says where it arrived). For tests. */
    void inject_local(rte_mbuf* m) { handle_local(m); }
    /* Stops every port (shutdown); workers must already be stopped. */
    void shutdown();

  private:
    using Handler = absl::StatusOr<nlohmann::json> (Router::*)(const nlohmann::json&);
    static const std::vector<std::pair<std::string_view, Handler>>& handlers();

    absl::StatusOr<nlohmann::json> port_add(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> port_set(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> port_del(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> port_show(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> addr_add(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> addr_del(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> addr_show(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_add(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_del(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_append(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_replace(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_flush(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_load(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_show(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> route_get(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> neigh_add(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> neigh_del(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> neigh_show(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> neigh_flush(const nlohmann::json& a);

    /* Neighbour discovery (control/neighbor.cc). */
    void resolve_punt(rte_mbuf* m);
    void apply_nc(const std::vector<NcAction>& actions);
    void send_ns_resolve(uint16_t port, const Ip6& target, std::optional<Mac> unicast_to);
    /* Sends m (an Ethernet frame) to its destination's next hop from the
     * FIB, now or once the neighbour is resolved; false, m untouched, when
     * the FIB has no neighbour or on-link route up for it. */
    bool send_via_fib(rte_mbuf* m);
    /* Fills in the MACs and sends; a transit packet's hop limit is
     * decremented, one the router originates (kHostOrigin) is left alone. */
    void send_resolved(rte_mbuf* m, uint16_t port, const Mac& mac);
    /* m->hash.usr of a packet the control thread sends as the router's own
     * through send_via_fib() or the neighbour cache (never a worker's tag:
     * kResolve with a code). */
    static constexpr uint32_t kHostOrigin = PuntReason{PuntReason::kResolve, 1, 0}.encode();
    /* Moves STALE entries the workers used to DELAY (RFC 4861 7.3.3). */
    void poll_neighbor_use();
    void commit_if_dirty();
    absl::StatusOr<nlohmann::json> stats_show(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> stats_reset(const nlohmann::json& a);
    /* `show running-config` and `config save [FILE]` (control/running_config.cc). */
    absl::StatusOr<nlohmann::json> config_show(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> config_save(const nlohmann::json& a);
    std::string running_config() const;
    absl::StatusOr<nlohmann::json> policy_show(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> policy_add(const nlohmann::json& a);
    absl::StatusOr<nlohmann::json> policy_del(const nlohmann::json& a);
    uint64_t src_generation() const;
    void expire_addresses();

    absl::StatusOr<uint16_t> port_by_name(const nlohmann::json& a, const char* key) const;
    enum class RouteVerb { kAdd, kAppend, kReplace };
    absl::StatusOr<RouteSpec> route_spec(const nlohmann::json& a, bool for_add) const;
    absl::StatusOr<RoutePath> path_of(const nlohmann::json& a, bool recursive) const;
    /* Words of the shape "PREFIX via GW [dev NAME]" as a spec, or nullopt
     * for anything else (or anything wrong in it). */
    std::optional<RouteSpec> simple_route_line(std::span<const std::string_view> words);
    /* A route load line of a common shape ("PREFIX via GW [dev NAME]", or
     * that after "route add" or "route del") applied without the command
     * grammar: its result, or nullopt for any other line. */
    std::optional<absl::Status> quick_load_line(std::string_view line);
    /* Applies one static route change and commits it (see Rib::commit()). */
    absl::Status route_change(const RouteSpec& spec, RouteVerb verb, bool grace);
    nlohmann::json route_json(const Route& r) const;
    void set_port_up(uint16_t port, bool up);
    /* Re-evaluates admin && link: addresses, DAD and routes follow. */
    void update_oper(uint16_t port);
    void start_dad(uint16_t port, const Ip6& addr);
    void apply_dad(const std::vector<DadAction>& actions);
    void program_mcast(uint16_t port);
    /* RFC 3810: reports every group the port listens to (on joining, and
     * in answer to a query). */
    void send_mld_report(uint16_t port);
    /* Router advertisements (RFC 4861 6.2): carries out the scheduler's actions. */
    void apply_ra(uint16_t port, const std::vector<RaAction>& actions);
    absl::Status set_ra(uint16_t port, const nlohmann::json& a);

    /* Packets addressed to the router (control/local.cc). */
    void handle_local(rte_mbuf* m);
    void handle_nd(rte_mbuf* m, uint16_t port, const uint8_t* ip6, size_t len);
    void handle_echo(rte_mbuf* m, uint16_t port, const uint8_t* ip6, size_t len);
    /* Sends the ICMPv6 error `type`/`code`/`param` about the packet in m
     * (its Ethernet frame, received on m->port), if RFC 4443 2.4 allows it
     * and the port's bucket has a token. Frees m. */
    void send_icmp_error(rte_mbuf* m, uint8_t type, uint8_t code, uint32_t param);
    /* RFC 4861 8.2: a Redirect to the source of the packet copied in m. */
    void send_redirect(rte_mbuf* m);
    /* The host path (control/host_router.cc): hands m (for the router,
     * received on m->port) to that port's TUN when it has one (true: m is
     * consumed, sent or counted as dropped); brings the port's TUN in line
     * with the port; opens the TUN `port set NAME host-if on|IFNAME` asks
     * for. */
    bool to_host(rte_mbuf* m);
    /* The end of handle_local/handle_datagram: what local_verdict() says
     * for a packet fp6 did not take itself (ip6, len: its first segment). */
    void deliver_local(rte_mbuf* m, const ParamProblem& pp, const uint8_t* ip6, size_t len);
    void from_host(uint16_t port, rte_mbuf* m);
    /* The groups the host's sockets listen to on port's TUN, as the
     * kernel's MLD messages into it announce them: joined on the port (the
     * workers then punt their traffic, which goes up the TUN). */
    void host_listens(uint16_t port, const std::vector<MldChange>& changes);
    /* Every group the port listens to: its addresses' and the host's. */
    std::vector<Ip6> port_groups(uint16_t port) const;
    void sync_host(uint16_t port);
    absl::Status open_host_if(uint16_t port, const std::string& value);
    nlohmann::json host_json() const;
    /* Fragments addressed to the router (RFC 8200 5). */
    void apply_reasm(const ReasmAction& a);
    void handle_datagram(rte_mbuf* m);
    void send_ns_probe(uint16_t port, const Ip6& target, uint64_t nonce);
    void send_na(uint16_t port, const Mac& dst_mac, const Ip6& dst, const Ip6& target,
                 bool solicited);
    /* Sends an IPv6 packet of len bytes (already built in buf) to dst_mac. */
    void send_ip6(uint16_t port, const Mac& dst_mac, const uint8_t* buf, size_t len);
    /* Publishes the FIB if routes changed; on failure undo() is run and the
     * FIB published again, so the refused change leaves no trace. */
    absl::Status commit(const std::function<void()>& undo);
    void publish_port_addrs(uint16_t port);
    WorkerStats since_reset(size_t worker) const;
    bool port_routes_up(uint16_t port) const;
    /* What the workers' FIB answers for dst; for an ECMP group, the member
     * the flow with hash `flow` goes to (see flow_hash()). */
    const NextHop* fib_nexthop(const Ip6& dst, uint32_t flow) const;

  public:
    /* After execute(): the rest of a reply too long to build at once (route
     * show of a large table), as a producer of further array chunks, each
     * built when called; nullopt ends it. The server calls it once per
     * event-loop turn. Empty when the reply was whole. */
    using ReplyStream = std::function<std::optional<nlohmann::json>()>;
    ReplyStream take_stream() { return std::exchange(stream_, nullptr); }

    /* After execute(req, true): the rest of a long route operation (route
     * load, route flush), run in slices of about kJobSliceMs so that the
     * control thread serves other clients and its timers between them. Each
     * call runs one slice and returns a progress report (done false), or the
     * final reply or error (done true). The caller must call it until done
     * (the operation's end commits it and frees what it retired). One such
     * operation runs at a time: another is refused meanwhile. Empty when
     * execute() finished the work itself. */
    static constexpr uint64_t kJobSliceMs = 10;
    struct JobStep {
        bool done = false;
        absl::StatusOr<nlohmann::json> data;
    };
    using Job = std::function<JobStep()>;
    Job take_job() { return std::exchange(job_, nullptr); }

  private:
    ReplyStream stream_;
    Job job_;
    /* route load / route flush in slices (see take_job()). */
    struct LoadRun;
    struct FlushRun;
    JobStep load_slice(LoadRun& run);
    JobStep flush_slice(FlushRun& run);
    absl::Status load_line(std::vector<std::string> words);
    std::string job_running_;  // what the running long operation is ("" when none)
    /* The last gateway text simple_route_line() parsed and its address: a
     * route load names the same few gateways line after line. */
    std::string last_gw_text_;
    Ip6 last_gw_;

    RouterConfig cfg_;
    std::unique_ptr<Tables> tables_;
    NextHopTable nexthops_;
    Fib fib_;
    Rib rib_;
    AddrTable addrs_;
    NeighborCache ncache_;
    std::unique_ptr<Reassembler> reasm_;
    bool rib_dirty_ = false;  // neighbour MACs changed: commit once per batch
    /* Last fast-path use stamp seen per neighbour, and on which NextHop. */
    struct UseSeen {
        const NextHop* nh;
        uint32_t stamp;
    };
    std::map<std::pair<uint16_t, Ip6>, UseSeen> nh_use_seen_;
    std::unique_ptr<Dataplane> dp_;
    ControlStats ctl_stats_;
    std::vector<WorkerStats> stats_baseline_;  // worker counters at the last stats reset
    Dad dad_;
    PolicyTable policy_;
    SrcCache src_cache_{4096};
    uint64_t src_epoch_ = 0;  // bumped by settings that change selection (strict-source)
    std::map<uint16_t, PortNd> port_nd_;
    std::unique_ptr<HostPath> host_;
    std::map<uint16_t, std::vector<Ip6>> host_groups_;  // see host_listens()
};

}  // namespace fp6
