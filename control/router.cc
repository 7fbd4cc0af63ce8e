#include "control/router.h"

#include "common/status.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <sys/stat.h>
#include <time.h>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

#include "common/log.h"
#include "control/api/grammar.h"
#include "control/host.h"
#include "control/stats.h"
#include "nd/ndp.h"

namespace fp6 {

namespace {

absl::StatusOr<std::string> str_arg(const nlohmann::json& a, const char* key) {
    auto it = a.find(key);
    if (it == a.end() || !it->is_string())
        return absl::InvalidArgumentError(fmt::format("missing \"{}\"", key));
    return it->get<std::string>();
}

std::optional<std::string> opt_str(const nlohmann::json& a, const char* key) {
    auto it = a.find(key);
    if (it == a.end() || !it->is_string())
        return std::nullopt;
    return it->get<std::string>();
}

absl::StatusOr<std::optional<uint64_t>> opt_num(const nlohmann::json& a, const char* key,
                                                uint64_t max) {
    auto it = a.find(key);
    if (it == a.end())
        return std::optional<uint64_t>();
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<uint64_t>() > max)
        return absl::InvalidArgumentError(fmt::format("\"{}\" must be a number 0..{}", key, max));
    return std::optional<uint64_t>(it->get<uint64_t>());
}

absl::StatusOr<Ip6> parse_addr(const std::string& text, const char* what) {
    auto a = Ip6::parse(text);
    if (!a)
        return absl::InvalidArgumentError(fmt::format("malformed {} \"{}\"", what, text));
    return *a;
}

absl::StatusOr<Prefix6> parse_prefix(const std::string& text) {
    auto p = Prefix6::parse(text);
    if (!p)
        return absl::InvalidArgumentError(fmt::format("malformed prefix \"{}\"", text));
    return *p;
}

}  // namespace

Router::Router(RouterConfig cfg)
    : cfg_(std::move(cfg)),
      tables_(std::make_unique<Tables>()),
      nexthops_(cfg_.max_nexthops),
      fib_(cfg_.fib_groups),
      rib_(nexthops_, fib_),
      addrs_(rib_),
      ncache_() {
    tables_->fib = &fib_;
    tables_->nexthops = &nexthops_;
    if (size_t bytes = fib_.populate(cfg_.fib_prefault); bytes != 0)
        FP6_LOG(INFO, Rib, "FIB: {} KiB of groups backed at start (--fib-prefault)", bytes >> 10);
    if (!fib_.set_walk(cfg_.fib_walk))
        FP6_LOG(WARNING, Rib, "this CPU cannot run the {} FIB lookup; scalar it is",
                Lpm6::walk_name(cfg_.fib_walk));
    host_ = std::make_unique<HostPath>();
    if (!cfg_.clock)
        cfg_.clock = [] {
            timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
        };
}

Router::~Router() {
    // The address lists last published (publish_port_addrs): no worker runs
    // any more (they are stopped before shutdown()), so none is left to wait
    // for. LeakSanitizer found them (test/unit/malformed_test.cc).
    if (tables_ != nullptr)
        for (PortView& p : tables_->ports) {
            delete p.addrs;
            p.addrs = nullptr;
        }
}

absl::Status Router::init() {
    dp_ = std::make_unique<Dataplane>(cfg_.dataplane);
    FP6_RETURN_IF_ERROR(dp_->init(tables_.get()));
    FP6_ASSIGN(reasm, Reassembler::create(ReasmConfig{}, dp_->pool()));
    reasm_ = std::move(reasm);
    return absl::OkStatus();
}

void Router::shutdown() {
    host_->close_all();  // the kernel removes the host interfaces
    reasm_.reset();      // its mbufs go back while the pool exists
    for (uint16_t id : dp_->port_ids())
        dp_->del_port(id);
}

const std::vector<std::pair<std::string_view, Router::Handler>>& Router::handlers() {
    static const std::vector<std::pair<std::string_view, Handler>> table = {
        {"port.add", &Router::port_add},           {"port.set", &Router::port_set},
        {"port.del", &Router::port_del},           {"port.show", &Router::port_show},
        {"addr.add", &Router::addr_add},           {"addr.del", &Router::addr_del},
        {"addr.show", &Router::addr_show},         {"route.add", &Router::route_add},
        {"route.del", &Router::route_del},         {"route.append", &Router::route_append},
        {"route.replace", &Router::route_replace}, {"route.flush", &Router::route_flush},
        {"route.load", &Router::route_load},       {"route.show", &Router::route_show},
        {"route.get", &Router::route_get},         {"neigh.add", &Router::neigh_add},
        {"neigh.del", &Router::neigh_del},         {"neigh.show", &Router::neigh_show},
        {"neigh.flush", &Router::neigh_flush},     {"stats.show", &Router::stats_show},
        {"stats.reset", &Router::stats_reset},     {"policy.show", &Router::policy_show},
        {"policy.add", &Router::policy_add},       {"policy.del", &Router::policy_del},
        {"config.show", &Router::config_show},     {"config.save", &Router::config_save},
    };
    return table;
}

absl::StatusOr<nlohmann::json> Router::execute(const Request& req, bool sliced) {
    stream_ = nullptr;  // a stream nobody took ends with the next request
    // A job must run to its end (its last slice commits it); one nobody took
    // runs now, and so does a job for a caller that takes none.
    auto finish = [](Job job) -> absl::StatusOr<nlohmann::json> {
        for (;;)
            if (JobStep s = job(); s.done)
                return std::move(s.data);
    };
    if (job_)
        (void)finish(std::exchange(job_, nullptr));
    for (const auto& [name, fn] : handlers())
        if (name == req.cmd) {
            absl::StatusOr<nlohmann::json> out = (this->*fn)(req.args);
            if (!job_ || sliced)
                return out;
            return finish(std::exchange(job_, nullptr));
        }
    return absl::UnimplementedError(fmt::format("unknown command \"{}\"", req.cmd));
}

absl::StatusOr<uint16_t> Router::port_by_name(const nlohmann::json& a, const char* key) const {
    FP6_ASSIGN(name, str_arg(a, key));
    uint16_t id;
    if (dp_->find_port(name, &id) == nullptr)
        return absl::NotFoundError(fmt::format("unknown port \"{}\"", name));
    return id;
}

absl::Status Router::commit(const std::function<void()>& undo) {
    absl::Status st = rib_.commit();
    if (st.ok())
        return st;
    undo();
    if (absl::Status again = rib_.commit(); !again.ok())
        FP6_LOG(ERR, Rib, "cannot republish the previous FIB: {}", std::string(again.message()));
    return st;
}

const NextHop* Router::fib_nexthop(const Ip6& dst, uint32_t flow) const {
    const NextHop* nh = nexthops_.get(fib_.lookup(dst));
    if (nh != nullptr && nh->kind == NhKind::kGroup)
        nh = nexthops_.get(nh->pick(flow));
    return nh;
}

bool Router::port_routes_up(uint16_t port) const {
    auto it = port_nd_.find(port);
    return it != port_nd_.end() && it->second.oper;
}

void Router::publish_port_addrs(uint16_t port) {
    auto* pa = new PortAddrs;
    if (port_routes_up(port)) {
        // Tentative and duplicate addresses are not accepted as ours (RFC
        // 4862 5.4); their ND still arrives through the solicited-node group.
        for (const Address& a : addrs_.on_port(port))
            if (a.usable())
                pa->unicast.push_back(a.addr);
        pa->groups = port_groups(port);
    }
    PortAddrs* old = rcu_xchg_pointer(&tables_->ports[port].addrs, pa);
    // Workers may be scanning the old list in their current burst.
    rcu_delete(old);
    // The host interface follows: its addresses are the usable ones.
    sync_host(port);
}

/* ---- port ---- */

absl::StatusOr<nlohmann::json> Router::port_add(const nlohmann::json& a) {
    FP6_ASSIGN(name, str_arg(a, "ifname"));
    FP6_ASSIGN(devargs, str_arg(a, "devargs"));
    FP6_ASSIGN(mtu, opt_num(a, "mtu", 16000));
    // A word every later command, the logs and a saved configuration can
    // carry as it is: no quotes, comment signs, blanks or control bytes.
    const bool word = !name.empty() && name.size() <= 15 && std::isalnum(uint8_t(name[0])) &&
                      std::all_of(name.begin(), name.end(), [](char c) {
                          return std::isalnum(uint8_t(c)) || c == '.' || c == '_' || c == '-';
                      });
    if (!word)
        return absl::InvalidArgumentError(fmt::format(
            "port name {} must be 1..15 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit",
            nlohmann::json(name).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)));
    if (dp_->find_port(name, nullptr) != nullptr)
        return absl::AlreadyExistsError(fmt::format("port {} exists", name));
    if (mtu && *mtu < 1280)
        return absl::InvalidArgumentError(
            fmt::format("mtu {} is below the IPv6 minimum of 1280", *mtu));
    FP6_ASSIGN(id, dp_->add_port(name, devargs, uint16_t(mtu.value_or(1500))));
    rib_.set_port(id, RibPortInfo{name, dp_->port(id).mac});
    PortNd nd;
    nd.no_linklocal = a.value("no_linklocal", false);
    port_nd_[id] = nd;
    (void)ncache_.set_params(id, NcParams{});
    publish_port_addrs(id);
    return nlohmann::json(nullptr);
}

