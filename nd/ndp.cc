#include "nd/ndp.h"
#include "common/bytes.h"

#include <cstring>

namespace fp6 {
namespace {

constexpr size_t kIp6HdrLen = 40;  // RFC 8200 3
constexpr uint8_t kNdHopLimit = 255;
constexpr uint8_t kMldHopLimit = 1;

/* Next Header values (IANA; RFC 8200 4, RFC 4303, RFC 4302, RFC 6275,
 * RFC 7401, RFC 5533, RFC 3692). */
constexpr uint8_t kNhHopByHop = 0;
constexpr uint8_t kNhRouting = 43;
constexpr uint8_t kNhFragment = 44;
constexpr uint8_t kNhEsp = 50;
constexpr uint8_t kNhAh = 51;
constexpr uint8_t kNhIcmp6 = 58;
constexpr uint8_t kNhDestOpts = 60;
constexpr uint8_t kNhMobility = 135;
constexpr uint8_t kNhHip = 139;
constexpr uint8_t kNhShim6 = 140;
constexpr uint8_t kNhExperiment1 = 253;
constexpr uint8_t kNhExperiment2 = 254;

/* Hop-by-Hop / Destination option types (RFC 8200 4.2, RFC 2711 2.1). */
constexpr uint8_t kOptPad1 = 0;
constexpr uint8_t kOptPadN = 1;
constexpr uint8_t kOptRouterAlert = 5;
constexpr uint16_t kRouterAlertMld = 0;

/* ND option types (RFC 4861 4.6, RFC 3971 5.3.2). */
constexpr uint8_t kNdOptSrcLladdr = 1;
constexpr uint8_t kNdOptTgtLladdr = 2;
constexpr uint8_t kNdOptPrefixInfo = 3;
constexpr uint8_t kNdOptMtu = 5;
constexpr uint8_t kNdOptNonce = 14;

/* Fixed lengths of the ICMPv6 part before options (RFC 4861 4.1-4.4). */
constexpr size_t kRsLen = 8;
constexpr size_t kRaLen = 16;
constexpr size_t kNsNaLen = 24;
constexpr size_t kMldHdrLen = 8;      // RFC 3810 5.2
constexpr size_t kMldRecordLen = 20;  // RFC 3810 5.2.4, without sources
constexpr size_t kNonceLen = 6;       // RFC 7527 4.2 / RFC 3971 5.3.2 minimum

/* RFC 1071: adds the bytes as big-endian 16-bit words, an odd last byte
 * padded with a zero byte, to acc (carries are folded later). */
uint64_t sum_words(const uint8_t* p, size_t n, uint64_t acc) {
    size_t i = 0;
    for (; i + 1 < n; i += 2)
        acc += get16(p + i);
    if (i < n)
        acc += uint32_t(p[i]) << 8;
    return acc;
}

uint16_t fold(uint64_t acc) {
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return uint16_t(acc);
}

/* RFC 8200 8.1: source, destination, upper-layer length, next header. */
uint64_t pseudo_header_sum(const Ip6& src, const Ip6& dst, size_t len) {
    uint64_t acc = sum_words(src.data(), 16, 0);
    acc = sum_words(dst.data(), 16, acc);
    acc += uint32_t(len) >> 16;
    acc += uint32_t(len) & 0xffff;
    return acc + kNhIcmp6;
}

/* ff02::1:ff00:0/104 (RFC 4291 2.7.1). */
bool is_solicited_node(const Ip6& a) {
    static constexpr uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    return std::memcmp(a.data(), kPrefix, sizeof(kPrefix)) == 0;
}

/* The IPv6 packet once its header and extension headers are checked. */
struct Ip6View {
    Ip6 src, dst;
    uint8_t hop_limit = 0;
    const uint8_t* l4 = nullptr;  // the ICMPv6 message
    size_t l4_len = 0;
    bool router_alert_mld = false;
};

/* Checks the TLV layout of a Hop-by-Hop or Destination Options header's
 * options, hdr[2, hdr_len) (RFC 8200 4.2), and notes a Router Alert for
 * MLD in a Hop-by-Hop header (RFC 2711 2.1). */
std::optional<NdDrop> walk_ext_options(const uint8_t* hdr, size_t hdr_len, bool hop_by_hop,
                                       Ip6View& v) {
    size_t i = 2;
    while (i < hdr_len) {
        const uint8_t type = hdr[i];
        if (type == kOptPad1) {
            i++;
            continue;
        }
        if (hdr_len - i < 2 || hdr_len - i - 2 < hdr[i + 1])
            return NdDrop::kBadExtHeader;  // RFC 8200 4.2: the option overruns its header
        const size_t opt_len = hdr[i + 1];
        const uint8_t* data = hdr + i + 2;
        if (hop_by_hop && type == kOptRouterAlert) {
            if (opt_len != 2)
                return NdDrop::kBadExtHeader;  // RFC 2711 2.1: Opt Data Len is 2
            if (get16(data) == kRouterAlertMld)
                v.router_alert_mld = true;
        } else if (type != kOptPadN && (type >> 6) != 0) {
            return NdDrop::kUnknownExtOption;  // RFC 8200 4.2: action 01, 10, 11 discard
        }
        i += 2 + opt_len;
    }
    return std::nullopt;
}

bool is_refused_ext_header(uint8_t nh) {
    switch (nh) {
        case kNhRouting:
        case kNhEsp:
        case kNhAh:
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

/* Walks the extension headers in p[kIp6HdrLen, end) up to ICMPv6. */
std::optional<NdDrop> walk_ext_headers(const uint8_t* p, size_t end, uint8_t nh, Ip6View& v) {
    size_t pos = kIp6HdrLen;
    for (int n = 0; n < kMaxExtHeaders && nh != kNhIcmp6; n++) {
        if (nh == kNhFragment)
            return NdDrop::kFragmented;  // RFC 6980 5
        if (is_refused_ext_header(nh))
            return NdDrop::kUnsupportedExtHeader;
        if (nh != kNhHopByHop && nh != kNhDestOpts)
            return NdDrop::kNotIcmp6;
        if (nh == kNhHopByHop && pos != kIp6HdrLen)
            return NdDrop::kBadExtHeader;  // RFC 8200 4.1: only right after the IPv6 header
        if (end - pos < 8)
            return NdDrop::kBadExtHeader;  // RFC 8200 4.3: at least 8 bytes
        const size_t hdr_len = (size_t(p[pos + 1]) + 1) * 8;
        if (end - pos < hdr_len)
            return NdDrop::kBadExtHeader;
        if (auto d = walk_ext_options(p + pos, hdr_len, nh == kNhHopByHop, v))
            return d;
        nh = p[pos];
        pos += hdr_len;
    }
    if (nh != kNhIcmp6)
        return NdDrop::kBadExtHeader;  // more than kMaxExtHeaders
    v.l4 = p + pos;
    v.l4_len = end - pos;
    return std::nullopt;
}

/* RFC 8200 3: the fixed header, a Payload Length within len, then the
 * extension headers. */
std::optional<NdDrop> parse_ip6(const uint8_t* p, size_t len, Ip6View& v) {
    if (p == nullptr || len < kIp6HdrLen)
        return NdDrop::kTruncated;
    if (p[0] >> 4 != 6)
        return NdDrop::kNotIpv6;
    const size_t payload_len = get16(p + 4);
    if (payload_len > len - kIp6HdrLen)
        return NdDrop::kTruncated;
    v.hop_limit = p[7];
    v.src = Ip6::from_bytes(p + 8);
    v.dst = Ip6::from_bytes(p + 24);
    return walk_ext_headers(p, kIp6HdrLen + payload_len, p[6], v);
}

/* RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2: the least ICMP length of each type;
 * 0 for a type this parser does not decode. */
size_t nd_min_len(uint8_t type) {
    switch (type) {
        case kIcmp6RouterSolicit:
            return kRsLen;
        case kIcmp6RouterAdvert:
            return kRaLen;
        case kIcmp6NeighborSolicit:
        case kIcmp6NeighborAdvert:
            return kNsNaLen;
        default:
            return 0;
    }
}

/* The fixed fields after the ICMP header (RFC 4861 4.2-4.4). */
std::optional<NdDrop> decode_fixed(const uint8_t* icmp, NdMessage& m) {
    switch (m.type) {
        case kIcmp6RouterAdvert:
            m.cur_hop_limit = icmp[4];
            m.managed = (icmp[5] & 0x80) != 0;
            m.other = (icmp[5] & 0x40) != 0;
            m.router_lifetime = get16(icmp + 6);
            m.reachable_time = get32(icmp + 8);
            m.retrans_timer = get32(icmp + 12);
            return std::nullopt;
        case kIcmp6NeighborAdvert:
            m.router = (icmp[4] & 0x80) != 0;
            m.solicited = (icmp[4] & 0x40) != 0;
            m.override_ = (icmp[4] & 0x20) != 0;
            [[fallthrough]];
        case kIcmp6NeighborSolicit:
            m.target = Ip6::from_bytes(icmp + 8);
            if (m.target.is_multicast())
                return NdDrop::kMulticastTarget;  // RFC 4861 7.1.1, 7.1.2
            return std::nullopt;
        default:
            return std::nullopt;
    }
}

/* Which options of a message have been seen (the first of each kind wins). */
struct OptionsSeen {
    bool nonce = false;
};

/* RFC 4861 4.6.1 and RFC 2464 8: an Ethernet link-layer address option is
 * one 8-byte unit. */
std::optional<NdDrop> take_lladdr(const uint8_t* opt, size_t size, std::optional<Mac>& into) {
    if (size != 8)
        return NdDrop::kBadOptionSize;
    if (!into)
        into = Mac::from_bytes(opt + 2);
    return std::nullopt;
}

/* RFC 4861 4.6.2: Length 4; a prefix length over 128 makes it skipped. */
std::optional<NdDrop> take_prefix(const uint8_t* opt, size_t size, NdMessage& m) {
    if (size != 32)
        return NdDrop::kBadOptionSize;
    const int plen = opt[2];
    if (plen > 128)
        return std::nullopt;
    NdPrefixInfo pi;
    pi.prefix = Prefix6(Ip6::from_bytes(opt + 16).masked(plen), plen);
    pi.on_link = (opt[3] & 0x80) != 0;
    pi.autonomous = (opt[3] & 0x40) != 0;
    pi.valid_lifetime = get32(opt + 4);
    pi.preferred_lifetime = get32(opt + 8);
    m.prefixes.push_back(pi);
    return std::nullopt;
}

/* RFC 4861 4.6.4: Length 1. */
std::optional<NdDrop> take_mtu(const uint8_t* opt, size_t size, NdMessage& m) {
    if (size != 8)
        return NdDrop::kBadOptionSize;
    if (!m.mtu)
        m.mtu = get32(opt + 4);
    return std::nullopt;
}

/* RFC 3971 5.3.2: the nonce fills the option after Type and Length; only a
 * 6-byte one (Length 1, as RFC 7527 sends) is kept. */
void take_nonce(const uint8_t* opt, size_t size, NdMessage& m, OptionsSeen& seen) {
    if (seen.nonce)
        return;
    seen.nonce = true;
    if (size - 2 != kNonceLen)
        return;
    uint64_t n = 0;
    for (size_t i = 0; i < kNonceLen; i++)
        n = n << 8 | opt[2 + i];
    m.nonce = n;
}

/* Decodes one option of `size` bytes, if the message's type carries it
 * (RFC 4861 4.1-4.4); any other is skipped (RFC 4861 4.6). */
std::optional<NdDrop> take_option(const uint8_t* opt, size_t size, NdMessage& m,
                                  OptionsSeen& seen) {
    const bool ra = m.type == kIcmp6RouterAdvert;
    switch (opt[0]) {
        case kNdOptSrcLladdr:
            if (m.type == kIcmp6NeighborAdvert)
                return std::nullopt;
            return take_lladdr(opt, size, m.src_lladdr);
        case kNdOptTgtLladdr:
            if (m.type != kIcmp6NeighborAdvert)
                return std::nullopt;
            return take_lladdr(opt, size, m.tgt_lladdr);
        case kNdOptPrefixInfo:
            return ra ? take_prefix(opt, size, m) : std::nullopt;
        case kNdOptMtu:
            return ra ? take_mtu(opt, size, m) : std::nullopt;
        case kNdOptNonce:
            take_nonce(opt, size, m, seen);
            return std::nullopt;
        default:
            return std::nullopt;
    }
}

/* RFC 4861 4.6: options fill opts[0, n) exactly, each of Length > 0
 * (6.1.1, 6.1.2, 7.1.1, 7.1.2) units of 8 bytes. */
std::optional<NdDrop> parse_options(const uint8_t* opts, size_t n, NdMessage& m) {
    OptionsSeen seen;
    size_t off = 0;
    while (off < n) {
        if (n - off < 2)
            return NdDrop::kOptionTruncated;
        const size_t size = size_t(opts[off + 1]) * 8;
        if (size == 0)
            return NdDrop::kOptionLenZero;
        if (size > n - off)
            return NdDrop::kOptionTruncated;
        if (auto d = take_option(opts + off, size, m, seen))
            return d;
        off += size;
    }
    return std::nullopt;
}

/* The rules on source and destination of each type. */
std::optional<NdDrop> check_addresses(const NdMessage& m) {
    const bool from_unspec = m.src.is_unspecified();
    switch (m.type) {
        case kIcmp6NeighborSolicit:
            if (from_unspec && !is_solicited_node(m.dst))
                return NdDrop::kUnspecSrcNotSolicitedNode;  // RFC 4861 7.1.1
            if (from_unspec && m.src_lladdr)
                return NdDrop::kUnspecSrcWithSlla;  // RFC 4861 7.1.1
            return std::nullopt;
        case kIcmp6NeighborAdvert:
            if (m.dst.is_multicast() && m.solicited)
                return NdDrop::kSolicitedToMulticast;  // RFC 4861 7.1.2
            return std::nullopt;
        case kIcmp6RouterSolicit:
            if (from_unspec && m.src_lladdr)
                return NdDrop::kUnspecSrcWithSlla;  // RFC 4861 6.1.1
            return std::nullopt;
        case kIcmp6RouterAdvert:
            if (!m.src.is_linklocal())
                return NdDrop::kRaSrcNotLinklocal;  // RFC 4861 6.1.2
            return std::nullopt;
        default:
            return std::nullopt;
    }
}

/* The checks common to every ND type on the ICMPv6 message, in order. */
std::optional<NdDrop> check_nd_icmp(const Ip6View& v) {
    if (v.l4_len < 4)
        return NdDrop::kTooShort;  // RFC 4443 2.1: no room for the ICMPv6 header
    const size_t min_len = nd_min_len(v.l4[0]);
    if (min_len == 0)
        return NdDrop::kWrongIcmpType;
    if (v.hop_limit != kNdHopLimit)
        return NdDrop::kBadHopLimit;  // RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2
    if (v.l4[1] != 0)
        return NdDrop::kBadCode;  // idem
    if (v.l4_len < min_len)
        return NdDrop::kTooShort;  // idem
    if (!icmp6_checksum_ok(v.src, v.dst, v.l4, v.l4_len))
        return NdDrop::kBadChecksum;  // idem
    if (v.src.is_multicast())
        return NdDrop::kMulticastSrc;  // RFC 4291 2.7: never a source address
    return std::nullopt;
}

/* The fixed ICMPv6 part of an MLDv2 Report (RFC 3810 5, 5.2, 5.2.13). */
std::optional<NdDrop> check_mld_icmp(const Ip6View& v) {
    if (v.l4_len < 4)
        return NdDrop::kTooShort;  // RFC 4443 2.1
    if (v.l4[0] != kIcmp6Mld2Report)
        return NdDrop::kWrongIcmpType;
    if (v.hop_limit != kMldHopLimit)
        return NdDrop::kBadHopLimit;  // RFC 3810 5
    if (v.l4_len < kMldHdrLen)
        return NdDrop::kTooShort;  // RFC 3810 5.2
    if (!icmp6_checksum_ok(v.src, v.dst, v.l4, v.l4_len))
        return NdDrop::kBadChecksum;  // RFC 3810 5.2.2
    if (!v.router_alert_mld)
        return NdDrop::kNoRouterAlert;  // RFC 3810 5
    if (!v.src.is_linklocal())
        return NdDrop::kMldSrcNotLinklocal;  // RFC 3810 5.2.13: :: is discarded too
    return std::nullopt;
}

/* RFC 3810 5.2.4-5.2.12: reads the records announced by the header. */
std::optional<NdDrop> parse_mld_records(const uint8_t* icmp, size_t len, Mld2Report& r) {
    const size_t count = get16(icmp + 6);
    size_t off = kMldHdrLen;
    for (size_t i = 0; i < count; i++) {
        if (len - off < kMldRecordLen)
            return NdDrop::kMldBadRecord;
        const uint8_t* rec = icmp + off;
        const size_t n_sources = get16(rec + 2);
        const size_t rec_len = kMldRecordLen + 16 * n_sources + 4 * size_t(rec[1]);
        if (len - off < rec_len)
            return NdDrop::kMldBadRecord;
        off += rec_len;
        const Ip6 group = Ip6::from_bytes(rec + 4);
        if (rec[0] < kMld2ModeIsInclude || rec[0] > kMld2BlockOldSources || !group.is_multicast())
            continue;  // RFC 3810 5.2.12: unrecognized record types are ignored
        Mld2Record out{rec[0], group, {}};
        for (size_t s = 0; s < n_sources; s++)
            out.sources.push_back(Ip6::from_bytes(rec + kMldRecordLen + 16 * s));
        r.records.push_back(std::move(out));
    }
    return std::nullopt;
}

/* RFC 8200 3: version 6, no traffic class or flow label. */
void put_ip6_header(uint8_t* p, size_t payload_len, uint8_t next_header, uint8_t hop_limit,
                    const Ip6& src, const Ip6& dst) {
    put32(p, 6u << 28);
    put16(p + 4, uint16_t(payload_len));
    p[6] = next_header;
    p[7] = hop_limit;
    std::memcpy(p + 8, src.data(), 16);
    std::memcpy(p + 24, dst.data(), 16);
}

/* RFC 4861 4.6.1: type, Length 1, the Ethernet address. */
uint8_t* put_lladdr_option(uint8_t* p, uint8_t type, const Mac& mac) {
    p[0] = type;
    p[1] = 1;
    std::memcpy(p + 2, mac.data(), 6);
    return p + 8;
}

/* RFC 3971 5.3.2: type 14, Length 1, a 6-byte nonce. */
uint8_t* put_nonce_option(uint8_t* p, uint64_t nonce) {
    p[0] = kNdOptNonce;
    p[1] = 1;
    for (size_t i = 0; i < kNonceLen; i++)
        p[2 + i] = uint8_t(nonce >> (8 * (kNonceLen - 1 - i)));
    return p + 8;
}

void set_checksum(uint8_t* icmp, size_t len, const Ip6& src, const Ip6& dst) {
    put16(icmp + 2, icmp6_checksum(src, dst, icmp, len));
}

/* Writes the IPv6 header and an NS or NA's first 24 bytes, zeroed
 * reserved fields included; returns where the options go. */
uint8_t* put_ns_na_head(uint8_t* p, size_t total, uint8_t type, const Ip6& src, const Ip6& dst,
                        const Ip6& target) {
    std::memset(p, 0, total);
    put_ip6_header(p, total - kIp6HdrLen, kNhIcmp6, kNdHopLimit, src, dst);
    uint8_t* icmp = p + kIp6HdrLen;
    icmp[0] = type;
    std::memcpy(icmp + 8, target.data(), 16);
    return icmp + kNsNaLen;
}

/* RFC 3810 6: groups that are never reported. */
bool is_reportable_group(const Ip6& g) {
    return g.is_multicast() && g.mcast_scope() > 1 && g != kAllNodes;
}

}  // namespace

const char* nd_drop_name(NdDrop d) {
    switch (d) {
        case NdDrop::kTruncated:
            return "truncated";
        case NdDrop::kNotIpv6:
            return "not_ipv6";
        case NdDrop::kBadExtHeader:
            return "bad_ext_header";
        case NdDrop::kUnknownExtOption:
            return "unknown_ext_option";
        case NdDrop::kFragmented:
            return "fragmented";
        case NdDrop::kUnsupportedExtHeader:
            return "unsupported_ext_header";
        case NdDrop::kNotIcmp6:
            return "not_icmp6";
        case NdDrop::kWrongIcmpType:
            return "wrong_icmp_type";
        case NdDrop::kBadHopLimit:
            return "bad_hop_limit";
        case NdDrop::kBadCode:
            return "bad_code";
        case NdDrop::kTooShort:
            return "too_short";
        case NdDrop::kBadChecksum:
            return "bad_checksum";
        case NdDrop::kMulticastSrc:
            return "multicast_src";
        case NdDrop::kMulticastTarget:
            return "multicast_target";
        case NdDrop::kOptionLenZero:
            return "option_len_zero";
        case NdDrop::kOptionTruncated:
            return "option_truncated";
        case NdDrop::kBadOptionSize:
            return "bad_option_size";
        case NdDrop::kUnspecSrcNotSolicitedNode:
            return "unspec_src_not_solicited_node";
        case NdDrop::kUnspecSrcWithSlla:
            return "unspec_src_with_slla";
        case NdDrop::kSolicitedToMulticast:
            return "solicited_to_multicast";
        case NdDrop::kRaSrcNotLinklocal:
            return "ra_src_not_linklocal";
        case NdDrop::kNoRouterAlert:
            return "no_router_alert";
        case NdDrop::kMldSrcNotLinklocal:
            return "mld_src_not_linklocal";
        case NdDrop::kMldBadRecord:
            return "mld_bad_record";
        case NdDrop::kCount:
            break;
    }
    return "?";
}

uint16_t icmp6_checksum(const Ip6& src, const Ip6& dst, const uint8_t* icmp, size_t len) {
    uint64_t acc = pseudo_header_sum(src, dst, len);
    acc = sum_words(icmp, len < 2 ? len : 2, acc);  // type, code
    if (len > 4)
        acc = sum_words(icmp + 4, len - 4, acc);  // past the checksum field
    return uint16_t(~fold(acc));
}

bool icmp6_checksum_ok(const Ip6& src, const Ip6& dst, const uint8_t* icmp, size_t len) {
    // RFC 1071: the sum over everything, checksum field included, is all ones.
    return fold(sum_words(icmp, len, pseudo_header_sum(src, dst, len))) == 0xffff;
}

NdParse parse_nd(const uint8_t* ipv6_packet, size_t len) {
    Ip6View v;
    if (auto d = parse_ip6(ipv6_packet, len, v))
        return *d;
    if (auto d = check_nd_icmp(v))
        return *d;
    NdMessage m;
    m.type = v.l4[0];
    m.src = v.src;
    m.dst = v.dst;
    m.hop_limit = v.hop_limit;
    if (auto d = decode_fixed(v.l4, m))
        return *d;
    const size_t fixed = nd_min_len(m.type);
    if (auto d = parse_options(v.l4 + fixed, v.l4_len - fixed, m))
        return *d;
    if (auto d = check_addresses(m))
        return *d;
    return m;
}

Mld2Parse parse_mld2_report(const uint8_t* ipv6_packet, size_t len) {
    Ip6View v;
    if (auto d = parse_ip6(ipv6_packet, len, v))
        return *d;
    if (auto d = check_mld_icmp(v))
        return *d;
    Mld2Report r;
    r.src = v.src;
    r.dst = v.dst;
    if (auto d = parse_mld_records(v.l4, v.l4_len, r))
        return *d;
    return r;
}

size_t build_ns(std::span<uint8_t> out, const Ip6& src, const Ip6& dst, const Ip6& target,
                std::optional<Mac> src_lladdr, std::optional<uint64_t> nonce) {
    if (src.is_multicast() || target.is_multicast())
        return 0;  // RFC 4291 2.7, RFC 4861 7.1.1
    if (src.is_unspecified() && (src_lladdr || !is_solicited_node(dst)))
        return 0;  // RFC 4861 7.1.1
    if (nonce && (*nonce >> 48) != 0)
        return 0;
    const size_t total = kIp6HdrLen + kNsNaLen + (src_lladdr ? 8 : 0) + (nonce ? 8 : 0);
    if (out.size() < total)
        return 0;
    uint8_t* opt = put_ns_na_head(out.data(), total, kIcmp6NeighborSolicit, src, dst, target);
    if (src_lladdr)
        opt = put_lladdr_option(opt, kNdOptSrcLladdr, *src_lladdr);
    if (nonce)
        put_nonce_option(opt, *nonce);
    set_checksum(out.data() + kIp6HdrLen, total - kIp6HdrLen, src, dst);
    return total;
}

size_t build_na(std::span<uint8_t> out, const Ip6& src, const Ip6& dst, const Ip6& target,
                bool router, bool solicited, bool override_, std::optional<Mac> tgt_lladdr) {
    if (src.is_multicast() || target.is_multicast())
        return 0;  // RFC 4291 2.7, RFC 4861 7.1.2
    if (solicited && dst.is_multicast())
        return 0;  // RFC 4861 7.1.2
    const size_t total = kIp6HdrLen + kNsNaLen + (tgt_lladdr ? 8 : 0);
    if (out.size() < total)
        return 0;
    uint8_t* opt = put_ns_na_head(out.data(), total, kIcmp6NeighborAdvert, src, dst, target);
    uint8_t* icmp = out.data() + kIp6HdrLen;
    icmp[4] = uint8_t((router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override_ ? 0x20 : 0));
    if (tgt_lladdr)
        put_lladdr_option(opt, kNdOptTgtLladdr, *tgt_lladdr);
    set_checksum(icmp, total - kIp6HdrLen, src, dst);
    return total;
}

size_t build_mld2_report(std::span<uint8_t> out, const Ip6& src, std::span<const Ip6> groups) {
    if (!src.is_linklocal() && !src.is_unspecified())
        return 0;  // RFC 3810 5.2.13
    for (const Ip6& g : groups)
        if (!is_reportable_group(g))
            return 0;  // RFC 3810 5.2.8, 6
    if (groups.size() > 0xffff)
        return 0;  // RFC 3810 5.2.3: a 16-bit count
    const size_t total = mld2_report_len(groups.size());
    if (total - kIp6HdrLen > 0xffff || out.size() < total)
        return 0;  // RFC 8200 3: a 16-bit Payload Length
    uint8_t* p = out.data();
    std::memset(p, 0, total);
    put_ip6_header(p, total - kIp6HdrLen, kNhHopByHop, kMldHopLimit, src, kAllMld2Routers);
    // RFC 3810 5 / RFC 2711 2.1: Router Alert (MLD) padded to 8 bytes by a PadN.
    uint8_t* hbh = p + kIp6HdrLen;
    const uint8_t hbh_bytes[8] = {kNhIcmp6, 0, kOptRouterAlert, 2, 0, 0, kOptPadN, 0};
    std::memcpy(hbh, hbh_bytes, sizeof(hbh_bytes));
    uint8_t* icmp = hbh + 8;
    icmp[0] = kIcmp6Mld2Report;
    put16(icmp + 6, uint16_t(groups.size()));
    uint8_t* rec = icmp + kMldHdrLen;
    for (const Ip6& g : groups) {
        rec[0] = kMld2ChangeToExclude;  // RFC 3810 6.1: join, all sources
        std::memcpy(rec + 4, g.data(), 16);
        rec += kMldRecordLen;
    }
    set_checksum(icmp, total - kIp6HdrLen - 8, src, kAllMld2Routers);
    return total;
}

Ip6 linklocal_from_mac(const Mac& mac) {
    const uint8_t* m = mac.data();
    // RFC 4291 2.5.1 and appendix A: the universal/local bit is flipped.
    return Ip6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, uint8_t(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe, m[3],
                m[4], m[5]});
}

}  // namespace fp6
