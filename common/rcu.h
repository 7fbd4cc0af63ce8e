/* fp6 uses liburcu's QSBR flavour everywhere. Read side: the worker lcores,
 * each registered once and quiescent once per poll loop (and offline while
 * it sleeps). Writer: the control thread, which publishes with
 * rcu_assign_pointer() and reclaims with call_rcu() so that it never waits
 * for a grace period itself. */
#pragma once

#define _LGPL_SOURCE 1
#include <urcu-qsbr.h>  // IWYU pragma: export

#include <utility>

namespace fp6 {

/* Frees `p` with `delete` after a grace period. T must be complete here. The
 * callback runs on liburcu's call_rcu thread. */
template <typename T>
void rcu_delete(T* p) {
    if (p == nullptr)
        return;
    struct Box {
        rcu_head head;
        T* obj;
    };
    auto* box = new Box{{}, p};
    call_rcu(&box->head, [](rcu_head* h) {
        auto* b = caa_container_of(h, Box, head);
        delete b->obj;
        delete b;
    });
}

/* Runs fn() once after a grace period, on liburcu's call_rcu thread. */
template <typename F>
void rcu_defer(F&& fn) {
    struct Box {
        rcu_head head;
        F fn;
    };
    auto* box = new Box{{}, std::forward<F>(fn)};
    call_rcu(&box->head, [](rcu_head* h) {
        auto* b = caa_container_of(h, Box, head);
        b->fn();
        delete b;
    });
}

}  // namespace fp6
