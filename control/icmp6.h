/* ICMPv6 errors the router originates (RFC 4443), as pure functions over
 * byte buffers: when an error may be sent (RFC 4443 2.4 (e)), what Parameter
 * Problem a packet addressed to the router earns (RFC 8200 4), how the error
 * message is built (RFC 4443 2.4 (c), 3), and a token bucket on an explicit
 * clock for the rate limit (RFC 4443 2.4 (f)). No Router, no DPDK, no
 * allocation: the control thread wires them up, tests drive them with byte
 * vectors and a fake clock.
 *
 * A packet is its IPv6 header and what follows (`pkt`, `len`); bytes past
 * the IPv6 Payload Length (link padding) are ignored, and nothing is read
 * outside [pkt, pkt + len).
 *
 * Extension headers are walked at most kIcmp6MaxExtHeaders deep. The error
 * types and codes are in dataplane/icmp_limit.h, shared with the workers. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ip6.h"
#include "dataplane/icmp_limit.h"

namespace fp6 {

/* RFC 4443 2.4 (c): an error message never exceeds the minimum IPv6 MTU
 * (RFC 8200 5), IPv6 header included. */
inline constexpr size_t kIcmp6ErrorMaxLen = 1280;
/* The IPv6 header and the ICMPv6 error header (type, code, checksum, and
 * the 4-byte unused / MTU / pointer field) before the invoking packet. */
inline constexpr size_t kIcmp6ErrorHeaderLen = 40 + 8;
/* At most this many extension headers are walked. */
inline constexpr int kIcmp6MaxExtHeaders = 8;

/* Writes an IPv6 + ICMPv6 error message into out: version 6, traffic class
 * and flow label 0, `hop_limit`, from `src` to the invoking packet's source,
 * ICMPv6 `type` and `code`, `param` big-endian in the 4 bytes after the
 * checksum (0 where RFC 4443 says unused, the MTU for Packet Too Big, the
 * pointer for Parameter Problem), then as much of the invoking packet
 * (`invoking`, its IPv6 header on, `invoking_len` bytes; link padding past
 * its Payload Length is not quoted) as keeps the whole message within
 * kIcmp6ErrorMaxLen (RFC 4443 2.4 (c)), checksum set (RFC 4443 2.3).
 * out may overlap the invoking packet (the quote is moved, not copied).
 * Returns the message's length, or 0, having written nothing, when out is
 * smaller than that, invoking_len < 40, `type` is not an error type (>= 128,
 * RFC 4443 2.1), `src` is unspecified or multicast (RFC 4443 2.2: one of
 * the node's unicast addresses), or the invoking packet's source is
 * unspecified or multicast (RFC 4443 2.4 (e.6)). */
size_t build_icmp6_error(std::span<uint8_t> out, const Ip6& src, uint8_t type, uint8_t code,
                         uint32_t param, const uint8_t* invoking, size_t invoking_len,
                         uint8_t hop_limit);

/* Whether RFC 4443 2.4 (e) lets the router send an error of `type`/`code`
 * in answer to `invoking` (its IPv6 header on). No error:
 *  (e.1), (e.2) for an ICMPv6 error (type < 128) or a Redirect (137), found
 *        through extension headers; nor when the walk cannot tell (the
 *        packet ends inside an extension header or the ICMPv6 type, or has
 *        more than kIcmp6MaxExtHeaders of them); a non-first fragment, whose
 *        upper-layer header is elsewhere, does not count as one;
 *  (e.3) for a multicast destination, (e.4), (e.5) nor a frame that came as
 *        link-layer multicast or broadcast (`l2_multicast`), except Packet
 *        Too Big, and Parameter Problem code 2 for an option whose type's
 *        two high bits are 10 (RFC 8200 4.2; the option is found again with
 *        find_param_problem);
 *  (e.6) for a source that is unspecified, multicast, or one of the router's
 *        own addresses (`src_is_ours`).
 * Also false for len < 40, a version other than 6, and a type that is not an
 * error (>= 128). The rate limit is the caller's (TokenBucket). */
