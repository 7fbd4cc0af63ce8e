/* The parts of the host path (control/host.h) that need no kernel: which
 * packets for the router go up to the host, which packets from the host are
 * refused, the host interface's name and MTU, and the netlink requests that
 * configure it, read back with libmnl. */
#include "control/host.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using Bytes = std::vector<uint8_t>;
using test::ip;

const Ip6 kRouter = ip("2001:db8:1::1");
const Ip6 kPeer = ip("2001:db8:1::2");
const Ip6 kRouterLl = ip("fe80::1");
const Ip6 kOspfRouters = ip("ff02::5");

constexpr uint8_t kHbh = 0, kTcp = 6, kUdp = 17, kRouting = 43, kIcmp = 58, kDestOpts = 60,
                  kOspf = 89;

/* An IPv6 packet (no Ethernet) with `payload` after the header as given. */
Bytes packet(const Ip6& src, const Ip6& dst, uint8_t next, const Bytes& payload) {
    Bytes p(40 + payload.size(), 0);
    p[0] = 0x60;
    p[4] = uint8_t(payload.size() >> 8);
    p[5] = uint8_t(payload.size());
    p[6] = next;
    p[7] = 64;
    std::memcpy(p.data() + 8, src.data(), 16);
    std::memcpy(p.data() + 24, dst.data(), 16);
    if (!payload.empty())
        std::memcpy(p.data() + 40, payload.data(), payload.size());
    return p;
}

/* Two byte strings one after the other. */
Bytes cat(const Bytes& a, const Bytes& b) {
    Bytes out(a.size() + b.size());
    std::copy(a.begin(), a.end(), out.begin());
    std::copy(b.begin(), b.end(), out.begin() + long(a.size()));
    return out;
}

/* An ICMPv6 message of `type` (checksum not set: nothing here reads it). */
Bytes icmp(uint8_t type, size_t len = 24) {
    Bytes b(len, 0);
    b[0] = type;
    return b;
}

/* A Hop-by-Hop header with Router Alert (RFC 2711), then `rest`. */
Bytes hbh_router_alert(uint8_t next, const Bytes& rest) {
    return cat({next, 0, 5, 2, 0, 0, 1, 0}, rest);
}

const char* verdict_name(LocalVerdict v) {
    switch (v) {
        case LocalVerdict::kDiscard:
            return "discard";
        case LocalVerdict::kParamProblem:
            return "param_problem";
        case LocalVerdict::kPortUnreachable:
            return "port_unreachable";
        case LocalVerdict::kHost:
            return "host";
        case LocalVerdict::kUnhandled:
            return "unhandled";
    }
    return "?";
}

