#include "control/api/protocol.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

namespace fp6 {
namespace {

using nlohmann::json;

/* ---- LineFramer ---- */

std::vector<std::string> drain(LineFramer& f) {
    std::vector<std::string> lines;
    for (;;) {
        auto l = f.pop();
        EXPECT_TRUE(l.ok()) << l.status();
        if (!l.ok() || !*l)
            return lines;
        lines.push_back(**l);
    }
}

TEST(LineFramer, SplitsLinesAndKeepsThePartialOne) {
    LineFramer f(100);
    f.feed("one\ntwo\r\n\nthree");
    EXPECT_EQ(drain(f), (std::vector<std::string>{"one", "two", ""}));
    EXPECT_EQ(f.pending(), 5u);
    f.feed("\n");
    EXPECT_EQ(drain(f), (std::vector<std::string>{"three"}));
    EXPECT_EQ(f.pending(), 0u);
}

TEST(LineFramer, JoinsByteByByteReads) {
    LineFramer f(100);
    std::string stream = "{\"v\":1}\n{\"v\":2}\n";
    std::vector<std::string> lines;
    for (char c : stream) {
        f.feed(std::string_view(&c, 1));
        auto more = drain(f);
        lines.insert(lines.end(), more.begin(), more.end());
    }
    EXPECT_EQ(lines, (std::vector<std::string>{"{\"v\":1}", "{\"v\":2}"}));
}

TEST(LineFramer, AcceptsALineOfExactlyMax) {
    LineFramer f(8);
    f.feed("12345678");
    EXPECT_EQ(drain(f), std::vector<std::string>{});
    f.feed("\n");
    EXPECT_EQ(drain(f), (std::vector<std::string>{"12345678"}));
}

struct OversizeRow {
    const char* name;
    std::vector<std::string> feeds;
    std::vector<std::string> lines_first;
};

TEST(LineFramer, RefusesOversizeLines) {
    const OversizeRow rows[] = {
        {"partial line over max", {"123456789"}, {}},
        {"complete line over max", {"123456789\n"}, {}},
        {"over max across reads", {"12345", "6789"}, {}},
        {"good lines come first", {"ok\nfine\n", "1234567890123"}, {"ok", "fine"}},
        {"good line in the same read", {"ok\n123456789abc"}, {"ok"}},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.name);
        LineFramer f(8);
        for (const auto& b : r.feeds)
            f.feed(b);
        for (const auto& want : r.lines_first) {
            auto l = f.pop();
            ASSERT_TRUE(l.ok() && *l);
            EXPECT_EQ(**l, want);
        }
        auto l = f.pop();
        EXPECT_TRUE(absl::IsResourceExhausted(l.status()));
        EXPECT_EQ(l.status().message(), "line longer than 8 bytes");
        EXPECT_TRUE(f.failed());
        f.feed("ok\n");
        EXPECT_FALSE(f.pop().ok()) << "the error is sticky";
        EXPECT_EQ(f.pending(), 0u) << "nothing is kept after the error";
    }
}

/* ---- messages ---- */

TEST(Protocol, MessagesHaveTheDocumentedShape) {
    EXPECT_EQ(make_request("route.show").dump(), R"({"args":{},"cmd":"route.show","v":1})");
    EXPECT_EQ(make_request("port.del", {{"ifname", "p0"}}).dump(),
              R"({"args":{"ifname":"p0"},"cmd":"port.del","v":1})");
    EXPECT_EQ(make_request("stats.show", nullptr)["args"], json::object());
    EXPECT_EQ(make_ok(nullptr).dump(), R"({"data":null,"ok":true,"v":1})");
    EXPECT_EQ(make_ok(json::array({1}), true).dump(),
              R"({"data":[1],"more":true,"ok":true,"v":1})");
    EXPECT_EQ(make_error("route exists").dump(), R"({"error":"route exists","ok":false,"v":1})");
    EXPECT_EQ(make_progress({{"lines", 5}}).dump(),
              R"({"more":true,"ok":true,"progress":{"lines":5},"v":1})");
}

TEST(Protocol, EncodeLineIsOneLineAndNeverThrows) {
    std::string line = encode_line(make_error("two\nlines"));
    EXPECT_EQ(line, "{\"error\":\"two\\nlines\",\"ok\":false,\"v\":1}\n");
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
    std::string bad = encode_line(make_error("bad \xff utf8"));
    EXPECT_NE(bad.find("\xef\xbf\xbd"), std::string::npos);
}

TEST(Protocol, EncodeReplyChunksLargeArrays) {
    json data = json::array();
    for (int i = 0; i < 100; i++)
        data.push_back({{"dst", "2001:db8:" + std::to_string(i) + "::/48"}, {"metric", i}});
    auto lines = encode_reply(data, 300);
    ASSERT_GT(lines.size(), 1u);
    json joined = json::array();
    for (size_t i = 0; i < lines.size(); i++) {
        SCOPED_TRACE(i);
        const auto& l = lines[i];
        ASSERT_EQ(l.back(), '\n');
        EXPECT_LE(l.size() - 1, 300u);
        json r = json::parse(l);
        bool last = i + 1 == lines.size();
        EXPECT_EQ(r, make_ok(r["data"], !last));
        EXPECT_EQ(l, encode_line(make_ok(r["data"], !last))) << "same bytes as make_ok";
        for (auto& e : r["data"])
            joined.push_back(e);
    }
    EXPECT_EQ(joined, data);
}

TEST(Protocol, EncodeReplyKeepsSmallOrNonArrayDataWhole) {
    json small = json::array({1, 2, 3});
    EXPECT_EQ(encode_reply(small), std::vector<std::string>{encode_line(make_ok(small))});
    json obj = {{"big", std::string(500, 'x')}};
    EXPECT_EQ(encode_reply(obj, 100), std::vector<std::string>{encode_line(make_ok(obj))});
    json huge_elem = json::array({std::string(500, 'x'), 1});
    auto lines = encode_reply(huge_elem, 100);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(json::parse(lines[0])["data"].size(), 1u);
}

TEST(Protocol, ParseRequestAcceptsGoodRequests) {
    auto r = parse_request(R"({"v":1,"cmd":"route.add","args":{"dst":"::/0","dev":"p0"}})");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->cmd, "route.add");
    EXPECT_EQ(r->args, (json{{"dst", "::/0"}, {"dev", "p0"}}));
    auto no_args = parse_request(R"({"v":1,"cmd":"stats.show"})");
    ASSERT_TRUE(no_args.ok());
    EXPECT_EQ(no_args->args, json::object());
}

