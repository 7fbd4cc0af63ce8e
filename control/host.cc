#include "control/host.h"

// glibc's net/if.h before the kernel's headers, which then leave out
// their copies of its definitions.
#include <net/if.h>

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace fp6 {
namespace {

constexpr uint8_t kNhHopByHop = 0;
constexpr uint8_t kNhIcmp6 = 58;
constexpr uint8_t kNhUdp = 17;
constexpr size_t kIp6 = 40;
constexpr uint32_t kMinMtu = 1280;  // RFC 8200 5
constexpr uint32_t kEthHeader = 14;

/* ICMPv6 types fp6 speaks for the port itself: MLD (RFC 2710, RFC 3810:
 * 130 query, 131 and 143 reports, 132 done) and ND (RFC 4861: 133..137). */
bool fp6_owns_icmp6(uint8_t type) {
    return (type >= 130 && type <= 137) || type == 143;
}

}  // namespace

const char* host_drop_name(HostDrop d) {
    switch (d) {
        case HostDrop::kTunFull:
            return "tun_full";
        case HostDrop::kTunWriteFailed:
            return "tun_write_failed";
        case HostDrop::kMalformed:
            return "malformed";
        case HostDrop::kNdMld:
            return "nd_mld";
        case HostDrop::kBadSource:
            return "bad_source";
        case HostDrop::kNoRoute:
            return "no_route";
        case HostDrop::kPortDown:
            return "port_down";
        case HostDrop::kNoMbuf:
            return "no_mbuf";
        case HostDrop::kCount:
            break;
    }
    return "?";
}

LocalVerdict local_verdict(const ParamProblem& pp, const uint8_t* ip6, size_t len, bool host_path) {
    switch (pp.action) {
        case ParamProblem::Action::kDiscard:
            return LocalVerdict::kDiscard;
        case ParamProblem::Action::kSend:
            // RFC 8200 4: an unknown Next Header is the host's to judge: its
            // stack knows the protocols its sockets listen to.
            return host_path && pp.code == kParamUnknownNextHeader ? LocalVerdict::kHost
                                                                   : LocalVerdict::kParamProblem;
        case ParamProblem::Action::kAccept:
            break;
    }
    const bool multicast = len >= kIp6 && ip6[24] == 0xff;
    if (!host_path)
        return pp.next_header == kNhUdp && !multicast ? LocalVerdict::kPortUnreachable
                                                      : LocalVerdict::kUnhandled;
    if (pp.next_header == kNhIcmp6 && (pp.offset >= len || fp6_owns_icmp6(ip6[pp.offset])))
        return LocalVerdict::kUnhandled;
    return LocalVerdict::kHost;
}

std::variant<HostDrop, HostPacket> check_from_host(const uint8_t* ip6, size_t len) {
    if (len < kIp6 || (ip6[0] >> 4) != 6 || kIp6 + (size_t(ip6[4]) << 8 | ip6[5]) != len)
        return HostDrop::kMalformed;
    size_t off = kIp6;
    uint8_t next = ip6[6];
    // MLD messages come after a Hop-by-Hop header (Router Alert, RFC 2711).
    if (next == kNhHopByHop) {
        if (off + 8 > len)
            return HostDrop::kMalformed;
        next = ip6[off];
        off += (size_t(ip6[off + 1]) + 1) * 8;
    }
    if (next == kNhIcmp6 && off < len && fp6_owns_icmp6(ip6[off]))
        return HostDrop::kNdMld;
    return HostPacket{Ip6::from_bytes(ip6 + 8), Ip6::from_bytes(ip6 + 24)};
}

std::vector<MldChange> mld_changes(const uint8_t* ip6, size_t len) {
    constexpr uint8_t kMld1Report = 131, kMld1Done = 132, kMld2Report = 143;
    constexpr uint8_t kModeIsInclude = 1, kModeIsExclude = 2, kToInclude = 3, kToExclude = 4,
                      kAllowNew = 5;
    std::vector<MldChange> out;
    if (len < kIp6)
        return out;
    size_t off = kIp6;
    uint8_t next = ip6[6];
    if (next == kNhHopByHop) {
        if (off + 8 > len)
            return out;
        next = ip6[off];
        off += (size_t(ip6[off + 1]) + 1) * 8;
    }
    if (next != kNhIcmp6 || off + 8 > len)
        return out;
    const uint8_t* icmp = ip6 + off;
    const size_t n = len - off;
    switch (icmp[0]) {
        case kMld1Report:
        case kMld1Done:
            if (n >= 24)
                out.push_back({Ip6::from_bytes(icmp + 8), icmp[0] == kMld1Report});
            return out;
        case kMld2Report:
            break;
        default:
            return out;
    }
    // RFC 3810 5.2: the records follow an 8-byte header that counts them.
    const size_t records = size_t(icmp[6]) << 8 | icmp[7];
    size_t at = 8;
    for (size_t r = 0; r < records; r++) {
        if (at + 20 > n)
            return {};
        const uint8_t type = icmp[at];
        const size_t aux = size_t(icmp[at + 1]) * 4;
        const size_t sources = size_t(icmp[at + 2]) << 8 | icmp[at + 3];
        const Ip6 group = Ip6::from_bytes(icmp + at + 4);
        const size_t end = at + 20 + 16 * sources + aux;
        if (end > n)
            return {};
        if (type == kModeIsExclude || type == kToExclude)
            out.push_back({group, true});
        else if (type == kModeIsInclude || type == kToInclude || type == kAllowNew)
            out.push_back({group, sources > 0});
        at = end;
    }
    return out;
}

absl::StatusOr<std::string> host_if_name(const std::string& port_name, const std::string& value) {
    if (value == "off")
        return absl::InvalidArgumentError("\"off\" is not an interface name");
    const std::string name = value == "on" ? port_name : value;
    auto bad = [&](const char* why) {
        return absl::InvalidArgumentError(
            fmt::format("host interface name \"{}\" {}{}", name, why,
                        value == "on" ? " (it is the port's name: give one, host-if IFNAME)" : ""));
    };
    // As the kernel's dev_valid_name().
    if (name.empty() || name.size() >= IFNAMSIZ)
        return bad("must be 1..15 characters");
    if (name == "." || name == "..")
        return bad("is not allowed");
    if (name.find_first_of("/: \t\n\r\v\f") != std::string::npos)
        return bad("must not contain '/', ':' or white space");
    if (value != "on" && name == "on")
        return bad("is not allowed");
    return name;
}

uint32_t host_if_mtu(uint32_t port_mtu, uint32_t room) {
    uint32_t cap = room > kEthHeader ? room - kEthHeader : 0;
    return std::max(std::min(port_mtu, cap), kMinMtu);
}

nlmsghdr* nl_addr_msg(void* buf, bool add, uint32_t ifindex, const Ip6& addr, uint8_t plen,
                      bool deprecated, uint32_t seq) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
    nlh->nlmsg_seq = seq;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_INET6;
    ifa->ifa_prefixlen = plen;
    ifa->ifa_flags = IFA_F_NODAD;
    ifa->ifa_scope = addr.is_linklocal() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    mnl_attr_put(nlh, IFA_ADDRESS, 16, addr.data());
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
    if (add && deprecated) {
        // A preferred lifetime of 0 deprecates it (RFC 4862 5.5.4): the
        // kernel keeps it for what is bound to it, chooses it for nothing new.
        ifa_cacheinfo ci{};
        ci.ifa_prefered = 0;
        ci.ifa_valid = 0xffffffffu;  // forever: fp6 removes it when it expires
        mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
    }
    return nlh;
}

