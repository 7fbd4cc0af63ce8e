#include "control/server.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>

#include "common/log.h"

namespace fp6 {

namespace {

uint64_t mono_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

}  // namespace

ControlServer::~ControlServer() {
    if (sweep_timer_ >= 0)
        loop_.remove(sweep_timer_);
    for (auto& [fd, c] : conns_)
        close(fd);
    if (listen_fd_ >= 0) {
        close(listen_fd_);
        if (!path_.empty())
            unlink(path_.c_str());
    }
}

absl::Status ControlServer::listen(const std::string& path, const std::string& group) {
    sockaddr_un sa{};
    if (path.size() >= sizeof(sa.sun_path))
        return absl::InvalidArgumentError(fmt::format("socket path too long: {}", path));
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    const std::string dir = parent.empty() ? std::string(".") : parent.string();
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec)
            return absl::InvalidArgumentError(
                fmt::format("cannot create {}: {}", dir, ec.message()));
        chmod(dir.c_str(), 0755);
    } else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
        return absl::PermissionDeniedError(fmt::format(
            "refusing to create the control socket in {}: group or others can write it", dir));
    } else if ((st.st_mode & S_IWOTH) != 0) {
        return absl::PermissionDeniedError(
            fmt::format("refusing to create the control socket in {}: others can write it", dir));
    }
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    // What is at the path already: a socket left by an fp6d that is gone is
    // replaced; one that answers belongs to a running fp6d, and anything
    // else is not ours to delete.
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return absl::AlreadyExistsError(
                fmt::format("{} exists and is not a socket; not replacing it", path));
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool live =
            probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live)
            return absl::AlreadyExistsError(
                fmt::format("another fp6d answers at {}; stop it or give --socket", path));
        unlink(path.c_str());
    }
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0)
        return absl::InternalError(fmt::format("socket: {}", strerror(errno)));
    // Created with no access for others from the first instant.
    mode_t old = umask(0117);
    int rc = bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    umask(old);
    if (rc != 0)
        return absl::InternalError(fmt::format("cannot bind {}: {}", path, strerror(errno)));
    path_ = path;
    if (!group.empty()) {
        struct group* g = getgrnam(group.c_str());
        if (g == nullptr)
            return absl::InvalidArgumentError(fmt::format("unknown group \"{}\"", group));
        if (chown(path.c_str(), uid_t(-1), g->gr_gid) != 0)
            return absl::InternalError(fmt::format("chown {}: {}", path, strerror(errno)));
    }
    chmod(path.c_str(), 0660);
    if (::listen(listen_fd_, int(kMaxClients)) != 0)
        return absl::InternalError(fmt::format("listen: {}", strerror(errno)));
    loop_.add_fd(listen_fd_, [this] { on_accept(); });
    sweep_timer_ = loop_.add_timer(1000, [this] { sweep(); });
    FP6_LOG(INFO, Control, "control socket listening at {}", path);
    return absl::OkStatus();
}

absl::StatusOr<std::string> ControlServer::adopt(int fd) {
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return absl::InvalidArgumentError(
            fmt::format("fd {} from the service manager is not a socket: {}", fd, strerror(errno)));
    if (type != SOCK_STREAM)
        return absl::InvalidArgumentError(
            fmt::format("the socket passed as fd {} is not a stream socket", fd));
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0)
        return absl::InvalidArgumentError(
            fmt::format("the socket passed as fd {} is not listening", fd));
    sockaddr_un sa{};
    len = sizeof(sa);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0 || sa.sun_family != AF_UNIX)
        return absl::InvalidArgumentError(fmt::format(
            "the socket passed as fd {} is not a unix socket (ListenStream= takes a path)", fd));
    const size_t path_len = len > offsetof(sockaddr_un, sun_path)
                                ? strnlen(sa.sun_path, len - offsetof(sockaddr_un, sun_path))
                                : 0;
    std::string path(sa.sun_path, path_len);
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return absl::InternalError(fmt::format("fcntl on fd {}: {}", fd, strerror(errno)));
    listen_fd_ = fd;  // path_ stays empty: the socket file is the manager's
    loop_.add_fd(listen_fd_, [this] { on_accept(); });
    sweep_timer_ = loop_.add_timer(1000, [this] { sweep(); });
    FP6_LOG(INFO, Control, "control socket from the service manager at {}",
            path.empty() ? "(unnamed)" : path);
    return path;
}

void ControlServer::on_accept() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        // Replies are written with a bound: a client that stops reading is
        // dropped instead of stalling the control thread.
        timeval tv{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (conns_.size() >= kMaxClients) {
            // Told why, rather than left waiting on a connection that is
            // never read.
            write_all(fd, encode_line(make_error(fmt::format(
                              "too many clients: fp6d serves at most {} at once", kMaxClients))));
            close(fd);
            continue;
        }
        auto c = std::make_unique<Conn>();
        c->id = next_conn_id_++;
        c->last_read_ms = mono_ms();
        conns_[fd] = std::move(c);
        loop_.add_fd(fd, [this, fd] { on_readable(fd); });
    }
}

