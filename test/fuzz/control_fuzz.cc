/* Fuzz target: what a control-socket client's bytes reach before a command
 * handler runs (control/api): the LineFramer that cuts the stream into
 * requests, parse_request() that decodes each one, and the error reply fp6d
 * writes when it refuses one; and the command grammar (parse_line(): the
 * words of fp6ctl and of fp6d's --config file). Besides not crashing:
 *  - the framer returns exactly the stream's lines (one trailing "\r"
 *    removed), in order, however the stream is cut into reads, until the
 *    first line longer than its limit, and from then on only that error;
 *    what it keeps buffered stays within the limit;
 *  - a request parse_request() accepts names a known command with an
 *    object of arguments, and survives encode_line() unchanged;
 *  - a refused request gets an error reply that is one JSON line with
 *    "ok":false;
 *  - a command the grammar accepts is a request parse_request() accepts
 *    with the same command and arguments.
 *
 * Input: byte 0 (bit 0: a 64-byte line limit instead of kMaxRequest, so
 * that the over-long path is reached; bits 1-7: read size 1-128), then the
 * stream. */
#include <string>
#include <string_view>
#include <vector>

#include "control/api/grammar.h"
#include "control/api/protocol.h"
#include "test/fuzz/fuzz_check.h"

namespace fp6 {
namespace {

/* The lines LineFramer must return for `stream`, and whether it must then
 * report an over-long line; `tail` is the partial line left over. */
struct Expected {
    std::vector<std::string> lines;
    bool too_long = false;
    size_t tail = 0;
};

Expected model(std::string_view stream, size_t max) {
    Expected e;
    size_t start = 0;
    for (;;) {
        const size_t nl = stream.find('\n', start);
        if (nl == std::string_view::npos)
            break;
        if (nl - start > max) {
            e.too_long = true;
            return e;
        }
        std::string line(stream.substr(start, nl - start));
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        e.lines.push_back(std::move(line));
        start = nl + 1;
    }
    e.tail = stream.size() - start;
    e.too_long = e.tail > max;
    return e;
}

void check_request(const std::string& line) {
    absl::StatusOr<Request> req = parse_request(line);
    if (!req.ok()) {
        FUZZ_CHECK(req.status().code() == absl::StatusCode::kInvalidArgument, "status %s",
                   req.status().ToString().c_str());
        const std::string reply = encode_line(make_error(std::string(req.status().message())));
        FUZZ_CHECK(!reply.empty() && reply.back() == '\n' && reply.find('\n') == reply.size() - 1,
                   "error reply is not one line");
        const nlohmann::json j = nlohmann::json::parse(reply, nullptr, false);
        FUZZ_CHECK(!j.is_discarded() && j.is_object() && j.value("ok", true) == false &&
                       j.contains("error") && j["error"].is_string(),
                   "error reply %s", reply.c_str());
        return;
    }
    FUZZ_CHECK(is_known_command(req->cmd), "accepted unknown command %s", req->cmd.c_str());
    FUZZ_CHECK(req->args.is_object(), "args not an object");
    std::string again = encode_line(make_request(req->cmd, req->args));
    again.pop_back();
    absl::StatusOr<Request> back = parse_request(again);
    FUZZ_CHECK(back.ok(), "re-encoded request refused: %s", back.status().ToString().c_str());
    // A string with invalid UTF-8 is re-encoded with U+FFFD, so only the
    // command is sure to survive unchanged.
    FUZZ_CHECK(back->cmd == req->cmd, "command changed");
}

void check_command(const std::string& line) {
    absl::StatusOr<std::optional<nlohmann::json>> cmd = parse_line(line);
    if (!cmd.ok()) {
        FUZZ_CHECK(cmd.status().code() == absl::StatusCode::kInvalidArgument, "status %s",
                   cmd.status().ToString().c_str());
        return;
    }
    if (!cmd->has_value())
        return;
    std::string wire = encode_line(**cmd);
    wire.pop_back();
    absl::StatusOr<Request> req = parse_request(wire);
    FUZZ_CHECK(req.ok(), "grammar output %s refused: %s", wire.c_str(),
               req.status().ToString().c_str());
    FUZZ_CHECK(req->cmd == (**cmd)["cmd"], "command changed");
    // The words of a line are bytes; invalid UTF-8 in them is replaced on the
    // wire, so arguments compare only for valid text.
    const nlohmann::json strict = nlohmann::json::parse(
        (**cmd).dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore), nullptr, false);
    if (strict == **cmd)
        FUZZ_CHECK(req->args == (**cmd)["args"], "arguments changed on the wire: %s", wire.c_str());
}

void run(const uint8_t* data, size_t size) {
    if (size < 1)
        return;
    const size_t max = (data[0] & 1) ? 64 : kMaxRequest;
    const size_t step = 1 + (data[0] >> 1);
    const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    const Expected want = model(stream, max);

    LineFramer framer(max);
    std::vector<std::string> got;
    bool too_long = false;
    for (size_t off = 0; off < stream.size() && !too_long; off += step) {
        framer.feed(stream.substr(off, step));
        FUZZ_CHECK(framer.pending() <= max + step, "%zu bytes buffered, limit %zu + %zu",
                   framer.pending(), max, step);
        for (;;) {
            absl::StatusOr<std::optional<std::string>> line = framer.pop();
            if (!line.ok()) {
                FUZZ_CHECK(line.status().code() == absl::StatusCode::kResourceExhausted,
                           "status %s", line.status().ToString().c_str());
                FUZZ_CHECK(framer.failed(), "failed() false after an over-long line");
                too_long = true;
                break;
            }
            if (!line->has_value())
                break;
            FUZZ_CHECK(got.size() < want.lines.size() && **line == want.lines[got.size()],
                       "line %zu is not the stream's", got.size());
            got.push_back(std::move(**line));
            check_request(got.back());
            check_command(got.back());
        }
    }
    if (!too_long) {
        // The partial line at the end is reported once no newline can come.
        auto line = framer.pop();
        too_long = !line.ok();
        if (line.ok())
            FUZZ_CHECK(!line->has_value(), "a line without its newline");
    }
    FUZZ_CHECK(too_long == want.too_long, "over-long: got %d, want %d", too_long, want.too_long);
    FUZZ_CHECK(got.size() == want.lines.size() || want.too_long, "%zu lines of %zu", got.size(),
               want.lines.size());
    if (too_long)
        FUZZ_CHECK(!framer.pop().ok(), "the framer recovered from an over-long line");
    else
        FUZZ_CHECK(framer.pending() == want.tail, "%zu bytes pending, want %zu", framer.pending(),
                   want.tail);
}

}  // namespace
}  // namespace fp6

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fp6::run(data, size);
    return 0;
}
