#include "control/running_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"
#include "control/api/grammar.h"
#include "control/host.h"
#include "control/router.h"

namespace fp6 {

std::string config_word(std::string_view value) {
    std::vector<std::string> words = split_words(value);
    if (!value.empty() && words.size() == 1 && words[0] == value)
        return std::string(value);
    std::string q = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\')
            q += '\\';
        q += c;
    }
    return q + "\"";
}

void append_routes(std::string& out, const Rib& rib) {
    auto path_words = [&](const RoutePath& p, bool weight) {
        std::string w;
        if (p.gateway)
            w += fmt::format(" via {}", p.gateway->str());
        if (const RibPortInfo* info = rib.port_info(p.port))
            w += fmt::format(" dev {}", info->name);
        if (weight && p.weight != 1)
            w += fmt::format(" weight {}", p.weight);
        return w;
    };
    for (const Route* r : rib.routes()) {
        if (r->origin != RouteOrigin::kStatic)
            continue;
        out += "route add";
        if (r->type != RouteType::kUnicast)
            out += fmt::format(" {}", route_type_name(r->type));
        out += " " + (r->dst.len() == 0 ? std::string("default") : r->dst.str());
        if (r->paths.size() == 1)
            out += path_words(r->paths[0], true);
        if (r->metric != kMetricDefault)
            out += fmt::format(" metric {}", r->metric);
        if (r->prefsrc)
            out += fmt::format(" src {}", r->prefsrc->str());
        if (!r->paths.empty() && r->paths[0].recursive)
            out += " recursive";
        if (r->paths.size() > 1)
            for (const RoutePath& p : r->paths)
                out += " nexthop" + path_words(p, true);
        // A gateway route that is inactive now (its gateway not on-link: an
        // address removed, a port down) would be refused by a plain `route
        // add` on replay; `pending` adds it inactive, as it is.
        if (!r->active && r->type == RouteType::kUnicast &&
            std::any_of(r->paths.begin(), r->paths.end(),
                        [](const RoutePath& p) { return p.gateway && !p.recursive; }))
            out += " pending";
        out += "\n";
    }
}

namespace {

absl::Status errno_status(const std::string& what) {
    int e = errno;
    std::string msg = fmt::format("{}: {}", what, strerror(e));
    if (e == EACCES || e == EPERM || e == EROFS)
        return absl::PermissionDeniedError(msg);
    if (e == ENOENT || e == ENOTDIR)
        return absl::NotFoundError(msg);
    return absl::InternalError(msg);
}

bool write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        text.remove_prefix(size_t(n));
    }
    return true;
}

}  // namespace

absl::Status write_file_atomic(const std::string& path, std::string_view text) {
    std::filesystem::path p(path);
    if (!p.is_absolute())
        return absl::InvalidArgumentError(
            fmt::format("\"{}\" is not an absolute path (fp6d writes it, from its own "
                        "directory)",
                        path));
    if (!p.has_filename())
        return absl::InvalidArgumentError(fmt::format("\"{}\" names a directory", path));
    struct stat st;
    mode_t mode = 0640;
    if (stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return absl::InvalidArgumentError(fmt::format("\"{}\" is a directory", path));
        mode = st.st_mode & 07777;
    }
    const std::string dir = p.parent_path().string();
    std::string tmp = fmt::format("{}/.{}.XXXXXX", dir, p.filename().string());
    int fd = mkstemp(tmp.data());
    if (fd < 0)
        return errno_status(fmt::format("cannot create a file in {}", dir));
    // Until the rename, the old file is untouched: any failure below only
    // removes the temporary file.
    auto fail = [&](const std::string& what) {
        absl::Status s = errno_status(what);
        close(fd);
        unlink(tmp.c_str());
        return s;
    };
    if (fchmod(fd, mode) != 0)
        return fail(fmt::format("chmod {}", tmp));
    if (!write_all(fd, text))
        return fail(fmt::format("cannot write {}", tmp));
    // The data must be on disk before the rename makes it the file: else a
    // crash could leave the new name pointing at an empty file.
    if (fsync(fd) != 0)
        return fail(fmt::format("fsync {}", tmp));
    if (close(fd) != 0) {
        absl::Status s = errno_status(fmt::format("close {}", tmp));
        unlink(tmp.c_str());
        return s;
    }
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        absl::Status s = errno_status(fmt::format("cannot rename {} to {}", tmp, path));
        unlink(tmp.c_str());
        return s;
    }
    // The rename itself lives in the directory: sync it so the new name
    // survives a crash too.
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno_status(fmt::format("open {}", dir));
    int rc = fsync(dfd);
    absl::Status s = rc == 0 ? absl::OkStatus() : errno_status(fmt::format("fsync {}", dir));
    close(dfd);
    return s;
}

