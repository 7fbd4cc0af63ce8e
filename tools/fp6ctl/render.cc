#include "tools/fp6ctl/render.h"

#include <algorithm>
#include <utility>

#include <absl/strings/str_join.h>

namespace fp6::ctl {

using nlohmann::json;

void Table::add(std::vector<std::string> row) {
    row.resize(header_.size());
    rows_.push_back(std::move(row));
}

std::string Table::str() const {
    if (rows_.empty())
        return "";
    std::vector<size_t> width(header_.size());
    for (size_t c = 0; c < header_.size(); c++) {
        width[c] = header_[c].size();
        for (const auto& r : rows_)
            width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (size_t c = 0; c < cells.size(); c++) {
            std::string pad(width[c] - cells[c].size(), ' ');
            bool right = c < numeric_.size() && numeric_[c];
            s += right ? pad + cells[c] : cells[c] + pad;
            s += c + 1 < cells.size() ? "  " : "";
        }
        while (!s.empty() && s.back() == ' ')
            s.pop_back();
        return s + "\n";
    };
    std::string out = line(header_);
    for (const auto& r : rows_)
        out += line(r);
    return out;
}

namespace {

std::string dump(const json& j, int indent = -1) {
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

/* The field as text: strings as they are, numbers and booleans written out,
 * "-" when absent, empty or of another type. */
std::string text(const json& obj, const char* key) {
    if (!obj.is_object())
        return "-";
    auto it = obj.find(key);
    if (it == obj.end())
        return "-";
    if (it->is_string())
        return it->get_ref<const std::string&>().empty() ? "-" : it->get<std::string>();
    if (it->is_number() || it->is_boolean())
        return dump(*it);
    return "-";
}

bool is_true(const json& obj, const char* key) {
    if (!obj.is_object())
        return false;
    auto it = obj.find(key);
    return it != obj.end() && it->is_boolean() && it->get<bool>();
}

/* An array of strings joined by ","; "-" when empty or not an array. */
std::string words(const json& obj, const char* key) {
    std::vector<std::string> w;
    if (obj.is_object()) {
        auto it = obj.find(key);
        if (it != obj.end() && it->is_array())
            for (const auto& e : *it)
                if (e.is_string())
                    w.push_back(e.get<std::string>());
    }
    return w.empty() ? "-" : absl::StrJoin(w, ",");
}

/* The names of the boolean fields that are true, joined by ","; "-" if none. */
std::string flag_words(const json& obj, std::initializer_list<const char*> keys) {
    std::vector<std::string> w;
    for (const char* k : keys)
        if (is_true(obj, k))
            w.emplace_back(k);
    return w.empty() ? "-" : absl::StrJoin(w, ",");
}

const json& array_or_empty(const json& data) {
    static const json empty = json::array();
    return data.is_array() ? data : empty;
}

const json& field(const json& obj, const char* key) {
    static const json null;
    if (!obj.is_object())
        return null;
    auto it = obj.find(key);
    return it == obj.end() ? null : *it;
}

std::string port_stats_table(const json& ports) {
    static const char* keys[] = {"rx_packets", "rx_bytes",  "tx_packets", "tx_bytes",
                                 "rx_missed",  "rx_nombuf", "rx_errors",  "tx_errors"};
    Table t({"PORT", "RX-PACKETS", "RX-BYTES", "TX-PACKETS", "TX-BYTES", "RX-MISSED", "RX-NOMBUF",
             "RX-ERRORS", "TX-ERRORS"},
            {false, true, true, true, true, true, true, true, true});
    for (const auto& p : array_or_empty(ports)) {
        std::vector<std::string> row{text(p, "ifname")};
        for (const char* k : keys)
            row.push_back(text(p, k));
        t.add(std::move(row));
    }
    return t.str();
}

std::string worker_table(const json& workers) {
    Table t({"LCORE", "RX-PACKETS", "FORWARDED", "PUNTED", "DROPS"},
            {true, true, true, true, true});
    for (const auto& w : array_or_empty(workers))
        t.add({text(w, "lcore"), text(w, "rx_packets"), text(w, "forwarded"), text(w, "punted"),
               text(w, "drops")});
    return t.str();
}

std::string drop_table(const json& drops) {
    if (!drops.is_object())
        return "";
    std::vector<std::pair<std::string, uint64_t>> v;
    for (const auto& [name, count] : drops.items())
        v.emplace_back(name, count.is_number_unsigned() ? count.get<uint64_t>() : 0);
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        if (a.second != b.second)
            return a.second > b.second;
        return a.first < b.first;
    });
    Table t({"DROP-REASON", "PACKETS"}, {false, true});
    for (const auto& [name, count] : v)
        t.add({name, std::to_string(count)});
    return t.str();
}

}  // namespace