nlmsghdr* nl_link_msg(void* buf, uint32_t ifindex, bool up, uint32_t mtu, bool no_addr_gen,
                      uint32_t seq) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = int(ifindex);
    ifi->ifi_flags = up ? IFF_UP : 0;
    ifi->ifi_change = IFF_UP;
    if (mtu != 0)
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    if (no_addr_gen) {
        // fp6's own link-local goes on the TUN; the kernel makes none.
        nlattr* spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
        nlattr* inet6 = mnl_attr_nest_start(nlh, AF_INET6);
        mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
        mnl_attr_nest_end(nlh, inet6);
        mnl_attr_nest_end(nlh, spec);
    }
    return nlh;
}

/* ---- HostPath ---- */

HostPath::HostPath() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {}

HostPath::~HostPath() {
    close_all();
    if (nl_ != nullptr)
        mnl_socket_close(nl_);
    if (epfd_ >= 0)
        ::close(epfd_);
}

absl::Status HostPath::open(uint16_t port, const std::string& port_name, const std::string& name) {
    auto refused = [&](int e, const std::string& what) {
        std::string msg = fmt::format("host interface {}: {}: {}", name, what, strerror(e));
        if (e == EPERM || e == EACCES)
            return absl::PermissionDeniedError(msg + " (fp6d needs CAP_NET_ADMIN)");
        return absl::UnavailableError(msg);
    };
    if (if_nametoindex(name.c_str()) != 0)
        return absl::AlreadyExistsError(
            fmt::format("host interface {}: the kernel has an interface of that name", name));
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return refused(errno, "cannot open /dev/net/tun");
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), size_t(IFNAMSIZ - 1)));
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        int e = errno;
        ::close(fd);
        return refused(e, "cannot create the TUN");
    }
    uint32_t ifindex = if_nametoindex(name.c_str());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = port;
    if (ifindex == 0 || epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int e = errno;
        ::close(fd);
        return refused(e, "cannot watch the TUN");
    }
    // The kernel must not take router advertisements on it: fp6 never
    // passes them up, and its addresses come from fp6.
    std::string ra = fmt::format("/proc/sys/net/ipv6/conf/{}/accept_ra", name);
    if (int s = ::open(ra.c_str(), O_WRONLY | O_CLOEXEC); s >= 0) {
        if (::write(s, "0", 1) != 1)
            FP6_LOG(DEBUG, Port, "{}: accept_ra not set: {}", name, strerror(errno));
        ::close(s);
    }
    close(port);
    HostIf h;
    h.fd = fd;
    h.port_name = port_name;
    h.name = name;
    h.ifindex = ifindex;
    ifs_[port] = std::move(h);
    FP6_LOG(INFO, Port, "{}: host interface {} created (ifindex {})", port_name, name, ifindex);
    return absl::OkStatus();
}

