/* The control socket: a unix stream socket speaking the protocol of
 * control/api/protocol.h. Runs on the control thread's event loop; each
 * request is executed to completion before the next is read, except a long
 * one: a listing streams a chunk per loop turn, and route load and route
 * flush run a slice per loop turn, sending progress lines between. */
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/api/protocol.h"
#include "control/loop.h"
#include "control/router.h"

namespace fp6 {

class ControlServer {
  public:
    /* Per-client limits. A request line is at most kMaxRequest bytes
     * (protocol.h): a longer one gets an error reply and the connection is
     * closed. At most kMaxClients connections are open at once; one more
     * gets an error reply and is closed. A connection that has sent part of
     * a request and nothing more for kPartialTimeoutMs is closed; an idle
     * connection between requests is kept (an interactive fp6ctl). A client
     * that does not read its replies is dropped after about a second. */
    static constexpr size_t kMaxClients = 256;
    static constexpr uint64_t kPartialTimeoutMs = 5000;

    ControlServer(EventLoop& loop, Router& router) : loop_(loop), router_(router) {}
    ~ControlServer();

    /* Creates the socket at `path` with mode 0660 (group `group` when not
     * empty). Creates the directory (0755) when missing, and refuses one that
     * group or others can write, where another user could swap the socket. */
    absl::Status listen(const std::string& path, const std::string& group);
    /* Serves on fd, a listening unix stream socket the service manager made
     * (socket activation: its path, mode and group are the manager's, and
     * fp6d neither changes nor removes it). InvalidArgument when fd is not
     * such a socket. Returns the socket's path, for the log. */
    absl::StatusOr<std::string> adopt(int fd);

  private:
    struct Conn {
        LineFramer framer{kMaxRequest};
        uint64_t last_read_ms = 0;  // CLOCK_MONOTONIC
        uint64_t id = 0;            // tells a reused fd from the connection it had
        /* A reply still being produced (Router::take_stream()): its chunks
         * go out one per event-loop turn, and the connection's next
         * requests wait until the last one. */
        std::function<std::optional<nlohmann::json>()> stream;
        /* A long operation of this connection is running (Router::take_job()):
         * its next requests wait until it has answered. */
        bool in_job = false;
    };
    /* A long operation and the connection waiting for it. The operation runs
     * to its end even when its client leaves (the summary is logged). */
    struct Job {
        Router::Job step;
        int fd;
        uint64_t conn_id;
    };
    /* Sends the next chunk of fd's stream and schedules the one after. */
    void pump(int fd, uint64_t id);
    /* Runs the next slice of job `id`, sends its progress or final reply. */
    void pump_job(uint64_t id);
    /* Answers the complete requests buffered on fd; false when fd closed. */
    bool drain(int fd);
    void on_accept();
    /* Closes the connections that have held a partial request too long. */
    void sweep();
    void on_readable(int fd);
    void close_conn(int fd);
    bool write_all(int fd, const std::string& bytes);
    bool answer(int fd, const std::string& line);

    EventLoop& loop_;
    Router& router_;
    int listen_fd_ = -1;
    int sweep_timer_ = -1;
    std::string path_;
    std::unordered_map<int, std::unique_ptr<Conn>> conns_;
    uint64_t next_conn_id_ = 1;
    std::unordered_map<uint64_t, Job> jobs_;
    uint64_t next_job_id_ = 1;
};

}  // namespace fp6
