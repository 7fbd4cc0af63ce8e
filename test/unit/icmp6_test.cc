/* The ICMPv6 error rules and builder (control/icmp6.h) and the token
 * buckets (dataplane/icmp_limit.h), on byte vectors and fake clocks: no EAL. */
#include "control/icmp6.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dataplane/icmp_limit.h"
#include "nd/ndp.h"
#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using Bytes = std::vector<uint8_t>;
using test::ip;
using test::Pkt;

const Ip6 kRouter = ip("2001:db8:1::1");
const Ip6 kHost = ip("2001:db8:9::1");
const Ip6 kFar = ip("2001:db8:2000::5");
const Ip6 kGroup = ip("ff0e::101");

/* Next Header values. */
constexpr uint8_t kHbh = 0;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kRouting = 43;
constexpr uint8_t kFragment = 44;
constexpr uint8_t kEsp = 50;
constexpr uint8_t kAh = 51;
constexpr uint8_t kIcmp = 58;
constexpr uint8_t kNone = 59;
constexpr uint8_t kDestOpts = 60;
constexpr uint8_t kUnknown = 200;

/* Option types of each action (RFC 4727 experimental values, RFC 8200 4.2). */
constexpr uint8_t kOptSkip = 0x1e;         // 00
constexpr uint8_t kOptDiscard = 0x5e;      // 01
constexpr uint8_t kOptSend = 0x9e;         // 10
constexpr uint8_t kOptSendUnicast = 0xde;  // 11

/* An IPv6 packet (no Ethernet) from src to dst with `payload` after the
 * header, which Pkt writes as given (no checksum). */
Bytes packet(const Ip6& src, const Ip6& dst, uint8_t next_header, const Bytes& payload) {
    const Bytes f = Pkt().src(src).dst(dst).raw(next_header, payload).bytes();
    return Bytes(f.begin() + test::kEthLen, f.end());
}

/* An ICMPv6 message body: type, code, zero checksum, 4 more bytes. */
Bytes icmp(uint8_t type) {
    return {type, 0, 0, 0, 0, 0, 0, 0};
}

Bytes cat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/* A Hop-by-Hop or Destination Options header: next header, length, then
 * `options` padded with PadN or Pad1 to a multiple of 8 bytes. */
Bytes opts_header(uint8_t next, const Bytes& options) {
    Bytes h(2 + options.size(), 0);
    h[0] = next;
    std::copy(options.begin(), options.end(), h.begin() + 2);
    const size_t pad = (8 - h.size() % 8) % 8;
    if (pad == 1) {
        h.push_back(0);  // Pad1
    } else if (pad > 1) {
        h.push_back(1);  // PadN
        h.push_back(uint8_t(pad - 2));
        h.insert(h.end(), pad - 2, 0);
    }
    h[1] = uint8_t(h.size() / 8 - 1);
    return h;
}

/* One option with 4 bytes of data. */
Bytes option(uint8_t type) {
    return {type, 4, 0xaa, 0xbb, 0xcc, 0xdd};
}

/* A Routing header of type 4 (RFC 8754, which fp6 does not process). */
Bytes routing(uint8_t next, uint8_t segments_left) {
    Bytes h(24, 0);
    h[0] = next;
    h[1] = 2;
    h[2] = 4;
    h[3] = segments_left;
    return h;
}

Bytes fragment(uint8_t next, uint16_t offset_units, bool more) {
    const uint16_t v = uint16_t(offset_units << 3 | (more ? 1 : 0));
    return {next, 0, uint8_t(v >> 8), uint8_t(v), 0, 0, 0x12, 0x34};
}

/* An AH header (RFC 4302 2) with a 12-byte ICV: Payload Len 4. */
Bytes ah(uint8_t next) {
    Bytes h(24, 0);
    h[0] = next;
    h[1] = 4;
    return h;
}

uint16_t get16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t* p) {
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}

// ---------------------------------------------------------------------------
// build_icmp6_error

/* Checks every field of an error built from `invoking` and returns the quote. */
Bytes check_error(const Bytes& msg, size_t len, uint8_t type, uint8_t code, uint32_t param,
                  uint8_t hops, const Bytes& invoking) {
    EXPECT_GE(msg.size(), len);
    EXPECT_LE(len, kIcmp6ErrorMaxLen);
    if (len < kIcmp6ErrorHeaderLen || msg.size() < len)
        return {};
    const uint8_t* p = msg.data();
    EXPECT_EQ(get32(p), 0x60000000u) << "version 6, traffic class and flow label 0";
    EXPECT_EQ(get16(p + 4), len - 40);
    EXPECT_EQ(p[6], kIcmp);
    EXPECT_EQ(p[7], hops);
    EXPECT_EQ(Ip6::from_bytes(p + 8), kRouter);
    EXPECT_EQ(Ip6::from_bytes(p + 24), Ip6::from_bytes(invoking.data() + 8));
    const uint8_t* m = p + 40;
    EXPECT_EQ(m[0], type);
    EXPECT_EQ(m[1], code);
    EXPECT_EQ(get32(m + 4), param);
    EXPECT_TRUE(icmp6_checksum_ok(kRouter, Ip6::from_bytes(invoking.data() + 8), m, len - 40));
    return Bytes(m + 8, p + len);
}

