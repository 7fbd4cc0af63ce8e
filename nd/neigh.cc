#include "nd/neigh.h"

#include "common/log.h"

namespace fp6 {

const char* neigh_state_name(NeighState s) {
    switch (s) {
    case NeighState::kPermanent:
        return "PERMANENT";
    }
    return "?";
}

absl::Status NeighCache::add_static(uint16_t port, const Ip6& addr, const Mac& mac) {
    if (addr.is_multicast() || addr.is_unspecified() || addr.is_loopback())
        return absl::InvalidArgumentError(
            fmt::format("{} is not a unicast neighbour address", addr.str()));
    if (addrs_.is_ours(addr))
        return absl::InvalidArgumentError(fmt::format("{} is a local address", addr.str()));
    if (mac.is_multicast() || mac.is_zero())
        return absl::InvalidArgumentError(
            fmt::format("{} is not a unicast link-layer address", mac.str()));
    entries_[{port, addr}] = Neighbor{port, addr, mac, NeighState::kPermanent};
    rib_.set_neighbor(port, addr, mac);
    FP6_LOG(INFO, Nd, "{}: neighbour {} lladdr {} PERMANENT", rib_.port_info(port)->name,
            addr.str(), mac.str());
    return absl::OkStatus();
}

absl::Status NeighCache::del(uint16_t port, const Ip6& addr) {
    if (addrs_.is_ours(addr))
        return absl::InvalidArgumentError(fmt::format("{} is a local address", addr.str()));
    auto it = entries_.find({port, addr});
    if (it == entries_.end())
        return absl::NotFoundError(fmt::format("no such neighbor: {}", addr.str()));
    entries_.erase(it);
    rib_.set_neighbor(port, addr, std::nullopt);
    return absl::OkStatus();
}

void NeighCache::forget_port(uint16_t port) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->first.first == port) {
            rib_.set_neighbor(port, it->first.second, std::nullopt);
            it = entries_.erase(it);
        } else {
            ++it;
        }
    }
}

std::vector<Neighbor> NeighCache::list() const {
    std::vector<Neighbor> out;
    for (const auto& [k, n] : entries_)
        out.push_back(n);
    return out;
}

}  // namespace fp6
