// Copyright 2026 The dataloader Authors.
//
// Fuzzes what the client library does with a received batch (client/tensor_view.h): the
// bytes are parsed as a dataloader.v1.Batch (as the generated stub does), every tensor is
// checked (CheckTensor: dtype known, dimensions >= 0, product without overflow equal to the
// data's size) and viewed as its dtype's element type (TensorView<T>), and every element of
// a view that was granted is read as its type, so that a view larger than its data would be
// caught by AddressSanitizer and a bool that is neither 0 nor 1 by UBSan. A view must be
// granted exactly when the tensor is well-formed (for bool: and its bytes are 0 or 1), and a
// view as another type must be refused.
//
// Input: a serialized Batch, as it comes off the wire.
#include <google/protobuf/stubs/logging.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "client/tensor_view.h"
#include "dataloader/v1/data_loader.pb.h"

namespace {

using dataloader::client::TensorView;
namespace v1 = dataloader::v1;

// Each element read as its type (a bool that is neither 0 nor 1 is undefined behaviour that
// UBSan reports), summed so that the reads stay.
template <typename T>
uint64_t Value(const T& element) {
  return static_cast<uint64_t>(element);
}
uint64_t Value(const dataloader::client::Float16& element) { return element.bits; }
uint64_t Value(float element) { return std::bit_cast<uint32_t>(element); }
uint64_t Value(double element) { return std::bit_cast<uint64_t>(element); }
uint64_t Value(const dataloader::client::BFloat16& element) { return element.bits; }

template <typename T>
uint64_t ReadAll(const v1::Tensor& tensor, bool expect_view) {
  absl::StatusOr<absl::Span<const T>> view = TensorView<T>(tensor);
  if (view.ok() != expect_view) {
    std::fprintf(stderr, "TensorView of '%s' was %s, CheckTensor said %s\n", tensor.name().c_str(),
                 view.ok() ? "granted" : "refused", expect_view ? "fine" : "not");
    std::abort();
  }
  if (!view.ok()) return 0;
  uint64_t sum = 0;
  for (const T& element : *view) sum += Value(element);
  return sum;
}

uint64_t ViewAsItsType(const v1::Tensor& tensor, bool valid) {
  switch (tensor.dtype()) {
    case v1::DTYPE_UINT8:
      return ReadAll<uint8_t>(tensor, valid);
    case v1::DTYPE_INT8:
      return ReadAll<int8_t>(tensor, valid);
    case v1::DTYPE_INT16:
      return ReadAll<int16_t>(tensor, valid);
    case v1::DTYPE_INT32:
      return ReadAll<int32_t>(tensor, valid);
    case v1::DTYPE_INT64:
      return ReadAll<int64_t>(tensor, valid);
    case v1::DTYPE_FLOAT16:
      return ReadAll<dataloader::client::Float16>(tensor, valid);
    case v1::DTYPE_BFLOAT16:
      return ReadAll<dataloader::client::BFloat16>(tensor, valid);
    case v1::DTYPE_FLOAT32:
      return ReadAll<float>(tensor, valid);
    case v1::DTYPE_FLOAT64:
      return ReadAll<double>(tensor, valid);
    case v1::DTYPE_BOOL: {
      // A bool view also needs every byte to be 0 or 1.
      bool bits = true;
      for (const char byte : tensor.data()) bits &= byte == 0 || byte == 1;
      return ReadAll<bool>(tensor, valid && bits);
    }
    default:
      return 0;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::Batch batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;
  volatile uint64_t sink = 0;
  for (const v1::Tensor& tensor : batch.tensors()) {
    const bool valid = dataloader::client::CheckTensor(tensor).ok();
    (void)dataloader::client::DTypeName(tensor.dtype());
    (void)dataloader::client::ShapeString(tensor.shape());
    sink = sink + ViewAsItsType(tensor, valid);
    // A view as another element type is always refused.
    if (tensor.dtype() != v1::DTYPE_FLOAT64 && TensorView<double>(tensor).ok()) {
      std::fprintf(stderr, "a %s tensor was viewed as FLOAT64\n",
                   dataloader::client::DTypeName(tensor.dtype()).c_str());
      std::abort();
    }
  }
  (void)batch.sequence();
  (void)batch.resume_token();
  return 0;
}