TEST(BuildIcmp6Error, SmallPacketQuotedWhole) {
    const Bytes inv = packet(kHost, kFar, kUdp, Bytes(60, 0x42));
    Bytes out(kIcmp6ErrorMaxLen, 0xee);
    const size_t len = build_icmp6_error(out, kRouter, kIcmp6TimeExceeded, kTimeExceededHopLimit, 0,
                                         inv.data(), inv.size(), 64);
    ASSERT_EQ(len, 48 + inv.size());
    EXPECT_EQ(check_error(out, len, 3, 0, 0, 64, inv), inv);
    EXPECT_EQ(out[len], 0xee) << "nothing written past the message";
}

/* RFC 4443 2.4 (c): a 1500-byte invoking packet is cut so that the error is
 * 1280 bytes. */
TEST(BuildIcmp6Error, LargePacketTruncatedTo1280) {
    const Bytes inv = packet(kHost, kFar, kUdp, Bytes(1460, 0x42));
    ASSERT_EQ(inv.size(), 1500u);
    Bytes out(2000);
    const size_t len =
        build_icmp6_error(out, kRouter, kIcmp6PacketTooBig, 0, 1280, inv.data(), inv.size(), 255);
    ASSERT_EQ(len, 1280u);
    EXPECT_EQ(check_error(out, len, 2, 0, 1280, 255, inv), Bytes(inv.begin(), inv.begin() + 1232));
}

TEST(BuildIcmp6Error, SizesAroundTheLimit) {
    for (size_t inv_len : {size_t(40), size_t(1231), size_t(1232), size_t(1233), size_t(9000)}) {
        SCOPED_TRACE(std::to_string(inv_len));
        const Bytes inv = packet(kHost, kFar, kNone, Bytes(inv_len - 40, 7));
        Bytes out(kIcmp6ErrorMaxLen);
        const size_t len = build_icmp6_error(out, kRouter, kIcmp6DstUnreachable, kUnreachReject, 0,
                                             inv.data(), inv.size(), 64);
        const size_t quoted = std::min(inv_len, size_t(1232));
        ASSERT_EQ(len, 48 + quoted);
        EXPECT_EQ(check_error(out, len, 1, 6, 0, 64, inv),
                  Bytes(inv.begin(), inv.begin() + quoted));
    }
}

/* The 32-bit field: the MTU, the pointer, or 0. */
TEST(BuildIcmp6Error, ParamField) {
    const Bytes inv = packet(kHost, kRouter, kUnknown, Bytes(8));
    Bytes out(kIcmp6ErrorMaxLen);
    size_t len = build_icmp6_error(out, kRouter, kIcmp6ParamProblem, kParamUnknownNextHeader, 6,
                                   inv.data(), inv.size(), 64);
    ASSERT_NE(len, 0u);
    EXPECT_EQ(Bytes(out.begin() + 44, out.begin() + 48), (Bytes{0, 0, 0, 6}));
    check_error(out, len, 4, 1, 6, 64, inv);
    len = build_icmp6_error(out, kRouter, kIcmp6PacketTooBig, 0, 0x01020304, inv.data(), inv.size(),
                            64);
    EXPECT_EQ(Bytes(out.begin() + 44, out.begin() + 48), (Bytes{1, 2, 3, 4}));
}

/* Link padding after the datagram is not part of the invoking packet. */
TEST(BuildIcmp6Error, PaddingNotQuoted) {
    const Bytes inv = packet(kHost, kFar, kUdp, Bytes(8, 1));
    const Bytes padded = cat(inv, Bytes(10, 0));
    Bytes out(kIcmp6ErrorMaxLen);
    const size_t len =
        build_icmp6_error(out, kRouter, kIcmp6TimeExceeded, 0, 0, padded.data(), padded.size(), 64);
    ASSERT_EQ(len, 48 + inv.size());
    EXPECT_EQ(check_error(out, len, 3, 0, 0, 64, inv), inv);
}