std::string render_ports(const json& data) {
    Table t({"NAME", "PORT", "ADMIN", "LINK", "MTU", "ADDRESS", "DEVARGS"},
            {false, true, false, false, true, false, false});
    for (const auto& p : array_or_empty(data))
        t.add({text(p, "ifname"), text(p, "port_id"), text(p, "admin"), text(p, "link"),
               text(p, "mtu"), text(p, "address"), text(p, "devargs")});
    return t.str();
}

std::string render_addrs(const json& data) {
    Table t({"DEV", "ADDRESS", "SCOPE", "FLAGS"}, {});
    for (const auto& link : array_or_empty(data)) {
        for (const auto& a : array_or_empty(field(link, "addr_info"))) {
            std::string addr = text(a, "local");
            if (addr.find('/') == std::string::npos && field(a, "prefixlen").is_number())
                addr += '/' + text(a, "prefixlen");
            t.add({text(link, "ifname"), addr, text(a, "scope"),
                   flag_words(a, {"tentative", "dadfailed", "deprecated", "preferred_source",
                                  "temporary", "autoconf"})});
        }
    }
    return t.str();
}

std::string render_routes(const json& data) {
    json rows = data.is_object() ? json::array({data}) : data;
    bool prefsrc = false;
    for (const auto& r : array_or_empty(rows))
        prefsrc = prefsrc || text(r, "prefsrc") != "-";
    std::vector<std::string> header{"DESTINATION", "TYPE",   "GATEWAY", "DEV",
                                    "PROTO",       "METRIC", "FLAGS"};
    if (prefsrc)
        header.emplace_back("PREFSRC");
    Table t(header, {false, false, false, false, false, true, false, false});
    for (const auto& r : array_or_empty(rows))
        t.add({text(r, "dst"), text(r, "type"), text(r, "gateway"), text(r, "dev"),
               text(r, "protocol"), text(r, "metric"), words(r, "flags"), text(r, "prefsrc")});
    return t.str();
}

std::string render_neighs(const json& data) {
    Table t({"ADDRESS", "DEV", "LLADDR", "STATE", "FLAGS"}, {});
    for (const auto& n : array_or_empty(data))
        t.add({text(n, "dst"), text(n, "dev"), text(n, "lladdr"), words(n, "state"),
               flag_words(n, {"router"})});
    return t.str();
}

std::string render_stats(const json& data) {
    std::vector<std::string> parts;
    for (std::string s : {port_stats_table(field(data, "ports")),
                          worker_table(field(data, "workers")), drop_table(field(data, "drops"))})
        if (!s.empty())
            parts.push_back(std::move(s));
    return absl::StrJoin(parts, "\n");
}

std::string render_policy(const json& data) {
    Table t({"PREFIX", "PRECEDENCE", "LABEL"}, {false, true, true});
    for (const auto& e : array_or_empty(data))
        t.add({text(e, "prefix"), text(e, "precedence"), text(e, "label")});
    return t.str();
}

std::string render(std::string_view cmd, const json& data) {
    if (data.is_null() || ((data.is_array() || data.is_object()) && data.empty()))
        return "";
    if (cmd == "port.show")
        return render_ports(data);
    if (cmd == "addr.show")
        return render_addrs(data);
    if (cmd == "route.show" || cmd == "route.get")
        return render_routes(data);
    if (cmd == "neigh.show")
        return render_neighs(data);
    if (cmd == "stats.show")
        return render_stats(data);
    if (cmd == "policy.show")
        return render_policy(data);
    if (data.is_string())
        return data.get<std::string>() + "\n";
    return dump(data, 2) + "\n";
}

}  // namespace fp6::ctl
