/* Fuzz target: the worker's packet path as a whole. A burst of frames goes
 * into classify_burst() as real mbufs (EAL without hugepages) against a FIB
 * with one route of every kind; what comes out must add up:
 *  - every input mbuf is in exactly one of tx, punt or freed, and every mbuf
 *    (segments and Redirect copies included) is back in the pool once the
 *    outputs are freed: no leak, no double free;
 *  - the counters agree with the lists: rx = n, forwarded = n_tx, punted =
 *    the local punts, rx = forwarded + punted + the sum of the drops, the
 *    ICMPv6 and Redirect punts counted as such; punt_full and tx_full are
 *    never classify_burst's to count; after punt_shortfall() the sum holds;
 *  - a transmitted packet goes out of a port that exists and is up, as a
 *    valid IPv6 datagram trimmed to its Payload Length, with a hop limit one
 *    lower and nothing else after the Ethernet header changed; a punted
 *    packet is exactly what was received (trimmed); a Redirect copy is the
 *    received frame's first bytes; every punt carries a reason of its list.
 *
 * Input: byte 0 flags, byte 1 first-segment length, then frames, each a
 * big-endian 16-bit length and that many bytes (the last one may be short).
 *   flags bit 0: a WorkerLocal (ICMPv6 errors and Redirects may be punted)
 *         bit 1: the rx port sends Redirects
 *         bits 2-3: rx port: 0 the main port, 1 the second, 2 an admin-down
 *                   port, 3 an absent one
 *         bits 4-7: how many punts the punt ring takes (15: all)
 *   byte 1: 0 puts each frame in one mbuf; n > 0 puts its first n bytes in
 *           a first segment and the rest in further segments. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/rcu.h"
#include "dataplane/packet.h"
#include "rib/fib.h"
#include "rib/nexthop.h"
#include "test/fuzz/fuzz_check.h"

namespace fp6 {
namespace {

constexpr uint16_t kRx = 0;
constexpr uint16_t kOut = 1;
constexpr uint16_t kAbsent = 2;
constexpr uint16_t kDown = 3;
constexpr unsigned kPoolSize = 8191;
constexpr size_t kEth = sizeof(rte_ether_hdr);
constexpr size_t kIp6 = sizeof(rte_ipv6_hdr);
constexpr size_t kMaxFrame = 9000;  // a jumbo frame, in up to 5 segments

/* What the target keeps between inputs. */
struct World {
    rte_mempool* pool = nullptr;
    Fib* fib = nullptr;
    NextHopTable* nhs = nullptr;
    Tables* tables = nullptr;
    PortAddrs rx_addrs, out_addrs;
    WorkerLocal local;
};
World* g_world = nullptr;

Ip6 ip(const char* text) {
    auto a = Ip6::parse(text);
    FUZZ_CHECK(a.has_value(), "bad address %s", text);
    return *a;
}

std::string affinity_list() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return "0";
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            return std::to_string(c);
    return "0";
}

void start_eal() {
    std::vector<std::string> args = {
        "fp6-fuzz-packet",
        "--no-huge",
        "-m",
        "128",
        "--no-shconf",
        "--no-pci",
        "--no-telemetry",
        "--log-level=*:error",
        "--file-prefix=fp6fuzz_" + std::to_string(getpid()),
        "--lcores=0@" + affinity_list(),
    };
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    FUZZ_CHECK(rte_eal_init(int(args.size()), argv.data()) >= 0, "rte_eal_init: %s",
               rte_strerror(rte_errno));
}

NextHop simple(NhKind k, uint16_t port = 0) {
    NextHop nh;
    nh.kind = k;
    nh.port = port;
    return nh;
}

NextHop neighbour(uint16_t port, uint8_t mac_low, bool resolved, const char* addr) {
    NextHop nh;
    nh.kind = NhKind::kNeighbor;
    nh.port = port;
    nh.resolved = resolved;
    nh.addr = ip(addr);
    const uint8_t dst[6] = {0x02, 0, 0, 0, 0x99, 0x99};
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, mac_low};
    if (resolved)
        std::memcpy(nh.l2.dst_addr.addr_bytes, dst, 6);
    std::memcpy(nh.l2.src_addr.addr_bytes, src, 6);
    nh.l2.ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
    return nh;
}

