#include "nd/ra.h"
#include "common/bytes.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "nd/ndp.h"

namespace fp6 {
namespace {

constexpr size_t kIp6HdrLen = 40;  // RFC 8200 3
constexpr uint8_t kNhIcmp6 = 58;
constexpr uint8_t kNdHopLimit = 255;  // RFC 4861 6.1.2

/* RFC 4861 4.2: the RA before its options. */
constexpr size_t kRaFixedLen = 16;
/* RFC 4861 4.6.1, 4.6.4, 4.6.2: option types and sizes. */
constexpr uint8_t kOptSrcLladdr = 1;
constexpr uint8_t kOptPrefixInfo = 3;
constexpr uint8_t kOptMtu = 5;
constexpr size_t kLladdrOptLen = 8;
constexpr size_t kMtuOptLen = 8;
constexpr size_t kPrefixOptLen = 32;

/* RFC 8200 3: version 6, no traffic class or flow label. */
void put_ip6_header(uint8_t* p, size_t payload_len, const Ip6& src, const Ip6& dst) {
    put32(p, 6u << 28);
    put16(p + 4, uint16_t(payload_len));
    p[6] = kNhIcmp6;
    p[7] = kNdHopLimit;
    std::memcpy(p + 8, src.data(), 16);
    std::memcpy(p + 24, dst.data(), 16);
}

/* RFC 4861 4.2: type, code 0, checksum (later), Cur Hop Limit, M and O,
 * Router Lifetime, Reachable Time, Retrans Timer. */
void put_ra_fixed(uint8_t* icmp, const RaConfig& cfg, bool final_ra) {
    icmp[0] = kIcmp6RouterAdvert;
    icmp[4] = cfg.cur_hop_limit;
    icmp[5] = uint8_t((cfg.managed ? 0x80 : 0) | (cfg.other ? 0x40 : 0));
    // RFC 4861 6.2.5: a final RA says the router is no longer a default router.
    put16(icmp + 6, final_ra ? 0 : uint16_t(cfg.effective_lifetime_s()));
    put32(icmp + 8, cfg.reachable_time_ms);
    put32(icmp + 12, cfg.retrans_timer_ms);
}

/* RFC 4861 4.6.4: type 5, Length 1, 2 reserved bytes, the MTU. */
uint8_t* put_mtu_option(uint8_t* p, uint32_t mtu) {
    p[0] = kOptMtu;
    p[1] = 1;
    put32(p + 4, mtu);
    return p + kMtuOptLen;
}

/* RFC 4861 4.6.2: type 3, Length 4, prefix length, L and A, valid and
 * preferred lifetimes, 4 reserved bytes, the prefix with the bits past its
 * length zero. */
uint8_t* put_prefix_option(uint8_t* p, const RaPrefix& pi) {
    p[0] = kOptPrefixInfo;
    p[1] = 4;
    p[2] = uint8_t(pi.prefix.len());
    p[3] = uint8_t((pi.on_link ? 0x80 : 0) | (pi.autonomous ? 0x40 : 0));
    put32(p + 4, pi.valid_lft);
    put32(p + 8, pi.preferred_lft);
    const Ip6 prefix = pi.prefix.addr().masked(pi.prefix.len());
    std::memcpy(p + 16, prefix.data(), 16);
    return p + kPrefixOptLen;
}

absl::Status check_prefix(const RaPrefix& pi, size_t index) {
    const std::string name = fmt::format("prefix {} ({})", index, pi.prefix.str());
    auto bad = [&](const std::string& why) {
        return absl::InvalidArgumentError(fmt::format("{}: {}", name, why));
    };
    if (pi.prefix.len() > 128)
        return bad("prefix length must be 0..128");
    if (pi.prefix.has_host_bits())
        return bad("bits set past the prefix length (RFC 4861 4.6.2)");
    if (pi.prefix.addr().is_multicast())
        return bad("a multicast prefix cannot be advertised");
    if (pi.prefix.addr().is_linklocal())
        return bad("the link-local prefix must not be advertised (RFC 4861 4.6.2)");
    if (pi.preferred_lft > pi.valid_lft)
        return bad(
            fmt::format("preferred lifetime {} s exceeds valid lifetime {} s; hosts "
                        "ignore such a prefix (RFC 4862 5.5.3)",
                        pi.preferred_lft, pi.valid_lft));
    return absl::OkStatus();
}

}  // namespace

unsigned RaConfig::effective_min_interval_s() const {
    if (min_interval_s)
        return *min_interval_s;
    return std::max(kRaMinIntervalLowS, unsigned(uint64_t(max_interval_s) * 33 / 100));
}

unsigned RaConfig::effective_lifetime_s() const {
    if (lifetime_s)
        return *lifetime_s;
    return unsigned(std::min<uint64_t>(uint64_t(max_interval_s) * 3, kRaLifetimeHighS));
}

absl::Status validate(const RaConfig& cfg) {
    const unsigned max = cfg.max_interval_s;
    // RFC 4861 6.2.1: MaxRtrAdvInterval.
    if (max < kRaMaxIntervalLowS || max > kRaMaxIntervalHighS)
        return absl::InvalidArgumentError(
            fmt::format("max interval {} s is outside {}..{} s (RFC 4861 6.2.1)", max,
                        kRaMaxIntervalLowS, kRaMaxIntervalHighS));
    // RFC 4861 6.2.1: MinRtrAdvInterval, 3 s to 0.75 * MaxRtrAdvInterval.
    const unsigned min = cfg.effective_min_interval_s();
    if (min < kRaMinIntervalLowS || uint64_t(min) * 4 > uint64_t(max) * 3)
        return absl::InvalidArgumentError(
            fmt::format("min interval {} s is outside 3..{:g} s (3 s to 0.75 times the max "
                        "interval {} s, RFC 4861 6.2.1)",
                        min, max * 0.75, max));
    // RFC 4861 6.2.1: AdvDefaultLifetime, 0 or MaxRtrAdvInterval..9000 s.
    const unsigned life = cfg.effective_lifetime_s();
    if (life != 0 && (life < max || life > kRaLifetimeHighS))
        return absl::InvalidArgumentError(
            fmt::format("router lifetime {} s must be 0 or {}..{} s (from the max interval to "
                        "9000 s, RFC 4861 6.2.1)",
                        life, max, kRaLifetimeHighS));
    // RFC 4861 6.2.1: AdvReachableTime, at most one hour.
    if (cfg.reachable_time_ms > kRaReachableTimeHighMs)
        return absl::InvalidArgumentError(
            fmt::format("reachable time {} ms exceeds {} ms (one hour, RFC 4861 6.2.1)",
                        cfg.reachable_time_ms, kRaReachableTimeHighMs));
    // RFC 8200 5: no IPv6 link has an MTU below 1280.
    if (cfg.mtu && *cfg.mtu < kIp6MinMtu)
        return absl::InvalidArgumentError(fmt::format(
            "mtu {} is below {}, the least IPv6 link MTU (RFC 8200 5)", *cfg.mtu, kIp6MinMtu));
    for (size_t i = 0; i < cfg.prefixes.size(); i++) {
        if (auto st = check_prefix(cfg.prefixes[i], i); !st.ok())
            return st;
        for (size_t j = 0; j < i; j++)
            if (cfg.prefixes[j].prefix.canonical() == cfg.prefixes[i].prefix.canonical())
                return absl::InvalidArgumentError(
                    fmt::format("prefix {} ({}) is listed twice", i, cfg.prefixes[i].prefix.str()));
    }
    // fp6 sends one RA with everything; it must fit any IPv6 link.
    if (const size_t len = ra_len(cfg); len > kIp6MinMtu)
        return absl::InvalidArgumentError(
            fmt::format("{} prefixes make a {}-byte RA, over the {}-byte IPv6 minimum MTU",
                        cfg.prefixes.size(), len, kIp6MinMtu));
    return absl::OkStatus();
}

size_t ra_len(const RaConfig& cfg) {
    return kIp6HdrLen + kRaFixedLen + kLladdrOptLen + (cfg.mtu ? kMtuOptLen : 0) +
           kPrefixOptLen * cfg.prefixes.size();
}

size_t build_ra(std::span<uint8_t> out, const Ip6& src, const Ip6& dst, const RaConfig& cfg,
                const Mac& src_lladdr, bool final_ra) {
    if (!src.is_linklocal())
        return 0;  // RFC 4861 4.2, 6.1.2: hosts drop an RA from another source
    if (dst.is_unspecified())
        return 0;  // RFC 4291 2.5.2: never a destination
    const size_t total = ra_len(cfg);
    if (out.size() < total || !validate(cfg).ok())
        return 0;
    uint8_t* p = out.data();
    std::memset(p, 0, total);  // reserved fields are zero (RFC 4861 4.2, 4.6.2, 4.6.4)
    put_ip6_header(p, total - kIp6HdrLen, src, dst);
    uint8_t* icmp = p + kIp6HdrLen;
    put_ra_fixed(icmp, cfg, final_ra);
    uint8_t* opt = icmp + kRaFixedLen;
    // RFC 4861 4.2: the SLLA option, so hosts need not resolve the router.
    opt[0] = kOptSrcLladdr;
    opt[1] = 1;
    std::memcpy(opt + 2, src_lladdr.data(), 6);
    opt += kLladdrOptLen;
    if (cfg.mtu)
        opt = put_mtu_option(opt, *cfg.mtu);
    for (const RaPrefix& pi : cfg.prefixes)
        opt = put_prefix_option(opt, pi);
    put16(icmp + 2, icmp6_checksum(src, dst, icmp, total - kIp6HdrLen));
    return total;
}

/* ---- RaScheduler ---- */

uint64_t RaScheduler::not_before_floor(uint64_t t) const {
    // RFC 4861 6.2.6: multicast RAs at most one every MIN_DELAY_BETWEEN_RAS.
    if (last_mcast_)
        return std::max(t, *last_mcast_ + kMinDelayBetweenRasMs);
    return t;
}

uint64_t RaScheduler::next_interval() {
    // RFC 4861 6.2.4: uniform in [MinRtrAdvInterval, MaxRtrAdvInterval].
    uint64_t interval = min_ms_ + rng_() % (max_ms_ - min_ms_ + 1);
    // RFC 4861 6.2.4: the first MAX_INITIAL_RTR_ADVERTISEMENTS are at most
    // MAX_INITIAL_RTR_ADVERT_INTERVAL apart.
    if (sent_since_start_ < kMaxInitialRtrAdvertisements)
        interval = std::min(interval, kMaxInitialRtrAdvertIntervalMs);
    return interval;
}

std::vector<RaAction> RaScheduler::configure(uint64_t now, const RaConfig& cfg) {
    min_ms_ =
        std::max<uint64_t>(uint64_t(cfg.effective_min_interval_s()) * 1000, kMinDelayBetweenRasMs);
    max_ms_ = std::max<uint64_t>(uint64_t(cfg.max_interval_s) * 1000, min_ms_);
    if (!advertising_)
        return {};
    // RFC 4861 6.2.4: after a change, up to MAX_INITIAL_RTR_ADVERTISEMENTS
    // RAs as when the interface becomes an advertising one.
    sent_since_start_ = 0;
    next_unsolicited_ = now;
    return poll(now);
}

std::vector<RaAction> RaScheduler::start(uint64_t now) {
    if (advertising_)
        return {};
    advertising_ = true;
    finals_left_ = 0;
    solicited_.reset();
    sent_since_start_ = 0;
    next_unsolicited_ = now;  // RFC 4861 6.2.4: the first RA at once
    return poll(now);
}

std::vector<RaAction> RaScheduler::stop(uint64_t now) {
    if (!advertising_)
        return {};
    advertising_ = false;
    solicited_.reset();
    // RFC 4861 6.2.5: up to MAX_FINAL_RTR_ADVERTISEMENTS with lifetime 0.
    finals_left_ = kMaxFinalRtrAdvertisements;
    next_final_ = now;
    return poll(now);
}

std::vector<RaAction> RaScheduler::on_rs(uint64_t now, const Ip6& /*rs_src*/) {
    // RFC 4861 6.2.6: only an advertising interface answers; one answer for
    // all the RSs until it goes, its delay relative to the first.
    if (!advertising_ || solicited_)
        return {};
    const uint64_t delay = rng_() % (kMaxRaDelayTimeMs + 1);
    // RFC 4861 6.2.6: after a multicast RA less than MIN_DELAY_BETWEEN_RAS
    // ago, the delay counts from MIN_DELAY_BETWEEN_RAS after it.
    uint64_t at = now + delay;
    if (last_mcast_ && now < *last_mcast_ + kMinDelayBetweenRasMs)
        at = *last_mcast_ + kMinDelayBetweenRasMs + delay;
    // RFC 4861 6.2.6: if the unsolicited RA is due no later, it is the
    // answer: poll() drops the pending answer whenever any RA goes.
    solicited_ = at;
    return poll(now);
}

std::vector<RaAction> RaScheduler::poll(uint64_t now) {
    if (finals_left_ > 0) {
        if (not_before_floor(next_final_) > now)
            return {};
        finals_left_--;
        last_mcast_ = now;
        next_final_ = now + kMinDelayBetweenRasMs;
        return {{RaAction::kSendRa, kAllNodes, true, false}};
    }
    if (!advertising_)
        return {};
    const bool solicited = solicited_ && not_before_floor(*solicited_) <= now;
    if (!solicited && not_before_floor(next_unsolicited_) > now)
        return {};
    // RFC 4861 6.2.4, 6.2.6: every multicast RA, solicited or not, resets
    // the unsolicited timer.
    last_mcast_ = now;
    solicited_.reset();
    if (sent_since_start_ < kMaxInitialRtrAdvertisements)
        sent_since_start_++;
    next_unsolicited_ = now + next_interval();
    return {{RaAction::kSendRa, kAllNodes, false, solicited}};
}

std::optional<uint64_t> RaScheduler::next_deadline() const {
    if (finals_left_ > 0)
        return not_before_floor(next_final_);
    if (!advertising_)
        return std::nullopt;
    uint64_t next = not_before_floor(next_unsolicited_);
    if (solicited_)
        next = std::min(next, not_before_floor(*solicited_));
    return next;
}

}  // namespace fp6
