/* The Redirect builder (control/redirect.h): each message is parsed back
 * field by field, options walked by their lengths, checksum verified. */
#include "control/redirect.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "nd/ndp.h"
#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using test::ip;
using test::mac;
using test::Pkt;

const Ip6 kRouterLl = ip("fe80::1");          // the rx port's link-local address
const Ip6 kHost = ip("2001:db8:1::77");       // the invoking packet's source
const Ip6 kFar = ip("2001:db8:6000::5");      // its destination, behind another router
const Ip6 kBetterRouter = ip("fe80::99");     // that router, on the same link
const Ip6 kNeighbour = ip("2001:db8:1::88");  // a destination on the link itself
const Mac kBetterMac = mac("02:00:00:00:99:99");

/* The IPv6 packet (no Ethernet header) the host sent, `data` UDP bytes. */
std::vector<uint8_t> invoking(size_t data, const Ip6& dst = kFar) {
    const std::vector<uint8_t> f = Pkt().src(kHost).dst(dst).udp(1000, 53, data).bytes();
    return std::vector<uint8_t>(f.begin() + test::kEthLen, f.end());
}

uint16_t get16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}

/* A Redirect as read back; ok is false (and `why` says it) when the layout
 * is wrong. */
struct Parsed {
    bool ok = false;
    std::string why;
    Ip6 src, dst, target, destination;
    std::optional<Mac> tlla;
    std::optional<std::vector<uint8_t>> quote;  // the Redirected Header's data, padding included
};

Parsed parse(const uint8_t* p, size_t len) {
    Parsed r;
    auto fail = [&](std::string why) {
        r.ok = false;
        r.why = std::move(why);
        return r;
    };
    if (len < kRedirectHeaderLen)
        return fail("shorter than the fixed part");
    // RFC 8200 3.
    if (p[0] != 0x60 || p[1] != 0 || p[2] != 0 || p[3] != 0)
        return fail("version, traffic class or flow label");
    if (get16(p + 4) != len - 40)
        return fail("payload length");
    if (p[6] != 58)
        return fail("next header");
    if (p[7] != 255)
        return fail("hop limit");  // RFC 4861 4.5
    r.src = Ip6::from_bytes(p + 8);
    r.dst = Ip6::from_bytes(p + 24);
    const uint8_t* icmp = p + 40;
    // RFC 4861 4.5.
    if (icmp[0] != 137 || icmp[1] != 0)
        return fail("type or code");
    if (icmp[4] != 0 || icmp[5] != 0 || icmp[6] != 0 || icmp[7] != 0)
        return fail("reserved");
    if (!icmp6_checksum_ok(r.src, r.dst, icmp, len - 40))
        return fail("checksum");
    r.target = Ip6::from_bytes(icmp + 8);
    r.destination = Ip6::from_bytes(icmp + 24);
    // RFC 4861 4.6: options, in units of 8 bytes, filling the message.
    size_t off = kRedirectHeaderLen;
    while (off < len) {
        if (len - off < 8)
            return fail("option head past the end");
        const uint8_t type = p[off], units = p[off + 1];
        if (units == 0)
            return fail("option of length 0");
        const size_t olen = size_t(units) * 8;
        if (olen > len - off)
            return fail("option past the end");
        if (type == kNdOptTargetLladdr) {
            if (units != 1 || r.tlla)
                return fail("target link-layer address option");
            r.tlla = Mac::from_bytes(p + off + 2);
        } else if (type == kNdOptRedirectedHeader) {
            if (r.quote || std::any_of(p + off + 2, p + off + 8, [](uint8_t b) { return b; }))
                return fail("redirected header option");
            r.quote.emplace(p + off + 8, p + off + olen);
        } else {
            return fail("unknown option");
        }
        off += olen;
    }
    r.ok = true;
    return r;
}

/* The quote as the builder must write it: the packet, cut at `cut` bytes,
 * padded with zeros to a multiple of 8. */
std::vector<uint8_t> padded(const std::vector<uint8_t>& pkt, size_t cut) {
    std::vector<uint8_t> q(pkt.begin(), pkt.begin() + std::min(cut, pkt.size()));
    q.resize((q.size() + 7) / 8 * 8, 0);
    return q;
}

