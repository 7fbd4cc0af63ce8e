#include "control/api/grammar.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "control/api/protocol.h"

namespace fp6 {

using nlohmann::json;

namespace {

/* A word and the other spellings accepted for it. */
struct Word {
    std::string_view name;
    std::vector<std::string_view> aliases;
};

const std::vector<Word>& object_words() {
    static const std::vector<Word> t = {
        {"port", {}},      {"addr", {"address", "a"}},
        {"route", {"ro"}}, {"neigh", {"neighbor", "neighbour"}},
        {"stats", {}},     {"policy", {"addrlabel"}},
        {"config", {}},    {"show", {}},
    };
    return t;
}

const std::vector<Word>& verb_words() {
    static const std::vector<Word> t = {
        {"show", {"list", "ls"}},
        {"del", {"delete"}},
    };
    return t;
}

/* The canonical spelling of w in table, or w itself if no entry knows it. */
std::string_view canonical(const std::vector<Word>& table, std::string_view w) {
    for (const auto& e : table) {
        if (e.name == w || std::find(e.aliases.begin(), e.aliases.end(), w) != e.aliases.end())
            return e.name;
    }
    return w;
}

ArgSpec pos(std::string_view key, std::string_view meta, bool required = true) {
    return {ArgRole::kPositional, key, {}, meta, required};
}
ArgSpec str(std::string_view word, std::string_view key, std::string_view meta,
            bool required = false) {
    return {ArgRole::kString, key, {word}, meta, required};
}
ArgSpec num(std::string_view word, std::string_view key, std::string_view meta = "N") {
    return {ArgRole::kNumber, key, {word}, meta, false};
}
ArgSpec flag(std::string_view word, std::string_view key) {
    return {ArgRole::kFlag, key, {word}, {}, false};
}
ArgSpec choice(std::string_view key, std::vector<std::string_view> words) {
    return {ArgRole::kChoice, key, std::move(words), {}, false};
}

ArgSpec route_type() {
    return choice("type", {"unicast", "blackhole", "unreachable", "prohibit", "reject"});
}

/* route add, append and replace: one path in the words, or several as
 * nexthop groups (ECMP). */
CommandSpec route_change(std::string_view verb, std::string_view cmd) {
    CommandSpec c{
        "route",
        verb,
        cmd,
        {route_type(), pos("dst", "PREFIX"), str("via", "gateway", "GW"), str("dev", "dev", "NAME"),
         num("weight", "weight"), num("metric", "metric"), str("src", "prefsrc", "ADDR"),
         flag("recursive", "recursive"), flag("pending", "pending")}};
    c.group_word = "nexthop";
    c.group_key = "nexthops";
    c.group_args = {str("via", "gateway", "GW"), str("dev", "dev", "NAME"),
                    num("weight", "weight")};
    return c;
}

std::vector<CommandSpec> build_table() {
    return {
        {"port",
         "add",
         "port.add",
         {pos("ifname", "NAME"), str("devargs", "devargs", "DEVARGS", true), num("mtu", "mtu"),
          flag("no-linklocal", "no_linklocal")},
         true},
        {"port",
         "set",
         "port.set",
         {pos("ifname", "NAME"),
          choice("state", {"up", "down"}),
          num("mtu", "mtu"),
          num("dad-transmits", "dad_transmits"),
          num("retrans-timer", "retrans_timer", "MS"),
          str("strict-source", "strict_source", "on|off"),
          num("icmp-rate", "icmp_rate"),
          num("icmp-burst", "icmp_burst"),
          num("icmp-hop-limit", "icmp_hop_limit"),
          num("base-reachable", "base_reachable", "MS"),
          num("neigh-max", "neigh_max"),
          str("ra", "ra", "on|off"),
          num("interval", "ra_interval", "S"),
          num("lifetime", "ra_lifetime", "S"),
          str("ra-prefix", "ra_prefix", "PREFIX"),
          flag("no-onlink", "no_onlink"),
          flag("no-autonomous", "no_autonomous"),
          num("valid_lft", "valid_lft", "S"),
          num("preferred_lft", "preferred_lft", "S"),
          str("redirects", "redirects", "on|off"),
          str("host-if", "host_if", "on|off|IFNAME")},
         true,
         "nothing to set"},
        {"port", "del", "port.del", {pos("ifname", "NAME")}, true},
        {"port", "show", "port.show", {pos("ifname", "NAME", false)}, true},
        {"addr",
         "add",
         "addr.add",
         {pos("local", "ADDR/PLEN"), str("dev", "dev", "NAME", true),
          flag("preferred-source", "preferred_source"), flag("temporary", "temporary"),
          flag("autoconf", "autoconf"), str("preferred_lft", "preferred_lft", "S|forever"),
          str("valid_lft", "valid_lft", "S|forever")}},
        {"addr", "del", "addr.del", {pos("local", "ADDR/PLEN"), str("dev", "dev", "NAME", true)}},
        {"addr", "show", "addr.show", {str("dev", "dev", "NAME")}},
        route_change("add", "route.add"),
        route_change("append", "route.append"),
        route_change("replace", "route.replace"),
        {"route",
         "del",
         "route.del",
         {route_type(), pos("dst", "PREFIX"), str("via", "gateway", "GW"),
          str("dev", "dev", "NAME"), num("metric", "metric")}},
        {"route", "flush", "route.flush", {}},
        {"route", "load", "route.load", {pos("file", "FILE")}},
        {"route",
         "show",
         "route.show",
         {pos("dst", "PREFIX", false), str("match", "match", "ADDR")}},
        {"route",
         "get",
         "route.get",
         {pos("dst", "ADDR"), str("from", "from", "ADDR"), str("oif", "oif", "NAME")}},
        {"neigh",
         "add",
         "neigh.add",
         {pos("dst", "ADDR"), str("lladdr", "lladdr", "MAC", true), str("dev", "dev", "NAME", true),
          flag("router", "router")}},
        {"neigh", "del", "neigh.del", {pos("dst", "ADDR"), str("dev", "dev", "NAME", true)}},
        {"neigh", "show", "neigh.show", {str("dev", "dev", "NAME")}},
        {"neigh", "flush", "neigh.flush", {str("dev", "dev", "NAME", true)}},
        {"stats", "show", "stats.show", {}},
        {"stats", "reset", "stats.reset", {}},
        {"policy", "show", "policy.show", {}},
        {"policy",
         "add",
         "policy.add",
         {pos("prefix", "PREFIX"), num("precedence", "precedence"), num("label", "label")}},
        {"policy", "del", "policy.del", {pos("prefix", "PREFIX")}},
        {"config", "show", "config.show", {}},
        {"config", "save", "config.save", {pos("file", "FILE", false)}},
        {"show", "running-config", "config.show", {}},
    };
}

absl::Status bad(std::string msg) {
    return absl::InvalidArgumentError(std::move(msg));
}

std::string quote_word(std::string_view w) {
    return fmt::format("\"{}\"", w);
}

/* "expected one of: a, b, c" for a list of words. */
std::string one_of(const std::vector<std::string_view>& words) {
    return fmt::format("expected one of: {}", fmt::join(words, ", "));
}

std::vector<std::string_view> object_names() {
    std::vector<std::string_view> v;
    for (const auto& o : object_words())
        v.push_back(o.name);
    return v;
}

std::vector<std::string_view> verbs_of(std::string_view object) {
    std::vector<std::string_view> v;
    for (const auto& c : command_table())
        if (c.object == object)
            v.push_back(c.verb);
    return v;
}

const CommandSpec* find_command(std::string_view object, std::string_view verb) {
    for (const auto& c : command_table())
        if (c.object == object && c.verb == verb)
            return &c;
    return nullptr;
}

std::string usage_part(const ArgSpec& a) {
    std::string s;
    switch (a.role) {
        case ArgRole::kPositional:
            s = std::string(a.meta);
            break;
        case ArgRole::kString:
        case ArgRole::kNumber:
            s = fmt::format("{} {}", a.words.front(), a.meta);
            break;
        case ArgRole::kFlag:
            s = std::string(a.words.front());
            break;
        case ArgRole::kChoice:
            s = fmt::format("{}", fmt::join(a.words, "|"));
            break;
    }
    return a.required ? s : fmt::format("[{}]", s);
}

/* Parses a decimal number in 0..UINT32_MAX. */
absl::StatusOr<uint64_t> parse_number(std::string_view keyword, std::string_view w) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v, 10);
    if (w.empty() || ec == std::errc::invalid_argument || end != w.data() + w.size())
        return bad(fmt::format("{} expects a number, got {}", quote_word(keyword), quote_word(w)));
    if (ec == std::errc::result_out_of_range || v > std::numeric_limits<uint32_t>::max())
        return bad(fmt::format("{} expects a number up to {}, got {}", quote_word(keyword),
                               std::numeric_limits<uint32_t>::max(), quote_word(w)));
    return v;
}

