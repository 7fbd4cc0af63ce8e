#include "tools/fp6ctl/complete.h"

#include <algorithm>
#include <set>

#include "control/api/grammar.h"

namespace fp6::ctl {

using nlohmann::json;

namespace {

/* What may come next in a command: fixed words and one kind of live name. */
struct Next {
    std::vector<std::string> words;
    LiveKind live = LiveKind::kNone;
    bool value_pending = false;      /* the next word is a keyword's value */
    bool positional_missing = false; /* a required bare value is still to come */
};

std::vector<std::string_view> objects() {
    std::vector<std::string_view> v;
    for (const auto& c : command_table())
        if (std::find(v.begin(), v.end(), c.object) == v.end())
            v.push_back(c.object);
    return v;
}

const CommandSpec* find_spec(std::string_view object, std::string_view verb) {
    for (const auto& c : command_table())
        if (c.object == object && c.verb == verb)
            return &c;
    return nullptr;
}

const ArgSpec* keyword_for(const CommandSpec& spec, std::string_view w) {
    for (const auto& a : spec.args)
        if (a.role != ArgRole::kPositional &&
            std::find(a.words.begin(), a.words.end(), w) != a.words.end())
            return &a;
    return nullptr;
}

/* The live names a value of `meta` can be, for a command `cmd`. */
LiveKind live_for(std::string_view cmd, std::string_view meta) {
    if (meta == "NAME")
        return cmd == "port.add" ? LiveKind::kNone : LiveKind::kPort;
    if (meta == "ADDR/PLEN")
        return cmd == "addr.del" ? LiveKind::kPrefix : LiveKind::kNone;
    return LiveKind::kNone;
}

/* The value words of a keyword: the lower-case alternatives of its
 * placeholder ("on|off" -> on, off; "S|forever" -> forever), and "prefix"
 * after "ra" (`port set NAME ra prefix P`). */
Next value_words(const CommandSpec& spec, const ArgSpec& a) {
    Next n;
    std::string_view meta = a.meta;
    while (!meta.empty()) {
        size_t bar = meta.find('|');
        std::string_view alt = meta.substr(0, bar);
        if (!alt.empty() &&
            std::none_of(alt.begin(), alt.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
            n.words.emplace_back(alt);
        meta = bar == std::string_view::npos ? std::string_view() : meta.substr(bar + 1);
    }
    if (spec.cmd == "port.set" && a.key == "ra")
        n.words.emplace_back("prefix");
    if (a.key == "from" || a.key == "prefsrc")
        n.live = LiveKind::kAddress;
    else
        n.live = live_for(spec.cmd, a.meta);
    return n;
}

/* Replays the words after the verb the way the parser reads them and says
 * what may come next. Words the parser would refuse are read leniently (an
 * unknown word fills a positional), so completion still helps on a line with
 * a typo earlier on. */
Next after_verb(const CommandSpec& spec, const std::vector<std::string>& done) {
    std::set<std::string_view> given;
    size_t positionals = 0;
    const ArgSpec* pending = nullptr;
    for (size_t i = 2; i < done.size(); i++) {
        std::string_view w = done[i];
        if (pending != nullptr) {
            // `ra prefix P` is the keyword ra-prefix with the value P.
            if (spec.cmd == "port.set" && pending->key == "ra" && w == "prefix") {
                given.erase("ra");
                pending = keyword_for(spec, "ra-prefix");
                if (pending != nullptr)
                    given.insert(pending->key);
                continue;
            }
            pending = nullptr;
            continue;
        }
        const ArgSpec* a = (spec.name_first && i == 2) ? nullptr : keyword_for(spec, w);
        if (a == nullptr) {
            positionals++;
            continue;
        }
        given.insert(a->key);
        if (a->role == ArgRole::kString || a->role == ArgRole::kNumber)
            pending = a;
    }
    if (pending != nullptr) {
        Next v = value_words(spec, *pending);
        v.value_pending = true;
        return v;
    }

    std::vector<const ArgSpec*> free_positionals;
    for (const auto& a : spec.args)
        if (a.role == ArgRole::kPositional)
            free_positionals.push_back(&a);
    const ArgSpec* next_pos =
        positionals < free_positionals.size() ? free_positionals[positionals] : nullptr;

    Next n;
    if (next_pos != nullptr)
        n.live = live_for(spec.cmd, next_pos->meta);
    for (size_t k = positionals; k < free_positionals.size(); k++)
        n.positional_missing = n.positional_missing || free_positionals[k]->required;
    // A port command's NAME comes first, before any keyword.
    if (spec.name_first && positionals == 0 && next_pos != nullptr)
        return n;
    for (const auto& a : spec.args) {
        if (a.role == ArgRole::kPositional || given.count(a.key) != 0)
            continue;
        for (std::string_view w : a.words)
            if (w != "ra-prefix")  // offered as "ra prefix"
                n.words.emplace_back(w);
    }
    return n;
}

/* After the verb of a command with repeated groups ("nexthop via GW ..."):
 * the command's own words up to the first group word, then those of the group
 * being typed. The group word is offered where the parser takes it: once the
 * command's required bare values are given, and within a group once it has a
 * word, never where a keyword's value is due. */
Next with_groups(const CommandSpec& spec, const std::vector<std::string>& done) {
    auto first = std::find(done.begin() + 2, done.end(), spec.group_word);
    if (first == done.end()) {
        Next n = after_verb(spec, done);
        if (!n.value_pending && !n.positional_missing)
            n.words.emplace_back(spec.group_word);
        return n;
    }
    auto last = first;  // the group word that starts the group being typed
    for (auto it = first; it != done.end(); ++it)
        if (*it == spec.group_word)
            last = it;
    CommandSpec group{spec.object, spec.group_word, spec.cmd, spec.group_args};
    std::vector<std::string> words{std::string(spec.object), std::string(spec.verb)};
    words.insert(words.end(), last + 1, done.end());
    Next n = after_verb(group, words);
    if (words.size() > 2 && !n.value_pending)
        n.words.emplace_back(spec.group_word);
    return n;
}

Next next_words(const std::vector<std::string>& done) {
    Next n;
    if (done.empty()) {
        for (auto o : objects())
            n.words.emplace_back(o);
        return n;
    }
    std::string_view object = canonical_object(done[0]);
    if (done.size() == 1) {
        for (const auto& c : command_table())
            if (c.object == object)
                n.words.emplace_back(c.verb);
        return n;
    }
    const CommandSpec* spec = find_spec(object, canonical_verb(done[1]));
    if (spec == nullptr)
        return n;
    if (!spec->group_word.empty())
        return with_groups(*spec, done);
    return after_verb(*spec, done);
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

LiveKind live_kind(const std::vector<std::string>& done) {
    return next_words(done).live;
}

std::vector<std::string> complete(const std::vector<std::string>& done, std::string_view partial,
                                  const LiveNames& live) {
    Next n = next_words(done);
    switch (n.live) {
        case LiveKind::kNone:
            break;
        case LiveKind::kPort:
            n.words.insert(n.words.end(), live.ports.begin(), live.ports.end());
            break;
        case LiveKind::kPrefix:
            n.words.insert(n.words.end(), live.addresses.begin(), live.addresses.end());
            break;
        case LiveKind::kAddress:
            for (const auto& a : live.addresses)
                n.words.push_back(a.substr(0, a.find('/')));
            break;
    }
    std::vector<std::string> out;
    for (auto& w : n.words)
        if (starts_with(w, partial))
            out.push_back(std::move(w));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string help_for(const std::vector<std::string>& done, std::string_view partial) {
    std::string object = done.empty() ? std::string() : std::string(canonical_object(done[0]));
    std::string verb = done.size() < 2 ? std::string() : std::string(canonical_verb(done[1]));
    std::string out;
    for (const auto& c : command_table()) {
        bool match;
        if (done.empty())
            match = starts_with(c.object, partial);
        else if (done.size() == 1)
            match = c.object == object && starts_with(c.verb, partial);
        else
            match = c.object == object && c.verb == verb;
        if (match)
            out += usage(c) + "\n";
    }
    return out;
}

std::vector<std::string> port_names(const json& port_show) {
    std::vector<std::string> v;
    if (!port_show.is_array())
        return v;
    for (const auto& p : port_show) {
        if (!p.is_object())
            continue;
        auto it = p.find("ifname");
        if (it != p.end() && it->is_string())
            v.push_back(it->get<std::string>());
    }
    return v;
}

std::vector<std::string> address_names(const json& addr_show) {
    std::vector<std::string> v;
    if (!addr_show.is_array())
        return v;
    for (const auto& link : addr_show) {
        if (!link.is_object() || !link.contains("addr_info") || !link["addr_info"].is_array())
            continue;
        for (const auto& a : link["addr_info"]) {
            if (!a.is_object() || !a.contains("local") || !a["local"].is_string())
                continue;
            std::string s = a["local"].get<std::string>();
            if (s.find('/') == std::string::npos && a.contains("prefixlen") &&
                a["prefixlen"].is_number_unsigned())
                s += "/" + std::to_string(a["prefixlen"].get<unsigned>());
            v.push_back(std::move(s));
        }
    }
    return v;
}

LineWords split_for_completion(std::string_view line) {
    LineWords lw;
    lw.done = split_words(line);
    bool ends_in_blank = line.empty() || line.back() == ' ' || line.back() == '\t';
    if (!ends_in_blank && !lw.done.empty()) {
        lw.partial = lw.done.back();
        lw.done.pop_back();
    }
    return lw;
}

std::string common_prefix(const std::vector<std::string>& words) {
    if (words.empty())
        return "";
    std::string p = words.front();
    for (const auto& w : words) {
        size_t n = 0;
        while (n < p.size() && n < w.size() && p[n] == w[n])
            n++;
        p.resize(n);
    }
    return p;
}

}  // namespace fp6::ctl