TEST(Redirect, ToABetterRouterWithItsLinkLayerAddress) {
    const std::vector<uint8_t> inv = invoking(61);  // 109 bytes: padded to 112
    std::array<uint8_t, kRedirectMaxLen> buf;
    const size_t n = build_redirect(buf, kRouterLl, kHost, kBetterRouter, kFar, kBetterMac,
                                    inv.data(), inv.size());
    ASSERT_EQ(n, 40u + 40 + 8 + 8 + 112);
    const Parsed r = parse(buf.data(), n);
    ASSERT_TRUE(r.ok) << r.why;
    EXPECT_EQ(r.src, kRouterLl);
    EXPECT_EQ(r.dst, kHost);
    EXPECT_EQ(r.target, kBetterRouter);
    EXPECT_EQ(r.destination, kFar);
    EXPECT_EQ(r.tlla, kBetterMac);
    ASSERT_TRUE(r.quote);
    EXPECT_EQ(*r.quote, padded(inv, inv.size()));
    // The option order of RFC 4861 4.5's figure: Target Link-Layer, then Redirected Header.
    EXPECT_EQ(buf[80], kNdOptTargetLladdr);
    EXPECT_EQ(buf[88], kNdOptRedirectedHeader);
    EXPECT_EQ(buf[89], (8 + 112) / 8);
}

/* RFC 4861 4.5: an on-link destination is its own target; no option needed
 * but the quote. */
TEST(Redirect, ToTheDestinationItself) {
    const std::vector<uint8_t> inv = invoking(32, kNeighbour);  // 80 bytes: no padding
    std::array<uint8_t, kRedirectMaxLen> buf;
    const size_t n = build_redirect(buf, kRouterLl, kHost, kNeighbour, kNeighbour, std::nullopt,
                                    inv.data(), inv.size());
    ASSERT_EQ(n, 40u + 40 + 8 + 80);
    const Parsed r = parse(buf.data(), n);
    ASSERT_TRUE(r.ok) << r.why;
    EXPECT_EQ(r.target, kNeighbour);
    EXPECT_EQ(r.destination, kNeighbour);
    EXPECT_FALSE(r.tlla);
    EXPECT_EQ(*r.quote, inv);
}

/* RFC 4861 4.6.3: the Redirect stays within 1280 bytes; the cut quote ends
 * on an 8-byte boundary. */
TEST(Redirect, LongPacketIsCutTo1280) {
    const std::vector<uint8_t> inv = invoking(1452);  // 1500 bytes
    for (bool with_tlla : {true, false}) {
        SCOPED_TRACE(with_tlla ? "with TLLA" : "without");
        std::array<uint8_t, 1500> buf;
        const std::optional<Mac> tlla = with_tlla ? std::optional(kBetterMac) : std::nullopt;
        const size_t n = build_redirect(buf, kRouterLl, kHost, kBetterRouter, kFar, tlla,
                                        inv.data(), inv.size());
        ASSERT_EQ(n, kRedirectMaxLen);
        const Parsed r = parse(buf.data(), n);
        ASSERT_TRUE(r.ok) << r.why;
        const size_t room = 1280 - 80 - 8 - (with_tlla ? 8 : 0);
        EXPECT_EQ(r.quote->size(), room);
        EXPECT_EQ(*r.quote, std::vector<uint8_t>(inv.begin(), inv.begin() + room));
    }
    // Exactly 1280 fits in exactly 1280 bytes, not in one less.
    std::array<uint8_t, kRedirectMaxLen> exact;
    EXPECT_EQ(build_redirect(exact, kRouterLl, kHost, kBetterRouter, kFar, kBetterMac, inv.data(),
                             inv.size()),
              kRedirectMaxLen);
    EXPECT_EQ(build_redirect(std::span(exact).first(kRedirectMaxLen - 1), kRouterLl, kHost,
                             kBetterRouter, kFar, kBetterMac, inv.data(), inv.size()),
              0u);
}

/* Link padding past the Payload Length is not quoted. */
TEST(Redirect, LinkPaddingIsNotQuoted) {
    std::vector<uint8_t> inv = invoking(0);  // 48 bytes
    const std::vector<uint8_t> real = inv;
    inv.resize(inv.size() + 12, 0xee);
    std::array<uint8_t, kRedirectMaxLen> buf;
    const size_t n = build_redirect(buf, kRouterLl, kHost, kBetterRouter, kFar, std::nullopt,
                                    inv.data(), inv.size());
    ASSERT_EQ(n, 80u + 8 + 48);
    const Parsed r = parse(buf.data(), n);
    ASSERT_TRUE(r.ok) << r.why;
    EXPECT_EQ(*r.quote, real);
}

