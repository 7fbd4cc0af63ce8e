/* Port lifecycle: probe, configure with what the device offers, start,
 * software admin state, link polling, removal. Control thread only. */
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "common/log.h"
#include "dataplane/dataplane.h"

namespace fp6 {
namespace {

constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;

std::string errno_text(int rc) {
    return rte_strerror(rc < 0 ? -rc : rc);
}

/* The first port whose device matches `devargs` (a PCI address, a vdev
 * string, or a full devargs with bus prefix). */
std::optional<uint16_t> find_port_for(const std::string& devargs) {
    rte_dev_iterator it;
    uint16_t id;
    std::optional<uint16_t> found;
    RTE_ETH_FOREACH_MATCHING_DEV(id, devargs.c_str(), &it) {
        if (!found)
            found = id;
    }
    return found;
}

}  // namespace

Dataplane::Dataplane(DataplaneConfig cfg) : cfg_(std::move(cfg)) {
    for (auto& row : txq_locks_)
        for (auto& l : row)
            rte_spinlock_init(&l);
}

Dataplane::~Dataplane() {
    stop_workers();
    for (uint16_t id : port_ids()) {
        rte_eth_dev_stop(id);
        rte_eth_dev_close(id);
    }
    for (WorkerConf* c : confs_)
        delete c;
    if (punt_efd_ >= 0)
        close(punt_efd_);
    rte_ring_free(punt_ring_);
    rte_ring_free(ctl_tx_ring_);
    rte_mempool_free(pool_);
}

absl::Status Dataplane::init(Tables* tables) {
    tables_ = tables;
    if (cfg_.worker_lcores.empty())
        return absl::InvalidArgumentError("no worker lcore");
    pool_ = rte_pktmbuf_pool_create("fp6_mbufs", cfg_.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    int(rte_socket_id()));
    if (pool_ == nullptr)
        return absl::ResourceExhaustedError(fmt::format("cannot create a pool of {} mbufs: {}",
                                                        cfg_.mbufs, rte_strerror(rte_errno)));
    punt_ring_ =
        rte_ring_create("fp6_punt", cfg_.punt_ring_size, int(rte_socket_id()), RING_F_SC_DEQ);
    ctl_tx_ring_ =
        rte_ring_create("fp6_ctl_tx", 1024, int(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (punt_ring_ == nullptr || ctl_tx_ring_ == nullptr)
        return absl::ResourceExhaustedError(
            fmt::format("cannot create rings: {}", rte_strerror(rte_errno)));
    punt_efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (punt_efd_ < 0)
        return absl::InternalError("eventfd failed");
    for (size_t i = 0; i < cfg_.worker_lcores.size(); i++) {
        confs_.push_back(nullptr);
        stats_.push_back(std::make_unique<WorkerStats>());
    }
    publish_worker_confs();
    return absl::OkStatus();
}

const PortState* Dataplane::find_port(const std::string& name, uint16_t* id) const {
    for (uint16_t i = 0; i < RTE_MAX_ETHPORTS; i++) {
        if (ports_[i].in_use && ports_[i].name == name) {
            if (id != nullptr)
                *id = i;
            return &ports_[i];
        }
    }
    return nullptr;
}

std::vector<uint16_t> Dataplane::port_ids() const {
    std::vector<uint16_t> ids;
    for (uint16_t i = 0; i < RTE_MAX_ETHPORTS; i++)
        if (ports_[i].in_use)
            ids.push_back(i);
    return ids;
}

namespace {

/* Why rte_dev_probe() failed, for an operator. -1 is most drivers' plain
 * "failed", not EPERM: a missing interface, devargs the driver does not
 * take, or a missing capability; the driver's log line says which. */
std::string probe_failure(int rc) {
    if (rc == -EFAULT || rc == -ENOENT || rc == -ENODEV)
        return "no DPDK driver or device matches it";
    if (rc == -1)
        return "the driver refused it (a missing interface or capability, or devargs it does "
               "not take: see fp6d's log)";
    return errno_text(rc);
}

}  // namespace

absl::StatusOr<uint16_t> Dataplane::add_port(const std::string& name, const std::string& devargs,
                                             uint16_t mtu) {
    if (auto existing = find_port_for(devargs)) {
        if (ports_[*existing].in_use)
            return absl::AlreadyExistsError(
                fmt::format("device {} is already port {}", devargs, ports_[*existing].name));
    } else {
        int rc = rte_dev_probe(devargs.c_str());
        if (rc < 0)
            return absl::InvalidArgumentError(
                fmt::format("cannot probe device \"{}\": {}", devargs, probe_failure(rc)));
    }
    std::optional<uint16_t> found = find_port_for(devargs);
    if (!found)
        return absl::InvalidArgumentError(
            fmt::format("device \"{}\" was probed but is not an ethernet port", devargs));
    uint16_t id = *found;

    rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(id, &info);
    if (rc != 0)
        return absl::InternalError(fmt::format("cannot query {}: {}", devargs, errno_text(rc)));
    PortState ps;
    ps.name = name;
    ps.devargs = devargs;
    ps.driver = info.driver_name;
    uint16_t workers = uint16_t(cfg_.worker_lcores.size());
    // net_af_packet opens one socket per queue pair in one fanout group; a
    // queue nobody polls loses its share of the traffic, so poll them all.
    ps.nb_rxq = ps.driver == "net_af_packet" ? info.max_rx_queues
                                             : std::min<uint16_t>(workers, info.max_rx_queues);
    ps.nb_rxq = std::clamp<uint16_t>(ps.nb_rxq, 1, kMaxQueues);
    ps.nb_txq =
        std::clamp<uint16_t>(std::min<uint16_t>(workers + 1, info.max_tx_queues), 1, kMaxQueues);
    ps.control_txq = ps.nb_txq > workers;

    rte_eth_conf conf{};
    // RSS only where the device reports hash types it can compute.
    uint64_t rss =
        info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP);
    if (ps.nb_rxq > 1 && rss != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = rss;
    }
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    auto fail = [&](const std::string& what, int err) -> absl::Status {
        rte_eth_dev_close(id);
        rte_dev_remove(info.device);
        return absl::InternalError(
            fmt::format("{}: {} failed: {}", devargs, what, errno_text(err)));
    };
    if ((rc = rte_eth_dev_configure(id, ps.nb_rxq, ps.nb_txq, &conf)) != 0)
        return fail("configure", rc);
    uint16_t nrx = kRxDesc, ntx = kTxDesc;
    rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx);
    int socket = rte_eth_dev_socket_id(id);
    for (uint16_t q = 0; q < ps.nb_rxq; q++)
        if ((rc = rte_eth_rx_queue_setup(id, q, nrx, socket, nullptr, pool_)) != 0)
            return fail("rx queue setup", rc);
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    for (uint16_t q = 0; q < ps.nb_txq; q++)
        if ((rc = rte_eth_tx_queue_setup(id, q, ntx, socket, &txconf)) != 0)
            return fail("tx queue setup", rc);
    // Several vdevs (net_pcap, memif) refuse MTU and multicast settings;
    // the port works without them.
    ps.mtu = mtu;
    if ((rc = rte_eth_dev_set_mtu(id, mtu)) != 0)
        FP6_LOG(INFO, Port, "{}: device keeps its MTU ({}); fp6 applies mtu {} itself", name,
                errno_text(rc), mtu);
    if ((rc = rte_eth_allmulticast_enable(id)) != 0 && rc != -ENOTSUP)
        FP6_LOG(INFO, Port, "{}: all-multicast not enabled: {}", name, errno_text(rc));
    if ((rc = rte_eth_dev_start(id)) != 0)
        return fail("start", rc);
    rte_ether_addr mac;
    rte_eth_macaddr_get(id, &mac);
    ps.mac = Mac::from_bytes(mac.addr_bytes);
    ps.in_use = true;
    ports_[id] = ps;

    PortView& v = tables_->ports[id];
    v.mac = ps.mac;
    v.mtu.store(mtu);
    tables_->set_admin_up(id, false);
    v.link_up.store(false);
    // The workers learn the queues before the port exists for forwarding.
    publish_worker_confs();
    v.exists.store(true, std::memory_order_release);
    FP6_LOG(INFO, Port, "{}: added port {} ({}, {}), {} rx / {} tx queues, mac {}", name, id,
            devargs, ps.driver, ps.nb_rxq, ps.nb_txq, ps.mac.str());
    return id;
}

void Dataplane::del_port(uint16_t id) {
    if (!ports_[id].in_use)
        return;
    PortView& v = tables_->ports[id];
    v.exists.store(false);
    tables_->set_admin_up(id, false);
    ports_[id].in_use = false;
    publish_worker_confs();
    // No worker may be inside rx/tx on this port when it is closed.
    synchronize_rcu();
    rte_eth_dev_info info;
    bool have_info = rte_eth_dev_info_get(id, &info) == 0;
    rte_eth_dev_stop(id);
    rte_eth_dev_close(id);
    if (have_info)
        rte_dev_remove(info.device);
    FP6_LOG(INFO, Port, "{}: removed", ports_[id].name);
    ports_[id] = PortState{};
}

void Dataplane::set_admin(uint16_t id, bool up) {
    ports_[id].admin_up = up;
    tables_->set_admin_up(id, up);
    publish_worker_confs();
    FP6_LOG(INFO, Port, "{}: admin {}", ports_[id].name, up ? "up" : "down");
}

absl::Status Dataplane::set_mtu(uint16_t id, uint16_t mtu) {
    if (mtu < 1280)
        return absl::InvalidArgumentError(
            fmt::format("mtu {} is below the IPv6 minimum of 1280", mtu));
    int rc = rte_eth_dev_set_mtu(id, mtu);
    if (rc != 0 && rc != -ENOTSUP)
        return absl::InvalidArgumentError(
            fmt::format("device refused mtu {}: {}", mtu, errno_text(rc)));
    ports_[id].mtu = mtu;
    tables_->ports[id].mtu.store(mtu);
    return absl::OkStatus();
}

std::vector<uint16_t> Dataplane::poll_links() {
    std::vector<uint16_t> changed;
    for (uint16_t id : port_ids()) {
        rte_eth_link link{};
        if (rte_eth_link_get_nowait(id, &link) != 0)
            continue;
        bool up = link.link_status == RTE_ETH_LINK_UP;
        if (up == ports_[id].link_up)
            continue;
        ports_[id].link_up = up;
        tables_->ports[id].link_up.store(up);
        changed.push_back(id);
        FP6_LOG(INFO, Port, "{}: link {}", ports_[id].name, up ? "up" : "down");
    }
    return changed;
}

PortCounters Dataplane::port_counters(uint16_t id) const {
    rte_eth_stats s{};
    rte_eth_stats_get(id, &s);
    return PortCounters{s.ipackets, s.ibytes,    s.opackets, s.obytes,
                        s.imissed,  s.rx_nombuf, s.ierrors,  s.oerrors};
}

void Dataplane::reset_port_counters(uint16_t id) {
    rte_eth_stats_reset(id);
    rte_eth_xstats_reset(id);
}

PortDetail Dataplane::port_detail(uint16_t id) const {
    PortDetail d;
    rte_eth_stats s{};
    rte_eth_stats_get(id, &s);
    const PortState& ps = ports_[id];
    // rte_eth_stats keeps RTE_ETHDEV_QUEUE_STAT_CNTRS queues per direction.
    for (uint16_t q = 0; q < ps.nb_rxq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; q++)
        d.rxq.push_back({s.q_ipackets[q], s.q_ibytes[q], s.q_errors[q]});
    for (uint16_t q = 0; q < ps.nb_txq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; q++)
        d.txq.push_back({s.q_opackets[q], s.q_obytes[q], 0});
    int n = rte_eth_xstats_get_names(id, nullptr, 0);
    if (n <= 0)
        return d;
    std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
    std::vector<rte_eth_xstat> values(static_cast<size_t>(n));
    if (rte_eth_xstats_get_names(id, names.data(), unsigned(n)) != n ||
        rte_eth_xstats_get(id, values.data(), unsigned(n)) != n)
        return d;
    for (int i = 0; i < n; i++)
        if (values[size_t(i)].id < unsigned(n))
            d.xstats.emplace_back(names[values[size_t(i)].id].name, values[size_t(i)].value);
    return d;
}

void Dataplane::publish_worker_confs() {
    unsigned nworkers = unsigned(confs_.size());
    std::vector<WorkerConf*> fresh(nworkers);
    for (unsigned w = 0; w < nworkers; w++) {
        fresh[w] = new WorkerConf{};
        std::fill(std::begin(fresh[w]->txq), std::end(fresh[w]->txq), kNoQueue);
        fresh[w]->sends_control_tx = (w == 0);
    }
    for (uint16_t id : port_ids()) {
        const PortState& ps = ports_[id];
        // Queue q of port id goes to worker (id + q) mod n: single-queue
        // ports spread over the workers, and a queue never moves when other
        // ports come and go (two workers must never poll one queue, not
        // even for the one loop iteration a republication takes). An
        // admin-down port is not polled: what arrives stays in the device
        // (its imissed counter says so) instead of costing a worker.
        for (uint16_t q = 0; q < ps.nb_rxq && ps.admin_up; q++)
            fresh[(id + q) % nworkers]->rx.push_back({id, q});
        uint16_t worker_txqs = ps.control_txq ? uint16_t(ps.nb_txq - 1) : ps.nb_txq;
        for (unsigned w = 0; w < nworkers; w++) {
            fresh[w]->txq[id] = uint16_t(w % worker_txqs);
            fresh[w]->tx_shared[id] = nworkers > worker_txqs;
        }
    }
    for (unsigned w = 0; w < nworkers; w++) {
        WorkerConf* old = rcu_xchg_pointer(&confs_[w], fresh[w]);
        // A worker finishes its loop iteration on the old list; freed after
        // it has been quiescent once.
        rcu_delete(old);
    }
}

}  // namespace fp6