TEST(BuildIcmp6Error, Refusals) {
    const Bytes inv = packet(kHost, kFar, kUdp, Bytes(100));
    auto build = [&](std::span<uint8_t> out, const Ip6& src, uint8_t type, const Bytes& in,
                     size_t in_len) {
        return build_icmp6_error(out, src, type, 0, 0, in.data(), in_len, 64);
    };
    Bytes out(kIcmp6ErrorMaxLen, 0xee);
    const Bytes untouched = out;
    {
        SCOPED_TRACE("out one byte short");
        EXPECT_EQ(build(std::span(out).first(48 + inv.size() - 1), kRouter, 3, inv, inv.size()),
                  0u);
        EXPECT_EQ(build(std::span(out).first(47), kRouter, 3, inv, inv.size()), 0u);
    }
    EXPECT_EQ(build(out, kRouter, 3, inv, 39), 0u) << "no whole IPv6 header";
    EXPECT_EQ(build_icmp6_error(out, kRouter, 3, 0, 0, nullptr, 0, 64), 0u);
    EXPECT_EQ(build(out, kRouter, 128, inv, inv.size()), 0u) << "not an error type";
    EXPECT_EQ(build(out, ip("ff02::1"), 3, inv, inv.size()), 0u) << "multicast source";
    EXPECT_EQ(build(out, Ip6(), 3, inv, inv.size()), 0u) << "unspecified source";
    const Bytes from_group = packet(ip("ff02::1"), kFar, kUdp, Bytes(8));
    EXPECT_EQ(build(out, kRouter, 3, from_group, from_group.size()), 0u);
    const Bytes from_none = packet(Ip6(), kFar, kUdp, Bytes(8));
    EXPECT_EQ(build(out, kRouter, 3, from_none, from_none.size()), 0u);
    EXPECT_EQ(out, untouched);
    // One byte more and it fits.
    EXPECT_EQ(build(std::span(out).first(48 + inv.size()), kRouter, 3, inv, inv.size()),
              48 + inv.size());
}

/* Built in the invoking packet's own buffer, with room in front or not. */
TEST(BuildIcmp6Error, InPlace) {
    const Bytes inv = packet(kHost, kFar, kUdp, Bytes(1400, 0x42));
    Bytes expect(kIcmp6ErrorMaxLen);
    const size_t len =
        build_icmp6_error(expect, kRouter, kIcmp6PacketTooBig, 0, 1280, inv.data(), inv.size(), 64);
    ASSERT_EQ(len, 1280u);
    {
        SCOPED_TRACE("headroom of 48 bytes");
        Bytes buf = cat(Bytes(48), inv);
        EXPECT_EQ(build_icmp6_error(buf, kRouter, kIcmp6PacketTooBig, 0, 1280, buf.data() + 48,
                                    inv.size(), 64),
                  len);
        EXPECT_EQ(Bytes(buf.begin(), buf.begin() + len), Bytes(expect.begin(), expect.end()));
    }
    {
        SCOPED_TRACE("no headroom");
        Bytes buf = cat(inv, Bytes(48));
        EXPECT_EQ(build_icmp6_error(buf, kRouter, kIcmp6PacketTooBig, 0, 1280, buf.data(),
                                    inv.size(), 64),
                  len);
        EXPECT_EQ(Bytes(buf.begin(), buf.begin() + len), Bytes(expect.begin(), expect.end()));
    }
}

// ---------------------------------------------------------------------------
// error_allowed: RFC 4443 2.4 (e)

bool allowed(const Bytes& p, uint8_t type, uint8_t code = 0, bool l2_multicast = false,
             bool src_is_ours = false) {
    return error_allowed(p.data(), p.size(), l2_multicast, type, code, src_is_ours);
}

TEST(ErrorAllowed, UnicastPacket) {
    const Bytes p = packet(kHost, kFar, kUdp, Bytes(16));
    EXPECT_TRUE(allowed(p, kIcmp6TimeExceeded));
    EXPECT_TRUE(allowed(p, kIcmp6DstUnreachable, kUnreachProhibited));
    EXPECT_TRUE(allowed(p, kIcmp6PacketTooBig));
    EXPECT_TRUE(allowed(p, kIcmp6ParamProblem, kParamUnknownNextHeader));
    EXPECT_TRUE(allowed(packet(kHost, kFar, kNone, {}), kIcmp6TimeExceeded));
    EXPECT_TRUE(allowed(packet(kHost, kFar, kTcp, Bytes(20)), kIcmp6TimeExceeded));
}

TEST(ErrorAllowed, NotAnErrorOrNotAPacket) {
    const Bytes p = packet(kHost, kFar, kUdp, Bytes(16));
    EXPECT_FALSE(allowed(p, 128)) << "an informational type";
    EXPECT_FALSE(error_allowed(p.data(), 39, false, 3, 0, false));
    EXPECT_FALSE(error_allowed(nullptr, 0, false, 3, 0, false));
    Bytes v4 = p;
    v4[0] = 0x45;
    EXPECT_FALSE(allowed(v4, 3));
}

/* (e.1), (e.2): an ICMPv6 error or a Redirect, directly or behind extension
 * headers. */
