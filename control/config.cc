#include "control/config.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <functional>

#include "control/api/grammar.h"
#include "fmt/format.h"

namespace fp6 {
namespace {

absl::Status for_each_command(const std::string& path,
                              const std::function<absl::Status(const Request&)>& fn) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        return absl::NotFoundError(fmt::format("{}: cannot open: {}", path, strerror(errno)));
    if (!S_ISREG(st.st_mode))
        return absl::InvalidArgumentError(fmt::format("{}: not a regular file", path));
    std::ifstream in(path);
    if (!in)
        return absl::NotFoundError(fmt::format("{}: cannot open: {}", path, strerror(errno)));
    std::string line;
    for (int lineno = 1; std::getline(in, line); lineno++) {
        auto parsed = parse_line(line);
        auto where = [&](const absl::Status& st) {
            return absl::Status(st.code(),
                                fmt::format("{}:{}: {}", path, lineno, std::string(st.message())));
        };
        if (!parsed.ok())
            return where(parsed.status());
        if (!parsed->has_value())
            continue;
        Request req{(**parsed)["cmd"].get<std::string>(), (**parsed)["args"]};
        if (absl::Status st = fn(req); !st.ok())
            return where(st);
    }
    return absl::OkStatus();
}

}  // namespace

absl::Status check_config(const std::string& path) {
    return for_each_command(path, [](const Request&) { return absl::OkStatus(); });
}

absl::Status replay_config(Router& router, const std::string& path) {
    return for_each_command(path, [&](const Request& req) {
        absl::StatusOr<nlohmann::json> r = router.execute(req);
        if (!r.ok())
            return r.status();
        // A route load applies what it can and counts the rest; in a
        // startup config its refused lines are refused lines too.
        if (req.cmd == "route.load" && r->value("refused", 0) > 0) {
            const nlohmann::json first = r->value("first_refused", nlohmann::json::object());
            return absl::InvalidArgumentError(fmt::format(
                "route load: {} lines refused, the first line {}: {}", r->value("refused", 0),
                first.value("line", 0), first.value("error", std::string("?"))));
        }
        return absl::OkStatus();
    });
}

}  // namespace fp6
