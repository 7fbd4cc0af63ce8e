/* The running configuration: the router's state written back as the
 * command lines that rebuild it (`show running-config`, `config save`), in
 * the grammar of control/api/grammar.h, so that `fp6d --config` of the
 * text, or `fp6ctl -f` of it on a fresh fp6d, gives the same ports,
 * addresses, neighbours, routes and policy table.
 *
 * Router::running_config() (defined in running_config.cc) walks the
 * router's tables; the helpers here are the parts that need no Router. */
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "rib/rib.h"

namespace fp6 {

/* A value as one word of the grammar: as is when split_words() would give
 * it back unchanged, else in double quotes with " and \ escaped. */
std::string config_word(std::string_view value);

/* Appends one `route add ...` line per static route of rib, in the RIB's
 * order. Connected and local routes are left out: their addresses imply
 * them. */
void append_routes(std::string& out, const Rib& rib);

/* Replaces the file at `path` (absolute) with `text` so that a crash at any
 * moment leaves either the old file whole or the new one whole: the text
 * goes to a temporary file in the same directory, is fsync'ed, renamed over
 * `path`, and the directory is fsync'ed. The new file keeps the mode of the
 * one it replaces (0640 when there was none).
 * InvalidArgument for a relative path or a directory; the error of the
 * failing system call otherwise (the temporary file is removed then). */
absl::Status write_file_atomic(const std::string& path, std::string_view text);

}  // namespace fp6
