/* Source address selection (RFC 6724 section 5) for packets fp6 originates,
 * its policy table (RFC 6724 section 2.1), and a cache of its answers.
 *
 * Inputs are plain values: the control layer turns the address table (see
 * rib/addr.h) into SrcCandidates, one per usable address, and counts the
 * tentative ones; nothing here needs DPDK or EAL.
 *
 * Concurrency. select_source() and PolicyTable are for one thread at a time
 * (the control thread). SrcCache is read by any number of threads without
 * locks while one thread at a time writes it (see SrcCache). */
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ip6.h"

namespace fp6 {

/* One of our addresses, as selection sees it. Only usable addresses are
 * candidates: the caller leaves out tentative and duplicate ones, and those
 * of a port that is down. */
struct SrcCandidate {
    Ip6 addr;
    int plen = 64;
    uint16_t port = 0;
    bool preferred = true;            // false = deprecated: still usable, avoided (rule 3)
    bool operator_preferred = false;  // `addr add ... preferred-source`, standing for rule 4
    bool temporary = false;           // RFC 4941 temporary address, preferred (rule 7)
    bool autoconf = false;            // autoconfigured; a static address beats it
};

/* What selection needs to know of the packet besides the candidates. */
struct SrcQuery {
    Ip6 dst;
    uint16_t out_port = 0;       // the port the packet will leave by
    bool strict_source = false;  // out_port has strict_source: only its addresses qualify
    /* How many tentative addresses would have qualified had they been usable
     * (count those whose port passes in_candidate_set()). It only chooses
     * which error an empty candidate set gives. */
    int tentative = 0;
};

/* The policy table of RFC 6724 section 2.1: longest-prefix match from an
 * address to a precedence and a label. A new table holds the default one. */
class PolicyTable {
  public:
    struct Entry {
        Prefix6 prefix;
        uint32_t precedence = 0;
        uint32_t label = 0;
        friend bool operator==(const Entry&, const Entry&) = default;
    };

    /* The default table of RFC 6724 section 2.1. */
    PolicyTable();

    /* Adds prefix -> (precedence, label), replacing the entry of the same
     * prefix if there is one. InvalidArgument when the prefix has bits set
     * past its length or a length over 128; nothing changes then. */
    absl::Status add(const Prefix6& prefix, uint32_t precedence, uint32_t label);
    /* Removes the entry of exactly this prefix; NotFound when there is none. */
    absl::Status del(const Prefix6& prefix);
    /* Every entry, longest prefix first (ties in address order). */
    std::vector<Entry> list() const;

    /* The entry whose prefix is the longest to contain `a`; nullptr when
     * none does (possible once ::/0 is deleted). Valid until the next add()
     * or del(). */
    const Entry* match(const Ip6& a) const noexcept;
    /* Bumped by every add() and del() that changed the table: the answers of
     * select_source() may have changed, so a cache keyed on the address
     * generation must be keyed on this too. */
    uint64_t version() const noexcept { return version_; }