/* Walks the words after the verb and fills "args". */
class ArgParser {
  public:
    ArgParser(const CommandSpec& spec, const std::vector<std::string>& words, size_t first)
        : spec_(spec), words_(words), i_(first) {}

    absl::StatusOr<json> run() {
        if (spec_.name_first && i_ < words_.size()) {
            if (auto st = take_positional(words_[i_++]); !st.ok())
                return st;
        }
        while (i_ < words_.size()) {
            if (auto st = step(); !st.ok())
                return st;
        }
        if (auto st = check_complete(); !st.ok())
            return st;
        return std::move(args_);
    }

  private:
    const ArgSpec* keyword_for(std::string_view w) const {
        for (const auto& a : spec_.args) {
            if (a.role == ArgRole::kPositional)
                continue;
            if (std::find(a.words.begin(), a.words.end(), w) != a.words.end())
                return &a;
        }
        return nullptr;
    }

    absl::Status step() {
        const std::string& w = words_[i_++];
        const ArgSpec* a = keyword_for(w);
        if (a == nullptr)
            return take_positional(w);
        if (a->role == ArgRole::kChoice)
            return take_choice(*a, w);
        if (args_.contains(a->key))
            return bad(fmt::format("{} given twice", quote_word(w)));
        if (a->role == ArgRole::kFlag) {
            args_[std::string(a->key)] = true;
            return absl::OkStatus();
        }
        if (i_ >= words_.size())
            return bad(fmt::format("missing value after {}", quote_word(w)));
        const std::string& value = words_[i_++];
        if (a->role == ArgRole::kString) {
            args_[std::string(a->key)] = value;
            return absl::OkStatus();
        }
        auto n = parse_number(w, value);
        if (!n.ok())
            return n.status();
        args_[std::string(a->key)] = *n;
        return absl::OkStatus();
    }

