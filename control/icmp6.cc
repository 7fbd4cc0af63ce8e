/* ICMPv6 errors the router originates: see icmp6.h. */
#include "control/icmp6.h"
#include "common/bytes.h"

#include <algorithm>
#include <cstring>

#include "nd/ndp.h"

namespace fp6 {
namespace {

constexpr size_t kIp6Len = 40;
constexpr uint8_t kIpVersion = 6;

/* Next Header values (IANA "Assigned Internet Protocol Numbers"; the
 * extension headers are those of RFC 8200 4 and RFC 7045). */
constexpr uint8_t kNhHopByHop = 0;
constexpr uint8_t kNhTcp = 6;
constexpr uint8_t kNhUdp = 17;
constexpr uint8_t kNhRouting = 43;
constexpr uint8_t kNhFragment = 44;
constexpr uint8_t kNhAh = 51;
constexpr uint8_t kNhIcmp6 = 58;
constexpr uint8_t kNhNone = 59;
constexpr uint8_t kNhDestOpts = 60;
constexpr uint8_t kNhMobility = 135;
constexpr uint8_t kNhHip = 139;
constexpr uint8_t kNhShim6 = 140;
constexpr uint8_t kNhExperiment1 = 253;
constexpr uint8_t kNhExperiment2 = 254;

constexpr size_t kFragmentHeaderLen = 8;  // RFC 8200 4.5

/* len cut to the datagram (RFC 8200 3: Payload Length bytes follow the
 * header; what lies beyond is link padding). A Payload Length past len is
 * left to the caller. */
inline size_t datagram_len(const uint8_t* pkt, size_t len) {
    return std::min(len, kIp6Len + get16(pkt + 4));
}

/* Extension headers whose length is (Hdr Ext Len + 1) * 8 (RFC 8200 4.3,
 * 4.4, 4.6; RFC 6275 6.1.1, RFC 7401 5.1, RFC 5533 5.1, RFC 4727 for the
 * experimental values). */
inline bool is_ext_header_in_8s(uint8_t nh) {
    switch (nh) {
        case kNhHopByHop:
        case kNhRouting:
        case kNhDestOpts:
        case kNhMobility:
        case kNhHip:
        case kNhShim6:
        case kNhExperiment1:
        case kNhExperiment2:
            return true;
        default:
            return false;
    }
}

/* What the upper layer of an invoking packet is, for RFC 4443 2.4 (e.1),
 * (e.2). */
enum class Upper : uint8_t {
    kErrorOrRedirect,  // an ICMPv6 error or a Redirect
    kOther,            // anything else, or not in this packet (non-first fragment, ESP)
    kUnknown,          // the walk could not tell
};

Upper upper_layer(const uint8_t* pkt, size_t len) {
    uint8_t nh = pkt[6];
    size_t off = kIp6Len;
    for (int walked = 0;; walked++) {
        size_t hlen;
        if (nh == kNhIcmp6) {
            if (off >= len)
                return Upper::kUnknown;
            const uint8_t type = pkt[off];
            // RFC 4443 2.4 (e.1) errors are types 0-127 (2.1); (e.2) Redirect.
            if (type < kIcmp6FirstInfo || type == kIcmp6Redirect)
                return Upper::kErrorOrRedirect;
            return Upper::kOther;
        } else if (is_ext_header_in_8s(nh)) {
            if (off + 2 > len)
                return Upper::kUnknown;
            hlen = (size_t(pkt[off + 1]) + 1) * 8;
        } else if (nh == kNhAh) {
            // RFC 4302 2.2: Payload Len is the AH's length in 4-octet units, minus 2.
            if (off + 2 > len)
                return Upper::kUnknown;
            hlen = (size_t(pkt[off + 1]) + 2) * 4;
        } else if (nh == kNhFragment) {
            if (off + kFragmentHeaderLen > len)
                return Upper::kUnknown;
            // RFC 8200 4.5: only the first fragment (offset 0) holds the
            // upper-layer header.
            if ((get16(pkt + off + 2) & 0xfff8) != 0)
                return Upper::kOther;
            hlen = kFragmentHeaderLen;
        } else {
            return Upper::kOther;  // an upper layer, ESP, No Next Header, or unknown
        }
        if (walked == kIcmp6MaxExtHeaders || off + hlen > len)
            return Upper::kUnknown;
        nh = pkt[off];
        off += hlen;
    }
}

constexpr ParamProblem discard() {
    return {ParamProblem::Action::kDiscard, 0, 0, 0, 0};
}
constexpr ParamProblem send(uint8_t code, size_t pointer) {
    return {ParamProblem::Action::kSend, code, uint32_t(pointer), 0, 0};
}
constexpr ParamProblem accept(uint8_t next_header, size_t offset) {
    return {ParamProblem::Action::kAccept, 0, 0, next_header, uint32_t(offset)};
}

/* The options of a Hop-by-Hop or Destination Options header at
 * pkt[off, off + hlen) (RFC 8200 4.2). kAccept when every one may be skipped. */
ParamProblem check_options(const uint8_t* pkt, size_t off, size_t hlen, bool mcast_dst) {
    constexpr uint8_t kPad1 = 0;
    const size_t end = off + hlen;
    size_t i = off + 2;
    while (i < end) {
        const uint8_t type = pkt[i];
        // RFC 8200 4.2: Pad1 is a single octet, with no length or data.
        if (type == kPad1) {
            i++;
            continue;
        }
        if (i + 2 > end || i + 2 + pkt[i + 1] > end)
            return discard();  // the option runs past its header
        // RFC 8200 4.2: the two high bits of an unrecognized option's type say
        // what to do. fp6 acts on no option; those it meets (PadN, Router
        // Alert) have 00, and the control thread reads Router Alert itself.
        switch (type >> 6) {
            case 0:  // 00: skip over this option
                break;
            case 1:  // 01: discard the packet
                return discard();
            case 2:  // 10: discard, send Parameter Problem code 2 whatever the destination
                return send(kParamUnknownOption, i);
            default:  // 11: the same, only if the destination is not multicast
                if (mcast_dst)
                    return discard();
                return send(kParamUnknownOption, i);
        }
        i += 2 + size_t(pkt[i + 1]);
    }
    return accept(0, 0);
}

}  // namespace

size_t build_icmp6_error(std::span<uint8_t> out, const Ip6& src, uint8_t type, uint8_t code,
                         uint32_t param, const uint8_t* invoking, size_t invoking_len,
                         uint8_t hop_limit) {
    // RFC 4443 2.1: error messages are types 0-127.
    if (invoking == nullptr || invoking_len < kIp6Len || type >= kIcmp6FirstInfo)
        return 0;
    // RFC 4443 2.2: from a unicast address of the node.
    if (src.is_unspecified() || src.is_multicast())
        return 0;
    // RFC 4443 2.4 (e.6): to a source that names a single node.
    const Ip6 dst = Ip6::from_bytes(invoking + 8);
    if (dst.is_unspecified() || dst.is_multicast())
        return 0;
    // RFC 4443 2.4 (c): as much of the invoking packet as fits in the minimum MTU.
    const size_t quoted =
        std::min(datagram_len(invoking, invoking_len), kIcmp6ErrorMaxLen - kIcmp6ErrorHeaderLen);
    const size_t total = kIcmp6ErrorHeaderLen + quoted;
    if (out.size() < total)
        return 0;
    uint8_t* p = out.data();
    uint8_t* icmp = p + kIp6Len;
    // The quote first: out may overlap the invoking packet (an error built in
    // the invoking packet's own buffer).
    std::memmove(icmp + 8, invoking, quoted);

    // RFC 8200 3: the IPv6 header.
    p[0] = kIpVersion << 4;
    p[1] = p[2] = p[3] = 0;
    put16(p + 4, uint16_t(8 + quoted));
    p[6] = kNhIcmp6;
    p[7] = hop_limit;
    std::memcpy(p + 8, src.data(), 16);
    std::memcpy(p + 24, dst.data(), 16);
    // RFC 4443 2.1, 3.1-3.4: type, code, checksum, then the 32-bit field.
    icmp[0] = type;
    icmp[1] = code;
    icmp[2] = icmp[3] = 0;
    put32(icmp + 4, param);
    // RFC 4443 2.3.
    put16(icmp + 2, icmp6_checksum(src, dst, icmp, 8 + quoted));
    return total;
}

bool error_allowed(const uint8_t* invoking, size_t len, bool l2_multicast, uint8_t type,
                   uint8_t code, bool src_is_ours) {
    if (invoking == nullptr || len < kIp6Len || (invoking[0] >> 4) != kIpVersion)
        return false;
    if (type >= kIcmp6FirstInfo)
        return false;  // RFC 4443 2.1: not an error message
    len = datagram_len(invoking, len);
    const Ip6 src = Ip6::from_bytes(invoking + 8);
    const Ip6 dst = Ip6::from_bytes(invoking + 24);
    // RFC 4443 2.4 (e.6): a source that does not uniquely identify a single node.
    if (src.is_unspecified() || src.is_multicast() || src_is_ours)
        return false;
    // RFC 4443 2.4 (e.3), (e.4), (e.5): multicast destination, link-layer
    // multicast or broadcast, except Packet Too Big and Parameter Problem
    // code 2 for an unrecognized option of type 10xxxxxx.
    if (dst.is_multicast() || l2_multicast) {
        bool excepted = type == kIcmp6PacketTooBig;
        if (type == kIcmp6ParamProblem && code == kParamUnknownOption) {
            const ParamProblem pp = find_param_problem(invoking, len);
            excepted = pp.action == ParamProblem::Action::kSend && pp.code == kParamUnknownOption &&
                       pp.pointer < len && (invoking[pp.pointer] >> 6) == 2;
        }
        if (!excepted)
            return false;
    }
    // RFC 4443 2.4 (e.1), (e.2): an ICMPv6 error or a Redirect, wherever it
    // is in the header chain; silence when that cannot be told.
    return upper_layer(invoking, len) == Upper::kOther;
}

ParamProblem find_param_problem(const uint8_t* pkt, size_t len) {
    if (pkt == nullptr || len < kIp6Len || (pkt[0] >> 4) != kIpVersion)
        return discard();
    // RFC 8200 3: the payload must be there (a jumbogram, Payload Length 0,
    // ends in its Hop-by-Hop header here: fp6 does not take them).
    const size_t end = kIp6Len + get16(pkt + 4);
    if (end > len)
        return discard();
    const bool mcast_dst = Ip6::from_bytes(pkt + 24).is_multicast();
    uint8_t nh = pkt[6];
    size_t nh_at = 6;  // the Next Header field that names nh
    size_t off = kIp6Len;
    for (int walked = 0;; walked++) {
        switch (nh) {
            case kNhIcmp6:
            case kNhUdp:
            case kNhTcp:
            case kNhNone:
                return accept(nh, off);
            case kNhFragment:
                // RFC 8200 4.5: the rest needs reassembly.
                if (off + kFragmentHeaderLen > end)
                    return discard();
                return accept(nh, off);
            case kNhHopByHop:
                // RFC 8200 4.1: only right after the IPv6 header; elsewhere it
                // is an unrecognized Next Header.
                if (off != kIp6Len)
                    return send(kParamUnknownNextHeader, nh_at);
                break;
            case kNhDestOpts:
            case kNhRouting:
                break;
            default:
                // RFC 8200 4: an unrecognized Next Header: code 1, pointing at it.
                return send(kParamUnknownNextHeader, nh_at);
        }
        if (walked == kIcmp6MaxExtHeaders || off + 2 > end)
            return discard();
        const size_t hlen = (size_t(pkt[off + 1]) + 1) * 8;  // RFC 8200 4.3, 4.4, 4.6
        if (off + hlen > end)
            return discard();
        if (nh == kNhRouting) {
            // RFC 8200 4.4: Segments Left 0: ignore the header. Otherwise the
            // Routing Type is one fp6 does not process: code 0, pointing at it.
            if (pkt[off + 3] != 0)
                return send(kParamErroneousField, off + 2);
        } else {
            const ParamProblem opts = check_options(pkt, off, hlen, mcast_dst);
            if (opts.action != ParamProblem::Action::kAccept)
                return opts;
        }
        nh = pkt[off];
        nh_at = off;
        off += hlen;
    }
}

}  // namespace fp6
