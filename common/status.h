/* Early-return helpers for absl::Status and absl::StatusOr. */
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

/* `FP6_ASSIGN(x, f());` declares x from an ok StatusOr, or returns its error. */
#define FP6_ASSIGN(lhs, expr)     \
    auto lhs##_or = (expr);       \
    if (!lhs##_or.ok())           \
        return lhs##_or.status(); \
    auto lhs = std::move(*lhs##_or)

#define FP6_RETURN_IF_ERROR(expr)  \
    do {                           \
        absl::Status st_ = (expr); \
        if (!st_.ok())             \
            return st_;            \
    } while (0)
