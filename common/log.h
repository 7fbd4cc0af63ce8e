/* The one logging path of fp6: rte_log, with a log type per component
 * (fp6.dataplane, fp6.rib, ...), so `--log-level fp6.rib:debug` works as it
 * does for EAL's own types. Messages are formatted with fmt. Never log per
 * packet: count instead. */
#pragma once

#include <rte_log.h>

#include <fmt/format.h>

namespace fp6 {

enum class LogType { kControl, kDataplane, kPort, kRib, kNd, kCount };

/* The rte_log type id registered for t (valid before rte_eal_init). */
int log_type_id(LogType t);

void log_write(uint32_t level, LogType t, const std::string& msg);

template <typename... Args>
void log(uint32_t level, LogType t, fmt::format_string<Args...> f, Args&&... args) {
    if (!rte_log_can_log(uint32_t(log_type_id(t)), level))
        return;
    log_write(level, t, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace fp6

#define FP6_LOG(LEVEL, TYPE, ...) ::fp6::log(RTE_LOG_##LEVEL, ::fp6::LogType::k##TYPE, __VA_ARGS__)
