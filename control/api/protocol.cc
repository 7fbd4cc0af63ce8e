#include "control/api/protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "control/api/grammar.h"

namespace fp6 {

using nlohmann::json;

/* ---- LineFramer ---- */

void LineFramer::feed(std::string_view bytes) {
    if (overflow_ || failed_)
        return;
    buf_.append(bytes);
    // Only the new bytes can end the partial line, so a read costs its own
    // length however long the line has grown (a client sending a line byte
    // by byte must not cost the server quadratic time).
    const size_t nl = bytes.rfind('\n');
    partial_ = nl == std::string_view::npos ? partial_ + bytes.size() : bytes.size() - nl - 1;
    if (partial_ > max_) {
        buf_.resize(buf_.size() - partial_);
        partial_ = 0;
        overflow_ = true;
    }
}

absl::StatusOr<std::optional<std::string>> LineFramer::pop() {
    auto too_long = [this] {
        failed_ = true;
        buf_.clear();
        head_ = 0;
        partial_ = 0;
        return absl::ResourceExhaustedError(fmt::format("line longer than {} bytes", max_));
    };
    if (failed_)
        return too_long();
    // The complete lines end where the partial one starts; none left, nothing
    // to scan.
    const size_t complete = buf_.size() - partial_;
    if (head_ == complete) {
        if (overflow_)
            return too_long();
        buf_.erase(0, head_);
        head_ = 0;
        return std::optional<std::string>();
    }
    const std::string_view rest(buf_.data() + head_, complete - head_);
    const size_t nl = rest.find('\n');  // there is one: rest ends with a newline
    if (nl > max_)
        return too_long();
    std::string line(rest.substr(0, nl));
    head_ += nl + 1;
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    return std::optional<std::string>(std::move(line));
}

/* ---- messages ---- */

json make_request(std::string_view cmd, json args) {
    if (args.is_null())
        args = json::object();
    return json{{"v", kProtocolVersion}, {"cmd", std::string(cmd)}, {"args", std::move(args)}};
}

json make_ok(json data, bool more) {
    json reply{{"v", kProtocolVersion}, {"ok", true}, {"data", std::move(data)}};
    if (more)
        reply["more"] = true;
    return reply;
}

json make_progress(json report) {
    return json{
        {"v", kProtocolVersion}, {"ok", true}, {"more", true}, {"progress", std::move(report)}};
}

json make_error(std::string_view message) {
    return json{{"v", kProtocolVersion}, {"ok", false}, {"error", std::string(message)}};
}

namespace {

std::string dump_compact(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/* A reply line with "data" holding the already encoded elements; the keys are
 * in the order nlohmann writes them (sorted), so it matches make_ok's dump. */
std::string chunk_line(const std::vector<std::string>& elems, size_t from, size_t to, bool more) {
    std::string line = "{\"data\":[";
    for (size_t i = from; i < to; i++) {
        if (i > from)
            line += ',';
        line += elems[i];
    }
    line += more ? "],\"more\":true" : "]";
    line += fmt::format(",\"ok\":true,\"v\":{}}}\n", kProtocolVersion);
    return line;
}

/* Bytes of a chunk line around its elements, "\n" excluded. */
size_t chunk_overhead(bool more) {
    return chunk_line({}, 0, 0, more).size() - 1;
}

}  // namespace

std::string encode_line(const json& message) {
    std::string line = dump_compact(message);
    line += '\n';
    return line;
}

std::vector<std::string> encode_reply(const json& data, size_t max_line) {
    std::string whole = encode_line(make_ok(data));
    if (!data.is_array() || whole.size() - 1 <= max_line)
        return {std::move(whole)};
    std::vector<std::string> elems;
    elems.reserve(data.size());
    for (const auto& e : data)
        elems.push_back(dump_compact(e));
    const size_t overhead = chunk_overhead(true);
    std::vector<std::string> lines;
    size_t from = 0;
    while (from < elems.size()) {
        size_t to = from + 1;
        size_t len = overhead + elems[from].size();
        while (to < elems.size() && len + 1 + elems[to].size() <= max_line)
            len += 1 + elems[to++].size();
        lines.push_back(chunk_line(elems, from, to, to < elems.size()));
        from = to;
    }
    return lines;
}

/* ---- server side ---- */

namespace {

/* How deeply arrays and objects nest in `line`, read as JSON text (brackets
 * inside strings do not count). Refusing deep requests before parsing keeps
 * every later walk of the value (printing one back in an error, a handler
 * reading it) from recursing tens of thousands of levels deep: a 64 KiB
 * line can hold 32768 nested arrays, which overflows the stack. */
int nesting_depth(std::string_view line) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < line.size(); i++) {
        const char c = line[i];
        if (in_string) {
            if (c == '\\')
                i++;  // the escaped character, a quote included
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return deepest;
}

}  // namespace

absl::StatusOr<Request> parse_request(std::string_view line) {
    if (nesting_depth(line) > kMaxRequestDepth)
        return absl::InvalidArgumentError(
            fmt::format("request nested deeper than {} levels", kMaxRequestDepth));
    json j = json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded())
        return absl::InvalidArgumentError("request is not JSON");
    if (!j.is_object())
        return absl::InvalidArgumentError("request is not a JSON object");
    auto v = j.find("v");
    if (v == j.end())
        return absl::InvalidArgumentError("request has no protocol version \"v\"");
    if (!v->is_number_integer() || v->get<int64_t>() != kProtocolVersion)
        return absl::InvalidArgumentError(fmt::format(
            "unsupported protocol version {}; fp6d speaks {}", dump_compact(*v), kProtocolVersion));
    auto cmd = j.find("cmd");
    if (cmd == j.end() || !cmd->is_string())
        return absl::InvalidArgumentError("request has no command \"cmd\"");
    if (!is_known_command(cmd->get_ref<const std::string&>()))
        return absl::InvalidArgumentError(fmt::format("unknown command {}", dump_compact(*cmd)));
    Request req{cmd->get<std::string>(), json::object()};
    auto args = j.find("args");
    if (args != j.end() && !args->is_null()) {
        if (!args->is_object())
            return absl::InvalidArgumentError("\"args\" is not a JSON object");
        req.args = std::move(*args);
    }
    return req;
}

/* ---- Client ---- */

namespace {

absl::Status connect_error(std::string_view path, int err) {
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS)
        return absl::UnavailableError(
            fmt::format("cannot reach fp6d at {}: it did not accept the connection in time", path));
    if (err == EACCES || err == EPERM)
        return absl::PermissionDeniedError(
            fmt::format("cannot reach fp6d at {}: permission denied", path));
    return absl::UnavailableError(
        fmt::format("cannot reach fp6d at {}: {}", path, std::strerror(err)));
}

/* Waits until fd is ready for events; DeadlineExceeded after timeout. */
absl::Status wait_fd(int fd, short events, std::chrono::milliseconds timeout) {
    pollfd p{fd, events, 0};
    for (;;) {
        int n = ::poll(&p, 1, int(timeout.count()));
        if (n > 0)
            return absl::OkStatus();
        if (n == 0)
            return absl::DeadlineExceededError(
                fmt::format("fp6d did not answer within {} ms", timeout.count()));
        if (errno != EINTR)
            return absl::UnavailableError(fmt::format("poll: {}", std::strerror(errno)));
    }
}

}  // namespace

