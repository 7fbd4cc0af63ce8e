/* fwd_bench: fp6's packet path (classify_burst) alone, on one synthetic
 * burst replayed many times, for instruction counts that do not depend on
 * the machine's load: tools/bench-callgrind.sh runs it under valgrind's
 * callgrind, collecting inside classify_burst only, and divides by the
 * packets forwarded. Run plainly, it prints ns per packet, a rough figure.
 *
 * The burst: --burst frames of 64 bytes (Ethernet, IPv6, UDP), each to a
 * destination under a different route, arriving on port 0; every route goes
 * to one of 4 resolved neighbours on port 1. After each pass the forwarded
 * frames get their hop limit and Ethernet header back, so every pass does
 * the same work (the restore is outside classify_burst, so callgrind does
 * not count it). TODO: the worker loop around it (rx burst, worker_tx's
 * grouping by port, the tx burst) is not counted; it needs a fake ethdev.
 *
 *   fwd_bench [--routes N | --table FILE] [--bursts B] [--burst K]
 *
 * --routes N: N prefixes (default 16), /64s under 2001:db8:100::/48, N <=
 * 65536. --table FILE: every prefix of FILE (one a line). Destinations: one
 * per route when the burst has room for all, else drawn from the routes at
 * random (fixed seed). Prints one line,
 * "packets P forwarded F bursts B ns_per_packet X", and exits 1 when a
 * packet was not forwarded. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/ip6.h"
#include "common/rcu.h"
#include "dataplane/packet.h"
#include "dataplane/tables.h"
#include "rib/fib.h"
#include "rib/nexthop.h"

namespace fp6 {
namespace {

constexpr uint16_t kRxPort = 0;
constexpr uint16_t kOutPort = 1;
constexpr uint8_t kHopLimit = 64;

struct Options {
    unsigned routes = 16;
    std::string table;
    unsigned bursts = 100000;
    unsigned burst = 64;  // fp6d's (dataplane/worker.cc)
};

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "fwd_bench: %s\n", msg.c_str());
    std::exit(1);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc)
            die("missing value after " + a);
        std::string v = argv[++i];
        char* end;
        unsigned long n = std::strtoul(v.c_str(), &end, 10);
        bool number = !v.empty() && *end == '\0';
        if (a == "--table")
            o.table = v;
        else if (!number || n == 0)
            die(a + " expects a positive number, got \"" + v + "\"");
        else if (a == "--routes" && n <= 65536)
            o.routes = unsigned(n);
        else if (a == "--bursts")
            o.bursts = unsigned(n);
        else if (a == "--burst" && n <= unsigned(BurstResult::kMax))
            o.burst = unsigned(n);
        else
            die("unknown option or value out of range: " + a + " " + v);
    }
    return o;
}

/* The routes and, for each packet of the burst, its destination. */
void make_routes(const Options& o, std::vector<Prefix6>* routes, std::vector<Ip6>* dsts) {
    std::mt19937_64 rng(1);
    if (!o.table.empty()) {
        std::ifstream in(o.table);
        if (!in)
            die("cannot read " + o.table);
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#')
                continue;
            auto p = Prefix6::parse(line);
            if (!p)
                die(o.table + ": not a prefix: " + line);
            routes->push_back(p->canonical());
        }
        if (routes->empty())
            die(o.table + ": no prefixes");
    } else {
        for (unsigned k = 0; k < o.routes; k++) {
            // 2001:db8:100:k::/64
            std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00};
            b[6] = uint8_t(k >> 8);
            b[7] = uint8_t(k);
            routes->push_back(Prefix6(Ip6::from_bytes(b.data()), 64));
        }
    }
    for (unsigned i = 0; i < o.burst; i++) {
        // Each route once while the burst has room; else routes at random.
        const size_t k = routes->size() <= o.burst ? i % routes->size() : rng() % routes->size();
        const Prefix6& p = (*routes)[k];
        std::array<uint8_t, 16> b;
        std::memcpy(b.data(), p.addr().data(), 16);
        // A host inside the prefix: random bits below its length, never all zero.
        for (unsigned bit = unsigned(p.len()); bit < 128; bit++)
            if (rng() & 1)
                b[bit / 8] |= uint8_t(0x80 >> (bit % 8));
        b[15] |= 1;
        if (p.len() == 128)
            std::memcpy(b.data(), p.addr().data(), 16);
        dsts->push_back(Ip6::from_bytes(b.data()));
    }
}

/* A 64-byte Ethernet/IPv6/UDP frame to dst, arriving from a peer. */
void fill_frame(rte_mbuf* m, const Mac& port_mac, const Ip6& dst) {
    rte_pktmbuf_reset(m);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, 64));
    std::memcpy(&eth->dst_addr, port_mac.data(), 6);
    const uint8_t peer[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::memcpy(&eth->src_addr, peer, 6);
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    ip->vtc_flow = RTE_BE32(6u << 28);
    ip->payload_len = RTE_BE16(10);
    ip->proto = IPPROTO_UDP;
    ip->hop_limits = kHopLimit;
    const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    std::memcpy(ip->src_addr, src, 16);
    std::memcpy(ip->dst_addr, dst.data(), 16);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->src_port = RTE_BE16(1024);
    udp->dst_port = RTE_BE16(9);
    udp->dgram_len = RTE_BE16(10);
    udp->dgram_cksum = 0;
    udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
}