    absl::Status take_choice(const ArgSpec& a, const std::string& w) {
        auto prev = args_.find(a.key);
        if (prev != args_.end()) {
            const auto& p = prev->get_ref<const std::string&>();
            if (p == w)
                return bad(fmt::format("{} given twice", quote_word(w)));
            return bad(fmt::format("conflicting words {} and {}", quote_word(p), quote_word(w)));
        }
        args_[std::string(a.key)] = w;
        return absl::OkStatus();
    }

    absl::Status take_positional(const std::string& w) {
        for (const auto& a : spec_.args) {
            if (a.role == ArgRole::kPositional && !args_.contains(a.key)) {
                args_[std::string(a.key)] = w;
                return absl::OkStatus();
            }
        }
        std::vector<std::string_view> keywords;
        for (const auto& a : spec_.args)
            if (a.role != ArgRole::kPositional)
                keywords.insert(keywords.end(), a.words.begin(), a.words.end());
        if (keywords.empty())
            return bad(fmt::format("unexpected word {}; usage: {}", quote_word(w), usage(spec_)));
        return bad(fmt::format("unknown word {}; {}", quote_word(w), one_of(keywords)));
    }

    absl::Status check_complete() const {
        bool any_option = false;
        for (const auto& a : spec_.args) {
            bool given = args_.contains(a.key);
            if (a.role != ArgRole::kPositional)
                any_option = any_option || given;
            if (!a.required || given)
                continue;
            std::string what =
                a.role == ArgRole::kPositional ? std::string(a.meta) : quote_word(usage_part(a));
            return bad(fmt::format("missing {}; usage: {}", what, usage(spec_)));
        }
        if (!spec_.need_one.empty() && !any_option)
            return bad(fmt::format("{}; usage: {}", spec_.need_one, usage(spec_)));
        return absl::OkStatus();
    }

    const CommandSpec& spec_;
    const std::vector<std::string>& words_;
    size_t i_;
    json args_ = json::object();
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

struct Split {
    std::vector<std::string> words;
    bool unterminated = false;
};

/* Reads one word starting at line[i] (not a space); advances i past it. */
std::string read_word(std::string_view line, size_t& i, bool& unterminated) {
    std::string w;
    bool in_quote = false;
    for (; i < line.size(); i++) {
        char c = line[i];
        if (!in_quote && is_space(c))
            break;
        if (c == '"') {
            in_quote = !in_quote;
        } else if (in_quote && c == '\\' && i + 1 < line.size() &&
                   (line[i + 1] == '"' || line[i + 1] == '\\')) {
            w += line[++i];
        } else {
            w += c;
        }
    }
    unterminated = unterminated || in_quote;
    return w;
}

Split split_impl(std::string_view line) {
    Split s;
    size_t i = 0;
    for (;;) {
        while (i < line.size() && is_space(line[i]))
            i++;
        if (i >= line.size() || line[i] == '#')
            break;
        s.words.push_back(read_word(line, i, s.unterminated));
    }
    return s;
}

}  // namespace