/* ---- Router: the running state as commands ---- */

namespace {

/* The `port set` words of the settings that differ from a new port's. */
std::string port_settings(const PortNd& nd, const NcParams& ncp, bool redirects, uint32_t icmp_rate,
                          uint32_t icmp_burst) {
    const PortNd fresh;
    const NcParams nc_fresh;
    std::string s;
    if (nd.dad.transmits != fresh.dad.transmits)
        s += fmt::format(" dad-transmits {}", nd.dad.transmits);
    // retrans-timer sets both DAD's and the neighbour cache's timer.
    if (ncp.retrans_ms != nc_fresh.retrans_ms || nd.dad.retrans_ms != fresh.dad.retrans_ms)
        s += fmt::format(" retrans-timer {}", ncp.retrans_ms);
    if (nd.strict_source)
        s += " strict-source on";
    if (icmp_rate != kIcmpDefaultRate)
        s += fmt::format(" icmp-rate {}", icmp_rate);
    if (icmp_burst != kIcmpDefaultBurst)
        s += fmt::format(" icmp-burst {}", icmp_burst);
    if (nd.icmp_hop_limit != fresh.icmp_hop_limit)
        s += fmt::format(" icmp-hop-limit {}", nd.icmp_hop_limit);
    if (ncp.base_reachable_ms != nc_fresh.base_reachable_ms)
        s += fmt::format(" base-reachable {}", ncp.base_reachable_ms);
    if (ncp.neigh_max != nc_fresh.neigh_max)
        s += fmt::format(" neigh-max {}", ncp.neigh_max);
    if (!redirects)
        s += " redirects off";
    return s;
}

/* The `port set NAME ra ...` lines of a port's advertisement settings. */
void append_ra(std::string& out, const std::string& name, const RaConfig& ra) {
    const RaConfig fresh;
    const RaPrefix pfresh;
    for (const RaPrefix& p : ra.prefixes) {
        out += fmt::format("port set {} ra prefix {}", name, p.prefix.str());
        if (!p.on_link)
            out += " no-onlink";
        if (!p.autonomous)
            out += " no-autonomous";
        if (p.valid_lft != pfresh.valid_lft || p.preferred_lft != pfresh.preferred_lft)
            out += fmt::format(" valid_lft {} preferred_lft {}", p.valid_lft, p.preferred_lft);
        out += "\n";
    }
    std::string opts;
    if (ra.max_interval_s != fresh.max_interval_s)
        opts += fmt::format(" interval {}", ra.max_interval_s);
    if (ra.lifetime_s)
        opts += fmt::format(" lifetime {}", *ra.lifetime_s);
    if (ra.mtu)
        opts += fmt::format(" mtu {}", *ra.mtu);
    // TODO: MinRtrAdvInterval, the M and O flags, hop limit, reachable and
    // retrans times of the RA have no command yet, so they are not written.
    if (ra.enabled || !opts.empty())
        out += fmt::format("port set {} ra {}{}\n", name, ra.enabled ? "on" : "off", opts);
}

}  // namespace

