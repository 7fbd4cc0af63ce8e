/* The neighbour-discovery codec (nd/ndp.h): checksum, validation of every
 * RFC 4861 / RFC 3810 rule with its drop reason, option handling, builders
 * and their round-trips, EUI-64. No EAL: pkt_builder.h is used only for its
 * text helpers and as an independent (rte_raw_cksum) checksum.
 *
 * Every parse runs on an exact-size heap copy, so that under ASan a read past
 * the packet is caught. */
#include "nd/ndp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using test::ip;
using test::mac;
using Bytes = std::vector<uint8_t>;

/* Golden packets, made once with scapy 2.5.0 (/usr/bin/python3) by
 * bytes(IPv6(...)/...) and pasted; the scapy expression is above each. */

// IPv6(src="fe80::ff:fe00:1", dst="ff02::1:ff00:2", hlim=255)
//   / ICMPv6ND_NS(tgt="fe80::ff:fe00:2") / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
//   / ICMPv6NDOptUnknown(type=14, len=1, data=bytes([1, 2, 3, 4, 5, 6]))
// scapy's checksum: 0x6582.
const Bytes kGoldenNs = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02, 0x87, 0x00, 0x65, 0x82, 0x00, 0x00, 0x00, 0x00,
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x02,
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0e, 0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
};

// IPv6(src="fe80::ff:fe00:2", dst="fe80::ff:fe00:1", hlim=255)
//   / ICMPv6ND_NA(R=1, S=1, O=1, tgt="fe80::ff:fe00:2")
//   / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:02")
const Bytes kGoldenNa = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x02, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01, 0x88, 0x00, 0x9b, 0x19, 0xe0,
    0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
    0xfe, 0x00, 0x00, 0x02, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
};

// IPv6(src="fe80::1", dst="ff02::1", hlim=255)
//   / ICMPv6ND_RA(chlim=64, M=1, O=0, prf=0, routerlifetime=1800, reachabletime=30000,
//                 retranstimer=1000)
//   / ICMPv6NDOptSrcLLAddr(lladdr="52:54:00:12:34:56") / ICMPv6NDOptMTU(mtu=1500)
//   / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=86400,
//                           preferredlifetime=14400, prefix="2001:db8:1::")
const Bytes kGoldenRa = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0x00, 0x2d, 0x84, 0x40,
    0x80, 0x07, 0x08, 0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0x03, 0xe8, 0x01, 0x01, 0x52, 0x54,
    0x00, 0x12, 0x34, 0x56, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, 0x03, 0x04, 0x40,
    0xc0, 0x00, 0x01, 0x51, 0x80, 0x00, 0x00, 0x38, 0x40, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01,
    0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

// IPv6(src="fe80::ff:fe00:1", dst="ff02::16", hlim=1)
//   / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])   (scapy pads with a PadN)
//   / ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(rtype=4, dst="ff02::1:ff00:1"),
//                              ICMPv6MLDMultAddrRec(rtype=4, dst="ff02::1:ff00:2")])
const Bytes kGoldenMld = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x01, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x3a, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00,
    0x8f, 0x00, 0x6f, 0xeb, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00,
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02,
};

/* ---- Parsing on exact-size heap copies ---- */

NdParse parse(const Bytes& pkt) {
    auto copy = std::make_unique<uint8_t[]>(pkt.size());
    std::copy(pkt.begin(), pkt.end(), copy.get());
    return parse_nd(copy.get(), pkt.size());
}

Mld2Parse parse_mld(const Bytes& pkt) {
    auto copy = std::make_unique<uint8_t[]>(pkt.size());
    std::copy(pkt.begin(), pkt.end(), copy.get());
    return parse_mld2_report(copy.get(), pkt.size());
}

/* "accepted" or the drop reason's name: what the tables compare. */
template <typename Result>
std::string outcome(const Result& r) {
    if (const NdDrop* d = std::get_if<NdDrop>(&r))
        return nd_drop_name(*d);
    return "accepted";
}

const NdMessage& msg(const NdParse& r) {
    static const NdMessage kNone;
    const NdMessage* m = std::get_if<NdMessage>(&r);
    EXPECT_NE(m, nullptr) << "refused: " << outcome(r);
    return m != nullptr ? *m : kNone;
}

/* ---- Packet assembly for the tables ---- */

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

Bytes addr(const Ip6& a) {
    return Bytes(a.data(), a.data() + 16);
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

/* An IPv6 packet: header, `ext` (extension headers, their Next Header bytes
 * written by the caller; `first_nh` names the first), then the ICMPv6
 * message with its checksum set unless told otherwise. */
struct Packet {
    Ip6 src = ip("fe80::1");
    Ip6 dst = ip("fe80::2");
    uint8_t hop_limit = 255;
    uint8_t first_nh = 58;
    Bytes ext;
    Bytes icmp;
    bool fix_checksum = true;

    Bytes bytes() const {
        Bytes l4 = icmp;
        if (fix_checksum && l4.size() >= 4)
            put16(&l4[2], icmp6_checksum(src, dst, l4.data(), l4.size()));
        Bytes h(40, 0);
        h[0] = 0x60;
        put16(&h[4], uint16_t(ext.size() + l4.size()));
        h[6] = first_nh;
        h[7] = hop_limit;
        std::memcpy(&h[8], src.data(), 16);
        std::memcpy(&h[24], dst.data(), 16);
        return cat({h, ext, l4});
    }
};

Bytes ns_icmp(const Ip6& target, const Bytes& options = {}) {
    return cat({{135, 0, 0, 0, 0, 0, 0, 0}, addr(target), options});
}
Bytes na_icmp(uint8_t flags, const Ip6& target, const Bytes& options = {}) {
    return cat({{136, 0, 0, 0, flags, 0, 0, 0}, addr(target), options});
}
Bytes rs_icmp(const Bytes& options = {}) {
    return cat({{133, 0, 0, 0, 0, 0, 0, 0}, options});
}
Bytes ra_icmp(const Bytes& options = {}) {
    return cat({{134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0}, options});
}

constexpr uint8_t kNaR = 0x80, kNaS = 0x40, kNaO = 0x20;

Bytes opt_lladdr(uint8_t type, const Mac& m) {
    return cat({{type, 1}, Bytes(m.data(), m.data() + 6)});
}
Bytes slla(const Mac& m = mac("02:00:00:00:00:01")) {
    return opt_lladdr(1, m);
}
Bytes tlla(const Mac& m = mac("02:00:00:00:00:02")) {
    return opt_lladdr(2, m);
}
/* A Nonce option (RFC 3971 5.3.2) holding exactly `nonce`. */
Bytes opt_nonce(const Bytes& nonce) {
    return cat({{14, uint8_t((nonce.size() + 2) / 8)}, nonce});
}
/* Any option: type, Length field, then fill up to `units` * 8 bytes. */
Bytes opt_raw(uint8_t type, uint8_t len_field, size_t units, uint8_t fill = 0) {
    Bytes o(units * 8, fill);
    if (o.size() < 2)
        o.resize(2, fill);
    o[0] = type;
    o[1] = len_field;
    return o;
}
Bytes opt_mtu(uint32_t mtu) {
    return {5, 1, 0, 0, uint8_t(mtu >> 24), uint8_t(mtu >> 16), uint8_t(mtu >> 8), uint8_t(mtu)};
}
Bytes opt_prefix(const Ip6& p, uint8_t plen, uint8_t flags = 0xc0) {
    return cat({{3, 4, plen, flags, 0, 0, 0x0e, 0x10, 0, 0, 0x07, 0x08, 0, 0, 0, 0}, addr(p)});
}

/* Extension headers (RFC 8200 4.3, 4.4, 4.5, 4.6). */
Bytes opts_header(uint8_t next, const Bytes& options) {
    Bytes h = cat({{next, 0}, options});
    h[1] = uint8_t(h.size() / 8 - 1);
    return h;
}
Bytes padn6(uint8_t next) {
    return opts_header(next, {1, 4, 0, 0, 0, 0});
}
Bytes fragment_header(uint8_t next) {
    return {next, 0, 0, 0, 0, 0, 0, 1};  // offset 0, M 0: an atomic fragment
}

const Ip6 kLl1 = ip("fe80::1");
const Ip6 kLl2 = ip("fe80::2");
const Ip6 kSolNode2 = ip("ff02::1:ff00:2");

Packet ns_packet(const Bytes& options = slla()) {
    Packet p;
    p.icmp = ns_icmp(kLl2, options);
    return p;
}

Packet with_ext(Packet p, uint8_t first_nh, const Bytes& ext) {
    p.first_nh = first_nh;
    p.ext = ext;
    return p;
}

Packet with_hop(Packet p, uint8_t hop) {
    p.hop_limit = hop;
    return p;
}

Packet with_addrs(Packet p, const char* src, const char* dst) {
    p.src = ip(src);
    p.dst = ip(dst);
    return p;
}

Packet with_icmp(Packet p, const Bytes& icmp) {
    p.icmp = icmp;
    return p;
}

struct Case {
    const char* name;
    Bytes pkt;
    const char* want;  // "accepted" or a drop reason's name
};

void run_nd_cases(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(outcome(parse(c.pkt)), c.want);
    }
}

