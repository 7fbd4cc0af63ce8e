/* fp6d: the daemon. Parses its own options, starts EAL with the lcores the
 * workers need, replays the startup config, then runs the control thread's
 * event loop on the main lcore until SIGINT or SIGTERM. */
// DPDK 22.11's rte_vect.h declares its functions without C linkage for C++;
// first, before another DPDK header brings it in without.
extern "C" {
#include <rte_vect.h>
}
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_pdump.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/rcu.h"
#include "control/config.h"
#include "control/loop.h"
#include "control/metrics.h"
#include "control/notify.h"
#include "control/router.h"
#include "control/server.h"
#include "control/telemetry.h"

namespace fp6 {
namespace {

constexpr const char* kUsage =
    "usage: fp6d [--config FILE] [--socket PATH] [--socket-group GROUP] [--workers CPULIST]\n"
    "            [--idle-sleep USEC] [--mbufs N] [--fib-groups N] [--fib-prefault N]\n"
    "            [--fib-lookup auto|scalar|avx2|avx512] [--metrics [ADDR:]PORT]\n"
    "            [-- EAL-ARGS...]\n"
    "       fp6d --check-config FILE\n"
    "       fp6d --version\n";

/* FIB groups backed with memory at start: 64 MiB, about what a full
 * Internet table takes (docs/performance.md), so that loading one does not
 * wait for the kernel to clear pages. */
constexpr uint32_t kDefaultFibPrefault = 65536;

struct Options {
    std::string config;
    std::string socket = "/run/fp6/fp6.sock";
    std::string socket_group;
    std::string workers;
    unsigned idle_sleep_us = 0;
    uint32_t mbufs = 16383;
    uint32_t fib_groups = Lpm6::kDefaultMaxGroups;
    uint32_t fib_prefault = kDefaultFibPrefault;
    std::string fib_lookup = "auto";
    std::optional<MetricsAddr> metrics;  // off unless --metrics
    std::vector<std::string> eal;
};

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "fp6d: %s\n%s", msg.c_str(), kUsage);
    std::exit(1);
}

/* "1", "1-3", "1,3-4" -> CPU numbers; nullopt when malformed. */
std::optional<std::vector<unsigned>> parse_cpulist(const std::string& text) {
    std::vector<unsigned> cpus;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find(',', pos);
        std::string part =
            text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        unsigned a, b;
        char dash;
        int n = std::sscanf(part.c_str(), "%u%c%u", &a, &dash, &b);
        if (n == 1 && part.find_first_not_of("0123456789") == std::string::npos)
            cpus.push_back(a);
        else if (n == 3 && dash == '-' && a <= b && b < 1024)
            for (unsigned c = a; c <= b; c++)
                cpus.push_back(c);
        else
            return std::nullopt;
        if (end == std::string::npos)
            break;
        pos = end + 1;
    }
    if (cpus.empty())
        return std::nullopt;
    return cpus;
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                usage_error("missing value after " + a);
            return argv[++i];
        };
        auto number = [&]() -> unsigned long {
            std::string v = value();
            char* end;
            unsigned long n = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0')
                usage_error(a + " expects a number, got \"" + v + "\"");
            return n;
        };
        if (a == "--version") {
            std::printf("fp6d %s\n", FP6_VERSION);
            std::exit(0);
        } else if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (a == "--check-config") {
            std::string file = value();
            absl::Status st = check_config(file);
            if (!st.ok()) {
                std::fprintf(stderr, "fp6d: %s\n", std::string(st.message()).c_str());
                std::exit(1);
            }
            std::printf("%s: ok\n", file.c_str());
            std::exit(0);
        } else if (a == "--config") {
            o.config = value();
        } else if (a == "--socket") {
            o.socket = value();
        } else if (a == "--socket-group") {
            o.socket_group = value();
        } else if (a == "--workers") {
            o.workers = value();
        } else if (a == "--idle-sleep") {
            o.idle_sleep_us = unsigned(number());
        } else if (a == "--mbufs") {
            o.mbufs = uint32_t(number());
        } else if (a == "--fib-groups") {
            uint64_t n = number();
            if (n == 0 || n > Lpm6::kMaxGroups)
                usage_error(fmt::format("--fib-groups must be 1..{}", Lpm6::kMaxGroups));
            o.fib_groups = uint32_t(n);
        } else if (a == "--fib-prefault") {
            uint64_t n = number();
            if (n > Lpm6::kMaxGroups)
                usage_error(fmt::format("--fib-prefault must be 0..{}", Lpm6::kMaxGroups));
            o.fib_prefault = uint32_t(n);
        } else if (a == "--fib-lookup") {
            o.fib_lookup = value();
            if (o.fib_lookup != "auto" && o.fib_lookup != "scalar" && o.fib_lookup != "avx2" &&
                o.fib_lookup != "avx512")
                usage_error("--fib-lookup takes auto, scalar, avx2 or avx512, not \"" +
                            o.fib_lookup + "\"");
        } else if (a == "--metrics") {
            auto m = parse_metrics_addr(value());
            if (!m.ok())
                usage_error(std::string(m.status().message()));
            o.metrics = *m;
        } else if (a == "--") {
            for (i++; i < argc; i++)
                o.eal.push_back(argv[i]);
        } else {
            usage_error("unknown option \"" + a + "\"");
        }
    }
    return o;
}

