/* Duplicate address detection (RFC 4862 5.4, with the RFC 7527 nonce).
 *
 * A pure state machine on an explicit millisecond clock: the control thread
 * feeds it events (start, received NS/NA, time passing) and carries out the
 * actions it returns (send a probe, declare the address usable or
 * duplicate). Nothing here sends a packet or reads a clock, so the unit
 * tests drive it with a fake clock.
 *
 * Concurrency: control thread only. */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "common/ip6.h"

namespace fp6 {

struct DadAction {
    enum Kind { kSendProbe, kUsable, kDuplicate } kind;
    uint16_t port;
    Ip6 addr;
    uint64_t nonce = 0;  // kSendProbe: the Nonce option to put in the NS
};

struct DadParams {
    unsigned transmits = 1;        // DupAddrDetectTransmits; 0 disables DAD
    unsigned retrans_ms = 1000;    // RetransTimer between probes and after the last
    unsigned max_delay_ms = 1000;  // random delay before the first probe (RFC 4862 5.4.2)
};

class Dad {
  public:
    explicit Dad(uint64_t seed = std::random_device{}()) : rng_(seed) {}

    /* Starts (or restarts) DAD for addr on port. With transmits == 0 the
     * address is usable at once (kUsable returned). Undone by cancel(). */
    std::vector<DadAction> start(uint16_t port, const Ip6& addr, const DadParams& p, uint64_t now);
    /* Forgets a run (address deleted, port down). */
    void cancel(uint16_t port, const Ip6& addr);
    void cancel_port(uint16_t port);

    /* A valid NS for `target` from the unspecified address arrived on port
     * (someone else's DAD, or our own probe looped back: same nonce). */
    std::vector<DadAction> on_dad_ns(uint16_t port, const Ip6& target,
                                     std::optional<uint64_t> nonce);
    /* A valid NA for `target` arrived on port. */
    std::vector<DadAction> on_na(uint16_t port, const Ip6& target);

    /* Actions due at `now`. */
    std::vector<DadAction> poll(uint64_t now);
    /* The next time poll() has something to do, or nullopt. */
    std::optional<uint64_t> next_deadline() const;
    bool running(uint16_t port, const Ip6& addr) const { return runs_.count({port, addr}) != 0; }

  private:
    struct Run {
        uint64_t nonce;
        unsigned probes_left;  // still to send
        unsigned retrans_ms;
        uint64_t deadline;  // next probe, or the verdict once probes_left == 0
    };
    std::map<std::pair<uint16_t, Ip6>, Run> runs_;
    std::mt19937_64 rng_;
};

}  // namespace fp6
