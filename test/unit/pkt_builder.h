/* Builds Ethernet + IPv6 frames for tests, as bytes or as real mbufs, and
 * reads them back. A Pkt is a value with chained setters:
 *
 *   rte_mbuf* m = Pkt().eth(our_mac, peer_mac).src("2001:db8::1")
 *                      .dst("2001:db8:2::1").hop_limit(2).udp(1000, 53, 32)
 *                      .padding(10).mbuf(pool);
 *
 * Defaults: a 33:33:00:00:00:01 destination MAC, ethertype IPv6, version 6,
 * hop limit 64, UDP 9/9 with no data, a correct Payload Length and a correct
 * UDP/ICMPv6 checksum. The overrides (version, payload_len, ether_type,
 * truncate, padding) build broken frames on purpose. */
#pragma once

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "common/ip6.h"

namespace fp6::test {

/* Text to value, aborting on a typo in a test. */
inline Ip6 ip(std::string_view text) {
    auto a = Ip6::parse(text);
    if (!a) {
        std::fprintf(stderr, "bad IPv6 address in test: %.*s\n", int(text.size()), text.data());
        std::abort();
    }
    return *a;
}

inline Mac mac(std::string_view text) {
    auto m = Mac::parse(text);
    if (!m) {
        std::fprintf(stderr, "bad MAC in test: %.*s\n", int(text.size()), text.data());
        std::abort();
    }
    return *m;
}

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoUdp = IPPROTO_UDP;
constexpr uint8_t kProtoIcmp6 = IPPROTO_ICMPV6;
constexpr uint8_t kProtoNone = IPPROTO_NONE;  // RFC 8200 4.7

constexpr size_t kEthLen = sizeof(rte_ether_hdr);
constexpr size_t kIp6Len = sizeof(rte_ipv6_hdr);

class Pkt {
  public:
    /* Ethernet. */
    Pkt& eth(const Mac& dst, const Mac& src) {
        eth_dst_ = dst;
        eth_src_ = src;
        return *this;
    }
    Pkt& eth_dst(const Mac& m) {
        eth_dst_ = m;
        return *this;
    }
    Pkt& eth_src(const Mac& m) {
        eth_src_ = m;
        return *this;
    }
    Pkt& ether_type(uint16_t t) {
        ether_type_ = t;
        return *this;
    }

    /* IPv6 header. */
    Pkt& src(const Ip6& a) {
        src_ = a;
        return *this;
    }
    Pkt& src(std::string_view a) { return src(ip(a)); }
    Pkt& dst(const Ip6& a) {
        dst_ = a;
        return *this;
    }
    Pkt& dst(std::string_view a) { return dst(ip(a)); }
    Pkt& hop_limit(uint8_t h) {
        hop_limit_ = h;
        return *this;
    }
    Pkt& version(uint8_t v) {
        version_ = v;
        return *this;
    }
    Pkt& traffic_class(uint8_t tc) {
        tclass_ = tc;
        return *this;
    }
    Pkt& flow_label(uint32_t fl) {
        flow_ = fl & 0xfffff;
        return *this;
    }
    /* Writes this Payload Length instead of the real one. */
    Pkt& payload_len(uint16_t len) {
        payload_len_ = len;
        return *this;
    }

    /* Payloads: each replaces the previous one. */
    Pkt& udp(uint16_t sport, uint16_t dport, size_t data_len = 0, uint8_t fill = 0xab) {
        next_header_ = kProtoUdp;
        l4_.assign(8 + data_len, fill);
        put16(&l4_[0], sport);
        put16(&l4_[2], dport);
        put16(&l4_[4], uint16_t(l4_.size()));
        put16(&l4_[6], 0);
        cksum_at_ = 6;
        return *this;
    }
    /* ICMPv6 (RFC 4443 2.1): type, code, checksum, then `body`. */
    Pkt& icmp6(uint8_t type, uint8_t code, const std::vector<uint8_t>& body = {}) {
        next_header_ = kProtoIcmp6;
        l4_.assign(4, 0);
        l4_[0] = type;
        l4_[1] = code;
        l4_.insert(l4_.end(), body.begin(), body.end());
        cksum_at_ = 2;
        return *this;
    }
    /* Echo Request (RFC 4443 4.1). */
    Pkt& echo_request(uint16_t id, uint16_t seq, size_t data_len = 0) {
        std::vector<uint8_t> body(4 + data_len, 0x5a);
        put16(&body[0], id);
        put16(&body[2], seq);
        return icmp6(128, 0, body);
    }
    /* Any next header and payload bytes, written as given. */
    Pkt& raw(uint8_t next_header, const std::vector<uint8_t>& bytes) {
        next_header_ = next_header;
        l4_ = bytes;
        cksum_at_.reset();
        return *this;
    }
    /* A jumbogram (RFC 2675): Payload Length 0 and a Hop-by-Hop header whose
     * Jumbo Payload option claims the real length; no Next Header data. */
    Pkt& jumbo() {
        jumbo_ = true;
        return *this;
    }

