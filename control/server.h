/* The control socket: a unix stream socket speaking the protocol of
 * control/api/protocol.h. Runs on the control thread's event loop; each
 * request is executed to completion before the next is read. */
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
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

  private:
    struct Conn {
        LineFramer framer{kMaxRequest};
        uint64_t last_read_ms = 0;  // CLOCK_MONOTONIC
        uint64_t id = 0;            // tells a reused fd from the connection it had
        /* A reply still being produced (Router::take_stream()): its chunks
         * go out one per event-loop turn, and the connection's next
         * requests wait until the last one. */
        std::function<std::optional<nlohmann::json>()> stream;
    };
    /* Sends the next chunk of fd's stream and schedules the one after. */
    void pump(int fd, uint64_t id);
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
};

}  // namespace fp6