void HostPath::close_if(HostIf& h) {
    if (h.fd < 0)
        return;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, h.fd, nullptr);
    ::close(h.fd);  // the last reference: the kernel removes the interface
    h.fd = -1;
    FP6_LOG(INFO, Port, "{}: host interface {} removed", h.port_name, h.name);
}

void HostPath::close(uint16_t port) {
    auto it = ifs_.find(port);
    if (it == ifs_.end())
        return;
    close_if(it->second);
    ifs_.erase(it);
}

void HostPath::close_all() {
    for (auto& [port, h] : ifs_)
        close_if(h);
    ifs_.clear();
}

std::optional<std::string> HostPath::name_of(uint16_t port) const {
    auto it = ifs_.find(port);
    if (it == ifs_.end())
        return std::nullopt;
    return it->second.name;
}

absl::Status HostPath::netlink(nlmsghdr* msg) {
    if (nl_ == nullptr) {
        nl_ = mnl_socket_open(NETLINK_ROUTE);
        if (nl_ == nullptr)
            return absl::UnavailableError(fmt::format("netlink socket: {}", strerror(errno)));
        // Every request waits for its answer; the kernel gives it at once,
        // this only bounds a surprise.
        timeval tv{1, 0};
        setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
            int e = errno;
            mnl_socket_close(nl_);
            nl_ = nullptr;
            return absl::UnavailableError(fmt::format("netlink bind: {}", strerror(e)));
        }
    }
    if (mnl_socket_sendto(nl_, msg, msg->nlmsg_len) < 0)
        return absl::UnavailableError(fmt::format("netlink send: {}", strerror(errno)));
    const uint32_t portid = mnl_socket_get_portid(nl_);
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    // Answers to earlier requests that timed out carry other sequence
    // numbers (EPROTO): skip them.
    for (int tries = 0; tries < 8; tries++) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
        if (n < 0)
            return absl::UnavailableError(fmt::format("netlink receive: {}", strerror(errno)));
        int rc = mnl_cb_run(buf.data(), size_t(n), msg->nlmsg_seq, portid, nullptr, nullptr);
        if (rc >= 0)
            return absl::OkStatus();
        if (errno != EPROTO && errno != ESRCH)
            return absl::Status(errno == EEXIST ? absl::StatusCode::kAlreadyExists
                                : errno == EADDRNOTAVAIL || errno == ENODEV
                                    ? absl::StatusCode::kNotFound
                                    : absl::StatusCode::kUnavailable,
                                strerror(errno));
    }
    return absl::UnavailableError("netlink: no answer to the request");
}

