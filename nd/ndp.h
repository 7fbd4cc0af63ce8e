/* The neighbour-discovery packet codec: pure functions over byte buffers that
 * validate and decode Router/Neighbor Solicitations and Advertisements
 * (RFC 4861) and MLDv2 Reports (RFC 3810), and build the NS, NA and MLDv2
 * Report messages fp6 sends. No DPDK in the API: a packet is the IPv6 header
 * and everything after it (`ipv6_packet`, `len`), and builders write into a
 * caller's buffer, so the codec can be unit-tested and fuzzed without EAL.
 *
 * Parsing never reads outside [ipv6_packet, ipv6_packet + len). Bytes past
 * the IPv6 Payload Length (Ethernet padding) are ignored.
 *
 * Extension headers between the IPv6 header and ICMPv6 (bounded walk, at most
 * kMaxExtHeaders of them):
 *  - Fragment: refused, `fragmented` (RFC 6980 5: no ND message may carry a
 *    Fragment header, atomic fragments included);
 *  - Hop-by-Hop (only right after the IPv6 header, RFC 8200 4.1) and
 *    Destination Options: skipped after checking their options' TLV layout;
 *    an unknown option whose action bits say "discard" refuses the packet
 *    (RFC 8200 4.2); a Hop-by-Hop Router Alert (RFC 2711) is noted for MLD;
 *  - Routing, AH, ESP and the other extension headers: refused,
 *    `unsupported_ext_header`;
 *  - any other Next Header (UDP, No Next Header, ...): `not_icmp6`.
 *
 * When a packet breaks several rules, the reason is the first failing check
 * in this order: IPv6 header, extension headers, ICMPv6 type, hop limit,
 * code, length, checksum, source address, target address, options (in
 * packet order), then the per-type source/destination rules. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "common/ip6.h"

namespace fp6 {

/* ICMPv6 types (RFC 4861 4.1-4.4, RFC 3810 5.2). */
inline constexpr uint8_t kIcmp6RouterSolicit = 133;
inline constexpr uint8_t kIcmp6RouterAdvert = 134;
inline constexpr uint8_t kIcmp6NeighborSolicit = 135;
inline constexpr uint8_t kIcmp6NeighborAdvert = 136;
inline constexpr uint8_t kIcmp6Mld2Report = 143;

/* ff02::16, where MLDv2 Reports go (RFC 3810 5.2.14). */
inline constexpr Ip6 kAllMld2Routers{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16}};

/* At most this many extension headers are walked before ICMPv6. */
inline constexpr int kMaxExtHeaders = 8;

/* Why a packet was refused. Each has a stable snake_case name, nd_drop_name(),
 * for per-reason counters; kCount is not a reason. */
enum class NdDrop : uint8_t {
    kTruncated,                  // "truncated": < 40 bytes, or Payload Length past len
    kNotIpv6,                    // "not_ipv6": version is not 6
    kBadExtHeader,               // "bad_ext_header": malformed or misplaced, or too many
    kUnknownExtOption,           // "unknown_ext_option": RFC 8200 4.2 action says discard
    kFragmented,                 // "fragmented": a Fragment header (RFC 6980 5)
    kUnsupportedExtHeader,       // "unsupported_ext_header": Routing, AH, ESP, ...
    kNotIcmp6,                   // "not_icmp6": the upper layer is not ICMPv6
    kWrongIcmpType,              // "wrong_icmp_type": not a type this parser decodes
    kBadHopLimit,                // "bad_hop_limit": not 255 (ND) or 1 (MLD)
    kBadCode,                    // "bad_code": ICMP code is not 0
    kTooShort,                   // "too_short": ICMP length below the type's minimum
    kBadChecksum,                // "bad_checksum"
    kMulticastSrc,               // "multicast_src": a multicast IPv6 source
    kMulticastTarget,            // "multicast_target": NS/NA target is multicast
    kOptionLenZero,              // "option_len_zero": an option with Length 0
    kOptionTruncated,            // "option_truncated": an option runs past the message
    kBadOptionSize,              // "bad_option_size": a known option of the wrong Length
    kUnspecSrcNotSolicitedNode,  // "unspec_src_not_solicited_node": NS from :: to another dst
    kUnspecSrcWithSlla,          // "unspec_src_with_slla": NS/RS from :: with an SLLA option
    kSolicitedToMulticast,       // "solicited_to_multicast": NA with S set to a multicast dst
    kRaSrcNotLinklocal,          // "ra_src_not_linklocal": RA from a non-link-local source
    kNoRouterAlert,              // "no_router_alert": MLD without Router Alert (value 0)
    kMldSrcNotLinklocal,         // "mld_src_not_linklocal": MLD from a non-link-local source
    kMldBadRecord,               // "mld_bad_record": a record runs past the message
    kCount,
};
inline constexpr size_t kNdDropCount = size_t(NdDrop::kCount);

