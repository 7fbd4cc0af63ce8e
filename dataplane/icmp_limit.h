/* What the workers and the control thread share about the ICMPv6 errors the
 * router originates (RFC 4443): the error types and codes, and the token
 * bucket that limits their rate (RFC 4443 2.4 (f)).
 *
 * The bucket is plain integer arithmetic on an explicit clock, so the same
 * code runs in a worker (on the TSC, one IcmpLimiter per worker with one
 * bucket per rx port) and on the control thread (control/icmp6.h
 * TokenBucket, on its millisecond clock), and tests drive it with a fake
 * clock. Nothing here allocates, locks or uses atomics. */
#pragma once

#include <rte_config.h>
#include <rte_cycles.h>

#include <cstdint>

namespace fp6 {

/* ICMPv6 error messages (RFC 4443 2.1, 3). */
inline constexpr uint8_t kIcmp6DstUnreachable = 1;
inline constexpr uint8_t kIcmp6PacketTooBig = 2;
inline constexpr uint8_t kIcmp6TimeExceeded = 3;
inline constexpr uint8_t kIcmp6ParamProblem = 4;
/* RFC 4443 2.1: types 0-127 are errors, 128-255 informational. */
inline constexpr uint8_t kIcmp6FirstInfo = 128;
/* Redirect (RFC 4861 4.5): an informational type that never gets an error either. */
inline constexpr uint8_t kIcmp6Redirect = 137;

/* Destination Unreachable codes (RFC 4443 3.1). */
inline constexpr uint8_t kUnreachNoRoute = 0;
inline constexpr uint8_t kUnreachProhibited = 1;
inline constexpr uint8_t kUnreachBeyondScope = 2;
inline constexpr uint8_t kUnreachAddress = 3;
inline constexpr uint8_t kUnreachPort = 4;
inline constexpr uint8_t kUnreachPolicy = 5;
inline constexpr uint8_t kUnreachReject = 6;
/* Time Exceeded codes (RFC 4443 3.3). */
inline constexpr uint8_t kTimeExceededHopLimit = 0;
inline constexpr uint8_t kTimeExceededReassembly = 1;
/* Parameter Problem codes (RFC 4443 3.4). */
inline constexpr uint8_t kParamErroneousField = 0;
inline constexpr uint8_t kParamUnknownNextHeader = 1;
inline constexpr uint8_t kParamUnknownOption = 2;

/* The default limits of PortView::icmp_rate and icmp_burst. */
inline constexpr uint32_t kIcmpDefaultRate = 100;  // errors per second
inline constexpr uint32_t kIcmpDefaultBurst = 10;

/* One token bucket's state. Credit is counted in token-ticks: a token is
 * worth `hz` of them and every tick of the clock adds `rate`, so no division
 * is ever needed and nothing is lost to rounding. A new bucket is full. */
struct TokenBucketState {
    uint64_t credit = UINT64_MAX;  // clamped to the bucket's size on first use: full
    uint64_t last = 0;             // the clock at the last refill
};

/* Takes one token from `b` at time `now` (a clock of `hz` ticks per second)
 * for a bucket refilled with `rate` tokens per second and holding at most
 * `burst`. Returns whether there was one. rate, burst or hz 0: never.
 * Saturates instead of overflowing, whatever the values and however long
 * the bucket was idle; a clock that goes back adds nothing. */
inline bool take_token(TokenBucketState& b, uint64_t now, uint64_t hz, uint32_t rate,
                       uint32_t burst) noexcept {
    if (rate == 0 || burst == 0 || hz == 0)
        return false;
    uint64_t cap;
    if (__builtin_mul_overflow(uint64_t(burst), hz, &cap))
        cap = UINT64_MAX;
    uint64_t elapsed = 0;
    if (now > b.last) {
        elapsed = now - b.last;
        b.last = now;
    }
    uint64_t add;
    if (__builtin_mul_overflow(elapsed, uint64_t(rate), &add))
        add = UINT64_MAX;
    uint64_t credit;
    if (__builtin_add_overflow(b.credit, add, &credit))
        credit = UINT64_MAX;
    if (credit > cap)
        credit = cap;
    if (credit < hz) {
        b.credit = credit;
        return false;
    }
    b.credit = credit - hz;
    return true;
}

/* One worker's ICMPv6 error budget: a bucket per rx port, on the TSC. Owned
 * and used by its worker only (the packet path, classify_burst); rate and
 * burst are read from the rx port's PortView at each use, so a change by the
 * control thread applies from the next error on. */
class IcmpLimiter {
  public:
    /* Needs EAL initialised (the TSC frequency). */
    IcmpLimiter() noexcept : hz_(rte_get_tsc_hz()) {}
    /* A limiter on a TSC of `hz` ticks per second (tests). */
    explicit IcmpLimiter(uint64_t hz) noexcept : hz_(hz) {}

    /* Whether `port` may send one more error at TSC time `now`; takes the
     * token if so. port < RTE_MAX_ETHPORTS. */
    bool allow(uint16_t port, uint64_t now, uint32_t rate, uint32_t burst) noexcept {
        return take_token(buckets_[port], now, hz_, rate, burst);
    }

  private:
    uint64_t hz_;
    TokenBucketState buckets_[RTE_MAX_ETHPORTS];
};

}  // namespace fp6
