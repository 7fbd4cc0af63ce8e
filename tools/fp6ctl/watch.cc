#include "tools/fp6ctl/watch.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "control/api/protocol.h"
#include "tools/fp6ctl/render.h"

namespace fp6::ctl {

using nlohmann::json;

namespace {

uint64_t u64(const json& obj, const char* key) {
    if (!obj.is_object())
        return 0;
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

/* now - before, or now alone when the counter went down (reset between). */
uint64_t delta(uint64_t before, uint64_t now) {
    return now >= before ? now - before : now;
}

/* The element of array `arr` whose `key` equals `value`; null when none. */
const json& find_by(const json& arr, const char* key, const json& value) {
    static const json kNull;
    if (!arr.is_array())
        return kNull;
    for (const json& e : arr)
        if (e.is_object() && e.contains(key) && e[key] == value)
            return e;
    return kNull;
}

const json& field(const json& obj, const char* key) {
    static const json kNull;
    if (!obj.is_object())
        return kNull;
    auto it = obj.find(key);
    return it == obj.end() ? kNull : *it;
}

double pct(uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * double(part) / double(whole);
}

json queue_rates(const json& prev, const json& cur, double dt) {
    json out = json::array();
    if (!cur.is_array())
        return out;
    for (const json& q : cur) {
        const json& p = find_by(prev, "queue", field(q, "queue"));
        out.push_back({{"queue", field(q, "queue")},
                       {"pps", double(delta(u64(p, "packets"), u64(q, "packets"))) / dt},
                       {"bps", 8.0 * double(delta(u64(p, "bytes"), u64(q, "bytes"))) / dt}});
    }
    return out;
}

json port_rates(const json& prev, const json& cur, double dt) {
    json out = json::array();
    if (!cur.is_array())
        return out;
    for (const json& c : cur) {
        const json& p = find_by(prev, "ifname", field(c, "ifname"));
        auto d = [&](const char* key) { return delta(u64(p, key), u64(c, key)); };
        uint64_t rx = d("rx_packets");
        // Packets the port lost before any worker saw them.
        uint64_t lost = d("rx_missed") + d("rx_nombuf") + d("rx_errors");
        const json& qc = field(c, "queues");
        const json& qp = field(p, "queues");
        out.push_back({{"ifname", field(c, "ifname")},
                       {"rx_pps", double(rx) / dt},
                       {"tx_pps", double(d("tx_packets")) / dt},
                       {"rx_bps", 8.0 * double(d("rx_bytes")) / dt},
                       {"tx_bps", 8.0 * double(d("tx_bytes")) / dt},
                       {"rx_dropped_pps", double(lost) / dt},
                       {"rx_drop_pct", pct(lost, rx + lost)},
                       {"queues",
                        {{"rx", queue_rates(field(qp, "rx"), field(qc, "rx"), dt)},
                         {"tx", queue_rates(field(qp, "tx"), field(qc, "tx"), dt)}}}});
    }
    return out;
}

json worker_rates(const json& prev, const json& cur, double dt) {
    json out = json::array();
    if (!cur.is_array())
        return out;
    for (const json& c : cur) {
        const json& p = find_by(prev, "worker", field(c, "worker"));
        auto d = [&](const char* key) { return delta(u64(p, key), u64(c, key)); };
        uint64_t rx = d("rx_packets"), dropped = d("drops");
        uint64_t busy = d("busy_cycles"), idle = d("idle_cycles"), bursts = d("rx_bursts");
        out.push_back({{"worker", field(c, "worker")},
                       {"lcore", field(c, "lcore")},
                       {"rx_pps", double(rx) / dt},
                       {"forwarded_pps", double(d("forwarded")) / dt},
                       {"dropped_pps", double(dropped) / dt},
                       {"drop_pct", pct(dropped, rx)},
                       {"busy_pct", pct(busy, busy + idle)},
                       {"pkts_per_burst", bursts == 0 ? 0.0 : double(rx) / double(bursts)}});
    }
    return out;
}

/* 1234567 -> "1.23M": rates are read at a glance. */
std::string si(double v) {
    const char* units[] = {"", "k", "M", "G", "T"};
    size_t u = 0;
    while (v >= 1000 && u + 1 < std::size(units)) {
        v /= 1000;
        u++;
    }
    return u == 0 ? fmt::format("{:.0f}", v) : fmt::format("{:.2f}{}", v, units[u]);
}

std::string num(const json& obj, const char* key) {
    const json& v = field(obj, key);
    return v.is_number() ? si(v.get<double>()) : "-";
}

/* One decimal: percentages and burst sizes. */
std::string percent(const json& obj, const char* key) {
    const json& v = field(obj, key);
    return v.is_number() ? fmt::format("{:.1f}", v.get<double>()) : "-";
}

std::string text(const json& v) {
    if (v.is_string())
        return v.get<std::string>();
    return v.is_null() ? "-" : v.dump();
}

volatile sig_atomic_t g_stop = 0;

void on_signal(int) {
    g_stop = 1;
}

}  // namespace

std::optional<absl::StatusOr<WatchOptions>> parse_watch(const std::vector<std::string>& words) {
    if (words.empty() || words[0] != "stats")
        return std::nullopt;
    bool watch = false;
    for (const std::string& w : words)
        watch = watch || w == "--watch";
    if (!watch)
        return std::nullopt;
    WatchOptions o;
    auto bad = [](std::string msg) -> absl::StatusOr<WatchOptions> {
        return absl::InvalidArgumentError(std::move(msg));
    };
    auto number = [](const std::string& w, double* out) {
        char* end = nullptr;
        *out = std::strtod(w.c_str(), &end);
        return !w.empty() && end == w.c_str() + w.size();
    };
    for (size_t i = 1; i < words.size(); i++) {
        const std::string& w = words[i];
        if (w == "--watch") {
            // SECONDS is optional: take the next word only if it is a number.
            double v;
            if (i + 1 < words.size() && number(words[i + 1], &v)) {
                if (!(v >= 0.1 && v <= 3600))
                    return bad(
                        fmt::format("\"--watch\" expects SECONDS from 0.1 to 3600, got "
                                    "\"{}\"",
                                    words[i + 1]));
                o.interval_s = v;
                i++;
            }
        } else if (w == "--count") {
            double v;
            if (i + 1 >= words.size() || !number(words[i + 1], &v) || v < 1 || v > 1e9 ||
                v != double(unsigned(v)))
                return bad(fmt::format("\"--count\" expects a number of intervals, got \"{}\"",
                                       i + 1 < words.size() ? words[i + 1] : ""));
            o.count = unsigned(v);
            i++;
        } else if (w == "show" && i == 1) {
            // `stats show --watch` reads as well as `stats --watch`.
        } else {
            return bad(
                fmt::format("unknown word \"{}\"; usage: stats --watch [SECONDS] "
                            "[--count N]",
                            w));
        }
    }
    return absl::StatusOr<WatchOptions>(o);
}

json watch_rates(const json& prev, const json& cur, double dt_s) {
    double dt = dt_s > 0 ? dt_s : 1;
    json drops = json::object();
    const json& dc = field(cur, "drops");
    const json& dp = field(prev, "drops");
    if (dc.is_object())
        for (auto it = dc.begin(); it != dc.end(); ++it)
            drops[it.key()] = double(delta(u64(dp, it.key().c_str()),
                                           it->is_number_unsigned() ? it->get<uint64_t>() : 0)) /
                              dt;
    return {{"interval_s", dt},
            {"ports", port_rates(field(prev, "ports"), field(cur, "ports"), dt)},
            {"workers", worker_rates(field(prev, "workers"), field(cur, "workers"), dt)},
            {"drops", drops}};
}

std::string render_watch(const json& r) {
    Table ports({"PORT", "RX PPS", "RX BPS", "TX PPS", "TX BPS", "RX LOST/S", "LOST %"},
                {false, true, true, true, true, true, true});
    Table queues({"PORT", "DIR", "QUEUE", "PPS", "BPS"}, {false, false, true, true, true});
    for (const json& p : field(r, "ports")) {
        ports.add({text(field(p, "ifname")), num(p, "rx_pps"), num(p, "rx_bps"), num(p, "tx_pps"),
                   num(p, "tx_bps"), num(p, "rx_dropped_pps"), percent(p, "rx_drop_pct")});
        for (const char* dir : {"rx", "tx"})
            for (const json& q : field(field(p, "queues"), dir))
                queues.add({text(field(p, "ifname")), dir, text(field(q, "queue")), num(q, "pps"),
                            num(q, "bps")});
    }
    Table workers(
        {"WORKER", "LCORE", "RX PPS", "FWD PPS", "DROP PPS", "DROP %", "BUSY %", "PKTS/BURST"},
        {true, true, true, true, true, true, true, true});
    for (const json& w : field(r, "workers"))
        workers.add({text(field(w, "worker")), text(field(w, "lcore")), num(w, "rx_pps"),
                     num(w, "forwarded_pps"), num(w, "dropped_pps"), percent(w, "drop_pct"),
                     percent(w, "busy_pct"), percent(w, "pkts_per_burst")});
    Table drops({"DROP REASON", "PER SECOND"}, {false, true});
    const json& d = field(r, "drops");
    if (d.is_object())
        for (auto it = d.begin(); it != d.end(); ++it)
            if (it->is_number() && it->get<double>() > 0)
                drops.add({it.key(), si(it->get<double>())});
    std::string out = fmt::format("every {:.1f} s\n\n", field(r, "interval_s").is_number()
                                                            ? field(r, "interval_s").get<double>()
                                                            : 0.0);
    for (const std::string& t : {ports.str(), queues.str(), workers.str(), drops.str()})
        if (!t.empty())
            out += t + "\n";
    return out;
}

int run_watch(const std::string& socket, double timeout_s, bool as_json, const WatchOptions& w) {
    auto client = Client::connect(socket, std::chrono::milliseconds(int64_t(timeout_s * 1000)));
    auto fail = [&](const absl::Status& st) {
        std::cerr << "fp6ctl: " << st.message() << "\n";
        if (as_json)
            std::cout << json{{"error", std::string(st.message())}}.dump() << "\n";
        return absl::IsFailedPrecondition(st) ? 2 : 3;
    };
    if (!client.ok())
        return fail(client.status());
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    const bool tty = !as_json && isatty(STDOUT_FILENO);
    using clock = std::chrono::steady_clock;
    auto prev = client->call(make_request("stats.show"));
    if (!prev.ok())
        return fail(prev.status());
    auto t_prev = clock::now();
    for (unsigned n = 0; !g_stop && (w.count == 0 || n < w.count); n++) {
        auto next = t_prev + std::chrono::microseconds(int64_t(w.interval_s * 1e6));
        while (!g_stop && clock::now() < next)
            std::this_thread::sleep_for(
                std::min<clock::duration>(next - clock::now(), std::chrono::milliseconds(100)));
        if (g_stop)
            break;
        auto cur = client->call(make_request("stats.show"));
        if (!cur.ok())
            return fail(cur.status());
        auto t_cur = clock::now();
        json rates =
            watch_rates(*prev, *cur, std::chrono::duration<double>(t_cur - t_prev).count());
        rates["time"] =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        if (as_json)
            std::cout << rates.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        else
            std::cout << (tty ? "\x1b[H\x1b[2J" : (n == 0 ? "" : "\n")) << render_watch(rates);
        std::cout.flush();
        prev = std::move(cur);
        t_prev = t_cur;
    }
    return 0;
}

}  // namespace fp6::ctl
