/* Reassembly of fragments addressed to the router: see reasm.h. */

// rte_ip_frag_table_del_expired_entries() is experimental in DPDK 22.11;
// this must precede every DPDK header of this file.
#define ALLOW_EXPERIMENTAL_API 1

#include "control/reasm.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "dataplane/icmp_limit.h"

namespace fp6 {
namespace {

constexpr uint32_t kEthLen = sizeof(rte_ether_hdr);
constexpr uint32_t kIp6Len = sizeof(rte_ipv6_hdr);
constexpr uint32_t kFragHdrLen = sizeof(rte_ipv6_fragment_ext);
static_assert(kFragHdrLen == 8, "RFC 8200 4.5: the Fragment header is 8 bytes");
constexpr uint8_t kNextHeaderFragment = 44;
/* RFC 8200 4.5: the Fragment Offset counts 8-byte units in the high 13 bits
 * of its 16-bit word; the low bit is M. */
constexpr uint16_t kOffsetMask = 0xfff8;
constexpr uint16_t kMoreFragments = 0x0001;
/* RFC 8200 3: the largest Payload Length. */
constexpr uint32_t kMaxPayload = 65535;
/* RFC 4443 3.4 pointers into a fragment whose Fragment header follows the
 * IPv6 header: Payload Length, and the Fragment Offset (bytes 2-3 of the
 * Fragment header). */
constexpr uint32_t kPointerPayloadLength = 4;
constexpr uint32_t kPointerFragmentOffset = kIp6Len + 2;
/* RFC 4443 2.4 (c): an error quotes at most 1280 - 48 bytes of a packet. */
constexpr uint32_t kQuoteMax = 1232;

ReasmAction error_action(ReasmAction::Kind kind, rte_mbuf* m, uint8_t type, uint8_t code,
                         uint32_t param) {
    ReasmAction a;
    a.kind = kind;
    a.pkt = m;
    a.icmp_type = type;
    a.icmp_code = code;
    a.param = param;
    return a;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reassembler>> Reassembler::create(const ReasmConfig& cfg,
                                                                 rte_mempool* pool) {
    if (pool == nullptr || cfg.max_flows == 0 || cfg.max_mbufs == 0 || cfg.timeout == 0)
        return absl::InvalidArgumentError(
            "reassembly: needs a pool, and max_flows, max_mbufs and timeout above 0");
    if (cfg.bucket_entries == 0 || (cfg.bucket_entries & (cfg.bucket_entries - 1)) != 0)
        return absl::InvalidArgumentError("reassembly: bucket_entries must be a power of 2");
    // The table's TTL: rte_ip_frag drops an entry when start + TTL < now,
    // which with TTL = timeout - 1 is the records' now - start >= timeout.
    rte_ip_frag_tbl* tbl = rte_ip_frag_table_create(cfg.max_flows, cfg.bucket_entries,
                                                    cfg.max_flows, cfg.timeout - 1, cfg.socket);
    if (tbl == nullptr)
        return absl::ResourceExhaustedError("reassembly: cannot create a table of " +
                                            std::to_string(cfg.max_flows) + " flows");
    return std::unique_ptr<Reassembler>(new Reassembler(cfg, pool, tbl));
}

Reassembler::Reassembler(const ReasmConfig& cfg, rte_mempool* pool, rte_ip_frag_tbl* tbl)
    : cfg_(cfg), pool_(pool), tbl_(tbl), records_(cfg.max_flows), te_queue_(cfg.max_flows) {
    free_.reserve(cfg.max_flows);
    for (uint32_t i = cfg.max_flows; i-- > 0;)
        free_.push_back(i);
    index_.reserve(cfg.max_flows);
}

Reassembler::~Reassembler() {
    free_death_row();
    rte_ip_frag_table_destroy(tbl_);  // frees the fragments it holds
    for (Record& rec : records_)
        rte_pktmbuf_free(rec.first);  // null for free records
    for (uint32_t i = 0; i < te_count_; i++)
        rte_pktmbuf_free(te_queue_[(te_head_ + i) % te_queue_.size()]);
}

uint64_t Reassembler::clock(uint64_t now) {
    last_now_ = std::max(last_now_, now);
    return last_now_;
}

ReasmAction Reassembler::push(rte_mbuf* m, uint64_t now_in) {
    stats_.fragments++;
    auto drop = [m](uint64_t& counter) {
        counter++;
        rte_pktmbuf_free(m);
        return ReasmAction{};
    };

    // The frame: Ethernet, IPv6, Fragment header in the first segment.
    if (rte_pktmbuf_data_len(m) < kEthLen + kIp6Len + kFragHdrLen)
        return drop(stats_.malformed);
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, kEthLen);
    auto* fh = reinterpret_cast<rte_ipv6_fragment_ext*>(ip + 1);
    const uint32_t plen = rte_be_to_cpu_16(ip->payload_len);
    if (ip->proto != kNextHeaderFragment || plen < kFragHdrLen ||
        rte_pktmbuf_pkt_len(m) < kEthLen + kIp6Len + plen)
        return drop(stats_.malformed);
    // RFC 8200 3: what follows the Payload Length is link padding.
    const uint32_t excess = rte_pktmbuf_pkt_len(m) - (kEthLen + kIp6Len + plen);
    if (excess != 0 && rte_pktmbuf_trim(m, uint16_t(std::min<uint32_t>(excess, UINT16_MAX))) != 0)
        return drop(stats_.malformed);
    if (rte_pktmbuf_pkt_len(m) != kEthLen + kIp6Len + plen)
        return drop(stats_.malformed);

    const uint16_t word = rte_be_to_cpu_16(fh->frag_data);
    const uint32_t offset = word & kOffsetMask;  // (units of 8) * 8
    const bool more = (word & kMoreFragments) != 0;
    const uint32_t len = plen - kFragHdrLen;

    // RFC 8200 4.5 (RFC 6946): offset 0 and M clear is a whole datagram;
    // the Fragment header goes, as reassembly would remove it.
    if (offset == 0 && !more) {
        auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
        ip->proto = fh->next_header;
        ip->payload_len = rte_cpu_to_be_16(uint16_t(len));
        std::memmove(frame + kFragHdrLen, frame, kEthLen + kIp6Len);
        rte_pktmbuf_adj(m, kFragHdrLen);
        m->l2_len = kEthLen;
        m->l3_len = kIp6Len;
        m->hash.usr = 0;
        stats_.atomic++;
        ReasmAction a;
        a.kind = ReasmAction::Kind::kReassembled;
        a.pkt = m;
        return a;
    }
    // RFC 8200 4.5: a fragment other than the last carries a multiple of 8
    // bytes; Parameter Problem code 0 pointing at the Payload Length.
    if (more && len % 8 != 0) {
        stats_.param_problem++;
        return error_action(ReasmAction::Kind::kParamProblem, m, kIcmp6ParamProblem,
                            kParamErroneousField, kPointerPayloadLength);
    }
    // RFC 8200 4.5: the reassembled Payload Length (the Fragment header
    // follows the IPv6 header: no unfragmentable part) stays within 65535;
    // Parameter Problem code 0 pointing at the Fragment Offset.
    if (offset + len > kMaxPayload) {
        stats_.param_problem++;
        return error_action(ReasmAction::Kind::kParamProblem, m, kIcmp6ParamProblem,
                            kParamErroneousField, kPointerFragmentOffset);
    }
    if (len == 0)
        return drop(stats_.malformed);  // nothing to reassemble (rte_ip_frag refuses it too)

    const uint64_t now = clock(now_in);
    expire(now);

    Key key;
    key.src = Ip6::from_bytes(ip->src_addr);
    key.dst = Ip6::from_bytes(ip->dst_addr);
    std::memcpy(&key.id, &fh->id, sizeof(key.id));
    const auto found = index_.find(key);
    uint32_t idx = found == index_.end() ? kNil : found->second;
    const Range range{offset, offset + len, !more};

    if (idx != kNil) {
        Record& rec = records_[idx];
        if (rec.abandoned)
            return drop(stats_.abandoned_drops);
        bool consistent = true;
        for (uint8_t i = 0; i < rec.n_ranges; i++) {
            const Range& held = rec.ranges[i];
            // RFC 8200 4.5: an exact duplicate may be dropped alone.
            if (held.begin == range.begin && held.end == range.end && held.last == range.last)
                return drop(stats_.duplicates);
            // RFC 8200 4.5, RFC 5722: overlapping fragments abandon the datagram.
            if (held.begin < range.end && range.begin < held.end)
                consistent = false;
            // A last fragment before data already received.
            if (range.last && held.end > range.end)
                consistent = false;
        }
        // A second last fragment, or data past the last one's end.
        if (rec.have_last && (range.last || range.end > rec.end))
            consistent = false;
        if (!consistent) {
            // No ICMPv6 message (RFC 8200 4.5); the table keeps the fragments
            // it holds until the timeout, and the datagram gets nothing more.
            rec.abandoned = true;
            if (rec.first != nullptr) {
                rte_pktmbuf_free(rec.first);
                rec.first = nullptr;
                rec.mbufs--;
                mbufs_held_--;
            }
            stats_.inconsistent++;
            return drop(stats_.abandoned_drops);
        }
    } else if (in_use_ >= cfg_.max_flows) {
        return drop(stats_.table_full);
    }
    const uint32_t segs = m->nb_segs;
    if (mbufs_held_ + segs + (offset == 0 ? 1 : 0) > cfg_.max_mbufs)
        return drop(stats_.table_full);

    // The first fragment's first bytes, for a Time Exceeded at the timeout.
    rte_mbuf* first = nullptr;
    if (offset == 0) {
        first = rte_pktmbuf_copy(m, pool_, 0, kEthLen + std::min(kIp6Len + plen, kQuoteMax));
        if (first != nullptr) {
            first->port = m->port;
            first->hash.usr = 0;
        } else {
            stats_.no_mbuf++;
        }
    }

    m->l2_len = kEthLen;
    m->l3_len = kIp6Len + kFragHdrLen;
    const uint32_t before = dr_.cnt;
    rte_mbuf* whole = rte_ipv6_frag_reassemble_packet(tbl_, &dr_, m, now, ip, fh);
    if (whole != nullptr) {
        free_death_row();
        rte_pktmbuf_free(first);
        if (idx != kNil)
            release(idx);
        whole->l2_len = kEthLen;
        whole->l3_len = kIp6Len;
        whole->hash.usr = 0;
        stats_.reassembled++;
        ReasmAction a;
        a.kind = ReasmAction::Kind::kReassembled;
        a.pkt = whole;
        return a;
    }
    // The table puts the fragment on the death row only when it refuses it
    // (no entry for a new datagram) or gives the datagram up (more fragments
    // than it has room for); then it no longer has the datagram.
    const bool refused = on_death_row(m, before);
    free_death_row();
    if (refused) {
        rte_pktmbuf_free(first);
        if (idx == kNil) {
            stats_.table_full++;
        } else {
            stats_.too_many_fragments++;
            release(idx);
        }
        return {};
    }

    if (idx == kNil)
        idx = new_record(key, now);
    Record& rec = records_[idx];
    rec.mbufs += segs;
    mbufs_held_ += segs;
    if (first != nullptr) {
        rec.first = first;
        rec.mbufs++;
        mbufs_held_++;
    }
    // The table holds at most as many fragments as a record has ranges.
    if (rec.n_ranges < RTE_DIM(rec.ranges))
        rec.ranges[rec.n_ranges++] = range;
    if (range.last) {
        rec.have_last = true;
        rec.end = range.end;
    }
    return {};
}

std::vector<ReasmAction> Reassembler::poll(uint64_t now) {
    expire(clock(now));
    std::vector<ReasmAction> out;
    out.reserve(te_count_);
    for (; te_count_ != 0; te_count_--) {
        rte_mbuf* m = te_queue_[te_head_];
        te_head_ = (te_head_ + 1) % uint32_t(te_queue_.size());
        // RFC 8200 4.5: Time Exceeded, code 1, about the first fragment.
        out.push_back(error_action(ReasmAction::Kind::kTimeExceeded, m, kIcmp6TimeExceeded,
                                   kTimeExceededReassembly, 0));
    }
    return out;
}

std::optional<uint64_t> Reassembler::next_deadline() const {
    if (te_count_ != 0)
        return 0;
    if (head_ == kNil)
        return std::nullopt;
    return records_[head_].start + cfg_.timeout;
}

void Reassembler::expire(uint64_t now) {
    // The records in start order: the oldest first.
    while (head_ != kNil) {
        Record& rec = records_[head_];
        if (now - rec.start < cfg_.timeout)
            break;
        stats_.timed_out++;
        // RFC 8200 4.5: Time Exceeded only if the first fragment came, and
        // never for a datagram abandoned as inconsistent.
        if (rec.first != nullptr && !rec.abandoned) {
            queue_time_exceeded(rec.first);
            rec.first = nullptr;
            rec.mbufs--;
            mbufs_held_--;
        }
        release(head_);
    }
    // The same datagrams leave the table (its entries are in start order
    // too); a purge stops when the death row is short of room.
    for (;;) {
        rte_ip_frag_table_del_expired_entries(tbl_, &dr_, now);
        if (dr_.cnt == 0)
            break;
        free_death_row();
    }
}

void Reassembler::queue_time_exceeded(rte_mbuf* first) {
    const uint32_t cap = uint32_t(te_queue_.size());
    if (te_count_ == cap) {
        stats_.time_exceeded_lost++;
        rte_pktmbuf_free(first);
        return;
    }
    te_queue_[(te_head_ + te_count_) % cap] = first;
    te_count_++;
    stats_.time_exceeded++;
}

uint32_t Reassembler::new_record(const Key& key, uint64_t now) {
    const uint32_t idx = free_.back();
    free_.pop_back();
    Record& rec = records_[idx];
    rec = Record{};
    rec.key = key;
    rec.start = now;
    rec.prev = tail_;
    if (tail_ != kNil)
        records_[tail_].next = idx;
    else
        head_ = idx;
    tail_ = idx;
    index_[key] = idx;
    in_use_++;
    return idx;
}

void Reassembler::release(uint32_t idx) {
    Record& rec = records_[idx];
    rte_pktmbuf_free(rec.first);
    rec.first = nullptr;
    mbufs_held_ -= rec.mbufs;
    rec.mbufs = 0;
    if (rec.prev != kNil)
        records_[rec.prev].next = rec.next;
    else
        head_ = rec.next;
    if (rec.next != kNil)
        records_[rec.next].prev = rec.prev;
    else
        tail_ = rec.prev;
    rec.prev = rec.next = kNil;
    index_.erase(rec.key);
    free_.push_back(idx);
    in_use_--;
}

bool Reassembler::on_death_row(const rte_mbuf* m, uint32_t from) const {
    for (uint32_t i = from; i < dr_.cnt; i++)
        if (dr_.row[i] == m)
            return true;
    return false;
}

void Reassembler::free_death_row() {
    if (dr_.cnt != 0)
        rte_ip_frag_free_death_row(&dr_, 0);
}

}  // namespace fp6