absl::StatusOr<Client> Client::connect(std::string_view path, std::chrono::milliseconds timeout,
                                       size_t max_reply) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(sa.sun_path))
        return absl::UnavailableError(
            fmt::format("cannot reach fp6d at {}: bad socket path length", path));
    std::memcpy(sa.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return connect_error(path, errno);
    /* A Unix connect() blocks while the listen backlog is full; bound it. */
    timeval tv{timeout.count() / 1000, (timeout.count() % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int err = errno;
        ::close(fd);
        return connect_error(path, err);
    }
    return Client(fd, std::string(path), timeout, max_reply);
}

Client::Client(Client&& other) noexcept
    : fd_(other.fd_),
      path_(std::move(other.path_)),
      timeout_(other.timeout_),
      framer_(std::move(other.framer_)) {
    other.fd_ = -1;
}

Client& Client::operator=(Client&& other) noexcept {
    if (this != &other) {
        close_fd();
        fd_ = other.fd_;
        path_ = std::move(other.path_);
        timeout_ = other.timeout_;
        framer_ = std::move(other.framer_);
        other.fd_ = -1;
    }
    return *this;
}

Client::~Client() {
    close_fd();
}

void Client::close_fd() noexcept {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

absl::Status Client::fail(absl::Status status) {
    close_fd();
    return status;
}

absl::Status Client::send_all(std::string_view bytes) {
    while (!bytes.empty()) {
        if (auto st = wait_fd(fd_, POLLOUT, timeout_); !st.ok())
            return st;
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0)
            return absl::UnavailableError(
                fmt::format("lost the connection to fp6d: {}", std::strerror(errno)));
        bytes.remove_prefix(size_t(n));
    }
    return absl::OkStatus();
}

absl::StatusOr<std::string> Client::read_line() {
    char buf[65536];
    for (;;) {
        auto line = framer_.pop();
        if (!line.ok())
            return absl::InternalError(
                fmt::format("reply from fp6d longer than {} bytes", framer_.max_line()));
        if (*line)
            return std::move(**line);
        if (auto st = wait_fd(fd_, POLLIN, timeout_); !st.ok())
            return st;
        ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0)
            return absl::UnavailableError(
                fmt::format("lost the connection to fp6d: {}", std::strerror(errno)));
        if (n == 0)
            return absl::UnavailableError("fp6d closed the connection");
        framer_.feed(std::string_view(buf, size_t(n)));
    }
}

