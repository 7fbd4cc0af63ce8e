#include "control/config.h"

#include <fstream>
#include <functional>

#include "control/api/grammar.h"
#include "fmt/format.h"

namespace fp6 {
namespace {

absl::Status for_each_command(const std::string& path,
                              const std::function<absl::Status(const Request&)>& fn) {
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
        return r.ok() ? absl::OkStatus() : r.status();
    });
}

}  // namespace fp6