void HostPath::sync(uint16_t port, const HostIfWant& want) {
    auto it = ifs_.find(port);
    if (it == ifs_.end())
        return;
    HostIf& h = it->second;
    alignas(nlmsghdr) char buf[kNlBufSize];
    std::string failed;
    auto note = [&](const absl::Status& st, const std::string& what) {
        if (!st.ok() && failed.empty())
            failed = fmt::format("{}: {}", what, std::string(st.message()));
        return st.ok();
    };
    if (!h.addr_gen_off) {
        if (note(netlink(nl_link_msg(buf, h.ifindex, false, want.mtu, true, ++nl_seq_)),
                 "address generation off")) {
            h.addr_gen_off = true;
            h.mtu = want.mtu;
        }
    }
    auto del_addr = [&](const HostIfWant::Addr& a) {
        absl::Status st =
            netlink(nl_addr_msg(buf, false, h.ifindex, a.addr, a.plen, false, ++nl_seq_));
        // NotFound: the kernel removed it already (the link went down).
        if (!absl::IsNotFound(st))
            note(st, fmt::format("remove {}/{}", a.addr.str(), a.plen));
    };
    if (!want.up) {
        // Addresses first, then the link: nothing is left for a socket to
        // use while the port cannot carry it.
        for (const HostIfWant::Addr& a : h.addrs)
            del_addr(a);
        h.addrs.clear();
        if (h.up && note(netlink(nl_link_msg(buf, h.ifindex, false, 0, false, ++nl_seq_)), "down"))
            h.up = false;
    }
    if (want.mtu != h.mtu &&
        note(netlink(nl_link_msg(buf, h.ifindex, h.up, want.mtu, false, ++nl_seq_)), "mtu"))
        h.mtu = want.mtu;
    if (want.up && !h.up &&
        note(netlink(nl_link_msg(buf, h.ifindex, true, 0, false, ++nl_seq_)), "up"))
        h.up = true;
    if (want.up && h.up) {
        std::vector<HostIfWant::Addr> kept;
        for (const HostIfWant::Addr& a : h.addrs) {
            bool stays = std::any_of(want.addrs.begin(), want.addrs.end(), [&](const auto& w) {
                return w.addr == a.addr && w.plen == a.plen;
            });
            if (stays)
                kept.push_back(a);
            else
                del_addr(a);
        }
        h.addrs = kept;
        for (const HostIfWant::Addr& w : want.addrs) {
            auto have = std::find_if(h.addrs.begin(), h.addrs.end(), [&](const auto& a) {
                return a.addr == w.addr && a.plen == w.plen;
            });
            if (have != h.addrs.end() && *have == w)
                continue;
            absl::Status st =
                netlink(nl_addr_msg(buf, true, h.ifindex, w.addr, w.plen, w.deprecated, ++nl_seq_));
            if (!note(st, fmt::format("add {}/{}", w.addr.str(), w.plen)))
                continue;
            if (have != h.addrs.end())
                *have = w;
            else
                h.addrs.push_back(w);
        }
    }
    if (!failed.empty() && !h.sync_failed)
        FP6_LOG(ERR, Port, "host interface {}: {} (logged once until it works again)", h.name,
                failed);
    if (failed.empty() && h.sync_failed)
        FP6_LOG(INFO, Port, "host interface {}: in line with the port again", h.name);
    h.sync_failed = !failed.empty();
}

