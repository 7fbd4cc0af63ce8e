/* Reassembly of the fragmented datagrams addressed to the router (RFC 8200
 * 4.5, 5: at least 1500 bytes reassembled), for the control thread, on
 * DPDK's rte_ip_frag. fp6 never reassembles forwarded fragments.
 *
 * rte_ip_frag keeps the fragments and chains them when a datagram is
 * complete; the Reassembler keeps, beside it, one record per incomplete
 * datagram (key: source, destination, Identification, RFC 8200 4.5): when
 * it started, which byte ranges arrived, and a copy of the first bytes of
 * its first fragment, so that a datagram abandoned at the timeout earns
 * its source a Time Exceeded (code 1, RFC 8200 4.5) quoting that fragment.
 * rte_ip_frag says neither which datagrams timed out nor which it gave up
 * on; the records follow its table exactly:
 *  - both expire a datagram when `now - start >= timeout` (the table's TTL
 *    is timeout - 1 clock ticks, and it is purged with
 *    rte_ip_frag_table_del_expired_entries() before each fragment is
 *    added, so the table never expires or recycles an entry by itself);
 *  - a fragment the table refuses or gives up on is the only one it puts
 *    on the death row together with the fragment being added, which is how
 *    the Reassembler tells "held" from "dropped" after each call.
 *
 * What RFC 8200 4.5 asks of a destination, and what fp6 does:
 *  - a fragment whose length is not a multiple of 8 while M is set:
 *    discarded, Parameter Problem code 0 pointing at Payload Length (4);
 *  - a fragment that would make the reassembled Payload Length exceed 65535:
 *    discarded, Parameter Problem code 0 pointing at Fragment Offset (42);
 *  - an atomic fragment (offset 0, M clear; RFC 6946): delivered at once,
 *    Fragment header removed, whatever datagram shares its key;
 *  - exact duplicates of a fragment already held: dropped, the datagram
 *    carries on (RFC 8200 4.5 allows this);
 *  - a fragment that overlaps one held, or contradicts the datagram's end (a
 *    last fragment that ends elsewhere, or data past a last fragment's end):
 *    the datagram is abandoned without any ICMPv6 message (RFC 8200 4.5,
 *    RFC 5722); its fragments stay in the table, unusable, until the
 *    timeout, and the ones still arriving are dropped;
 *  - the timeout (60 s, RFC 8200 4.5) counts from the first fragment that
 *    arrived; Time Exceeded code 1 only if the first fragment (offset 0) is
 *    among those received.
 * Limits: the Fragment header must follow the IPv6 header directly (no
 * Hop-by-Hop, Destination Options or Routing header before it: rte_ip_frag
 * cannot rebuild such a datagram), and a datagram may come in at most
 * RTE_LIBRTE_IP_FRAG_MAX_FRAG (8 in DPDK 22.11) fragments: one in more is
 * given up by rte_ip_frag (too_many_fragments), without an ICMPv6 message.
 * With 1500-byte links that reassembles datagrams of up to 8 * 1448 bytes.
 *
 * Memory: the table, the records and the Time Exceeded queue are allocated
 * once, by create(). The fragments held and the copies of first fragments
 * are mbufs: at most ReasmConfig::max_mbufs of them at once, plus up to
 * max_flows copies waiting in the Time Exceeded queue.
 *
 * Thread: one owner (the control thread); needs EAL. The clock is the
 * owner's (the Router's milliseconds); it must not go back. */
#pragma once

#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/ip6.h"

