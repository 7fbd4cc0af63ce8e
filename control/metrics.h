/* The Prometheus endpoint of fp6d (`--metrics ADDR:PORT`): a small HTTP/1.x
 * server on the control thread's event loop that answers `GET /metrics`
 * with the counters of `stats show` in the Prometheus text format (version
 * 0.0.4). No thread of its own: each scrape is answered from the loop, like
 * a control request, so it reads the router's state without any locking.
 * docs/operations.md lists the metrics. */
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "control/loop.h"
#include "control/router.h"

namespace fp6 {

/* The port fp6d listens on when --metrics gives none. */
inline constexpr uint16_t kMetricsDefaultPort = 9474;

struct MetricsAddr {
    std::string host;  // numeric IPv4 or IPv6 address
    uint16_t port = kMetricsDefaultPort;
};

/* Parses --metrics' value: "HOST:PORT", "[IPV6]:PORT", ":PORT" or "PORT"
 * (127.0.0.1), "HOST" or "[IPV6]" (port 9474). HOST is a numeric address
 * or "localhost" (127.0.0.1). InvalidArgument naming what is wrong. */
absl::StatusOr<MetricsAddr> parse_metrics_addr(const std::string& text);

/* The `stats show` JSON as Prometheus text: one family per counter, with
 * HELP and TYPE lines, `fp6_` names, `_total` counters and labels port,
 * queue, worker and reason. Keys it does not know are left out. */
std::string prometheus_text(const nlohmann::json& stats);

class MetricsServer {
  public:
    /* A request is at most this many bytes; a client has this long to send
     * it. At most kMaxClients scrapes are in progress at once. */
    static constexpr size_t kMaxRequest = 8192;
    static constexpr uint64_t kTimeoutMs = 5000;
    static constexpr size_t kMaxClients = 32;

    MetricsServer(EventLoop& loop, Router& router) : loop_(loop), router_(router) {}
    ~MetricsServer();

    /* Listens on addr (TCP). Errors name the address and the reason. */
    absl::Status listen(const MetricsAddr& addr);

  private:
    struct Conn {
        std::string in;
        uint64_t since_ms = 0;
    };
    void on_accept();
    void on_readable(int fd);
    void respond(int fd, const std::string& request);
    void close_conn(int fd);
    void sweep();

    EventLoop& loop_;
    Router& router_;
    int listen_fd_ = -1;
    int sweep_timer_ = -1;
    std::unordered_map<int, Conn> conns_;
};

}  // namespace fp6