void add_port(Tables& t, uint16_t id, uint8_t mac_low, bool up, uint16_t mtu) {
    t.ports[id].mac = Mac({0x02, 0, 0, 0, 0, mac_low});
    t.ports[id].exists = true;
    t.set_admin_up(id, up);
    t.ports[id].link_up = up;
    t.ports[id].mtu = mtu;
}

World* make_world() {
    start_eal();
    auto* w = new World;
    w->pool = rte_pktmbuf_pool_create("fp6_fuzz_mbufs", kPoolSize, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      SOCKET_ID_ANY);
    FUZZ_CHECK(w->pool != nullptr, "mbuf pool: %s", rte_strerror(rte_errno));
    w->nhs = new NextHopTable(64);
    w->fib = new Fib();
    auto add = [&](const NextHop& nh) {
        const uint32_t id = w->nhs->alloc();
        FUZZ_CHECK(id != 0, "next hop table full");
        w->nhs->publish(id, nh);
        return id;
    };
    auto route = [&](const char* prefix, uint32_t id) {
        const absl::Status s = w->fib->set(Prefix6::parse(prefix)->canonical(), id);
        FUZZ_CHECK(s.ok(), "FIB: %s", std::string(s.message()).c_str());
    };
    // The routes of test/unit/packet_test.cc, plus a wide one to the port
    // with the small MTU and an ECMP group of two neighbours.
    route("2001:db8:1::/64", add(simple(NhKind::kConnected, kRx)));
    route("2001:db8:1::1/128", add(simple(NhKind::kLocal)));
    route("2001:db8:2000::/48", add(neighbour(kOut, 2, true, "fe80::99")));
    route("2001:db8:3000::/48", add(neighbour(kOut, 2, false, "fe80::99")));
    route("2001:db8:4000::/48", add(neighbour(kAbsent, 2, true, "fe80::99")));
    route("2001:db8:5000::/48", add(neighbour(kDown, 4, true, "fe80::99")));
    route("2001:db8:6000::/48", add(neighbour(kRx, 1, true, "fe80::99")));
    route("2001:db8:1::88/128", add(neighbour(kRx, 1, true, "2001:db8:1::88")));
    route("2001:db8:7::/64", add(simple(NhKind::kConnected, kOut)));
    route("2001:db8:dead::/48", add(simple(NhKind::kBlackhole)));
    route("2001:db8:bad0::/48", add(simple(NhKind::kUnreachable)));
    route("2001:db8:bad1::/48", add(simple(NhKind::kProhibit)));
    route("2001:db8:bad2::/48", add(simple(NhKind::kReject)));
    route("3000::/4", add(neighbour(kOut, 2, true, "fe80::98")));
    NextHop group = simple(NhKind::kGroup);
    group.slots[0] = add(neighbour(kOut, 2, true, "fe80::97"));
    group.slots[1] = group.slots[2] = add(neighbour(kRx, 1, true, "fe80::96"));
    group.n_slots = 3;
    route("2001:db8:ec00::/48", add(group));
    w->fib->commit(false);
    rcu_register_thread();  // the fuzzing thread is the worker: an RCU reader

    w->tables = new Tables;
    Tables& t = *w->tables;
    t.fib = w->fib;
    t.nexthops = w->nhs;
    add_port(t, kRx, 1, true, 1500);
    add_port(t, kOut, 2, true, 1280);
    add_port(t, kDown, 4, false, 1500);
    w->rx_addrs.unicast = {ip("fe80::1"), ip("2001:db8:1::1")};
    w->rx_addrs.groups = {kAllNodes, ip("2001:db8:1::1").solicited_node()};
    t.ports[kRx].addrs = &w->rx_addrs;
    w->out_addrs.unicast = {ip("fe80::2")};
    w->out_addrs.groups = {kAllNodes};
    t.ports[kOut].addrs = &w->out_addrs;
    return w;
}

