/* The neighbour cache state machine (RFC 4861 7.2, 7.3 and appendix C).
 *
 * A pure state machine on an explicit millisecond clock, like nd/dad.h: the
 * control thread feeds it events (a packet needs a neighbour, the fast path
 * used an entry, an NS, RS, RA or NA arrived, time passed, a command) and
 * carries out the actions it returns, in order: send an NS, send or drop a
 * waiting packet, publish or withdraw a neighbour's MAC. Nothing here sends a
 * packet, reads a clock or touches DPDK, so the unit tests drive it with a
 * fake clock.
 *
 * Entries are keyed by (port, address). States are those of RFC 4861 7.3.2
 * (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE), PERMANENT for static entries
 * (`neigh add`), which received packets never change, and FAILED, a
 * hold-down marker left for kFailedHoldMs after address resolution failed,
 * during which packets for the address are dropped at once instead of
 * starting a new resolution.
 *
 * Packets. A packet waiting for resolution is an opaque handle (the control
 * thread stores an rte_mbuf* there). Every packet given to resolve() comes
 * back exactly once, in a kSend or a kDropPacket action, either from that
 * call or from a later one; the cache never frees one. Call clear() (or
 * forget_port() for every port) before destroying the cache, or the packets
 * still queued are leaked.
 *
 * MAC publication. The MAC the workers should use for (port, address) is the
 * entry's MAC in REACHABLE, STALE, DELAY, PROBE and PERMANENT, and none in
 * INCOMPLETE and FAILED or without an entry. Every change of it yields one
 * kMacKnown (a new or different MAC) or kMacLost action, in the order the
 * changes happen, so applying the actions with Rib::set_neighbor() keeps the
 * workers in step. An action is returned only when the published MAC really
 * changes.
 *
 * Bounds. Per port, at most neigh_max dynamic entries (every state but
 * PERMANENT: static entries are bounded by the operator, and a full table
 * never refuses `neigh add`). When a new dynamic entry would exceed the
 * bound, FAILED markers are evicted first (oldest first), then STALE entries
 * (least recently used first); INCOMPLETE, REACHABLE, DELAY and PROBE entries
 * (being resolved, confirmed or in use) and PERMANENT ones are never evicted,
 * and when nothing is evictable the new entry is refused and counted. New
 * INCOMPLETE entries are also rate limited per port (a token bucket), so a
 * scan of a prefix neither fills the table nor floods the link with NS.
 *
 * Concurrency: control thread only. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ip6.h"

namespace fp6 {

/* RFC 4861 10 protocol constants. */
inline constexpr unsigned kMaxMulticastSolicit = 3;
inline constexpr unsigned kMaxUnicastSolicit = 3;
inline constexpr uint64_t kDelayFirstProbeMs = 5000;
/* How long a FAILED marker holds the address down before it is removed. */
inline constexpr uint64_t kFailedHoldMs = 3000;

enum class NcState : uint8_t {
    kIncomplete,
    kReachable,
    kStale,
    kDelay,
    kProbe,
    kPermanent,
    kFailed
};
/* "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT",
 * "FAILED" (stable: `neigh show` prints them); "?" out of range. */
const char* nc_state_name(NcState s);

/* Why a packet was dropped. Stable snake_case names via nc_drop_name(). */
enum class NcDrop : uint8_t {
    kQueueFull,         // "queue_full": the oldest queued packet made room for a newer one
    kFailed,            // "failed": the address is in FAILED hold-down
    kResolutionFailed,  // "resolution_failed": no answer to MAX_MULTICAST_SOLICIT NS
                        //   (RFC 4861 7.2.2: the caller owes ICMPv6 unreachable code 3)
    kRateLimited,       // "rate_limited": the port's INCOMPLETE creation budget is spent
    kTableFull,         // "table_full": neigh_max reached and nothing evictable
    kRemoved,           // "removed": the entry was deleted (del, flush, forget_port, clear)
    kQueueTotal,        // "queue_total": the router-wide cap on packets awaiting resolution
                        //   (RFC 6583: a scan of an on-link /64 must not hold the mbuf pool)
};
const char* nc_drop_name(NcDrop d);

/* An opaque packet handle; the cache only stores and returns it. */
using NcPacket = void*;

struct NcAction {
    enum Kind : uint8_t {
        kSendNs,      // send an NS for addr: multicast to its solicited-node group, or
                      //   unicast to addr at mac (RFC 4861 7.2.2, 7.3.3)
        kSend,        // send pkt to addr's link-layer address mac
        kDropPacket,  // free pkt; reason says why
        kMacKnown,    // the workers should now use mac for (port, addr)
        kMacLost,     // the workers should no longer use any MAC for (port, addr)
        kRouterLost,  // addr's IsRouter flag went from true to false (RFC 4861 7.2.5)
    } kind;
    uint16_t port = 0;
    Ip6 addr;
    Mac mac;                             // kSend, kMacKnown; kSendNs when !multicast
    bool multicast = false;              // kSendNs
    NcPacket pkt = nullptr;              // kSend, kDropPacket
    NcDrop reason = NcDrop::kQueueFull;  // kDropPacket
};

