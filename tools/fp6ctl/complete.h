/* Completion and context help for fp6ctl's prompt and for bash, computed from
 * the command grammar (control/api/grammar.h command_table()). Everything
 * here is a pure function of the words typed so far and of the live names
 * passed in; asking fp6d for those names is the caller's business. */
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fp6::ctl {

/* The kind of live name that can come next; tells the caller whether (and
 * what) to ask fp6d before calling complete(). */
enum class LiveKind {
    kNone,
    kPort,    /* a port name: "dev NAME", "port set NAME" */
    kAddress, /* one of our addresses without length: "from ADDR", "src ADDR" */
    kPrefix,  /* one of our addresses with its length: "addr del ADDR/PLEN" */
};

/* Names fetched from fp6d; any of them may be empty. */
struct LiveNames {
    std::vector<std::string> ports;     /* "p0" */
    std::vector<std::string> addresses; /* "2001:db8::1/64" */
};

/* The kind of live name that may follow the complete words `done`. */
LiveKind live_kind(const std::vector<std::string>& done);

/* The words that may follow `done` and start with `partial`, sorted and
 * without duplicates: object words first, then verbs, then the keywords not
 * yet given, keyword values (on/off, forever) and live names where the
 * grammar expects them. Aliases typed in `done` are understood ("address
 * ls"); only canonical spellings are offered. Empty when nothing fits, e.g.
 * after an unknown object word or where the next word is a free value. */
std::vector<std::string> complete(const std::vector<std::string>& done, std::string_view partial,
                                  const LiveNames& live = {});

/* The usage lines (each ending in "\n") of the commands that the words typed
 * so far can still become: every command for no words, an object's commands
 * after its word (or after a partial one: "po" -> the port commands), one
 * command once its verb is known. "" when no command matches. */
std::string help_for(const std::vector<std::string>& done, std::string_view partial = {});

/* Port names out of port.show data ([{"ifname":...}]). */
std::vector<std::string> port_names(const nlohmann::json& port_show);

/* "ADDR/PLEN" of every address out of addr.show data
 * ([{"addr_info":[{"local","prefixlen"}]}]). */
std::vector<std::string> address_names(const nlohmann::json& addr_show);

/* The words of a line before the cursor, split as fp6ctl splits command
 * lines, and the word under the cursor ("" when the line ends in a blank). */
struct LineWords {
    std::vector<std::string> done;
    std::string partial;
};
LineWords split_for_completion(std::string_view line);

/* The longest common prefix of words ("" for none). */
std::string common_prefix(const std::vector<std::string>& words);

}  // namespace fp6::ctl
