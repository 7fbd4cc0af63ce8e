/* fp6's FIB (Lpm6) against DPDK 22.11's rte_fib6 (trie, 4-byte next hops),
 * on the same prefixes in the same run: the real table from
 * ../shared/data/ipv6-table-visible10.txt (or --table FILE), and that table
 * grown to --grow prefixes (default 1,000,000) the way tools/gen_routes.py
 * grows it (more specifics of real prefixes, the length mix kept).
 *
 * For each structure and table: adds per second (the whole table), lookups
 * per second (bulk, --batch at a time, destinations drawn from the table),
 * deletes per second, memory; then a churn phase: one thread adds and
 * deletes 10,000 prefixes beside 1,000 stable ones as fast as it can while
 * another looks up addresses under the stable ones and counts answers that
 * are not their prefix's next hop. Lpm6 retires groups under RCU; rte_fib6
 * recycles them at once, which the wrong-answer count shows.
 *
 *     fib_bench [--table FILE] [--grow N] [--probes N] [--batch N] [--churn-seconds S]
 *
 * --batch: destinations a bulk lookup is given (default 64, fp6d's burst;
 * 32 is l3fwd's), 1 to 256.
 * --probes: how many distinct destinations the lookups cycle through
 * (default 65,536: mostly out of the caches). tools/bench.sh's traffic has
 * 4,096, whose walks stay in the caches: --probes 4096 times that case.
 * rte_fib6 is timed with its scalar lookup and, where the CPU has
 * AVX-512F, with its AVX-512 one (EAL is then started allowing 512-bit
 * code, as l3fwd-fib512 in tools/bench.sh).
 *
 * Prints a table; ratios are Lpm6 / rte_fib6. Exits 0 with a message when
 * the table file is absent. */
#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib6.h>
#include <rte_memory.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/rcu.h"
#include "rib/lpm6.h"

