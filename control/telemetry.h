/* fp6's commands on DPDK's telemetry socket (dpdk-telemetry.py, the
 * /var/run/dpdk/PREFIX/dpdk_telemetry.v2 socket):
 *
 *   /fp6/stats           totals: packets received, forwarded, punted and
 *                        dropped, each drop reason, neighbours and routes
 *   /fp6/stats,PORT      that port's device counters
 *   /fp6/neigh           neighbour cache entries by state, and the entries
 *   /fp6/addr            each port's addresses with their DAD state
 *   /fp6/routes          RIB and FIB counts
 *
 * Concurrency: DPDK runs the callbacks on its own telemetry thread, which
 * must never touch the router (the control thread is its only reader and
 * writer, without locks). So the control thread builds an immutable
 * TelemetrySnapshot once a second (publish_telemetry) and swaps a
 * shared_ptr to it under a mutex; a callback takes a reference under the
 * same mutex and reads the snapshot outside it, so neither thread waits
 * for the other's work. Answers are up to a second old. */
#pragma once

#include "absl/status/status.h"
#include "control/router.h"

namespace fp6 {

/* Registers the /fp6/ commands (after rte_eal_init, once per process). */
absl::Status register_telemetry();

/* Control thread: rebuilds the snapshot the commands answer from. */
void publish_telemetry(Router& router);

}  // namespace fp6