/* ---- Names ---- */

TEST(Ndp, DropNamesAreStableUniqueSnakeCase) {
    std::set<std::string> seen;
    for (size_t i = 0; i < kNdDropCount; i++) {
        const std::string name = nd_drop_name(NdDrop(i));
        SCOPED_TRACE(name);
        EXPECT_FALSE(name.empty());
        EXPECT_TRUE(std::all_of(name.begin(), name.end(), [](char ch) {
            return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
        }));
        EXPECT_TRUE(seen.insert(name).second) << "duplicate name";
    }
    EXPECT_STREQ(nd_drop_name(NdDrop::kCount), "?");
    // Counter names that dashboards rely on.
    EXPECT_STREQ(nd_drop_name(NdDrop::kFragmented), "fragmented");
    EXPECT_STREQ(nd_drop_name(NdDrop::kOptionLenZero), "option_len_zero");
    EXPECT_STREQ(nd_drop_name(NdDrop::kBadChecksum), "bad_checksum");
}

/* ---- Checksum ---- */

TEST(Ndp, ChecksumOfGoldenNsMatchesScapy) {
    const Ip6 src = Ip6::from_bytes(&kGoldenNs[8]);
    const Ip6 dst = Ip6::from_bytes(&kGoldenNs[24]);
    Bytes icmp(kGoldenNs.begin() + 40, kGoldenNs.end());
    EXPECT_EQ(icmp6_checksum(src, dst, icmp.data(), icmp.size()), 0x6582);
    EXPECT_TRUE(icmp6_checksum_ok(src, dst, icmp.data(), icmp.size()));
    // The field's own content does not count.
    icmp[2] = 0x12;
    icmp[3] = 0x34;
    EXPECT_EQ(icmp6_checksum(src, dst, icmp.data(), icmp.size()), 0x6582);
    EXPECT_FALSE(icmp6_checksum_ok(src, dst, icmp.data(), icmp.size()));
    // The pseudo-header counts (RFC 8200 8.1): another destination, another sum.
    EXPECT_NE(icmp6_checksum(src, kAllNodes, icmp.data(), icmp.size()), 0x6582);
}

TEST(Ndp, ChecksumAgreesWithRteRawCksum) {
    struct {
        const char* name;
        size_t data_len;
    } cases[] = {{"even", 8}, {"odd", 5}, {"empty", 0}, {"large", 1001}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const Bytes frame = test::Pkt()
                                .src("2001:db8::1")
                                .dst("2001:db8::2")
                                .echo_request(7, 9, c.data_len)
                                .bytes();
        const Bytes icmp(frame.begin() + test::kEthLen + test::kIp6Len, frame.end());
        const uint16_t want = uint16_t(icmp[2] << 8 | icmp[3]);
        EXPECT_EQ(icmp6_checksum(ip("2001:db8::1"), ip("2001:db8::2"), icmp.data(), icmp.size()),
                  want);
        EXPECT_TRUE(
            icmp6_checksum_ok(ip("2001:db8::1"), ip("2001:db8::2"), icmp.data(), icmp.size()));
    }
}

TEST(Ndp, ChecksumVerifierAcceptsBothZeros) {
    // Choose the word at bytes 4-5 so that the checksum comes out 0x0000;
    // 0xffff is the same one's complement value (RFC 1071).
    Bytes icmp = ns_icmp(kLl2);
    const uint16_t c = icmp6_checksum(kLl1, kLl2, icmp.data(), icmp.size());
    put16(&icmp[4], c);
    ASSERT_EQ(icmp6_checksum(kLl1, kLl2, icmp.data(), icmp.size()), 0);
    put16(&icmp[2], 0x0000);
    EXPECT_TRUE(icmp6_checksum_ok(kLl1, kLl2, icmp.data(), icmp.size()));
    put16(&icmp[2], 0xffff);
    EXPECT_TRUE(icmp6_checksum_ok(kLl1, kLl2, icmp.data(), icmp.size()));
}

/* ---- Validation: every rule, accepted and refused ---- */

