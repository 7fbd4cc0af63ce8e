/* The worker lcores' poll loop and the two rings between workers and the
 * control thread. Each worker is a liburcu-QSBR reader: it announces a
 * quiescent state once per loop and goes offline while it sleeps. */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <unistd.h>

#include "common/log.h"
#include "dataplane/dataplane.h"

namespace fp6 {
namespace {

/* Packets asked of a queue at a time. 64 rather than DPDK's customary 32:
 * the per-burst costs (driver calls, the loop, the FIB walk's setup) are
 * spread over twice the packets, and the AVX-512 walk runs four vectors of
 * destinations side by side (docs/performance.md: 2-4 cycles a packet
 * less). At most BurstResult::kMax. */
constexpr uint16_t kBurst = 64;
static_assert(kBurst <= BurstResult::kMax);
constexpr unsigned kIdleLoopsBeforeSleep = 64;

struct LaunchArg {
    Dataplane* dp;
    unsigned index;
};

int worker_main(void* arg) {
    auto* a = static_cast<LaunchArg*>(arg);
    int rc = a->dp->run_worker(a->index);
    delete a;
    return rc;
}

}  // namespace

absl::Status Dataplane::start_workers() {
    stop_.store(false);
    for (unsigned i = 0; i < cfg_.worker_lcores.size(); i++) {
        unsigned lcore = cfg_.worker_lcores[i];
        int rc = rte_eal_remote_launch(worker_main, new LaunchArg{this, i}, lcore);
        if (rc != 0) {
            stop_workers();
            return absl::InternalError(
                fmt::format("cannot launch a worker on lcore {}: {}", lcore, rte_strerror(-rc)));
        }
    }
    return absl::OkStatus();
}

void Dataplane::stop_workers() {
    stop_.store(true);
    for (unsigned lcore : cfg_.worker_lcores)
        rte_eal_wait_lcore(lcore);
}

int Dataplane::run_worker(unsigned index) {
    rcu_register_thread();
    WorkerStats& st = *stats_[index];
    WorkerLocal local;  // this worker's ICMPv6 error buckets, one per rx port
    FP6_LOG(INFO, Dataplane, "worker {} running on lcore {}", index, rte_lcore_id());
    rte_mbuf* pkts[kBurst];
    BurstResult res;
    unsigned idle_loops = 0;
    // One TSC read per iteration: the end of one is the start of the next.
    // The counters are plain stores to this worker's own WorkerStats (its
    // own cache lines), read racily by the control thread.
    uint64_t t_start = rte_rdtsc();
    while (!stop_.load(std::memory_order_relaxed)) {
        local.now = t_start;
        const WorkerConf* conf = rcu_dereference(confs_[index]);
        unsigned got = 0;
        for (const WorkerConf::RxQueue& q : conf->rx) {
            uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, kBurst);
            if (n == 0)
                continue;
            got += n;
            st.rx_bursts++;
            classify_burst(*tables_, q.port, pkts, n, &res, &st, &local);
            if (res.n_tx != 0)
                worker_tx(*conf, res, st);
            if (res.n_punt != 0)
                worker_punt(res, st);
        }
        if (conf->sends_control_tx)
            worker_control_tx(*conf, st);
        rcu_quiescent_state();
        st.loops++;
        if (got == 0 && cfg_.idle_sleep_us != 0 && ++idle_loops >= kIdleLoopsBeforeSleep) {
            // Offline, a sleeping worker does not hold up grace periods.
            rcu_thread_offline();
            usleep(cfg_.idle_sleep_us);
            rcu_thread_online();
        } else if (got != 0) {
            idle_loops = 0;
        }
        uint64_t t_end = rte_rdtsc();
        (got != 0 ? st.busy_cycles : st.idle_cycles) += t_end - t_start;
        t_start = t_end;
    }
    rcu_unregister_thread();
    return 0;
}

void Dataplane::worker_tx(const WorkerConf& conf, BurstResult& res, WorkerStats& st) {
    // A burst that leaves through one port (the common case) goes out as it
    // is; otherwise it is grouped by output port, in order within a port.
    if (res.one_port) {
        worker_tx_port(conf, res.tx_port[0], res.tx, res.n_tx, st);
        return;
    }
    rte_mbuf* out[BurstResult::kMax];
    bool done[BurstResult::kMax] = {};
    for (uint16_t i = 0; i < res.n_tx; i++) {
        if (done[i])
            continue;
        uint16_t port = res.tx_port[i];
        uint16_t n = 0;
        for (uint16_t j = i; j < res.n_tx; j++) {
            if (!done[j] && res.tx_port[j] == port) {
                out[n++] = res.tx[j];
                done[j] = true;
            }
        }
        worker_tx_port(conf, port, out, n, st);
    }
}