namespace fp6 {

struct ReasmConfig {
    /* Datagrams being reassembled at once (rte_ip_frag max_entries). */
    uint32_t max_flows = 1024;
    /* Entries per hash bucket of the table (a power of 2); each datagram may
     * go to one of two buckets, so a new datagram is refused when both are
     * full even below max_flows. */
    uint32_t bucket_entries = 4;
    /* Mbufs the incomplete datagrams may hold together: fragments (each of
     * their segments) and the copies of first fragments. A fragment that would
     * go past it is dropped (table_full). */
    uint32_t max_mbufs = 4096;
    /* RFC 8200 4.5: 60 seconds, in ticks of the owner's clock (ms). >= 1. */
    uint64_t timeout = 60'000;
    int socket = SOCKET_ID_ANY;
};

/* What push() or poll() hands back. The caller owns `pkt` (never null for a
 * kind other than kNone). */
struct ReasmAction {
    enum class Kind : uint8_t {
        kNone,          // nothing (the fragment is held, or dropped and counted)
        kReassembled,   // pkt: a whole datagram, see Reassembler::push
        kTimeExceeded,  // pkt: the first bytes of the first fragment of a timed-out datagram
        kParamProblem,  // pkt: the offending fragment, as received
    };
    Kind kind = Kind::kNone;
    rte_mbuf* pkt = nullptr;
    /* kTimeExceeded, kParamProblem: the ICMPv6 error the router owes pkt's
     * source (RFC 4443 3.3 code 1, 3.4 code 0), `param` its pointer (0 for
     * Time Exceeded), ready for the caller's error path (RFC 4443 2.4). */
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    uint32_t param = 0;
};

/* Counters. Each fragment pushed is either held (then part of a reassembled
 * datagram, or freed with its datagram at the timeout, or when rte_ip_frag
 * gives it up: too_many_fragments, the fragment that made it give up
 * included), or counted once under atomic, param_problem, duplicates,
 * abandoned_drops, table_full or malformed. */
struct ReasmStats {
    uint64_t fragments = 0;           // fragments pushed
    uint64_t reassembled = 0;         // datagrams completed (atomic fragments apart)
    uint64_t atomic = 0;              // atomic fragments delivered whole
    uint64_t timed_out = 0;           // datagrams abandoned at the timeout
    uint64_t time_exceeded = 0;       // of those, Time Exceeded actions queued for poll()
    uint64_t time_exceeded_lost = 0;  // of those, dropped: the queue held max_flows already
    uint64_t param_problem = 0;       // fragments refused with a Parameter Problem action
    uint64_t duplicates = 0;          // exact duplicates dropped
    uint64_t inconsistent = 0;        // datagrams abandoned: overlap or contradicting end
    uint64_t abandoned_drops = 0;     // fragments of such a datagram dropped (the culprit too)
    uint64_t too_many_fragments = 0;  // datagrams given up by rte_ip_frag
    uint64_t table_full = 0;          // fragments dropped: no entry, or max_mbufs reached
    uint64_t malformed = 0;           // not a fragment push() takes
    uint64_t no_mbuf = 0;             // first fragment not copied: no Time Exceeded for it
};

class Reassembler {
  public:
    /* A reassembler whose copies of first fragments come from `pool` (the
     * data plane's). InvalidArgument: no pool, max_flows, max_mbufs or
     * timeout 0, or bucket_entries not a power of 2; ResourceExhausted:
     * rte_ip_frag_table_create() failed (memory). */
    static absl::StatusOr<std::unique_ptr<Reassembler>> create(const ReasmConfig& cfg,
                                                               rte_mempool* pool);
    /* Frees every mbuf still held (EAL must still be up). */
    ~Reassembler();
    Reassembler(const Reassembler&) = delete;
    Reassembler& operator=(const Reassembler&) = delete;