TEST(Ndp, Ipv6HeaderRules) {
    const Bytes ok = ns_packet().bytes();
    Bytes v4 = ok;
    v4[0] = 0x40;
    Bytes long_plen = ok;
    put16(&long_plen[4], uint16_t(ok.size() - 40 + 1));
    Bytes padded = ok;
    padded.resize(ok.size() + 10, 0xee);  // Ethernet padding past the Payload Length
    run_nd_cases({
        {"valid", ok, "accepted"},
        {"padding_past_payload_ignored", padded, "accepted"},
        {"empty", {}, "truncated"},
        {"39_bytes", Bytes(ok.begin(), ok.begin() + 39), "truncated"},
        {"payload_length_past_len", long_plen, "truncated"},
        {"cut_before_payload_end", Bytes(ok.begin(), ok.end() - 1), "truncated"},
        {"version_4", v4, "not_ipv6"},
    });
}

TEST(Ndp, ExtensionHeaderRules) {
    const Packet ns = ns_packet();
    Bytes eight, nine;
    for (int i = 0; i < 8; i++)
        eight = cat({eight, padn6(i == 7 ? 58 : 60)});
    for (int i = 0; i < 9; i++)
        nine = cat({nine, padn6(i == 8 ? 58 : 60)});
    run_nd_cases({
        {"hop_by_hop_padn", with_ext(ns, 0, padn6(58)).bytes(), "accepted"},
        {"dest_opts_pad1s", with_ext(ns, 60, {58, 0, 0, 0, 0, 0, 0, 0}).bytes(), "accepted"},
        {"hop_by_hop_then_dest_opts", with_ext(ns, 0, cat({padn6(60), padn6(58)})).bytes(),
         "accepted"},
        {"skippable_unknown_option",  // RFC 8200 4.2: action 00
         with_ext(ns, 60, opts_header(58, {0x1e, 4, 1, 2, 3, 4})).bytes(), "accepted"},
        {"router_alert_in_ns", with_ext(ns, 0, opts_header(58, {5, 2, 0, 0, 1, 0})).bytes(),
         "accepted"},
        {"eight_headers", with_ext(ns, 60, eight).bytes(), "accepted"},
        {"nine_headers", with_ext(ns, 60, nine).bytes(), "bad_ext_header"},
        {"fragment", with_ext(ns, 44, fragment_header(58)).bytes(), "fragmented"},
        {"fragment_after_hop_by_hop",
         with_ext(ns, 0, cat({padn6(44), fragment_header(58)})).bytes(), "fragmented"},
        {"hop_by_hop_not_first", with_ext(ns, 60, cat({padn6(0), padn6(58)})).bytes(),
         "bad_ext_header"},
        {"header_past_payload", with_ext(ns, 60, {58, 10, 1, 4, 0, 0, 0, 0}).bytes(),
         "bad_ext_header"},
        {"header_shorter_than_8", with_icmp(with_ext(ns, 60, {58, 0, 1, 0}), {}).bytes(),
         "bad_ext_header"},
        {"option_overruns_header", with_ext(ns, 60, {58, 0, 1, 5, 0, 0, 0, 0}).bytes(),
         "bad_ext_header"},
        {"option_type_at_last_byte", with_ext(ns, 60, {58, 0, 0, 0, 0, 0, 0, 1}).bytes(),
         "bad_ext_header"},
        {"router_alert_bad_length", with_ext(ns, 0, opts_header(58, {5, 1, 0, 1, 0, 0})).bytes(),
         "bad_ext_header"},
        {"unknown_option_01", with_ext(ns, 60, opts_header(58, {0x5e, 4, 0, 0, 0, 0})).bytes(),
         "unknown_ext_option"},
        {"unknown_option_10", with_ext(ns, 60, opts_header(58, {0x9e, 4, 0, 0, 0, 0})).bytes(),
         "unknown_ext_option"},
        {"unknown_option_11", with_ext(ns, 60, opts_header(58, {0xde, 4, 0, 0, 0, 0})).bytes(),
         "unknown_ext_option"},
        {"jumbo_payload_option", with_ext(ns, 0, opts_header(58, {0xc2, 4, 0, 0, 1, 0})).bytes(),
         "unknown_ext_option"},
        {"routing_header", with_ext(ns, 43, {58, 0, 0, 0, 0, 0, 0, 0}).bytes(),
         "unsupported_ext_header"},
        {"auth_header", with_ext(ns, 51, {58, 0, 0, 0, 0, 0, 0, 0}).bytes(),
         "unsupported_ext_header"},
        {"esp", with_ext(ns, 50, {58, 0, 0, 0, 0, 0, 0, 0}).bytes(), "unsupported_ext_header"},
        {"udp", with_ext(ns, 17, {}).bytes(), "not_icmp6"},
        {"no_next_header", with_ext(ns, 59, {}).bytes(), "not_icmp6"},
        {"udp_after_dest_opts", with_ext(ns, 60, padn6(17)).bytes(), "not_icmp6"},
    });
}

TEST(Ndp, IcmpHeaderRules) {
    const Packet ns = ns_packet();
    Packet bad_sum = ns;
    bad_sum.icmp[2] = 0xde;
    bad_sum.icmp[3] = 0xad;
    bad_sum.fix_checksum = false;
    Packet bad_body = ns;
    bad_body.fix_checksum = false;
    Bytes bad_body_bytes = bad_body.bytes();  // checksum still 0
    Packet code1 = ns;
    code1.icmp[1] = 1;
    run_nd_cases({
        {"hop_limit_255", ns.bytes(), "accepted"},
        {"hop_limit_254", with_hop(ns, 254).bytes(), "bad_hop_limit"},
        {"hop_limit_1", with_hop(ns, 1).bytes(), "bad_hop_limit"},
        {"hop_limit_0", with_hop(ns, 0).bytes(), "bad_hop_limit"},
        {"code_1", code1.bytes(), "bad_code"},
        {"bad_checksum", bad_sum.bytes(), "bad_checksum"},
        {"zero_checksum", bad_body_bytes, "bad_checksum"},
        {"echo_request", with_icmp(ns, {128, 0, 0, 0, 0, 1, 0, 1}).bytes(), "wrong_icmp_type"},
        {"redirect",
         with_icmp(ns, cat({{137, 0, 0, 0, 0, 0, 0, 0}, addr(kLl2), addr(kLl2)})).bytes(),
         "wrong_icmp_type"},
        {"mld2_report", with_icmp(ns, {143, 0, 0, 0, 0, 0, 0, 0}).bytes(), "wrong_icmp_type"},
        {"icmp_3_bytes", with_icmp(ns, {135, 0, 0}).bytes(), "too_short"},
        {"icmp_0_bytes", with_icmp(ns, {}).bytes(), "too_short"},
        {"multicast_src", with_addrs(ns, "ff02::1", "fe80::2").bytes(), "multicast_src"},
    });
}