/* EAL's cap on vector code, in bits (experimental API in DPDK 22.11). */
unsigned eal_simd_width() {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return rte_vect_get_max_simd_bitwidth();
#pragma GCC diagnostic pop
}

/* What the EAL arguments give option `name` (--name V or --name=V; the
 * last one counts), nullopt when they do not name it. */
std::optional<std::string> eal_option(const std::vector<std::string>& eal,
                                      const std::string& name) {
    std::optional<std::string> value;
    for (size_t i = 0; i < eal.size(); i++) {
        if (eal[i] == name)
            value = i + 1 < eal.size() ? eal[i + 1] : "";
        else if (eal[i].rfind(name + "=", 0) == 0)
            value = eal[i].substr(name.size() + 1);
    }
    return value;
}

/* The FIB lookup walk that --fib-lookup asks for, before EAL starts: a
 * named walk the CPU lacks stops fp6d. auto takes AVX-512 where the CPU has
 * it, else the scalar walks. TODO: the AVX2 walk now beats scalar on an
 * Intel Xeon (real table 60.5 against 70.0 cycles a packet in fp6d), but
 * the only AVX2-only CPU measured, an AMD EPYC, ran the older one-vector
 * AVX2 walk slower than scalar: auto takes AVX2 once an AVX2-only CPU
 * shows the new walk faster (docs/routing.md). */
Lpm6::Walk wanted_walk(const Options& o) {
    if (o.fib_lookup == "auto")
        return Lpm6::cpu_has(Lpm6::Walk::kAvx512) ? Lpm6::Walk::kAvx512 : Lpm6::Walk::kScalar;
    const Lpm6::Walk w = o.fib_lookup == "avx512" ? Lpm6::Walk::kAvx512
                         : o.fib_lookup == "avx2" ? Lpm6::Walk::kAvx2
                                                  : Lpm6::Walk::kScalar;
    if (!Lpm6::cpu_has(w))
        usage_error(fmt::format("--fib-lookup {}: this CPU (or its OS) has no {}", o.fib_lookup,
                                w == Lpm6::Walk::kAvx512 ? "AVX-512F" : "AVX2"));
    return w;
}

/* The widest vector code, in bits, that EAL's --force-max-simd-bitwidth
 * `value` allows (0 lifts the cap), so that a walk EAL would not allow is
 * refused before EAL starts. nullopt: a value EAL itself will refuse. */
std::optional<unsigned> simd_cap(const std::string& value) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(value.c_str(), &end, 0);
    if (value.empty() || *end != '\0')
        return std::nullopt;
    return n == 0 ? UINT16_MAX : unsigned(n);
}

/* The vector width a walk's code uses, in bits. */
unsigned walk_bits(Lpm6::Walk w) {
    return w == Lpm6::Walk::kAvx512 ? 512 : w == Lpm6::Walk::kAvx2 ? 256 : 0;
}

/* The walk within the cap the EAL arguments set: a walk asked by name that
 * is wider stops fp6d; auto falls back to scalar. */
Lpm6::Walk capped_walk(const Options& o, Lpm6::Walk w, unsigned cap) {
    const unsigned needs = walk_bits(w);
    if (cap >= needs)
        return w;
    if (o.fib_lookup != "auto")
        usage_error(
            fmt::format("--fib-lookup {} needs vector code of {} bits; the EAL "
                        "arguments allow {} (--force-max-simd-bitwidth)",
                        o.fib_lookup, needs, cap));
    return Lpm6::Walk::kScalar;
}

bool eal_has_lcores(const std::vector<std::string>& eal) {
    for (const std::string& a : eal)
        if (a == "-l" || a == "-c" || a.rfind("--lcores", 0) == 0 || a.rfind("-l", 0) == 0)
            return true;
    return false;
}