    /* Takes `m` (ownership: always), a frame received on m->port whose
     * Ethernet header (14 bytes), IPv6 header and Fragment header (RFC 8200
     * 4.5) lie in its first segment, the Fragment header right after the
     * IPv6 header, and which holds at least 40 + Payload Length bytes after
     * the Ethernet header (more is link padding, trimmed). First expires
     * what is due at `now` (queued for poll()), then:
     *  - kReassembled: `m` completed its datagram (or was atomic). pkt is the
     *    datagram as if received whole: the first fragment's Ethernet
     *    header, the IPv6 header with Next Header and Payload Length of the
     *    datagram, no Fragment header, then the data. It is CHAINED (one or
     *    more segments per fragment; the first segment holds the headers and
     *    the first fragment's data; an atomic fragment keeps the segments it
     *    came in), pkt->port is the first fragment's rx port, l2_len 14,
     *    l3_len 40, hash.usr 0.
     *  - kParamProblem: `m` itself, as received (link padding trimmed), to
     *    be answered with the error in the action.
     *  - kNone: `m` is held, or was dropped and counted.
     * Anything else (no Fragment header right after the IPv6 header, a
     * truncated frame, a fragment with no data): dropped, malformed. */
    ReasmAction push(rte_mbuf* m, uint64_t now);

    /* Expires what is due at `now` and returns the Time Exceeded actions
     * waiting (each pkt: a single-segment copy of the first
     * 14 + min(40 + Payload Length, 1232) bytes of the first fragment as
     * received, Ethernet header on, pkt->port its rx port), oldest first. */
    std::vector<ReasmAction> poll(uint64_t now);

    /* The earliest time at which poll() has something to do: 0 when Time
     * Exceeded actions are already waiting, nullopt when no datagram is
     * incomplete. */
    std::optional<uint64_t> next_deadline() const;

    const ReasmStats& stats() const noexcept { return stats_; }
    uint32_t flows_in_use() const noexcept { return in_use_; }
    uint32_t mbufs_held() const noexcept { return mbufs_held_; }

  private:
    struct Key {
        Ip6 src, dst;
        uint32_t id = 0;  // Identification, as on the wire
        friend bool operator==(const Key&, const Key&) = default;
        template <typename H>
        friend H AbslHashValue(H h, const Key& k) {
            return H::combine(std::move(h), k.src, k.dst, k.id);
        }
    };
    struct Range {
        uint32_t begin = 0, end = 0;  // bytes of the fragmentable part
        bool last = false;            // M clear
    };
    static constexpr uint32_t kNil = UINT32_MAX;
    /* One incomplete datagram, in `records_`; linked in start order. */
    struct Record {
        Key key;
        uint64_t start = 0;         // the clock when its first-arriving fragment came
        rte_mbuf* first = nullptr;  // copy of its first fragment, once received
        uint32_t mbufs = 0;         // mbufs held for it (fragments and `first`)
        uint32_t end = 0;           // the datagram's length, once the last fragment came
        bool have_last = false;
        bool abandoned = false;  // inconsistent: fragments dropped until the timeout
        uint8_t n_ranges = 0;
        Range ranges[RTE_LIBRTE_IP_FRAG_MAX_FRAG];
        uint32_t prev = kNil, next = kNil;
    };

    Reassembler(const ReasmConfig& cfg, rte_mempool* pool, rte_ip_frag_tbl* tbl);

    uint64_t clock(uint64_t now);
    void expire(uint64_t now);
    void queue_time_exceeded(rte_mbuf* first);
    uint32_t new_record(const Key& key, uint64_t now);
    void release(uint32_t idx);
    bool on_death_row(const rte_mbuf* m, uint32_t from) const;
    void free_death_row();

    ReasmConfig cfg_;
    rte_mempool* pool_;
    rte_ip_frag_tbl* tbl_;
    rte_ip_frag_death_row dr_{};  // emptied after every call into the table
    std::vector<Record> records_;
    std::vector<uint32_t> free_;  // free indices of records_
    absl::flat_hash_map<Key, uint32_t> index_;
    uint32_t head_ = kNil, tail_ = kNil;  // oldest, newest
    uint32_t in_use_ = 0;
    uint32_t mbufs_held_ = 0;
    uint64_t last_now_ = 0;            // the clock never goes back: an earlier `now` reads as this
    std::vector<rte_mbuf*> te_queue_;  // ring of max_flows Time Exceeded copies
    uint32_t te_head_ = 0, te_count_ = 0;
    ReasmStats stats_;
};

}  // namespace fp6
