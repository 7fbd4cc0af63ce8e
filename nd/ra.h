/* Router Advertisements (RFC 4861 section 6): what a port advertises
 * (RaConfig, checked by validate()), the packet (build_ra) and when to send
 * it (RaScheduler).
 *
 * build_ra is a pure function over a caller's buffer, like the builders of
 * nd/ndp.h. RaScheduler is a pure state machine on an explicit millisecond
 * clock, like nd/dad.h: the control thread feeds it events (advertising
 * starts or stops, a valid Router Solicitation arrived, time passes) and
 * sends the RAs it asks for; nothing here sends a packet or reads a clock.
 *
 * Concurrency: control thread only. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include <absl/status/status.h>

#include "common/ip6.h"

namespace fp6 {

/* Router constants (RFC 4861 section 10), in milliseconds. */
inline constexpr uint64_t kMaxInitialRtrAdvertIntervalMs = 16000;
inline constexpr unsigned kMaxInitialRtrAdvertisements = 3;
inline constexpr unsigned kMaxFinalRtrAdvertisements = 3;
inline constexpr uint64_t kMinDelayBetweenRasMs = 3000;
inline constexpr uint64_t kMaxRaDelayTimeMs = 500;

/* The ranges of the RFC 4861 6.2.1 variables, in seconds (milliseconds for
 * AdvReachableTime). */
inline constexpr unsigned kRaMaxIntervalLowS = 4;      // MaxRtrAdvInterval >= 4 s
inline constexpr unsigned kRaMaxIntervalHighS = 1800;  // MaxRtrAdvInterval <= 1800 s
inline constexpr unsigned kRaMinIntervalLowS = 3;      // MinRtrAdvInterval >= 3 s
inline constexpr unsigned kRaLifetimeHighS = 9000;     // AdvDefaultLifetime <= 9000 s
inline constexpr uint32_t kRaReachableTimeHighMs = 3600000;
/* RFC 8200 5: the least link MTU of IPv6. */
inline constexpr uint32_t kIp6MinMtu = 1280;

/* One Prefix Information option (RFC 4861 4.6.2) an RA carries; the
 * defaults are those of RFC 4861 6.2.1 (AdvOnLinkFlag, AdvAutonomousFlag,
 * AdvValidLifetime, AdvPreferredLifetime). Lifetimes are in seconds,
 * 0xffffffff meaning infinity (4.6.2).
 *
 * Any prefix length 0..128 is accepted, but hosts form addresses from the
 * prefix (the A flag) only when its length plus their interface identifier
 * length, 64 on Ethernet (RFC 4291 2.5.1), is 128 (RFC 4862 5.5.3 d): give
 * a /64 with autonomous set, or clear autonomous. */
struct RaPrefix {
    Prefix6 prefix;
    bool on_link = true;              // L: the prefix is on this link
    bool autonomous = true;           // A: hosts may use it for SLAAC
    uint32_t valid_lft = 2592000;     // 30 days
    uint32_t preferred_lft = 604800;  // 7 days; no more than valid_lft
};

/* A port's Router Advertisement settings: the RFC 4861 6.2.1 variables. An
 * unset optional takes the RFC default, given by the effective_*()
 * functions. */
struct RaConfig {
    bool enabled = false;           // AdvSendAdvertisements; RaScheduler does not look at it
    unsigned max_interval_s = 600;  // MaxRtrAdvInterval, 4..1800
    std::optional<unsigned> min_interval_s;  // MinRtrAdvInterval, 3..0.75 * max
    std::optional<unsigned> lifetime_s;      // AdvDefaultLifetime, 0 or max..9000
    bool managed = false;                    // AdvManagedFlag (M)
    bool other = false;                      // AdvOtherConfigFlag (O)
    uint8_t cur_hop_limit = 64;              // AdvCurHopLimit, 0: unspecified
    uint32_t reachable_time_ms = 0;          // AdvReachableTime, 0: unspecified
    uint32_t retrans_timer_ms = 0;           // AdvRetransTimer, 0: unspecified
    std::optional<uint32_t> mtu;             // AdvLinkMTU; unset: no MTU option
    std::vector<RaPrefix> prefixes;          // AdvPrefixList, in option order

    /* min_interval_s, or its RFC 4861 6.2.1 default 0.33 * max_interval_s
     * (rounded down), but at least 3 s, the least MinRtrAdvInterval. */
    unsigned effective_min_interval_s() const;
    /* lifetime_s, or its RFC 4861 6.2.1 default 3 * max_interval_s, at most
     * 9000 s. */
    unsigned effective_lifetime_s() const;
};

/* Checks cfg against RFC 4861 6.2.1 and what a host accepts: the interval,
 * lifetime, reachable time and MTU ranges, and each prefix (length 0..128,
 * no bits set past the length, not multicast or link-local, no duplicate,
 * preferred lifetime no more than valid). Also refuses a config whose RA
 * (ra_len) would exceed 1280 bytes, as fp6 does not split RAs (RFC 4861
 * 6.2.3 would allow it). The message names the field and the rule.
 * `enabled` is not checked: a disabled config must still be valid. */
absl::Status validate(const RaConfig& cfg);

/* The length of the packet build_ra writes for cfg: IPv6 header, RA, SLLA
 * option, MTU option if set, one Prefix Information option per prefix. */
size_t ra_len(const RaConfig& cfg);

