/* fp6ctl's interactive prompt (libedit): one command per line, `help [WORDS]`,
 * `?` for help on the words typed so far, tab completion of command words
 * and of live names fetched from fp6d, history in ~/.fp6ctl_history. */
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "tools/fp6ctl/complete.h"

namespace fp6::ctl {

/* The live names of `kind` from fp6d at socket (port.show or addr.show);
 * empty when kind is kNone or fp6d does not answer within timeout. */
LiveNames fetch_names(const std::string& socket, std::chrono::milliseconds timeout, LiveKind kind);

struct PromptConfig {
    std::string socket;                     /* fp6d's control socket, for live names */
    std::chrono::milliseconds name_timeout; /* bound on asking fp6d for names */
    /* Runs one command line (parse, send, print the answer or the error);
     * returns fp6ctl's exit code for it. */
    std::function<int(const std::string& line)> run_line;
};

/* Reads lines until end of input (Ctrl-D), `exit` or `quit`. Returns the exit
 * code of the last command run, 0 if none was. */
int run_prompt(const PromptConfig& config);

}  // namespace fp6::ctl
