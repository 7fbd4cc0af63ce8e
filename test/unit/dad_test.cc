/* The DAD state machine on a fake clock (RFC 4862 5.4, RFC 7527). */
#include "nd/dad.h"

#include <gtest/gtest.h>

namespace fp6 {
namespace {

const Ip6 kAddr = *Ip6::parse("2001:db8::1");

class DadTest : public ::testing::Test {
  protected:
    /* Runs the clock from `from` to `to` in 1 ms steps, collecting actions. */
    std::vector<DadAction> run(uint64_t from, uint64_t to) {
        std::vector<DadAction> all;
        for (uint64_t t = from; t <= to; t++)
            for (const DadAction& a : dad_.poll(t)) {
                all.push_back(a);
                when_.push_back(t);
            }
        return all;
    }
    Dad dad_{42};
    std::vector<uint64_t> when_;
};

TEST_F(DadTest, ProbesThenBecomesUsable) {
    DadParams p{3, 1000, 1000};
    EXPECT_TRUE(dad_.start(0, kAddr, p, 0).empty());
    auto acts = run(0, 5000);
    ASSERT_EQ(acts.size(), 4u);
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(acts[i].kind, DadAction::kSendProbe);
        EXPECT_EQ(acts[i].nonce, acts[0].nonce) << "one nonce per run";
    }
    EXPECT_LE(when_[0], 1000u) << "first probe after a random delay of at most 1 s";
    EXPECT_EQ(when_[1] - when_[0], 1000u);
    EXPECT_EQ(when_[2] - when_[1], 1000u);
    EXPECT_EQ(acts[3].kind, DadAction::kUsable);
    EXPECT_EQ(when_[3] - when_[2], 1000u) << "verdict RetransTimer after the last probe";
    EXPECT_FALSE(dad_.running(0, kAddr));
    EXPECT_FALSE(dad_.next_deadline());
}

TEST_F(DadTest, ZeroTransmitsMeansUsableAtOnce) {
    auto acts = dad_.start(0, kAddr, DadParams{0, 1000, 1000}, 0);
    ASSERT_EQ(acts.size(), 1u);
    EXPECT_EQ(acts[0].kind, DadAction::kUsable);
}

TEST_F(DadTest, NaForTentativeAddressIsDuplicate) {
    dad_.start(0, kAddr, DadParams{1, 1000, 0}, 0);
    auto probe = dad_.poll(0);
    ASSERT_EQ(probe.size(), 1u);
    auto acts = dad_.on_na(0, kAddr);
    ASSERT_EQ(acts.size(), 1u);
    EXPECT_EQ(acts[0].kind, DadAction::kDuplicate);
    EXPECT_TRUE(run(1, 3000).empty()) << "a duplicate never becomes usable";
}

TEST_F(DadTest, ForeignNonceIsDuplicateOwnNonceIsLoopback) {
    dad_.start(0, kAddr, DadParams{1, 1000, 0}, 0);
    auto probe = dad_.poll(0);
    ASSERT_EQ(probe.size(), 1u);
    EXPECT_TRUE(dad_.on_dad_ns(0, kAddr, probe[0].nonce).empty()) << "our own probe looped back";
    auto acts = dad_.on_dad_ns(0, kAddr, probe[0].nonce ^ 1);
    ASSERT_EQ(acts.size(), 1u);
    EXPECT_EQ(acts[0].kind, DadAction::kDuplicate);
}

TEST_F(DadTest, NsWithoutNonceFromUnspecifiedIsDuplicate) {
    dad_.start(0, kAddr, DadParams{1, 1000, 0}, 0);
    dad_.poll(0);
    auto acts = dad_.on_dad_ns(0, kAddr, std::nullopt);
    ASSERT_EQ(acts.size(), 1u);
    EXPECT_EQ(acts[0].kind, DadAction::kDuplicate);
}

TEST_F(DadTest, EventsForOtherPortsOrAddressesAreIgnored) {
    dad_.start(0, kAddr, DadParams{1, 1000, 0}, 0);
    dad_.poll(0);
    EXPECT_TRUE(dad_.on_na(1, kAddr).empty());
    EXPECT_TRUE(dad_.on_na(0, *Ip6::parse("2001:db8::2")).empty());
    auto acts = run(1, 2000);
    ASSERT_EQ(acts.size(), 1u);
    EXPECT_EQ(acts[0].kind, DadAction::kUsable);
}

TEST_F(DadTest, CancelAndRestart) {
    dad_.start(0, kAddr, DadParams{1, 1000, 0}, 0);
    dad_.cancel_port(0);
    EXPECT_TRUE(run(0, 3000).empty());
    dad_.start(0, kAddr, DadParams{2, 500, 0}, 5000);
    auto acts = run(5000, 7000);
    ASSERT_EQ(acts.size(), 3u);
    EXPECT_EQ(acts[2].kind, DadAction::kUsable);
    EXPECT_EQ(when_[2], 6000u);
}

}  // namespace
}  // namespace fp6
