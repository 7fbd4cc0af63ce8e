#include "control/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "common/log.h"

namespace fp6 {

namespace {

uint64_t mono_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

/* ---- the text format ---- */

using Labels = std::vector<std::pair<std::string, std::string>>;

/* A label value as the text format writes it: \, " and newline escaped. */
std::string escape_label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

/* A JSON key as part of a metric name: [a-zA-Z0-9_] kept, the rest "_". */
std::string name_part(const std::string& key) {
    std::string out = key;
    for (char& c : out)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
            c = '_';
    return out;
}

/* Metric families in the order they were first seen; every sample of a
 * family is written under its HELP and TYPE lines, as the format wants. */
class Exposition {
  public:
    void add(const std::string& name, const char* type, const std::string& help,
             const Labels& labels, uint64_t value) {
        auto [it, fresh] = index_.try_emplace(name, families_.size());
        if (fresh)
            families_.push_back({name, type, help, {}});
        std::string s = name;
        if (!labels.empty()) {
            s += '{';
            for (size_t i = 0; i < labels.size(); i++)
                s += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first,
                                 escape_label(labels[i].second));
            s += '}';
        }
        families_[it->second].samples.push_back(fmt::format("{} {}\n", s, value));
    }

    std::string str() const {
        std::string out;
        for (const Family& f : families_) {
            out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
            for (const std::string& s : f.samples)
                out += s;
        }
        return out;
    }

