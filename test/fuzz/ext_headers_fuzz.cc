/* Fuzz target: the IPv6 extension-header walk of packets addressed to the
 * router and of the packets an ICMPv6 error answers (control/icmp6.h):
 * find_param_problem(), error_allowed() and build_icmp6_error(), an IPv6
 * packet in. Besides reading nothing outside the input (the sanitizers):
 *  - bytes past the Payload Length change nothing (link padding);
 *  - a truncated packet or one of another version is discarded;
 *  - kAccept stops at ICMPv6, UDP, TCP, No Next Header or a whole Fragment
 *    header, at an 8-byte boundary inside the payload; kSend points inside
 *    the payload, at what its code names (an unrecognized Next Header, a
 *    Routing header with Segments Left, an option whose type says "send");
 *  - no error is allowed for an error type >= 128, a source that names no
 *    single node, or the router's own source;
 *  - an error message is built exactly when the invoking source names a
 *    single node, is at most 1280 bytes, has a valid checksum, quotes the
 *    invoking packet's first bytes, and comes out the same when built in
 *    the invoking packet's own buffer.
 *
 * Input: byte 0 flags (bit 0: the frame came as link-layer multicast; bit
 * 1: the source is the router's; bits 2-3: error type 1-4; bits 4-6: its
 * code), then the IPv6 packet. */
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "control/icmp6.h"
#include "nd/ndp.h"
#include "test/fuzz/fuzz_check.h"

