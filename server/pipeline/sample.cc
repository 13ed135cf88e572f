// Copyright 2026 The dataloader Authors.

#include "server/pipeline/sample.h"

#include <array>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/io/http_client.h"

namespace dataloader::server {
namespace {

struct DTypeInfo {
  DType dtype;
  absl::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, 10> kDTypes = {{
    {DType::kUint8, "uint8", 1},
    {DType::kInt8, "int8", 1},
    {DType::kInt16, "int16", 2},
    {DType::kInt32, "int32", 4},
    {DType::kInt64, "int64", 8},
    {DType::kFloat16, "float16", 2},
    {DType::kBFloat16, "bfloat16", 2},
    {DType::kFloat32, "float32", 4},
    {DType::kFloat64, "float64", 8},
    {DType::kBool, "bool", 1},
}};

const DTypeInfo& Info(DType dtype) { return kDTypes[static_cast<int>(dtype) - 1]; }

}  // namespace

size_t DTypeSize(DType dtype) { return Info(dtype).size; }
absl::string_view DTypeName(DType dtype) { return Info(dtype).name; }

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  std::vector<absl::string_view> names;
  for (const DTypeInfo& info : kDTypes) names.push_back(info.name);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", name, "' (known: ", absl::StrJoin(names, ", "), ")"));
}

int64_t Tensor::elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

absl::StatusOr<Tensor*> Sample::Find(absl::string_view name) {
  for (Tensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return absl::NotFoundError(absl::StrCat(Describe(), " has no tensor '", name, "'"));
}

absl::StatusOr<Tensor> Sample::Take(absl::string_view name) {
  for (auto it = tensors.begin(); it != tensors.end(); ++it) {
    if (it->name == name) {
      Tensor taken = std::move(*it);
      tensors.erase(it);
      return taken;
    }
  }
  return absl::NotFoundError(absl::StrCat(Describe(), " has no tensor '", name, "'"));
}

std::string Sample::Describe() const {
  if (absl::StrContains(path, "://")) return absl::StrCat("object '", io::RedactUrl(path), "'");
  if (!path.empty()) return absl::StrCat("file '", path, "'");
  return absl::StrCat("sample ", index);
}

}  // namespace dataloader::server
