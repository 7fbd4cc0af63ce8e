/* fp6ctl: the command-line client of fp6d.
 *
 *   fp6ctl [--socket PATH] [-j] [-p] [-h] OBJECT VERB ARGS...
 *   fp6ctl [--socket PATH] [-j] [-p] [-h] [-x] -f FILE
 *   fp6ctl [--socket PATH]                  (a prompt, when stdin is a terminal)
 *   fp6ctl --complete WORDS...              (for tools/completion/fp6ctl.bash)
 *
 * Exit codes (docs/cli.md): 0 done, 1 the command could not be parsed, 2 fp6d
 * refused it, 3 fp6d could not be reached. */
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "control/api/grammar.h"
#include "control/api/protocol.h"
#include "tools/fp6ctl/complete.h"
#include "tools/fp6ctl/prompt.h"
#include "tools/fp6ctl/render.h"
#include "tools/fp6ctl/watch.h"

namespace fp6::ctl {
namespace {

enum Exit { kDone = 0, kParse = 1, kRefused = 2, kUnreachable = 3 };

struct Options {
    std::string socket = std::string(kDefaultSocket);
    bool json = false;
    bool pretty = false;
    bool human = false; /* -h: SI suffixes on counters */
    bool echo = false;  /* -x: print each command to stderr before it runs */
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
        std::cout << render(cmd, data, {.human = o.human});
    } else if (!data.is_null()) {
        std::cout << data.dump(o.pretty ? 2 : -1, ' ', false,
                               nlohmann::json::error_handler_t::replace)
                  << "\n";
    }
}

/* The progress of a long operation (route load, route flush) on a terminal:
 * one line, drawn over itself with "\r" at most ten times a second, and
 * blanked before the reply is printed.
 * TODO: the terminal's width is not asked; on one narrower than the line
 * (about 60 columns) each redraw wraps onto a new line. */
class ProgressLine {
  public:
    void draw(const std::string& text) {
        const auto now = std::chrono::steady_clock::now();
        if (width_ > 0 && now - last_ < std::chrono::milliseconds(100))
            return;
        last_ = now;
        // Spaces over what a longer previous line left.
        std::string pad(text.size() < width_ ? width_ - text.size() : 0, ' ');
        std::cout << '\r' << text << pad << std::flush;
        width_ = text.size();
    }
    void clear() {
        if (width_ > 0)
            std::cout << '\r' << std::string(width_, ' ') << '\r' << std::flush;
        width_ = 0;
    }

  private:
    size_t width_ = 0;  // of the line on the screen; 0 when none is
    std::chrono::steady_clock::time_point last_;
};

/* A parsed request, where it came from ("" or "FILE:LINE: ") and its text. */
struct Job {
    std::string where;
    nlohmann::json request;
    std::string text;
};

/* Connects once and runs the jobs in order, stopping at the first error. */
/* fp6d reads `route load` files itself, from its own working directory:
 * send the path as the user meant it. */
nlohmann::json with_absolute_paths(nlohmann::json request) {
    if (request.value("cmd", "") == "route.load") {
        nlohmann::json& args = request["args"];
        if (args.contains("file") && args["file"].is_string()) {
            std::error_code ec;
            auto abs = std::filesystem::absolute(args["file"].get<std::string>(), ec);
            if (!ec)
                args["file"] = abs.lexically_normal().string();
        }
    }
    return request;
}

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
        if (o.echo) {
            std::cout.flush();
            std::cerr << "+ " << job.text << "\n" << std::flush;
        }
        // Progress only for a person: not with -j, nor into a pipe or file.
        ProgressLine progress;
        Client::ProgressFn on_progress;
        const std::string cmd = job.request.value("cmd", "");
        if (!o.json && isatty(STDOUT_FILENO))
            on_progress = [&](const nlohmann::json& p) { progress.draw(render_progress(cmd, p)); };
        auto data = client->call(with_absolute_paths(job.request), on_progress);
        progress.clear();
        if (!data.ok()) {
            report(o, job.where + std::string(data.status().message()));
            return exit_code(data.status());
        }
        print(o, job.request.value("cmd", ""), *data);
        std::cout.flush();
        // A route load applies what it can and goes on: the summary is
        // printed, and refused lines make it a refusal for the exit code
        // (and stop a -f file there, as any refusal does).
        if (cmd == "route.load" && data->is_object() && data->value("refused", 0) > 0)
            return kRefused;
    }
    return kDone;
}

int run_words(const Options& o) {
    auto req = parse_command(o.words);
    if (!req.ok()) {
        report(o, std::string(req.status().message()));
        return kParse;
    }
    std::string text;
    for (const auto& w : o.words)
        text += (text.empty() ? "" : " ") + w;
    return run_jobs(o, {{"", std::move(*req), text}});
}

