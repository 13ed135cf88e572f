// Copyright 2026 The dataloader Authors.
#include "client/tensor_view.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dataloader::client {

int DTypeSize(v1::DType dtype) {
  switch (dtype) {
    case v1::DTYPE_UINT8:
    case v1::DTYPE_INT8:
    case v1::DTYPE_BOOL:
      return 1;
    case v1::DTYPE_INT16:
    case v1::DTYPE_FLOAT16:
    case v1::DTYPE_BFLOAT16:
      return 2;
    case v1::DTYPE_INT32:
    case v1::DTYPE_FLOAT32:
      return 4;
    case v1::DTYPE_INT64:
    case v1::DTYPE_FLOAT64:
      return 8;
    default:
      return 0;
  }
}

std::string DTypeName(v1::DType dtype) {
  if (!v1::DType_IsValid(dtype)) return absl::StrCat("DType(", static_cast<int>(dtype), ")");
  std::string name = v1::DType_Name(dtype);
  constexpr char kPrefix[] = "DTYPE_";
  if (name.rfind(kPrefix, 0) == 0) name.erase(0, sizeof(kPrefix) - 1);
  return name;
}

std::string ShapeString(absl::Span<const int64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status CheckTensor(const std::string& name, v1::DType dtype, absl::Span<const int64_t> dims,
                         uint64_t data_size) {
  const int element_size = DTypeSize(dtype);
  const std::string shape = ShapeString(dims);
  if (element_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", name, "' has dtype ", DTypeName(dtype), ", which this client does not know"));
  }
  // Overflow-checked: the shape comes from the network.
  uint64_t bytes = static_cast<uint64_t>(element_size);
  for (int64_t dim : dims) {
    if (dim < 0) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' (", DTypeName(dtype),
                                                     ") has shape ", shape,
                                                     " with a negative dimension"));
    }
    if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' (", DTypeName(dtype),
                                                     ") has shape ", shape,
                                                     ", too large to address"));
    }
    bytes *= static_cast<uint64_t>(dim);
  }
  if (bytes != data_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", name, "' (", DTypeName(dtype), ", shape ", shape, ") has ",
                     data_size, " bytes of data, expected ", bytes, " (", bytes / element_size,
                     " elements of ", element_size, " bytes)"));
  }
  return absl::OkStatus();
}

absl::Status CheckTensor(const v1::Tensor& tensor) {
  return CheckTensor(tensor.name(), tensor.dtype(), tensor.shape(), tensor.data().size());
}

namespace internal {

absl::Status CheckTensorView(const v1::Tensor& tensor, v1::DType expected, size_t alignment) {
  if (tensor.dtype() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(), "' has dtype ",
                                                   DTypeName(tensor.dtype()),
                                                   ", cannot view it as ", DTypeName(expected)));
  }
  if (absl::Status status = CheckTensor(tensor); !status.ok()) return status;
  if (expected == v1::DTYPE_BOOL) {
    // Reading a C++ bool that holds another byte is undefined behaviour: a byte the server
    // (or the network) got wrong must not become a view.
    const std::string& data = tensor.data();
    for (size_t i = 0; i < data.size(); ++i) {
      const unsigned char byte = static_cast<unsigned char>(data[i]);
      if (byte > 1) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(), "' (BOOL) holds ",
                                                       static_cast<int>(byte), " at element ", i,
                                                       "; BOOL elements are 0 or 1"));
      }
    }
  }
  if (reinterpret_cast<uintptr_t>(tensor.data().data()) % alignment != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor '", tensor.name(), "' data is not aligned to ", alignment,
                     " bytes for a view as ", DTypeName(expected), "; copy it instead"));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace dataloader::client