void Dataplane::worker_tx_port(const WorkerConf& conf, uint16_t port, rte_mbuf** pkts, uint16_t n,
                               WorkerStats& st) {
    const uint16_t q = conf.txq[port];
    if (q == kNoQueue) {
        // The port went away between classification and now.
        rte_pktmbuf_free_bulk(pkts, n);
        st.drops[size_t(Drop::kPortDown)] += n;
        st.forwarded -= n;
        return;
    }
    uint16_t sent;
    if (conf.tx_shared[port]) {
        rte_spinlock_lock(&txq_locks_[port][q]);
        sent = rte_eth_tx_burst(port, q, pkts, n);
        rte_spinlock_unlock(&txq_locks_[port][q]);
    } else {
        sent = rte_eth_tx_burst(port, q, pkts, n);
    }
    if (sent < n) {
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        st.drops[size_t(Drop::kTxFull)] += n - sent;
        st.forwarded -= n - sent;
    }
}

void Dataplane::worker_punt(BurstResult& res, WorkerStats& st) {
    unsigned n =
        rte_ring_enqueue_burst(punt_ring_, reinterpret_cast<void**>(res.punt), res.n_punt, nullptr);
    if (n < res.n_punt) {
        punt_shortfall(res, n, &st);
        rte_pktmbuf_free_bulk(res.punt + n, res.n_punt - n);
    }
    // Pairs with arm_punt_wakeup(): either the control thread sees the
    // packets when it re-checks the ring, or this load sees it sleeping.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (n != 0 && control_sleeping_.load(std::memory_order_relaxed) &&
        control_sleeping_.exchange(false)) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t w = write(punt_efd_, &one, sizeof(one));
    }
}

void Dataplane::worker_control_tx(const WorkerConf& conf, WorkerStats& st) {
    rte_mbuf* m[kBurst];
    unsigned n = rte_ring_dequeue_burst(ctl_tx_ring_, reinterpret_cast<void**>(m), kBurst, nullptr);
    for (unsigned i = 0; i < n; i++) {
        uint16_t port = m[i]->port;
        uint16_t q = conf.txq[port];
        bool sent = false;
        if (q != kNoQueue) {
            if (conf.tx_shared[port])
                rte_spinlock_lock(&txq_locks_[port][q]);
            sent = rte_eth_tx_burst(port, q, &m[i], 1) == 1;
            if (conf.tx_shared[port])
                rte_spinlock_unlock(&txq_locks_[port][q]);
        }
        if (!sent) {
            rte_pktmbuf_free(m[i]);
            st.drops[size_t(Drop::kTxFull)]++;
        }
    }
}

bool Dataplane::arm_punt_wakeup() {
    control_sleeping_.store(true);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (rte_ring_count(punt_ring_) != 0) {
        control_sleeping_.store(false);
        return true;
    }
    return false;
}

unsigned Dataplane::drain_punts(rte_mbuf** pkts, unsigned n) {
    uint64_t v;
    [[maybe_unused]] ssize_t r = read(punt_efd_, &v, sizeof(v));
    return rte_ring_dequeue_burst(punt_ring_, reinterpret_cast<void**>(pkts), n, nullptr);
}

void Dataplane::send(uint16_t port, rte_mbuf* m) {
    const PortState& ps = ports_[port];
    if (!ps.in_use || !ps.admin_up) {
        rte_pktmbuf_free(m);
        ctl_tx_dropped_++;
        return;
    }
    if (ps.control_txq) {
        // The last queue is the control thread's alone: no lock needed.
        if (rte_eth_tx_burst(port, uint16_t(ps.nb_txq - 1), &m, 1) == 1)
            return;
    } else {
        m->port = port;
        if (rte_ring_enqueue(ctl_tx_ring_, m) == 0)
            return;
    }
    rte_pktmbuf_free(m);
    ctl_tx_dropped_++;
}

}  // namespace fp6
