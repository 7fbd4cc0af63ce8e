/* The Redirect message a router sends to a neighbour that used it as the
 * first hop toward a destination for which a better first hop sits on the
 * same link (RFC 4861 4.5, 8.2), as a pure function over byte buffers: no
 * Router, no DPDK, no allocation. The workers punt a copy of each packet that
 * earns one (dataplane/packet.h PuntReason::is_redirect); the control thread
 * finds the target, rate-limits, builds the message here and sends it. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/ip6.h"

namespace fp6 {

/* RFC 4861 4.6.3: the Redirect, IPv6 header included, never exceeds the
 * minimum IPv6 MTU (RFC 8200 5). */
inline constexpr size_t kRedirectMaxLen = 1280;
/* The IPv6 header and the fixed Redirect message: type, code, checksum,
 * 4 reserved bytes, Target Address, Destination Address (RFC 4861 4.5). */
inline constexpr size_t kRedirectHeaderLen = 40 + 40;
/* ND option types (RFC 4861 4.6). */
inline constexpr uint8_t kNdOptTargetLladdr = 2;
inline constexpr uint8_t kNdOptRedirectedHeader = 4;
/* RFC 4861 4.5: the hop limit of every Redirect. */
inline constexpr uint8_t kRedirectHopLimit = 255;

/* Writes an IPv6 + Redirect message (RFC 4861 4.5) into out:
 *  - IPv6: version 6, traffic class and flow label 0, Next Header 58, hop
 *    limit 255, from `src` to `dst`;
 *  - ICMPv6 type 137, code 0, checksum (RFC 4443 2.3), 4 reserved bytes 0,
 *    `target`, `destination`;
 *  - a Target Link-Layer Address option (type 2, length 1) with
 *    `target_lladdr`, when given (RFC 4861 4.6.1);
 *  - a Redirected Header option (type 4, RFC 4861 4.6.3) when invoking_len
 *    != 0: 6 reserved bytes 0, then as much of the invoking packet
 *    (`invoking`, its IPv6 header on; bytes past its Payload Length, link
 *    padding, are not quoted) as keeps the message within kRedirectMaxLen.
 *    The option's length is a whole number of 8-byte units: a quote cut to
 *    fit ends on an 8-byte boundary, a whole packet is padded with zeros to
 *    the next one.
 * out may overlap the invoking packet (the quote is moved, not copied).
 * Returns the message's length, or 0, having written nothing, when out is
 * smaller than that, or the message would be one RFC 4861 forbids or a host
 * discards (8.1): `src` not link-local (4.5: the link-local address of the
 * interface it is sent from); `dst` unspecified or multicast (8.2: the
 * invoking packet's source, a neighbour); `destination` multicast (8.2);
 * `target` neither `destination` nor link-local (4.5: the better router is
 * named by its link-local address); or 0 < invoking_len < 40 (no IPv6
 * header to quote). */
size_t build_redirect(std::span<uint8_t> out, const Ip6& src, const Ip6& dst, const Ip6& target,
                      const Ip6& destination, std::optional<Mac> target_lladdr,
                      const uint8_t* invoking, size_t invoking_len);

}  // namespace fp6