/* Without an invoking packet there is no Redirected Header. */
TEST(Redirect, NoInvokingPacket) {
    std::array<uint8_t, kRedirectMaxLen> buf;
    size_t n = build_redirect(buf, kRouterLl, kHost, kBetterRouter, kFar, kBetterMac, nullptr, 0);
    ASSERT_EQ(n, 88u);
    Parsed r = parse(buf.data(), n);
    ASSERT_TRUE(r.ok) << r.why;
    EXPECT_FALSE(r.quote);
    EXPECT_EQ(r.tlla, kBetterMac);
    n = build_redirect(buf, kRouterLl, kHost, kBetterRouter, kFar, std::nullopt, nullptr, 0);
    ASSERT_EQ(n, 80u);
    r = parse(buf.data(), n);
    ASSERT_TRUE(r.ok) << r.why;
}

/* Messages RFC 4861 forbids or hosts discard (8.1) are not built, and the
 * buffer is left alone. */
TEST(Redirect, Refused) {
    const std::vector<uint8_t> inv = invoking(20);
    struct Case {
        const char* name;
        Ip6 src, dst, target, destination;
        size_t inv_len;
    } cases[] = {
        {"global source", ip("2001:db8:1::1"), kHost, kBetterRouter, kFar, inv.size()},
        {"unspecified source", Ip6(), kHost, kBetterRouter, kFar, inv.size()},
        {"multicast destination of the redirect", kRouterLl, kAllNodes, kBetterRouter, kFar,
         inv.size()},
        {"unspecified destination of the redirect", kRouterLl, Ip6(), kBetterRouter, kFar,
         inv.size()},
        {"multicast Destination Address", kRouterLl, kHost, kBetterRouter, ip("ff0e::1"),
         inv.size()},
        {"global target other than the destination", kRouterLl, kHost, ip("2001:db8:1::2"), kFar,
         inv.size()},
        {"multicast target", kRouterLl, kHost, kAllRouters, kFar, inv.size()},
        {"invoking packet shorter than an IPv6 header", kRouterLl, kHost, kBetterRouter, kFar, 39},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        std::array<uint8_t, kRedirectMaxLen> buf;
        buf.fill(0x5a);
        EXPECT_EQ(build_redirect(buf, c.src, c.dst, c.target, c.destination, kBetterMac, inv.data(),
                                 c.inv_len),
                  0u);
        EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0x5a; }));
    }
    // Too small a buffer.
    std::array<uint8_t, 100> small;
    small.fill(0x5a);
    EXPECT_EQ(build_redirect(small, kRouterLl, kHost, kBetterRouter, kFar, kBetterMac, inv.data(),
                             inv.size()),
              0u);
    EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](uint8_t b) { return b == 0x5a; }));
}

/* The message may be built over the invoking packet (the punted copy's
 * buffer), as over a separate one. */
TEST(Redirect, InPlace) {
    for (size_t data : {size_t(20), size_t(1452)}) {
        SCOPED_TRACE(data);
        const std::vector<uint8_t> inv = invoking(data);
        std::array<uint8_t, 1600> apart;
        const size_t n = build_redirect(apart, kRouterLl, kHost, kBetterRouter, kFar, kBetterMac,
                                        inv.data(), inv.size());
        ASSERT_NE(n, 0u);
        for (size_t at : {size_t(0), size_t(40), size_t(200)}) {
            SCOPED_TRACE(at);
            std::vector<uint8_t> buf(1600 + 200, 0x77);
            std::memcpy(buf.data() + at, inv.data(), inv.size());
            ASSERT_EQ(build_redirect(std::span(buf).first(1600), kRouterLl, kHost, kBetterRouter,
                                     kFar, kBetterMac, buf.data() + at, inv.size()),
                      n);
            EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + n),
                      std::vector<uint8_t>(apart.begin(), apart.begin() + n));
        }
    }
}

}  // namespace
}  // namespace fp6
