/* The command grammar shared by fp6ctl (command line, -f files) and fp6d (its
 * startup config): iproute2-style words in, a protocol request out.
 *
 *   {"route", "add", "2001:db8::/32", "via", "fe80::1", "dev", "p0"}
 *   -> {"v":1,"cmd":"route.add","args":{"dst":"2001:db8::/32","gateway":"fe80::1","dev":"p0"}}
 *
 * The grammar checks structure only: keywords, arity, numbers being numbers.
 * Values (addresses, prefixes, MACs, names) pass through as typed and are
 * validated by the daemon. One table describes every command; parsing, usage
 * text and (later) completion all read it. */
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

namespace fp6 {

/* How one argument of a command is written. */
enum class ArgRole {
    kPositional, /* a bare value, e.g. PREFIX; filled in table order */
    kString,     /* a keyword and a string value: "dev NAME" */
    kNumber,     /* a keyword and a decimal number (0..4294967295): "mtu N" */
    kFlag,       /* a keyword alone, stored as true: "no-linklocal" */
    kChoice,     /* one word out of `words`, stored as that word: "up|down" */
};

struct ArgSpec {
    ArgRole role;
    std::string_view key;                /* key in the request's "args" */
    std::vector<std::string_view> words; /* keyword (first is canonical) or choices */
    std::string_view meta;               /* placeholder of the value in usage: NAME, N */
    bool required = false;
};

struct CommandSpec {
    std::string_view object;   /* canonical object word: "route" */
    std::string_view verb;     /* canonical verb word: "add" */
    std::string_view cmd;      /* protocol command: "route.add" */
    std::vector<ArgSpec> args; /* in usage order */
    /* The first positional is always the first word after the verb, even if it
     * spells a keyword (port names). */
    bool name_first = false;
    /* When not empty: at least one non-positional argument must be given, and
     * this is the error otherwise ("nothing to set"). */
    std::string_view need_one;
    /* Repeated groups after the arguments, e.g. route add's
     * "[nexthop via GW [dev NAME] [weight N]]...": each group starts with the
     * word `group_word`, takes `group_args`, and lands as an object in the
     * array args[group_key]. */
    std::string_view group_word = {};
    std::string_view group_key = {};
    std::vector<ArgSpec> group_args = {};
};

/* Every command, grouped by object, in help order. */
const std::vector<CommandSpec>& command_table();

/* The usage line of one command: "addr add ADDR/PLEN dev NAME". */
std::string usage(const CommandSpec& spec);

/* The usage lines of all commands, one per line, each ending in "\n". */
std::string usage_text();

/* The canonical spelling of an object or verb word ("address" -> "addr",
 * "ls" -> "show"); w itself when it is no alias. For completion and help. */
std::string_view canonical_object(std::string_view w);
std::string_view canonical_verb(std::string_view w);

/* True if cmd is the protocol command of some table entry ("route.add"). */
bool is_known_command(std::string_view cmd);

/* Splits a line into words: whitespace separates, a word starting with "#"
 * starts a comment to the end of the line, double quotes group (and may sit
 * inside a word: devargs="a b" is one word), and inside quotes \" and \\
 * escape. An unterminated quote runs to the end of the line. */
std::vector<std::string> split_words(std::string_view line);

/* Turns words into a request {"v","cmd","args"}. InvalidArgument whose message
 * names the offending word, e.g.
 *   unknown word "rout"; expected one of: port, addr, route, neigh, stats
 *   missing value after "dev"
 *   "mtu" expects a number, got "abc"
 *   missing NAME; usage: port del NAME */
absl::StatusOr<nlohmann::json> parse_command(const std::vector<std::string>& words);

/* One line of a command file: split_words then parse_command. nullopt for a
 * blank or comment-only line; InvalidArgument also for an unterminated quote. */
absl::StatusOr<std::optional<nlohmann::json>> parse_line(std::string_view line);

}  // namespace fp6
