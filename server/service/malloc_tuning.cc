// Copyright 2026 The dataloader Authors.

#include "server/service/malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dataloader::server {

void TuneMallocForBatches() {
#if defined(__GLIBC__)
  // 32 MiB is the most glibc accepts (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit); larger blocks
  // are rare enough that an mmap each is fine.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
}

}  // namespace dataloader::server
