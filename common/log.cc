#include "common/log.h"

#include <rte_common.h>

namespace fp6 {
namespace {

const char* const kNames[] = {"fp6.control", "fp6.dataplane", "fp6.port", "fp6.rib", "fp6.nd"};
static_assert(std::size(kNames) == size_t(LogType::kCount));
int g_ids[size_t(LogType::kCount)];

/* Registered at load time so EAL's --log-level, parsed later, applies. */
RTE_INIT(fp6_log_init) {
    for (size_t i = 0; i < std::size(kNames); i++) {
        int id = rte_log_register_type_and_pick_level(kNames[i], RTE_LOG_INFO);
        g_ids[i] = id < 0 ? RTE_LOGTYPE_USER1 : id;
    }
}

}  // namespace

int log_type_id(LogType t) {
    return g_ids[size_t(t)];
}

namespace {

/* What an operator greps for: the level in words. */
const char* level_word(uint32_t level) {
    switch (level) {
        case RTE_LOG_EMERG:
        case RTE_LOG_ALERT:
        case RTE_LOG_CRIT:
            return "critical";
        case RTE_LOG_ERR:
            return "error";
        case RTE_LOG_WARNING:
            return "warning";
        case RTE_LOG_NOTICE:
            return "notice";
        case RTE_LOG_INFO:
            return "info";
        default:
            return "debug";
    }
}

}  // namespace

void log_write(uint32_t level, LogType t, const std::string& msg) {
    rte_log(level, uint32_t(g_ids[size_t(t)]), "%s: %s: %s\n", kNames[size_t(t)], level_word(level),
            msg.c_str());
}

}  // namespace fp6
