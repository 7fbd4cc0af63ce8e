#include "tools/fp6ctl/render.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <absl/strings/str_join.h>
#include <fmt/format.h>

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

/* A counter field: text(), or human_count() of it with opt.human. */
std::string count(const json& obj, const char* key, const RenderOptions& opt) {
    if (opt.human && obj.is_object()) {
        auto it = obj.find(key);
        if (it != obj.end() && it->is_number_unsigned())
            return human_count(it->get<uint64_t>());
    }
    return text(obj, key);
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

std::string port_stats_table(const json& ports, const RenderOptions& opt) {
    static const char* keys[] = {"rx_packets", "rx_bytes",  "tx_packets", "tx_bytes",
                                 "rx_missed",  "rx_nombuf", "rx_errors",  "tx_errors"};
    Table t({"PORT", "RX-PACKETS", "RX-BYTES", "TX-PACKETS", "TX-BYTES", "RX-MISSED", "RX-NOMBUF",
             "RX-ERRORS", "TX-ERRORS"},
            {false, true, true, true, true, true, true, true, true});
    for (const auto& p : array_or_empty(ports)) {
        std::vector<std::string> row{text(p, "ifname")};
        for (const char* k : keys)
            row.push_back(count(p, k, opt));
        t.add(std::move(row));
    }
    return t.str();
}

std::string worker_table(const json& workers, const RenderOptions& opt) {
    Table t({"LCORE", "RX-PACKETS", "FORWARDED", "PUNTED", "DROPS"},
            {true, true, true, true, true});
    for (const auto& w : array_or_empty(workers))
        t.add({text(w, "lcore"), count(w, "rx_packets", opt), count(w, "forwarded", opt),
               count(w, "punted", opt), count(w, "drops", opt)});
    return t.str();
}

std::string drop_table(const json& drops, const RenderOptions& opt) {
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
        t.add({name, opt.human ? human_count(count) : std::to_string(count)});
    return t.str();
}

}  // namespace

std::string human_count(uint64_t n) {
    if (n < 1000)
        return std::to_string(n);
    static const char kSuffix[] = "kMGTPE";
    double v = double(n) / 1000;
    for (size_t unit = 0;; unit++, v /= 1000) {
        // Three significant digits as printed: 9.996k is 10.0k, 999.6k is 1.00M.
        int decimals = 2;
        double shown = std::round(v * 100) / 100;
        if (shown >= 10) {
            decimals = 1;
            shown = std::round(v * 10) / 10;
        }
        if (shown >= 100) {
            decimals = 0;
            shown = std::round(v);
        }
        if (shown < 1000 || unit + 2 == sizeof(kSuffix))
            return fmt::format("{:.{}f}{}", shown, decimals, kSuffix[unit]);
    }
}

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
    for (const auto& r : array_or_empty(rows)) {
        std::string gw = text(r, "gateway"), dev = text(r, "dev");
        if (field(r, "nexthops").is_array()) {
            // ECMP: every path, "GW*WEIGHT" where the weight is not 1.
            gw.clear();
            dev.clear();
            for (const auto& h : field(r, "nexthops")) {
                std::string w = text(h, "weight");
                gw += (gw.empty() ? "" : ",") + text(h, "gateway") + (w == "1" ? "" : "*" + w);
                dev += (dev.empty() ? "" : ",") + text(h, "dev");
            }
        }
        t.add({text(r, "dst"), text(r, "type"), gw, dev, text(r, "protocol"), text(r, "metric"),
               words(r, "flags"), text(r, "prefsrc")});
    }
    return t.str();
}

std::string render_neighs(const json& data) {
    Table t({"ADDRESS", "DEV", "LLADDR", "STATE", "FLAGS"}, {});
    for (const auto& n : array_or_empty(data))
        t.add({text(n, "dst"), text(n, "dev"), text(n, "lladdr"), words(n, "state"),
               flag_words(n, {"router"})});
    return t.str();
}

std::string render_stats(const json& data, const RenderOptions& opt) {
    std::vector<std::string> parts;
    for (std::string s :
         {port_stats_table(field(data, "ports"), opt), worker_table(field(data, "workers"), opt),
          drop_table(field(data, "drops"), opt)})
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

std::string render_progress(std::string_view cmd, const json& p) {
    auto num = [&](const char* key) -> uint64_t {
        const json& v = field(p, key);
        return v.is_number_integer() && v.get<int64_t>() >= 0 ? v.get<uint64_t>() : 0;
    };
    const uint64_t ms = num("ms");
    const bool load = cmd == "route.load";
    const uint64_t done = load ? num("lines") : num("removed");
    // The share done: bytes of the file for a load (its line count is not
    // known ahead), routes for a flush.
    const uint64_t part = load ? num("bytes") : done;
    const uint64_t whole = load ? num("bytes_total") : num("total");
    std::string out = load ? fmt::format("route load: {} lines", done)
                           : fmt::format("route flush: {} of {} routes removed", done, whole);
    if (load && whole > 0)
        out += fmt::format(", {}%", std::min<uint64_t>(100, part * 100 / whole));
    if (load && num("refused") > 0)
        out += fmt::format(", {} refused", num("refused"));
    if (ms > 0 && done > 0)
        out += fmt::format(", {}/s", human_count(done * 1000 / ms));
    if (ms > 0 && part > 0 && whole > part) {
        const double left_s = double(ms) * double(whole - part) / double(part) / 1000;
        out += fmt::format(", about {:.{}f} s left", left_s, left_s < 10 ? 1 : 0);
    }
    return out;
}

std::string render(std::string_view cmd, const json& data, const RenderOptions& opt) {
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
    if (cmd == "route.load") {
        std::string out = fmt::format("{} routes applied from {} lines in {} ms",
                                      text(data, "applied"), text(data, "lines"), text(data, "ms"));
        if (const json& bad = field(data, "first_refused"); bad.is_object())
            out += fmt::format("; {} refused, the first at line {}: {}: {}", text(data, "refused"),
                               text(bad, "line"), text(bad, "text"), text(bad, "error"));
        return out + "\n";
    }
    if (cmd == "route.flush")
        return fmt::format("{} routes removed\n", text(data, "removed"));
    if (cmd == "stats.show")
        return render_stats(data, opt);
    if (cmd == "policy.show")
        return render_policy(data);
    if (data.is_string()) {
        // Text that already ends its last line (show running-config) as is.
        std::string t = data.get<std::string>();
        return !t.empty() && t.back() == '\n' ? t : t + "\n";
    }
    return dump(data, 2) + "\n";
}

}  // namespace fp6::ctl
