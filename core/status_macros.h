// Copyright 2026 The dataloader Authors.
//
// DL_CHECK: the invariant check missing from Debian's Abseil 20220623 (it has no CHECK).
//
//   DL_CHECK(in_use_ >= 0);  // A broken invariant: aborts, printing the condition's text.
//
// For bugs only: anything that comes from a user, a file or the network returns a Status.
#ifndef CORE_STATUS_MACROS_H_
#define CORE_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>

// Crashes with file, line and the condition's text when an invariant is broken.
#define DL_CHECK(condition)                                                                 \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: DL_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

#endif  // CORE_STATUS_MACROS_H_
