/* The data plane as the control thread sees it: DPDK ports, the worker
 * lcores that poll them, the punt ring from the workers, and the way the
 * control thread transmits.
 *
 * Threads. Every method is for the control thread, except run_worker(),
 * which is each worker lcore's main loop. What the workers read is in
 * `tables()` (see tables.h) and in each worker's WorkerConf, an immutable
 * poll list published with rcu_assign_pointer() and freed after a grace
 * period when a port comes or goes. */
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/packet.h"
#include "dataplane/tables.h"

namespace fp6 {

struct DataplaneConfig {
    std::vector<unsigned> worker_lcores;  // one worker per lcore
    unsigned idle_sleep_us = 0;           // 0: workers never sleep
    uint32_t mbufs = 16383;
    uint32_t punt_ring_size = 4096;
};

/* What a worker polls and where it transmits. Immutable once published. */
struct WorkerConf {
    struct RxQueue {
        uint16_t port;
        uint16_t queue;
    };
    std::vector<RxQueue> rx;
    uint16_t txq[RTE_MAX_ETHPORTS];    // kNoQueue where the port does not exist
    bool tx_shared[RTE_MAX_ETHPORTS];  // the queue is shared with another worker: lock it
    bool sends_control_tx = false;     // drains the control thread's tx ring
};

struct PortState {
    bool in_use = false;
    std::string name;
    std::string devargs;
    std::string driver;
    uint16_t nb_rxq = 0;
    uint16_t nb_txq = 0;
    bool control_txq = false;  // queue nb_txq-1 is the control thread's own
    bool admin_up = false;
    bool link_up = false;
    uint16_t mtu = 1500;
    Mac mac;
};

struct PortCounters {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, rx_missed, rx_nombuf, rx_errors, tx_errors;
};

/* One rx or tx queue's counters, as the device reports them (drivers that
 * keep no per-queue counters report zeros). */
struct QueueCounters {
    uint64_t packets = 0, bytes = 0, errors = 0;
};

/* What `stats show` adds per port beyond PortCounters: the per-queue
 * counters and the device's extended counters by name (rte_eth_xstats). */
struct PortDetail {
    std::vector<QueueCounters> rxq, txq;
    std::vector<std::pair<std::string, uint64_t>> xstats;
};

class Dataplane {
  public:
    static constexpr uint16_t kNoQueue = 0xffff;
    static constexpr uint16_t kMaxQueues = 16;  // per direction and port

    explicit Dataplane(DataplaneConfig cfg);
    ~Dataplane();

    /* Creates the mempool and rings. Errors name what failed. */
    absl::Status init(Tables* tables);

    /* Launches one worker per configured lcore; stop() asks them to finish
     * and waits. */
    absl::Status start_workers();
    void stop_workers();

    /* Probes `devargs` (a PCI address or a vdev string), configures and
     * starts the device with what it offers, and makes it visible to the
     * workers, administratively down. Returns the DPDK port id. Errors:
     * InvalidArgument for a device that cannot be probed, AlreadyExists for
     * a device already added, Internal for a configure/start failure (the
     * device is released again). */
    absl::StatusOr<uint16_t> add_port(const std::string& name, const std::string& devargs,
                                      uint16_t mtu);
    /* Withdraws the port from the workers, waits a grace period, then stops,
     * closes and removes the device. */
    void del_port(uint16_t port);
    /* Software admin state: a down port's received packets are dropped and
     * nothing is sent through it (works on devices whose stop/start does
     * not, like net_af_packet). */
    void set_admin(uint16_t port, bool up);
    absl::Status set_mtu(uint16_t port, uint16_t mtu);
    /* Reads every port's link state; returns the ports whose state changed. */
    std::vector<uint16_t> poll_links();

    /* Sends a packet built by the control thread out of `port`: on the
     * control thread's own tx queue when the device has one, else through a
     * ring that a worker drains. Takes ownership of `m` in every case. */
    void send(uint16_t port, rte_mbuf* m);
    /* Dequeues up to n punted packets (control thread). */
    unsigned drain_punts(rte_mbuf** pkts, unsigned n);
    /* An eventfd that becomes readable when punted packets wait. */
    int punt_eventfd() const { return punt_efd_; }
    /* Arms the wakeup; returns true if packets are already waiting (then
     * drain instead of sleeping). */
    bool arm_punt_wakeup();

    const PortState& port(uint16_t id) const { return ports_[id]; }
    const PortState* find_port(const std::string& name, uint16_t* id) const;
    std::vector<uint16_t> port_ids() const;
    PortCounters port_counters(uint16_t port) const;
    void reset_port_counters(uint16_t port);
    PortDetail port_detail(uint16_t port) const;
    const std::vector<std::unique_ptr<WorkerStats>>& worker_stats() const { return stats_; }
    const DataplaneConfig& config() const { return cfg_; }
    rte_mempool* pool() const { return pool_; }
    uint64_t control_tx_dropped() const { return ctl_tx_dropped_; }

    /* The body of a worker lcore (called through rte_eal_remote_launch). */
    int run_worker(unsigned index);

  private:
    void publish_worker_confs();
    void worker_tx(const WorkerConf& conf, BurstResult& res, WorkerStats& st);
    /* Sends n packets through `port`; those it does not take are freed and
     * counted as drops instead of forwarded. */
    void worker_tx_port(const WorkerConf& conf, uint16_t port, rte_mbuf** pkts, uint16_t n,
                        WorkerStats& st);
    void worker_punt(BurstResult& res, WorkerStats& st);
    void worker_control_tx(const WorkerConf& conf, WorkerStats& st);

    DataplaneConfig cfg_;
    Tables* tables_ = nullptr;
    rte_mempool* pool_ = nullptr;
    rte_ring* punt_ring_ = nullptr;    // workers -> control, MP/SC
    rte_ring* ctl_tx_ring_ = nullptr;  // control -> the worker that sends for it, SP/SC
    int punt_efd_ = -1;
    std::atomic<bool> control_sleeping_{false};
    std::atomic<bool> stop_{false};
    std::vector<WorkerConf*> confs_;  // RCU-protected, one per worker
    std::vector<std::unique_ptr<WorkerStats>> stats_;
    rte_spinlock_t txq_locks_[RTE_MAX_ETHPORTS][kMaxQueues];  // for shared tx queues
    PortState ports_[RTE_MAX_ETHPORTS];
    uint64_t ctl_tx_dropped_ = 0;
};

}  // namespace fp6