/* One line typed at the prompt. */
int run_typed_line(const Options& o, const std::string& line) {
    auto req = parse_line(line);
    if (!req.ok()) {
        report(o, std::string(req.status().message()));
        return kParse;
    }
    if (!*req)
        return kDone;
    return run_jobs(o, {{"", std::move(**req), line}});
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
        if (*req) {
            std::string text = lines[i];
            text.erase(0, text.find_first_not_of(" \t"));
            text.erase(text.find_last_not_of(" \t\r") + 1);
            jobs.push_back({where, std::move(**req), std::move(text)});
        }
    }
    return run_jobs(o, jobs);
}

void setup(CLI::App& app, Options& o) {
    app.prefix_command();
    app.set_version_flag("--version", std::string("fp6ctl ") + FP6_VERSION);
    // -h is human-readable counters (as in ls, df, ip); help is --help only.
    app.set_help_flag("--help", "print this help and exit");
    app.add_option("--socket", o.socket, "fp6d's control socket")->capture_default_str();
    app.add_flag("-j,--json", o.json, "print the reply data as JSON (one line)");
    app.add_flag("-p,--pretty", o.pretty, "indent the JSON output (implies -j)");
    app.add_flag("-h,--human", o.human, "counters in tables with SI suffixes (1.23M)");
    app.add_option("-f,--file", o.file, "run the commands in FILE, one per line (- is stdin)");
    app.add_flag("-x,--echo", o.echo, "print each command to stderr (\"+ COMMAND\") as it runs");
    app.add_option("--timeout", o.timeout_s, "seconds to wait for fp6d")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.footer("Commands:\n" + usage_text() +
               "\nWithout a command, on a terminal: a prompt with help, ? and TAB completion.");
}

/* Options that take a value, for --complete to step over. */
bool takes_value(std::string_view opt) {
    return opt == "--socket" || opt == "--timeout" || opt == "-f" || opt == "--file";
}

/* fp6ctl --complete WORDS...: WORDS are the words after "fp6ctl" up to the
 * cursor, the last one the word being completed (maybe ""). Prints the
 * candidates, one a line; live names come from fp6d at --socket when it
 * answers within a second. */
int run_complete(const std::vector<std::string>& args) {
    std::string socket(kDefaultSocket);
    size_t i = 0;
    while (i + 1 < args.size() && args[i].size() > 1 && args[i][0] == '-') {
        if (takes_value(args[i])) {
            if (i + 2 >= args.size())
                return kDone;  // completing an option's value: the shell's business
            if (args[i] == "--socket")
                socket = args[i + 1];
            i += 2;
        } else {
            i++;
        }
    }
    std::vector<std::string> done(args.begin() + long(i),
                                  args.empty() ? args.end() : args.end() - 1);
    std::string partial = args.empty() ? "" : args.back();
    std::vector<std::string> out;
    if (done.empty() && !partial.empty() && partial[0] == '-') {
        for (const char* opt : {"--socket", "--timeout", "--json", "--pretty", "--human", "--echo",
                                "--file", "--version", "--help"})
            if (std::string_view(opt).substr(0, partial.size()) == partial)
                out.emplace_back(opt);
    } else {
        LiveNames names = fetch_names(socket, std::chrono::seconds(1), live_kind(done));
        out = complete(done, partial, names);
    }
    for (const auto& w : out)
        std::cout << w << "\n";
    return kDone;
}

int run(int argc, char** argv) {
    if (argc >= 2 && std::string_view(argv[1]) == "--complete")
        return run_complete(std::vector<std::string>(argv + 2, argv + argc));
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
    if (o.file.empty() && o.words.empty() && isatty(STDIN_FILENO)) {
        auto timeout = std::chrono::milliseconds(int64_t(std::min(o.timeout_s, 2.0) * 1000));
        return run_prompt(
            {o.socket, timeout, [&o](const std::string& line) { return run_typed_line(o, line); }});
    }
    if (auto watch = parse_watch(o.words)) {
        if (!watch->ok()) {
            report(o, std::string(watch->status().message()));
            return kParse;
        }
        return run_watch(o.socket, o.timeout_s, o.json, **watch);
    }
    // fp6d writes `config save FILE` itself, from its own directory: a
    // relative FILE is meant from the caller's.
    if (o.words.size() == 3 && o.words[0] == "config" && o.words[1] == "save" &&
        !o.words[2].empty() && o.words[2][0] != '/')
        o.words[2] = std::filesystem::absolute(o.words[2]).string();
    return o.file.empty() ? run_words(o) : run_file(o);
}

}  // namespace
}  // namespace fp6::ctl

int main(int argc, char** argv) {
    return fp6::ctl::run(argc, argv);
}
