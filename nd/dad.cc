#include "nd/dad.h"

namespace fp6 {

std::vector<DadAction> Dad::start(uint16_t port, const Ip6& addr, const DadParams& p,
                                  uint64_t now) {
    runs_.erase({port, addr});
    if (p.transmits == 0)
        return {{DadAction::kUsable, port, addr}};
    Run r;
    r.nonce = rng_() & 0xffffffffffffULL;  // 48 bits, RFC 7527 section 4.3
    if (r.nonce == 0)
        r.nonce = 1;
    r.probes_left = p.transmits;
    r.retrans_ms = p.retrans_ms;
    uint64_t delay = p.max_delay_ms == 0 ? 0 : rng_() % (uint64_t(p.max_delay_ms) + 1);
    r.deadline = now + delay;
    runs_[{port, addr}] = r;
    return {};
}

void Dad::cancel(uint16_t port, const Ip6& addr) {
    runs_.erase({port, addr});
}

void Dad::cancel_port(uint16_t port) {
    for (auto it = runs_.begin(); it != runs_.end();)
        it = it->first.first == port ? runs_.erase(it) : std::next(it);
}

std::vector<DadAction> Dad::on_dad_ns(uint16_t port, const Ip6& target,
                                      std::optional<uint64_t> nonce) {
    auto it = runs_.find({port, target});
    if (it == runs_.end())
        return {};
    // RFC 7527 4.2: an NS carrying our own nonce is our probe looped back
    // (a switch reflecting multicast), not another node.
    if (nonce && *nonce == it->second.nonce)
        return {};
    runs_.erase(it);
    return {{DadAction::kDuplicate, port, target}};
}

std::vector<DadAction> Dad::on_na(uint16_t port, const Ip6& target) {
    // RFC 4862 5.4.4: an NA for a tentative address means it is in use.
    auto it = runs_.find({port, target});
    if (it == runs_.end())
        return {};
    runs_.erase(it);
    return {{DadAction::kDuplicate, port, target}};
}

std::vector<DadAction> Dad::poll(uint64_t now) {
    std::vector<DadAction> out;
    for (auto it = runs_.begin(); it != runs_.end();) {
        Run& r = it->second;
        if (r.deadline > now) {
            ++it;
            continue;
        }
        const auto& [port, addr] = it->first;
        if (r.probes_left > 0) {
            out.push_back({DadAction::kSendProbe, port, addr, r.nonce});
            r.probes_left--;
            r.deadline = now + r.retrans_ms;
            ++it;
        } else {
            // RFC 4862 5.4.3: no conflict within RetransTimer after the last
            // probe: the address is unique on the link.
            out.push_back({DadAction::kUsable, port, addr});
            it = runs_.erase(it);
        }
    }
    return out;
}

std::optional<uint64_t> Dad::next_deadline() const {
    std::optional<uint64_t> next;
    for (const auto& [k, r] : runs_)
        if (!next || r.deadline < *next)
            next = r.deadline;
    return next;
}

}  // namespace fp6