struct BadRequestRow {
    const char* line;
    const char* error;
};

TEST(Protocol, ParseRequestRefusesBadRequests) {
    const BadRequestRow rows[] = {
        {"route show", "request is not JSON"},
        {"", "request is not JSON"},
        {"[1,2]", "request is not a JSON object"},
        {R"({"cmd":"route.show"})", "request has no protocol version \"v\""},
        {R"({"v":2,"cmd":"route.show"})", "unsupported protocol version 2; fp6d speaks 1"},
        {R"({"v":"1","cmd":"route.show"})", "unsupported protocol version \"1\"; fp6d speaks 1"},
        {R"({"v":1})", "request has no command \"cmd\""},
        {R"({"v":1,"cmd":7})", "request has no command \"cmd\""},
        {R"({"v":1,"cmd":"route.frob"})", "unknown command \"route.frob\""},
        {R"({"v":1,"cmd":"route.show","args":[]})", "\"args\" is not a JSON object"},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.line);
        auto req = parse_request(r.line);
        ASSERT_FALSE(req.ok());
        EXPECT_TRUE(absl::IsInvalidArgument(req.status()));
        EXPECT_EQ(req.status().message(), r.error);
    }
}

/* A request line of 64 KiB can nest 32768 arrays; printing such a "v" back
 * in the error overflowed the stack (found by test/fuzz/fuzz_control). */
