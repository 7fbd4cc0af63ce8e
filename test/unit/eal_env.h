/* A GoogleTest global environment for test binaries that need DPDK: include
 * this header in one source file of the binary and it registers itself.
 *
 * SetUp (once per binary, before the first test, on the main thread):
 *  - rte_eal_init() without hugepages, PCI, telemetry or shared files
 *    (--no-huge -m 256 --no-shconf; DPDK 22.11 refuses --in-memory with
 *    --no-huge, which implies legacy memory), with a --file-prefix unique to
 *    the process so that binaries may run in parallel; the main lcore is lcore 0
 *    and may run on any CPU of the process's affinity set, so threads the
 *    tests start are not pinned to one CPU;
 *  - a packet mbuf pool, EalEnv::pool();
 *  - registers the main thread as a QSBR RCU reader (do not register it
 *    again). It stays online: a test that needs a grace period to pass
 *    (call_rcu callbacks to run) calls EalEnv::quiescent() first.
 * TearDown unregisters the thread, waits for pending call_rcu callbacks
 * (they may free DPDK memory), frees the pool and cleans EAL up.
 *
 * If EAL fails to start, the tests are skipped and the binary fails with the
 * reason. */
#pragma once

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/rcu.h"

namespace fp6::test {

class EalEnv : public ::testing::Environment {
  public:
    static constexpr unsigned kPoolSize = 4095;  // 2^n - 1 fits the ring best

    /* The mbuf pool: RTE_MBUF_DEFAULT_BUF_SIZE data rooms, no per-lcore cache,
     * so rte_mempool_avail_count() is exact at any time. */
    static rte_mempool* pool() { return pool_; }

    /* Announces a quiescent state of the main thread, so that the current
     * grace period may end and pending call_rcu callbacks may run. */
    static void quiescent() { rcu_quiescent_state(); }

    void SetUp() override {
        std::vector<std::string> args = {
            "fp6-unit-test",
            "--no-huge",
            "-m",
            "256",
            "--no-shconf",
            "--no-pci",
            "--no-telemetry",
            "--log-level=lib.eal:error",
            "--file-prefix=fp6test_" + std::to_string(getpid()),
            "--lcores=0@(" + affinity_list() + ")",
        };
        std::vector<char*> argv;
        for (std::string& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        if (rte_eal_init(int(args.size()), argv.data()) < 0)
            GTEST_FAIL() << "rte_eal_init: " << rte_strerror(rte_errno);
        eal_up_ = true;

        pool_ = rte_pktmbuf_pool_create("fp6_test_mbufs", kPoolSize, 0, 0,
                                        RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        if (pool_ == nullptr)
            GTEST_FAIL() << "rte_pktmbuf_pool_create: " << rte_strerror(rte_errno);

        rcu_register_thread();
        rcu_registered_ = true;
    }

    void TearDown() override {
        if (rcu_registered_) {
            rcu_unregister_thread();
            rcu_registered_ = false;
        }
        rcu_barrier();  // call_rcu callbacks may free DPDK memory: run them while EAL is up
        if (pool_ != nullptr) {
            rte_mempool_free(pool_);
            pool_ = nullptr;
        }
        if (eal_up_) {
            const std::string run_dir = rte_eal_get_runtime_dir();
            rte_eal_cleanup();
            eal_up_ = false;
            rmdir(run_dir.c_str());  // empty with --no-shconf; EAL leaves it behind
        }
    }

  private:
    /* The CPUs this process may run on, as a DPDK cpuset ("0-3,6"). */
    static std::string affinity_list() {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof(set), &set) != 0)
            return "0";
        std::string out;
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (!CPU_ISSET(c, &set))
                continue;
            int last = c;
            while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
                last++;
            if (!out.empty())
                out += ',';
            out += std::to_string(c);
            if (last != c)
                out += '-' + std::to_string(last);
            c = last;
        }
        return out.empty() ? "0" : out;
    }

    static inline rte_mempool* pool_ = nullptr;
    bool eal_up_ = false;
    bool rcu_registered_ = false;
};

/* Registered once per binary, however many sources include this header. */
inline ::testing::Environment* const kEalEnv = ::testing::AddGlobalTestEnvironment(new EalEnv);

}  // namespace fp6::test