TEST(ErrorAllowed, NeverForIcmpErrorsOrRedirects) {
    struct Case {
        const char* name;
        uint8_t next;
        Bytes payload;
        bool want;
    };
    const std::vector<Case> cases = {
        {"destination unreachable", kIcmp, icmp(1), false},
        {"packet too big", kIcmp, icmp(2), false},
        {"time exceeded", kIcmp, icmp(3), false},
        {"parameter problem", kIcmp, icmp(4), false},
        {"type 0", kIcmp, icmp(0), false},
        {"type 127", kIcmp, icmp(127), false},
        {"redirect", kIcmp, icmp(137), false},
        {"echo request", kIcmp, icmp(128), true},
        {"echo reply", kIcmp, icmp(129), true},
        {"neighbor solicitation", kIcmp, icmp(135), true},
        {"type 255", kIcmp, icmp(255), true},
        {"error behind hop-by-hop", kHbh, cat(opts_header(kIcmp, {}), icmp(1)), false},
        {"echo behind hop-by-hop", kHbh, cat(opts_header(kIcmp, {}), icmp(128)), true},
        {"error behind hop-by-hop and destination options", kHbh,
         cat(cat(opts_header(kDestOpts, option(kOptSkip)), opts_header(kIcmp, {})), icmp(3)),
         false},
        {"redirect behind routing", kRouting, cat(routing(kIcmp, 0), icmp(137)), false},
        {"error in a first fragment", kFragment, cat(fragment(kIcmp, 0, true), icmp(1)), false},
        {"a later fragment of an ICMPv6 message", kFragment,
         cat(fragment(kIcmp, 10, false), icmp(1)), true},
        {"error behind AH", kAh, cat(ah(kIcmp), icmp(2)), false},
        {"echo behind AH", kAh, cat(ah(kIcmp), icmp(128)), true},
        {"ESP: cannot be seen", kEsp, Bytes(32, 1), true},
        {"UDP behind destination options", kDestOpts, cat(opts_header(kUdp, {}), Bytes(8)), true},
        {"unknown next header", kUnknown, icmp(1), true},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const Bytes p = packet(kHost, kFar, c.next, c.payload);
        EXPECT_EQ(allowed(p, kIcmp6TimeExceeded), c.want);
        EXPECT_EQ(allowed(p, kIcmp6PacketTooBig), c.want);
        EXPECT_EQ(allowed(p, kIcmp6ParamProblem, kParamUnknownNextHeader), c.want);
    }
}

/* When the walk cannot tell whether the packet is an ICMPv6 error: silence. */
TEST(ErrorAllowed, SilentWhenTheWalkCannotTell) {
    EXPECT_FALSE(allowed(packet(kHost, kFar, kIcmp, {}), 3)) << "no ICMPv6 type";
    const Bytes hbh = opts_header(kIcmp, option(kOptSkip));
    EXPECT_FALSE(allowed(packet(kHost, kFar, kHbh, Bytes(hbh.begin(), hbh.begin() + 4)), 3))
        << "a header past the end";
    EXPECT_FALSE(allowed(packet(kHost, kFar, kHbh, hbh), 3)) << "ICMPv6 type missing";
    EXPECT_FALSE(allowed(packet(kHost, kFar, kFragment, Bytes(6)), 3)) << "short fragment header";
    // A Payload Length past the buffer: only what is there counts.
    Bytes cut = packet(kHost, kFar, kHbh, cat(hbh, icmp(128)));
    cut.resize(cut.size() - 8);
    EXPECT_FALSE(allowed(cut, 3));
    // Eight extension headers are walked, not nine.
    Bytes eight, nine;
    for (int i = 0; i < 8; i++)
        eight = cat(eight, opts_header(i == 7 ? kIcmp : kDestOpts, {}));
    nine = cat(opts_header(kDestOpts, {}), eight);
    EXPECT_TRUE(allowed(packet(kHost, kFar, kDestOpts, cat(eight, icmp(128))), 3));
    EXPECT_FALSE(allowed(packet(kHost, kFar, kDestOpts, cat(nine, icmp(128))), 3));
}

/* (e.3): a multicast destination gets no error, except Packet Too Big and
 * Parameter Problem code 2 for a 10xxxxxx option. */