namespace fp6 {
namespace {

using Clock = std::chrono::steady_clock;

double secs(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

struct Route {
    Prefix6 p;
    uint32_t nh;
};

std::vector<Prefix6> read_table(const std::string& path) {
    std::vector<Prefix6> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (auto p = Prefix6::parse(line.substr(0, line.find_first_of(" #"))))
            out.push_back(p->canonical());
    return out;
}

/* More specifics of real prefixes at most 16 bits shorter, lengths drawn
 * from the table's own mix, until there are n prefixes. */
std::vector<Prefix6> grow(const std::vector<Prefix6>& table, size_t n, uint32_t seed) {
    std::mt19937_64 rng(seed);
    std::map<int, std::vector<Ip6>> by_len;
    for (const Prefix6& p : table)
        by_len[p.len()].push_back(p.addr());
    std::set<Prefix6> seen(table.begin(), table.end());
    std::vector<Prefix6> out = table;
    while (out.size() < n) {
        int len = table[rng() % table.size()].len();
        std::vector<int> parents;
        for (const auto& [q, v] : by_len)
            if (q <= len && q >= len - 16)
                parents.push_back(q);
        int q = parents[rng() % parents.size()];
        const std::vector<Ip6>& cand = by_len[q];
        std::array<uint8_t, 16> b = cand[rng() % cand.size()].bytes();
        for (int i = q; i < 128; i++)
            if (rng() & 1)
                b[size_t(i / 8)] |= uint8_t(0x80 >> (i % 8));
        Prefix6 p(Ip6(b).masked(len), len);
        if (seen.insert(p).second)
            out.push_back(p);
    }
    return out;
}

/* An address inside p (random host bits). */
Ip6 inside(const Prefix6& p, std::mt19937_64& rng) {
    std::array<uint8_t, 16> b = p.addr().bytes();
    for (int i = p.len(); i < 128; i++)
        if (rng() & 1)
            b[size_t(i / 8)] |= uint8_t(0x80 >> (i % 8));
    return Ip6(b);
}

constexpr unsigned kMaxBatch = 256;
unsigned g_batch = 64;  // --batch
cpu_set_t g_cpus;       // where the process may run, before EAL pins its main thread

struct Figures {
    double add_s = 0, lookup_ns = 0, del_s = 0;
    size_t bytes = 0;
    // Lpm6: lookup_ns with each vector walk the CPU has; rte_fib6: [kAvx512]
    // with its AVX-512 lookup (0: not measured).
    double walk_ns[3] = {};
};

/* The two structures behind one interface. */
struct Table {
    virtual ~Table() = default;
    virtual bool add(const Prefix6& p, uint32_t nh) = 0;
    virtual bool del(const Prefix6& p) = 0;
    virtual void lookup(const uint8_t (*d)[16], uint32_t* nh, unsigned n) = 0;
    virtual void quiesce() {}
    virtual size_t bytes() = 0;
    /* Switches lookup() to the structure's own AVX-512 walk; false when it
     * has none here. */
    virtual bool use_avx512() { return false; }
};

struct Ours : Table {
    std::unique_ptr<Lpm6> t = std::move(*Lpm6::create());
    bool add(const Prefix6& p, uint32_t nh) override { return t->set(p, nh).ok(); }
    bool del(const Prefix6& p) override { return t->erase(p); }
    void lookup(const uint8_t (*d)[16], uint32_t* nh, unsigned n) override {
        t->lookup_bulk(d, nh, n);
    }
    void quiesce() override {
        t->compact();
        t->synchronize();
    }
    size_t bytes() override { return t->table_bytes() + t->index_bytes(); }
};

struct Dpdk : Table {
    rte_fib6* f = nullptr;
    uint32_t groups;
    explicit Dpdk(size_t routes, uint32_t tbl8) : groups(tbl8) {
        static int n = 0;
        rte_fib6_conf conf{};
        conf.type = RTE_FIB6_TRIE;
        conf.max_routes = int(routes + 1024);
        conf.trie.nh_sz = RTE_FIB6_TRIE_4B;
        conf.trie.num_tbl8 = tbl8;
        f = rte_fib6_create(("bench" + std::to_string(n++)).c_str(), SOCKET_ID_ANY, &conf);
        if (f == nullptr)
            std::fprintf(stderr, "rte_fib6_create: %s\n", rte_strerror(rte_errno));
        else
            rte_fib6_select_lookup(f, RTE_FIB6_LOOKUP_TRIE_SCALAR);
    }
    bool use_avx512() override {
        return rte_fib6_select_lookup(f, RTE_FIB6_LOOKUP_TRIE_VECTOR_AVX512) == 0;
    }
    ~Dpdk() override { rte_fib6_free(f); }
    bool add(const Prefix6& p, uint32_t nh) override {
        return rte_fib6_add(f, p.addr().data(), uint8_t(p.len()), nh) == 0;
    }
    bool del(const Prefix6& p) override {
        return rte_fib6_delete(f, p.addr().data(), uint8_t(p.len())) == 0;
    }
    void lookup(const uint8_t (*d)[16], uint32_t* nh, unsigned n) override {
        uint64_t out[kMaxBatch];
        rte_fib6_lookup_bulk(f, const_cast<uint8_t(*)[16]>(d), out, int(n));
        for (unsigned i = 0; i < n; i++)
            nh[i] = uint32_t(out[i]);
    }
    // tbl24 (2^24 x 4 bytes) and the tbl8 pool, reserved whole at creation.
    size_t bytes() override { return (size_t(1) << 24) * 4 + size_t(groups) * 256 * 4; }
};

/* Nanoseconds a lookup, bulk, g_batch destinations at a time. */
double time_lookups(Table& t, const std::vector<Ip6>& probes) {
    uint8_t d[kMaxBatch][16];
    uint32_t nh[kMaxBatch];
    volatile uint32_t sink = 0;
    const unsigned b = g_batch;
    const size_t rounds = 4'000'000 / b;
    auto t0 = Clock::now();
    for (size_t k = 0; k < rounds; k++) {
        for (unsigned i = 0; i < b; i++)
            std::memcpy(d[i], probes[(k * b + i) % probes.size()].data(), 16);
        t.lookup(d, nh, b);
        sink = sink + nh[0];
    }
    return secs(t0, Clock::now()) * 1e9 / double(rounds * b);
}

/* `lpm`: the Lpm6 behind t, whose vector walks are timed too. */
Figures measure(Table& t, const std::vector<Route>& routes, const std::vector<Ip6>& probes,
                Lpm6* lpm = nullptr) {
    Figures f;
    auto t0 = Clock::now();
    for (const Route& r : routes)
        if (!t.add(r.p, r.nh)) {
            std::fprintf(stderr, "add %s refused\n", r.p.str().c_str());
            break;
        }
    auto t1 = Clock::now();
    f.add_s = secs(t0, t1);
    f.bytes = t.bytes();
    f.lookup_ns = time_lookups(t, probes);
    if (lpm != nullptr) {
        for (auto w : {Lpm6::Walk::kAvx2, Lpm6::Walk::kAvx512})
            if (lpm->set_walk(w))
                f.walk_ns[size_t(w)] = time_lookups(t, probes);
        lpm->set_walk(Lpm6::Walk::kScalar);
    } else if (t.use_avx512()) {
        f.walk_ns[size_t(Lpm6::Walk::kAvx512)] = time_lookups(t, probes);
    }
    auto t4 = Clock::now();
    for (const Route& r : routes)
        t.del(r.p);
    t.quiesce();
    f.del_s = secs(t4, Clock::now());
    return f;
}

/* Churn: `changes` per second and wrong answers seen by a reader. */
struct Churn {
    double updates_per_s = 0, lookups_per_s = 0;
    uint64_t wrong = 0, lookups = 0;
};

Churn churn(Table& t, double seconds) {
    // 1,000 stable /48s under 2001:db8::/32 with next hops 1..4, and 10,000
    // churning more specifics beside them (other /48s of the same /32s, and
    // /56-/64s inside those), next hop 9.
    std::vector<Route> stable, moving;
    for (uint32_t i = 0; i < 1000; i++) {
        std::array<uint8_t, 16> b{0x20,      0x01, 0x0d, uint8_t(0xb8 + i % 8), uint8_t(i >> 8),
                                  uint8_t(i)};
        stable.push_back({Prefix6(Ip6(b), 48), 1 + i % 4});
    }
    for (uint32_t i = 0; i < 10000; i++) {
        std::array<uint8_t, 16> b{
            0x20,       0x01,           0x0d, uint8_t(0xb8 + i % 8), uint8_t(0x80 + (i >> 8) % 64),
            uint8_t(i), uint8_t(i >> 3)};
        int len = 48 + 8 * int(i % 3);
        moving.push_back({Prefix6(Ip6(b).masked(len), len), 9});
    }
    for (const Route& r : stable)
        t.add(r.p, r.nh);
    std::atomic<bool> stop{false};
    Churn c;
    // Probe addresses under the stable prefixes, drawn beforehand.
    std::vector<std::pair<Ip6, uint32_t>> probes;
    std::mt19937_64 prng(3);
    for (int i = 0; i < 1 << 14; i++) {
        const Route& r = stable[prng() % stable.size()];
        probes.push_back({inside(r.p, prng), r.nh});
    }
    const int writer_cpu = sched_getcpu();
    std::thread reader([&] {
        // EAL pinned the main thread (the writer) to one CPU and this thread
        // inherited it: where the process may run elsewhere, the reader
        // takes the other CPUs, so that the writer's rate is not half a
        // shared CPU's.
        cpu_set_t cpus = g_cpus;
        if (writer_cpu >= 0)
            CPU_CLR(writer_cpu, &cpus);
        if (CPU_COUNT(&cpus) != 0)
            pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
        rcu_register_thread();
        uint8_t d[kMaxBatch][16];
        uint32_t nh[kMaxBatch], want[kMaxBatch];
        const unsigned b = g_batch;
        uint64_t n = 0, wrong = 0;
        size_t k = 0;
        auto t0 = Clock::now();
        while (!stop.load(std::memory_order_relaxed)) {
            for (unsigned i = 0; i < b; i++, k++) {
                const auto& [addr, hop] = probes[k % probes.size()];
                std::memcpy(d[i], addr.data(), 16);
                want[i] = hop;
            }
            t.lookup(d, nh, b);
            for (unsigned i = 0; i < b; i++)
                wrong += nh[i] != want[i];
            n += b;
            rcu_quiescent_state();
        }
        c.lookups_per_s = double(n) / secs(t0, Clock::now());
        c.lookups = n;
        c.wrong = wrong;
        rcu_unregister_thread();
    });
    uint64_t updates = 0;
    std::vector<bool> in(moving.size());
    std::mt19937_64 rng(5);
    auto t0 = Clock::now();
    while (secs(t0, Clock::now()) < seconds) {
        for (int k = 0; k < 1000; k++) {
            size_t i = rng() % moving.size();
            if (in[i])
                t.del(moving[i].p);
            else
                t.add(moving[i].p, moving[i].nh);
            in[i] = !in[i];
        }
        updates += 1000;
        t.quiesce();  // one grace period per thousand changes
    }
    c.updates_per_s = double(updates) / secs(t0, Clock::now());
    stop = true;
    reader.join();
    for (size_t i = 0; i < moving.size(); i++)
        if (in[i])
            t.del(moving[i].p);
    for (const Route& r : stable)
        t.del(r.p);
    t.quiesce();
    return c;
}

void report(const char* name, size_t n, const Figures& o, const Figures& d) {
    std::printf(
        "%-10s %9zu routes  add: Lpm6 %6.3f s (%5.0fk/s)  rte_fib6 %6.3f s (%5.0fk/s)  x%.2f\n",
        name, n, o.add_s, double(n) / o.add_s / 1e3, d.add_s, double(n) / d.add_s / 1e3,
        d.add_s / o.add_s);
    std::printf("%-10s %9s         lookup: Lpm6 %5.1f ns  rte_fib6 %5.1f ns  x%.2f\n", "", "",
                o.lookup_ns, d.lookup_ns, d.lookup_ns / o.lookup_ns);
    for (auto w : {Lpm6::Walk::kAvx2, Lpm6::Walk::kAvx512})
        if (double ns = o.walk_ns[size_t(w)]; ns > 0)
            std::printf("%-10s %9s         lookup, %s walk: Lpm6 %5.1f ns  x%.2f\n", "", "",
                        Lpm6::walk_name(w), ns, d.lookup_ns / ns);
    // Both AVX-512 lookups: the pair l3fwd-fib512 and fp6d's auto compare.
    const double d512 = d.walk_ns[size_t(Lpm6::Walk::kAvx512)];
    if (double ns = o.walk_ns[size_t(Lpm6::Walk::kAvx512)]; d512 > 0 && ns > 0)
        std::printf(
            "%-10s %9s         lookup, both avx512: Lpm6 %5.1f ns  rte_fib6 %5.1f ns  x%.2f\n", "",
            "", ns, d512, d512 / ns);
    std::printf("%-10s %9s         delete: Lpm6 %6.3f s  rte_fib6 %6.3f s  x%.2f\n", "", "",
                o.del_s, d.del_s, d.del_s / o.del_s);
    std::printf(
        "%-10s %9s         memory: Lpm6 %5.0f MiB (%3.0f B/route)  rte_fib6 %5.0f MiB reserved\n",
        "", "", double(o.bytes) / 1048576, double(o.bytes) / double(n), double(d.bytes) / 1048576);
}

int run(int argc, char** argv) {
    std::string table = "../shared/data/ipv6-table-visible10.txt";
    size_t grow_to = 1'000'000;
    double churn_s = 2.0;
    size_t n_probes = 1 << 16;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--table")
            table = argv[i + 1];
        else if (a == "--grow")
            grow_to = std::stoul(argv[i + 1]);
        else if (a == "--probes")
            n_probes = std::max(32ul, std::stoul(argv[i + 1]));
        else if (a == "--batch")
            g_batch = unsigned(std::clamp(std::stoul(argv[i + 1]), 1ul, size_t(kMaxBatch)));
        else if (a == "--churn-seconds")
            churn_s = std::stod(argv[i + 1]);
    }
    std::vector<Prefix6> real = read_table(table);
    if (real.empty()) {
        std::printf("fib_bench: no table at %s (give --table FILE); nothing measured\n",
                    table.c_str());
        return 0;
    }
    std::vector<const char*> eal = {"fib_bench",     "--no-huge", "-m",          "3072",
                                    "--no-shconf",   "--no-pci",  "--log-level", "lib.eal:error",
                                    "--file-prefix", "fib_bench"};
    // rte_fib6 takes its AVX-512 lookup only where EAL allows 512-bit code.
    if (__builtin_cpu_supports("avx512f"))
        eal.push_back("--force-max-simd-bitwidth=512");
    if (sched_getaffinity(0, sizeof(g_cpus), &g_cpus) != 0)
        CPU_ZERO(&g_cpus);
    if (rte_eal_init(int(eal.size()), const_cast<char**>(eal.data())) < 0) {
        std::fprintf(stderr, "fib_bench: EAL: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    rcu_register_thread();
    rcu_thread_offline();
    std::printf("lookups: bulk, %u destinations a call, %zu distinct\n", g_batch, n_probes);
    for (int pass = 0; pass < 2; pass++) {
        std::vector<Prefix6> prefixes = pass == 0 ? real : grow(real, grow_to, 1);
        std::vector<Route> routes;
        for (size_t i = 0; i < prefixes.size(); i++)
            routes.push_back({prefixes[i], uint32_t(1 + i % 4)});
        std::mt19937_64 rng(2);
        std::vector<Ip6> probes;
        for (size_t i = 0; i < n_probes; i++)
            probes.push_back(inside(prefixes[rng() % prefixes.size()], rng));
        Figures o, d;
        {
            Ours ours;
            o = measure(ours, routes, probes, ours.t.get());
        }
        {
            // The tbl8 pool rte_fib6 needs: an upper bound, as fp6 sized it
            // before it had its own FIB (one group a byte past /24).
            uint64_t g = 0;
            for (const Prefix6& p : prefixes)
                g += p.len() > 24 ? uint64_t(p.len() - 24 + 7) / 8 : 0;
            Dpdk dpdk(prefixes.size(), uint32_t(std::min<uint64_t>(g, 2'000'000)));
            if (dpdk.f == nullptr)
                return 1;
            d = measure(dpdk, routes, probes);
        }
        report(pass == 0 ? "real" : "grown", prefixes.size(), o, d);
    }
    {
        Ours ours;
        Churn o = churn(ours, churn_s);
        Dpdk dpdk(20000, 1 << 15);
        Churn d = churn(dpdk, churn_s);
        std::printf(
            "churn      Lpm6: %7.0fk updates/s, reader %5.1f M lookups/s, %lu wrong of %lu\n",
            o.updates_per_s / 1e3, o.lookups_per_s / 1e6, (unsigned long)o.wrong,
            (unsigned long)o.lookups);
        std::printf(
            "           rte_fib6: %7.0fk updates/s, reader %5.1f M lookups/s, %lu wrong of %lu\n",
            d.updates_per_s / 1e3, d.lookups_per_s / 1e6, (unsigned long)d.wrong,
            (unsigned long)d.lookups);
    }
    rcu_thread_online();
    rcu_unregister_thread();
    rte_eal_cleanup();
    return 0;
}

}  // namespace
}  // namespace fp6

int main(int argc, char** argv) {
    return fp6::run(argc, argv);
}
