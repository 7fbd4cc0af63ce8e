/* The Redirect message builder: see redirect.h. */
#include "control/redirect.h"
#include "common/bytes.h"

#include <algorithm>
#include <cstring>

#include "dataplane/icmp_limit.h"
#include "nd/ndp.h"

namespace fp6 {
namespace {

constexpr size_t kIp6Len = 40;
constexpr uint8_t kIp6Version = 6;
constexpr uint8_t kNextHeaderIcmp6 = 58;
/* RFC 4861 4.6: options come in units of 8 bytes. Both options fp6 writes
 * start with 8 bytes: type, length, then the 6-byte link-layer address
 * (4.6.1) or the 6 reserved bytes (4.6.3). */
constexpr size_t kOptUnit = 8;
constexpr size_t kOptHeadLen = 8;

static_assert(kRedirectMaxLen % kOptUnit == 0 && kRedirectHeaderLen % kOptUnit == 0,
              "a quote cut to fit ends on an option unit");

}  // namespace

size_t build_redirect(std::span<uint8_t> out, const Ip6& src_in, const Ip6& dst_in,
                      const Ip6& target_in, const Ip6& destination_in,
                      std::optional<Mac> target_lladdr, const uint8_t* invoking,
                      size_t invoking_len) {
    // Copies: the caller's values may live in the buffer being written.
    const Ip6 src = src_in, dst = dst_in, target = target_in, destination = destination_in;
    // RFC 4861 4.5: from the link-local address of the interface.
    if (!src.is_linklocal())
        return 0;
    // RFC 4861 8.2: to the invoking packet's source, a neighbour.
    if (dst.is_unspecified() || dst.is_multicast())
        return 0;
    // RFC 4861 8.2: never for a multicast destination; 8.1: hosts discard it.
    if (destination.is_multicast())
        return 0;
    // RFC 4861 4.5, 8.1: the target is the destination itself (on-link) or
    // the better router's link-local address.
    if (target != destination && !target.is_linklocal())
        return 0;
    if (invoking_len != 0 && (invoking == nullptr || invoking_len < kIp6Len))
        return 0;

    const size_t head = kRedirectHeaderLen + (target_lladdr ? kOptHeadLen : 0);
    size_t quote = 0;   // bytes of the invoking packet quoted
    size_t rh_len = 0;  // the Redirected Header option, its 8-byte head included
    if (invoking_len != 0) {
        // RFC 8200 3: the packet ends after Payload Length bytes; the rest is
        // link padding.
        const size_t ip_len = kIp6Len + (size_t(invoking[4]) << 8 | invoking[5]);
        // RFC 4861 4.6.3: truncated so the Redirect stays within the minimum
        // MTU; `room` is a whole number of units.
        const size_t room = kRedirectMaxLen - head - kOptHeadLen;
        quote = std::min({invoking_len, ip_len, room});
        rh_len = kOptHeadLen + (quote + kOptUnit - 1) / kOptUnit * kOptUnit;
    }
    const size_t total = head + rh_len;
    if (out.size() < total)
        return 0;

    uint8_t* p = out.data();
    // The quote first: out may overlap it.
    if (quote != 0) {
        uint8_t* rh = p + head;
        std::memmove(rh + kOptHeadLen, invoking, quote);
        std::memset(rh + kOptHeadLen + quote, 0, rh_len - kOptHeadLen - quote);
        rh[0] = kNdOptRedirectedHeader;
        rh[1] = uint8_t(rh_len / kOptUnit);
        std::memset(rh + 2, 0, 6);  // Reserved
    }

    // RFC 8200 3: the IPv6 header.
    std::memset(p, 0, kIp6Len);
    p[0] = kIp6Version << 4;
    put16(p + 4, uint16_t(total - kIp6Len));
    p[6] = kNextHeaderIcmp6;
    p[7] = kRedirectHopLimit;
    std::memcpy(p + 8, src.data(), 16);
    std::memcpy(p + 24, dst.data(), 16);

    // RFC 4861 4.5: the Redirect message.
    uint8_t* icmp = p + kIp6Len;
    std::memset(icmp, 0, 8);  // type, code, checksum, Reserved
    icmp[0] = kIcmp6Redirect;
    std::memcpy(icmp + 8, target.data(), 16);
    std::memcpy(icmp + 24, destination.data(), 16);
    if (target_lladdr) {
        // RFC 4861 4.6.1: Target Link-Layer Address, one unit.
        uint8_t* opt = p + kRedirectHeaderLen;
        opt[0] = kNdOptTargetLladdr;
        opt[1] = 1;
        std::memcpy(opt + 2, target_lladdr->data(), 6);
    }
    put16(icmp + 2, icmp6_checksum(src, dst, icmp, total - kIp6Len));
    return total;
}

}  // namespace fp6
