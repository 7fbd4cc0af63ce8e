/* The exception path to the host's stack: per fp6 port, optionally, a Linux
 * TUN device (layer 3, IFF_TUN | IFF_NO_PI) that carries the traffic for the
 * router's own addresses which fp6 does not answer itself (TCP, UDP,
 * OSPFv3, ...) to the kernel, and what the kernel's sockets send back.
 *
 * Who does what:
 *  - HostPath (this file) owns the TUN file descriptors, one epoll set over
 *    them (the control thread's event loop watches that one fd), a netlink
 *    socket (libmnl) that gives each TUN the port's usable addresses, its
 *    MTU and its up/down state, and the counters;
 *  - the Router (control/host_router.cc) decides which packets go up
 *    (local_verdict() below, from handle_local/handle_datagram) and routes
 *    what comes down: multicast out of the TUN's port, link-local through
 *    that port's neighbour cache, the rest through the FIB, with the same
 *    resolution queue as transit packets.
 *
 * The kernel side gets no link-local of its own (addr_gen_mode none), no
 * DAD (every address is added `nodad`: fp6 ran DAD already) and no router
 * advertisements: ND and MLD on the link stay fp6's, and what the kernel
 * sends of them into a TUN is dropped and counted.
 *
 * Concurrency: control thread only. No worker touches a TUN. */
#pragma once

#include <sys/types.h>
#include <cstddef>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ip6.h"
#include "control/icmp6.h"

struct nlmsghdr;
struct mnl_socket;

namespace fp6 {

/* Why a packet on the host path was dropped. Stable snake_case names via
 * host_drop_name(): the keys of `stats show` host.drops. */
enum class HostDrop : uint8_t {
    kTunFull,         // "tun_full": the TUN refused the write for now (EAGAIN)
    kTunWriteFailed,  // "tun_write_failed": the write to the TUN failed otherwise
    kMalformed,       // "malformed": from the kernel: not a whole IPv6 packet
    kNdMld,           // "nd_mld": from the kernel: ND or MLD, which fp6 speaks itself
    kBadSource,       // "bad_source": from the kernel: the source is not a usable
                      //   address of ours (of the TUN's port, for a link-local one)
    kNoRoute,         // "no_route": from the kernel: the FIB has no neighbour or
                      //   on-link route for the destination
    kPortDown,        // "port_down": from the kernel while the port is not operational
    kNoMbuf,          // "no_mbuf": no mbuf for a packet from the kernel
    kCount,
};
const char* host_drop_name(HostDrop d);

struct HostCounters {
    uint64_t to_host_packets = 0, to_host_bytes = 0;
    uint64_t from_host_packets = 0, from_host_bytes = 0;
    uint64_t drops[size_t(HostDrop::kCount)] = {};
};

/* ---- pure parts (no kernel): unit-tested in test/unit/host_test.cc ---- */

/* What becomes of a packet addressed to the router once fp6 has taken what
 * it answers itself (ND, echo requests it can answer, MLD queries,
 * fragments), given the RFC 8200 4 walk of its headers (`pp`, from
 * find_param_problem over `ip6`, `len` bytes) and whether its port has a
 * host interface:
 *  kDiscard         the headers say discard silently (also with the host path);
 *  kParamProblem    fp6 sends the Parameter Problem in pp; with the host path,
 *                   an unknown Next Header (code 1: OSPFv3 is one to fp6) goes
 *                   to the host instead, whose stack has the raw sockets and
 *                   sends that error itself when none wants it;
 *  kPortUnreachable UDP to a unicast address without the host path (RFC 4443
 *                   3.1: fp6 itself listens on no port);
 *  kHost            everything else accepted, with the host path, except
 *                   ND (133..137) and MLD (130..132, 143), which are fp6's;
 *  kUnhandled       the rest: nothing answers it. */
enum class LocalVerdict : uint8_t { kDiscard, kParamProblem, kPortUnreachable, kHost, kUnhandled };
LocalVerdict local_verdict(const ParamProblem& pp, const uint8_t* ip6, size_t len, bool host_path);

/* A packet the kernel wrote into a TUN, checked: a whole IPv6 packet
 * (len >= 40, version 6, 40 + Payload Length == len) that is not ND or MLD
 * (ICMPv6 130..137 or 143, directly or after a Hop-by-Hop header). */
struct HostPacket {
    Ip6 src, dst;
};
std::variant<HostDrop, HostPacket> check_from_host(const uint8_t* ip6, size_t len);

/* A change of the host's multicast listening that a kernel MLD message into
 * a TUN announces: the group, and whether the host listens to it now. */
struct MldChange {
    Ip6 group;
    bool listening;
};
/* The changes an MLD message from the kernel announces (ip6: a packet that
 * check_from_host() called ND or MLD): MLDv2 Reports (RFC 3810 5.2: an
 * EXCLUDE record, or an INCLUDE or ALLOW record with sources, listens; an
 * INCLUDE record without sources leaves) and MLDv1 Reports and Dones (RFC
 * 2710 3). Empty for anything else, and for a message cut short. */
std::vector<MldChange> mld_changes(const uint8_t* ip6, size_t len);

/* The kernel name of a port's host interface: the port's own name for
 * `host-if on`, else the name given. InvalidArgument, naming the rule, for
 * a name the kernel refuses (empty, over 15 characters, "." or "..", or with
 * '/', ':' or white space) and for "on"/"off" as a name. */
absl::StatusOr<std::string> host_if_name(const std::string& port_name, const std::string& value);

/* The MTU a TUN gets: the port's, capped so that whatever the kernel sends
 * fits one mbuf after the Ethernet header (`room`: the mbuf's data room),
 * and never below IPv6's 1280. */
uint32_t host_if_mtu(uint32_t port_mtu, uint32_t room);

/* Netlink requests (rtnetlink), built into buf (at least kNlBufSize bytes);
 * each returns the message, with NLM_F_REQUEST | NLM_F_ACK and `seq`. */
inline constexpr size_t kNlBufSize = 512;
/* RTM_NEWADDR (add or replace: NLM_F_CREATE | NLM_F_REPLACE) or
 * RTM_DELADDR of addr/plen on ifindex: flags IFA_F_NODAD, link scope for a
 * link-local address, and for a deprecated one a preferred lifetime of 0
 * (IFA_CACHEINFO), so the kernel does not choose it as a source. */
nlmsghdr* nl_addr_msg(void* buf, bool add, uint32_t ifindex, const Ip6& addr, uint8_t plen,
                      bool deprecated, uint32_t seq);
/* RTM_NEWLINK for ifindex: IFF_UP set or cleared, IFLA_MTU when mtu != 0,
 * and IPv6 address generation off (IFLA_INET6_ADDR_GEN_MODE none) when
 * no_addr_gen. */
nlmsghdr* nl_link_msg(void* buf, uint32_t ifindex, bool up, uint32_t mtu, bool no_addr_gen,
                      uint32_t seq);

/* ---- the TUN devices ---- */

/* What a port's TUN should look like now (the Router computes it). */
struct HostIfWant {
    bool up = false;
    uint32_t mtu = 1500;
    struct Addr {
        Ip6 addr;
        uint8_t plen;
        bool deprecated;
        friend bool operator==(const Addr&, const Addr&) = default;
    };
    std::vector<Addr> addrs;  // usable addresses only
};

class HostPath {
  public:
    HostPath();
    ~HostPath();
    HostPath(const HostPath&) = delete;
    HostPath& operator=(const HostPath&) = delete;