TEST(LocalVerdict, EachKindOfPacketWithAndWithoutTheHostPath) {
    struct Row {
        const char* what;
        Bytes pkt;
        LocalVerdict without, with;
    };
    const Bytes udp(8, 0), tcp(20, 0);
    // Destination Options with one option of type 01xxxxxx: discard.
    const Bytes discard_opt = {kTcp, 0, 0x5e, 4, 0, 0, 0, 0};
    // A Routing header with Segments Left 1: Parameter Problem code 0.
    const Bytes routing = {kTcp, 0, 4, 1, 0, 0, 0, 0};
    const std::vector<Row> rows = {
        {"UDP to our address", packet(kPeer, kRouter, kUdp, udp), LocalVerdict::kPortUnreachable,
         LocalVerdict::kHost},
        {"UDP to ff02::1", packet(kPeer, ip("ff02::1"), kUdp, udp), LocalVerdict::kUnhandled,
         LocalVerdict::kHost},
        {"TCP", packet(kPeer, kRouter, kTcp, tcp), LocalVerdict::kUnhandled, LocalVerdict::kHost},
        {"OSPFv3 to ff02::5 (unknown Next Header to fp6)",
         packet(kRouterLl, kOspfRouters, kOspf, Bytes(16, 0)), LocalVerdict::kParamProblem,
         LocalVerdict::kHost},
        {"ICMPv6 Packet Too Big", packet(kPeer, kRouter, kIcmp, icmp(2, 48)),
         LocalVerdict::kUnhandled, LocalVerdict::kHost},
        {"ICMPv6 echo reply", packet(kPeer, kRouter, kIcmp, icmp(129, 16)),
         LocalVerdict::kUnhandled, LocalVerdict::kHost},
        {"echo request fp6 left (multi-segment)", packet(kPeer, kRouter, kIcmp, icmp(128, 16)),
         LocalVerdict::kUnhandled, LocalVerdict::kHost},
        {"NS", packet(kPeer, kRouter, kIcmp, icmp(135)), LocalVerdict::kUnhandled,
         LocalVerdict::kUnhandled},
        {"Redirect", packet(kPeer, kRouter, kIcmp, icmp(137, 40)), LocalVerdict::kUnhandled,
         LocalVerdict::kUnhandled},
        {"MLDv2 report after Hop-by-Hop",
         packet(kRouterLl, ip("ff02::16"), kHbh, hbh_router_alert(kIcmp, icmp(143, 28))),
         LocalVerdict::kUnhandled, LocalVerdict::kUnhandled},
        {"MLD done", packet(kRouterLl, ip("ff02::2"), kHbh, hbh_router_alert(kIcmp, icmp(132))),
         LocalVerdict::kUnhandled, LocalVerdict::kUnhandled},
        {"option says discard", packet(kPeer, kRouter, kDestOpts, discard_opt),
         LocalVerdict::kDiscard, LocalVerdict::kDiscard},
        {"Routing header with segments left",
         packet(kPeer, kRouter, kRouting,
                [&] {
                    Bytes b = routing;
                    b.insert(b.end(), tcp.begin(), tcp.end());
                    return b;
                }()),
         LocalVerdict::kParamProblem, LocalVerdict::kParamProblem},
    };
    for (const Row& r : rows) {
        SCOPED_TRACE(r.what);
        ParamProblem pp = find_param_problem(r.pkt.data(), r.pkt.size());
        EXPECT_STREQ(verdict_name(local_verdict(pp, r.pkt.data(), r.pkt.size(), false)),
                     verdict_name(r.without));
        EXPECT_STREQ(verdict_name(local_verdict(pp, r.pkt.data(), r.pkt.size(), true)),
                     verdict_name(r.with));
    }
}

TEST(CheckFromHost, AcceptsWholeIpv6PacketsAndNamesTheAddresses) {
    Bytes p = packet(kRouter, kPeer, kTcp, Bytes(20, 0));
    auto r = check_from_host(p.data(), p.size());
    ASSERT_TRUE(std::holds_alternative<HostPacket>(r));
    EXPECT_EQ(std::get<HostPacket>(r).src, kRouter);
    EXPECT_EQ(std::get<HostPacket>(r).dst, kPeer);
    Bytes echo = packet(kRouter, kPeer, kIcmp, icmp(128, 16));
    EXPECT_TRUE(std::holds_alternative<HostPacket>(check_from_host(echo.data(), echo.size())));
    Bytes ospf = packet(kRouterLl, kOspfRouters, kOspf, Bytes(40, 0));
    EXPECT_TRUE(std::holds_alternative<HostPacket>(check_from_host(ospf.data(), ospf.size())));
}

