#include "nd/ncache.h"

#include <algorithm>
#include <string>

namespace fp6 {

namespace {

bool has_timer(NcState s) {
    switch (s) {
        case NcState::kIncomplete:
        case NcState::kReachable:
        case NcState::kDelay:
        case NcState::kProbe:
        case NcState::kFailed:
            return true;
        case NcState::kStale:
        case NcState::kPermanent:
            return false;
    }
    return false;
}

/* A link-layer option fp6 will not cache for a unicast neighbour. */
bool bad_lladdr(const std::optional<Mac>& m) {
    return m && (m->is_multicast() || m->is_zero());
}

NcAction send_ns(uint16_t port, const Ip6& addr, std::optional<Mac> unicast_to) {
    NcAction a{NcAction::kSendNs, port, addr};
    if (unicast_to)
        a.mac = *unicast_to;
    else
        a.multicast = true;
    return a;
}

NcAction send(uint16_t port, const Ip6& addr, const Mac& mac, NcPacket pkt) {
    NcAction a{NcAction::kSend, port, addr, mac};
    a.pkt = pkt;
    return a;
}

NcAction drop(uint16_t port, const Ip6& addr, NcPacket pkt, NcDrop why) {
    NcAction a{NcAction::kDropPacket, port, addr};
    a.pkt = pkt;
    a.reason = why;
    return a;
}

}  // namespace

const char* nc_state_name(NcState s) {
    switch (s) {
        case NcState::kIncomplete:
            return "INCOMPLETE";
        case NcState::kReachable:
            return "REACHABLE";
        case NcState::kStale:
            return "STALE";
        case NcState::kDelay:
            return "DELAY";
        case NcState::kProbe:
            return "PROBE";
        case NcState::kPermanent:
            return "PERMANENT";
        case NcState::kFailed:
            return "FAILED";
    }
    return "?";
}

const char* nc_drop_name(NcDrop d) {
    switch (d) {
        case NcDrop::kQueueFull:
            return "queue_full";
        case NcDrop::kFailed:
            return "failed";
        case NcDrop::kResolutionFailed:
            return "resolution_failed";
        case NcDrop::kRateLimited:
            return "rate_limited";
        case NcDrop::kTableFull:
            return "table_full";
        case NcDrop::kRemoved:
            return "removed";
        case NcDrop::kQueueTotal:
            return "queue_total";
    }
    return "?";
}

absl::Status NeighborCache::set_params(uint16_t port, const NcParams& p) {
    // RFC 4861 6.3.2 / 10: MAX_REACHABLE_TIME is 3,600,000 ms.
    if (p.base_reachable_ms < 1 || p.base_reachable_ms > 3600000)
        return absl::InvalidArgumentError("base reachable time must be 1..3600000 ms");
    if (p.retrans_ms < 1)
        return absl::InvalidArgumentError("retransmit time must be at least 1 ms");
    if (p.neigh_max < 1)
        return absl::InvalidArgumentError("neighbour table size must be at least 1");
    // RFC 4861 7.2.2: the queue MUST hold at least one packet.
    if (p.queue_len < 1 || p.queue_len > 256)
        return absl::InvalidArgumentError("neighbour queue length must be 1..256");
    if (p.incomplete_rate > 1000000 || p.incomplete_burst > 1000000)
        return absl::InvalidArgumentError("resolution rate and burst must be at most 1000000");
    if (p.incomplete_rate != 0 && p.incomplete_burst < 1)
        return absl::InvalidArgumentError("resolution burst must be at least 1");
    port_state(port).params = p;
    return absl::OkStatus();
}

NcParams NeighborCache::params(uint16_t port) const {
    auto it = ports_.find(port);
    return it == ports_.end() ? NcParams{} : it->second.params;
}

NcCounters NeighborCache::counters(uint16_t port) const {
    auto it = ports_.find(port);
    return it == ports_.end() ? NcCounters{} : it->second.counters;
}

NeighborCache::Port& NeighborCache::port_state(uint16_t port) {
    return ports_[port];
}

/* Moves the entry's index records (timer, eviction order) to where its
 * state, deadline and last use say they belong. Called after every change
 * of those fields. */
void NeighborCache::sync(uint16_t port, Port& ps, const Ip6& addr, Entry& e) {
    std::optional<uint64_t> timer;
    if (has_timer(e.state))
        timer = e.deadline;
    if (timer != e.timer_key) {
        if (e.timer_key)
            timers_.erase({*e.timer_key, port, addr});
        if (timer)
            timers_.insert({*timer, port, addr});
        e.timer_key = timer;
    }
    std::optional<std::pair<uint8_t, uint64_t>> evict;
    if (e.state == NcState::kFailed)
        evict = {0, e.entered};
    else if (e.state == NcState::kStale)
        evict = {1, e.last_used};
    if (evict != e.evict_key) {
        if (e.evict_key)
            ps.evictable.erase({e.evict_key->first, e.evict_key->second, addr});
        if (evict)
            ps.evictable.insert({evict->first, evict->second, addr});
        e.evict_key = evict;
    }
}

/* Puts the entry in state s at `now` and starts that state's timer. The
 * caller sets probes. */
void NeighborCache::enter(uint16_t port, Port& ps, const Ip6& addr, Entry& e, NcState s,
                          uint64_t now) {
    const NcParams& p = ps.params;
    e.state = s;
    e.entered = now;
    switch (s) {
        case NcState::kIncomplete:
        case NcState::kProbe:
            e.deadline = now + p.retrans_ms;
            break;
        case NcState::kReachable: {
            // RFC 4861 6.3.2: ReachableTime is uniformly random between
            // MIN_RANDOM_FACTOR (0.5) and MAX_RANDOM_FACTOR (1.5) times
            // BaseReachableTime; drawn afresh on each confirmation.
            uint64_t base = p.base_reachable_ms;
            e.deadline = now + base / 2 + rng_() % (base + 1);
            break;
        }
        case NcState::kDelay:
            e.deadline = now + kDelayFirstProbeMs;  // RFC 4861 7.3.3
            break;
        case NcState::kFailed:
            e.deadline = now + kFailedHoldMs;
            break;
        case NcState::kStale:
        case NcState::kPermanent:
            break;
    }
    sync(port, ps, addr, e);
}

void NeighborCache::erase(uint16_t port, Port& ps, std::map<Ip6, Entry>::iterator it, NcDrop why,
                          std::vector<NcAction>& out) {
    const Ip6 addr = it->first;
    Entry& e = it->second;
    queued_ -= e.queue.size();
    for (NcPacket pkt : e.queue)
        out.push_back(drop(port, addr, pkt, why));
    if (e.mac)
        out.push_back({NcAction::kMacLost, port, addr});
    if (e.timer_key)
        timers_.erase({*e.timer_key, port, addr});
    if (e.evict_key)
        ps.evictable.erase({e.evict_key->first, e.evict_key->second, addr});
    if (e.state != NcState::kPermanent)
        ps.dynamic--;
    ps.entries.erase(it);
}

/* Makes room for one more dynamic entry: evicts FAILED markers, then STALE
 * entries least recently used first. False (counted) when the table is full
 * of entries that may not be evicted. */
bool NeighborCache::make_room(uint16_t port, Port& ps, std::vector<NcAction>& out) {
    while (ps.dynamic >= ps.params.neigh_max) {
        if (ps.evictable.empty()) {
            ps.counters.table_full++;
            return false;
        }
        const Ip6 victim = std::get<2>(*ps.evictable.begin());
        erase(port, ps, ps.entries.find(victim), NcDrop::kRemoved, out);
        ps.counters.evicted++;
    }
    return true;
}

/* Refills the port's token bucket up to `now` and tells whether a token is
 * there; the caller takes it. The bucket starts full. */
bool NeighborCache::bucket_has_token(Port& ps, uint64_t now) {
    const NcParams& p = ps.params;
    if (p.incomplete_rate == 0)
        return true;
    const uint64_t cap = uint64_t(p.incomplete_burst) * 1000;
    Bucket& b = ps.bucket;
    if (!b.started) {
        b.started = true;
        b.milli_tokens = cap;
        b.last = now;
    } else if (now > b.last) {
        uint64_t elapsed = now - b.last;
        // rate tokens per second is rate milli-tokens per ms.
        uint64_t add = elapsed >= cap ? cap : elapsed * p.incomplete_rate;
        b.milli_tokens += add;
        b.last = now;
    }
    b.milli_tokens = std::min(b.milli_tokens, cap);
    return b.milli_tokens >= 1000;
}

NeighborCache::Entry& NeighborCache::create(uint16_t port, Port& ps, const Ip6& addr, NcState s,
                                            uint64_t now) {
    Entry& e = ps.entries[addr];
    e.last_used = now;
    if (s != NcState::kPermanent)
        ps.dynamic++;
    enter(port, ps, addr, e, s, now);
    return e;
}

/* Sends the packets queued for resolution to the entry's MAC, oldest first
 * (RFC 4861 7.2.5, 7.3.3). */
void NeighborCache::flush_queue(uint16_t port, Port& ps, const Ip6& addr, Entry& e, uint64_t now,
                                std::vector<NcAction>& out) {
    if (e.queue.empty())
        return;
    queued_ -= e.queue.size();
    for (NcPacket pkt : e.queue)
        out.push_back(send(port, addr, *e.mac, pkt));
    e.queue.clear();
    e.last_used = now;
    // RFC 4861 7.3.3: the first packet sent to a STALE neighbour moves it
    // to DELAY, so that its reachability gets verified.
    if (e.state == NcState::kStale)
        enter(port, ps, addr, e, NcState::kDelay, now);
    else
        sync(port, ps, addr, e);
}

void NeighborCache::set_router(uint16_t port, const Ip6& addr, Entry& e, bool router,
                               std::vector<NcAction>& out) {
    // RFC 4861 7.2.5: a router that stops being one must leave the default
    // router list; fp6 keeps none, so it only tells the caller.
    if (e.router && !router)
        out.push_back({NcAction::kRouterLost, port, addr});
    e.router = router;
}

std::vector<NcAction> NeighborCache::resolve(uint16_t port, const Ip6& addr, NcPacket pkt,
                                             uint64_t now) {
    Port& ps = port_state(port);
    std::vector<NcAction> out;
    auto it = ps.entries.find(addr);
    if (it == ps.entries.end()) {
        if (!bucket_has_token(ps, now)) {
            ps.counters.rate_limited++;
            out.push_back(drop(port, addr, pkt, NcDrop::kRateLimited));
            return out;
        }
        if (!make_room(port, ps, out)) {
            out.push_back(drop(port, addr, pkt, NcDrop::kTableFull));
            return out;
        }
        if (ps.params.incomplete_rate != 0)
            ps.bucket.milli_tokens -= 1000;
        // RFC 4861 7.2.2 and appendix C (no entry, packet to send): create
        // INCOMPLETE, queue the packet, send a multicast NS, start the
        // retransmit timer.
        Entry& e = create(port, ps, addr, NcState::kIncomplete, now);
        e.probes = 1;
        if (queued_ < max_queued_) {
            e.queue.push_back(pkt);
            queued_++;
        } else {
            out.push_back(drop(port, addr, pkt, NcDrop::kQueueTotal));
            ps.counters.queue_drops++;
        }
        out.push_back(send_ns(port, addr, std::nullopt));
        return out;
    }
    Entry& e = it->second;
    e.last_used = now;
    switch (e.state) {
        case NcState::kIncomplete:
            // RFC 4861 7.2.2: when the queue overflows, the new arrival replaces
            // the oldest packet.
            while (!e.queue.empty() && e.queue.size() >= ps.params.queue_len) {
                out.push_back(drop(port, addr, e.queue.front(), NcDrop::kQueueFull));
                e.queue.erase(e.queue.begin());
                queued_--;
                ps.counters.queue_drops++;
            }
            if (queued_ >= max_queued_) {
                out.push_back(drop(port, addr, pkt, NcDrop::kQueueTotal));
                ps.counters.queue_drops++;
                break;
            }
            e.queue.push_back(pkt);
            queued_++;
            sync(port, ps, addr, e);
            break;
        case NcState::kFailed:
            out.push_back(drop(port, addr, pkt, NcDrop::kFailed));
            sync(port, ps, addr, e);
            break;
        case NcState::kStale:
            // RFC 4861 7.3.3 and appendix C (STALE, sending packet): DELAY.
            out.push_back(send(port, addr, *e.mac, pkt));
            enter(port, ps, addr, e, NcState::kDelay, now);
            break;
        case NcState::kReachable:
        case NcState::kDelay:
        case NcState::kProbe:
        case NcState::kPermanent:
            // Appendix C: sending a packet changes none of these states.
            out.push_back(send(port, addr, *e.mac, pkt));
            sync(port, ps, addr, e);
            break;
    }
    return out;
}

std::vector<NcAction> NeighborCache::used(uint16_t port, const Ip6& addr, uint64_t now) {
    auto pit = ports_.find(port);
    if (pit == ports_.end())
        return {};
    Port& ps = pit->second;
    auto it = ps.entries.find(addr);
    if (it == ps.entries.end())
        return {};
    Entry& e = it->second;
    e.last_used = now;
    if (e.state == NcState::kStale)
        enter(port, ps, addr, e, NcState::kDelay, now);  // RFC 4861 7.3.3
    else
        sync(port, ps, addr, e);
    return {};
}

std::vector<NcAction> NeighborCache::confirm(uint16_t port, const Ip6& addr, uint64_t now) {
    auto pit = ports_.find(port);
    if (pit == ports_.end())
        return {};
    Port& ps = pit->second;
    auto it = ps.entries.find(addr);
    if (it == ps.entries.end())
        return {};
    Entry& e = it->second;
    switch (e.state) {
        case NcState::kReachable:
        case NcState::kStale:
        case NcState::kDelay:
        case NcState::kProbe:
            // RFC 4861 7.3.1 and appendix C (!INCOMPLETE, upper-layer
            // reachability confirmation): REACHABLE.
            e.probes = 0;
            enter(port, ps, addr, e, NcState::kReachable, now);
            break;
        case NcState::kIncomplete:
        case NcState::kPermanent:
        case NcState::kFailed:
            break;
    }
    return {};
}

std::vector<NcAction> NeighborCache::on_ns(uint16_t port, const Ip6& src, std::optional<Mac> slla,
                                           uint64_t now) {
    return learn(port, src, slla, std::nullopt, now);
}

std::vector<NcAction> NeighborCache::on_ra_or_rs(uint16_t port, const Ip6& src,
                                                 std::optional<Mac> slla, bool from_ra,
                                                 uint64_t now) {
    return learn(port, src, slla, from_ra, now);
}

/* NS (router nullopt), RS (false) and RA (true) from src carrying slla:
 * RFC 4861 7.2.3, 6.2.6, 6.3.4, 7.3.3 and the second table of appendix C. */
std::vector<NcAction> NeighborCache::learn(uint16_t port, const Ip6& src, std::optional<Mac> slla,
                                           std::optional<bool> router, uint64_t now) {
    if (src.is_unspecified() || src.is_multicast() || bad_lladdr(slla))
        return {};
    std::vector<NcAction> out;
    auto pit = ports_.find(port);
    if (!slla && pit == ports_.end())
        return out;
    Port& ps = port_state(port);
    auto it = ps.entries.find(src);
    const bool absent = it == ps.entries.end();
    if (absent || it->second.state == NcState::kFailed) {
        // No entry (a FAILED marker is none): create one only with a
        // link-layer address, STALE (7.2.3, 6.2.6, 6.3.4). IsRouter is false
        // for NS (7.2.3) and RS (6.2.6), true for RA (6.3.4).
        if (!slla)
            return out;
        if (absent && !make_room(port, ps, out))
            return out;
        Entry& e = absent ? ps.entries[src] : it->second;
        if (absent)
            ps.dynamic++;
        e.mac = slla;
        e.router = router.value_or(false);
        e.probes = 0;
        e.last_used = now;
        enter(port, ps, src, e, NcState::kStale, now);
        out.push_back({NcAction::kMacKnown, port, src, *slla});
        return out;
    }
    Entry& e = it->second;
    switch (e.state) {
        case NcState::kPermanent:
        case NcState::kFailed:
            return out;  // static entries are never changed by packets
        case NcState::kIncomplete:
            // Appendix C: INCOMPLETE, NS/RS without a link-layer address:
            // unchanged (6.3.4 still makes an RA's sender a router).
            if (!slla) {
                if (router)
                    set_router(port, src, e, *router, out);
                return out;
            }
            // Appendix C: INCOMPLETE, NS/RS/RA: record the link-layer address,
            // STALE, send the queued packets (which makes it DELAY, 7.3.3).
            e.mac = slla;
            e.probes = 0;
            enter(port, ps, src, e, NcState::kStale, now);
            flush_queue(port, ps, src, e, now, out);
            out.push_back({NcAction::kMacKnown, port, src, *slla});
            if (router)
                set_router(port, src, e, *router, out);
            return out;
        case NcState::kReachable:
        case NcState::kStale:
        case NcState::kDelay:
        case NcState::kProbe:
            // 7.2.3, 6.2.6, 6.3.4: a different link-layer address replaces the
            // cached one and the entry becomes STALE; the same one changes
            // nothing.
            if (slla && *slla != *e.mac) {
                e.mac = slla;
                e.probes = 0;
                enter(port, ps, src, e, NcState::kStale, now);
                out.push_back({NcAction::kMacKnown, port, src, *slla});
            }
            if (router)
                set_router(port, src, e, *router, out);
            return out;
    }
    return out;
}

std::vector<NcAction> NeighborCache::on_na(uint16_t port, const Ip6& target,
                                           std::optional<Mac> tlla, bool router, bool solicited,
                                           bool override_, uint64_t now) {
    std::vector<NcAction> out;
    if (bad_lladdr(tlla))
        return out;
    auto pit = ports_.find(port);
    if (pit == ports_.end())
        return out;
    Port& ps = pit->second;
    auto it = ps.entries.find(target);
    // 7.2.5: no entry, the advertisement is unsolicited: discard it.
    if (it == ps.entries.end())
        return out;
    Entry& e = it->second;
    switch (e.state) {
        case NcState::kPermanent:
        case NcState::kFailed:
            return out;
        case NcState::kIncomplete:
            // 7.2.5: without a Target Link-Layer Address, silently discarded.
            if (!tlla)
                return out;
            // 7.2.5: record the address; REACHABLE if Solicited, else STALE;
            // IsRouter from R; send the queued packets.
            e.mac = tlla;
            e.probes = 0;
            enter(port, ps, target, e, solicited ? NcState::kReachable : NcState::kStale, now);
            flush_queue(port, ps, target, e, now, out);
            out.push_back({NcAction::kMacKnown, port, target, *tlla});
            set_router(port, target, e, router, out);
            return out;
        case NcState::kReachable:
        case NcState::kStale:
        case NcState::kDelay:
        case NcState::kProbe:
            break;
    }
    const bool differs = tlla && *tlla != *e.mac;
    if (!override_ && differs) {
        // 7.2.5 I.a: REACHABLE becomes STALE, nothing else is updated.
        // I.b: other states ignore the advertisement.
        if (e.state == NcState::kReachable)
            enter(port, ps, target, e, NcState::kStale, now);
        return out;
    }
    // 7.2.5 II: Override set, the same address, or none supplied.
    if (differs)
        e.mac = tlla;
    if (solicited) {
        e.probes = 0;
        enter(port, ps, target, e, NcState::kReachable, now);
    } else if (differs) {
        e.probes = 0;
        enter(port, ps, target, e, NcState::kStale, now);
    }
    if (differs)
        out.push_back({NcAction::kMacKnown, port, target, *tlla});
    set_router(port, target, e, router, out);
    return out;
}

std::vector<NcAction> NeighborCache::poll(uint64_t now) {
    std::vector<NcAction> out;
    while (!timers_.empty()) {
        const auto [when, port, addr] = *timers_.begin();
        if (when > now)
            break;
        Port& ps = ports_.at(port);
        auto it = ps.entries.find(addr);
        Entry& e = it->second;
        switch (e.state) {
            case NcState::kIncomplete:
                if (e.probes < kMaxMulticastSolicit) {
                    // 7.2.2 and appendix C: retransmit the multicast NS.
                    e.probes++;
                    e.deadline = now + ps.params.retrans_ms;
                    sync(port, ps, addr, e);
                    out.push_back(send_ns(port, addr, std::nullopt));
                } else {
                    // 7.2.2: resolution failed; every queued packet gets an
                    // ICMPv6 Address Unreachable from the caller. The FAILED
                    // marker holds the address down for kFailedHoldMs.
                    queued_ -= e.queue.size();
                    for (NcPacket pkt : e.queue)
                        out.push_back(drop(port, addr, pkt, NcDrop::kResolutionFailed));
                    e.queue.clear();
                    ps.counters.resolution_failed++;
                    enter(port, ps, addr, e, NcState::kFailed, now);
                }
                break;
            case NcState::kReachable:
                // 7.3.3: ReachableTime since the last confirmation: STALE.
                enter(port, ps, addr, e, NcState::kStale, now);
                break;
            case NcState::kDelay:
                // 7.3.3: DELAY_FIRST_PROBE_TIME without confirmation: PROBE,
                // with a unicast NS to the cached address.
                e.probes = 1;
                enter(port, ps, addr, e, NcState::kProbe, now);
                out.push_back(send_ns(port, addr, *e.mac));
                break;
            case NcState::kProbe:
                if (e.probes < kMaxUnicastSolicit) {
                    // 7.3.3: retransmit the unicast probe every RetransTimer.
                    e.probes++;
                    e.deadline = now + ps.params.retrans_ms;
                    sync(port, ps, addr, e);
                    out.push_back(send_ns(port, addr, *e.mac));
                } else {
                    // 7.3.3: MAX_UNICAST_SOLICIT probes unanswered: delete.
                    erase(port, ps, it, NcDrop::kRemoved, out);
                }
                break;
            case NcState::kFailed:
                erase(port, ps, it, NcDrop::kRemoved, out);  // hold-down over
                break;
            case NcState::kStale:
            case NcState::kPermanent:
                sync(port, ps, addr, e);  // no timer in these states
                break;
        }
    }
    return out;
}

std::optional<uint64_t> NeighborCache::next_deadline() const {
    if (timers_.empty())
        return std::nullopt;
    return std::get<0>(*timers_.begin());
}

absl::StatusOr<std::vector<NcAction>> NeighborCache::add_static(uint16_t port, const Ip6& addr,
                                                                const Mac& mac, bool router,
                                                                uint64_t now) {
    if (addr.is_multicast() || addr.is_unspecified() || addr.is_loopback())
        return absl::InvalidArgumentError(addr.str() + " is not a unicast neighbour address");
    if (mac.is_multicast() || mac.is_zero())
        return absl::InvalidArgumentError(mac.str() + " is not a unicast link-layer address");
    Port& ps = port_state(port);
    std::vector<NcAction> out;
    auto it = ps.entries.find(addr);
    if (it == ps.entries.end()) {
        Entry& e = create(port, ps, addr, NcState::kPermanent, now);
        e.mac = mac;
        e.router = router;
        out.push_back({NcAction::kMacKnown, port, addr, mac});
        return out;
    }
    // A static entry replaces whatever was learnt: packets waiting for
    // resolution go to the configured MAC.
    Entry& e = it->second;
    const bool changed = !e.mac || *e.mac != mac;
    if (e.state != NcState::kPermanent)
        ps.dynamic--;
    e.mac = mac;
    e.probes = 0;
    enter(port, ps, addr, e, NcState::kPermanent, now);
    flush_queue(port, ps, addr, e, now, out);
    if (changed)
        out.push_back({NcAction::kMacKnown, port, addr, mac});
    set_router(port, addr, e, router, out);
    return out;
}

absl::StatusOr<std::vector<NcAction>> NeighborCache::del(uint16_t port, const Ip6& addr) {
    auto pit = ports_.find(port);
    std::map<Ip6, Entry>::iterator it;
    if (pit == ports_.end() || (it = pit->second.entries.find(addr)) == pit->second.entries.end())
        return absl::NotFoundError("no such neighbor: " + addr.str());
    std::vector<NcAction> out;
    erase(port, pit->second, it, NcDrop::kRemoved, out);
    return out;
}

std::vector<NcAction> NeighborCache::flush(uint16_t port) {
    std::vector<NcAction> out;
    auto pit = ports_.find(port);
    if (pit == ports_.end())
        return out;
    Port& ps = pit->second;
    for (auto it = ps.entries.begin(); it != ps.entries.end();) {
        auto next = std::next(it);
        if (it->second.state != NcState::kPermanent)
            erase(port, ps, it, NcDrop::kRemoved, out);
        it = next;
    }
    return out;
}

std::vector<NcAction> NeighborCache::forget_port(uint16_t port) {
    std::vector<NcAction> out;
    auto pit = ports_.find(port);
    if (pit == ports_.end())
        return out;
    Port& ps = pit->second;
    while (!ps.entries.empty())
        erase(port, ps, ps.entries.begin(), NcDrop::kRemoved, out);
    ports_.erase(pit);
    return out;
}

std::vector<NcAction> NeighborCache::clear() {
    std::vector<NcAction> out;
    while (!ports_.empty()) {
        std::vector<NcAction> more = forget_port(ports_.begin()->first);
        out.insert(out.end(), more.begin(), more.end());
    }
    return out;
}

NcEntry NeighborCache::info(uint16_t port, const Ip6& addr, const Entry& e, uint64_t now) const {
    NcEntry n;
    n.port = port;
    n.addr = addr;
    n.mac = e.mac;
    n.state = e.state;
    n.router = e.router;
    n.age_ms = now > e.entered ? now - e.entered : 0;
    n.queued = e.queue.size();
    return n;
}

std::vector<NcEntry> NeighborCache::list(uint64_t now) const {
    std::vector<NcEntry> out;
    for (const auto& [port, ps] : ports_)
        for (const auto& [addr, e] : ps.entries)
            out.push_back(info(port, addr, e, now));
    return out;
}

std::optional<NcEntry> NeighborCache::get(uint16_t port, const Ip6& addr, uint64_t now) const {
    auto pit = ports_.find(port);
    if (pit == ports_.end())
        return std::nullopt;
    auto it = pit->second.entries.find(addr);
    if (it == pit->second.entries.end())
        return std::nullopt;
    return info(port, addr, it->second, now);
}

size_t NeighborCache::size(uint16_t port) const {
    auto pit = ports_.find(port);
    return pit == ports_.end() ? 0 : pit->second.entries.size();
}

size_t NeighborCache::dynamic_size(uint16_t port) const {
    auto pit = ports_.find(port);
    return pit == ports_.end() ? 0 : pit->second.dynamic;
}

}  // namespace fp6
