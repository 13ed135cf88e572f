// Copyright 2026 The dataloader Authors.
//
// Typed, zero-copy views of a received Tensor's bytes.
//
//   absl::StatusOr<absl::Span<const float>> image = TensorView<float>(batch.tensors(0));
//   if (!image.ok()) return image.status();  // wrong dtype, or data that does not fit the shape
//   float first = (*image)[0];
//
// A view borrows the Tensor's data: it is valid while the Tensor (its Batch) lives unchanged.
// Element types: uint8_t, int8_t, int16_t, int32_t, int64_t, float, double, bool, and
// Float16 / BFloat16 (the raw 16 bits; convert them yourself). The wire format is
// little-endian, which is what these views assume (checked at compile time).
#ifndef CLIENT_TENSOR_VIEW_H_
#define CLIENT_TENSOR_VIEW_H_

#include <bit>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataloader/v1/data_loader.pb.h"

namespace dataloader::client {

static_assert(std::endian::native == std::endian::little,
              "tensor views reinterpret little-endian wire bytes in place");

// The raw bits of an IEEE 754 binary16 element.
struct Float16 {
  uint16_t bits = 0;
};
// The raw bits of a bfloat16 element (the upper half of a binary32).
struct BFloat16 {
  uint16_t bits = 0;
};

// The DType a C++ element type views; only the specializations below exist.
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<uint8_t> {
  static constexpr v1::DType value = v1::DTYPE_UINT8;
};
template <>
struct DTypeOf<int8_t> {
  static constexpr v1::DType value = v1::DTYPE_INT8;
};
template <>
struct DTypeOf<int16_t> {
  static constexpr v1::DType value = v1::DTYPE_INT16;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr v1::DType value = v1::DTYPE_INT32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr v1::DType value = v1::DTYPE_INT64;
};
template <>
struct DTypeOf<Float16> {
  static constexpr v1::DType value = v1::DTYPE_FLOAT16;
};
template <>
struct DTypeOf<BFloat16> {
  static constexpr v1::DType value = v1::DTYPE_BFLOAT16;
};
template <>
struct DTypeOf<float> {
  static constexpr v1::DType value = v1::DTYPE_FLOAT32;
};
template <>
struct DTypeOf<double> {
  static constexpr v1::DType value = v1::DTYPE_FLOAT64;
};
template <>
struct DTypeOf<bool> {
  static constexpr v1::DType value = v1::DTYPE_BOOL;
};

// Bytes per element of `dtype`; 0 for DTYPE_UNSPECIFIED and values this client does not know.
int DTypeSize(v1::DType dtype);

// "FLOAT32" for DTYPE_FLOAT32; "DType(42)" for an unknown value.
std::string DTypeName(v1::DType dtype);

// "[8, 3, 224, 224]".
std::string ShapeString(absl::Span<const int64_t> shape);

// OK if `tensor` is well-formed: a known dtype, dimensions >= 0, and exactly product(shape) *
// DTypeSize(dtype) bytes of data. InvalidArgument naming the tensor, its dtype, shape and
// sizes otherwise.
absl::Status CheckTensor(const v1::Tensor& tensor);
// The same check on a tensor's fields (`data_size`: bytes of its data).
absl::Status CheckTensor(const std::string& name, v1::DType dtype, absl::Span<const int64_t> shape,
                         uint64_t data_size);

namespace internal {
// CheckTensor plus: the dtype is `expected`, and `data` is aligned to `alignment`.
absl::Status CheckTensorView(const v1::Tensor& tensor, v1::DType expected, size_t alignment);
}  // namespace internal

// The elements of `tensor` as T, in C order, without copying. InvalidArgument if T does not
// match the tensor's dtype or the data's size does not match its shape (the message names the
// tensor, the dtypes and the sizes), or, for bool, if a byte is neither 0 nor 1 (the view
// checks every byte: reading such a bool is undefined behaviour); FailedPrecondition if the
// data is not aligned for T.
template <typename T>
absl::StatusOr<absl::Span<const T>> TensorView(const v1::Tensor& tensor) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
  if (absl::Status status = internal::CheckTensorView(tensor, DTypeOf<T>::value, alignof(T));
      !status.ok()) {
    return status;
  }
  return absl::Span<const T>(reinterpret_cast<const T*>(tensor.data().data()),
                             tensor.data().size() / sizeof(T));
}

}  // namespace dataloader::client

#endif  // CLIENT_TENSOR_VIEW_H_