TEST(CheckFromHost, RefusesBrokenPacketsAndNdAndMld) {
    auto drop = [](const Bytes& p, size_t len) -> std::string {
        auto r = check_from_host(p.data(), len);
        return std::holds_alternative<HostDrop>(r) ? host_drop_name(std::get<HostDrop>(r)) : "ok";
    };
    Bytes tcp = packet(kRouter, kPeer, kTcp, Bytes(20, 0));
    EXPECT_EQ(drop(tcp, 39), "malformed");
    EXPECT_EQ(drop(tcp, tcp.size() - 1), "malformed");  // shorter than its Payload Length
    Bytes longer = cat(tcp, {0});
    EXPECT_EQ(drop(longer, longer.size()), "malformed");  // trailing bytes
    Bytes v4 = tcp;
    v4[0] = 0x45;
    EXPECT_EQ(drop(v4, v4.size()), "malformed");
    for (uint8_t type : {133, 134, 135, 136, 137}) {
        SCOPED_TRACE(int(type));
        Bytes nd = packet(kRouterLl, ip("ff02::1:ff00:2"), kIcmp, icmp(type));
        EXPECT_EQ(drop(nd, nd.size()), "nd_mld");
    }
    for (uint8_t type : {130, 131, 132, 143}) {
        SCOPED_TRACE(int(type));
        Bytes mld = packet(kRouterLl, ip("ff02::16"), kHbh, hbh_router_alert(kIcmp, icmp(type)));
        EXPECT_EQ(drop(mld, mld.size()), "nd_mld");
    }
    Bytes cut = packet(kRouterLl, ip("ff02::16"), kHbh, Bytes{kIcmp, 0, 5, 2});
    EXPECT_EQ(drop(cut, cut.size()), "malformed");
}

/* An MLDv2 record (RFC 3810 5.2.4): type, group, `sources` source addresses. */
Bytes mld2_record(uint8_t type, const Ip6& group, uint16_t sources) {
    Bytes r(20 + 16 * size_t(sources), 0);
    r[0] = type;
    r[2] = uint8_t(sources >> 8);
    r[3] = uint8_t(sources);
    std::memcpy(r.data() + 4, group.data(), 16);
    for (uint16_t i = 0; i < sources; i++)
        r[20 + 16 * i] = 0x20;  // 2000:: ..., any unicast source
    return r;
}

/* An MLDv2 Report from the kernel (after Router Alert) of these records. */
Bytes mld2_report(const std::vector<Bytes>& records) {
    Bytes body = {143, 0, 0, 0, 0, 0, 0, uint8_t(records.size())};
    for (const Bytes& r : records)
        body = cat(body, r);
    return packet(kRouterLl, ip("ff02::16"), kHbh, hbh_router_alert(kIcmp, body));
}

TEST(MldChanges, ReportsSayWhichGroupsTheHostListensTo) {
    auto changes = [](const Bytes& p) {
        std::string out;
        for (const MldChange& c : mld_changes(p.data(), p.size()))
            out += (c.listening ? "+" : "-") + c.group.str() + " ";
        return out;
    };
    // RFC 3810 6.1: joining is a CHANGE_TO_EXCLUDE({}) record, leaving a
    // CHANGE_TO_INCLUDE({}); state reports say MODE_IS_EXCLUDE; sources in an
    // INCLUDE or ALLOW record mean listening to those sources.
    Bytes report =
        mld2_report({mld2_record(4, kOspfRouters, 0), mld2_record(3, ip("ff02::6"), 0),
                     mld2_record(2, ip("ff02::1:3"), 0), mld2_record(1, ip("ff05::2"), 2),
                     mld2_record(5, ip("ff05::3"), 1), mld2_record(6, ip("ff05::4"), 1)});
    EXPECT_EQ(changes(report), "+ff02::5 -ff02::6 +ff02::1:3 +ff05::2 +ff05::3 ");
    // MLDv1 (RFC 2710 3): a Report listens, a Done leaves; the group at byte 8.
    Bytes v1 = icmp(131);
    std::memcpy(v1.data() + 8, kOspfRouters.data(), 16);
    EXPECT_EQ(changes(packet(kRouterLl, kOspfRouters, kHbh, hbh_router_alert(kIcmp, v1))),
              "+ff02::5 ");
    v1[0] = 132;
    EXPECT_EQ(changes(packet(kRouterLl, ip("ff02::2"), kHbh, hbh_router_alert(kIcmp, v1))),
              "-ff02::5 ");
    // A record cut short spoils the message: nothing from it is believed.
    Bytes cut = mld2_report({mld2_record(4, kOspfRouters, 0), mld2_record(4, ip("ff02::6"), 3)});
    cut.resize(cut.size() - 16);
    cut[4] = uint8_t((cut.size() - 40) >> 8);
    cut[5] = uint8_t(cut.size() - 40);
    EXPECT_EQ(changes(cut), "");
    // Neither MLD nor ICMPv6: nothing.
    EXPECT_EQ(changes(packet(kRouterLl, kOspfRouters, kOspf, Bytes(40, 0))), "");
    EXPECT_EQ(changes(packet(kRouterLl, ip("ff02::1"), kIcmp, icmp(135))), "");
}

