/* The control socket: a unix stream socket speaking the protocol of
 * control/api/protocol.h. Runs on the control thread's event loop; each
 * request is executed to completion before the next is read. */
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "control/api/protocol.h"
#include "control/loop.h"
#include "control/router.h"

namespace fp6 {

class ControlServer {
  public:
    ControlServer(EventLoop& loop, Router& router) : loop_(loop), router_(router) {}
    ~ControlServer();

    /* Creates the socket at `path` with mode 0660 (group `group` when not
     * empty). Creates the directory (0755) when missing, and refuses one that
     * group or others can write, where another user could swap the socket. */
    absl::Status listen(const std::string& path, const std::string& group);

  private:
    struct Conn {
        LineFramer framer{kMaxRequest};
    };
    void on_accept();
    void on_readable(int fd);
    void close_conn(int fd);
    bool write_all(int fd, const std::string& bytes);
    bool answer(int fd, const std::string& line);

    EventLoop& loop_;
    Router& router_;
    int listen_fd_ = -1;
    std::string path_;
    std::unordered_map<int, std::unique_ptr<Conn>> conns_;
};

}  // namespace fp6