    /* Frame shape. */
    Pkt& padding(size_t n, uint8_t fill = 0) {
        padding_ = n;
        pad_fill_ = fill;
        return *this;
    }
    /* Cuts the finished frame to its first n bytes. */
    Pkt& truncate(size_t n) {
        truncate_ = n;
        return *this;
    }

    /* The IPv6 datagram's length (header + payload) as built, before padding. */
    size_t ip6_len() const { return kIp6Len + payload_bytes(); }

    std::vector<uint8_t> bytes() const {
        const size_t hbh_len = jumbo_ ? 8 : 0;
        std::vector<uint8_t> f(kEthLen + kIp6Len + hbh_len, 0);
        uint8_t* p = f.data();
        std::memcpy(&p[0], eth_dst_.data(), 6);
        std::memcpy(&p[6], eth_src_.data(), 6);
        put16(&p[12], ether_type_);

        uint8_t* h = &p[kEthLen];
        const uint32_t vtc = uint32_t(version_ & 0xf) << 28 | uint32_t(tclass_) << 20 | flow_;
        put32(&h[0], vtc);
        const size_t plen = payload_bytes();
        put16(&h[4], payload_len_ ? *payload_len_ : jumbo_ ? 0 : uint16_t(plen));
        h[6] = jumbo_ ? kProtoHopByHop : next_header_;
        h[7] = hop_limit_;
        std::memcpy(&h[8], src_.data(), 16);
        std::memcpy(&h[24], dst_.data(), 16);

        if (jumbo_) {
            uint8_t* next = &h[kIp6Len];
            // RFC 2675 2: Hop-by-Hop header, Jumbo Payload option 0xC2, length 4.
            next[0] = next_header_;
            next[1] = 0;
            next[2] = 0xc2;
            next[3] = 4;
            put32(&next[4], uint32_t(plen));
        }
        const size_t l4_at = f.size();
        f.insert(f.end(), l4_.begin(), l4_.end());
        if (cksum_at_ && l4_.size() >= *cksum_at_ + 2)
            put16(&f[l4_at + *cksum_at_], l4_checksum(l4_));
        f.resize(f.size() + padding_, pad_fill_);
        if (truncate_ && *truncate_ < f.size())
            f.resize(*truncate_);
        return f;
    }

    /* The frame in one mbuf from `pool` (nullptr if the pool is empty). */
    rte_mbuf* mbuf(rte_mempool* pool) const { return to_mbuf(pool, bytes()); }

    /* The frame in a chain of mbufs: the first holds `first_len` bytes, the
     * following ones `seg_len` each. */
    rte_mbuf* mbuf_chain(rte_mempool* pool, size_t first_len, size_t seg_len) const {
        return to_mbuf_chain(pool, bytes(), first_len, seg_len);
    }

    static rte_mbuf* to_mbuf(rte_mempool* pool, const std::vector<uint8_t>& f) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (m == nullptr)
            return nullptr;
        char* p = rte_pktmbuf_append(m, uint16_t(f.size()));
        if (p == nullptr) {
            rte_pktmbuf_free(m);
            return nullptr;
        }
        if (!f.empty())  // an empty vector's data() may be null: not for memcpy
            std::memcpy(p, f.data(), f.size());
        return m;
    }

