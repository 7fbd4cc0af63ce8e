/* The control thread's event loop: epoll over file descriptors and
 * timerfds. Everything the control thread does runs from a callback here,
 * so it sleeps whenever nothing happens. Single-threaded. */
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>

namespace fp6 {

/* Writes all of `bytes` to the non-blocking stream socket fd, waiting up to
 * a second each time its buffer is full; false when the peer is gone or does
 * not read (the caller closes it). The control socket and the metrics
 * endpoint answer through it, so a client that stops reading costs the
 * control thread at most that second. */
bool send_all_bounded(int fd, std::string_view bytes);

class EventLoop {
  public:
    using Callback = std::function<void()>;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /* Calls cb whenever fd is readable, until remove(fd). */
    bool add_fd(int fd, Callback cb);
    void remove(int fd);
    /* Calls cb every interval_ms (first after interval_ms). Returns the
     * timer's fd, which remove() cancels. */
    int add_timer(unsigned interval_ms, Callback cb);
    /* Calls cb once after delay_ms. */
    int add_oneshot(unsigned delay_ms, Callback cb);
    /* Called before each wait; returns true if the loop must not sleep. */
    void set_before_wait(std::function<bool()> fn) { before_wait_ = std::move(fn); }

    void run();
    void stop() { running_ = false; }

  private:
    int epfd_;
    bool running_ = false;
    std::unordered_map<int, std::shared_ptr<Callback>> cbs_;
    std::unordered_map<int, bool> oneshot_;
    std::function<bool()> before_wait_;
};

}  // namespace fp6