namespace fp6 {
namespace {

constexpr size_t kIp6 = 40;
const Ip6 kRouter{{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

bool operator==(const ParamProblem& a, const ParamProblem& b) {
    return a.action == b.action && a.code == b.code && a.pointer == b.pointer &&
           a.next_header == b.next_header && a.offset == b.offset;
}

size_t get16(const uint8_t* p) {
    return size_t(p[0]) << 8 | p[1];
}

void check_param_problem(const uint8_t* p, size_t len) {
    const ParamProblem pp = find_param_problem(p, len);
    using A = ParamProblem::Action;
    if (len < kIp6 || (p[0] >> 4) != 6 || kIp6 + get16(p + 4) > len) {
        FUZZ_CHECK(pp.action == A::kDiscard, "a truncated or non-IPv6 packet is not discarded");
        return;
    }
    const size_t end = kIp6 + get16(p + 4);
    if (end < len) {
        const std::vector<uint8_t> cut(p, p + end);
        FUZZ_CHECK(find_param_problem(cut.data(), cut.size()) == pp, "padding changed the walk");
    }
    if (pp.action == A::kAccept) {
        static constexpr uint8_t kUpper[] = {58, 17, 6, 59, 44};
        FUZZ_CHECK(
            std::find(std::begin(kUpper), std::end(kUpper), pp.next_header) != std::end(kUpper),
            "accepted at next header %u", pp.next_header);
        FUZZ_CHECK(pp.offset >= kIp6 && pp.offset <= end && (pp.offset - kIp6) % 8 == 0,
                   "accepted at offset %u of %zu", pp.offset, end);
        if (pp.next_header == 44)
            FUZZ_CHECK(pp.offset + 8 <= end, "Fragment header past the payload");
    } else if (pp.action == A::kSend) {
        FUZZ_CHECK(pp.pointer < end, "pointer %u past the payload (%zu)", pp.pointer, end);
        static constexpr uint8_t kKnown[] = {58, 17, 6, 59, 44, 60, 43};
        switch (pp.code) {
            case kParamUnknownNextHeader:
                // Names an unknown header, or a Hop-by-Hop header not first.
                FUZZ_CHECK(std::find(std::begin(kKnown), std::end(kKnown), p[pp.pointer]) ==
                               std::end(kKnown),
                           "code 1 for next header %u", p[pp.pointer]);
                FUZZ_CHECK(p[pp.pointer] != 0 || pp.pointer != 6,
                           "code 1 for a first Hop-by-Hop header");
                break;
            case kParamErroneousField:
                FUZZ_CHECK(pp.pointer + 1 < end && p[pp.pointer + 1] != 0,
                           "code 0 for a Routing header with Segments Left 0");
                break;
            case kParamUnknownOption:
                FUZZ_CHECK((p[pp.pointer] >> 6) >= 2, "code 2 for option type %u", p[pp.pointer]);
                break;
            default:
                FUZZ_CHECK(false, "Parameter Problem code %u", pp.code);
        }
    }
}

void check_errors(const uint8_t* p, size_t len, uint8_t flags) {
    const bool l2_mcast = flags & 1, ours = flags & 2;
    const uint8_t type = uint8_t(1 + ((flags >> 2) & 3));
    const uint8_t code = (flags >> 4) & 7;
    const bool allowed = error_allowed(p, len, l2_mcast, type, code, ours);
    FUZZ_CHECK(!error_allowed(p, len, l2_mcast, uint8_t(type | 0x80), code, ours),
               "an error allowed for type %u", type | 0x80);
    if (len < kIp6) {
        FUZZ_CHECK(!allowed, "an error allowed for %zu bytes", len);
        return;
    }
    const Ip6 src = Ip6::from_bytes(p + 8);
    if (src.is_unspecified() || src.is_multicast() || ours)
        FUZZ_CHECK(!allowed, "an error allowed for source %s (ours: %d)", src.str().c_str(), ours);
    const size_t end = kIp6 + get16(p + 4);
    if (end < len) {
        const std::vector<uint8_t> cut(p, p + end);
        FUZZ_CHECK(error_allowed(cut.data(), cut.size(), l2_mcast, type, code, ours) == allowed,
                   "padding changed error_allowed");
    }

    std::array<uint8_t, kIcmp6ErrorMaxLen> out{};
    const uint32_t param = uint32_t(len) * 2654435761u;
    const size_t n = build_icmp6_error(out, kRouter, type, code, param, p, len, 64);
    if (src.is_unspecified() || src.is_multicast()) {
        FUZZ_CHECK(n == 0, "an error built for source %s", src.str().c_str());
        return;
    }
    const size_t quoted = std::min({len, end, kIcmp6ErrorMaxLen - kIcmp6ErrorHeaderLen});
    FUZZ_CHECK(n == kIcmp6ErrorHeaderLen + quoted, "built %zu bytes, want %zu", n,
               kIcmp6ErrorHeaderLen + quoted);
    FUZZ_CHECK((out[0] >> 4) == 6 && out[6] == 58 && get16(&out[4]) == n - kIp6,
               "bad IPv6 header on the error");
    FUZZ_CHECK(Ip6::from_bytes(&out[8]) == kRouter && Ip6::from_bytes(&out[24]) == src,
               "error not from the router to the source");
    FUZZ_CHECK(out[kIp6] == type && out[kIp6 + 1] == code, "type or code changed");
    FUZZ_CHECK(icmp6_checksum_ok(kRouter, src, &out[kIp6], n - kIp6), "bad checksum");
    FUZZ_CHECK(std::memcmp(&out[kIcmp6ErrorHeaderLen], p, quoted) == 0, "quote differs");

    // Built in place, over the invoking packet itself.
    std::vector<uint8_t> inplace(std::max(len, kIcmp6ErrorMaxLen));
    std::memcpy(inplace.data(), p, len);
    const size_t n2 =
        build_icmp6_error(inplace, kRouter, type, code, param, inplace.data(), len, 64);
    FUZZ_CHECK(n2 == n && std::memcmp(inplace.data(), out.data(), n) == 0,
               "the error built in place differs");
}

}  // namespace
}  // namespace fp6

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1)
        return 0;
    fp6::check_param_problem(data + 1, size - 1);
    fp6::check_errors(data + 1, size - 1, data[0]);
    return 0;
}