/* The reason's stable snake_case name; "?" for a value out of range. */
const char* nd_drop_name(NdDrop d);

/* A Prefix Information option (RFC 4861 4.6.2); the prefix has its bits past
 * the prefix length cleared. */
struct NdPrefixInfo {
    Prefix6 prefix;
    bool on_link = false;     // L
    bool autonomous = false;  // A
    uint32_t valid_lifetime = 0;
    uint32_t preferred_lifetime = 0;
};

/* A validated RS, RA, NS or NA. Fields that the message's type does not
 * carry keep their defaults.
 *
 * Options: Source Link-Layer Address is read from RS, RA and NS, Target
 * Link-Layer Address from NA, Prefix Information and MTU from RA, Nonce from
 * all four; an option that RFC 4861 does not list for the type, or that is
 * unknown, is skipped (RFC 4861 4.6) after its length is checked. Of several
 * options of one kind the first wins, except Prefix Information, which are
 * all kept in packet order. A Prefix Information option with a prefix length
 * over 128 is skipped. */
struct NdMessage {
    uint8_t type = 0;  // kIcmp6RouterSolicit .. kIcmp6NeighborAdvert
    Ip6 src, dst;
    uint8_t hop_limit = 0;
    /* NS, NA */
    Ip6 target;
    bool router = false, solicited = false, override_ = false;  // NA flags R, S, O
    std::optional<Mac> src_lladdr, tgt_lladdr;
    /* The first Nonce option (RFC 3971 5.3.2, RFC 7527) when its nonce is
     * 6 bytes, in the low 48 bits (first byte most significant); a longer
     * nonce leaves this empty, as it cannot be one fp6 sent. */
    std::optional<uint64_t> nonce;
    /* RA (RFC 4861 4.2) */
    uint8_t cur_hop_limit = 0;
    bool managed = false, other = false;  // M, O
    uint16_t router_lifetime = 0;         // seconds
    uint32_t reachable_time = 0;          // milliseconds
    uint32_t retrans_timer = 0;           // milliseconds
    std::optional<uint32_t> mtu;
    std::vector<NdPrefixInfo> prefixes;
};

using NdParse = std::variant<NdMessage, NdDrop>;

/* Validates and decodes an RS, RA, NS or NA as RFC 4861 6.1.1, 6.1.2, 7.1.1
 * and 7.1.2 require (see the file comment for extension headers and for
 * which reason wins). Anything else is refused with a reason. */
NdParse parse_nd(const uint8_t* ipv6_packet, size_t len);

/* MLDv2 Multicast Address Record types (RFC 3810 5.2.12). */
inline constexpr uint8_t kMld2ModeIsInclude = 1;
inline constexpr uint8_t kMld2ModeIsExclude = 2;
inline constexpr uint8_t kMld2ChangeToInclude = 3;
inline constexpr uint8_t kMld2ChangeToExclude = 4;
inline constexpr uint8_t kMld2AllowNewSources = 5;
inline constexpr uint8_t kMld2BlockOldSources = 6;

struct Mld2Record {
    uint8_t type = 0;
    Ip6 group;
    std::vector<Ip6> sources;
};

/* A validated MLDv2 Report. Records of an unknown type (RFC 3810 5.2.12) or
 * whose address is not multicast are skipped; auxiliary data (5.2.10) and
 * bytes after the last record (5.2.11) are ignored. */
struct Mld2Report {
    Ip6 src, dst;
    std::vector<Mld2Record> records;
};