    static rte_mbuf* to_mbuf_chain(rte_mempool* pool, const std::vector<uint8_t>& f,
                                   size_t first_len, size_t seg_len) {
        rte_mbuf* head = nullptr;
        size_t off = 0;
        while (off < f.size() || head == nullptr) {
            const size_t want = head == nullptr ? first_len : seg_len;
            const size_t len = std::min(want, f.size() - off);
            rte_mbuf* m =
                to_mbuf(pool, std::vector<uint8_t>(f.begin() + off, f.begin() + off + len));
            if (m == nullptr || (head != nullptr && rte_pktmbuf_chain(head, m) != 0)) {
                rte_pktmbuf_free(m);
                rte_pktmbuf_free(head);
                return nullptr;
            }
            if (head == nullptr)
                head = m;
            off += len;
            if (len == 0)
                break;
        }
        return head;
    }

  private:
    static void put16(uint8_t* p, uint16_t v) {
        p[0] = uint8_t(v >> 8);
        p[1] = uint8_t(v);
    }
    static void put32(uint8_t* p, uint32_t v) {
        put16(p, uint16_t(v >> 16));
        put16(p + 2, uint16_t(v));
    }

    size_t payload_bytes() const { return (jumbo_ ? 8 : 0) + l4_.size(); }

    /* RFC 8200 8.1: checksum over the pseudo-header and the upper-layer data. */
    uint16_t l4_checksum(const std::vector<uint8_t>& l4) const {
        uint8_t ph[40] = {};
        std::memcpy(&ph[0], src_.data(), 16);
        std::memcpy(&ph[16], dst_.data(), 16);
        put32(&ph[32], uint32_t(l4.size()));
        ph[39] = next_header_;
        uint32_t sum =
            uint32_t(rte_raw_cksum(ph, sizeof(ph))) + uint32_t(rte_raw_cksum(l4.data(), l4.size()));
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        uint16_t c = uint16_t(~sum);
        // rte_raw_cksum sums in host order; the wire wants network order.
        c = rte_be_to_cpu_16(c);
        if (next_header_ == kProtoUdp && c == 0)
            c = 0xffff;  // RFC 8200 8.1: a zero UDP checksum is sent as ffff
        return c;
    }

    Mac eth_dst_{{0x33, 0x33, 0, 0, 0, 1}};
    Mac eth_src_{{0x02, 0, 0, 0, 0xee, 0x01}};
    uint16_t ether_type_ = RTE_ETHER_TYPE_IPV6;
    uint8_t version_ = 6;
    uint8_t tclass_ = 0;
    uint32_t flow_ = 0;
    uint8_t hop_limit_ = 64;
    Ip6 src_;
    Ip6 dst_;
    std::optional<uint16_t> payload_len_;
    uint8_t next_header_ = kProtoUdp;
    std::vector<uint8_t> l4_ = {0, 9, 0, 9, 0, 8, 0, 0};
    std::optional<size_t> cksum_at_ = 6;
    bool jumbo_ = false;
    size_t padding_ = 0;
    uint8_t pad_fill_ = 0;
    std::optional<size_t> truncate_;
};

/* Readers for assertions. */
inline const rte_ether_hdr* eth_of(const rte_mbuf* m) {
    return rte_pktmbuf_mtod(m, const rte_ether_hdr*);
}
inline const rte_ipv6_hdr* ip6_of(const rte_mbuf* m) {
    return rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, kEthLen);
}
inline Mac eth_dst(const rte_mbuf* m) {
    return Mac::from_bytes(&eth_of(m)->dst_addr);
}
inline Mac eth_src(const rte_mbuf* m) {
    return Mac::from_bytes(&eth_of(m)->src_addr);
}
inline uint16_t ether_type(const rte_mbuf* m) {
    return rte_be_to_cpu_16(eth_of(m)->ether_type);
}
inline uint8_t hop_limit(const rte_mbuf* m) {
    return ip6_of(m)->hop_limits;
}
inline Ip6 ip6_src(const rte_mbuf* m) {
    return Ip6::from_bytes(ip6_of(m)->src_addr);
}
inline Ip6 ip6_dst(const rte_mbuf* m) {
    return Ip6::from_bytes(ip6_of(m)->dst_addr);
}

/* The whole packet's bytes, across segments. */
inline std::vector<uint8_t> pkt_bytes(const rte_mbuf* m) {
    std::vector<uint8_t> out;
    for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
        const auto* p = rte_pktmbuf_mtod(s, const uint8_t*);
        out.insert(out.end(), p, p + rte_pktmbuf_data_len(s));
    }
    return out;
}

}  // namespace fp6::test