/* Writes an IPv6 + Router Advertisement (RFC 4861 4.2) from src, a
 * link-local address of the port (4.2, 6.1.2), to dst (all-nodes or a
 * soliciting host), into out: hop limit 255, Cur Hop Limit, M and O flags,
 * Router Lifetime (cfg.effective_lifetime_s(), or 0 when final_ra: RFC
 * 4861 6.2.5), Reachable Time and Retrans Timer, then the Source Link-Layer
 * Address option, the MTU option when cfg.mtu is set and one Prefix
 * Information option per cfg.prefixes entry, in order, with the bits past
 * the prefix length cleared (4.6.2); checksum set. A final RA carries the
 * same options: only its Router Lifetime differs. Returns ra_len(cfg), or
 * 0, writing nothing, when out is too small, src is not link-local, dst is
 * :: or cfg does not pass validate(). */
size_t build_ra(std::span<uint8_t> out, const Ip6& src, const Ip6& dst, const RaConfig& cfg,
                const Mac& src_lladdr, bool final_ra);

/* Something the scheduler asks for: send build_ra(..., dst, ..., final_ra)
 * on the port now. */
struct RaAction {
    enum Kind { kSendRa } kind = kSendRa;
    Ip6 dst;                 // always kAllNodes (see RaScheduler)
    bool final_ra = false;   // Router Lifetime 0 (RFC 4861 6.2.5)
    bool solicited = false;  // sent because of an RS (for counters only)
};

/* When one port sends its RAs (RFC 4861 6.2.4-6.2.6).
 *
 * - Unsolicited RAs (6.2.4): the first at start(), then one each time a
 *   timer expires; after every multicast RA (solicited ones too, 6.2.6) the
 *   timer is set to a random time uniform in [MinRtrAdvInterval,
 *   MaxRtrAdvInterval], at millisecond grain. The first
 *   MAX_INITIAL_RTR_ADVERTISEMENTS (3) RAs after start() (or configure()
 *   while advertising) are at most MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s)
 *   apart: the timer set after the 1st and the 2nd is capped at 16 s.
 * - Solicited RAs (6.2.6): always multicast to ff02::1, never unicast to the
 *   soliciting host, even when its source is not ::. It is the usual case of
 *   6.2.6, one RA answers every host that solicited meanwhile, and no
 *   neighbour resolution is needed before it can go. An RS schedules one
 *   after a random delay uniform in [0, MAX_RA_DELAY_TIME (0.5 s)] from it;
 *   if a multicast RA went out less than MIN_DELAY_BETWEEN_RAS (3 s)
 *   before the RS, the delay counts from 3 s after that RA instead. If the
 *   next unsolicited RA is due no later, it is the answer and nothing more
 *   is scheduled; RSs while an answer is pending change nothing (the delay
 *   is relative to the first RS).
 * - Final RAs (6.2.5): stop() schedules MAX_FINAL_RTR_ADVERTISEMENTS (3)
 *   RAs with final_ra set, MIN_DELAY_BETWEEN_RAS apart, the first at once
 *   (when the 3 s rule allows), then nothing more.
 * - Two multicast RAs are never less than MIN_DELAY_BETWEEN_RAS (3 s) apart,
 *   whatever the events, across stop() and start() too.
 *
 * Each event returns the actions due at its `now`, as poll(now) would; poll
 * also at next_deadline(). Times are milliseconds on any monotonic clock,
 * never going back. */
class RaScheduler {
  public:
    explicit RaScheduler(uint64_t seed = std::random_device{}()) : rng_(seed) {}

    /* Takes the intervals from cfg (max_interval_s,
     * effective_min_interval_s()); cfg should pass validate(), otherwise the
     * minimum is raised to 3 s and the maximum to the minimum. Before the
     * first call the RaConfig defaults apply. While advertising, the config
     * is taken as changed (6.2.4, last paragraph): an RA goes at once (3 s
     * rule permitting) and the next two at most 16 s apart, as after
     * start(). */
    std::vector<RaAction> configure(uint64_t now, const RaConfig& cfg);

    /* The port becomes an advertising interface ("ra on", or the port came
     * up with RAs on); cancels final RAs still pending. No effect while
     * advertising. */
    std::vector<RaAction> start(uint64_t now);

    /* The port ceases to advertise (RFC 4861 6.2.5): drops the pending RAs
     * and schedules the final ones, the first returned here unless a
     * multicast RA went out less than 3 s ago. No effect unless
     * advertising. A port about to lose its link cannot wait: send what this
     * returns, and the caller may then drop the scheduler. */
    std::vector<RaAction> stop(uint64_t now);

    /* A Router Solicitation that parse_nd accepted arrived on the port, from
     * rs_src (which, RAs being multicast, only matters to the caller's
     * neighbour cache: RFC 4861 6.2.6). Ignored unless advertising. */
    std::vector<RaAction> on_rs(uint64_t now, const Ip6& rs_src);

    /* The RAs due at `now`: at most one, as every RA is multicast. */
    std::vector<RaAction> poll(uint64_t now);

    /* When poll() next has something to do, or nullopt (stopped, final RAs
     * sent). */
    std::optional<uint64_t> next_deadline() const;

    bool advertising() const { return advertising_; }
    /* Final RAs are still to be sent. */
    bool stopping() const { return finals_left_ > 0; }

  private:
    /* t, or the earliest time the 3 s rule allows a multicast RA. */
    uint64_t not_before_floor(uint64_t t) const;
    /* A fresh unsolicited interval, capped while in the initial burst. */
    uint64_t next_interval();

    std::mt19937_64 rng_;
    uint64_t min_ms_ = 198000, max_ms_ = 600000;
    bool advertising_ = false;
    uint64_t next_unsolicited_ = 0;      // when advertising
    std::optional<uint64_t> solicited_;  // a pending answer to an RS
    unsigned sent_since_start_ = 0;      // multicast RAs since start()/configure(), up to 3
    unsigned finals_left_ = 0;
    uint64_t next_final_ = 0;             // when finals_left_ > 0
    std::optional<uint64_t> last_mcast_;  // the last multicast RA, kept across stop()
};

}  // namespace fp6
