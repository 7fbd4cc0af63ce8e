#include "control/telemetry.h"

#include <rte_errno.h>
#include <rte_telemetry.h>

#include <cerrno>
#include <memory>
#include <mutex>

#include "common/log.h"

namespace fp6 {

namespace {

/* What the telemetry commands answer from: `stats show`, `neigh show` and
 * `addr show` as the control thread last saw them. Immutable once
 * published, so any number of threads may read it. */
struct TelemetrySnapshot {
    nlohmann::json stats, neigh, addr;
};

std::mutex g_mu;  // guards g_snap (the pointer, not what it points to)
std::shared_ptr<const TelemetrySnapshot> g_snap;  // written by the control thread

std::shared_ptr<const TelemetrySnapshot> current() {
    std::lock_guard<std::mutex> lock(g_mu);
    return g_snap;
}

uint64_t u64(const nlohmann::json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

/* Every unsigned member of obj into the dict d, under prefix + key. */
void add_counts(rte_tel_data* d, const nlohmann::json& obj, const std::string& prefix = "") {
    if (!obj.is_object())
        return;
    for (auto it = obj.begin(); it != obj.end(); ++it)
        if (it->is_number_unsigned())
            rte_tel_data_add_dict_u64(d, (prefix + it.key()).c_str(), it->get<uint64_t>());
}

/* An array of strings for rte_tel_data_add_dict_container; at most the
 * RTE_TEL_MAX_ARRAY_ENTRIES first ones fit. */
rte_tel_data* string_array(const std::vector<std::string>& items) {
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr)
        return nullptr;
    rte_tel_data_start_array(c, RTE_TEL_STRING_VAL);
    for (size_t i = 0; i < items.size() && i < RTE_TEL_MAX_ARRAY_ENTRIES; i++)
        rte_tel_data_add_array_string(c, items[i].c_str());
    return c;
}

int tel_stats(const char*, const char* params, rte_tel_data* d) {
    auto snap = current();
    if (!snap)
        return -EAGAIN;
    const nlohmann::json& s = snap->stats;
    rte_tel_data_start_dict(d);
    if (params != nullptr && params[0] != '\0') {
        for (const nlohmann::json& p : s.value("ports", nlohmann::json::array())) {
            if (p.value("ifname", "") != params)
                continue;
            add_counts(d, p);
            return 0;
        }
        return -EINVAL;  // no such port
    }
    uint64_t rx = 0, fwd = 0, punted = 0, dropped = 0;
    for (const nlohmann::json& w : s.value("workers", nlohmann::json::array())) {
        rx += u64(w, "rx_packets");
        fwd += u64(w, "forwarded");
        punted += u64(w, "punted");
        dropped += u64(w, "drops");
    }
    rte_tel_data_add_dict_u64(d, "rx_packets", rx);
    rte_tel_data_add_dict_u64(d, "forwarded", fwd);
    rte_tel_data_add_dict_u64(d, "punted", punted);
    rte_tel_data_add_dict_u64(d, "dropped", dropped);
    rte_tel_data_add_dict_u64(d, "ports", s.value("ports", nlohmann::json::array()).size());
    rte_tel_data_add_dict_u64(d, "workers", s.value("workers", nlohmann::json::array()).size());
    add_counts(d, s.value("drops", nlohmann::json::object()), "drop_");
    rte_tel_data_add_dict_u64(d, "neighbors",
                              u64(s.value("neighbors", nlohmann::json::object()), "total"));
    rte_tel_data_add_dict_u64(d, "routes",
                              u64(s.value("routes", nlohmann::json::object()), "routes"));
    return 0;
}

int tel_neigh(const char*, const char*, rte_tel_data* d) {
    auto snap = current();
    if (!snap)
        return -EAGAIN;
    rte_tel_data_start_dict(d);
    add_counts(d, snap->stats.value("neighbors", nlohmann::json::object()));
    std::vector<std::string> entries;
    for (const nlohmann::json& n : snap->neigh) {
        std::string state = n.contains("state") && n["state"].is_array() && !n["state"].empty()
                                ? n["state"][0].get<std::string>()
                                : "?";
        entries.push_back(fmt::format("{} dev {} lladdr {} {}", n.value("dst", "?"),
                                      n.value("dev", "?"), n.value("lladdr", "-"), state));
    }
    if (rte_tel_data* c = string_array(entries))
        rte_tel_data_add_dict_container(d, "entries", c, 0);
    return 0;
}

int tel_addr(const char*, const char*, rte_tel_data* d) {
    auto snap = current();
    if (!snap)
        return -EAGAIN;
    rte_tel_data_start_dict(d);
    for (const nlohmann::json& port : snap->addr) {
        std::vector<std::string> list;
        for (const nlohmann::json& a : port.value("addr_info", nlohmann::json::array())) {
            // The DAD state (RFC 4862): duplicate, tentative (being checked,
            // or the port is not operational), else usable.
            const char* state = a.value("dadfailed", false)    ? "duplicate"
                                : a.value("tentative", false)  ? "tentative"
                                : a.value("deprecated", false) ? "deprecated"
                                                               : "preferred";
            list.push_back(
                fmt::format("{}/{} {}", a.value("local", "?"), a.value("prefixlen", 0), state));
        }
        if (rte_tel_data* c = string_array(list))
            rte_tel_data_add_dict_container(d, port.value("ifname", "?").c_str(), c, 0);
    }
    return 0;
}

int tel_routes(const char*, const char*, rte_tel_data* d) {
    auto snap = current();
    if (!snap)
        return -EAGAIN;
    rte_tel_data_start_dict(d);
    add_counts(d, snap->stats.value("routes", nlohmann::json::object()));
    return 0;
}

}  // namespace

absl::Status register_telemetry() {
    struct Cmd {
        const char* name;
        telemetry_cb fn;
        const char* help;
    };
    const Cmd cmds[] = {
        {"/fp6/stats", tel_stats,
         "fp6 totals and drop reasons; with a port name, that port's counters. Parameter: "
         "port name (optional)"},
        {"/fp6/neigh", tel_neigh, "fp6 neighbour cache: entries by state and the entries"},
        {"/fp6/addr", tel_addr, "fp6 addresses per port with their DAD state"},
        {"/fp6/routes", tel_routes, "fp6 RIB and FIB counts"},
    };
    for (const Cmd& c : cmds) {
        int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help);
        if (rc != 0)
            return absl::InternalError(
                fmt::format("telemetry: cannot register {}: {}", c.name, rte_strerror(-rc)));
    }
    return absl::OkStatus();
}

void publish_telemetry(Router& router) {
    auto snap = std::make_shared<TelemetrySnapshot>();
    auto get = [&](const char* cmd) {
        absl::StatusOr<nlohmann::json> r = router.execute(Request{cmd, nlohmann::json::object()});
        return r.ok() ? *r : nlohmann::json::array();
    };
    snap->stats = get("stats.show");
    snap->neigh = get("neigh.show");
    snap->addr = get("addr.show");
    std::shared_ptr<const TelemetrySnapshot> old;
    {
        std::lock_guard<std::mutex> lock(g_mu);
        old = std::exchange(g_snap, std::move(snap));
    }
    // `old` is freed here, outside the lock, unless a callback still holds it.
}

}  // namespace fp6
