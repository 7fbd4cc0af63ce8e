/* tsc_hz: prints the time-stamp counter's rate in Hz, measured against
 * CLOCK_MONOTONIC_RAW over 200 ms, for tools/bench.sh's cycles per packet
 * (TSC cycles of the forwarding core over packets). Needs no EAL. */
#include <rte_cycles.h>
#include <time.h>

#include <cstdio>

namespace {

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main() {
    const double t0 = now_s();
    const uint64_t c0 = rte_rdtsc_precise();
    timespec nap{0, 200 * 1000 * 1000};
    while (nanosleep(&nap, &nap) != 0) {
    }
    const uint64_t c1 = rte_rdtsc_precise();
    const double t1 = now_s();
    std::printf("%.0f\n", double(c1 - c0) / (t1 - t0));
    return 0;
}