/* Per-port parameters. */
struct NcParams {
    uint32_t base_reachable_ms = 30000;  // BaseReachableTime (RFC 4861 6.3.2), 1..3600000
    uint32_t retrans_ms = 1000;          // RetransTimer, >= 1
    uint32_t neigh_max = 4096;           // dynamic entries per port, >= 1
    uint32_t queue_len = 3;              // packets queued per INCOMPLETE entry, 1..256
    /* Token bucket for new INCOMPLETE entries: incomplete_rate per second,
     * up to incomplete_burst at once; rate 0 means no limit. Each <= 1e6. */
    uint32_t incomplete_rate = 256;
    uint32_t incomplete_burst = 256;
};

struct NcCounters {
    uint64_t evicted = 0;            // entries evicted to make room
    uint64_t table_full = 0;         // entries refused: neigh_max reached, nothing evictable
    uint64_t rate_limited = 0;       // INCOMPLETE entries refused by the token bucket
    uint64_t queue_drops = 0;        // packets dropped because the queue was full
    uint64_t resolution_failed = 0;  // INCOMPLETE entries that became FAILED
};

/* One entry, as `neigh show` prints it. */
struct NcEntry {
    uint16_t port = 0;
    Ip6 addr;
    std::optional<Mac> mac;  // none in INCOMPLETE and FAILED
    NcState state = NcState::kIncomplete;
    bool router = false;  // IsRouter
    uint64_t age_ms = 0;  // since the entry entered its state
    size_t queued = 0;    // packets waiting for resolution
};

class NeighborCache {
  public:
    /* Packets awaiting resolution, all ports together: far below the mbuf
     * pool (16k by default), whatever neigh_max and queue_len allow. */
    static constexpr size_t kDefaultMaxQueued = 1024;

    explicit NeighborCache(uint64_t seed = std::random_device{}()) : rng_(seed) {}
    void set_max_queued(size_t n) noexcept { max_queued_ = n; }
    size_t queued() const noexcept { return queued_; }
    NeighborCache(const NeighborCache&) = delete;
    NeighborCache& operator=(const NeighborCache&) = delete;

    /* Sets the port's parameters; InvalidArgument when one is out of its
     * range. They apply to timers started and entries created afterwards
     * (entries over a lowered neigh_max are evicted as room is next needed).
     * A port never set uses NcParams{}. */
    absl::Status set_params(uint16_t port, const NcParams& p);
    NcParams params(uint16_t port) const;
    NcCounters counters(uint16_t port) const;

    /* A packet for addr found no usable MAC in the fast path. Without an
     * entry: creates an INCOMPLETE one (rate limit and bound permitting,
     * else the packet is dropped), queues pkt and sends a multicast NS at
     * once. INCOMPLETE: queues pkt, dropping the oldest when the queue is
     * full. FAILED: drops pkt. With a MAC: returns pkt in kSend, and STALE
     * moves to DELAY. pkt comes back exactly once (see the file comment). */
    std::vector<NcAction> resolve(uint16_t port, const Ip6& addr, NcPacket pkt, uint64_t now);

    /* The fast path sent a packet using the entry's MAC: STALE moves to
     * DELAY (RFC 4861 7.3.3); every state records the use for eviction.
     * Unknown entries are ignored. */
    std::vector<NcAction> used(uint16_t port, const Ip6& addr, uint64_t now);

    /* Upper-layer reachability confirmation (RFC 4861 7.3.1): REACHABLE,
     * STALE, DELAY and PROBE become REACHABLE; other states are unchanged. */
    std::vector<NcAction> confirm(uint16_t port, const Ip6& addr, uint64_t now);

    /* A valid NS from src arrived on port, with its Source Link-Layer
     * Address option if any (RFC 4861 7.2.3). Ignored when src is :: or
     * multicast, without slla, or when slla is a multicast or zero MAC. */
    std::vector<NcAction> on_ns(uint16_t port, const Ip6& src, std::optional<Mac> slla,
                                uint64_t now);

    /* A valid RS (from_ra false, RFC 4861 6.2.6) or RA (from_ra true, 6.3.4)
     * from src arrived on port: as on_ns(), and in addition IsRouter of an
     * existing or created entry becomes false (RS) or true (RA), with or
     * without slla. */
    std::vector<NcAction> on_ra_or_rs(uint16_t port, const Ip6& src, std::optional<Mac> slla,
                                      bool from_ra, uint64_t now);