int run(const Options& o) {
    std::vector<Prefix6> routes;
    std::vector<Ip6> dsts;
    make_routes(o, &routes, &dsts);

    rte_mempool* pool =
        rte_pktmbuf_pool_create("fwd_bench", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (pool == nullptr)
        die(std::string("mbuf pool: ") + rte_strerror(rte_errno));

    static Tables t;  // PortView is large (one per possible port)
    const Mac rx_mac = *Mac::parse("02:70:63:61:70:00");
    const Mac out_mac = *Mac::parse("02:00:00:00:00:10");
    for (uint16_t p : {kRxPort, kOutPort}) {
        t.ports[p].mac = p == kRxPort ? rx_mac : out_mac;
        t.set_admin_up(p, true);
        t.ports[p].link_up.store(true);
        t.ports[p].exists.store(true);
    }

    // Four neighbours on the out port; route i goes to neighbour i % 4.
    NextHopTable nhs(64);
    uint32_t ids[4];
    for (unsigned n = 0; n < 4; n++) {
        NextHop nh;
        nh.kind = NhKind::kNeighbor;
        nh.resolved = true;
        nh.port = kOutPort;
        const uint8_t neigh[6] = {0x02, 0, 0, 0, 0x99, uint8_t(n)};
        std::memcpy(&nh.l2.dst_addr, neigh, 6);
        std::memcpy(&nh.l2.src_addr, out_mac.data(), 6);
        nh.l2.ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
        ids[n] = nhs.alloc();
        nhs.publish(ids[n], nh);
    }
    Fib fib;
    for (size_t i = 0; i < routes.size(); i++) {
        absl::Status st = fib.set(routes[i], ids[i % 4]);
        if (!st.ok())
            die(routes[i].str() + ": " + std::string(st.message()));
    }
    // Nothing was retired: commit returns without waiting for readers.
    fib.commit(false);
    t.fib = &fib;
    t.nexthops = &nhs;

    std::vector<rte_mbuf*> pkts(o.burst);
    if (rte_pktmbuf_alloc_bulk(pool, pkts.data(), o.burst) != 0)
        die("cannot allocate the burst");
    for (unsigned i = 0; i < o.burst; i++)
        fill_frame(pkts[i], rx_mac, dsts[i]);

    WorkerStats st;
    WorkerLocal local;
    BurstResult res;
    std::vector<rte_mbuf*> burst(o.burst);
    const auto t0 = std::chrono::steady_clock::now();
    for (unsigned b = 0; b < o.bursts; b++) {
        std::copy(pkts.begin(), pkts.end(), burst.begin());
        classify_burst(t, kRxPort, burst.data(), uint16_t(o.burst), &res, &st, &local);
        // Undo the rewrite for the next pass; a packet not forwarded ends the run.
        if (res.n_tx != o.burst)
            break;
        for (unsigned i = 0; i < o.burst; i++) {
            auto* eth = rte_pktmbuf_mtod(pkts[i], rte_ether_hdr*);
            std::memcpy(&eth->dst_addr, rx_mac.data(), 6);
            reinterpret_cast<rte_ipv6_hdr*>(eth + 1)->hop_limits = kHopLimit;
        }
        rcu_quiescent_state();
    }
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("packets %lu forwarded %lu bursts %u ns_per_packet %.1f\n", (unsigned long)st.rx,
                (unsigned long)st.forwarded, o.bursts, st.rx ? ns / double(st.rx) : 0.0);
    rte_pktmbuf_free_bulk(pkts.data(), o.burst);
    return st.forwarded == st.rx && st.rx == uint64_t(o.bursts) * o.burst ? 0 : 1;
}

}  // namespace
}  // namespace fp6

int main(int argc, char** argv) {
    fp6::Options o = fp6::parse(argc, argv);
    std::string prefix = "--file-prefix=fp6bench_" + std::to_string(getpid());
    std::vector<std::string> eal = {
        "fwd_bench", "--no-huge",      "-m", "256", "--no-shconf",
        "--no-pci",  "--no-telemetry", "-l", "0",   "--log-level=lib.eal:error",
        prefix};
    std::vector<char*> args;
    for (std::string& a : eal)
        args.push_back(a.data());
    if (rte_eal_init(int(args.size()), args.data()) < 0) {
        std::fprintf(stderr, "fwd_bench: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    rcu_register_thread();
    int rc = fp6::run(o);
    rcu_unregister_thread();
    rte_eal_cleanup();
    return rc;
}