TEST(Ndp, MinimumLengthPerType) {
    auto cut = [](Bytes icmp, size_t n) {
        icmp.resize(n);
        return icmp;
    };
    Packet ns = ns_packet({});
    Packet ra = with_addrs(ns, "fe80::1", "ff02::1");
    run_nd_cases({
        {"ns_24", ns.bytes(), "accepted"},
        {"ns_23", with_icmp(ns, cut(ns_icmp(kLl2), 23)).bytes(), "too_short"},
        {"na_24", with_icmp(ns, na_icmp(0, kLl2)).bytes(), "accepted"},
        {"na_23", with_icmp(ns, cut(na_icmp(0, kLl2), 23)).bytes(), "too_short"},
        {"rs_8", with_icmp(ns, rs_icmp()).bytes(), "accepted"},
        {"rs_7", with_icmp(ns, cut(rs_icmp(), 7)).bytes(), "too_short"},
        {"ra_16", with_icmp(ra, ra_icmp()).bytes(), "accepted"},
        {"ra_15", with_icmp(ra, cut(ra_icmp(), 15)).bytes(), "too_short"},
    });
}

TEST(Ndp, TargetRules) {
    const Packet ns = ns_packet();
    run_nd_cases({
        {"ns_unicast_target", ns.bytes(), "accepted"},
        {"ns_multicast_target", with_icmp(ns, ns_icmp(ip("ff02::1"))).bytes(), "multicast_target"},
        {"na_unicast_target", with_icmp(ns, na_icmp(kNaS, kLl2)).bytes(), "accepted"},
        {"na_multicast_target", with_icmp(ns, na_icmp(kNaS, ip("ff02::2"))).bytes(),
         "multicast_target"},
    });
}

TEST(Ndp, OptionRules) {
    const Packet ns = ns_packet();
    const Packet ra = with_addrs(ns, "fe80::1", "ff02::1");
    const Packet na = with_icmp(ns, na_icmp(kNaS, kLl2, tlla()));
    run_nd_cases({
        {"no_options", with_icmp(ns, ns_icmp(kLl2)).bytes(), "accepted"},
        {"unknown_option_skipped", with_icmp(ns, ns_icmp(kLl2, opt_raw(200, 1, 1))).bytes(),
         "accepted"},
        {"unknown_long_option_skipped", with_icmp(ns, ns_icmp(kLl2, opt_raw(200, 3, 3))).bytes(),
         "accepted"},
        {"length_0_first", with_icmp(ns, ns_icmp(kLl2, opt_raw(1, 0, 1))).bytes(),
         "option_len_zero"},
        {"length_0_after_valid",
         with_icmp(ns, ns_icmp(kLl2, cat({slla(), opt_raw(9, 0, 1)}))).bytes(), "option_len_zero"},
        {"length_0_unknown_type", with_icmp(ns, ns_icmp(kLl2, opt_raw(200, 0, 2))).bytes(),
         "option_len_zero"},
        {"length_0_in_ra", with_icmp(ra, ra_icmp(opt_raw(5, 0, 1))).bytes(), "option_len_zero"},
        {"length_0_in_rs", with_icmp(ns, rs_icmp(opt_raw(1, 0, 1))).bytes(), "option_len_zero"},
        {"length_0_in_na", with_icmp(na, na_icmp(0, kLl2, opt_raw(2, 0, 1))).bytes(),
         "option_len_zero"},
        {"past_the_end", with_icmp(ns, ns_icmp(kLl2, opt_raw(1, 2, 1))).bytes(),
         "option_truncated"},
        {"length_255_past_the_end", with_icmp(ns, ns_icmp(kLl2, opt_raw(200, 255, 1))).bytes(),
         "option_truncated"},
        {"one_trailing_byte", with_icmp(ns, cat({ns_icmp(kLl2, slla()), {1}})).bytes(),
         "option_truncated"},
        {"seven_trailing_bytes",
         with_icmp(ns, cat({ns_icmp(kLl2), {200, 1, 0, 0, 0, 0, 0}})).bytes(), "option_truncated"},
        {"slla_length_2", with_icmp(ns, ns_icmp(kLl2, opt_raw(1, 2, 2))).bytes(),
         "bad_option_size"},
        {"tlla_length_2", with_icmp(na, na_icmp(0, kLl2, opt_raw(2, 2, 2))).bytes(),
         "bad_option_size"},
        {"prefix_length_3", with_icmp(ra, ra_icmp(opt_raw(3, 3, 3))).bytes(), "bad_option_size"},
        {"mtu_length_2", with_icmp(ra, ra_icmp(opt_raw(5, 2, 2))).bytes(), "bad_option_size"},
        {"tlla_in_ns_is_not_checked", with_icmp(ns, ns_icmp(kLl2, opt_raw(2, 2, 2))).bytes(),
         "accepted"},
        {"nonce_14_bytes", with_icmp(ns, ns_icmp(kLl2, opt_nonce(Bytes(14, 7)))).bytes(),
         "accepted"},
    });
}

TEST(Ndp, SourceAndDestinationRules) {
    const Packet dad = with_addrs(ns_packet({}), "::", "ff02::1:ff00:2");
    const Packet na = with_icmp(ns_packet(), na_icmp(kNaS, kLl2, tlla()));
    const Packet rs = with_icmp(with_addrs(ns_packet(), "::", "ff02::2"), rs_icmp());
    const Packet ra = with_icmp(with_addrs(ns_packet(), "fe80::1", "ff02::1"), ra_icmp(slla()));
    run_nd_cases({
        {"dad_ns", dad.bytes(), "accepted"},
        {"dad_ns_with_nonce", with_icmp(dad, ns_icmp(kLl2, opt_nonce({1, 2, 3, 4, 5, 6}))).bytes(),
         "accepted"},
        {"dad_ns_to_unicast", with_addrs(dad, "::", "fe80::2").bytes(),
         "unspec_src_not_solicited_node"},
        {"dad_ns_to_all_nodes", with_addrs(dad, "::", "ff02::1").bytes(),
         "unspec_src_not_solicited_node"},
        {"dad_ns_with_slla", with_icmp(dad, ns_icmp(kLl2, slla())).bytes(), "unspec_src_with_slla"},
        {"ns_to_solicited_node", with_addrs(ns_packet(), "fe80::1", "ff02::1:ff00:2").bytes(),
         "accepted"},
        {"na_solicited_unicast", na.bytes(), "accepted"},
        {"na_solicited_to_multicast", with_addrs(na, "fe80::1", "ff02::1").bytes(),
         "solicited_to_multicast"},
        {"na_unsolicited_to_all_nodes",
         with_icmp(with_addrs(na, "fe80::1", "ff02::1"), na_icmp(kNaO, kLl2, tlla())).bytes(),
         "accepted"},
        {"rs_from_unspecified", rs.bytes(), "accepted"},
        {"rs_from_unspecified_with_slla", with_icmp(rs, rs_icmp(slla())).bytes(),
         "unspec_src_with_slla"},
        {"rs_with_slla", with_icmp(with_addrs(rs, "fe80::1", "ff02::2"), rs_icmp(slla())).bytes(),
         "accepted"},
        {"ra_from_link_local", ra.bytes(), "accepted"},
        {"ra_from_global", with_addrs(ra, "2001:db8::1", "ff02::1").bytes(),
         "ra_src_not_linklocal"},
        {"ra_from_unspecified", with_addrs(ra, "::", "ff02::1").bytes(), "ra_src_not_linklocal"},
    });
}