void ControlServer::sweep() {
    uint64_t now = mono_ms();
    std::vector<int> stale;
    for (const auto& [fd, c] : conns_)
        if (c->framer.pending() != 0 && now - c->last_read_ms >= kPartialTimeoutMs)
            stale.push_back(fd);
    for (int fd : stale) {
        FP6_LOG(DEBUG, Control, "closing a client that left a request unfinished for {} ms",
                kPartialTimeoutMs);
        write_all(fd, encode_line(make_error("request not finished in time")));
        close_conn(fd);
    }
}

void ControlServer::close_conn(int fd) {
    if (auto it = conns_.find(fd); it != conns_.end() && it->second->in_job)
        FP6_LOG(INFO, Control,
                "the client of a route load or flush left; the operation goes on to its end");
    loop_.remove(fd);
    conns_.erase(fd);
    close(fd);
}

bool ControlServer::write_all(int fd, const std::string& bytes) {
    return send_all_bounded(fd, bytes);
}

bool ControlServer::answer(int fd, const std::string& line) {
    absl::StatusOr<Request> req = parse_request(line);
    if (!req.ok())
        return write_all(fd, encode_line(make_error(std::string(req.status().message()))));
    absl::StatusOr<nlohmann::json> data = router_.execute(*req, true);
    if (!data.ok()) {
        FP6_LOG(DEBUG, Control, "{} refused: {}", req->cmd, std::string(data.status().message()));
        return write_all(fd, encode_line(make_error(std::string(data.status().message()))));
    }
    if (Router::Job step = router_.take_job()) {
        // The first slice has run: its progress now, a slice per loop turn
        // after (a zero delay: other ready events are served first).
        Conn& c = *conns_.at(fd);
        c.in_job = true;
        const uint64_t id = next_job_id_++;
        jobs_[id] = Job{std::move(step), fd, c.id};
        loop_.add_oneshot(0, [this, id] { pump_job(id); });
        return write_all(fd, encode_line(make_progress(std::move(*data))));
    }
    if (auto stream = router_.take_stream()) {
        // The first chunk now (never the last: "more" says so), the rest one
        // per loop turn, so a long listing never holds the control thread.
        if (!write_all(fd, encode_line(make_ok(std::move(*data), true))))
            return false;
        Conn& c = *conns_.at(fd);
        c.stream = std::move(stream);
        uint64_t id = c.id;
        loop_.add_oneshot(1, [this, fd, id] { pump(fd, id); });
        return true;
    }
    for (const std::string& part : encode_reply(*data))
        if (!write_all(fd, part))
            return false;
    return true;
}

void ControlServer::pump(int fd, uint64_t id) {
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second->id != id || !it->second->stream)
        return;  // the client left meanwhile
    Conn& c = *it->second;
    std::optional<nlohmann::json> chunk = c.stream();
    const bool more = chunk.has_value();
    if (!write_all(
            fd, encode_line(make_ok(more ? std::move(*chunk) : nlohmann::json::array(), more)))) {
        close_conn(fd);
        return;
    }
    if (more) {
        loop_.add_oneshot(1, [this, fd, id] { pump(fd, id); });
        return;
    }
    c.stream = nullptr;
    drain(fd);  // requests that arrived during the stream
}

void ControlServer::pump_job(uint64_t id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end())
        return;
    Router::JobStep step = it->second.step();
    const int fd = it->second.fd;
    auto c = conns_.find(fd);
    const bool attached = c != conns_.end() && c->second->id == it->second.conn_id;
    if (!step.done) {
        loop_.add_oneshot(0, [this, id] { pump_job(id); });
        if (attached && !write_all(fd, encode_line(make_progress(std::move(*step.data))))) {
            FP6_LOG(INFO, Control, "a client of a long operation stopped reading; it goes on");
            close_conn(fd);
        }
        return;
    }
    jobs_.erase(it);
    if (!attached)
        return;  // the router logged how it ended
    c->second->in_job = false;
    bool sent = true;
    if (!step.data.ok())
        sent = write_all(fd, encode_line(make_error(std::string(step.data.status().message()))));
    else
        for (const std::string& part : encode_reply(*step.data))
            sent = sent && write_all(fd, part);
    if (!sent) {
        close_conn(fd);
        return;
    }
    drain(fd);  // requests that arrived during the operation
}

void ControlServer::on_readable(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    Conn& c = *it->second;
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_conn(fd);
        return;
    }
    if (n < 0)
        return;
    c.last_read_ms = mono_ms();
    c.framer.feed(std::string_view(buf, size_t(n)));
    drain(fd);
}

bool ControlServer::drain(int fd) {
    for (;;) {
        auto it = conns_.find(fd);
        if (it == conns_.end())
            return false;
        Conn& c = *it->second;
        if (c.stream || c.in_job)
            return true;  // answered after the stream's last chunk or the job's end
        auto line = c.framer.pop();
        if (!line.ok()) {
            write_all(fd, encode_line(make_error(std::string(line.status().message()))));
            close_conn(fd);
            return false;
        }
        if (!line->has_value())
            return true;
        if (!answer(fd, **line)) {
            close_conn(fd);
            return false;
        }
    }
}

}  // namespace fp6
