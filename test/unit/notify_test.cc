/* The sd_notify(3) datagram, received the way systemd receives it: on a unix
 * datagram socket, at a path or an abstract name. */
#include "control/notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace fp6 {
namespace {

/* A bound datagram socket standing in for systemd's notify socket. */
class Listener {
  public:
    explicit Listener(const std::string& name) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, name.data(), name.size());
        if (name[0] == '@')
            sa.sun_path[0] = '\0';
        else
            unlink(name.c_str());
        auto len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size());
        bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0;
        path_ = name[0] == '/' ? name : "";
    }
    ~Listener() {
        close(fd_);
        if (!path_.empty())
            unlink(path_.c_str());
    }
    bool bound() const { return bound_; }
    /* The next datagram, "" when none is waiting. */
    std::string receive() {
        char buf[512];
        ssize_t n = recv(fd_, buf, sizeof(buf), 0);
        return n < 0 ? "" : std::string(buf, size_t(n));
    }

  private:
    int fd_ = -1;
    bool bound_ = false;
    std::string path_;
};

TEST(Notify, SendsTheStateAsOneDatagramToAPath) {
    std::string path = "/tmp/cl-fp6-notify-test-" + std::to_string(getpid());
    Listener l(path);
    ASSERT_TRUE(l.bound());
    ASSERT_TRUE(notify_socket_send(path, "READY=1\nSTATUS=ready\nMAINPID=42").ok());
    EXPECT_EQ(l.receive(), "READY=1\nSTATUS=ready\nMAINPID=42");
    ASSERT_TRUE(notify_socket_send(path, "STOPPING=1").ok());
    EXPECT_EQ(l.receive(), "STOPPING=1");
    EXPECT_EQ(l.receive(), "");
}

TEST(Notify, AtSignNamesAnAbstractSocket) {
    std::string name = "@cl-fp6-notify-test-" + std::to_string(getpid());
    Listener l(name);
    ASSERT_TRUE(l.bound());
    ASSERT_TRUE(notify_socket_send(name, "READY=1").ok());
    EXPECT_EQ(l.receive(), "READY=1");
}

TEST(Notify, NoSocketMeansNothingToDo) {
    EXPECT_TRUE(notify_socket_send("", "READY=1").ok());
    // Neither a path nor an abstract name: not systemd's, ignored.
    EXPECT_TRUE(notify_socket_send("relative/name", "READY=1").ok());
}

TEST(Notify, NobodyListeningIsUnavailable) {
    std::string path = "/tmp/cl-fp6-notify-none-" + std::to_string(getpid());
    absl::Status st = notify_socket_send(path, "READY=1");
    EXPECT_TRUE(absl::IsUnavailable(st)) << st;
    EXPECT_NE(st.message().find(path), std::string::npos) << st;
}

TEST(Notify, ANameLongerThanSockaddrIsRefused) {
    std::string path = "/" + std::string(sizeof(sockaddr_un::sun_path), 'x');
    EXPECT_TRUE(absl::IsInvalidArgument(notify_socket_send(path, "READY=1")));
    // A path needs room for its NUL: 107 bytes fit, 108 do not.
    std::string longest = "/" + std::string(sizeof(sockaddr_un::sun_path) - 2, 'x');
    EXPECT_FALSE(absl::IsInvalidArgument(notify_socket_send(longest, "READY=1")));
    longest += "x";
    EXPECT_TRUE(absl::IsInvalidArgument(notify_socket_send(longest, "READY=1")));
}

}  // namespace
}  // namespace fp6
