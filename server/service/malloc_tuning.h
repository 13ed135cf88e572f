// Copyright 2026 The dataloader Authors.
//
// TuneMallocForBatches: glibc malloc serves blocks of 128 KiB and more (until its dynamic
// threshold adapts) with a fresh mmap and unmaps them on free, so batch buffers (a sample's
// pixels, a collated batch, gRPC's receive buffers) cost page faults and zeroing by the
// kernel: ~10% of stream_benchmark's CPU samples. Raising the mmap threshold makes such blocks
// come from the heap and be reused; measured with `perf stat -e page-faults`, it cuts the
// benchmark's page faults by 10-20% (0.70-0.84 M vs 0.89-0.92 M); the throughput difference is
// within the benchmark's noise. The heap still returns free memory at its top to the system
// (trim threshold unchanged: raising it too tripled peak RSS), so most faults remain and the
// peak resident size stays bounded by the buffers in use.
//
// Call once at the start of main(), before threads start. A no-op on other C libraries.
#ifndef SERVER_SERVICE_MALLOC_TUNING_H_
#define SERVER_SERVICE_MALLOC_TUNING_H_

namespace dataloader::server {

void TuneMallocForBatches();

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_MALLOC_TUNING_H_
