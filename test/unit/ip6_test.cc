#include "common/ip6.h"

#include <gtest/gtest.h>

namespace fp6 {
namespace {

TEST(Ip6, ParsesAndFormatsCanonically) {
    auto a = Ip6::parse("2001:DB8:0:0:0:0:0:1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->str(), "2001:db8::1");
    EXPECT_FALSE(Ip6::parse("2001:db8::1::2"));
    EXPECT_FALSE(Ip6::parse(""));
    EXPECT_FALSE(Ip6::parse("10.0.0.1"));
}

TEST(Ip6, ClassifiesSpecialAddresses) {
    EXPECT_TRUE(Ip6::parse("::")->is_unspecified());
    EXPECT_TRUE(Ip6::parse("::1")->is_loopback());
    EXPECT_TRUE(Ip6::parse("fe80::1")->is_linklocal());
    EXPECT_TRUE(Ip6::parse("febf::1")->is_linklocal());
    EXPECT_FALSE(Ip6::parse("fec0::1")->is_linklocal());
    EXPECT_TRUE(Ip6::parse("ff02::1")->is_multicast());
    EXPECT_TRUE(Ip6::parse("::ffff:10.0.0.1")->is_v4mapped());
    EXPECT_TRUE(Ip6::parse("::10.0.0.1")->is_v4compat());
    EXPECT_FALSE(Ip6::parse("::1")->is_v4compat());
}

TEST(Ip6, SolicitedNodeGroupTakesLow24Bits) {
    EXPECT_EQ(Ip6::parse("2001:db8::aabb:ccdd")->solicited_node().str(), "ff02::1:ffbb:ccdd");
}

TEST(Ip6, CommonPrefixLenAndMask) {
    auto a = *Ip6::parse("2001:db8::");
    auto b = *Ip6::parse("2001:db9::");
    EXPECT_EQ(a.common_prefix_len(b), 31);
    EXPECT_EQ(a.common_prefix_len(a), 128);
    EXPECT_EQ(Ip6::parse("2001:db8:ffff::1")->masked(36).str(), "2001:db8:f000::");
    EXPECT_EQ(Ip6::parse("2001:db8::1")->masked(0).str(), "::");
}

TEST(Prefix6, ParsesDefaultHostAndRejectsBadLengths) {
    EXPECT_EQ(Prefix6::parse("default")->str(), "::/0");
    EXPECT_EQ(Prefix6::parse("2001:db8::1")->len(), 128);
    EXPECT_FALSE(Prefix6::parse("2001:db8::/129"));
    EXPECT_FALSE(Prefix6::parse("2001:db8::/"));
    EXPECT_FALSE(Prefix6::parse("2001:db8::/6x"));
    auto p = *Prefix6::parse("2001:db8::1/64");
    EXPECT_TRUE(p.has_host_bits());
    EXPECT_EQ(p.canonical().str(), "2001:db8::/64");
    EXPECT_TRUE(p.contains(*Ip6::parse("2001:db8::ffff")));
    EXPECT_FALSE(p.contains(*Ip6::parse("2001:db9::")));
}

TEST(Mac, ParsesAndMapsMulticast) {
    EXPECT_EQ(Mac::parse("02:00:00:AA:bb:01")->str(), "02:00:00:aa:bb:01");
    EXPECT_FALSE(Mac::parse("02:00:00:aa:bb"));
    EXPECT_FALSE(Mac::parse("02-00-00-aa-bb-01"));
    EXPECT_EQ(Mac::for_multicast(*Ip6::parse("ff02::1:ff00:1")).str(), "33:33:ff:00:00:01");
}

}  // namespace
}  // namespace fp6
