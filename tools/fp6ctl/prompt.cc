#include "tools/fp6ctl/prompt.h"

#include <histedit.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "control/api/grammar.h"
#include "control/api/protocol.h"

namespace fp6::ctl {

namespace {

constexpr const char* kPromptHelp =
    "  help [WORDS]   the commands that start with WORDS (? on a line does the same)\n"
    "  exit, quit     leave (or Ctrl-D)\n"
    "  TAB            complete the word under the cursor\n";

struct Session {
    const PromptConfig* config;
};

const Session& session_of(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return *static_cast<Session*>(data);
}

/* The text between the start of the line and the cursor. */
std::string_view before_cursor(EditLine* el) {
    const LineInfo* li = el_line(el);
    return {li->buffer, size_t(li->cursor - li->buffer)};
}

/* Prints words in columns across an 80-column terminal. */
void print_columns(const std::vector<std::string>& words) {
    size_t width = 0;
    for (const auto& w : words)
        width = std::max(width, w.size());
    width += 2;
    size_t per_line = std::max<size_t>(1, 80 / width);
    std::string out;
    for (size_t i = 0; i < words.size(); i++) {
        out += words[i];
        bool last_in_line = (i + 1) % per_line == 0 || i + 1 == words.size();
        out += last_in_line ? "\n" : std::string(width - words[i].size(), ' ');
    }
    std::fputs(out.c_str(), stdout);
}

std::vector<std::string> candidates(EditLine* el, const LineWords& lw) {
    const Session& s = session_of(el);
    LiveNames names = fetch_names(s.config->socket, s.config->name_timeout, live_kind(lw.done));
    std::vector<std::string> c = complete(lw.done, lw.partial, names);
    if (lw.done.empty())
        for (const char* w : {"help", "exit", "quit"})
            if (std::string_view(w).substr(0, lw.partial.size()) == lw.partial)
                c.emplace_back(w);
    // `help` takes command words.
    if (!lw.done.empty() && lw.done.front() == "help") {
        std::vector<std::string> rest(lw.done.begin() + 1, lw.done.end());
        c = rest.size() < 2 ? complete(rest, lw.partial) : std::vector<std::string>{};
    }
    return c;
}

/* TAB: complete the word under the cursor as far as it is unambiguous; list
 * the candidates when it cannot go further. */
unsigned char on_tab(EditLine* el, int) {
    std::string_view text = before_cursor(el);
    // Inside quotes (a devargs string) there is nothing to complete.
    if (std::count(text.begin(), text.end(), '"') % 2 != 0)
        return CC_REFRESH_BEEP;
    LineWords lw = split_for_completion(text);
    std::vector<std::string> c = candidates(el, lw);
    if (c.empty())
        return CC_REFRESH_BEEP;
    if (c.size() == 1) {
        std::string rest = c.front().substr(lw.partial.size()) + " ";
        el_insertstr(el, rest.c_str());
        return CC_REFRESH;
    }
    std::string prefix = common_prefix(c);
    if (prefix.size() > lw.partial.size()) {
        el_insertstr(el, prefix.substr(lw.partial.size()).c_str());
        return CC_REFRESH;
    }
    std::fputs("\n", stdout);
    print_columns(c);
    return CC_REDISPLAY;
}

/* ?: the usage of the commands the words typed so far can become, and what
 * may come next; the line stays as it was. A ? inside quotes is a ?. */
unsigned char on_help(EditLine* el, int) {
    std::string_view text = before_cursor(el);
    if (std::count(text.begin(), text.end(), '"') % 2 != 0) {
        el_insertstr(el, "?");
        return CC_REFRESH;
    }
    LineWords lw = split_for_completion(text);
    std::string out = help_for(lw.done, lw.partial);
    if (lw.done.size() >= 2 && !out.empty()) {
        std::vector<std::string> next = candidates(el, lw);
        if (!next.empty()) {
            out += "next:";
            for (const auto& w : next)
                out += " " + w;
            out += "\n";
        }
    }
    if (out.empty())
        out = "no command starts with these words; type help\n";
    std::fputs(("\n" + out).c_str(), stdout);
    return CC_REDISPLAY;
}

const char* prompt_text(EditLine*) {
    return "fp6> ";
}

std::string history_path() {
    const char* home = std::getenv("HOME");
    return home != nullptr && *home != '\0' ? std::string(home) + "/.fp6ctl_history" : "";
}

/* `help [WORDS]`. */
void print_help(const std::vector<std::string>& words) {
    std::vector<std::string> rest(words.begin() + 1, words.end());
    std::string out = help_for(rest);
    if (rest.empty())
        out = "Commands:\n" + out + "At this prompt:\n" + kPromptHelp;
    else if (out.empty())
        out = "no command starts with these words; type help\n";
    std::fputs(out.c_str(), stdout);
}

}  // namespace

LiveNames fetch_names(const std::string& socket, std::chrono::milliseconds timeout, LiveKind kind) {
    LiveNames names;
    if (kind == LiveKind::kNone)
        return names;
    auto client = Client::connect(socket, timeout);
    if (!client.ok())
        return names;
    if (kind == LiveKind::kPort) {
        if (auto data = client->call(make_request("port.show")); data.ok())
            names.ports = port_names(*data);
    } else if (auto data = client->call(make_request("addr.show")); data.ok()) {
        names.addresses = address_names(*data);
    }
    return names;
}

int run_prompt(const PromptConfig& config) {
    Session session{&config};
    EditLine* el = el_init("fp6ctl", stdin, stdout, stderr);
    if (el == nullptr) {
        std::cerr << "fp6ctl: cannot start the line editor\n";
        return 1;
    }
    HistEvent ev;
    History* hist = history_init();
    history(hist, &ev, H_SETSIZE, 1000);
    history(hist, &ev, H_SETUNIQUE, 1);
    std::string hist_file = history_path();
    if (!hist_file.empty())
        history(hist, &ev, H_LOAD, hist_file.c_str());  // absent on first use

    el_set(el, EL_CLIENTDATA, &session);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt_text);
    el_set(el, EL_HIST, history, hist);
    el_set(el, EL_SIGNAL, 1);
    el_set(el, EL_ADDFN, "fp6-complete", "complete the word under the cursor", on_tab);
    el_set(el, EL_ADDFN, "fp6-help", "help on the words typed so far", on_help);
    el_set(el, EL_BIND, "^I", "fp6-complete", nullptr);
    el_set(el, EL_BIND, "?", "fp6-help", nullptr);
    el_source(el, nullptr);  // the user's ~/.editrc, if any

    int rc = 0;
    for (;;) {
        int n = 0;
        const char* raw = el_gets(el, &n);
        if (raw == nullptr || n <= 0) {
            std::fputs("\n", stdout);
            break;
        }
        std::string line(raw, size_t(n));
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
            line.pop_back();
        std::vector<std::string> words = split_words(line);
        if (words.empty())
            continue;
        history(hist, &ev, H_ENTER, line.c_str());
        if (!hist_file.empty())
            history(hist, &ev, H_SAVE, hist_file.c_str());
        if (words.front() == "exit" || words.front() == "quit")
            break;
        if (words.front() == "help") {
            print_help(words);
            continue;
        }
        rc = config.run_line(line);
        std::fflush(stdout);
    }
    history_end(hist);
    el_end(el);
    return rc;
}

}  // namespace fp6::ctl
