/* The sd_notify(3) datagram, received the way systemd receives it: on a unix
 * datagram socket, at a path or an abstract name. */
#include "control/notify.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

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

/* Socket activation: the variables systemd sets, for this process or not. */
class ListenFds : public ::testing::Test {
  protected:
    void TearDown() override {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
    }
    static void set(const std::string& pid, const std::string& fds) {
        setenv("LISTEN_PID", pid.c_str(), 1);
        setenv("LISTEN_FDS", fds.c_str(), 1);
        setenv("LISTEN_FDNAMES", "fp6d.socket", 1);
    }
    static bool env_gone() {
        return getenv("LISTEN_PID") == nullptr && getenv("LISTEN_FDS") == nullptr &&
               getenv("LISTEN_FDNAMES") == nullptr;
    }
};

TEST_F(ListenFds, NoneWithoutTheVariables) {
    auto fds = listen_fds_from_service_manager();
    ASSERT_TRUE(fds.ok()) << fds.status();
    EXPECT_TRUE(fds->empty());
}

TEST_F(ListenFds, OursFromFdThreeAreCloseOnExecAndTheVariablesGo) {
    // fd 3 is open in a test process (gtest's or ours): make sure of it.
    int spare = fcntl(0, F_DUPFD, 3);
    ASSERT_GE(spare, 3);
    if (spare != 3)
        close(spare);
    set(std::to_string(getpid()), "1");
    auto fds = listen_fds_from_service_manager();
    ASSERT_TRUE(fds.ok()) << fds.status();
    EXPECT_EQ(*fds, std::vector<int>{3});
    EXPECT_NE(fcntl(3, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_TRUE(env_gone());
    if (spare == 3)
        close(3);
}

TEST_F(ListenFds, AnotherProcesssAreIgnoredAndRemoved) {
    set(std::to_string(getpid() + 1), "1");
    auto fds = listen_fds_from_service_manager();
    ASSERT_TRUE(fds.ok()) << fds.status();
    EXPECT_TRUE(fds->empty());
    EXPECT_TRUE(env_gone());
}

TEST_F(ListenFds, MalformedOrClosedAreRefused) {
    set(std::to_string(getpid()), "one");
    auto bad = listen_fds_from_service_manager();
    EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
    EXPECT_TRUE(env_gone());
    set("-5", "1");
    EXPECT_TRUE(absl::IsInvalidArgument(listen_fds_from_service_manager().status()));
    // fds 3..62, of which this test has far fewer open.
    set(std::to_string(getpid()), "60");
    auto closed = listen_fds_from_service_manager();
    EXPECT_TRUE(absl::IsInvalidArgument(closed.status())) << closed.status();
    EXPECT_NE(closed.status().message().find("is not open"), std::string_view::npos);
    set(std::to_string(getpid()), "1000");
    auto many = listen_fds_from_service_manager();
    EXPECT_NE(many.status().message().find("more than fp6d can use"), std::string_view::npos);
}

}  // namespace
}  // namespace fp6