TEST(ErrorAllowed, MulticastDestination) {
    const Bytes udp = packet(kHost, kGroup, kUdp, Bytes(16));
    EXPECT_FALSE(allowed(udp, kIcmp6TimeExceeded));
    EXPECT_FALSE(allowed(udp, kIcmp6DstUnreachable, kUnreachNoRoute));
    EXPECT_TRUE(allowed(udp, kIcmp6PacketTooBig));
    EXPECT_FALSE(allowed(udp, kIcmp6ParamProblem, kParamUnknownOption)) << "no such option";
    EXPECT_FALSE(allowed(packet(kHost, kGroup, kUnknown, Bytes(8)), kIcmp6ParamProblem,
                         kParamUnknownNextHeader));

    const Bytes opt10 =
        packet(kHost, kGroup, kHbh, cat(opts_header(kUdp, option(kOptSend)), Bytes(8)));
    EXPECT_TRUE(allowed(opt10, kIcmp6ParamProblem, kParamUnknownOption));
    EXPECT_FALSE(allowed(opt10, kIcmp6ParamProblem, kParamErroneousField));
    EXPECT_FALSE(allowed(opt10, kIcmp6TimeExceeded));
    const Bytes opt11 =
        packet(kHost, kGroup, kHbh, cat(opts_header(kUdp, option(kOptSendUnicast)), Bytes(8)));
    EXPECT_FALSE(allowed(opt11, kIcmp6ParamProblem, kParamUnknownOption));
    // In a Destination Options header too.
    const Bytes dst10 =
        packet(kHost, kGroup, kDestOpts, cat(opts_header(kUdp, option(kOptSend)), Bytes(8)));
    EXPECT_TRUE(allowed(dst10, kIcmp6ParamProblem, kParamUnknownOption));
    // Still never for an ICMPv6 error.
    const Bytes err10 =
        packet(kHost, kGroup, kHbh, cat(opts_header(kIcmp, option(kOptSend)), icmp(1)));
    EXPECT_FALSE(allowed(err10, kIcmp6ParamProblem, kParamUnknownOption));
    EXPECT_FALSE(allowed(packet(kHost, kGroup, kIcmp, icmp(3)), kIcmp6PacketTooBig));
}

/* (e.4), (e.5): a link-layer multicast or broadcast frame, same exceptions. */
TEST(ErrorAllowed, LinkLayerMulticast) {
    const Bytes udp = packet(kHost, kFar, kUdp, Bytes(16));
    EXPECT_FALSE(allowed(udp, kIcmp6TimeExceeded, 0, true));
    EXPECT_FALSE(allowed(udp, kIcmp6DstUnreachable, kUnreachBeyondScope, true));
    EXPECT_TRUE(allowed(udp, kIcmp6PacketTooBig, 0, true));
    const Bytes opt10 =
        packet(kHost, kFar, kHbh, cat(opts_header(kUdp, option(kOptSend)), Bytes(8)));
    EXPECT_TRUE(allowed(opt10, kIcmp6ParamProblem, kParamUnknownOption, true));
    const Bytes opt11 =
        packet(kHost, kFar, kHbh, cat(opts_header(kUdp, option(kOptSendUnicast)), Bytes(8)));
    EXPECT_TRUE(allowed(opt11, kIcmp6ParamProblem, kParamUnknownOption, false));
    EXPECT_FALSE(allowed(opt11, kIcmp6ParamProblem, kParamUnknownOption, true));
}

/* (e.6): a source that names no single node, or one of ours. */
TEST(ErrorAllowed, Sources) {
    for (const char* src : {"::", "ff02::1", "ff0e::1"}) {
        SCOPED_TRACE(src);
        const Bytes p = packet(ip(src), kFar, kUdp, Bytes(16));
        EXPECT_FALSE(allowed(p, kIcmp6TimeExceeded));
        EXPECT_FALSE(allowed(p, kIcmp6PacketTooBig));
    }
    const Bytes p = packet(kHost, kFar, kUdp, Bytes(16));
    EXPECT_FALSE(allowed(p, kIcmp6TimeExceeded, 0, false, true));
    EXPECT_FALSE(allowed(p, kIcmp6PacketTooBig, 0, false, true));
    EXPECT_TRUE(allowed(packet(ip("fe80::5"), kFar, kUdp, Bytes(16)), kIcmp6DstUnreachable,
                        kUnreachBeyondScope));
}

// ---------------------------------------------------------------------------
// find_param_problem: RFC 8200 4 for packets to the router

void expect_accept(const ParamProblem& pp, uint8_t next, uint32_t offset) {
    EXPECT_EQ(pp.action, ParamProblem::Action::kAccept);
    EXPECT_EQ(pp.next_header, next);
    EXPECT_EQ(pp.offset, offset);
}
void expect_send(const ParamProblem& pp, uint8_t code, uint32_t pointer) {
    EXPECT_EQ(pp.action, ParamProblem::Action::kSend);
    EXPECT_EQ(pp.code, code);
    EXPECT_EQ(pp.pointer, pointer);
}
void expect_discard(const ParamProblem& pp) {
    EXPECT_EQ(pp.action, ParamProblem::Action::kDiscard);
}
ParamProblem find(const Bytes& p) {
    return find_param_problem(p.data(), p.size());
}

TEST(FindParamProblem, RecognizedUpperLayers) {
    expect_accept(find(packet(kHost, kRouter, kIcmp, icmp(128))), kIcmp, 40);
    expect_accept(find(packet(kHost, kRouter, kUdp, Bytes(8))), kUdp, 40);
    expect_accept(find(packet(kHost, kRouter, kTcp, Bytes(20))), kTcp, 40);
    expect_accept(find(packet(kHost, kRouter, kNone, {})), kNone, 40);
    // Padding after the datagram is not looked at.
    expect_accept(find(cat(packet(kHost, kRouter, kUdp, Bytes(8)), Bytes(12, 0xff))), kUdp, 40);
}