TEST(HostIfName, OnIsThePortsNameOthersAsGivenWhatTheKernelRefusesIsRefused) {
    EXPECT_EQ(host_if_name("p0", "on").value(), "p0");
    EXPECT_EQ(host_if_name("p0", "hx-tun1").value(), "hx-tun1");
    EXPECT_EQ(host_if_name("p0", "fifteen-chars-x").value(), "fifteen-chars-x");
    for (const char* bad : {"sixteen-chars-xx", "a/b", "a:b", "a b", ".", "..", "off"}) {
        SCOPED_TRACE(bad);
        auto r = host_if_name("p0", bad);
        ASSERT_FALSE(r.ok());
        EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    }
    // A port name the kernel would refuse: the message says to give one.
    auto r = host_if_name("eth0:1", "on");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("host-if IFNAME"), std::string_view::npos)
        << r.status().message();
}

TEST(HostIfMtu, ThePortsCappedToOneMbufNeverBelow1280) {
    EXPECT_EQ(host_if_mtu(1500, 2048), 1500u);
    EXPECT_EQ(host_if_mtu(9000, 2048), 2034u);
    EXPECT_EQ(host_if_mtu(2034, 2048), 2034u);
    EXPECT_EQ(host_if_mtu(1500, 1000), 1280u);
}

/* Attributes by type: of a netlink message (after its family header of
 * `extra` bytes), or nested in an attribute. */
using Attrs = std::map<uint16_t, const nlattr*>;
int collect(const nlattr* a, void* data) {
    (*static_cast<Attrs*>(data))[mnl_attr_get_type(a)] = a;
    return MNL_CB_OK;
}
Attrs attrs_of(const nlmsghdr* nlh, size_t extra) {
    Attrs out;
    mnl_attr_parse(nlh, unsigned(extra), collect, &out);
    return out;
}
Attrs nested(const nlattr* a) {
    Attrs out;
    mnl_attr_parse_nested(a, collect, &out);
    return out;
}