bool error_allowed(const uint8_t* invoking, size_t len, bool l2_multicast, uint8_t type,
                   uint8_t code, bool src_is_ours);

/* The outcome of RFC 8200 4 header processing for a packet addressed to the
 * router. */
struct ParamProblem {
    enum class Action : uint8_t {
        kAccept,   // nothing wrong up to `next_header` at `offset`
        kDiscard,  // discard silently (an option says so, or the headers are malformed)
        kSend,     // discard and send Parameter Problem `code` with `pointer`
    };
    Action action = Action::kAccept;
    uint8_t code = 0;  // kSend: kParamErroneousField, kParamUnknownNextHeader, kParamUnknownOption
    uint32_t pointer = 0;  // kSend: offset in the packet of the offending byte (RFC 4443 3.4)
    /* kAccept: the header the walk stopped at and where it starts: the upper
     * layer (58 ICMPv6, 17 UDP, 6 TCP, 59 No Next Header) or a Fragment
     * header (44: what follows needs reassembly, which fp6 does not do). */
    uint8_t next_header = 0;
    uint32_t offset = 0;
};

/* Processes the IPv6 header and extension headers of a packet addressed to
 * the router, as RFC 8200 4 asks of a destination:
 *  - Hop-by-Hop Options (only right after the IPv6 header, RFC 8200 4.1) and
 *    Destination Options (4.6): fp6 acts on no option, so each one (4.2) is
 *    handled by the two high bits of its type (Pad1, PadN and Router Alert,
 *    RFC 2711, have 00): 00 skip, 01 discard, 10 discard and send code 2
 *    pointing at the option type (whatever the destination), 11 the same
 *    only if the destination is not multicast, else discard;
 *  - Routing (4.4): skipped when Segments Left is 0, else code 0 pointing at
 *    the Routing Type (fp6 processes no routing type);
 *  - Fragment (4.5): the walk stops there, kAccept;
 *  - 58 ICMPv6, 17 UDP, 6 TCP, 59 No Next Header: kAccept;
 *  - any other Next Header value, a Hop-by-Hop header after the first one
 *    included: code 1 pointing at the Next Header field that names it.
 * A packet that is truncated (len < 40, the Payload Length past len, a
 * header or option running past the payload), of another version, or with
 * more than kIcmp6MaxExtHeaders extension headers: kDiscard. */
ParamProblem find_param_problem(const uint8_t* pkt, size_t len);

/* A token bucket on a caller's clock (RFC 4443 2.4 (f)): `rate` tokens per
 * second, at most `burst` held, on a clock of `ticks_per_second` (1000: the
 * Router's millisecond clock). Starts full; rate or burst 0 allows nothing.
 * Integer arithmetic only, exact, saturating (see take_token); a clock that
 * goes back adds nothing. Not thread-safe: one owner. */
class TokenBucket {
  public:
    TokenBucket(uint32_t rate, uint32_t burst, uint64_t ticks_per_second = 1000) noexcept
        : rate_(rate), burst_(burst), hz_(ticks_per_second) {}

    /* Takes a token at time `now` if there is one; counts it in sent() or
     * suppressed(). */
    bool allow(uint64_t now) noexcept {
        const bool ok = take_token(state_, now, hz_, rate_, burst_);
        (ok ? sent_ : suppressed_)++;
        return ok;
    }

    /* New limits from the next allow() on; what the bucket holds is kept, up
     * to the new burst. */
    void set_limits(uint32_t rate, uint32_t burst) noexcept {
        rate_ = rate;
        burst_ = burst;
    }

    uint32_t rate() const noexcept { return rate_; }
    uint32_t burst() const noexcept { return burst_; }
    uint64_t sent() const noexcept { return sent_; }
    uint64_t suppressed() const noexcept { return suppressed_; }

  private:
    uint32_t rate_;
    uint32_t burst_;
    uint64_t hz_;
    TokenBucketState state_;
    uint64_t sent_ = 0;
    uint64_t suppressed_ = 0;
};

}  // namespace fp6