/* RFC 8200 4, RFC 4443 3.4: code 1, pointing at the Next Header field that
 * names the unrecognized header. */
TEST(FindParamProblem, UnrecognizedNextHeader) {
    expect_send(find(packet(kHost, kRouter, kUnknown, Bytes(8))), kParamUnknownNextHeader, 6);
    expect_send(find(packet(kHost, kRouter, kEsp, Bytes(16))), kParamUnknownNextHeader, 6);
    expect_send(find(packet(kHost, kRouter, kAh, ah(kIcmp))), kParamUnknownNextHeader, 6);
    expect_send(find(packet(kHost, kRouter, kHbh, cat(opts_header(kUnknown, {}), Bytes(8)))),
                kParamUnknownNextHeader, 40);
    expect_send(
        find(packet(kHost, kRouter, kHbh,
                    cat(cat(opts_header(kDestOpts, option(kOptSkip)), opts_header(kUnknown, {})),
                        Bytes(8)))),
        kParamUnknownNextHeader, 48);
    // RFC 8200 4.1: Hop-by-Hop anywhere but first is unrecognized.
    expect_send(find(packet(kHost, kRouter, kDestOpts,
                            cat(cat(opts_header(kHbh, {}), opts_header(kUdp, {})), Bytes(8)))),
                kParamUnknownNextHeader, 40);
    // Multicast destinations get the same answer here; error_allowed refuses it.
    expect_send(find(packet(kHost, kGroup, kUnknown, Bytes(8))), kParamUnknownNextHeader, 6);
}

/* RFC 8200 4.2: an unrecognized option's two high bits. */
TEST(FindParamProblem, HopByHopOptionActions) {
    struct Case {
        uint8_t type;
        bool multicast;
        ParamProblem::Action want;
    };
    using A = ParamProblem::Action;
    const std::vector<Case> cases = {
        {kOptSkip, false, A::kAccept},      {kOptSkip, true, A::kAccept},
        {kOptDiscard, false, A::kDiscard},  {kOptDiscard, true, A::kDiscard},
        {kOptSend, false, A::kSend},        {kOptSend, true, A::kSend},
        {kOptSendUnicast, false, A::kSend}, {kOptSendUnicast, true, A::kDiscard},
    };
    for (const Case& c : cases) {
        for (uint8_t header : {kHbh, kDestOpts}) {
            SCOPED_TRACE("option " + std::to_string(c.type) + (c.multicast ? " multicast" : "") +
                         " in header " + std::to_string(header));
            const Bytes p = packet(kHost, c.multicast ? kGroup : kRouter, header,
                                   cat(opts_header(kUdp, option(c.type)), Bytes(8)));
            const ParamProblem pp = find(p);
            EXPECT_EQ(pp.action, c.want);
            if (c.want == A::kSend)
                expect_send(pp, kParamUnknownOption, 42);
            if (c.want == A::kAccept)
                expect_accept(pp, kUdp, 48);
        }
    }
}

/* The pointer is the offending option's type, after padding and known options. */
TEST(FindParamProblem, OptionPointer) {
    const Bytes options = cat(cat(Bytes{0, 1, 1, 0}, option(kOptSkip)), option(kOptSend));
    // Pad1 at 42, PadN at 43-45, the skipped option at 46-51, the bad one at 52.
    expect_send(find(packet(kHost, kRouter, kHbh, cat(opts_header(kUdp, options), Bytes(8)))),
                kParamUnknownOption, 52);
    // Router Alert (RFC 2711) passes.
    expect_accept(
        find(packet(kHost, kRouter, kHbh, cat(opts_header(kUdp, {5, 2, 0, 0}), Bytes(8)))), kUdp,
        48);
    // A bad option in a Destination Options header after a good Hop-by-Hop.
    expect_send(find(packet(kHost, kRouter, kHbh,
                            cat(cat(opts_header(kDestOpts, {}), opts_header(kUdp, option(0xbe))),
                                Bytes(8)))),
                kParamUnknownOption, 50);
}

/* RFC 8200 4.4, 4.5. */
TEST(FindParamProblem, RoutingAndFragment) {
    expect_accept(find(packet(kHost, kRouter, kRouting, cat(routing(kUdp, 0), Bytes(8)))), kUdp,
                  64);
    expect_send(find(packet(kHost, kRouter, kRouting, cat(routing(kUdp, 2), Bytes(8)))),
                kParamErroneousField, 42);
    expect_send(find(packet(kHost, kRouter, kHbh,
                            cat(cat(opts_header(kRouting, {}), routing(kUdp, 1)), Bytes(8)))),
                kParamErroneousField, 50);
    expect_accept(find(packet(kHost, kRouter, kFragment, cat(fragment(kUdp, 0, true), Bytes(8)))),
                  kFragment, 40);
    expect_accept(find(packet(kHost, kRouter, kHbh,
                              cat(opts_header(kFragment, {}), fragment(kUnknown, 3, false)))),
                  kFragment, 48);
}