TEST(NetlinkRequests, AddressAddIsNodadWithItsScopeAndDeprecatedHasNoPreferredLifetime) {
    alignas(nlmsghdr) char buf[kNlBufSize];
    const nlmsghdr* nlh = nl_addr_msg(buf, true, 7, kRouter, 64, false, 41);
    EXPECT_EQ(nlh->nlmsg_type, RTM_NEWADDR);
    EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
    EXPECT_EQ(nlh->nlmsg_seq, 41u);
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(ifa->ifa_family, AF_INET6);
    EXPECT_EQ(ifa->ifa_prefixlen, 64);
    EXPECT_EQ(ifa->ifa_index, 7u);
    EXPECT_EQ(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
    auto at = attrs_of(nlh, sizeof(ifaddrmsg));
    ASSERT_TRUE(at.count(IFA_ADDRESS));
    EXPECT_EQ(Ip6::from_bytes(mnl_attr_get_payload(at[IFA_ADDRESS])), kRouter);
    ASSERT_TRUE(at.count(IFA_FLAGS));
    EXPECT_EQ(mnl_attr_get_u32(at[IFA_FLAGS]), uint32_t(IFA_F_NODAD));
    EXPECT_FALSE(at.count(IFA_CACHEINFO));
    EXPECT_FALSE(at.count(IFA_LOCAL));  // IFA_LOCAL beside IFA_ADDRESS would make it a peer

    nlh = nl_addr_msg(buf, true, 7, kRouterLl, 64, true, 42);
    ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(ifa->ifa_scope, RT_SCOPE_LINK);
    at = attrs_of(nlh, sizeof(ifaddrmsg));
    ASSERT_TRUE(at.count(IFA_CACHEINFO));
    const auto* ci = static_cast<const ifa_cacheinfo*>(mnl_attr_get_payload(at[IFA_CACHEINFO]));
    EXPECT_EQ(ci->ifa_prefered, 0u);
    EXPECT_EQ(ci->ifa_valid, 0xffffffffu);

    nlh = nl_addr_msg(buf, false, 7, kRouter, 64, false, 43);
    EXPECT_EQ(nlh->nlmsg_type, RTM_DELADDR);
    EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
}

TEST(NetlinkRequests, LinkUpDownMtuAndAddressGenerationOff) {
    alignas(nlmsghdr) char buf[kNlBufSize];
    const nlmsghdr* nlh = nl_link_msg(buf, 9, true, 0, false, 1);
    EXPECT_EQ(nlh->nlmsg_type, RTM_NEWLINK);
    const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(ifi->ifi_index, 9);
    EXPECT_EQ(ifi->ifi_flags, unsigned(IFF_UP));
    EXPECT_EQ(ifi->ifi_change, unsigned(IFF_UP));
    EXPECT_TRUE(attrs_of(nlh, sizeof(ifinfomsg)).empty());

    nlh = nl_link_msg(buf, 9, false, 1400, true, 2);
    ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    EXPECT_EQ(ifi->ifi_flags, 0u);
    EXPECT_EQ(ifi->ifi_change, unsigned(IFF_UP));
    auto at = attrs_of(nlh, sizeof(ifinfomsg));
    ASSERT_TRUE(at.count(IFLA_MTU));
    EXPECT_EQ(mnl_attr_get_u32(at[IFLA_MTU]), 1400u);
    ASSERT_TRUE(at.count(IFLA_AF_SPEC));
    Attrs spec = nested(at[IFLA_AF_SPEC]);
    ASSERT_TRUE(spec.count(AF_INET6));
    Attrs inet6 = nested(spec[AF_INET6]);
    ASSERT_TRUE(inet6.count(IFLA_INET6_ADDR_GEN_MODE));
    const nlattr* mode = inet6[IFLA_INET6_ADDR_GEN_MODE];
    EXPECT_EQ(mnl_attr_get_u8(mode), IN6_ADDR_GEN_MODE_NONE);
}

TEST(HostPath, WithoutATunNothingIsWrittenAndCountersAddUpAndReset) {
    HostPath h;
    EXPECT_GE(h.poll_fd(), 0);
    EXPECT_FALSE(h.has(0));
    const uint8_t byte = 0;
    std::span<const uint8_t> seg(&byte, 1);
    EXPECT_FALSE(h.write(0, std::span(&seg, 1)));
    EXPECT_TRUE(h.ready().empty());
    h.count_drop(3, HostDrop::kBadSource);
    h.count_drop(3, HostDrop::kBadSource);
    h.count_from_host(3, 100);
    EXPECT_EQ(h.totals().drops[size_t(HostDrop::kBadSource)], 2u);
    EXPECT_EQ(h.totals().from_host_packets, 1u);
    EXPECT_EQ(h.totals().from_host_bytes, 100u);
    h.reset_counters();
    EXPECT_EQ(h.totals().drops[size_t(HostDrop::kBadSource)], 0u);
    EXPECT_EQ(h.totals().from_host_bytes, 0u);
}

TEST(HostDropName, EveryReasonHasAStableName) {
    std::vector<std::string> names;
    for (size_t d = 0; d < size_t(HostDrop::kCount); d++)
        names.push_back(host_drop_name(HostDrop(d)));
    EXPECT_EQ(names,
              (std::vector<std::string>{"tun_full", "tun_write_failed", "malformed", "nd_mld",
                                        "bad_source", "no_route", "port_down", "no_mbuf"}));
}

}  // namespace
}  // namespace fp6