using Mld2Parse = std::variant<Mld2Report, NdDrop>;

/* Validates and decodes an MLDv2 Report as a router receives it (RFC 3810
 * 5 and 5.2.13): hop limit 1, a Hop-by-Hop Router Alert with value 0
 * (RFC 2711), a link-local source (a Report from :: is refused), a valid
 * checksum and records within the message. The Reserved byte after the type
 * is ignored (5.2.1); the destination is not checked. */
Mld2Parse parse_mld2_report(const uint8_t* ipv6_packet, size_t len);

/* The ICMPv6 checksum (RFC 4443 2.3) of the message icmp[0, len) sent from
 * src to dst, over the RFC 8200 8.1 pseudo-header, taking the message's own
 * checksum field (bytes 2-3) as zero. Returned in host order: store it
 * big-endian at icmp + 2. */
uint16_t icmp6_checksum(const Ip6& src, const Ip6& dst, const uint8_t* icmp, size_t len);

/* Whether the checksum field of icmp[0, len) is right for src -> dst
 * (either one's complement zero, 0x0000 or 0xffff, is accepted). */
bool icmp6_checksum_ok(const Ip6& src, const Ip6& dst, const uint8_t* icmp, size_t len);

/* The largest packets build_ns and build_na write. */
inline constexpr size_t kNsMaxLen = 40 + 24 + 8 + 8;
inline constexpr size_t kNaMaxLen = 40 + 24 + 8;

/* Writes an IPv6 + Neighbor Solicitation (RFC 4861 4.3) into out: hop limit
 * 255, then the Source Link-Layer Address option and the 6-byte Nonce option
 * (RFC 3971 5.3.2) when given, checksum set. Returns its length, or 0, writing
 * nothing, when out is too small or the NS would be
 * invalid (RFC 4861 7.1.1): a multicast source or target, a source of ::
 * with an SLLA or with a destination that is not a solicited-node group; or
 * a nonce that does not fit in 48 bits. */
size_t build_ns(std::span<uint8_t> out, const Ip6& src, const Ip6& dst, const Ip6& target,
                std::optional<Mac> src_lladdr, std::optional<uint64_t> nonce);

/* Writes an IPv6 + Neighbor Advertisement (RFC 4861 4.4) into out: hop limit
 * 255, flags R, S, O, the Target Link-Layer Address option when given,
 * checksum set. Returns its length, or 0 when out is too small or the NA
 * would be invalid (RFC 4861 7.1.2): a multicast source or target, or S set
 * with a multicast destination. */
size_t build_na(std::span<uint8_t> out, const Ip6& src, const Ip6& dst, const Ip6& target,
                bool router, bool solicited, bool override_, std::optional<Mac> tgt_lladdr);

/* Length of the packet build_mld2_report writes for n groups. */
constexpr size_t mld2_report_len(size_t n_groups) {
    return 40 + 8 + 8 + 20 * n_groups;
}

/* Writes an IPv6 + MLDv2 Report (RFC 3810 5.2) joining each group: to
 * ff02::16, hop limit 1, a Hop-by-Hop header with Router Alert value 0, one
 * CHANGE_TO_EXCLUDE_MODE record with no sources per group (RFC 3810 6.1: a
 * join that listens to all sources), checksum set. Returns its length,
 * mld2_report_len(groups.size()), or 0 when out is smaller (size out to the
 * link MTU and split the groups across Reports, RFC 3810 5.2.15), the Payload
 * Length would overflow, src is neither link-local nor :: (5.2.13), or a
 * group is not multicast, has scope 0 or 1, or is ff02::1 (RFC 3810 6: never
 * reported). */
size_t build_mld2_report(std::span<uint8_t> out, const Ip6& src, std::span<const Ip6> groups);

/* fe80::/64 with the modified EUI-64 interface identifier of mac (RFC 4291
 * 2.5.1 and appendix A): ff:fe inserted in the middle, the universal/local
 * bit flipped. 52:54:00:12:34:56 gives fe80::5054:ff:fe12:3456. */
Ip6 linklocal_from_mac(const Mac& mac);

}  // namespace fp6