TEST(FindParamProblem, MalformedIsDiscarded) {
    // An option running past its header.
    Bytes h = opts_header(kUdp, {});
    h[2] = kOptSkip;
    h[3] = 10;
    expect_discard(find(packet(kHost, kRouter, kHbh, cat(h, Bytes(8)))));
    // A header running past the payload.
    Bytes big = opts_header(kUdp, {});
    big[1] = 3;
    expect_discard(find(packet(kHost, kRouter, kHbh, big)));
    expect_discard(find(packet(kHost, kRouter, kHbh, {kUdp})));
    expect_discard(find(packet(kHost, kRouter, kFragment, Bytes(6))));
    // The Payload Length past the buffer.
    Bytes cut = packet(kHost, kRouter, kUdp, Bytes(8));
    cut.pop_back();
    expect_discard(find(cut));
    // No IPv6 header, or not version 6.
    expect_discard(find_param_problem(cut.data(), 39));
    expect_discard(find_param_problem(nullptr, 0));
    Bytes v4 = packet(kHost, kRouter, kUdp, Bytes(8));
    v4[0] = 0x40;
    expect_discard(find(v4));
    // A jumbogram (RFC 2675): Payload Length 0 with a Hop-by-Hop header.
    const Bytes jumbo = Pkt().src(kHost).dst(kRouter).jumbo().udp(1, 2, 8).bytes();
    expect_discard(find(Bytes(jumbo.begin() + test::kEthLen, jumbo.end())));
}

TEST(FindParamProblem, ExtensionHeaderBound) {
    Bytes eight, nine;
    for (int i = 0; i < 8; i++)
        eight = cat(eight, opts_header(i == 7 ? kUdp : kDestOpts, {}));
    nine = cat(opts_header(kDestOpts, {}), eight);
    expect_accept(find(packet(kHost, kRouter, kDestOpts, cat(eight, Bytes(8)))), kUdp, 40 + 64);
    expect_discard(find(packet(kHost, kRouter, kDestOpts, cat(nine, Bytes(8)))));
}

/* Mutated and cut packets: every function stays inside [pkt, pkt + len)
 * (an AddressSanitizer build checks it: each packet is its own exact-size
 * allocation) and its answers are consistent. Deterministic seed. */
TEST(Icmp6Rules, MutatedPacketsStayInBounds) {
    const std::vector<Bytes> seeds = {
        packet(kHost, kRouter, kHbh,
               cat(cat(opts_header(kDestOpts, option(kOptSkip)), opts_header(kRouting, {})),
                   cat(routing(kFragment, 0), cat(fragment(kIcmp, 0, true), icmp(1))))),
        packet(kHost, kGroup, kAh, cat(ah(kDestOpts), cat(opts_header(kIcmp, {}), icmp(137)))),
        packet(kHost, kFar, kHbh, cat(opts_header(kUdp, option(kOptSend)), Bytes(8))),
    };
    std::mt19937 rng(4443);
    Bytes out(kIcmp6ErrorMaxLen);
    for (int round = 0; round < 20000; round++) {
        Bytes p = seeds[rng() % seeds.size()];
        for (int k = int(rng() % 4); k > 0; k--)
            p[40 + rng() % (p.size() - 40)] = uint8_t(rng());
        if (rng() % 4 == 0)
            p[4 + rng() % 2] = uint8_t(rng());  // Payload Length
        p.resize(rng() % (p.size() + 1));
        const std::vector<uint8_t> exact(p.begin(), p.end());
        const uint8_t* d = exact.empty() ? nullptr : exact.data();
        const ParamProblem pp = find_param_problem(d, exact.size());
        if (pp.action == ParamProblem::Action::kSend) {
            EXPECT_LT(pp.pointer, exact.size());
        }
        if (pp.action == ParamProblem::Action::kAccept) {
            EXPECT_LE(pp.offset, exact.size());
        }
        for (uint8_t type : {uint8_t(1), uint8_t(2), uint8_t(4)})
            error_allowed(d, exact.size(), rng() % 2, type, uint8_t(rng() % 3), false);
        const size_t len = build_icmp6_error(out, kRouter, 3, 0, 0, d, exact.size(), 64);
        if (len != 0) {
            EXPECT_TRUE(icmp6_checksum_ok(kRouter, Ip6::from_bytes(out.data() + 24),
                                          out.data() + 40, len - 40));
        }
    }
}

// ---------------------------------------------------------------------------
// Token buckets (RFC 4443 2.4 (f))

