/* Fuzz target: the neighbour-discovery codec (nd/ndp.h), an IPv6 packet in.
 * parse_nd() and parse_mld2_report() must never read outside the input (the
 * sanitizers see that), and what they accept must hold up:
 *  - bytes past the Payload Length change nothing (link padding);
 *  - a decoded message obeys the rules the parser claims to check (a type
 *    133-136, hop limit 255, no multicast source or target, no S flag to a
 *    multicast destination, RA from a link-local source, prefixes masked
 *    and at most /128, a nonce of 48 bits);
 *  - an NS or NA that parse_nd() accepts, build_ns()/build_na() accept too,
 *    and their packet parses back to the same fields;
 *  - an MLDv2 Report comes from a link-local source and keeps only records
 *    of a known type with a multicast group. */
#include <algorithm>
#include <array>
#include <vector>

#include "nd/ndp.h"
#include "test/fuzz/fuzz_check.h"

namespace fp6 {
namespace {

constexpr size_t kIp6 = 40;

bool same(const NdMessage& a, const NdMessage& b) {
    if (a.prefixes.size() != b.prefixes.size())
        return false;
    for (size_t i = 0; i < a.prefixes.size(); i++) {
        const NdPrefixInfo &x = a.prefixes[i], &y = b.prefixes[i];
        if (x.prefix != y.prefix || x.on_link != y.on_link || x.autonomous != y.autonomous ||
            x.valid_lifetime != y.valid_lifetime || x.preferred_lifetime != y.preferred_lifetime)
            return false;
    }
    return a.type == b.type && a.src == b.src && a.dst == b.dst && a.hop_limit == b.hop_limit &&
           a.target == b.target && a.router == b.router && a.solicited == b.solicited &&
           a.override_ == b.override_ && a.src_lladdr == b.src_lladdr &&
           a.tgt_lladdr == b.tgt_lladdr && a.nonce == b.nonce &&
           a.cur_hop_limit == b.cur_hop_limit && a.managed == b.managed && a.other == b.other &&
           a.router_lifetime == b.router_lifetime && a.reachable_time == b.reachable_time &&
           a.retrans_timer == b.retrans_timer && a.mtu == b.mtu;
}

bool same(const NdParse& a, const NdParse& b) {
    if (a.index() != b.index())
        return false;
    if (const auto* d = std::get_if<NdDrop>(&a))
        return *d == std::get<NdDrop>(b);
    return same(std::get<NdMessage>(a), std::get<NdMessage>(b));
}

bool same(const Mld2Parse& a, const Mld2Parse& b) {
    if (a.index() != b.index())
        return false;
    if (const auto* d = std::get_if<NdDrop>(&a))
        return *d == std::get<NdDrop>(b);
    const Mld2Report &x = std::get<Mld2Report>(a), &y = std::get<Mld2Report>(b);
    if (x.src != y.src || x.dst != y.dst || x.records.size() != y.records.size())
        return false;
    for (size_t i = 0; i < x.records.size(); i++)
        if (x.records[i].type != y.records[i].type || x.records[i].group != y.records[i].group ||
            x.records[i].sources != y.records[i].sources)
            return false;
    return true;
}

/* The claims of nd/ndp.h about an accepted message. */
void check_message(const NdMessage& m) {
    FUZZ_CHECK(m.type >= kIcmp6RouterSolicit && m.type <= kIcmp6NeighborAdvert, "type %u", m.type);
    FUZZ_CHECK(m.hop_limit == 255, "hop limit %u", m.hop_limit);
    FUZZ_CHECK(!m.src.is_multicast(), "multicast source %s", m.src.str().c_str());
    FUZZ_CHECK(!m.nonce || (*m.nonce >> 48) == 0, "nonce over 48 bits");
    if (m.type == kIcmp6NeighborSolicit || m.type == kIcmp6NeighborAdvert)
        FUZZ_CHECK(!m.target.is_multicast(), "multicast target");
    if (m.type == kIcmp6NeighborAdvert)
        FUZZ_CHECK(!(m.solicited && m.dst.is_multicast()), "S set to a multicast destination");
    if (m.type == kIcmp6RouterAdvert)
        FUZZ_CHECK(m.src.is_linklocal(), "RA from %s", m.src.str().c_str());
    else
        FUZZ_CHECK(m.prefixes.empty() && !m.mtu, "RA options in type %u", m.type);
    if (m.src.is_unspecified())
        FUZZ_CHECK(!m.src_lladdr, "SLLA from ::");
    for (const NdPrefixInfo& p : m.prefixes) {
        FUZZ_CHECK(p.prefix.len() <= 128, "prefix length %d", p.prefix.len());
        FUZZ_CHECK(!p.prefix.has_host_bits(), "prefix %s not masked", p.prefix.str().c_str());
    }
}

/* What parse_nd() accepts, the builders accept, and it parses back the same. */
void check_rebuild(const NdMessage& m) {
    std::array<uint8_t, kNsMaxLen> buf{};
    size_t len = 0;
    if (m.type == kIcmp6NeighborSolicit)
        len = build_ns(buf, m.src, m.dst, m.target, m.src_lladdr, m.nonce);
    else if (m.type == kIcmp6NeighborAdvert)
        len =
            build_na(buf, m.src, m.dst, m.target, m.router, m.solicited, m.override_, m.tgt_lladdr);
    else
        return;
    FUZZ_CHECK(len != 0, "parse_nd accepted a type %u that the builder refuses", m.type);
    const NdParse back = parse_nd(buf.data(), len);
    const auto* b = std::get_if<NdMessage>(&back);
    FUZZ_CHECK(b != nullptr, "a built type %u is refused: %s", m.type,
               nd_drop_name(std::get<NdDrop>(back)));
    FUZZ_CHECK(b->src == m.src && b->dst == m.dst && b->target == m.target &&
                   b->router == m.router && b->solicited == m.solicited &&
                   b->override_ == m.override_ && b->src_lladdr == m.src_lladdr &&
                   b->tgt_lladdr == m.tgt_lladdr && b->nonce == m.nonce,
               "type %u does not round-trip", m.type);
}

void check_mld(const Mld2Report& r) {
    FUZZ_CHECK(r.src.is_linklocal(), "MLD Report from %s", r.src.str().c_str());
    for (const Mld2Record& rec : r.records) {
        FUZZ_CHECK(rec.type >= kMld2ModeIsInclude && rec.type <= kMld2BlockOldSources,
                   "record type %u", rec.type);
        FUZZ_CHECK(rec.group.is_multicast(), "record for %s", rec.group.str().c_str());
    }
}

void run(const uint8_t* data, size_t size) {
    const NdParse nd = parse_nd(data, size);
    const Mld2Parse mld = parse_mld2_report(data, size);
    if (const auto* d = std::get_if<NdDrop>(&nd))
        FUZZ_CHECK(*d < NdDrop::kCount, "reason %u out of range", unsigned(*d));
    if (const auto* m = std::get_if<NdMessage>(&nd)) {
        check_message(*m);
        check_rebuild(*m);
    }
    if (const auto* r = std::get_if<Mld2Report>(&mld))
        check_mld(*r);
    FUZZ_CHECK(!(std::holds_alternative<NdMessage>(nd) && std::holds_alternative<Mld2Report>(mld)),
               "one packet is both ND and MLD");

    // Link padding: the same packet cut at its Payload Length reads the same.
    if (size >= kIp6) {
        const size_t whole = kIp6 + (size_t(data[4]) << 8 | data[5]);
        if (whole < size) {
            const std::vector<uint8_t> cut(data, data + whole);
            FUZZ_CHECK(same(nd, parse_nd(cut.data(), cut.size())), "padding changed parse_nd");
            FUZZ_CHECK(same(mld, parse_mld2_report(cut.data(), cut.size())),
                       "padding changed parse_mld2_report");
        }
    }
}

}  // namespace
}  // namespace fp6

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fp6::run(data, size);
    return 0;
}