/* A frame in a chain of mbufs: first_len bytes in the first segment (0: as
 * many as fit), the rest in segments as full as they go. */
rte_mbuf* to_mbuf(rte_mempool* pool, const uint8_t* p, size_t len, size_t first_len) {
    rte_mbuf* head = nullptr;
    size_t off = 0;
    do {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        FUZZ_CHECK(m != nullptr, "mbuf pool empty");
        const size_t room = rte_pktmbuf_tailroom(m);
        size_t n = std::min(len - off, room);
        if (head == nullptr && first_len != 0)
            n = std::min(n, first_len);
        if (n != 0)
            std::memcpy(rte_pktmbuf_append(m, uint16_t(n)), p + off, n);
        if (head == nullptr)
            head = m;
        else
            FUZZ_CHECK(rte_pktmbuf_chain(head, m) == 0, "too many segments");
        off += n;
    } while (off < len);
    return head;
}

std::vector<uint8_t> bytes_of(const rte_mbuf* m) {
    std::vector<uint8_t> out;
    for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
        const auto* p = rte_pktmbuf_mtod(s, const uint8_t*);
        out.insert(out.end(), p, p + rte_pktmbuf_data_len(s));
    }
    return out;
}

bool port_usable(const Tables& t, uint16_t p) {
    return p < RTE_MAX_ETHPORTS && t.ports[p].exists && t.admin_up(p);
}

/* A transmitted packet against the frame it was received as. */
void check_tx(const Tables& t, const rte_mbuf* m, uint16_t port, const std::vector<uint8_t>& in) {
    FUZZ_CHECK(port_usable(t, port), "sent out of unusable port %u", port);
    const std::vector<uint8_t> out = bytes_of(m);
    FUZZ_CHECK(out.size() == rte_pktmbuf_pkt_len(m), "pkt_len %u, segments hold %zu",
               rte_pktmbuf_pkt_len(m), out.size());
    FUZZ_CHECK(rte_pktmbuf_data_len(m) >= kEth + kIp6, "headers not in the first segment");
    FUZZ_CHECK(out.size() <= in.size(), "grew from %zu to %zu", in.size(), out.size());
    const size_t payload = size_t(out[kEth + 4]) << 8 | out[kEth + 5];
    FUZZ_CHECK(out.size() == kEth + kIp6 + payload, "not trimmed: %zu bytes, payload %zu",
               out.size(), payload);
    FUZZ_CHECK(kIp6 + payload <= t.ports[port].mtu, "%zu bytes past MTU %u", kIp6 + payload,
               unsigned(t.ports[port].mtu));
    FUZZ_CHECK(out[12] == 0x86 && out[13] == 0xdd, "ethertype not IPv6");
    FUZZ_CHECK(std::memcmp(&out[6], t.ports[port].mac.data(), 6) == 0,
               "source MAC is not the out port's");
    FUZZ_CHECK((out[kEth] >> 4) == 6, "version %d forwarded", out[kEth] >> 4);
    FUZZ_CHECK(in[kEth + 7] >= 2 && out[kEth + 7] == in[kEth + 7] - 1, "hop limit %d -> %d",
               in[kEth + 7], out[kEth + 7]);
    for (size_t i = kEth; i < out.size(); i++)
        FUZZ_CHECK(i == kEth + 7 || out[i] == in[i], "byte %zu changed in transit", i);
    const Ip6 src = Ip6::from_bytes(&out[kEth + 8]);
    const Ip6 dst = Ip6::from_bytes(&out[kEth + 24]);
    FUZZ_CHECK(
        !src.is_multicast() && !src.is_unspecified() && !src.is_loopback() && !src.is_linklocal(),
        "forwarded from %s", src.str().c_str());
    FUZZ_CHECK(
        !dst.is_multicast() && !dst.is_unspecified() && !dst.is_loopback() && !dst.is_linklocal(),
        "forwarded to %s", dst.str().c_str());
}

