/* The fp6 control protocol, spoken by fp6d (server) and fp6ctl (client) over a
 * Unix stream socket: newline-delimited JSON, one object per line.
 *
 *   request: {"v":1,"cmd":"route.add","args":{...}}
 *   reply:   {"v":1,"ok":true,"data":...}          (data may be null)
 *            {"v":1,"ok":false,"error":"..."}
 *
 * A large array may come as several replies: each but the last carries
 * "more":true and an array chunk in "data"; the client concatenates them.
 * A long operation (route load, route flush) may send progress lines first,
 * {"v":1,"ok":true,"more":true,"progress":{...}}, which carry no data.
 * A connection carries any number of requests, one at a time, answered in
 * order. docs/protocol.md is the reference for scripts. */
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

namespace fp6 {

constexpr int kProtocolVersion = 1;
constexpr size_t kMaxRequest = 65536; /* bytes of one request line, without "\n" */
constexpr int kMaxRequestDepth = 32;  /* nesting of arrays and objects in a request */
constexpr size_t kMaxReply = 1 << 20; /* bytes of one reply line fp6d chunks an array into */
/* The longest reply line a Client reads: an array comes in chunks of at most
 * kMaxReply, but one string (the running config of a large table) is one
 * line. */
constexpr size_t kMaxReplyRead = size_t(256) << 20;
constexpr std::string_view kDefaultSocket = "/run/fp6/fp6.sock";
constexpr std::chrono::milliseconds kDefaultTimeout{30000};

/* Splits a byte stream into lines. Both sides feed what read() returned and
 * pop complete lines; a line longer than max_line bytes is an error. */
class LineFramer {
  public:
    explicit LineFramer(size_t max_line) noexcept : max_(max_line) {}
    size_t max_line() const noexcept { return max_; }

    /* Appends bytes from the stream. Once an over-long line has been seen,
     * further bytes are dropped (memory stays bounded by about max_line plus
     * the size of one feed). */
    void feed(std::string_view bytes);

    /* The next complete line, without its "\n" and without one trailing "\r";
     * nullopt when no complete line is buffered. Once a line is longer than
     * max_line (complete, or max_line bytes without a newline), returns
     * ResourceExhausted "line longer than N bytes", from then on at every
     * call; lines completed before the over-long one are returned first. */
    absl::StatusOr<std::optional<std::string>> pop();

    /* True once pop() has reported an over-long line. */
    bool failed() const noexcept { return failed_; }

    /* Bytes buffered that pop() has not returned (a partial line at EOF). */
    size_t pending() const noexcept { return buf_.size() - head_; }

  private:
    size_t max_;
    std::string buf_;
    size_t head_ = 0;       /* start of the first line not yet popped */
    size_t partial_ = 0;    /* bytes after the last newline (the line not yet complete) */
    bool overflow_ = false; /* an over-long partial line was dropped */
    bool failed_ = false;
};

/* {"v":1,"cmd":cmd,"args":args}; args must be an object (null becomes {}). */
nlohmann::json make_request(std::string_view cmd, nlohmann::json args = nlohmann::json::object());

/* {"v":1,"ok":true,"data":data}, plus "more":true when more is set. */
nlohmann::json make_ok(nlohmann::json data, bool more = false);

/* {"v":1,"ok":true,"more":true,"progress":report}: how far a long operation
 * has come; the reply's data follows on a later line. */
nlohmann::json make_progress(nlohmann::json report);

/* {"v":1,"ok":false,"error":message}. */
nlohmann::json make_error(std::string_view message);

/* One message as a wire line: compact JSON and "\n". Never throws: invalid
 * UTF-8 in strings is replaced by U+FFFD. */
std::string encode_line(const nlohmann::json& message);

/* The wire lines of a successful reply carrying data. When data is an array
 * whose line would be longer than max_line, it is split into chunks, every
 * line but the last with "more":true, each at most max_line bytes (an element
 * that alone is larger goes in a chunk of its own). Each string ends in "\n". */
std::vector<std::string> encode_reply(const nlohmann::json& data, size_t max_line = kMaxReply);

/* A request as the server sees it. */
struct Request {
    std::string cmd;     /* e.g. "route.add", one of the grammar's commands */
    nlohmann::json args; /* always an object */
};

/* Decodes and checks one request line (without "\n"). The error Status is
 * InvalidArgument with a message ready for make_error: nested deeper than
 * kMaxRequestDepth, not JSON, not an object, missing or wrong "v", missing
 * or unknown "cmd", "args" not an object. A missing "args" is {}. */
absl::StatusOr<Request> parse_request(std::string_view line);

/* A blocking client: connect once, then call() any number of times. Status
 * codes tell the failures apart:
 *   FailedPrecondition  fp6d answered ok:false; the message is fp6d's error
 *   Unavailable         fp6d cannot be reached or closed the connection
 *   PermissionDenied    connecting was refused by file permissions
 *   DeadlineExceeded    fp6d sent nothing for the receive timeout
 *   Internal            fp6d's reply broke the protocol
 *   InvalidArgument     the request itself is unusable (too long, not an object) */
class Client {
  public:
    /* Connects to the Unix socket at path. Unavailable "cannot reach fp6d at
     * PATH: REASON" (REASON from strerror) when it cannot, PermissionDenied
     * "cannot reach fp6d at PATH: permission denied" on EACCES/EPERM.
     * timeout bounds each wait for the daemon while sending or receiving. */
    static absl::StatusOr<Client> connect(std::string_view path,
                                          std::chrono::milliseconds timeout = kDefaultTimeout,
                                          size_t max_reply = kMaxReplyRead);

    Client(Client&& other) noexcept;
    Client& operator=(Client&& other) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client();

    /* Sends request (an object, normally from make_request or parse_command)
     * and waits for the reply. Returns its data (null when it had none),
     * "more" chunks concatenated into one array; errors as listed above.
     * Each progress line is handed to on_progress (its "progress" object)
     * when given, and skipped otherwise. After an error other than
     * FailedPrecondition the connection is closed and later calls return
     * Unavailable. */
    using ProgressFn = std::function<void(const nlohmann::json&)>;
    absl::StatusOr<nlohmann::json> call(const nlohmann::json& request,
                                        const ProgressFn& on_progress = nullptr);

    /* Changes the wait bound for later calls. */
    void set_timeout(std::chrono::milliseconds timeout) noexcept { timeout_ = timeout; }

  private:
    Client(int fd, std::string path, std::chrono::milliseconds timeout, size_t max_reply) noexcept
        : fd_(fd), path_(std::move(path)), timeout_(timeout), framer_(max_reply) {}
    absl::Status send_all(std::string_view bytes);
    absl::StatusOr<std::string> read_line();
    absl::Status fail(absl::Status status);
    void close_fd() noexcept;

    int fd_ = -1;
    std::string path_;
    std::chrono::milliseconds timeout_;
    LineFramer framer_;
};

}  // namespace fp6
