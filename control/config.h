/* The startup configuration: a file of the same command lines fp6ctl takes,
 * one per line, '#' comments. */
#pragma once

#include <string>

#include "absl/status/status.h"
#include "control/router.h"

namespace fp6 {

/* Parses every line without executing anything (fp6d --check-config).
 * The first error names FILE:LINE and the reason. */
absl::Status check_config(const std::string& path);

/* Executes the file line by line; stops at the first line that fails and
 * returns FILE:LINE and the reason. */
absl::Status replay_config(Router& router, const std::string& path);

}  // namespace fp6
