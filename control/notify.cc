#include "control/notify.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "common/log.h"

namespace fp6 {

absl::Status notify_socket_send(std::string_view socket_name, std::string_view state) {
    if (socket_name.empty() || (socket_name[0] != '/' && socket_name[0] != '@'))
        return absl::OkStatus();
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    // A path needs its terminating NUL inside sun_path; an abstract name
    // (sun_path[0] == 0) is given by its length alone.
    size_t room = socket_name[0] == '@' ? sizeof(sa.sun_path) : sizeof(sa.sun_path) - 1;
    if (socket_name.size() > room)
        return absl::InvalidArgumentError(
            fmt::format("NOTIFY_SOCKET is longer than {} bytes", room));
    std::memcpy(sa.sun_path, socket_name.data(), socket_name.size());
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return absl::UnavailableError(fmt::format("socket: {}", std::strerror(errno)));
    auto len = socklen_t(offsetof(sockaddr_un, sun_path) + socket_name.size());
    ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&sa), len);
    int err = errno;
    close(fd);
    if (n < 0)
        return absl::UnavailableError(
            fmt::format("cannot notify {}: {}", socket_name, std::strerror(err)));
    return absl::OkStatus();
}

void notify_service_manager(const std::string& state) {
    const char* name = std::getenv("NOTIFY_SOCKET");
    if (name == nullptr)
        return;
    if (absl::Status st = notify_socket_send(name, state); !st.ok())
        FP6_LOG(WARNING, Control, "service manager: {}", std::string(st.message()));
}

namespace {

/* A decimal number with nothing after it; nullopt otherwise. */
std::optional<unsigned long> env_number(const char* text) {
    if (text == nullptr || *text == '\0')
        return std::nullopt;
    char* end;
    errno = 0;
    unsigned long n = std::strtoul(text, &end, 10);
    if (*end != '\0' || errno != 0 || text[0] == '-')
        return std::nullopt;
    return n;
}

}  // namespace

absl::StatusOr<std::vector<int>> listen_fds_from_service_manager() {
    // The first descriptor passed (SD_LISTEN_FDS_START in sd-daemon.h).
    constexpr int kFirstFd = 3;
    const char* pid_text = std::getenv("LISTEN_PID");
    const char* fds_text = std::getenv("LISTEN_FDS");
    std::optional<unsigned long> pid = env_number(pid_text);
    std::optional<unsigned long> count = env_number(fds_text);
    const bool set = pid_text != nullptr || fds_text != nullptr;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!set)
        return std::vector<int>{};
    if (!pid || !count)
        return absl::InvalidArgumentError(fmt::format(
            "socket activation: LISTEN_PID \"{}\" and LISTEN_FDS \"{}\" must be numbers",
            pid_text ? pid_text : "", fds_text ? fds_text : ""));
    if (*pid != static_cast<unsigned long>(getpid()))
        return std::vector<int>{};
    if (*count > 64)
        return absl::InvalidArgumentError(
            fmt::format("socket activation: LISTEN_FDS={} is more than fp6d can use", *count));
    std::vector<int> fds;
    for (int fd = kFirstFd; fd < kFirstFd + int(*count); fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0)
            return absl::InvalidArgumentError(
                fmt::format("socket activation: LISTEN_FDS={} but fd {} is not open", *count, fd));
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        fds.push_back(fd);
    }
    return fds;
}

}  // namespace fp6