TEST(Protocol, ParseRequestRefusesDeepNesting) {
    auto nested = [](int depth, const char* open, const char* close) {
        std::string v;
        for (int i = 0; i < depth; i++)
            v += open;
        v += "1";
        for (int i = 0; i < depth; i++)
            v += close;
        return v;
    };
    const std::string deep_v = R"({"v":)" + nested(32000, "[", "]") + R"(,"cmd":"port.show"})";
    auto r = parse_request(deep_v);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "request nested deeper than 32 levels");
    // Depth 32 in all, the request object included, is the most taken.
    const std::string args31 =
        R"({"v":1,"cmd":"port.show","args":{"a":)" + nested(30, "[", "]") + "}}";
    EXPECT_TRUE(parse_request(args31).ok()) << parse_request(args31).status();
    const std::string args32 =
        R"({"v":1,"cmd":"port.show","args":{"a":)" + nested(31, "[", "]") + "}}";
    EXPECT_FALSE(parse_request(args32).ok());
    // Brackets inside strings, escaped quotes included, do not count.
    const std::string in_string =
        R"({"v":1,"cmd":"port.show","args":{"a":"\"[[[[)" + std::string(100, '[') + R"("}})";
    EXPECT_TRUE(parse_request(in_string).ok()) << parse_request(in_string).status();
}

/* ---- Client against a tiny server ---- */

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/fp6-protocol-test.XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path_ + "'";
        (void)!::system(cmd.c_str());
    }
    std::string file(const char* name) const { return path_ + "/" + name; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

/* Reads one line from fd (blocking); "" at EOF. */
std::string server_read_line(int fd, LineFramer& f) {
    char buf[4096];
    for (;;) {
        auto l = f.pop();
        if (!l.ok())
            return "";
        if (*l)
            return **l;
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n <= 0)
            return "";
        f.feed(std::string_view(buf, size_t(n)));
    }
}

void server_write(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0)
            return;
        bytes.remove_prefix(size_t(n));
    }
}

/* Listens on a socket in a temp dir and runs serve on the one connection it
 * accepts; the serve function gets the fd and a framer for reading. */
class TestServer {
  public:
    using Serve = std::function<void(int fd, LineFramer& framer)>;

    explicit TestServer(Serve serve) : path_(dir_.file("fp6.sock")) {
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, path_.c_str(), sizeof(sa.sun_path) - 1);
        EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
        EXPECT_EQ(::listen(listen_fd_, 1), 0);
        thread_ = std::thread([this, serve = std::move(serve)] {
            int fd = ::accept(listen_fd_, nullptr, nullptr);
            accepted_ = true;
            if (fd < 0)
                return;
            LineFramer framer(kMaxRequest);
            serve(fd, framer);
            ::close(fd);
        });
    }
    ~TestServer() {
        if (!accepted_) /* wake the accept with a client that closes at once */
            (void)Client::connect(path_);
        thread_.join();
        ::close(listen_fd_);
    }
    const std::string& path() const { return path_; }

  private:
    TempDir dir_;
    std::string path_;
    int listen_fd_ = -1;
    std::atomic<bool> accepted_ = false;
    std::thread thread_;
};

/* A server that answers each request line with the next group of lines. */
TestServer::Serve scripted(std::vector<std::string> answers, std::vector<json>* seen = nullptr) {
    return [answers = std::move(answers), seen](int fd, LineFramer& f) {
        for (const auto& a : answers) {
            std::string req = server_read_line(fd, f);
            if (req.empty())
                return;
            if (seen)
                seen->push_back(json::parse(req, nullptr, false));
            server_write(fd, a);
        }
        server_read_line(fd, f); /* wait for the client to close */
    };
}

