#include "control/stats.h"

namespace fp6 {

nlohmann::json queue_stats_json(const PortDetail& d) {
    // ethdev counts errors per rx queue only.
    auto list = [](const std::vector<QueueCounters>& qs, bool errors) {
        nlohmann::json a = nlohmann::json::array();
        for (size_t q = 0; q < qs.size(); q++) {
            a.push_back({{"queue", q}, {"packets", qs[q].packets}, {"bytes", qs[q].bytes}});
            if (errors)
                a.back()["errors"] = qs[q].errors;
        }
        return a;
    };
    return {{"rx", list(d.rxq, true)}, {"tx", list(d.txq, false)}};
}

nlohmann::json xstats_json(const PortDetail& d) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [name, value] : d.xstats)
        o[name] = value;
    return o;
}

nlohmann::json neighbor_states_json(const std::vector<NcEntry>& entries) {
    constexpr size_t kStates = size_t(NcState::kFailed) + 1;
    uint64_t by_state[kStates] = {};
    for (const NcEntry& n : entries)
        if (size_t(n.state) < kStates)
            by_state[size_t(n.state)]++;
    nlohmann::json o = {{"total", entries.size()}};
    for (size_t s = 0; s < kStates; s++)
        o[nc_state_name(NcState(s))] = by_state[s];
    return o;
}

nlohmann::json rib_counts_json(const RibCounts& c) {
    return {{"routes", c.routes},
            {"active", c.active},
            {"static", c.static_routes},
            {"prefixes", c.prefixes},
            {"fib_entries", c.fib_entries},
            {"nexthops", c.nexthops},
            {"groups", c.groups},
            {"fib_groups", c.fib_groups},
            {"fib_groups_max", c.fib_groups_max},
            {"fib_table_bytes", c.fib_table_bytes},
            {"fib_index_bytes", c.fib_index_bytes},
            {"fib_lookup", Lpm6::walk_name(c.fib_walk)}};
}

}  // namespace fp6