std::string Router::running_config() const {
    std::string out = fmt::format("# fp6 running configuration (fp6d {})\n", FP6_VERSION);
    const uint64_t now = now_ms();
    std::vector<uint16_t> ports = dp_->port_ids();
    for (uint16_t id : ports) {
        const PortState& ps = dp_->port(id);
        auto nd = port_nd_.find(id);
        if (nd == port_nd_.end())
            continue;
        out += fmt::format("\nport add {} devargs {}", ps.name, config_word(ps.devargs));
        if (ps.mtu != 1500)
            out += fmt::format(" mtu {}", ps.mtu);
        if (nd->second.no_linklocal)
            out += " no-linklocal";
        out += "\n";
        const PortView& pv = tables_->ports[id];
        std::string set = port_settings(nd->second, ncache_.params(id), pv.redirects.load(),
                                        pv.icmp_rate.load(), pv.icmp_burst.load());
        // The host interface: `on` names it after the port.
        if (auto host = host_->name_of(id))
            set +=
                *host == ps.name ? " host-if on" : fmt::format(" host-if {}", config_word(*host));
        if (!set.empty())
            out += fmt::format("port set {}{}\n", ps.name, set);
        // As `ip addr`: a lifetime is written as what is left of it now.
        auto left = [&](std::optional<uint64_t> until) {
            return *until > now ? (*until - now) / 1000 : 0;
        };
        for (const Address& a : addrs_.on_port(id)) {
            if (a.auto_linklocal)
                continue;  // made again from the MAC when the port comes up
            out += fmt::format("addr add {}/{} dev {}", a.addr.str(), a.plen, ps.name);
            if (a.opts.operator_preferred)
                out += " preferred-source";
            if (a.opts.temporary)
                out += " temporary";
            if (a.opts.autoconf)
                out += " autoconf";
            if (a.opts.preferred_until)
                out += fmt::format(" preferred_lft {}",
                                   a.deprecated ? 0 : left(a.opts.preferred_until));
            if (a.opts.valid_until)
                out += fmt::format(" valid_lft {}", left(a.opts.valid_until));
            out += "\n";
        }
    }
    // Ports come up once their addresses are there (one DAD each), and
    // before the routes whose gateways their connected routes make on-link.
    std::string section;
    for (uint16_t id : ports)
        if (dp_->port(id).admin_up)
            section += fmt::format("port set {} up\n", dp_->port(id).name);
    for (uint16_t id : ports) {
        auto nd = port_nd_.find(id);
        if (nd != port_nd_.end())
            append_ra(section, dp_->port(id).name, nd->second.ra);
    }
    if (!section.empty())
        out += "\n" + section;
    section.clear();
    for (const NcEntry& n : ncache_.list(now)) {
        if (n.state != NcState::kPermanent || !n.mac)
            continue;
        section += fmt::format("neigh add {} lladdr {} dev {}{}\n", n.addr.str(), n.mac->str(),
                               dp_->port(n.port).name, n.router ? " router" : "");
    }
    append_routes(section, rib_);
    if (!section.empty())
        out += "\n" + section;
    // The policy table as changes to RFC 6724's default one: deletions
    // first, since an add of a default prefix replaces its entry.
    section.clear();
    const std::vector<PolicyTable::Entry> fresh = PolicyTable().list(), cur = policy_.list();
    auto has = [](const std::vector<PolicyTable::Entry>& v, const PolicyTable::Entry& e,
                  bool whole) {
        for (const PolicyTable::Entry& x : v)
            if (x.prefix == e.prefix && (!whole || x == e))
                return true;
        return false;
    };
    for (const PolicyTable::Entry& e : fresh)
        if (!has(cur, e, false))
            section += fmt::format("policy del {}\n", e.prefix.str());
    for (const PolicyTable::Entry& e : cur)
        if (!has(fresh, e, true))
            section += fmt::format("policy add {} precedence {} label {}\n", e.prefix.str(),
                                   e.precedence, e.label);
    if (!section.empty())
        out += "\n" + section;
    return out;
}

absl::StatusOr<nlohmann::json> Router::config_show(const nlohmann::json&) {
    // One JSON string, one reply line: clients read lines of up to
    // kMaxReplyRead (256 MiB; the real table's config is about 11 MB).
    return nlohmann::json(running_config());
}

absl::StatusOr<nlohmann::json> Router::config_save(const nlohmann::json& a) {
    std::string path = cfg_.config_path;
    if (auto it = a.find("file"); it != a.end()) {
        if (!it->is_string() || it->get<std::string>().empty())
            return absl::InvalidArgumentError("\"file\" must be a path");
        path = it->get<std::string>();
    }
    if (path.empty())
        return absl::FailedPreconditionError(
            "no FILE given, and fp6d was started without --config to save to");
    std::string text = running_config();
    if (absl::Status st = write_file_atomic(path, text); !st.ok())
        return st;
    FP6_LOG(INFO, Control, "running configuration saved to {}", path);
    return nlohmann::json{{"file", path}, {"bytes", text.size()}};
}

}  // namespace fp6