/* A punted packet (local, resolve or error): as received, trimmed. */
void check_punt_intact(const rte_mbuf* m, const std::vector<uint8_t>& in) {
    const std::vector<uint8_t> out = bytes_of(m);
    FUZZ_CHECK(out.size() >= kEth + kIp6 && out.size() <= in.size(), "punted %zu of %zu bytes",
               out.size(), in.size());
    FUZZ_CHECK(std::equal(out.begin(), out.end(), in.begin()), "punted packet changed");
    const size_t payload = size_t(out[kEth + 4]) << 8 | out[kEth + 5];
    FUZZ_CHECK(out.size() == kEth + kIp6 + payload, "punt not trimmed");
}

uint64_t drop_sum(const WorkerStats& st) {
    uint64_t sum = 0;
    for (uint64_t d : st.drops)
        sum += d;
    return sum;
}

void run(World& w, const uint8_t* data, size_t size) {
    if (size < 2)
        return;
    const uint8_t flags = data[0];
    const size_t first_len = data[1];
    static constexpr uint16_t kRxPorts[] = {kRx, kOut, kDown, kAbsent};
    const uint16_t rx = kRxPorts[(flags >> 2) & 3];
    Tables& t = *w.tables;
    t.ports[kRx].redirects = (flags & 2) != 0;

    std::vector<std::vector<uint8_t>> frames;
    for (size_t off = 2; off + 2 <= size && frames.size() < BurstResult::kMax;) {
        size_t len = size_t(data[off]) << 8 | data[off + 1];
        off += 2;
        len = std::min({len, size - off, kMaxFrame});
        frames.emplace_back(data + off, data + off + len);
        off += len;
    }
    if (frames.empty())
        return;

    const unsigned avail_before = rte_mempool_avail_count(w.pool);
    rte_mbuf* pkts[BurstResult::kMax];
    const uint16_t n = uint16_t(frames.size());
    for (uint16_t i = 0; i < n; i++)
        pkts[i] = to_mbuf(w.pool, frames[i].data(), frames[i].size(), first_len);
    const std::vector<rte_mbuf*> in(pkts, pkts + n);  // what was sent in, by arrival

    BurstResult r;
    WorkerStats st;
    classify_burst(t, rx, pkts, n, &r, &st, (flags & 1) ? &w.local : nullptr);

    // The lists and the counters.
    FUZZ_CHECK(r.n_icmp + r.n_redirect <= r.n_punt, "n_icmp %u n_redirect %u n_punt %u", r.n_icmp,
               r.n_redirect, r.n_punt);
    const unsigned n_local = r.n_punt - r.n_icmp - r.n_redirect;
    FUZZ_CHECK(r.n_tx + n_local + r.n_icmp <= n, "%u tx + %u punts out of %u", r.n_tx, r.n_punt, n);
    FUZZ_CHECK(st.rx == n, "rx %lu of %u", st.rx, n);
    FUZZ_CHECK(st.forwarded == r.n_tx, "forwarded %lu, n_tx %u", st.forwarded, r.n_tx);
    FUZZ_CHECK(st.punted == n_local, "punted %lu, local punts %u", st.punted, n_local);
    FUZZ_CHECK(st.icmp_punted == r.n_icmp, "icmp_punted %lu, n_icmp %u", st.icmp_punted, r.n_icmp);
    FUZZ_CHECK(st.redirect_punted == r.n_redirect, "redirect_punted %lu, n_redirect %u",
               st.redirect_punted, r.n_redirect);
    FUZZ_CHECK(st.rx == st.forwarded + st.punted + drop_sum(st), "rx %lu != %lu + %lu + %lu", st.rx,
               st.forwarded, st.punted, drop_sum(st));
    FUZZ_CHECK(st.drops[size_t(Drop::kPuntFull)] == 0 && st.drops[size_t(Drop::kTxFull)] == 0,
               "punt_full or tx_full counted by classify_burst");
    if (!(flags & 1))
        FUZZ_CHECK(r.n_icmp == 0 && r.n_redirect == 0 && st.icmp_ratelimited == 0,
                   "error or Redirect without a WorkerLocal");
    if (!port_usable(t, rx))
        FUZZ_CHECK(st.drops[size_t(Drop::kPortDown)] == n, "burst on a down port not dropped");

    // Each input packet at most once in the outputs, in arrival order.
    std::vector<bool> seen(n, false);
    auto index_of = [&](const rte_mbuf* m) {
        for (uint16_t i = 0; i < n; i++)
            if (in[i] == m) {
                FUZZ_CHECK(!seen[i], "packet %u in two lists", i);
                seen[i] = true;
                return int(i);
            }
        return -1;
    };
    int last = -1;
    for (uint16_t k = 0; k < r.n_tx; k++) {
        const int i = index_of(r.tx[k]);
        FUZZ_CHECK(i > last, "tx not an input in arrival order");
        last = i;
        check_tx(t, r.tx[k], r.tx_port[k], frames[i]);
    }
    last = -1;
    for (unsigned k = 0; k < n_local; k++) {
        const int i = index_of(r.punt[k]);
        FUZZ_CHECK(i > last, "local punt not an input in arrival order");
        last = i;
        const PuntReason why = punt_reason(r.punt[k]);
        FUZZ_CHECK(why == PuntReason{} || why.is_resolve(), "local punt with reason %u",
                   why.encode());
        check_punt_intact(r.punt[k], frames[i]);
    }
    last = -1;
    for (unsigned k = n_local; k < n_local + r.n_icmp; k++) {
        const int i = index_of(r.punt[k]);
        FUZZ_CHECK(i > last, "error punt not an input in arrival order");
        last = i;
        FUZZ_CHECK(punt_reason(r.punt[k]).is_error(), "error punt without an error");
        check_punt_intact(r.punt[k], frames[i]);
    }
    for (unsigned k = n_local + r.n_icmp; k < r.n_punt; k++) {
        const rte_mbuf* c = r.punt[k];
        FUZZ_CHECK(index_of(c) == -1, "a Redirect punt is an input, not a copy");
        FUZZ_CHECK(punt_reason(c).is_redirect(), "Redirect copy without its reason");
        FUZZ_CHECK(c->port == rx, "Redirect copy of port %u, received on %u", c->port, rx);
        const std::vector<uint8_t> copy = bytes_of(c);
        // The copy is taken before the rewrite: a forwarded frame's first bytes.
        bool from_some_tx = false;
        for (uint16_t j = 0; j < r.n_tx && !from_some_tx; j++) {
            const size_t i = size_t(std::find(in.begin(), in.end(), r.tx[j]) - in.begin());
            const size_t sent = rte_pktmbuf_pkt_len(r.tx[j]);
            const std::vector<uint8_t>& f = frames[i];
            from_some_tx = copy.size() == std::min(sent, kEth + kRedirectCopyLen) &&
                           std::equal(copy.begin(), copy.end(), f.begin());
        }
        FUZZ_CHECK(from_some_tx, "Redirect copy is no forwarded frame's first bytes");
    }

    // The punt ring takes only some: the counters still add up.
    const unsigned taken = (flags >> 4) == 15 ? r.n_punt : (flags >> 4);
    punt_shortfall(r, taken, &st);
    FUZZ_CHECK(st.rx == st.forwarded + st.punted + drop_sum(st),
               "after punt_shortfall(%u of %u): rx %lu != %lu + %lu + %lu", taken, r.n_punt, st.rx,
               st.forwarded, st.punted, drop_sum(st));
    FUZZ_CHECK(st.punted <= st.rx && st.icmp_punted <= st.rx && st.redirect_punted <= st.rx,
               "a counter went below zero");

    rte_pktmbuf_free_bulk(r.tx, r.n_tx);
    rte_pktmbuf_free_bulk(r.punt, r.n_punt);
    const unsigned avail_after = rte_mempool_avail_count(w.pool);
    FUZZ_CHECK(avail_after == avail_before, "pool held %u mbufs before, %u after", avail_before,
               avail_after);
}

}  // namespace
}  // namespace fp6

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fp6::g_world = fp6::make_world();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fp6::run(*fp6::g_world, data, size);
    return 0;
}