const std::vector<CommandSpec>& command_table() {
    static const std::vector<CommandSpec> t = build_table();
    return t;
}

std::string usage(const CommandSpec& spec) {
    std::string s = fmt::format("{} {}", spec.object, spec.verb);
    for (const auto& a : spec.args)
        s += fmt::format(" {}", usage_part(a));
    if (!spec.group_word.empty()) {
        s += fmt::format(" [{}", spec.group_word);
        for (const auto& a : spec.group_args)
            s += fmt::format(" {}", usage_part(a));
        s += "]...";
    }
    return s;
}

std::string usage_text() {
    std::string s;
    for (const auto& c : command_table())
        s += usage(c) + "\n";
    return s;
}

std::string_view canonical_object(std::string_view w) {
    return canonical(object_words(), w);
}

std::string_view canonical_verb(std::string_view w) {
    return canonical(verb_words(), w);
}

bool is_known_command(std::string_view cmd) {
    const auto& t = command_table();
    return std::any_of(t.begin(), t.end(), [&](const CommandSpec& c) { return c.cmd == cmd; });
}

std::vector<std::string> split_words(std::string_view line) {
    return split_impl(line).words;
}

absl::StatusOr<json> parse_command(const std::vector<std::string>& words) {
    if (words.empty())
        return bad("missing command; " + one_of(object_names()));
    std::string_view object = canonical(object_words(), words[0]);
    auto verbs = verbs_of(object);
    if (verbs.empty())
        return bad(
            fmt::format("unknown word {}; {}", quote_word(words[0]), one_of(object_names())));
    if (words.size() < 2)
        return bad(fmt::format("missing word after {}; {}", quote_word(words[0]), one_of(verbs)));
    const CommandSpec* spec = find_command(object, canonical(verb_words(), words[1]));
    if (spec == nullptr)
        return bad(fmt::format("unknown word {}; {}", quote_word(words[1]), one_of(verbs)));
    // `port set NAME ra prefix P ...` reads as the keyword "ra-prefix P".
    std::vector<std::string> merged = words;
    for (size_t i = 0; i + 1 < merged.size(); i++) {
        if (spec->cmd == "port.set" && merged[i] == "ra" && merged[i + 1] == "prefix") {
            merged[i] = "ra-prefix";
            merged.erase(merged.begin() + long(i) + 1);
        }
    }
    // Repeated groups ("nexthop ...") are cut off and parsed one by one.
    std::vector<std::vector<std::string>> groups;
    if (!spec->group_word.empty()) {
        auto first = std::find(merged.begin() + 2, merged.end(), spec->group_word);
        for (auto it = first; it != merged.end();) {
            auto next = std::find(it + 1, merged.end(), spec->group_word);
            groups.emplace_back(it + 1, next);
            it = next;
        }
        merged.erase(first, merged.end());
    }
    auto args = ArgParser(*spec, merged, 2).run();
    if (!args.ok())
        return args.status();
    if (!groups.empty()) {
        CommandSpec group_spec{spec->object, spec->group_word, spec->cmd, spec->group_args};
        json list = json::array();
        for (const auto& g : groups) {
            if (g.empty())
                return bad(fmt::format("empty {} group", quote_word(spec->group_word)));
            auto one = ArgParser(group_spec, g, 0).run();
            if (!one.ok())
                return one.status();
            list.push_back(std::move(*one));
        }
        (*args)[std::string(spec->group_key)] = std::move(list);
    }
    return make_request(spec->cmd, std::move(*args));
}

absl::StatusOr<std::optional<json>> parse_line(std::string_view line) {
    Split s = split_impl(line);
    if (s.unterminated)
        return bad("unterminated quote");
    if (s.words.empty())
        return std::optional<json>();
    auto req = parse_command(s.words);
    if (!req.ok())
        return req.status();
    return std::optional<json>(std::move(*req));
}

}  // namespace fp6