TEST(TokenBucket, BurstThenRate) {
    TokenBucket b(10, 3);  // 10/s, 3 at once, on a millisecond clock
    EXPECT_TRUE(b.allow(0));
    EXPECT_TRUE(b.allow(0));
    EXPECT_TRUE(b.allow(0));
    EXPECT_FALSE(b.allow(0));
    EXPECT_FALSE(b.allow(99));  // 0.99 of a token
    EXPECT_TRUE(b.allow(100));
    EXPECT_FALSE(b.allow(100));
    EXPECT_EQ(b.sent(), 4u);
    EXPECT_EQ(b.suppressed(), 3u);
    // A long idle time refills up to the burst, no more.
    EXPECT_TRUE(b.allow(100'000));
    EXPECT_TRUE(b.allow(100'000));
    EXPECT_TRUE(b.allow(100'000));
    EXPECT_FALSE(b.allow(100'000));
    EXPECT_EQ(b.sent(), 7u);
    EXPECT_EQ(b.suppressed(), 4u);
}

/* Starts full at whatever time it is first used. */
TEST(TokenBucket, StartsFull) {
    TokenBucket b(1, 2);
    EXPECT_TRUE(b.allow(123'456'789));
    EXPECT_TRUE(b.allow(123'456'789));
    EXPECT_FALSE(b.allow(123'456'789));
}

/* Exact integer arithmetic: 3 tokens per second on a millisecond clock, asked
 * every millisecond for 1000 s, give 3000 plus the initial two (a burst of 2
 * keeps the credit below the cap, where a full bucket stops earning). */
TEST(TokenBucket, NoRoundingLoss) {
    TokenBucket b(3, 1);
    EXPECT_TRUE(b.allow(0));
    EXPECT_FALSE(b.allow(333));
    EXPECT_TRUE(b.allow(334));
    TokenBucket c(3, 2);
    uint64_t got = 0;
    for (uint64_t t = 0; t <= 1'000'000; t++)
        got += c.allow(t);
    EXPECT_EQ(got, 3002u);
    EXPECT_EQ(c.sent() + c.suppressed(), 1'000'001u);
}

TEST(TokenBucket, ZeroRateOrBurst) {
    TokenBucket none(0, 10);
    EXPECT_FALSE(none.allow(0));
    EXPECT_FALSE(none.allow(1'000'000));
    TokenBucket empty(100, 0);
    EXPECT_FALSE(empty.allow(0));
    EXPECT_FALSE(empty.allow(1'000'000));
    EXPECT_EQ(empty.suppressed(), 2u);
}

/* A clock that goes back adds nothing and does not lose what was earned. */
TEST(TokenBucket, ClockGoingBack) {
    TokenBucket b(10, 1);
    EXPECT_TRUE(b.allow(1000));
    EXPECT_FALSE(b.allow(500));
    EXPECT_FALSE(b.allow(1099));
    EXPECT_TRUE(b.allow(1100));
}

TEST(TokenBucket, NewLimits) {
    TokenBucket b(10, 10);
    b.set_limits(10, 2);
    EXPECT_EQ(b.burst(), 2u);
    EXPECT_TRUE(b.allow(0));
    EXPECT_TRUE(b.allow(0));
    EXPECT_FALSE(b.allow(0));
    b.set_limits(1000, 5);
    EXPECT_EQ(b.rate(), 1000u);
    EXPECT_TRUE(b.allow(1));  // one token per millisecond now
    EXPECT_FALSE(b.allow(1));
}

/* No overflow at the extremes of rate, burst, clock rate and time. */
TEST(TokenBucket, Extremes) {
    TokenBucket big(UINT32_MAX, UINT32_MAX, UINT64_MAX / 2);
    EXPECT_TRUE(big.allow(0));
    EXPECT_TRUE(big.allow(UINT64_MAX));
    TokenBucket fast(UINT32_MAX, 1, 1);  // billions of tokens per tick, one held
    EXPECT_TRUE(fast.allow(UINT64_MAX - 1));
    EXPECT_FALSE(fast.allow(UINT64_MAX - 1));
    EXPECT_TRUE(fast.allow(UINT64_MAX));
    TokenBucketState s;
    EXPECT_FALSE(take_token(s, 5, 0, 1, 1)) << "a clock of 0 Hz";
}

/* The workers' limiter: one bucket per port, on an explicit TSC. */
TEST(IcmpLimiter, PerPort) {
    IcmpLimiter lim(1'000'000);  // a 1 MHz TSC
    EXPECT_TRUE(lim.allow(0, 5'000'000, 100, 2));
    EXPECT_TRUE(lim.allow(0, 5'000'000, 100, 2));
    EXPECT_FALSE(lim.allow(0, 5'000'000, 100, 2));
    EXPECT_TRUE(lim.allow(1, 5'000'000, 100, 2));
    EXPECT_TRUE(lim.allow(RTE_MAX_ETHPORTS - 1, 5'000'000, 100, 2));
    EXPECT_FALSE(lim.allow(0, 5'009'999, 100, 2));
    EXPECT_TRUE(lim.allow(0, 5'010'000, 100, 2));  // 100/s: one every 10 000 ticks
    EXPECT_FALSE(lim.allow(0, 5'010'000, 100, 2));
}

}  // namespace
}  // namespace fp6
