/* `fp6ctl stats --watch [SECONDS] [--count N]`: asks fp6d for `stats show`
 * every SECONDS (default 1) and prints the rates between two answers: per
 * port, per queue and per worker packets and bits per second and drop
 * percentages. On a terminal the screen is redrawn; otherwise (and with -j,
 * one JSON object per line and interval) the intervals follow each other.
 * The rate arithmetic is a pure function so that unit tests can check it. */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

namespace fp6::ctl {

struct WatchOptions {
    double interval_s = 1;
    unsigned count = 0;  // intervals to print; 0: until interrupted
};

/* nullopt when `words` is not a watch command (it must start with `stats`
 * and hold `--watch`); otherwise its options, or InvalidArgument naming the
 * word that is wrong ("--watch" expects SECONDS from 0.1 to 3600, ...). */
std::optional<absl::StatusOr<WatchOptions>> parse_watch(const std::vector<std::string>& words);

/* The rates between two `stats show` answers taken dt_s seconds apart:
 *   {"interval_s", "ports":[{"ifname","rx_pps","tx_pps","rx_bps","tx_bps",
 *     "rx_dropped_pps","rx_drop_pct","queues":{"rx":[{"queue","pps","bps"}],
 *     "tx":[...]}}], "workers":[{"worker","lcore","rx_pps","forwarded_pps",
 *     "dropped_pps","drop_pct","busy_pct","pkts_per_burst"}],
 *   "drops":{REASON: pps}}
 * Rates are per second, bps counts bits. A counter that went down (a stats
 * reset between the two) counts from zero. A port or worker missing from
 * `prev` counts from zero too. */
nlohmann::json watch_rates(const nlohmann::json& prev, const nlohmann::json& cur, double dt_s);

/* The rates above as aligned tables. */
std::string render_watch(const nlohmann::json& rates);

/* Runs the watch against fp6d at `socket`; returns the exit code of fp6ctl
 * (0 done or interrupted, 3 unreachable, 2 refused). */
int run_watch(const std::string& socket, double timeout_s, bool json, const WatchOptions& w);

}  // namespace fp6::ctl