  private:
    struct Family {
        std::string name;
        const char* type;
        std::string help;
        std::vector<std::string> samples;
    };
    std::vector<Family> families_;
    std::map<std::string, size_t> index_;
};

bool is_count(const nlohmann::json& v) {
    return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

/* Every unsigned member of obj as a counter PREFIX_KEY_total with labels,
 * except the keys in skip. */
void counters_of(Exposition& e, const nlohmann::json& obj, const std::string& prefix,
                 const std::string& what, const Labels& labels,
                 const std::vector<std::string>& skip = {}) {
    if (!obj.is_object())
        return;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (!is_count(*it) || std::find(skip.begin(), skip.end(), it.key()) != skip.end())
            continue;
        e.add(fmt::format("{}_{}_total", prefix, name_part(it.key())), "counter",
              fmt::format("{} `{}` of stats show", what, it.key()), labels, it->get<uint64_t>());
    }
}

/* Every unsigned member of obj as a counter NAME{label=KEY}. */
void by_label(Exposition& e, const nlohmann::json& obj, const std::string& name, const char* type,
              const std::string& help, const char* label,
              const std::vector<std::string>& skip = {}) {
    if (!obj.is_object())
        return;
    for (auto it = obj.begin(); it != obj.end(); ++it)
        if (is_count(*it) && std::find(skip.begin(), skip.end(), it.key()) == skip.end())
            e.add(name, type, help, {{label, it.key()}}, it->get<uint64_t>());
}

std::string text_of(const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

void ports(Exposition& e, const nlohmann::json& list) {
    if (!list.is_array())
        return;
    for (const nlohmann::json& p : list) {
        const std::string port = text_of(p.value("ifname", nlohmann::json("?")));
        counters_of(e, p, "fp6_port", "Device counter", {{"port", port}});
        const nlohmann::json& q = p.value("queues", nlohmann::json::object());
        for (const char* dir : {"rx", "tx"}) {
            for (const nlohmann::json& c : q.value(dir, nlohmann::json::array())) {
                Labels l = {{"port", port},
                            {"queue", text_of(c.value("queue", nlohmann::json(0)))}};
                counters_of(e, c, fmt::format("fp6_queue_{}", dir),
                            fmt::format("Per-queue device counter ({}),", dir), l, {"queue"});
            }
        }
        const nlohmann::json& x = p.value("xstats", nlohmann::json::object());
        for (auto it = x.begin(); it != x.end(); ++it)
            if (is_count(*it))
                e.add("fp6_port_xstat", "untyped",
                      "The device's extended counters (rte_eth_xstats) by name",
                      {{"port", port}, {"name", it.key()}}, it->get<uint64_t>());
    }
}

}  // namespace

std::string prometheus_text(const nlohmann::json& s) {
    Exposition e;
    if (!s.is_object())
        return "";
    ports(e, s.value("ports", nlohmann::json::array()));
    for (const nlohmann::json& w : s.value("workers", nlohmann::json::array()))
        counters_of(e, w, "fp6_worker", "Worker counter",
                    {{"worker", text_of(w.value("worker", nlohmann::json(0)))}},
                    {"worker", "lcore"});
    by_label(e, s.value("drops", nlohmann::json::object()), "fp6_drops_total", "counter",
             "Packets dropped by the workers, by reason", "reason");
    const nlohmann::json& ctl = s.value("control", nlohmann::json::object());
    counters_of(e, ctl, "fp6_control", "Control-thread counter", {});
    by_label(e, ctl.value("nd_drops", nlohmann::json::object()), "fp6_nd_drops_total", "counter",
             "Neighbour discovery messages dropped, by reason", "reason");
    by_label(e, ctl.value("resolve_drops", nlohmann::json::object()), "fp6_resolve_drops_total",
             "counter", "Packets waiting for neighbour resolution dropped, by reason", "reason");
    counters_of(e, s.value("reassembly", nlohmann::json::object()), "fp6_reassembly",
                "Reassembly counter", {});
    const nlohmann::json& host = s.value("host", nlohmann::json::object());
    counters_of(e, host, "fp6_host", "Host path counter", {});
    by_label(e, host.value("drops", nlohmann::json::object()), "fp6_host_drops_total", "counter",
             "Host path packets dropped, by reason", "reason");
    for (const nlohmann::json& p : host.value("ports", nlohmann::json::array()))
        counters_of(e, p, "fp6_host_port", "Host path counter of one port,",
                    {{"port", text_of(p.value("ifname", nlohmann::json("?")))}});
    by_label(e, s.value("neighbors", nlohmann::json::object()), "fp6_neighbors", "gauge",
             "Neighbour cache entries, by state", "state", {"total"});
    const nlohmann::json& routes = s.value("routes", nlohmann::json::object());
    for (auto it = routes.begin(); it != routes.end(); ++it)
        if (is_count(*it))
            e.add(fmt::format("fp6_rib_{}", name_part(it.key())), "gauge",
                  fmt::format("RIB/FIB count `{}` of stats show", it.key()), {},
                  it->get<uint64_t>());
    if (auto hz = s.find("tsc_hz"); hz != s.end() && is_count(*hz))
        e.add("fp6_tsc_hz", "gauge", "TSC frequency: divides the workers' cycle counters", {},
              hz->get<uint64_t>());
    return e.str();
}

absl::StatusOr<MetricsAddr> parse_metrics_addr(const std::string& text) {
    MetricsAddr a;
    std::string host = text, port;
    auto bad = [&](const std::string& why) {
        return absl::InvalidArgumentError(fmt::format("--metrics \"{}\": {}", text, why));
    };
    if (!text.empty() && text[0] == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos)
            return bad("missing ]");
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':')
                return bad("expected :PORT after ]");
            port = text.substr(close + 2);
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        host = text.substr(0, text.find(':'));
        port = text.substr(text.find(':') + 1);
    } else if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
        host.clear();
        port = text;
    }
    if (host.empty() || host == "localhost")
        host = "127.0.0.1";
    in6_addr a6;
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1)
        return bad(fmt::format("\"{}\" is not a numeric address", host));
    a.host = host;
    if (!port.empty()) {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
            std::stoul(port) == 0 || std::stoul(port) > 65535)
            return bad(fmt::format("port \"{}\" is not 1..65535", port));
        a.port = uint16_t(std::stoul(port));
    }
    return a;
}

/* ---- the server ---- */

MetricsServer::~MetricsServer() {
    if (sweep_timer_ >= 0)
        loop_.remove(sweep_timer_);
    for (auto& [fd, c] : conns_) {
        loop_.remove(fd);
        close(fd);
    }
    if (listen_fd_ >= 0) {
        loop_.remove(listen_fd_);
        close(listen_fd_);
    }
}

