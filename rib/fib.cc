#include "rib/fib.h"

#include <cstdlib>

#include "common/log.h"

namespace fp6 {

Fib::Fib(uint32_t max_groups) {
    auto lpm = Lpm6::create(max_groups);
    if (!lpm.ok()) {
        FP6_LOG(ERR, Rib, "cannot create the FIB: {}", std::string(lpm.status().message()));
        std::abort();
    }
    lpm_ = std::move(*lpm);
}

void Fib::commit(bool grace) {
    lpm_->compact();
    lpm_->synchronize(grace);
    generation_++;
}

}  // namespace fp6