bool HostPath::write(uint16_t port, std::span<const std::span<const uint8_t>> segs) {
    auto it = ifs_.find(port);
    if (it == ifs_.end())
        return false;
    HostIf& h = it->second;
    constexpr size_t kMaxIov = 64;
    iovec iov[kMaxIov];
    size_t n = 0, bytes = 0;
    for (const auto& s : segs) {
        if (n == kMaxIov)
            break;
        iov[n].iov_base = const_cast<uint8_t*>(s.data());
        iov[n].iov_len = s.size();
        bytes += s.size();
        n++;
    }
    ssize_t rc = n == segs.size() ? ::writev(h.fd, iov, int(n)) : (errno = EMSGSIZE, -1);
    if (rc < 0) {
        int e = errno;
        count_drop(
            port, e == EAGAIN || e == EWOULDBLOCK ? HostDrop::kTunFull : HostDrop::kTunWriteFailed);
        if (e != h.last_write_errno)
            FP6_LOG(WARNING, Port, "host interface {}: write: {} (logged once until it changes)",
                    h.name, strerror(e));
        h.last_write_errno = e;
        return false;
    }
    h.last_write_errno = 0;
    for (HostCounters* c : {&totals_, &h.counters}) {
        c->to_host_packets++;
        c->to_host_bytes += bytes;
    }
    return true;
}

std::vector<uint16_t> HostPath::ready() {
    std::vector<uint16_t> ports;
    if (ifs_.empty())
        return ports;
    epoll_event evs[32];
    int n = epoll_wait(epfd_, evs, 32, 0);
    for (int i = 0; i < n; i++)
        ports.push_back(uint16_t(evs[i].data.u32));
    return ports;
}

ssize_t HostPath::read(uint16_t port, uint8_t* buf, size_t cap) {
    auto it = ifs_.find(port);
    if (it == ifs_.end())
        return -1;
    for (;;) {
        ssize_t n = ::read(it->second.fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        // The interface was deleted under us, or worse: a readable fd that
        // fails would spin the event loop. Close it; `port set NAME
        // host-if ...` opens a new one.
        FP6_LOG(ERR, Port, "host interface {}: read: {}: closed", it->second.name, strerror(errno));
        close(port);
        return -1;
    }
}

std::vector<HostPath::IfInfo> HostPath::list() const {
    std::vector<IfInfo> out;
    for (const auto& [port, h] : ifs_)
        out.push_back({port, h.name, h.up, h.counters});
    return out;
}

void HostPath::count_drop(uint16_t port, HostDrop d) {
    totals_.drops[size_t(d)]++;
    if (auto it = ifs_.find(port); it != ifs_.end())
        it->second.counters.drops[size_t(d)]++;
}

void HostPath::count_from_host(uint16_t port, size_t bytes) {
    totals_.from_host_packets++;
    totals_.from_host_bytes += bytes;
    if (auto it = ifs_.find(port); it != ifs_.end()) {
        it->second.counters.from_host_packets++;
        it->second.counters.from_host_bytes += bytes;
    }
}

void HostPath::reset_counters() {
    totals_ = HostCounters{};
    for (auto& [port, h] : ifs_)
        h.counters = HostCounters{};
}

}  // namespace fp6