void Router::set_port_up(uint16_t port, bool up) {
    if (dp_->port(port).admin_up == up)
        return;
    dp_->set_admin(port, up);
    // Learn the link state now rather than at the next poll.
    dp_->poll_links();
    update_oper(port);
}

void Router::update_oper(uint16_t port) {
    PortNd& nd = port_nd_[port];
    const PortState& ps = dp_->port(port);
    bool oper = ps.in_use && ps.admin_up && ps.link_up;
    if (oper == nd.oper)
        return;
    nd.oper = oper;
    rib_.set_port_up(port, oper);
    if (oper) {
        // RFC 4862 5.3: a link-local address from the interface identifier
        // (modified EUI-64 of the MAC, RFC 4291 appendix A) at bring-up,
        // unless the operator gave one or asked for none.
        if (!nd.no_linklocal && !addrs_.has_linklocal(port)) {
            Ip6 ll = linklocal_from_mac(ps.mac);
            if (absl::Status st = addrs_.add(port, ll, 64, false, true); !st.ok())
                FP6_LOG(ERR, Rib, "{}: link-local {}: {}", ps.name, ll.str(),
                        std::string(st.message()));
        }
        addrs_.port_up(port);
        program_mcast(port);
        for (const Address& a : addrs_.on_port(port))
            start_dad(port, a.addr);
    } else {
        dad_.cancel_port(port);
        addrs_.port_down(port);
    }
    publish_port_addrs(port);
    if (absl::Status st = rib_.commit(); !st.ok())
        FP6_LOG(ERR, Rib, "{}: routes not published: {}", ps.name, std::string(st.message()));
    FP6_LOG(
        INFO, Port, "{}: {}", ps.name,
        oper ? "operational: addresses being checked (DAD)" : "not operational: routes withdrawn");
}

void Router::program_mcast(uint16_t port) {
    std::vector<rte_ether_addr> macs;
    for (const Ip6& g : port_groups(port)) {
        rte_ether_addr e;
        std::memcpy(e.addr_bytes, Mac::for_multicast(g).data(), 6);
        macs.push_back(e);
    }
    // Where the device has a multicast filter, program it; where it has
    // none (most vdevs receive everything), the workers filter the groups
    // in software anyway (PortAddrs::groups).
    int rc = rte_eth_dev_set_mc_addr_list(port, macs.data(), uint32_t(macs.size()));
    if (rc != 0 && rc != -ENOTSUP)
        FP6_LOG(INFO, Port, "{}: multicast filter not programmed: {}", dp_->port(port).name,
                rte_strerror(-rc));
    send_mld_report(port);
}

void Router::send_mld_report(uint16_t port) {
    // RFC 3810 5.2.13: from a link-local address, or :: while the port has
    // none yet; ff02::1 is never reported (RFC 3810 6).
    Ip6 src;
    for (const Address& a : addrs_.on_port(port))
        if (a.usable() && a.addr.is_linklocal())
            src = a.addr;
    std::vector<Ip6> groups;
    for (const Ip6& g : port_groups(port))
        if (g != kAllNodes)
            groups.push_back(g);
    if (groups.empty() || !port_routes_up(port))
        return;
    // TODO: leaving a group is not reported (no CHANGE_TO_INCLUDE records);
    // snooping switches age it out after the querier's interval.
    std::vector<uint8_t> buf(mld2_report_len(groups.size()));
    size_t len = build_mld2_report(buf, src, groups);
    if (len == 0)
        return;
    send_ip6(port, Mac::for_multicast(kAllMld2Routers), buf.data(), len);
    ctl_stats_.mld_reports_sent++;
}

