// Copyright 2026 The dataloader Authors.
//
// Status helpers missing from Debian's Abseil 20220623 (it has no status macros and no CHECK).
//
//   DL_RETURN_IF_ERROR(Validate(options));
//   DL_ASSIGN_OR_RETURN(auto pipeline, builder.Build());
//   DL_CHECK(in_use_ >= 0) << ...   // no streaming: DL_CHECK(condition) aborts with the text.
#ifndef CORE_STATUS_MACROS_H_
#define CORE_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DL_STATUS_CONCAT_INNER_(a, b) a##b
#define DL_STATUS_CONCAT_(a, b) DL_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function if it is not OK.
#define DL_RETURN_IF_ERROR(expr)              \
  do {                                        \
    const ::absl::Status dl_status_ = (expr); \
    if (!dl_status_.ok()) return dl_status_;  \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if not OK, else moves the value
// into `lhs`, which may be a declaration (`auto x`).
#define DL_ASSIGN_OR_RETURN(lhs, rexpr) \
  DL_ASSIGN_OR_RETURN_IMPL_(DL_STATUS_CONCAT_(dl_statusor_, __LINE__), lhs, rexpr)
#define DL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)    \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

// Crashes with file, line and the condition's text when an invariant is broken. For bugs only:
// anything that comes from a user, a file or the network returns a Status instead.
#define DL_CHECK(condition)                                                                 \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: DL_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

#endif  // CORE_STATUS_MACROS_H_