TEST(Client, ReturnsTheDataOfAnOkReply) {
    std::vector<json> seen;
    auto answer = encode_line(make_ok({{"dst", "::/0"}, {"type", "unicast"}}));
    TestServer srv(scripted({answer, encode_line(make_ok(nullptr))}, &seen));
    auto c = Client::connect(srv.path());
    ASSERT_TRUE(c.ok()) << c.status();
    auto req = make_request("route.get", {{"dst", "2001:db8::1"}});
    auto data = c->call(req);
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ((*data)["type"], "unicast");
    auto second = c->call(make_request("stats.reset"));
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE(second->is_null());
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], req);
}

TEST(Client, ConcatenatesMoreChunks) {
    std::string lines = encode_line(make_ok(json::array({1, 2}), true)) +
                        encode_line(make_ok(json::array({3}), true)) +
                        encode_line(make_ok(json::array({4})));
    TestServer srv(scripted({lines}));
    auto c = Client::connect(srv.path());
    ASSERT_TRUE(c.ok());
    auto data = c->call(make_request("route.show"));
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(*data, json::array({1, 2, 3, 4}));
}

TEST(Client, HandsProgressLinesOverAndReturnsTheReplyAfterThem) {
    // route.load's shape: progress lines without data, then the summary.
    std::string lines = encode_line(make_progress({{"lines", 10}, {"bytes", 100}})) +
                        encode_line(make_progress({{"lines", 20}, {"bytes", 200}})) +
                        encode_line(make_ok({{"applied", 30}}));
    TestServer srv(scripted({lines, lines}));
    auto c = Client::connect(srv.path());
    ASSERT_TRUE(c.ok());
    std::vector<json> seen;
    auto data = c->call(make_request("route.load"), [&](const json& p) { seen.push_back(p); });
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(*data, json({{"applied", 30}}));
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1]["lines"], 20);
    // Without a callback the progress lines are skipped.
    auto quiet = c->call(make_request("route.load"));
    ASSERT_TRUE(quiet.ok()) << quiet.status();
    EXPECT_EQ(*quiet, json({{"applied", 30}}));
}

TEST(Client, AProgressLineThatEndsTheReplyIsAProtocolError) {
    std::string line = encode_line(json{{"v", 1}, {"ok", true}, {"progress", {{"lines", 1}}}});
    TestServer srv(scripted({line}));
    auto c = Client::connect(srv.path());
    ASSERT_TRUE(c.ok());
    auto data = c->call(make_request("route.load"));
    EXPECT_TRUE(absl::IsInternal(data.status())) << data.status();
}

TEST(Client, ReassemblesEncodeReplyChunksSentByteByByte) {
    json big = json::array();
    for (int i = 0; i < 50; i++)
        big.push_back({{"dst", "2001:db8:" + std::to_string(i) + "::/48"}});
    auto lines = encode_reply(big, 200);
    ASSERT_GT(lines.size(), 3u);
    TestServer srv([&lines](int fd, LineFramer& f) {
        server_read_line(fd, f);
        for (const auto& l : lines)
            for (char ch : l)
                server_write(fd, std::string_view(&ch, 1));
        server_read_line(fd, f);
    });
    auto c = Client::connect(srv.path());
    ASSERT_TRUE(c.ok());
    auto data = c->call(make_request("route.show"));
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(*data, big);
}

TEST(Client, ErrorReplyIsFailedPreconditionAndKeepsTheConnection) {
    TestServer srv(scripted({encode_line(make_error("route exists: 2001:db8::/32 metric 1024")),
                             encode_line(make_ok(json::array()))}));
    auto c = Client::connect(srv.path());
    ASSERT_TRUE(c.ok());
    auto r = c->call(make_request("route.add", {{"dst", "2001:db8::/32"}}));
    EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
    EXPECT_EQ(r.status().message(), "route exists: 2001:db8::/32 metric 1024");
    auto again = c->call(make_request("route.show"));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, json::array());
}

struct BrokenReplyRow {
    const char* name;
    std::string reply;
    absl::StatusCode code;
    const char* message;
};

