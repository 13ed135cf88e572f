// Copyright 2026 The dataloader Authors.
//
// What flows through a server pipeline: a Sample is one dataset item as named tensors, tagged
// with its dataset index and its augmentation seed (see EpochPlan's SampleSeed). Ops transform
// samples; the collate step stacks the samples of a batch into the wire format.
#ifndef SERVER_PIPELINE_SAMPLE_H_
#define SERVER_PIPELINE_SAMPLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dataloader::server {

namespace io {
class ObjectStore;
}  // namespace io

// Element types. The values equal dataloader.v1.DType's, so conversion is a cast.
enum class DType : int {
  kUint8 = 1,
  kInt8 = 2,
  kInt16 = 3,
  kInt32 = 4,
  kInt64 = 5,
  kFloat16 = 6,
  kBFloat16 = 7,
  kFloat32 = 8,
  kFloat64 = 9,
  kBool = 10,
};

// Bytes per element.
size_t DTypeSize(DType dtype);
// "uint8", "float32", ...; and back (InvalidArgument naming the text).
absl::string_view DTypeName(DType dtype);
absl::StatusOr<DType> ParseDType(absl::string_view name);

struct Tensor {
  std::string name{};
  DType dtype = DType::kUint8;
  std::vector<int64_t> shape{};
  std::vector<uint8_t> data{};  // C order, little-endian; size == elements * DTypeSize(dtype).

  int64_t elements() const;
};

struct Sample {
  int64_t index = 0;  // In the dataset.
  uint64_t seed = 0;  // For per-sample randomness.
  std::vector<Tensor> tensors{};
  // Samples of a file dataset: the file's path relative to the dataset root. read_file reads
  // it; errors name it. Not a tensor: it is not batched. Samples of a remote dataset: the
  // object's URL (http://, https:// or s3://), which read_url reads through `store`.
  std::string path{};
  // Samples of a remote dataset: the store (HTTP client, S3 settings) that reads `path`;
  // shared by every sample of the dataset. Null otherwise, and after read_url (which lets go
  // of it: a sample's bytes do not keep a store alive).
  std::shared_ptr<const io::ObjectStore> store{};

  // The tensor called `name`, or NotFound naming it and the sample.
  absl::StatusOr<Tensor*> Find(absl::string_view name);
  // Removes the tensor called `name` and returns it (NotFound as Find).
  absl::StatusOr<Tensor> Take(absl::string_view name);
  // "file 'a/b.jpg'", "object 's3://b/k.jpg'" (credentials left out) or "sample 12": how
  // errors name this sample.
  std::string Describe() const;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_SAMPLE_H_