    /* A valid NA for target arrived on port, with its Target Link-Layer
     * Address option if any and its R, S and O flags (RFC 4861 7.2.5).
     * Creates no entry; PERMANENT and FAILED entries are not changed. An NA
     * whose tlla is a multicast or zero MAC is ignored. */
    std::vector<NcAction> on_na(uint16_t port, const Ip6& target, std::optional<Mac> tlla,
                                bool router, bool solicited, bool override_, uint64_t now);

    /* Timers due at `now`: NS retransmissions, resolution failure, REACHABLE
     * expiry, DELAY to PROBE, probe failure, end of FAILED hold-down. */
    std::vector<NcAction> poll(uint64_t now);
    /* The earliest time poll() has something to do, or nullopt. */
    std::optional<uint64_t> next_deadline() const;

    /* Makes (port, addr) a PERMANENT entry with mac and IsRouter = router,
     * replacing any dynamic entry (its queued packets are sent to mac).
     * InvalidArgument for a multicast, unspecified or loopback addr or a
     * multicast or zero mac; the caller refuses its own addresses. Undone
     * by del(). */
    absl::StatusOr<std::vector<NcAction>> add_static(uint16_t port, const Ip6& addr, const Mac& mac,
                                                     bool router, uint64_t now);
    /* Removes the entry, whatever its state; queued packets are dropped.
     * NotFound "no such neighbor: ADDR" when absent. */
    absl::StatusOr<std::vector<NcAction>> del(uint16_t port, const Ip6& addr);
    /* Removes every dynamic entry of the port; PERMANENT ones stay. */
    std::vector<NcAction> flush(uint16_t port);
    /* Removes every entry of the port and forgets its parameters and
     * counters (the port is being deleted). */
    std::vector<NcAction> forget_port(uint16_t port);
    /* forget_port() for every port. */
    std::vector<NcAction> clear();

    /* Every entry, ordered by port then address. */
    std::vector<NcEntry> list(uint64_t now) const;
    /* One entry, or nullopt. */
    std::optional<NcEntry> get(uint16_t port, const Ip6& addr, uint64_t now) const;
    /* Entries of the port: all, and dynamic ones only. */
    size_t size(uint16_t port) const;
    size_t dynamic_size(uint16_t port) const;

  private:
    size_t max_queued_ = kDefaultMaxQueued;
    size_t queued_ = 0;  // packets in every entry's queue
    struct Entry {
        NcState state = NcState::kIncomplete;
        std::optional<Mac> mac;
        bool router = false;
        unsigned probes = 0;          // NS sent in INCOMPLETE or PROBE
        uint64_t entered = 0;         // when the state was entered
        uint64_t last_used = 0;       // creation or last use, for eviction
        uint64_t deadline = 0;        // the state's timer, when it has one
        std::vector<NcPacket> queue;  // INCOMPLETE only
        /* Where the entry is indexed, so that sync() can move it. */
        std::optional<uint64_t> timer_key;
        std::optional<std::pair<uint8_t, uint64_t>> evict_key;
    };
    struct Bucket {
        uint64_t milli_tokens = 0;
        uint64_t last = 0;
        bool started = false;
    };
    struct Port {
        NcParams params;
        NcCounters counters;
        Bucket bucket;
        std::map<Ip6, Entry> entries;
        size_t dynamic = 0;
        /* Evictable entries: (rank, time, addr); FAILED rank 0 by entry
         * time, STALE rank 1 by last use. */
        std::set<std::tuple<uint8_t, uint64_t, Ip6>> evictable;
    };
    using Timer = std::tuple<uint64_t, uint16_t, Ip6>;

    Port& port_state(uint16_t port);
    void sync(uint16_t port, Port& ps, const Ip6& addr, Entry& e);
    void enter(uint16_t port, Port& ps, const Ip6& addr, Entry& e, NcState s, uint64_t now);
    void erase(uint16_t port, Port& ps, std::map<Ip6, Entry>::iterator it, NcDrop why,
               std::vector<NcAction>& out);
    bool make_room(uint16_t port, Port& ps, std::vector<NcAction>& out);
    bool bucket_has_token(Port& ps, uint64_t now);
    Entry& create(uint16_t port, Port& ps, const Ip6& addr, NcState s, uint64_t now);
    void flush_queue(uint16_t port, Port& ps, const Ip6& addr, Entry& e, uint64_t now,
                     std::vector<NcAction>& out);
    void set_router(uint16_t port, const Ip6& addr, Entry& e, bool router,
                    std::vector<NcAction>& out);
    std::vector<NcAction> learn(uint16_t port, const Ip6& src, std::optional<Mac> slla,
                                std::optional<bool> router, uint64_t now);
    NcEntry info(uint16_t port, const Ip6& addr, const Entry& e, uint64_t now) const;

    std::map<uint16_t, Port> ports_;
    std::set<Timer> timers_;
    std::mt19937_64 rng_;
};

}  // namespace fp6