TEST(Client, BrokenRepliesAreNotRefusals) {
    const BrokenReplyRow rows[] = {
        {"closed", "", absl::StatusCode::kUnavailable, "fp6d closed the connection"},
        {"not json", "hello\n", absl::StatusCode::kInternal,
         "bad reply from fp6d: not a JSON object"},
        {"wrong version",
         R"({"v":2,"ok":true})"
         "\n",
         absl::StatusCode::kInternal, "bad reply from fp6d: protocol version is not 1"},
        {"no ok",
         R"({"v":1})"
         "\n",
         absl::StatusCode::kInternal, "bad reply from fp6d: no \"ok\""},
        {"chunk not array", encode_line(make_ok(json::object(), true)), absl::StatusCode::kInternal,
         "bad reply from fp6d: a chunked reply's \"data\" is not an array"},
        {"oversize", std::string(kMaxReply + 10, 'x'), absl::StatusCode::kInternal,
         "reply from fp6d longer than 1048576 bytes"},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.name);
        TestServer srv([&r](int fd, LineFramer& f) {
            server_read_line(fd, f);
            server_write(fd, r.reply);
            if (r.code != absl::StatusCode::kUnavailable)
                server_read_line(fd, f);
        });
        // A read limit of kMaxReply, so that "oversize" needs only 1 MiB.
        auto c = Client::connect(srv.path(), kDefaultTimeout, kMaxReply);
        ASSERT_TRUE(c.ok());
        auto data = c->call(make_request("route.show"));
        EXPECT_EQ(data.status().code(), r.code) << data.status();
        EXPECT_EQ(data.status().message(), r.message);
        auto after = c->call(make_request("route.show"));
        EXPECT_TRUE(absl::IsUnavailable(after.status())) << "closed after a broken reply";
    }
}

TEST(Client, TimesOutOnAHungDaemon) {
    TestServer srv([](int fd, LineFramer& f) {
        server_read_line(fd, f);
        server_read_line(fd, f); /* never answers; returns when the client closes */
    });
    auto c = Client::connect(srv.path(), std::chrono::milliseconds(100));
    ASSERT_TRUE(c.ok());
    auto start = std::chrono::steady_clock::now();
    auto data = c->call(make_request("route.show"));
    EXPECT_TRUE(absl::IsDeadlineExceeded(data.status())) << data.status();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Client, RefusesOversizeRequestsBeforeSending) {
    TestServer srv(scripted({}));
    auto c = Client::connect(srv.path());
    ASSERT_TRUE(c.ok());
    auto data = c->call(make_request("port.add", {{"devargs", std::string(kMaxRequest, 'x')}}));
    EXPECT_TRUE(absl::IsInvalidArgument(data.status())) << data.status();
}

TEST(Client, MissingSocketIsUnavailable) {
    TempDir dir;
    std::string path = dir.file("nope.sock");
    auto c = Client::connect(path);
    ASSERT_FALSE(c.ok());
    EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
    EXPECT_EQ(c.status().message(), "cannot reach fp6d at " + path + ": No such file or directory");
}

TEST(Client, SocketWithoutListenerIsUnavailable) {
    TempDir dir;
    std::string path = dir.file("dead.sock");
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    ::close(fd);
    auto c = Client::connect(path);
    EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
    EXPECT_EQ(c.status().message(), "cannot reach fp6d at " + path + ": Connection refused");
}

TEST(Client, PermissionDeniedSaysSo) {
    if (::geteuid() == 0)
        GTEST_SKIP() << "root ignores file permissions";
    TestServer srv(scripted({}));
    ASSERT_EQ(::chmod(srv.path().c_str(), 0), 0);
    auto c = Client::connect(srv.path());
    EXPECT_TRUE(absl::IsPermissionDenied(c.status())) << c.status();
    EXPECT_EQ(c.status().message(), "cannot reach fp6d at " + srv.path() + ": permission denied");
    ::chmod(srv.path().c_str(), 0600); /* so the destructor can wake the server */
}

TEST(Client, OverlongPathIsUnavailable) {
    auto c = Client::connect("/tmp/" + std::string(200, 'a'));
    EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
}

}  // namespace
}  // namespace fp6