absl::StatusOr<nlohmann::json> Router::port_set(const nlohmann::json& a) {
    FP6_ASSIGN(port, port_by_name(a, "ifname"));
    // With `ra`, the words that follow configure the advertisements (and
    // `mtu` is the RA's MTU option): checked and applied on their own.
    if (a.contains("ra") || a.contains("ra_prefix")) {
        FP6_RETURN_IF_ERROR(set_ra(port, a));
        return nlohmann::json(nullptr);
    }
    // The grammar asks for at least one setting; a client speaking the
    // protocol directly gets the same rule, and no key is silently ignored.
    // The settings are the grammar's own; the router advertisement ones
    // only go with ra or ra-prefix (above).
    static const CommandSpec* const spec = [] {
        for (const CommandSpec& c : command_table())
            if (c.cmd == "port.set")
                return &c;
        return static_cast<const CommandSpec*>(nullptr);
    }();
    static constexpr std::string_view kRaWords[] = {
        "ra_interval", "ra_lifetime", "no_onlink", "no_autonomous", "valid_lft", "preferred_lft"};
    size_t settings = 0;
    for (auto it = a.begin(); it != a.end(); ++it) {
        if (it.key() == "ifname")
            continue;
        if (std::find(std::begin(kRaWords), std::end(kRaWords), it.key()) != std::end(kRaWords))
            return absl::InvalidArgumentError(
                fmt::format("\"{}\" is a router advertisement setting: give it with ra on|off "
                            "or ra-prefix PREFIX",
                            it.key()));
        if (spec == nullptr ||
            std::none_of(spec->args.begin(), spec->args.end(),
                         [&](const ArgSpec& arg) { return arg.key == it.key(); }))
            return absl::InvalidArgumentError(
                fmt::format("port.set has no setting \"{}\"", it.key()));
        settings++;
    }
    if (settings == 0)
        return absl::InvalidArgumentError("port set needs at least one thing to set");
    FP6_ASSIGN(mtu, opt_num(a, "mtu", 16000));
    FP6_ASSIGN(transmits, opt_num(a, "dad_transmits", 10));
    FP6_ASSIGN(retrans, opt_num(a, "retrans_timer", 3600000));
    auto state = opt_str(a, "state");
    auto strict = opt_str(a, "strict_source");
    FP6_ASSIGN(icmp_rate, opt_num(a, "icmp_rate", 1000000));
    FP6_ASSIGN(icmp_burst, opt_num(a, "icmp_burst", 1000000));
    FP6_ASSIGN(icmp_hop_limit, opt_num(a, "icmp_hop_limit", 255));
    auto redirects = opt_str(a, "redirects");
    if (redirects && *redirects != "on" && *redirects != "off")
        return absl::InvalidArgumentError(
            fmt::format("redirects must be on or off, not \"{}\"", *redirects));
    FP6_ASSIGN(base_reachable, opt_num(a, "base_reachable", 3600000));
    FP6_ASSIGN(neigh_max, opt_num(a, "neigh_max", 1000000));
    NcParams ncp = ncache_.params(port);
    if (base_reachable)
        ncp.base_reachable_ms = uint32_t(*base_reachable);
    if (neigh_max)
        ncp.neigh_max = uint32_t(*neigh_max);
    if (retrans)
        ncp.retrans_ms = uint32_t(*retrans);
    if (base_reachable || neigh_max || retrans) {
        // Checked here, applied with the rest below.
        NeighborCache probe(0);
        FP6_RETURN_IF_ERROR(probe.set_params(port, ncp));
    }
    if (icmp_hop_limit && *icmp_hop_limit == 0)
        return absl::InvalidArgumentError("icmp-hop-limit must be 1..255");
    // Every setting is checked before any is applied: a refused command
    // changes nothing.
    if (retrans && *retrans < 10)
        return absl::InvalidArgumentError("retrans-timer must be at least 10 ms");
    if (mtu && *mtu < 1280)
        return absl::InvalidArgumentError(
            fmt::format("mtu {} is below the IPv6 minimum of 1280", *mtu));
    if (state && *state != "up" && *state != "down")
        return absl::InvalidArgumentError(
            fmt::format("state must be up or down, not \"{}\"", *state));
    if (strict && *strict != "on" && *strict != "off")
        return absl::InvalidArgumentError(
            fmt::format("strict-source must be on or off, not \"{}\"", *strict));
    auto host_if = opt_str(a, "host_if");
    if (host_if && *host_if != "off")
        FP6_RETURN_IF_ERROR(host_if_name(dp_->port(port).name, *host_if).status());
    // The device may still refuse the MTU; it goes first so that nothing
    // else has changed when it does.
    const uint16_t old_mtu = dp_->port(port).mtu;
    if (mtu)
        FP6_RETURN_IF_ERROR(dp_->set_mtu(port, uint16_t(*mtu)));
    // Then the host interface, which the kernel may refuse too: the MTU
    // goes back when it does.
    if (host_if && *host_if != "off") {
        if (absl::Status st = open_host_if(port, *host_if); !st.ok()) {
            if (mtu && *mtu != old_mtu)
                (void)dp_->set_mtu(port, old_mtu);
            return st;
        }
    }
    PortNd& nd = port_nd_[port];
    if (transmits)
        nd.dad.transmits = unsigned(*transmits);
    if (retrans)
        nd.dad.retrans_ms = unsigned(*retrans);
    if (strict && nd.strict_source != (*strict == "on")) {
        nd.strict_source = *strict == "on";
        src_epoch_++;
    }
    if (icmp_rate || icmp_burst) {
        // The workers' buckets and the control thread's share the limits.
        uint32_t rate = uint32_t(icmp_rate.value_or(nd.icmp_errors.rate()));
        uint32_t burst = uint32_t(icmp_burst.value_or(nd.icmp_errors.burst()));
        nd.icmp_errors.set_limits(rate, burst);
        tables_->ports[port].icmp_rate.store(rate);
        tables_->ports[port].icmp_burst.store(burst);
    }
    if (icmp_hop_limit)
        nd.icmp_hop_limit = uint8_t(*icmp_hop_limit);
    if (base_reachable || neigh_max || retrans)
        (void)ncache_.set_params(port, ncp);
    if (redirects)
        tables_->ports[port].redirects.store(*redirects == "on");
    if (host_if && *host_if == "off" && host_->has(port)) {
        host_->close(port);
        host_groups_.erase(port);
        publish_port_addrs(port);
        program_mcast(port);
    }
    if (state)
        set_port_up(port, *state == "up");
    sync_host(port);  // the MTU may have changed
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::port_del(const nlohmann::json& a) {
    FP6_ASSIGN(port, port_by_name(a, "ifname"));
    for (const Route* r : rib_.routes())
        if (r->origin == RouteOrigin::kStatic &&
            std::any_of(r->paths.begin(), r->paths.end(),
                        [&](const RoutePath& p) { return p.port == port; }))
            return absl::FailedPreconditionError(
                fmt::format("port {} still carries route {}; delete it first", dp_->port(port).name,
                            r->dst.str()));
    host_->close(port);
    host_groups_.erase(port);
    dad_.cancel_port(port);
    addrs_.forget_port(port, port_routes_up(port));
    apply_nc(ncache_.forget_port(port));
    dp_->set_admin(port, false);
    port_nd_.erase(port);
    publish_port_addrs(port);
    // Removing a port's routes only shrinks the FIB: this cannot fail for size.
    FP6_RETURN_IF_ERROR(rib_.commit());
    dp_->del_port(port);
    rib_.forget_port(port);
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::port_show(const nlohmann::json& a) {
    nlohmann::json out = nlohmann::json::array();
    std::optional<uint16_t> only;
    if (a.contains("ifname")) {
        FP6_ASSIGN(id, port_by_name(a, "ifname"));
        only = id;
    }
    for (uint16_t id : dp_->port_ids()) {
        if (only && *only != id)
            continue;
        const PortState& p = dp_->port(id);
        PortCounters c = dp_->port_counters(id);
        out.push_back({
            {"ifname", p.name},
            {"port_id", id},
            {"devargs", p.devargs},
            {"driver", p.driver},
            {"address", p.mac.str()},
            {"mtu", p.mtu},
            {"admin", p.admin_up ? "up" : "down"},
            {"link", p.link_up ? "up" : "down"},
            {"operstate", p.admin_up && p.link_up ? "UP" : "DOWN"},
            {"rx_queues", p.nb_rxq},
            {"tx_queues", p.nb_txq},
            {"stats",
             {{"rx_packets", c.rx_packets},
              {"rx_bytes", c.rx_bytes},
              {"tx_packets", c.tx_packets},
              {"tx_bytes", c.tx_bytes},
              {"rx_missed", c.rx_missed},
              {"rx_nombuf", c.rx_nombuf},
              {"rx_errors", c.rx_errors},
              {"tx_errors", c.tx_errors}}},
        });
    }
    return out;
}

/* ---- addr ---- */

static absl::StatusOr<std::pair<Ip6, int>> parse_local(const nlohmann::json& a) {
    FP6_ASSIGN(text, str_arg(a, "local"));
    auto slash = text.find('/');
    if (slash == std::string::npos)
        return absl::InvalidArgumentError(
            fmt::format("\"{}\" needs a prefix length: ADDR/PLEN", text));
    FP6_ASSIGN(addr, parse_addr(text.substr(0, slash), "address"));
    int plen = -1;
    std::string lens = text.substr(slash + 1);
    if (!lens.empty() && lens.size() <= 3 &&
        lens.find_first_not_of("0123456789") == std::string::npos)
        plen = std::stoi(lens);
    if (plen < 0)
        return absl::InvalidArgumentError(fmt::format("malformed prefix length in \"{}\"", text));
    return std::pair(addr, plen);
}

/* "forever" or a number of seconds, as ip's preferred_lft/valid_lft. */
static absl::StatusOr<std::optional<uint64_t>> parse_lifetime(const nlohmann::json& a,
                                                              const char* key) {
    auto text = opt_str(a, key);
    if (!text || *text == "forever" || *text == "infinity")
        return std::optional<uint64_t>();
    if (text->empty() || text->size() > 10 ||
        text->find_first_not_of("0123456789") != std::string::npos)
        return absl::InvalidArgumentError(
            fmt::format("{} must be a number of seconds or forever, not \"{}\"", key, *text));
    return std::optional<uint64_t>(std::stoull(*text));
}

absl::StatusOr<nlohmann::json> Router::addr_add(const nlohmann::json& a) {
    FP6_ASSIGN(port, port_by_name(a, "dev"));
    FP6_ASSIGN(local, parse_local(a));
    FP6_ASSIGN(preferred_lft, parse_lifetime(a, "preferred_lft"));
    FP6_ASSIGN(valid_lft, parse_lifetime(a, "valid_lft"));
    if (valid_lft && (!preferred_lft || *preferred_lft > *valid_lft))
        return absl::InvalidArgumentError("preferred_lft must not exceed valid_lft");
    AddrOptions opts;
    opts.operator_preferred = a.value("preferred_source", false);
    opts.temporary = a.value("temporary", false);
    opts.autoconf = a.value("autoconf", false);
    uint64_t now = now_ms();
    if (preferred_lft)
        opts.preferred_until = now + *preferred_lft * 1000;
    if (valid_lft)
        opts.valid_until = now + *valid_lft * 1000;
    bool up = port_routes_up(port);
    FP6_RETURN_IF_ERROR(addrs_.add(port, local.first, local.second, up, false, opts));
    FP6_RETURN_IF_ERROR(commit([&] { (void)addrs_.del(port, local.first, local.second, up); }));
    if (up) {
        program_mcast(port);
        start_dad(port, local.first);
    }
    publish_port_addrs(port);
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::addr_del(const nlohmann::json& a) {
    FP6_ASSIGN(port, port_by_name(a, "dev"));
    FP6_ASSIGN(local, parse_local(a));
    bool up = port_routes_up(port);
    FP6_RETURN_IF_ERROR(addrs_.del(port, local.first, local.second, up));
    dad_.cancel(port, local.first);
    FP6_RETURN_IF_ERROR(rib_.commit());
    if (up)
        program_mcast(port);
    publish_port_addrs(port);
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::addr_show(const nlohmann::json& a) {
    std::optional<uint16_t> only;
    if (a.contains("dev")) {
        FP6_ASSIGN(id, port_by_name(a, "dev"));
        only = id;
    }
    nlohmann::json out = nlohmann::json::array();
    for (uint16_t id : dp_->port_ids()) {
        if (only && *only != id)
            continue;
        nlohmann::json info = nlohmann::json::array();
        uint64_t now = now_ms();
        // As ip -j: lifetimes in seconds left, 4294967295 for forever.
        auto left = [&](std::optional<uint64_t> until) -> uint64_t {
            if (!until)
                return 4294967295ULL;
            return *until > now ? (*until - now) / 1000 : 0;
        };
        for (const Address& ad : addrs_.on_port(id))
            info.push_back(
                {{"family", "inet6"},
                 {"local", ad.addr.str()},
                 {"prefixlen", ad.plen},
                 {"scope", ad.addr.is_linklocal() ? "link" : "global"},
                 {"tentative", ad.state != AddrState::kPreferred},
                 {"dadfailed", ad.state == AddrState::kDuplicate},
                 {"deprecated", ad.deprecated},
                 {"preferred_source", ad.opts.operator_preferred},
                 {"temporary", ad.opts.temporary},
                 {"autoconf", ad.opts.autoconf},
                 {"valid_life_time", left(ad.opts.valid_until)},
                 {"preferred_life_time", ad.deprecated ? 0 : left(ad.opts.preferred_until)}});
        out.push_back({{"ifname", dp_->port(id).name}, {"addr_info", info}});
    }
    return out;
}

/* ---- route ---- */

absl::StatusOr<RoutePath> Router::path_of(const nlohmann::json& a, bool recursive) const {
    RoutePath p;
    p.recursive = recursive;
    if (auto gw = opt_str(a, "gateway")) {
        FP6_ASSIGN(g, parse_addr(*gw, "gateway"));
        p.gateway = g;
    }
    if (a.contains("dev")) {
        FP6_ASSIGN(port, port_by_name(a, "dev"));
        p.port = port;
    }
    FP6_ASSIGN(weight, opt_num(a, "weight", kMaxWeight));
    if (weight) {
        if (*weight == 0)
            return absl::InvalidArgumentError(fmt::format("weight must be 1..{}", kMaxWeight));
        p.weight = uint32_t(*weight);
    }
    return p;
}

absl::StatusOr<RouteSpec> Router::route_spec(const nlohmann::json& a, bool for_add) const {
    RouteSpec s;
    FP6_ASSIGN(dst, str_arg(a, "dst"));
    FP6_ASSIGN(prefix, parse_prefix(dst == "default" ? "::/0" : dst));
    s.dst = prefix;
    if (auto t = opt_str(a, "type")) {
        auto type = route_type_from_name(*t);
        if (!type)
            return absl::InvalidArgumentError(fmt::format("unknown route type \"{}\"", *t));
        s.type = *type;
    }
    const bool recursive = a.value("recursive", false);
    const bool has_path = a.contains("gateway") || a.contains("dev");
    if (auto it = a.find("nexthops"); it != a.end() && it->is_array()) {
        if (has_path)
            return absl::InvalidArgumentError(
                "give via/dev inside each nexthop, or one path without nexthop");
        for (const auto& nh : *it) {
            FP6_ASSIGN(p, path_of(nh, recursive));
            s.paths.push_back(p);
        }
    } else if (has_path || (for_add && s.type == RouteType::kUnicast)) {
        FP6_ASSIGN(p, path_of(a, recursive));
        if (p.gateway || p.port != kNoPort || for_add)
            s.paths.push_back(p);
    }
    FP6_ASSIGN(metric, opt_num(a, "metric", UINT32_MAX));
    if (metric)
        s.metric = uint32_t(*metric);
    s.pending = a.value("pending", false);
    if (auto src = opt_str(a, "prefsrc")) {
        FP6_ASSIGN(addr, parse_addr(*src, "src"));
        // As RTF_SETSRC in the original design: the source must be ours.
        if (for_add && !addrs_.is_ours(addr))
            return absl::InvalidArgumentError(
                fmt::format("src {} is not one of our addresses", addr.str()));
        s.prefsrc = addr;
    }
    return s;
}

nlohmann::json Router::route_json(const Route& r) const {
    nlohmann::json j = {{"dst", r.dst.len() == 0 ? "default" : r.dst.str()},
                        {"type", route_type_name(r.type)}};
    auto dev_name = [&](uint16_t port) -> std::optional<std::string> {
        if (const RibPortInfo* p = rib_.port_info(port))
            return p->name;
        return std::nullopt;
    };
    if (r.paths.size() == 1) {
        if (r.paths[0].gateway)
            j["gateway"] = r.paths[0].gateway->str();
        if (auto d = dev_name(rib_.route_port(r)))
            j["dev"] = *d;
    } else if (r.paths.size() > 1) {
        nlohmann::json hops = nlohmann::json::array();
        for (const RoutePath& p : r.paths) {
            nlohmann::json h = nlohmann::json::object();
            if (p.gateway)
                h["gateway"] = p.gateway->str();
            if (auto d = dev_name(p.port))
                h["dev"] = *d;
            h["weight"] = p.weight;
            hops.push_back(h);
        }
        j["nexthops"] = hops;
    } else if (auto d = dev_name(r.port)) {
        j["dev"] = *d;
    }
    if (r.prefsrc)
        j["prefsrc"] = r.prefsrc->str();
    j["protocol"] = r.origin == RouteOrigin::kStatic ? "static" : "kernel";
    j["metric"] = r.metric;
    nlohmann::json flags = nlohmann::json::array();
    if (r.origin == RouteOrigin::kLocal)
        flags.push_back("local");
    if (r.origin == RouteOrigin::kConnected)
        flags.push_back("connected");
    if (!r.paths.empty() && r.paths[0].recursive)
        flags.push_back("recursive");
    if (!r.active)
        flags.push_back("inactive");
    j["flags"] = flags;
    return j;
}

absl::Status Router::route_change(const RouteSpec& spec, RouteVerb verb, bool grace) {
    // What was there, to put back if the FIB refuses the change. An add
    // that gets that far replaced nothing: add_static() refuses a prefix
    // and metric that are taken.
    const uint32_t metric = spec.metric.value_or(kMetricDefault);
    std::optional<RouteSpec> before;
    if (verb != RouteVerb::kAdd)
        for (const Route* r : rib_.routes_of(spec.dst))
            if (r->metric == metric && r->origin == RouteOrigin::kStatic) {
                RouteSpec b(r->dst, r->type, std::nullopt, std::nullopt, r->metric);
                b.paths = r->paths;
                b.prefsrc = r->prefsrc;
                before = b;
            }
    switch (verb) {
        case RouteVerb::kAdd:
            FP6_RETURN_IF_ERROR(rib_.add_static(spec));
            break;
        case RouteVerb::kAppend:
            FP6_RETURN_IF_ERROR(rib_.append_static(spec));
            break;
        case RouteVerb::kReplace:
            FP6_RETURN_IF_ERROR(rib_.replace_static(spec));
            break;
    }
    absl::Status st = rib_.commit(grace);
    if (st.ok())
        return st;
    // The FIB refused (table full): take the change back so the RIB says
    // what the workers do, and bring the FIB back in line. Putting the old
    // route back needs no new FIB groups: its prefix never left the table.
    absl::Status undo;
    if (before) {
        undo = rib_.replace_static(*before);
    } else {
        RouteSpec gone(spec.dst, spec.type, std::nullopt, std::nullopt, metric);
        undo = rib_.del_static(gone);
    }
    if (!undo.ok())
        FP6_LOG(ERR, Rib, "cannot undo a refused change of {}: {}", spec.dst.str(),
                std::string(undo.message()));
    if (absl::Status again = rib_.commit(grace); !again.ok())
        FP6_LOG(ERR, Rib, "cannot bring the FIB back in line: {}", std::string(again.message()));
    return st;
}

absl::StatusOr<nlohmann::json> Router::route_add(const nlohmann::json& a) {
    FP6_ASSIGN(spec, route_spec(a, true));
    FP6_RETURN_IF_ERROR(route_change(spec, RouteVerb::kAdd, true));
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::route_append(const nlohmann::json& a) {
    FP6_ASSIGN(spec, route_spec(a, true));
    FP6_RETURN_IF_ERROR(route_change(spec, RouteVerb::kAppend, true));
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::route_replace(const nlohmann::json& a) {
    FP6_ASSIGN(spec, route_spec(a, true));
    FP6_RETURN_IF_ERROR(route_change(spec, RouteVerb::kReplace, true));
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::route_del(const nlohmann::json& a) {
    FP6_ASSIGN(spec, route_spec(a, false));
    FP6_RETURN_IF_ERROR(rib_.del_static(spec));
    FP6_RETURN_IF_ERROR(rib_.commit());
    return nlohmann::json(nullptr);
}

/* The state of a route flush between its slices. */
struct Router::FlushRun {
    uint64_t t0 = 0;
    size_t total = 0;  // static routes when it began
    size_t removed = 0;
};

absl::StatusOr<nlohmann::json> Router::route_flush(const nlohmann::json&) {
    if (!job_running_.empty())
        return absl::FailedPreconditionError(
            fmt::format("{} is in progress; try again when it has finished", job_running_));
    auto run = std::make_shared<FlushRun>();
    run->t0 = now_ms();
    run->total = rib_.counts().static_routes;
    job_running_ = "route flush";
    JobStep first = flush_slice(*run);
    if (!first.done)
        job_ = [this, run] { return flush_slice(*run); };
    return std::move(first.data);
}

/* Removes static routes in batches, each walk starting from the first
 * prefix again, so the flush ends with none left, routes added by other
 * clients while it runs included. Each slice ends with a commit without a
 * grace period (the workers stop seeing the prefixes removed); the last
 * waits for one and frees the next hops no route names any more. */
Router::JobStep Router::flush_slice(FlushRun& run) {
    constexpr size_t kBatch = 256;
    const uint64_t start = now_ms();
    std::vector<std::pair<Prefix6, uint32_t>> batch;
    for (;;) {
        if (now_ms() - start >= kJobSliceMs) {
            if (absl::Status st = rib_.commit(false); !st.ok())
                FP6_LOG(ERR, Rib, "route flush: {}", std::string(st.message()));
            return {false, nlohmann::json{{"removed", run.removed},
                                          {"total", std::max(run.total, run.removed)},
                                          {"ms", now_ms() - run.t0}}};
        }
        batch.clear();
        rib_.walk([&](const Route& r) {
            if (r.origin == RouteOrigin::kStatic)
                batch.emplace_back(r.dst, r.metric);
            return batch.size() < kBatch;
        });
        const size_t before = run.removed;
        for (const auto& [dst, metric] : batch) {
            absl::Status st = rib_.del_static(
                RouteSpec(dst, RouteType::kUnicast, std::nullopt, std::nullopt, metric));
            if (st.ok())
                run.removed++;
            else
                FP6_LOG(ERR, Rib, "route flush: cannot remove {}: {}", dst.str(),
                        std::string(st.message()));
        }
        if (run.removed == before)
            break;  // none left, or none that would go: never spin
    }
    job_running_.clear();
    if (absl::Status st = rib_.commit(); !st.ok())
        return {true, st};
    FP6_LOG(INFO, Rib, "route flush: {} static routes removed in {} ms", run.removed,
            now_ms() - run.t0);
    return {true, nlohmann::json{{"removed", run.removed}}};
}

std::optional<RouteSpec> Router::simple_route_line(std::span<const std::string_view> w) {
    if ((w.size() != 3 && w.size() != 5) || w[1] != "via" || (w.size() == 5 && w[3] != "dev"))
        return std::nullopt;
    auto dst = Prefix6::parse(w[0]);
    if (!dst)
        return std::nullopt;  // the general path names what is wrong
    if (w[2] != last_gw_text_) {
        auto gw = Ip6::parse(w[2]);
        if (!gw)
            return std::nullopt;
        last_gw_text_ = w[2];
        last_gw_ = *gw;
    }
    const Ip6& gw = last_gw_;
    std::optional<uint16_t> port;
    if (w.size() == 5) {
        uint16_t id;
        if (dp_->find_port(std::string(w[4]), &id) == nullptr)
            return std::nullopt;
        port = id;
    }
    return RouteSpec(*dst, RouteType::kUnicast, gw, port);
}

std::optional<absl::Status> Router::quick_load_line(std::string_view line) {
    // At most seven words, split on blanks; quotes and comments are for the
    // general path.
    std::array<std::string_view, 7> w;
    size_t n = 0;
    // Most characters are above the space: one well-predicted compare each.
    auto blank = [](char c) { return uint8_t(c) <= ' ' && (c == ' ' || c == '\t' || c == '\r'); };
    for (size_t i = 0; i < line.size();) {
        const char c = line[i];
        if (blank(c)) {
            i++;
            continue;
        }
        if (c == '"' || c == '\'' || c == '#' || n == w.size())
            return std::nullopt;
        size_t j = i;
        while (j < line.size() && !blank(line[j]))
            j++;
        w[n++] = line.substr(i, j - i);
        i = j;
    }
    const std::span<const std::string_view> words(w.data(), n);
    // "PREFIX via GW [dev NAME]": route add's words without "route add".
    if (std::optional<RouteSpec> spec = simple_route_line(words))
        return route_change(*spec, RouteVerb::kAdd, false);
    // The same after "route add" or "route del", what a routing daemon's
    // churn looks like.
    if (n >= 5 && words[0] == "route" && (words[1] == "add" || words[1] == "del")) {
        if (std::optional<RouteSpec> spec = simple_route_line(words.subspan(2))) {
            if (words[1] == "add")
                return route_change(*spec, RouteVerb::kAdd, false);
            if (absl::Status st = rib_.del_static(*spec); !st.ok())
                return st;
            return rib_.commit(false);
        }
    }
    return std::nullopt;
}

/* The state of a route load between its slices. */
struct Router::LoadRun {
    std::string path;
    std::ifstream in;
    uint64_t t0 = 0;
    uint64_t bytes = 0, bytes_total = 0;  // bytes_total 0: not a regular file
    size_t lineno = 0, applied = 0, refused = 0;
    nlohmann::json first_refused;
};

absl::StatusOr<nlohmann::json> Router::route_load(const nlohmann::json& a) {
    FP6_ASSIGN(path, str_arg(a, "file"));
    if (path.empty() || path[0] != '/')
        return absl::InvalidArgumentError(
            fmt::format("route load needs an absolute path, got \"{}\"", path));
    if (!job_running_.empty())
        return absl::FailedPreconditionError(
            fmt::format("{} is in progress; try again when it has finished", job_running_));
    // A regular file only: a FIFO would block the control thread until
    // someone writes to it, a device like /dev/zero would never end.
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        return absl::NotFoundError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    if (!S_ISREG(st.st_mode))
        return absl::InvalidArgumentError(fmt::format("route load reads a regular file; {} is {}",
                                                      path,
                                                      S_ISDIR(st.st_mode)    ? "a directory"
                                                      : S_ISFIFO(st.st_mode) ? "a FIFO"
                                                                             : "not one"));
    auto run = std::make_shared<LoadRun>();
    run->in.open(path);
    if (!run->in)
        return absl::NotFoundError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    run->bytes_total = uint64_t(st.st_size);
    run->path = path;
    run->t0 = now_ms();
    job_running_ = fmt::format("route load of {}", path);
    JobStep first = load_slice(*run);
    if (!first.done)
        job_ = [this, run] { return load_slice(*run); };
    return std::move(first.data);
}

/* Lines are "PREFIX via GW [dev NAME] ..." (route add's words without
 * "route add") or whole route add/append/replace/del lines, applied in
 * order; a refused line is counted and the first one reported, the rest go
 * on. Each line is committed as it is applied, without a grace period (the
 * workers see it at once); next hops that lost their last route wait for the
 * one grace period at the end, which covers every change of the load. Other
 * requests run between slices and see the table as far as it has come. */
/* The longest route load line parsed, and the most of a refused line the
 * reply quotes: a whole file on one line must not come back in the reply. */
constexpr size_t kLineMax = 4096;
constexpr size_t kQuoteMax = 256;

Router::JobStep Router::load_slice(LoadRun& run) {
    const uint64_t start = now_ms();
    std::string line;
    for (size_t n = 1;; n++) {
        // The clock every 64 lines: a line takes a few microseconds.
        if (n % 64 == 0 && now_ms() - start >= kJobSliceMs)
            return {false, nlohmann::json{{"lines", run.lineno},
                                          {"bytes", std::min(run.bytes, run.bytes_total)},
                                          {"bytes_total", run.bytes_total},
                                          {"applied", run.applied},
                                          {"refused", run.refused},
                                          {"ms", now_ms() - run.t0}}};
        if (!std::getline(run.in, line))
            break;
        run.lineno++;
        run.bytes += line.size() + 1;
        // The common shapes without splitting into strings or building a
        // JSON request; the rest through the command grammar.
        std::optional<absl::Status> quick;
        if (line.size() > kLineMax)
            quick = absl::InvalidArgumentError(fmt::format(
                "line of {} bytes; a route line has at most {}", line.size(), kLineMax));
        else
            quick = quick_load_line(line);
        absl::Status st;
        if (quick) {
            st = *quick;
        } else {
            std::vector<std::string> words = split_words(line);
            if (words.empty())
                continue;
            st = load_line(std::move(words));
        }
        if (st.ok())
            run.applied++;
        else if (run.refused++ == 0)
            run.first_refused = {
                {"line", run.lineno},
                {"text", line.size() <= kQuoteMax ? line : line.substr(0, kQuoteMax) + "..."},
                {"error", std::string(st.message())}};
    }
    job_running_.clear();
    if (absl::Status st = rib_.commit(); !st.ok())
        return {true, st};
    const uint64_t ms = now_ms() - run.t0;
    FP6_LOG(INFO, Rib, "route load {}: {} applied, {} refused in {} ms", run.path, run.applied,
            run.refused, ms);
    nlohmann::json out = {
        {"applied", run.applied}, {"refused", run.refused}, {"lines", run.lineno}, {"ms", ms}};
    if (run.refused > 0)
        out["first_refused"] = run.first_refused;
    return {true, std::move(out)};
}

absl::Status Router::load_line(std::vector<std::string> words) {
    if (words[0] != "route" && words[0] != "ro")
        words.insert(words.begin(), {"route", "add"});
    FP6_ASSIGN(req, parse_command(words));
    const std::string cmd = req["cmd"];
    const nlohmann::json& args = req["args"];
    if (cmd == "route.del") {
        FP6_ASSIGN(spec, route_spec(args, false));
        FP6_RETURN_IF_ERROR(rib_.del_static(spec));
        return rib_.commit(false);
    }
    RouteVerb verb = cmd == "route.add"       ? RouteVerb::kAdd
                     : cmd == "route.append"  ? RouteVerb::kAppend
                     : cmd == "route.replace" ? RouteVerb::kReplace
                                              : RouteVerb(-1);
    if (int(verb) < 0)
        return absl::InvalidArgumentError(fmt::format("{} is not a route change", cmd));
    FP6_ASSIGN(spec, route_spec(args, true));
    return route_change(spec, verb, false);
}

absl::StatusOr<nlohmann::json> Router::route_show(const nlohmann::json& a) {
    nlohmann::json out = nlohmann::json::array();
    if (auto m = opt_str(a, "match")) {
        // The longest match for an address, as the FIB sees it.
        FP6_ASSIGN(addr, parse_addr(*m, "match address"));
        if (const Route* r = rib_.lookup(addr))
            for (const Route* each : rib_.routes_of(r->dst))
                out.push_back(route_json(*each));
        return out;
    }
    if (auto d = opt_str(a, "dst")) {
        FP6_ASSIGN(p, parse_prefix(*d == "default" ? "::/0" : *d));
        for (const Route* r : rib_.routes_of(p.canonical()))
            out.push_back(route_json(*r));
        return out;
    }
    // The whole table: a chunk now and the rest streamed, one chunk per
    // event-loop turn, each resuming after the last prefix sent (routes that
    // change meanwhile show as they are when their chunk is built).
    constexpr size_t kChunk = 4096;
    auto chunk = [this](std::optional<Prefix6> after, std::optional<Prefix6>* last) {
        nlohmann::json part = nlohmann::json::array();
        rib_.walk(
            [&](const Route& r) {
                if (part.size() >= kChunk && r.dst != **last)
                    return false;
                part.push_back(route_json(r));
                *last = r.dst;
                return true;
            },
            after);
        return part;
    };
    auto cursor = std::make_shared<std::optional<Prefix6>>();
    out = chunk(std::nullopt, cursor.get());
    if (out.size() >= kChunk)
        stream_ = [chunk, cursor]() -> std::optional<nlohmann::json> {
            nlohmann::json part = chunk(*cursor, cursor.get());
            if (part.empty())
                return std::nullopt;
            return part;
        };
    return out;
}

absl::StatusOr<nlohmann::json> Router::route_get(const nlohmann::json& a) {
    FP6_ASSIGN(dst, str_arg(a, "dst"));
    FP6_ASSIGN(addr, parse_addr(dst, "address"));
    std::optional<uint16_t> oif;
    if (a.contains("oif")) {
        FP6_ASSIGN(id, port_by_name(a, "oif"));
        oif = id;
    }
    // A link-local destination is on the link it is asked for; without
    // oif it is ambiguous, as in `ip -6 route get fe80::1`. With oif and no
    // route, the answer is the one for a destination on-link through oif.
    const Route* r = addr.is_linklocal() ? nullptr : rib_.lookup(addr);
    if (r == nullptr && !oif)
        return absl::NotFoundError(fmt::format(
            "no route to {}{}", addr.str(), addr.is_linklocal() ? " (link-local: give oif)" : ""));
    nlohmann::json j = r != nullptr ? route_json(*r) : nlohmann::json{{"type", "unicast"}};
    if (r != nullptr)
        j["route"] = r->dst.str();
    j["dst"] = addr.str();
    uint16_t out = oif.value_or(r != nullptr ? rib_.route_port(*r) : kNoPort);
    if (const RibPortInfo* p = rib_.port_info(out))
        j["dev"] = p->name;
    if (auto from = opt_str(a, "from")) {
        FP6_ASSIGN(f, parse_addr(*from, "from address"));
        bool usable = false;
        for (const Address& ad : addrs_.all())
            usable |= ad.addr == f && ad.usable();
        if (!usable)
            return absl::InvalidArgumentError(
                fmt::format("from {} is not a usable address of ours", f.str()));
        j["prefsrc"] = f.str();
        return j;
    }
    absl::StatusOr<Ip6> src = select_source(addr, out, r);
    if (src.ok())
        j["prefsrc"] = src->str();
    else
        j["prefsrc_error"] = std::string(src.status().message());
    return j;
}

/* ---- neigh ---- */

absl::StatusOr<nlohmann::json> Router::neigh_add(const nlohmann::json& a) {
    FP6_ASSIGN(port, port_by_name(a, "dev"));
    FP6_ASSIGN(dst, str_arg(a, "dst"));
    FP6_ASSIGN(addr, parse_addr(dst, "neighbour address"));
    FP6_ASSIGN(ll, str_arg(a, "lladdr"));
    auto mac = Mac::parse(ll);
    if (!mac)
        return absl::InvalidArgumentError(fmt::format("malformed lladdr \"{}\"", ll));
    if (addrs_.is_ours(addr))
        return absl::InvalidArgumentError(fmt::format("{} is a local address", addr.str()));
    FP6_ASSIGN(actions, ncache_.add_static(port, addr, *mac, a.value("router", false), now_ms()));
    apply_nc(actions);
    FP6_LOG(INFO, Nd, "{}: neighbour {} lladdr {} PERMANENT", dp_->port(port).name, addr.str(),
            mac->str());
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::neigh_del(const nlohmann::json& a) {
    FP6_ASSIGN(port, port_by_name(a, "dev"));
    FP6_ASSIGN(dst, str_arg(a, "dst"));
    FP6_ASSIGN(addr, parse_addr(dst, "neighbour address"));
    if (addrs_.is_ours(addr))
        return absl::InvalidArgumentError(fmt::format("{} is a local address", addr.str()));
    FP6_ASSIGN(actions, ncache_.del(port, addr));
    apply_nc(actions);
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::neigh_flush(const nlohmann::json& a) {
    FP6_ASSIGN(port, port_by_name(a, "dev"));
    apply_nc(ncache_.flush(port));
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::neigh_show(const nlohmann::json& a) {
    std::optional<uint16_t> only;
    if (a.contains("dev")) {
        FP6_ASSIGN(id, port_by_name(a, "dev"));
        only = id;
    }
    nlohmann::json out = nlohmann::json::array();
    for (const NcEntry& n : ncache_.list(now_ms())) {
        if (only && *only != n.port)
            continue;
        nlohmann::json e = {{"dst", n.addr.str()},
                            {"dev", dp_->port(n.port).name},
                            {"state", nlohmann::json::array({nc_state_name(n.state)})},
                            {"router", n.router},
                            {"age_ms", n.age_ms},
                            {"queued", n.queued}};
        if (n.mac)
            e["lladdr"] = n.mac->str();
        out.push_back(e);
    }
    return out;
}

/* ---- stats ---- */

absl::StatusOr<nlohmann::json> Router::stats_show(const nlohmann::json&) {
    nlohmann::json ports = nlohmann::json::array();
    for (uint16_t id : dp_->port_ids()) {
        PortCounters c = dp_->port_counters(id);
        ports.push_back({{"ifname", dp_->port(id).name},
                         {"rx_packets", c.rx_packets},
                         {"rx_bytes", c.rx_bytes},
                         {"tx_packets", c.tx_packets},
                         {"tx_bytes", c.tx_bytes},
                         {"rx_missed", c.rx_missed},
                         {"rx_nombuf", c.rx_nombuf},
                         {"rx_errors", c.rx_errors},
                         {"tx_errors", c.tx_errors}});
        PortDetail detail = dp_->port_detail(id);
        ports.back()["queues"] = queue_stats_json(detail);
        ports.back()["xstats"] = xstats_json(detail);
    }
    nlohmann::json workers = nlohmann::json::array();
    uint64_t totals[size_t(Drop::kCount)] = {};
    const auto& stats = dp_->worker_stats();
    for (size_t w = 0; w < stats.size(); w++) {
        const WorkerStats s = since_reset(w);
        uint64_t dropped = 0;
        for (size_t d = 0; d < size_t(Drop::kCount); d++) {
            totals[d] += s.drops[d];
            dropped += s.drops[d];
        }
        workers.push_back({{"worker", w},
                           {"lcore", dp_->config().worker_lcores[w]},
                           {"rx_packets", s.rx},
                           {"forwarded", s.forwarded},
                           {"punted", s.punted},
                           {"icmp_punted", s.icmp_punted},
                           {"icmp_ratelimited", s.icmp_ratelimited},
                           {"resolve_punted", s.resolve_punted},
                           {"redirect_punted", s.redirect_punted},
                           {"redirect_ratelimited", s.redirect_ratelimited},
                           {"drops", dropped},
                           {"loops", s.loops},
                           {"rx_bursts", s.rx_bursts},
                           {"busy_cycles", s.busy_cycles},
                           {"idle_cycles", s.idle_cycles}});
    }
    nlohmann::json drops = nlohmann::json::object();
    for (size_t d = 0; d < size_t(Drop::kCount); d++)
        drops[drop_name(Drop(d))] = totals[d];
    nlohmann::json resolve_drops = nlohmann::json::object();
    for (size_t d = 0; d <= size_t(NcDrop::kQueueTotal); d++)
        resolve_drops[nc_drop_name(NcDrop(d))] = ctl_stats_.resolve_dropped[d];
    nlohmann::json nd_drops = nlohmann::json::object();
    for (size_t d = 0; d < kNdDropCount; d++)
        nd_drops[nd_drop_name(NdDrop(d))] = ctl_stats_.nd_drops[d];
    nlohmann::json control = {{"punt_received", ctl_stats_.punt_received},
                              {"punt_unhandled", ctl_stats_.punt_unhandled},
                              {"ns_sent", ctl_stats_.ns_sent},
                              {"na_sent", ctl_stats_.na_sent},
                              {"echo_replies", ctl_stats_.echo_replies},
                              {"no_mbuf", ctl_stats_.no_mbuf},
                              {"src_route", ctl_stats_.src_route},
                              {"src_route_unusable", ctl_stats_.src_route_unusable},
                              {"src_none", ctl_stats_.src_none},
                              {"src_not_ready", ctl_stats_.src_not_ready},
                              {"icmp_errors_sent", ctl_stats_.icmp_errors_sent},
                              {"icmp_errors_suppressed", ctl_stats_.icmp_errors_suppressed},
                              {"icmp_errors_not_allowed", ctl_stats_.icmp_errors_not_allowed},
                              {"icmp_no_source", ctl_stats_.icmp_no_source},
                              {"echo_suppressed", ctl_stats_.echo_suppressed},
                              {"local_discarded", ctl_stats_.local_discarded},
                              {"resolve_received", ctl_stats_.resolve_received},
                              {"resolved_sent", ctl_stats_.resolved_sent},
                              {"ns_no_source", ctl_stats_.ns_no_source},
                              {"mld_reports_sent", ctl_stats_.mld_reports_sent},
                              {"mld_queries", ctl_stats_.mld_queries},
                              {"ra_sent", ctl_stats_.ra_sent},
                              {"redirects_sent", ctl_stats_.redirects_sent},
                              {"redirects_skipped", ctl_stats_.redirects_skipped},
                              {"ra_no_linklocal", ctl_stats_.ra_no_linklocal},
                              {"tx_dropped", dp_->control_tx_dropped()},
                              {"nd_drops", nd_drops},
                              {"resolve_drops", resolve_drops}};
    nlohmann::json reassembly;
    if (reasm_) {
        const ReasmStats& r = reasm_->stats();
        reassembly = {{"fragments", r.fragments},
                      {"reassembled", r.reassembled},
                      {"atomic", r.atomic},
                      {"timed_out", r.timed_out},
                      {"time_exceeded", r.time_exceeded},
                      {"param_problem", r.param_problem},
                      {"duplicates", r.duplicates},
                      {"inconsistent", r.inconsistent},
                      {"too_many_fragments", r.too_many_fragments},
                      {"table_full", r.table_full}};
    }
    return nlohmann::json{{"ports", ports},
                          {"workers", workers},
                          {"drops", drops},
                          {"control", control},
                          {"reassembly", reassembly},
                          {"host", host_json()},
                          {"neighbors", neighbor_states_json(ncache_.list(now_ms()))},
                          {"routes", rib_counts_json(rib_.counts())},
                          {"tsc_hz", rte_get_tsc_hz()}};
}

absl::StatusOr<nlohmann::json> Router::stats_reset(const nlohmann::json&) {
    for (uint16_t id : dp_->port_ids())
        dp_->reset_port_counters(id);
    // Worker counters belong to their worker (plain stores): rather than
    // write them from here, remember where they stood.
    const auto& stats = dp_->worker_stats();
    stats_baseline_.resize(stats.size());
    for (size_t w = 0; w < stats.size(); w++)
        stats_baseline_[w] = *stats[w];
    ctl_stats_ = ControlStats{};
    host_->reset_counters();
    return nlohmann::json(nullptr);
}

/* ---- source selection ---- */

uint64_t Router::src_generation() const {
    // Any change of the usable addresses, of the policy table or of a
    // strict-source setting makes every cached answer stale.
    return addrs_.generation() + (policy_.version() << 32) + (src_epoch_ << 48);
}

absl::StatusOr<Ip6> Router::select_source(const Ip6& dst, uint16_t oif, const Route* route) {
    if (route != nullptr && route->prefsrc) {
        for (const Address& a : addrs_.all()) {
            if (a.addr == *route->prefsrc && a.usable() && port_routes_up(a.port)) {
                ctl_stats_.src_route++;
                return a.addr;
            }
        }
        ctl_stats_.src_route_unusable++;
    }
    uint64_t gen = src_generation();
    if (auto hit = src_cache_.lookup(dst, oif, gen))
        return *hit;
    SrcQuery q;
    q.dst = dst;
    q.out_port = oif;
    auto nd = port_nd_.find(oif);
    q.strict_source = nd != port_nd_.end() && nd->second.strict_source;
    std::vector<SrcCandidate> cands;
    for (const Address& a : addrs_.all()) {
        if (!port_routes_up(a.port) || !in_candidate_set(q, a.port))
            continue;
        if (a.state == AddrState::kTentative) {
            q.tentative++;
            continue;
        }
        if (!a.usable())
            continue;
        cands.push_back({a.addr, a.plen, a.port, !a.deprecated, a.opts.operator_preferred,
                         a.opts.temporary, a.opts.autoconf});
    }
    absl::StatusOr<Ip6> src = fp6::select_source(q, cands, policy_);
    if (src.ok())
        src_cache_.put(dst, oif, gen, *src);
    else if (absl::IsUnavailable(src.status()))
        ctl_stats_.src_not_ready++;
    else
        ctl_stats_.src_none++;
    return src;
}

absl::StatusOr<nlohmann::json> Router::policy_show(const nlohmann::json&) {
    nlohmann::json out = nlohmann::json::array();
    for (const PolicyTable::Entry& e : policy_.list())
        out.push_back(
            {{"prefix", e.prefix.str()}, {"precedence", e.precedence}, {"label", e.label}});
    return out;
}

absl::StatusOr<nlohmann::json> Router::policy_add(const nlohmann::json& a) {
    FP6_ASSIGN(text, str_arg(a, "prefix"));
    FP6_ASSIGN(prefix, parse_prefix(text));
    FP6_ASSIGN(precedence, opt_num(a, "precedence", UINT32_MAX));
    FP6_ASSIGN(label, opt_num(a, "label", UINT32_MAX));
    if (!precedence || !label)
        return absl::InvalidArgumentError("policy add needs precedence N and label N");
    if (prefix.has_host_bits())
        return absl::InvalidArgumentError(
            fmt::format("prefix {} has host bits set; did you mean {}?", prefix.str(),
                        prefix.canonical().str()));
    FP6_RETURN_IF_ERROR(policy_.add(prefix, uint32_t(*precedence), uint32_t(*label)));
    return nlohmann::json(nullptr);
}

absl::StatusOr<nlohmann::json> Router::policy_del(const nlohmann::json& a) {
    FP6_ASSIGN(text, str_arg(a, "prefix"));
    FP6_ASSIGN(prefix, parse_prefix(text));
    FP6_RETURN_IF_ERROR(policy_.del(prefix.canonical()));
    return nlohmann::json(nullptr);
}

void Router::expire_addresses() {
    auto changed = addrs_.expire(now_ms(), [this](uint16_t p) { return port_routes_up(p); });
    if (changed.empty())
        return;
    for (const auto& [port, addr] : changed) {
        if (addrs_.find(port, addr) == nullptr)
            dad_.cancel(port, addr);
        publish_port_addrs(port);
        if (port_routes_up(port))
            program_mcast(port);
    }
    if (absl::Status st = rib_.commit(); !st.ok())
        FP6_LOG(ERR, Rib, "routes not published: {}", std::string(st.message()));
}

WorkerStats Router::since_reset(size_t w) const {
    WorkerStats now = *dp_->worker_stats()[w];
    if (w >= stats_baseline_.size())
        return now;
    const WorkerStats& b = stats_baseline_[w];
    now.rx -= b.rx;
    now.forwarded -= b.forwarded;
    now.punted -= b.punted;
    now.icmp_punted -= b.icmp_punted;
    now.icmp_ratelimited -= b.icmp_ratelimited;
    now.resolve_punted -= b.resolve_punted;
    now.redirect_punted -= b.redirect_punted;
    now.redirect_ratelimited -= b.redirect_ratelimited;
    now.redirect_no_mbuf -= b.redirect_no_mbuf;
    now.loops -= b.loops;
    now.rx_bursts -= b.rx_bursts;
    now.busy_cycles -= b.busy_cycles;
    now.idle_cycles -= b.idle_cycles;
    for (size_t d = 0; d < size_t(Drop::kCount); d++)
        now.drops[d] -= b.drops[d];
    return now;
}

/* ---- events ---- */

void Router::poll_links() {
    for (uint16_t port : dp_->poll_links())
        update_oper(port);
    poll_neighbor_use();
}

std::optional<uint64_t> Router::next_deadline() const {
    std::optional<uint64_t> next;
    auto consider = [&](std::optional<uint64_t> t) {
        if (t && (!next || *t < *next))
            next = t;
    };
    consider(dad_.next_deadline());
    consider(addrs_.next_expiry());
    consider(ncache_.next_deadline());
    if (reasm_)
        consider(reasm_->next_deadline());
    for (const auto& [port, nd] : port_nd_)
        consider(nd.ra_sched.next_deadline());
    return next;
}

void Router::on_timer() {
    uint64_t now = now_ms();
    apply_dad(dad_.poll(now));
    expire_addresses();
    apply_nc(ncache_.poll(now));
    if (reasm_)
        for (const ReasmAction& a : reasm_->poll(now))
            apply_reasm(a);
    for (auto& [port, nd] : port_nd_)
        apply_ra(port, nd.ra_sched.poll(now));
    commit_if_dirty();
}

absl::Status Router::set_ra(uint16_t port, const nlohmann::json& a) {
    PortNd& nd = port_nd_[port];
    RaConfig cfg = nd.ra;
    FP6_ASSIGN(interval, opt_num(a, "ra_interval", 1800));
    FP6_ASSIGN(lifetime, opt_num(a, "ra_lifetime", 9000));
    FP6_ASSIGN(mtu, opt_num(a, "mtu", 65535));
    auto onoff = opt_str(a, "ra");
    if (onoff && *onoff != "on" && *onoff != "off")
        return absl::InvalidArgumentError(fmt::format("ra must be on or off, not \"{}\"", *onoff));
    if (interval)
        cfg.max_interval_s = unsigned(*interval);
    if (lifetime)
        cfg.lifetime_s = unsigned(*lifetime);
    if (mtu)
        cfg.mtu = uint32_t(*mtu);
    if (auto text = opt_str(a, "ra_prefix")) {
        FP6_ASSIGN(prefix, parse_prefix(*text));
        RaPrefix p;
        p.prefix = prefix;
        p.on_link = !a.value("no_onlink", false);
        p.autonomous = !a.value("no_autonomous", false);
        FP6_ASSIGN(valid, opt_num(a, "valid_lft", UINT32_MAX));
        FP6_ASSIGN(preferred, opt_num(a, "preferred_lft", UINT32_MAX));
        if (valid)
            p.valid_lft = uint32_t(*valid);
        if (preferred)
            p.preferred_lft = uint32_t(*preferred);
        std::erase_if(cfg.prefixes, [&](const RaPrefix& e) { return e.prefix == p.prefix; });
        cfg.prefixes.push_back(p);
    }
    if (onoff)
        cfg.enabled = *onoff == "on";
    FP6_RETURN_IF_ERROR(validate(cfg));
    bool was = nd.ra.enabled;
    nd.ra = cfg;
    uint64_t now = now_ms();
    if (cfg.enabled && !was) {
        apply_ra(port, nd.ra_sched.configure(now, cfg));
        apply_ra(port, nd.ra_sched.start(now));
    } else if (cfg.enabled) {
        apply_ra(port, nd.ra_sched.configure(now, cfg));
    } else if (was) {
        // RFC 4861 6.2.5: final RAs with router lifetime 0.
        apply_ra(port, nd.ra_sched.stop(now));
    }
    FP6_LOG(INFO, Nd, "{}: router advertisements {}", dp_->port(port).name,
            cfg.enabled ? "on" : "off");
    return absl::OkStatus();
}

void Router::apply_ra(uint16_t port, const std::vector<RaAction>& actions) {
    PortNd& nd = port_nd_[port];
    for (const RaAction& act : actions) {
        std::optional<Ip6> ll;
        for (const Address& a : addrs_.on_port(port))
            if (!ll && a.usable() && a.addr.is_linklocal())
                ll = a.addr;
        // RFC 4861 6.1.2: an RA comes from the router's link-local address.
        if (!ll || !port_routes_up(port)) {
            ctl_stats_.ra_no_linklocal++;
            continue;
        }
        std::vector<uint8_t> buf(ra_len(nd.ra));
        size_t len = build_ra(buf, *ll, act.dst, nd.ra, dp_->port(port).mac, act.final_ra);
        if (len == 0)
            continue;
        send_ip6(port, act.dst.is_multicast() ? Mac::for_multicast(act.dst) : Mac(), buf.data(),
                 len);
        ctl_stats_.ra_sent++;
    }
}

void Router::start_dad(uint16_t port, const Ip6& addr) {
    apply_dad(dad_.start(port, addr, port_nd_[port].dad, now_ms()));
}

void Router::apply_dad(const std::vector<DadAction>& actions) {
    for (const DadAction& act : actions) {
        const std::string& name = dp_->port(act.port).name;
        switch (act.kind) {
            case DadAction::kSendProbe:
                send_ns_probe(act.port, act.addr, act.nonce);
                break;
            case DadAction::kUsable:
                if (!addrs_.set_state(act.port, act.addr, AddrState::kPreferred))
                    break;
                FP6_LOG(INFO, Nd, "{}: {} passed duplicate address detection: in use", name,
                        act.addr.str());
                // RAs come from the link-local address: once it is usable, the
                // start-up advertisements go out (again).
                if (act.addr.is_linklocal() && port_nd_[act.port].ra.enabled)
                    apply_ra(act.port, port_nd_[act.port].ra_sched.configure(
                                           now_ms(), port_nd_[act.port].ra));
                break;
            case DadAction::kDuplicate: {
                const Address* a = addrs_.find(act.port, act.addr);
                if (a == nullptr || !addrs_.set_state(act.port, act.addr, AddrState::kDuplicate))
                    break;
                // RFC 4862 5.4.5: a duplicate EUI-64 link-local means another
                // interface has our MAC. fp6 keeps the port's other addresses
                // (they passed their own DAD) and says so loudly.
                if (a->auto_linklocal)
                    FP6_LOG(ERR, Nd,
                            "{}: link-local {} is duplicate: another node uses MAC {}; "
                            "the port's other addresses stay in use",
                            name, act.addr.str(), dp_->port(act.port).mac.str());
                else
                    FP6_LOG(WARNING, Nd, "{}: {} is a duplicate address on the link: not used",
                            name, act.addr.str());
                program_mcast(act.port);
                break;
            }
        }
        if (act.kind != DadAction::kSendProbe) {
            publish_port_addrs(act.port);
            if (absl::Status st = rib_.commit(); !st.ok())
                FP6_LOG(ERR, Rib, "{}: routes not published: {}", name, std::string(st.message()));
        }
    }
}

void Router::handle_punts() {
    // A bounded batch per call: the event loop comes back at once (without
    // sleeping) while packets wait, but the control socket, signals and
    // timers get their turn between batches however fast the workers punt.
    constexpr unsigned kBatch = 256;
    rte_mbuf* pkts[64];
    unsigned n, done = 0;
    while (done < kBatch && (n = dp_->drain_punts(pkts, 64)) != 0) {
        ctl_stats_.punt_received += n;
        done += n;
        for (unsigned i = 0; i < n; i++)
            handle_local(pkts[i]);
    }
    commit_if_dirty();
}

}  // namespace fp6
