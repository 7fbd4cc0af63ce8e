#include "rib/addr.h"

#include <algorithm>

#include "common/log.h"

namespace fp6 {

absl::Status check_address(const Ip6& a, int plen) {
    auto bad = [&](const char* why) {
        return absl::InvalidArgumentError(fmt::format("{}/{}: {}", a.str(), plen, why));
    };
    if (plen < 1 || plen > 128)
        return bad("prefix length must be 1..128");
    if (a.is_unspecified())
        return bad("the unspecified address cannot be assigned");
    if (a.is_loopback())
        return bad("the loopback address cannot be assigned");
    if (a.is_multicast())
        return bad("a multicast address cannot be assigned");
    if (a.is_v4mapped())
        return bad("an IPv4-mapped address cannot be assigned");
    if (a.is_v4compat() && (a[12] & 0xf0) == 0xe0)
        return bad("an IPv4-compatible address with a class D IPv4 address cannot be assigned");
    // RFC 4291 2.6.1: the all-zero interface id is the subnet-router anycast
    // address; RFC 6164 allows it on /127 point-to-point links (and /128).
    if (plen < 127 && a.masked(plen) == a)
        return bad("this is the subnet-router anycast address of the prefix");
    return absl::OkStatus();
}

absl::Status AddrTable::add(uint16_t port, const Ip6& addr, int plen, bool port_up,
                            bool auto_linklocal, AddrOptions opts) {
    if (absl::Status st = check_address(addr, plen); !st.ok())
        return st;
    for (const Address& e : addrs_) {
        if (e.addr != addr)
            continue;
        if (e.port == port)
            return absl::AlreadyExistsError(fmt::format("{} exists on this port", addr.str()));
        if (!addr.is_linklocal()) {
            const RibPortInfo* p = rib_.port_info(e.port);
            return absl::AlreadyExistsError(
                fmt::format("{} in use on {}", addr.str(), p != nullptr ? p->name : "?"));
        }
    }
    Address a{addr, plen, port, AddrState::kTentative, auto_linklocal, false, opts};
    addrs_.push_back(a);
    if (port_up)
        install(a);
    generation_++;
    FP6_LOG(INFO, Rib, "{}: address {}/{} added", rib_.port_info(port)->name, addr.str(), plen);
    return absl::OkStatus();
}

absl::Status AddrTable::del(uint16_t port, const Ip6& addr, int plen, bool port_up) {
    auto it = std::find_if(addrs_.begin(), addrs_.end(), [&](const Address& e) {
        return e.port == port && e.addr == addr && e.plen == plen;
    });
    if (it == addrs_.end())
        return absl::NotFoundError(
            fmt::format("{}/{} is not an address of this port", addr.str(), plen));
    if (port_up)
        withdraw(*it);
    addrs_.erase(it);
    generation_++;
    FP6_LOG(INFO, Rib, "{}: address {}/{} deleted", rib_.port_info(port)->name, addr.str(), plen);
    return absl::OkStatus();
}

void AddrTable::install(const Address& a) {
    rib_.add_connected(a.subnet(), a.port);
    if (a.usable())
        rib_.add_local(a.addr, a.port);
}

void AddrTable::withdraw(const Address& a) {
    if (a.usable())
        rib_.del_local(a.addr, a.port);
    rib_.del_connected(a.subnet(), a.port);
}

void AddrTable::port_up(uint16_t port) {
    for (Address& a : addrs_) {
        if (a.port != port)
            continue;
        a.state = AddrState::kTentative;
        install(a);
    }
    generation_++;
}

void AddrTable::port_down(uint16_t port) {
    for (Address& a : addrs_) {
        if (a.port != port)
            continue;
        withdraw(a);
        a.state = AddrState::kTentative;
    }
    generation_++;
}

bool AddrTable::set_state(uint16_t port, const Ip6& addr, AddrState state) {
    for (Address& a : addrs_) {
        if (a.port != port || a.addr != addr)
            continue;
        if (a.usable() && state != AddrState::kPreferred)
            rib_.del_local(a.addr, a.port);
        else if (!a.usable() && state == AddrState::kPreferred)
            rib_.add_local(a.addr, a.port);
        if (a.state != state)
            generation_++;
        a.state = state;
        return true;
    }
    return false;
}

const Address* AddrTable::find(uint16_t port, const Ip6& addr) const {
    for (const Address& a : addrs_)
        if (a.port == port && a.addr == addr)
            return &a;
    return nullptr;
}

bool AddrTable::is_usable_on(uint16_t port, const Ip6& addr) const {
    const Address* a = find(port, addr);
    return a != nullptr && a->usable();
}

std::vector<std::pair<uint16_t, Ip6>> AddrTable::expire(
    uint64_t now, const std::function<bool(uint16_t)>& port_up) {
    std::vector<std::pair<uint16_t, Ip6>> changed;
    for (auto it = addrs_.begin(); it != addrs_.end();) {
        Address& a = *it;
        if (a.opts.valid_until && *a.opts.valid_until <= now) {
            // RFC 4862 5.5.4: an address whose valid lifetime expires is removed.
            FP6_LOG(INFO, Rib, "{}: address {}/{} removed: valid lifetime ended",
                    rib_.port_info(a.port)->name, a.addr.str(), a.plen);
            if (port_up(a.port))
                withdraw(a);
            changed.push_back({a.port, a.addr});
            it = addrs_.erase(it);
            generation_++;
            continue;
        }
        if (!a.deprecated && a.opts.preferred_until && *a.opts.preferred_until <= now) {
            // RFC 4862 5.5.4: past its preferred lifetime an address is
            // deprecated: still valid, no longer preferred as a source.
            a.deprecated = true;
            FP6_LOG(INFO, Rib, "{}: address {}/{} deprecated: preferred lifetime ended",
                    rib_.port_info(a.port)->name, a.addr.str(), a.plen);
            changed.push_back({a.port, a.addr});
            generation_++;
        }
        ++it;
    }
    return changed;
}

std::optional<uint64_t> AddrTable::next_expiry() const {
    std::optional<uint64_t> next;
    auto consider = [&](std::optional<uint64_t> t) {
        if (t && (!next || *t < *next))
            next = t;
    };
    for (const Address& a : addrs_) {
        consider(a.opts.valid_until);
        if (!a.deprecated)
            consider(a.opts.preferred_until);
    }
    return next;
}

bool AddrTable::has_linklocal(uint16_t port) const {
    return std::any_of(addrs_.begin(), addrs_.end(),
                       [&](const Address& a) { return a.port == port && a.addr.is_linklocal(); });
}

void AddrTable::forget_port(uint16_t port, bool port_up) {
    if (port_up)
        port_down(port);
    std::erase_if(addrs_, [&](const Address& a) { return a.port == port; });
    generation_++;
}

std::vector<Address> AddrTable::on_port(uint16_t port) const {
    std::vector<Address> out;
    for (const Address& a : addrs_)
        if (a.port == port)
            out.push_back(a);
    return out;
}

std::vector<Ip6> AddrTable::groups(uint16_t port) const {
    std::vector<Ip6> g{kAllNodes, kAllRouters};
    for (const Address& a : addrs_) {
        // RFC 4862 5.4.2: the solicited-node group is joined before the
        // first probe, so tentative addresses count.
        if (a.port != port || a.state == AddrState::kDuplicate)
            continue;
        Ip6 sn = a.addr.solicited_node();
        if (std::find(g.begin(), g.end(), sn) == g.end())
            g.push_back(sn);
    }
    return g;
}

bool AddrTable::is_ours(const Ip6& a) const {
    return std::any_of(addrs_.begin(), addrs_.end(), [&](const Address& e) { return e.addr == a; });
}

}  // namespace fp6