  private:
    struct Row {
        uint64_t hi, lo, mask_hi, mask_lo;  // prefix and mask, host order
        Entry entry;
    };
    std::vector<Row> rows_;  // longest prefix first
    uint64_t version_ = 0;
};

/* The scope of an address as RFC 6724 section 3.1 compares them: a
 * multicast address's scope field; 0x2 (link-local) for unicast link-local
 * and the loopback address; 0x5 (site-local) for the deprecated site-local
 * fec0::/10; 0xe (global) for everything else, unique local fc00::/7
 * included. */
int address_scope(const Ip6& a) noexcept;

/* CommonPrefixLen(S, D) of RFC 6724 section 2.2: the number of leading bits
 * src and dst share, counted only up to src's prefix length `plen`. */
int common_prefix_len(const Ip6& src, int plen, const Ip6& dst) noexcept;

/* Whether an address on `port` belongs to the candidate set for q (RFC 6724
 * section 4): every port's addresses do, except that only out_port's do
 * when the destination is link-local (unicast fe80::/10, or multicast of
 * interface- or link-local scope) or when q.strict_source is set. */
bool in_candidate_set(const SrcQuery& q, uint16_t port) noexcept;

/* Picks the source address for a packet to q.dst leaving by q.out_port
 * among `candidates` (in configuration order), by the rules of RFC 6724
 * section 5 with fp6's additions: (1) the destination itself; (2) the
 * appropriate scope; (3) not deprecated; (4) operator_preferred; (5) on the
 * outgoing port; (6) a label equal to the destination's in `policy`; (7)
 * temporary; then a prefix that contains the destination, longer first;
 * static rather than autoconfigured; (8) the longest CommonPrefixLen; and
 * last the first candidate in order. One pass, no allocation.
 * Errors: NotFound "no source address" when no candidate is in the
 * candidate set and q.tentative is 0; Unavailable "address not ready" when
 * none is but q.tentative is not 0. */
absl::StatusOr<Ip6> select_source(const SrcQuery& q, std::span<const SrcCandidate> candidates,
                                  const PolicyTable& policy);

/* A cache of selected sources keyed by (destination, outgoing port). Each
 * entry carries the generation it was computed under; a lookup is a hit only
 * when that equals the caller's current generation, so bumping the
 * generation (the caller passes a new number) retires every entry in O(1)
 * and nothing ever walks the cache. Memory is fixed at construction: an
 * open-addressed array of buckets of kWays entries; put() into a full bucket
 * overwrites one of its entries.
 *
 * Design: a seqlock per entry rather than RCU-published immutable entries.
 * An entry is seven words, rewritten in place on every miss; with RCU each
 * put() would allocate a new entry and defer freeing the old one, so memory
 * would no longer be fixed, and every reading thread would have to be a
 * registered, regularly quiescent QSBR thread, which a library called from
 * anywhere cannot demand. The seqlock needs neither: the writer makes the
 * sequence odd, rewrites the words, and makes it even again; a reader
 * rereads the sequence after copying the words and retries (at most
 * kReadTries times, then answers a miss) if it was odd or changed. Every
 * word is a std::atomic accessed relaxed between acquire/release fences, so
 * the copy is no data race under the C++ memory model.
 *
 * Concurrency: lookup() from any number of threads at once; put() from one
 * thread at a time (the caller serialises writers), concurrently with the
 * readers. */
class SrcCache {
  public:
    static constexpr int kWays = 4;       // entries per bucket
    static constexpr int kReadTries = 4;  // seqlock retries before a lookup gives up

    /* A cache of at least `capacity` entries (rounded up to a power of two,
     * at least kWays). */
    explicit SrcCache(size_t capacity);
    SrcCache(const SrcCache&) = delete;
    SrcCache& operator=(const SrcCache&) = delete;

    /* The source stored for (dst, port) under `generation`; nullopt when
     * there is none, when it was stored under another generation, or when a
     * concurrent put() kept it changing for kReadTries reads. */
    std::optional<Ip6> lookup(const Ip6& dst, uint16_t port, uint64_t generation) const noexcept;
    /* Stores src for (dst, port) under `generation`: over the entry of the
     * same key if the bucket has one, else over an empty entry or one of an
     * older generation, else over one of the bucket's entries in turn. */
    void put(const Ip6& dst, uint16_t port, uint64_t generation, const Ip6& src) noexcept;

    size_t capacity() const noexcept { return nbuckets_ * kWays; }

  private:
    struct alignas(64) Slot {
        std::atomic<uint64_t> seq{0};  // odd while the writer is in the middle of it
        std::atomic<uint64_t> dst_hi{0}, dst_lo{0};
        std::atomic<uint64_t> meta{0};  // kValid | port
        std::atomic<uint64_t> gen{0};
        std::atomic<uint64_t> src_hi{0}, src_lo{0};
    };
    static constexpr uint64_t kValid = uint64_t(1) << 63;

    Slot* bucket(uint64_t dst_hi, uint64_t dst_lo, uint16_t port) const noexcept;

    size_t nbuckets_;
    std::unique_ptr<Slot[]> slots_;
    uint32_t next_victim_ = 0;  // writer only
};

}  // namespace fp6
