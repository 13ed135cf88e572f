// Copyright 2026 The dataloader Authors.
//
// TuneMallocForBatches: glibc malloc serves blocks of 128 KiB and more with a fresh mmap each
// time and unmaps them on free, so every batch buffer (a sample's pixels, a collated batch,
// gRPC's receive buffers) costs page faults and zeroing by the kernel: a fifth of the CPU time
// of a 1 MiB-batch stream. Raising the mmap threshold makes such blocks come from the heap and
// be reused. The heap still returns free memory at its top to the system (trim threshold
// unchanged), so the peak resident size stays bounded by the buffers in use.
//
// Call once at the start of main(), before threads start. A no-op on other C libraries.
#ifndef SERVER_MALLOC_TUNING_H_
#define SERVER_MALLOC_TUNING_H_

namespace dataloader::server {

void TuneMallocForBatches();

}  // namespace dataloader::server

#endif  // SERVER_MALLOC_TUNING_H_