TEST(Ndp, FirstFailingCheckNamesTheReason) {
    // Hop limit and checksum both wrong: the hop limit is checked first.
    Packet p = with_hop(ns_packet(), 64);
    p.fix_checksum = false;
    EXPECT_EQ(outcome(parse(p.bytes())), "bad_hop_limit");
    // Length 0 option then a bad SLLA: options are checked in packet order.
    EXPECT_EQ(outcome(parse(ns_packet(cat({opt_raw(9, 0, 1), opt_raw(1, 2, 2)})).bytes())),
              "option_len_zero");
    EXPECT_EQ(outcome(parse(ns_packet(cat({opt_raw(1, 2, 2), opt_raw(9, 0, 1)})).bytes())),
              "bad_option_size");
}

/* ---- Decoded fields ---- */

TEST(Ndp, DecodesGoldenNs) {
    const NdParse r = parse(kGoldenNs);
    const NdMessage& m = msg(r);
    EXPECT_EQ(m.type, kIcmp6NeighborSolicit);
    EXPECT_EQ(m.src, ip("fe80::ff:fe00:1"));
    EXPECT_EQ(m.dst, ip("ff02::1:ff00:2"));
    EXPECT_EQ(m.hop_limit, 255);
    EXPECT_EQ(m.target, ip("fe80::ff:fe00:2"));
    EXPECT_EQ(m.src_lladdr, mac("02:00:00:00:00:01"));
    EXPECT_FALSE(m.tgt_lladdr);
    EXPECT_EQ(m.nonce, 0x010203040506u);
}

TEST(Ndp, DecodesGoldenNa) {
    const NdParse r = parse(kGoldenNa);
    const NdMessage& m = msg(r);
    EXPECT_EQ(m.type, kIcmp6NeighborAdvert);
    EXPECT_EQ(m.target, ip("fe80::ff:fe00:2"));
    EXPECT_TRUE(m.router);
    EXPECT_TRUE(m.solicited);
    EXPECT_TRUE(m.override_);
    EXPECT_EQ(m.tgt_lladdr, mac("02:00:00:00:00:02"));
    EXPECT_FALSE(m.src_lladdr);
    EXPECT_FALSE(m.nonce);
}

