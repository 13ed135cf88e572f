// Copyright 2026 The dataloader Authors.
//
// AssembledBatch<T>: what PipelineBuilder::AssembleBatches(size) emits. Batch k holds the
// items that came from source items k*size .. k*size+size-1, in that order, whatever order the
// stages before finished them in; batches leave in sequence.
//
//   auto pipeline = PipelineBuilder<>()
//                       .AddSource(paths)
//                       .Pipe(Decode, {.concurrency = kAutomatic})   // completion order
//                       .AssembleBatches(64)
//                       .AddSink(4)
//                       .Build({.num_threads = 16});
//   for (AssembledBatch<Image>& batch : **pipeline) Train(batch.sequence, batch.items);
#ifndef CORE_ASSEMBLED_BATCH_H_
#define CORE_ASSEMBLED_BATCH_H_

#include <cstdint>
#include <vector>

namespace dataloader {

template <typename T>
struct AssembledBatch {
  // 0, 1, 2, ...: batch k holds the items from source positions [k*size, (k+1)*size).
  int64_t sequence = 0;
  // The items of the batch in source order. An item that failed or was filtered out in a stage
  // before leaves its position empty: the batch is one item smaller and nothing shifts.
  std::vector<T> items{};
  // The position of each item within its batch (0 .. size-1), parallel to `items`: which
  // positions are missing, if any.
  std::vector<int32_t> slots{};
};

}  // namespace dataloader

#endif  // CORE_ASSEMBLED_BATCH_H_
