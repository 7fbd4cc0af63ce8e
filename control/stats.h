/* Parts of `stats show` that need no Router: the JSON of the per-queue and
 * extended port counters, of the neighbour cache by state and of the RIB's
 * counts. The keys are documented in docs/cli.md (stats show). */
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "dataplane/dataplane.h"
#include "nd/ncache.h"
#include "rib/rib.h"

namespace fp6 {

/* {"rx":[{"queue","packets","bytes","errors"}...],"tx":[{"queue","packets","bytes"}...]} */
nlohmann::json queue_stats_json(const PortDetail& d);
/* {NAME: value} of the device's extended counters. */
nlohmann::json xstats_json(const PortDetail& d);
/* {"total":N,"INCOMPLETE":N,...} with every state, zeros included. */
nlohmann::json neighbor_states_json(const std::vector<NcEntry>& entries);
/* {"routes","active","static","prefixes","fib_entries","nexthops","groups"} */
nlohmann::json rib_counts_json(const RibCounts& c);

}  // namespace fp6