TEST(Ndp, DecodesNaFlagsOneByOne) {
    struct {
        const char* name;
        uint8_t flags;
        bool r, s, o;
    } cases[] = {
        {"none", 0, false, false, false},
        {"router", kNaR, true, false, false},
        {"solicited", kNaS, false, true, false},
        {"override", kNaO, false, false, true},
        {"reserved_bits_ignored", 0x1f, false, false, false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const NdParse r = parse(with_icmp(ns_packet(), na_icmp(c.flags, kLl2)).bytes());
        const NdMessage& m = msg(r);
        EXPECT_EQ(m.router, c.r);
        EXPECT_EQ(m.solicited, c.s);
        EXPECT_EQ(m.override_, c.o);
    }
}

TEST(Ndp, DecodesGoldenRa) {
    const NdParse r = parse(kGoldenRa);
    const NdMessage& m = msg(r);
    EXPECT_EQ(m.type, kIcmp6RouterAdvert);
    EXPECT_EQ(m.src, ip("fe80::1"));
    EXPECT_EQ(m.cur_hop_limit, 64);
    EXPECT_TRUE(m.managed);
    EXPECT_FALSE(m.other);
    EXPECT_EQ(m.router_lifetime, 1800);
    EXPECT_EQ(m.reachable_time, 30000u);
    EXPECT_EQ(m.retrans_timer, 1000u);
    EXPECT_EQ(m.src_lladdr, mac("52:54:00:12:34:56"));
    EXPECT_EQ(m.mtu, 1500u);
    ASSERT_EQ(m.prefixes.size(), 1u);
    EXPECT_EQ(m.prefixes[0].prefix, *Prefix6::parse("2001:db8:1::/64"));
    EXPECT_TRUE(m.prefixes[0].on_link);
    EXPECT_TRUE(m.prefixes[0].autonomous);
    EXPECT_EQ(m.prefixes[0].valid_lifetime, 86400u);
    EXPECT_EQ(m.prefixes[0].preferred_lifetime, 14400u);
}

TEST(Ndp, RsDecodesSlla) {
    const Packet rs = with_icmp(ns_packet(), rs_icmp(slla(mac("52:54:00:00:00:09"))));
    const NdParse r = parse(rs.bytes());
    EXPECT_EQ(msg(r).type, kIcmp6RouterSolicit);
    EXPECT_EQ(msg(r).src_lladdr, mac("52:54:00:00:00:09"));
}

TEST(Ndp, DuplicateOptionsFirstWins) {
    const Mac a = mac("02:00:00:00:00:0a"), b = mac("02:00:00:00:00:0b");
    {
        SCOPED_TRACE("ns: two SLLAs, two nonces");
        const NdParse r = parse(ns_packet(cat({slla(a), opt_nonce({0, 0, 0, 0, 0, 1}), slla(b),
                                               opt_nonce({0, 0, 0, 0, 0, 2})}))
                                    .bytes());
        EXPECT_EQ(msg(r).src_lladdr, a);
        EXPECT_EQ(msg(r).nonce, 1u);
    }
    {
        SCOPED_TRACE("na: two TLLAs");
        const NdParse r =
            parse(with_icmp(ns_packet(), na_icmp(kNaS, kLl2, cat({tlla(a), tlla(b)}))).bytes());
        EXPECT_EQ(msg(r).tgt_lladdr, a);
    }
    {
        SCOPED_TRACE("ra: two MTUs and SLLAs first wins, every prefix kept in order");
        const Packet ra = with_icmp(
            with_addrs(ns_packet(), "fe80::1", "ff02::1"),
            ra_icmp(cat({opt_mtu(1500), slla(a), opt_prefix(ip("2001:db8:1::"), 64), opt_mtu(9000),
                         slla(b), opt_prefix(ip("2001:db8:2::"), 48, 0x80)})));
        const NdParse r = parse(ra.bytes());
        const NdMessage& m = msg(r);
        EXPECT_EQ(m.mtu, 1500u);
        EXPECT_EQ(m.src_lladdr, a);
        ASSERT_EQ(m.prefixes.size(), 2u);
        EXPECT_EQ(m.prefixes[0].prefix.str(), "2001:db8:1::/64");
        EXPECT_EQ(m.prefixes[1].prefix.str(), "2001:db8:2::/48");
        EXPECT_TRUE(m.prefixes[1].on_link);
        EXPECT_FALSE(m.prefixes[1].autonomous);
    }
}

TEST(Ndp, OptionsOfAnotherTypeOrUnknownAreSkipped) {
    const Mac a = mac("02:00:00:00:00:0a");
    {
        SCOPED_TRACE("TLLA, MTU and prefix in an NS");
        const NdParse r = parse(ns_packet(cat({opt_raw(200, 2, 2, 0xff), tlla(a), opt_mtu(1280),
                                               opt_prefix(ip("2001:db8::"), 64)}))
                                    .bytes());
        EXPECT_FALSE(msg(r).tgt_lladdr);
        EXPECT_FALSE(msg(r).src_lladdr);
        EXPECT_FALSE(msg(r).mtu);
        EXPECT_TRUE(msg(r).prefixes.empty());
    }
    {
        SCOPED_TRACE("SLLA in an NA");
        const NdParse r = parse(with_icmp(ns_packet(), na_icmp(0, kLl2, slla(a))).bytes());
        EXPECT_FALSE(msg(r).src_lladdr);
        EXPECT_FALSE(msg(r).tgt_lladdr);
    }
}

TEST(Ndp, NonceParsing) {
    struct {
        const char* name;
        Bytes options;
        std::optional<uint64_t> want;
    } cases[] = {
        {"six_bytes", opt_nonce({1, 2, 3, 4, 5, 6}), 0x010203040506u},
        {"high_bits", opt_nonce({0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa}), 0xffeeddccbbaau},
        {"zero", opt_nonce({0, 0, 0, 0, 0, 0}), 0u},
        {"absent", slla(), std::nullopt},
        {"fourteen_bytes_not_ours", opt_nonce(Bytes(14, 1)), std::nullopt},
        {"first_long_then_short", cat({opt_nonce(Bytes(14, 1)), opt_nonce({0, 0, 0, 0, 0, 9})}),
         std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const NdParse r = parse(ns_packet(c.options).bytes());
        EXPECT_EQ(msg(r).nonce, c.want);
    }
}

TEST(Ndp, PrefixInformationIsNormalised) {
    const Packet ra = with_icmp(
        with_addrs(ns_packet(), "fe80::1", "ff02::1"),
        ra_icmp(cat({opt_prefix(ip("2001:db8:1::ff"), 64), opt_prefix(ip("2001:db8:2::"), 129),
                     opt_prefix(ip("::"), 0), opt_prefix(ip("2001:db8::1"), 128)})));
    const NdParse r = parse(ra.bytes());
    const NdMessage& m = msg(r);
    ASSERT_EQ(m.prefixes.size(), 3u) << "the /129 is skipped";
    EXPECT_EQ(m.prefixes[0].prefix.str(), "2001:db8:1::/64") << "host bits cleared";
    EXPECT_EQ(m.prefixes[1].prefix.str(), "::/0");
    EXPECT_EQ(m.prefixes[2].prefix.str(), "2001:db8::1/128");
}

/* ---- Never past the buffer ---- */

TEST(Ndp, EveryCutOfAGoldenPacketIsRefused) {
    for (const Bytes* golden : {&kGoldenNs, &kGoldenNa, &kGoldenRa}) {
        for (size_t n = 0; n < golden->size(); n++) {
            SCOPED_TRACE(n);
            const Bytes cut(golden->begin(), golden->begin() + n);
            EXPECT_EQ(outcome(parse(cut)), "truncated");
        }
    }
    for (size_t n = 0; n < kGoldenMld.size(); n++) {
        SCOPED_TRACE(n);
        EXPECT_EQ(outcome(parse_mld(Bytes(kGoldenMld.begin(), kGoldenMld.begin() + n))),
                  "truncated");
    }
}

TEST(Ndp, EveryCutOfTheOptionsIsRefusedOrWhole) {
    // Cut the NS and fix Payload Length and checksum, so that the parser
    // walks the options up to the cut.
    const Bytes opts = cat({slla(), opt_raw(200, 3, 3, 0x11), opt_nonce({1, 2, 3, 4, 5, 6})});
    const std::set<size_t> whole = {0, 8, 32, 40};
    for (size_t n = 0; n <= opts.size(); n++) {
        SCOPED_TRACE(n);
        const Bytes pkt = ns_packet(Bytes(opts.begin(), opts.begin() + n)).bytes();
        EXPECT_EQ(outcome(parse(pkt)), whole.count(n) ? "accepted" : "option_truncated");
    }
}

TEST(Ndp, RandomMutationsStayInBoundsAndKeepInvariants) {
    std::mt19937 rng(4861);
    const Bytes* seeds[] = {&kGoldenNs, &kGoldenNa, &kGoldenRa, &kGoldenMld};
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        Bytes p = *seeds[iter % 4];
        const int flips = 1 + int(rng() % 4);
        for (int f = 0; f < flips; f++)
            p[rng() % p.size()] = uint8_t(rng());
        if (rng() % 4 == 0)
            p.resize(rng() % (p.size() + 1));
        const NdParse r = parse(p);
        (void)parse_mld(p);
        if (const NdMessage* m = std::get_if<NdMessage>(&r)) {
            accepted++;
            EXPECT_EQ(m->hop_limit, 255);
            EXPECT_FALSE(m->target.is_multicast());
            EXPECT_FALSE(m->src.is_multicast());
        }
    }
    // Flipping bytes covered by the checksum is nearly always caught.
    EXPECT_LT(accepted, 20000);
}

/* ---- Builders ---- */

TEST(Ndp, BuildNsMatchesScapy) {
    uint8_t buf[kNsMaxLen];
    const size_t n = build_ns(buf, ip("fe80::ff:fe00:1"), ip("ff02::1:ff00:2"),
                              ip("fe80::ff:fe00:2"), mac("02:00:00:00:00:01"), 0x010203040506u);
    EXPECT_EQ(Bytes(buf, buf + n), kGoldenNs);
}

TEST(Ndp, BuildNaMatchesScapy) {
    uint8_t buf[kNaMaxLen];
    const size_t n = build_na(buf, ip("fe80::ff:fe00:2"), ip("fe80::ff:fe00:1"),
                              ip("fe80::ff:fe00:2"), true, true, true, mac("02:00:00:00:00:02"));
    EXPECT_EQ(Bytes(buf, buf + n), kGoldenNa);
}

TEST(Ndp, BuildMld2ReportMatchesScapy) {
    const Ip6 groups[] = {ip("ff02::1:ff00:1"), ip("ff02::1:ff00:2")};
    uint8_t buf[mld2_report_len(2)];
    const size_t n = build_mld2_report(buf, ip("fe80::ff:fe00:1"), groups);
    EXPECT_EQ(Bytes(buf, buf + n), kGoldenMld);
}

TEST(Ndp, BuildNsRoundTrips) {
    struct {
        const char* name;
        Ip6 src, dst;
        std::optional<Mac> slla;
        std::optional<uint64_t> nonce;
    } cases[] = {
        {"resolution", kLl1, kSolNode2, mac("02:00:00:00:00:01"), std::nullopt},
        {"unicast_nud", ip("2001:db8::1"), ip("2001:db8::2"), mac("02:00:00:00:00:01"),
         std::nullopt},
        {"no_options", kLl1, kLl2, std::nullopt, std::nullopt},
        {"dad", ip("::"), kSolNode2, std::nullopt, 0xfedcba987654u},
        {"dad_no_nonce", ip("::"), kSolNode2, std::nullopt, std::nullopt},
        {"slla_and_nonce", kLl1, kSolNode2, mac("52:54:00:12:34:56"), 1u},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        uint8_t buf[kNsMaxLen];
        const size_t n = build_ns(buf, c.src, c.dst, kLl2, c.slla, c.nonce);
        ASSERT_NE(n, 0u);
        EXPECT_EQ(n, 64u + (c.slla ? 8 : 0) + (c.nonce ? 8 : 0));
        const NdParse r = parse(Bytes(buf, buf + n));
        const NdMessage& m = msg(r);
        EXPECT_EQ(m.type, kIcmp6NeighborSolicit);
        EXPECT_EQ(m.src, c.src);
        EXPECT_EQ(m.dst, c.dst);
        EXPECT_EQ(m.target, kLl2);
        EXPECT_EQ(m.src_lladdr, c.slla);
        EXPECT_EQ(m.nonce, c.nonce);
    }
}

TEST(Ndp, BuildNaRoundTrips) {
    struct {
        const char* name;
        Ip6 dst;
        bool r, s, o;
        std::optional<Mac> tlla;
    } cases[] = {
        {"solicited", kLl1, false, true, true, mac("02:00:00:00:00:02")},
        {"router_solicited", kLl1, true, true, false, mac("02:00:00:00:00:02")},
        {"unsolicited_to_all_nodes", kAllNodes, false, false, true, mac("02:00:00:00:00:02")},
        {"dad_defence_to_all_nodes", kAllNodes, true, false, true, mac("02:00:00:00:00:02")},
        {"no_tlla", kLl1, false, true, false, std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        uint8_t buf[kNaMaxLen];
        const size_t n = build_na(buf, kLl2, c.dst, kLl2, c.r, c.s, c.o, c.tlla);
        ASSERT_NE(n, 0u);
        const NdParse r = parse(Bytes(buf, buf + n));
        const NdMessage& m = msg(r);
        EXPECT_EQ(m.type, kIcmp6NeighborAdvert);
        EXPECT_EQ(m.dst, c.dst);
        EXPECT_EQ(m.router, c.r);
        EXPECT_EQ(m.solicited, c.s);
        EXPECT_EQ(m.override_, c.o);
        EXPECT_EQ(m.tgt_lladdr, c.tlla);
    }
}

TEST(Ndp, BuildMld2ReportRoundTrips) {
    std::vector<Ip6> many;
    for (int i = 0; i < 61; i++)  // as many as fit in 1280 bytes (RFC 3810 5.2.15)
        many.push_back(Ip6({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, uint8_t(i)}));
    struct {
        const char* name;
        std::vector<Ip6> groups;
    } cases[] = {
        {"one", {ip("ff02::1:ff00:1")}},
        {"three_scopes", {ip("ff02::1:ff00:1"), ip("ff05::1:3"), ip("ff0e::101")}},
        {"none", {}},
        {"sixty_one", many},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Bytes buf(1280);
        const size_t n = build_mld2_report(buf, kLl1, c.groups);
        ASSERT_EQ(n, mld2_report_len(c.groups.size()));
        ASSERT_LE(n, 1280u);
        const Mld2Parse r = parse_mld(Bytes(buf.begin(), buf.begin() + n));
        ASSERT_EQ(outcome(r), "accepted");
        const Mld2Report& rep = std::get<Mld2Report>(r);
        EXPECT_EQ(rep.src, kLl1);
        EXPECT_EQ(rep.dst, kAllMld2Routers);
        ASSERT_EQ(rep.records.size(), c.groups.size());
        for (size_t i = 0; i < c.groups.size(); i++) {
            EXPECT_EQ(rep.records[i].type, kMld2ChangeToExclude);
            EXPECT_EQ(rep.records[i].group, c.groups[i]);
            EXPECT_TRUE(rep.records[i].sources.empty());
        }
    }
}

TEST(Ndp, BuildersRefuseInvalidMessagesAndSmallBuffers) {
    const Mac m = mac("02:00:00:00:00:01");
    uint8_t buf[kNsMaxLen + 1];
    const std::span<uint8_t> all(buf);
    struct {
        const char* name;
        size_t got;
    } cases[] = {
        {"ns_buffer_one_short", build_ns(all.first(kNsMaxLen - 1), kLl1, kSolNode2, kLl2, m, 1)},
        {"ns_multicast_target", build_ns(all, kLl1, kSolNode2, kAllNodes, m, std::nullopt)},
        {"ns_multicast_src", build_ns(all, kAllNodes, kSolNode2, kLl2, m, std::nullopt)},
        {"ns_dad_with_slla", build_ns(all, Ip6(), kSolNode2, kLl2, m, std::nullopt)},
        {"ns_dad_to_unicast", build_ns(all, Ip6(), kLl2, kLl2, std::nullopt, 1)},
        {"ns_nonce_over_48_bits", build_ns(all, kLl1, kSolNode2, kLl2, m, 1ull << 48)},
        {"na_buffer_one_short",
         build_na(all.first(kNaMaxLen - 1), kLl1, kLl2, kLl1, false, true, true, m)},
        {"na_solicited_to_multicast", build_na(all, kLl1, kAllNodes, kLl1, false, true, true, m)},
        {"na_multicast_target", build_na(all, kLl1, kLl2, kAllNodes, false, true, true, m)},
        {"na_multicast_src", build_na(all, kAllNodes, kLl2, kLl1, false, false, true, m)},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(c.got, 0u);
    }
}

TEST(Ndp, BuildMld2ReportRefusals) {
    const Ip6 sol = ip("ff02::1:ff00:1");
    struct {
        const char* name;
        Ip6 src;
        std::vector<Ip6> groups;
        size_t buf_len;
    } cases[] = {
        {"buffer_one_short", kLl1, {sol}, mld2_report_len(1) - 1},
        {"global_src", ip("2001:db8::1"), {sol}, 1280},
        {"unicast_group", kLl1, {sol, ip("2001:db8::1")}, 1280},
        {"all_nodes", kLl1, {ip("ff02::1")}, 1280},
        {"interface_local_scope", kLl1, {ip("ff01::fb")}, 1280},
        {"reserved_scope", kLl1, {ip("ff00::fb")}, 1280},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Bytes buf(c.buf_len, 0xaa);
        EXPECT_EQ(build_mld2_report(buf, c.src, c.groups), 0u);
        EXPECT_EQ(buf, Bytes(c.buf_len, 0xaa)) << "nothing written";
    }
}

TEST(Ndp, Mld2ReportFromUnspecifiedIsBuiltButRefusedByRouters) {
    // RFC 3810 5.2.13: a node without a link-local address yet reports from
    // ::, and a router discards that Report.
    const Ip6 groups[] = {ip("ff02::1:ff00:1")};
    Bytes buf(mld2_report_len(1));
    ASSERT_EQ(build_mld2_report(buf, Ip6(), groups), buf.size());
    EXPECT_EQ(outcome(parse_mld(buf)), "mld_src_not_linklocal");
}

/* ---- MLDv2 Report validation ---- */

/* An MLDv2 Report with a Router Alert hop-by-hop header. */
Packet mld_packet(const Bytes& records_and_count) {
    Packet p;
    p.src = kLl1;
    p.dst = kAllMld2Routers;
    p.hop_limit = 1;
    p.first_nh = 0;
    p.ext = opts_header(58, {5, 2, 0, 0, 1, 0});
    p.icmp = cat({{143, 0, 0, 0, 0, 0}, records_and_count});
    return p;
}

Bytes mld_record(uint8_t type, const Ip6& group, const std::vector<Ip6>& sources = {},
                 uint8_t aux_words = 0) {
    Bytes r = cat({{type, aux_words, 0, uint8_t(sources.size())}, addr(group)});
    for (const Ip6& s : sources)
        r = cat({r, addr(s)});
    return cat({r, Bytes(4 * aux_words, 0x77)});
}

TEST(Ndp, Mld2ReportRules) {
    const Ip6 g = ip("ff02::1:ff00:1");
    const Packet ok = mld_packet(cat({{0, 1}, mld_record(4, g)}));
    Packet bad_sum = ok;
    bad_sum.fix_checksum = false;
    Packet reserved_set = ok;
    reserved_set.icmp[1] = 0x5a;  // RFC 3810 5.2.1: ignored on reception
    const Bytes one_source = mld_record(4, g, {kLl1});
    struct {
        const char* name;
        Bytes pkt;
        const char* want;
    } cases[] = {
        {"valid", ok.bytes(), "accepted"},
        {"reserved_byte_set", reserved_set.bytes(), "accepted"},
        {"no_hop_by_hop", with_ext(ok, 58, {}).bytes(), "no_router_alert"},
        {"hop_by_hop_without_router_alert", with_ext(ok, 0, padn6(58)).bytes(), "no_router_alert"},
        {"router_alert_rsvp", with_ext(ok, 0, opts_header(58, {5, 2, 0, 1, 1, 0})).bytes(),
         "no_router_alert"},
        {"router_alert_in_dest_opts", with_ext(ok, 60, opts_header(58, {5, 2, 0, 0, 1, 0})).bytes(),
         "no_router_alert"},
        {"hop_limit_255", with_hop(ok, 255).bytes(), "bad_hop_limit"},
        {"global_src", with_addrs(ok, "2001:db8::1", "ff02::16").bytes(), "mld_src_not_linklocal"},
        {"unspecified_src", with_addrs(ok, "::", "ff02::16").bytes(), "mld_src_not_linklocal"},
        {"bad_checksum", bad_sum.bytes(), "bad_checksum"},
        {"fragmented",
         with_ext(ok, 0, cat({opts_header(44, {5, 2, 0, 0, 1, 0}), fragment_header(58)})).bytes(),
         "fragmented"},
        {"icmp_4_bytes", with_icmp(ok, {143, 0, 0, 0}).bytes(), "too_short"},
        {"neighbor_solicitation", with_icmp(ok, ns_icmp(kLl2)).bytes(), "wrong_icmp_type"},
        {"count_past_records", mld_packet(cat({{0, 2}, mld_record(4, g)})).bytes(),
         "mld_bad_record"},
        {"sources_past_end",
         mld_packet(cat({{0, 1}, Bytes(one_source.begin(), one_source.end() - 1)})).bytes(),
         "mld_bad_record"},
        {"count_65535", mld_packet(cat({{0xff, 0xff}, mld_record(4, g)})).bytes(),
         "mld_bad_record"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(outcome(parse_mld(c.pkt)), c.want);
    }
}

TEST(Ndp, Mld2ReportRecords) {
    const Ip6 g1 = ip("ff05::1:3"), g2 = ip("ff0e::101");
    const Ip6 s1 = ip("2001:db8::1"), s2 = ip("2001:db8::2");
    const Packet p = mld_packet(cat({
        {0, 5},
        mld_record(1, g1, {s1, s2}),       // MODE_IS_INCLUDE with two sources
        mld_record(7, g1),                 // unknown type: skipped
        mld_record(4, ip("2001:db8::9")),  // not a multicast address: skipped
        mld_record(6, g2, {s1}, 2),        // BLOCK_OLD_SOURCES with aux data
        mld_record(3, g2),                 // CHANGE_TO_INCLUDE, no sources (a leave)
        {0xde, 0xad, 0xbe, 0xef},          // additional data: ignored (5.2.11)
    }));
    const Mld2Parse r = parse_mld(p.bytes());
    ASSERT_EQ(outcome(r), "accepted");
    const Mld2Report& rep = std::get<Mld2Report>(r);
    ASSERT_EQ(rep.records.size(), 3u);
    EXPECT_EQ(rep.records[0].type, kMld2ModeIsInclude);
    EXPECT_EQ(rep.records[0].group, g1);
    EXPECT_EQ(rep.records[0].sources, (std::vector<Ip6>{s1, s2}));
    EXPECT_EQ(rep.records[1].type, kMld2BlockOldSources);
    EXPECT_EQ(rep.records[1].sources, (std::vector<Ip6>{s1}));
    EXPECT_EQ(rep.records[2].type, kMld2ChangeToInclude);
    EXPECT_EQ(rep.records[2].group, g2);
}

/* ---- EUI-64 ---- */

TEST(Ndp, LinkLocalFromMac) {
    struct {
        const char* mac;
        const char* want;
    } cases[] = {
        {"02:00:00:00:00:01", "fe80::ff:fe00:1"},
        {"52:54:00:12:34:56", "fe80::5054:ff:fe12:3456"},
        {"00:00:00:00:00:00", "fe80::200:ff:fe00:0"},  // universal: the bit is set
        {"ff:ff:ff:ff:ff:ff", "fe80::fdff:ffff:feff:ffff"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.mac);
        const Ip6 a = linklocal_from_mac(mac(c.mac));
        EXPECT_EQ(a.str(), c.want);
        EXPECT_TRUE(a.is_linklocal());
    }
}

}  // namespace
}  // namespace fp6