namespace {

absl::Status bad_reply(std::string_view why) {
    return absl::InternalError(fmt::format("bad reply from fp6d: {}", why));
}

/* Checks one reply line; on ok:true returns the reply object. */
absl::StatusOr<json> check_reply(const std::string& line) {
    json r = json::parse(line, nullptr, false);
    if (r.is_discarded() || !r.is_object())
        return bad_reply("not a JSON object");
    auto v = r.find("v");
    if (v == r.end() || !v->is_number_integer() || v->get<int64_t>() != kProtocolVersion)
        return bad_reply(fmt::format("protocol version is not {}", kProtocolVersion));
    auto ok = r.find("ok");
    if (ok == r.end() || !ok->is_boolean())
        return bad_reply("no \"ok\"");
    if (!ok->get<bool>()) {
        auto err = r.find("error");
        if (err == r.end() || !err->is_string())
            return absl::FailedPreconditionError("fp6d refused the command");
        return absl::FailedPreconditionError(err->get<std::string>());
    }
    return r;
}

bool has_more(const json& reply) {
    auto m = reply.find("more");
    return m != reply.end() && m->is_boolean() && m->get<bool>();
}

}  // namespace

absl::StatusOr<json> Client::call(const json& request, const ProgressFn& on_progress) {
    if (fd_ < 0)
        return absl::UnavailableError("not connected to fp6d");
    if (!request.is_object())
        return absl::InvalidArgumentError("request is not a JSON object");
    std::string line = encode_line(request);
    if (line.size() - 1 > kMaxRequest)
        return absl::InvalidArgumentError(fmt::format("request longer than {} bytes", kMaxRequest));
    if (auto st = send_all(line); !st.ok())
        return fail(st);
    json collected;
    for (;;) {
        auto text = read_line();
        if (!text.ok())
            return fail(text.status());
        auto reply = check_reply(*text);
        if (absl::IsFailedPrecondition(reply.status()))
            return reply.status();
        if (!reply.ok())
            return fail(reply.status());
        bool more = has_more(*reply);
        if (auto p = reply->find("progress"); p != reply->end()) {
            if (!more)
                return fail(bad_reply("a progress line without \"more\":true"));
            if (on_progress)
                on_progress(*p);
            continue;
        }
        json data = std::move((*reply)["data"]);
        if (!more && collected.is_null())
            return data;
        if (!data.is_array())
            return fail(bad_reply("a chunked reply's \"data\" is not an array"));
        if (collected.is_null())
            collected = json::array();
        for (auto& e : data)
            collected.push_back(std::move(e));
        if (!more)
            return collected;
    }
}

}  // namespace fp6