/* Chooses worker CPUs (default: the last allowed CPU) and a main lcore for
 * the control thread (the first allowed CPU that is not a worker). */
void choose_lcores(const Options& o, std::vector<unsigned>* workers, unsigned* main_lcore) {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof(set), &set);
    std::vector<unsigned> allowed;
    for (unsigned c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            allowed.push_back(c);
    if (o.workers.empty()) {
        *workers = {allowed.back()};
    } else {
        auto parsed = parse_cpulist(o.workers);
        if (!parsed)
            usage_error("malformed --workers \"" + o.workers + "\" (expected e.g. 1 or 1-3,5)");
        *workers = *parsed;
    }
    *main_lcore = allowed.front();
    for (unsigned c : allowed) {
        if (std::find(workers->begin(), workers->end(), c) == workers->end()) {
            *main_lcore = c;
            return;
        }
    }
    usage_error("no CPU left for the control thread: --workers takes every allowed CPU");
}

int run(const Options& o) {
    // A control socket from the service manager (fp6d.socket), taken before
    // EAL opens any file.
    int activated_fd = -1;
    {
        absl::StatusOr<std::vector<int>> fds = listen_fds_from_service_manager();
        if (!fds.ok()) {
            std::fprintf(stderr, "fp6d: %s\n", std::string(fds.status().message()).c_str());
            return 1;
        }
        if (fds->size() > 1) {
            std::fprintf(stderr,
                         "fp6d: socket activation passed %zu sockets; fp6d takes one, the "
                         "control socket (one ListenStream= in fp6d.socket)\n",
                         fds->size());
            return 1;
        }
        if (!fds->empty())
            activated_fd = fds->front();
    }
    std::vector<unsigned> workers;
    unsigned main_lcore = 0;
    std::vector<std::string> eal_args{"fp6d"};
    if (!eal_has_lcores(o.eal)) {
        choose_lcores(o, &workers, &main_lcore);
        std::string l = std::to_string(main_lcore);
        for (unsigned w : workers)
            l += "," + std::to_string(w);
        eal_args.insert(eal_args.end(), {"-l", l, "--main-lcore", std::to_string(main_lcore)});
    }
    eal_args.insert(eal_args.end(), o.eal.begin(), o.eal.end());
    // EAL caps vector code at 256 bits unless told otherwise: the AVX-512
    // walk needs it told, and a width the user gave stands.
    Lpm6::Walk walk = wanted_walk(o);
    const std::optional<std::string> width = eal_option(o.eal, "--force-max-simd-bitwidth");
    if (!width && walk == Lpm6::Walk::kAvx512)
        eal_args.push_back("--force-max-simd-bitwidth=512");
    else if (std::optional<unsigned> cap = width ? simd_cap(*width) : 256)
        walk = capped_walk(o, walk, *cap);

    // Signals are taken through a signalfd on the control thread; block them
    // before EAL creates its threads so they inherit the mask.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    std::vector<char*> argv;
    for (std::string& s : eal_args)
        argv.push_back(s.data());
    if (rte_eal_init(int(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "fp6d: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    if (absl::Status st = register_telemetry(); !st.ok())
        FP6_LOG(WARNING, Control, "{}", std::string(st.message()));
    // dpdk-dumpcap attaches as a secondary process: that needs EAL's
    // multi-process channel, which --in-memory and --no-shconf turn off.
    if (rte_pdump_init() != 0)
        FP6_LOG(INFO, Control, "packet capture (dpdk-dumpcap) unavailable: {}",
                rte_strerror(rte_errno));
    if (workers.empty()) {
        // The user gave EAL its lcores: every worker lcore runs a worker.
        unsigned lc;
        RTE_LCORE_FOREACH_WORKER(lc) {
            workers.push_back(lc);
        }
    }
    for (unsigned w : workers) {
        if (!rte_lcore_is_enabled(w) || w == rte_get_main_lcore()) {
            std::fprintf(stderr, "fp6d: worker lcore %u is not an EAL worker lcore\n", w);
            return 1;
        }
    }

    RouterConfig cfg;
    cfg.dataplane.worker_lcores = workers;
    cfg.dataplane.idle_sleep_us = o.idle_sleep_us;
    cfg.dataplane.mbufs = o.mbufs;
    cfg.fib_groups = o.fib_groups;
    cfg.fib_prefault = o.fib_prefault;  // the FIB caps it at --fib-groups
    // EAL has the last word; the check before it read its arguments as EAL does.
    cfg.fib_walk = walk;
    if (eal_simd_width() < walk_bits(walk)) {
        FP6_LOG(WARNING, Control, "EAL allows vector code of {} bits only: scalar FIB lookup",
                eal_simd_width());
        cfg.fib_walk = Lpm6::Walk::kScalar;
    }
    FP6_LOG(INFO, Control, "FIB lookup: {} walk (EAL allows vector code of {} bits)",
            Lpm6::walk_name(cfg.fib_walk), eal_simd_width());
    if (!o.config.empty()) {
        std::error_code ec;
        cfg.config_path = std::filesystem::absolute(o.config, ec).string();
    }
    int rc = 0;
    {
        Router router(cfg);
        EventLoop loop;
        ControlServer server(loop, router);
        std::unique_ptr<MetricsServer> metrics;
        absl::Status st = router.init();
        if (st.ok())
            st = router.dataplane().start_workers();
        if (st.ok() && !o.config.empty()) {
            st = replay_config(router, o.config);
            if (st.ok())
                FP6_LOG(INFO, Control, "startup config {} applied", o.config);
        }
        if (st.ok() && activated_fd >= 0) {
            absl::StatusOr<std::string> path = server.adopt(activated_fd);
            st = path.status();
            if (path.ok() && *path != o.socket && o.socket != kDefaultSocket)
                FP6_LOG(INFO, Control, "--socket {} is not used: the service manager's socket is",
                        o.socket);
        } else if (st.ok()) {
            st = server.listen(o.socket, o.socket_group);
        }
        if (st.ok() && o.metrics) {
            metrics = std::make_unique<MetricsServer>(loop, router);
            st = metrics->listen(*o.metrics);
        }
        if (st.ok()) {
            // The telemetry thread reads a snapshot, refreshed each second.
            publish_telemetry(router);
            loop.add_timer(1000, [&] { publish_telemetry(router); });
        }
        if (!st.ok()) {
            std::fprintf(stderr, "fp6d: %s\n", std::string(st.message()).c_str());
            rc = 1;
        } else {
            int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
            loop.add_fd(sfd, [&] {
                signalfd_siginfo si;
                if (read(sfd, &si, sizeof(si)) > 0) {
                    FP6_LOG(INFO, Control, "signal {}: stopping", si.ssi_signo);
                    loop.stop();
                }
            });
            loop.add_fd(router.dataplane().punt_eventfd(), [&] { router.handle_punts(); });
            // Packets from the kernel on the ports' host interfaces, if any.
            loop.add_fd(router.host_fd(), [&] { router.handle_host(); });
            loop.add_timer(250, [&] { router.poll_links(); });
            // One timer for neighbour discovery, re-armed for the earliest
            // deadline before every wait.
            int nd_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
            loop.add_fd(nd_timer, [&] {
                uint64_t n;
                if (read(nd_timer, &n, sizeof(n)) > 0)
                    router.on_timer();
            });
            loop.set_before_wait([&] {
                router.handle_punts();
                itimerspec its{};
                if (auto next = router.next_deadline()) {
                    uint64_t at = std::max<uint64_t>(*next, 1);
                    its.it_value.tv_sec = time_t(at / 1000);
                    its.it_value.tv_nsec = long(at % 1000) * 1000000L;
                }
                timerfd_settime(nd_timer, TFD_TIMER_ABSTIME, &its, nullptr);
                return router.dataplane().arm_punt_wakeup();
            });
            router.poll_links();
            FP6_LOG(INFO, Control, "fp6d {} ready: {} worker(s), control on lcore {}", FP6_VERSION,
                    workers.size(), rte_get_main_lcore());
            // Ports are started, the startup config is applied and the socket
            // listens (connections queue until the loop runs, next line).
            notify_service_manager(fmt::format("READY=1\nSTATUS=ready: {} worker(s)\nMAINPID={}",
                                               workers.size(), getpid()));
            loop.run();
            notify_service_manager("STOPPING=1");
            close(sfd);
            close(nd_timer);
        }
        router.dataplane().stop_workers();
        router.shutdown();
        // Every deferred free (old FIBs, next hops) runs before EAL goes.
        rcu_barrier();
    }
    rte_pdump_uninit();
    rte_eal_cleanup();
    return rc;
}

}  // namespace
}  // namespace fp6

int main(int argc, char** argv) {
    return fp6::run(fp6::parse_options(argc, argv));
}