    /* An fd that is readable when any TUN has a packet from the kernel; the
     * event loop watches it and calls the Router, which calls read(). */
    int poll_fd() const { return epfd_; }

    /* Creates the TUN `name` for port (`port_name` for the log) (replacing the port's previous one,
     * which is closed once the new one exists). Unavailable or
     * PermissionDenied naming the TUN and the reason when the kernel refuses
     * (no /dev/net/tun, no CAP_NET_ADMIN, a non-TUN interface of that name);
     * the port's previous TUN is then kept. The new TUN is down, without
     * addresses, until sync(). */
    absl::Status open(uint16_t port, const std::string& port_name, const std::string& name);
    /* Closes the port's TUN (the kernel removes the interface). */
    void close(uint16_t port);
    void close_all();

    bool has(uint16_t port) const { return ifs_.count(port) != 0; }
    std::optional<std::string> name_of(uint16_t port) const;

    /* Brings the port's TUN in line with `want`: up/down, MTU, and its
     * addresses (only those this HostPath added are ever removed). Errors
     * are logged (once per kind and TUN), not returned: the host path is
     * an extra, the port works without it. */
    void sync(uint16_t port, const HostIfWant& want);

    /* Writes an IPv6 packet (its segments, Ethernet header already left
     * out) to the port's TUN; counts it or the drop. False when dropped. */
    bool write(uint16_t port, std::span<const std::span<const uint8_t>> segs);

    /* Ready TUNs, as ports: each has at least one packet for read(). */
    std::vector<uint16_t> ready();
    /* Reads one packet from the port's TUN into buf: its length, 0 when
     * none waits, -1 when the port has no TUN or the read failed (logged;
     * the TUN is then closed, since a readable fd that fails would spin). */
    ssize_t read(uint16_t port, uint8_t* buf, size_t cap);

    /* Counters: all ports together since the last reset (ports whose TUN
     * was closed included), and each open TUN's own. */
    HostCounters& totals() { return totals_; }
    struct IfInfo {
        uint16_t port;
        std::string name;
        bool up;
        HostCounters counters;
    };
    std::vector<IfInfo> list() const;
    void count_drop(uint16_t port, HostDrop d);
    void count_from_host(uint16_t port, size_t bytes);
    void reset_counters();

  private:
    struct HostIf {
        int fd = -1;
        std::string port_name, name;
        uint32_t ifindex = 0;
        bool up = false;
        bool addr_gen_off = false;
        uint32_t mtu = 0;
        std::vector<HostIfWant::Addr> addrs;  // what we added and the kernel has
        HostCounters counters;
        int last_write_errno = 0;  // logged once until it changes
        bool sync_failed = false;  // logged once until a sync succeeds
    };
    absl::Status netlink(nlmsghdr* msg);
    void close_if(HostIf& h);

    int epfd_ = -1;
    struct mnl_socket* nl_ = nullptr;
    uint32_t nl_seq_ = 0;
    std::map<uint16_t, HostIf> ifs_;
    HostCounters totals_;
};

}  // namespace fp6