absl::Status MetricsServer::listen(const MetricsAddr& addr) {
    sockaddr_storage ss{};
    socklen_t len;
    int family;
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, addr.host.c_str(), &s4->sin_addr) == 1) {
        family = s4->sin_family = AF_INET;
        s4->sin_port = htons(addr.port);
        len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, addr.host.c_str(), &s6->sin6_addr) == 1) {
        family = s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(addr.port);
        len = sizeof(*s6);
    } else {
        return absl::InvalidArgumentError(fmt::format("metrics: bad address {}", addr.host));
    }
    const std::string where = family == AF_INET6 ? fmt::format("[{}]:{}", addr.host, addr.port)
                                                 : fmt::format("{}:{}", addr.host, addr.port);
    listen_fd_ = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0)
        return absl::InternalError(fmt::format("metrics: socket: {}", strerror(errno)));
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(listen_fd_, int(kMaxClients)) != 0)
        return absl::InternalError(
            fmt::format("metrics: cannot listen on {}: {}", where, strerror(errno)));
    loop_.add_fd(listen_fd_, [this] { on_accept(); });
    sweep_timer_ = loop_.add_timer(1000, [this] { sweep(); });
    FP6_LOG(INFO, Control, "metrics at http://{}/metrics", where);
    return absl::OkStatus();
}

void MetricsServer::on_accept() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        if (conns_.size() >= kMaxClients) {
            close(fd);
            continue;
        }
        conns_[fd] = Conn{{}, mono_ms()};
        loop_.add_fd(fd, [this, fd] { on_readable(fd); });
    }
}

void MetricsServer::close_conn(int fd) {
    loop_.remove(fd);
    conns_.erase(fd);
    close(fd);
}

void MetricsServer::sweep() {
    uint64_t now = mono_ms();
    std::vector<int> stale;
    for (const auto& [fd, c] : conns_)
        if (now - c.since_ms >= kTimeoutMs)
            stale.push_back(fd);
    for (int fd : stale)
        close_conn(fd);
}

void MetricsServer::on_readable(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_conn(fd);
        return;
    }
    if (n < 0)
        return;
    std::string& in = it->second.in;
    in.append(buf, size_t(n));
    // Only the head matters: a GET has no body.
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos)
        end = in.find("\n\n");
    if (end == std::string::npos) {
        if (in.size() > kMaxRequest)
            close_conn(fd);
        return;
    }
    std::string request = in.substr(0, end);
    respond(fd, request);
    close_conn(fd);
}

void MetricsServer::respond(int fd, const std::string& request) {
    std::string line = request.substr(0, request.find_first_of("\r\n"));
    std::string method = line.substr(0, line.find(' '));
    std::string rest = line.size() > method.size() ? line.substr(method.size() + 1) : "";
    std::string path = rest.substr(0, rest.find(' '));
    int code = 200;
    const char* reason = "OK";
    std::string body;
    std::string type = "text/plain; version=0.0.4; charset=utf-8";
    if (method != "GET" && method != "HEAD") {
        code = 405;
        reason = "Method Not Allowed";
        body = "only GET /metrics\n";
    } else if (path != "/metrics" && path.rfind("/metrics?", 0) != 0) {
        code = 404;
        reason = "Not Found";
        body = "fp6d serves /metrics\n";
    } else {
        absl::StatusOr<nlohmann::json> stats = router_.execute(Request{"stats.show", {}});
        if (!stats.ok()) {
            code = 500;
            reason = "Internal Server Error";
            body = std::string(stats.status().message()) + "\n";
        } else {
            body = prometheus_text(*stats);
        }
    }
    if (code != 200)
        type = "text/plain; charset=utf-8";
    std::string out = fmt::format(
        "HTTP/1.0 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        code, reason, type, body.size());
    if (method != "HEAD")
        out += body;
    // Bounded: a scraper that does not read is dropped after a second.
    (void)send_all_bounded(fd, out);
}

}  // namespace fp6
