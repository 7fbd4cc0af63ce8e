/* fp6ctl: the command-line client of fp6d.
 *
 *   fp6ctl [--socket PATH] [-j] [-p] OBJECT VERB ARGS...
 *   fp6ctl [--socket PATH] [-j] [-p] -f FILE
 *
 * Exit codes (docs/cli.md): 0 done, 1 the command could not be parsed, 2 fp6d
 * refused it, 3 fp6d could not be reached. */
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "control/api/grammar.h"
#include "control/api/protocol.h"
#include "tools/fp6ctl/render.h"

namespace fp6::ctl {
namespace {

enum Exit { kDone = 0, kParse = 1, kRefused = 2, kUnreachable = 3 };

struct Options {
    std::string socket = std::string(kDefaultSocket);
    bool json = false;
    bool pretty = false;
    std::string file;
    double timeout_s = 30;
    std::vector<std::string> words;
};

/* One error: a line on stderr, and with -j {"error":...} on stdout. */
void report(const Options& o, const std::string& msg) {
    std::cerr << "fp6ctl: " << msg << "\n";
    if (o.json)
        std::cout << nlohmann::json{{"error", msg}}.dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace)
                  << "\n";
}

/* The exit code for a failed Client call or connect. */
int exit_code(const absl::Status& st) {
    if (absl::IsFailedPrecondition(st))
        return kRefused;
    if (absl::IsInvalidArgument(st))
        return kParse;
    return kUnreachable;
}

void print(const Options& o, const std::string& cmd, const nlohmann::json& data) {
    if (!o.json) {
        std::cout << render(cmd, data);
    } else if (!data.is_null()) {
        std::cout << data.dump(o.pretty ? 2 : -1, ' ', false,
                               nlohmann::json::error_handler_t::replace)
                  << "\n";
    }
}

/* A parsed request and where it came from ("" or "FILE:LINE: "). */
struct Job {
    std::string where;
    nlohmann::json request;
};

/* Connects once and runs the jobs in order, stopping at the first error. */
int run_jobs(const Options& o, const std::vector<Job>& jobs) {
    if (jobs.empty())
        return kDone;
    auto timeout = std::chrono::milliseconds(int64_t(o.timeout_s * 1000));
    auto client = Client::connect(o.socket, timeout);
    if (!client.ok()) {
        report(o, std::string(client.status().message()));
        return exit_code(client.status());
    }
    for (const auto& job : jobs) {
        auto data = client->call(job.request);
        if (!data.ok()) {
            report(o, job.where + std::string(data.status().message()));
            return exit_code(data.status());
        }
        print(o, job.request.value("cmd", ""), *data);
        std::cout.flush();
    }
    return kDone;
}

int run_words(const Options& o) {
    auto req = parse_command(o.words);
    if (!req.ok()) {
        report(o, std::string(req.status().message()));
        return kParse;
    }
    return run_jobs(o, {{"", std::move(*req)}});
}

/* Reads the whole file ("-" is stdin) into lines. */
bool read_lines(const std::string& path, std::vector<std::string>& lines, std::string& err) {
    std::ifstream f;
    std::istream* in = &std::cin;
    if (path != "-") {
        f.open(path);
        if (!f) {
            err = fmt::format("cannot read {}: {}", path, std::strerror(errno));
            return false;
        }
        in = &f;
    }
    for (std::string line; std::getline(*in, line);)
        lines.push_back(std::move(line));
    if (in->bad()) {
        err = fmt::format("cannot read {}: {}", path, std::strerror(errno));
        return false;
    }
    return true;
}

/* -f: parses every line first, so a typo stops the file before any change. */
int run_file(const Options& o) {
    std::vector<std::string> lines;
    std::string err;
    if (!read_lines(o.file, lines, err)) {
        report(o, err);
        return kParse;
    }
    std::vector<Job> jobs;
    for (size_t i = 0; i < lines.size(); i++) {
        std::string where = fmt::format("{}:{}: ", o.file, i + 1);
        auto req = parse_line(lines[i]);
        if (!req.ok()) {
            report(o, where + std::string(req.status().message()));
            return kParse;
        }
        if (*req)
            jobs.push_back({where, std::move(**req)});
    }
    return run_jobs(o, jobs);
}

void setup(CLI::App& app, Options& o) {
    app.prefix_command();
    app.set_version_flag("--version", std::string("fp6ctl ") + FP6_VERSION);
    app.add_option("--socket", o.socket, "fp6d's control socket")->capture_default_str();
    app.add_flag("-j,--json", o.json, "print the reply data as JSON (one line)");
    app.add_flag("-p,--pretty", o.pretty, "indent the JSON output (implies -j)");
    app.add_option("-f,--file", o.file, "run the commands in FILE, one per line (- is stdin)");
    app.add_option("--timeout", o.timeout_s, "seconds to wait for fp6d")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.footer("Commands:\n" + usage_text());
}

int run(int argc, char** argv) {
    CLI::App app("fp6ctl: control the fp6 IPv6 router", "fp6ctl");
    Options o;
    setup(app, o);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        report(o, e.what());
        return kParse;
    }
    o.json = o.json || o.pretty;
    o.words = app.remaining();
    if (!o.words.empty() && o.words.front().size() > 1 && o.words.front()[0] == '-') {
        report(o, fmt::format("unknown option \"{}\"", o.words.front()));
        return kParse;
    }
    if (!o.file.empty() && !o.words.empty()) {
        report(o, fmt::format("unexpected word \"{}\" after -f FILE", o.words.front()));
        return kParse;
    }
    return o.file.empty() ? run_words(o) : run_file(o);
}

}  // namespace
}  // namespace fp6::ctl

int main(int argc, char** argv) {
    return fp6::ctl::run(argc, argv);
}
