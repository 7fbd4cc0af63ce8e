#include "control/loop.h"

#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"

namespace fp6 {

bool send_all_bounded(int fd, std::string_view bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fd_set w;
            FD_ZERO(&w);
            FD_SET(fd, &w);
            timeval tv{1, 0};
            if (select(fd + 1, nullptr, &w, nullptr, &tv) > 0)
                continue;
        }
        return false;
    }
    return true;
}

EventLoop::EventLoop() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {}

EventLoop::~EventLoop() {
    for (auto& [fd, cb] : cbs_)
        if (oneshot_.count(fd) != 0)
            close(fd);
    close(epfd_);
}

bool EventLoop::add_fd(int fd, Callback cb) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
        return false;
    cbs_[fd] = std::make_shared<Callback>(std::move(cb));
    return true;
}

void EventLoop::remove(int fd) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    cbs_.erase(fd);
    if (oneshot_.erase(fd) != 0)
        close(fd);
}

static int make_timer(unsigned first_ms, unsigned interval_ms) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec its{};
    its.it_value.tv_sec = first_ms / 1000;
    its.it_value.tv_nsec = long(first_ms % 1000) * 1000000L;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    its.it_interval.tv_sec = interval_ms / 1000;
    its.it_interval.tv_nsec = long(interval_ms % 1000) * 1000000L;
    timerfd_settime(fd, 0, &its, nullptr);
    return fd;
}

int EventLoop::add_timer(unsigned interval_ms, Callback cb) {
    int fd = make_timer(interval_ms, interval_ms);
    oneshot_[fd] = false;
    add_fd(fd, [fd, cb = std::move(cb)] {
        uint64_t n;
        if (read(fd, &n, sizeof(n)) > 0)
            cb();
    });
    return fd;
}

int EventLoop::add_oneshot(unsigned delay_ms, Callback cb) {
    int fd = make_timer(delay_ms, 0);
    oneshot_[fd] = true;
    add_fd(fd, [this, fd, cb = std::move(cb)] {
        remove(fd);
        cb();
    });
    return fd;
}

void EventLoop::run() {
    running_ = true;
    epoll_event evs[32];
    while (running_) {
        int timeout = -1;
        if (before_wait_ && before_wait_())
            timeout = 0;
        int n = epoll_wait(epfd_, evs, 32, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            FP6_LOG(ERR, Control, "epoll_wait: {}", strerror(errno));
            break;
        }
        for (int i = 0; i < n && running_; i++) {
            auto it = cbs_.find(evs[i].data.fd);
            if (it == cbs_.end())
                continue;
            auto cb = it->second;  // keeps the callback alive if it removes itself
            (*cb)();
        }
    }
}

}  // namespace fp6
