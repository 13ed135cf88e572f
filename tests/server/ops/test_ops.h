// Copyright 2026 The dataloader Authors.
//
// Op registries for tests and benchmarks that build pipelines or servers:
//   BuiltinOps()  the built-in ops (servers get theirs injected: DataLoaderServerOptions::ops);
//   TestOps()     the built-ins plus "fail_every" (args: every, int, default 2), which fails
//                 the samples whose index is a multiple of `every` with DATA_LOSS "sample N
//                 is corrupt": a pipeline whose some samples fail, as real data does;
//                 and "shrink_every" (args: every, int, default 2), which drops the last row
//                 of the "image" tensor ([H, W, C] uint8) of the samples whose index is a
//                 multiple of `every`: samples that do not stack with the others.
#ifndef TESTS_SERVER_OPS_TEST_OPS_H_
#define TESTS_SERVER_OPS_TEST_OPS_H_

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op_registry.h"

namespace dataloader::testing {

class FailEveryOp final : public server::Op {
 public:
  explicit FailEveryOp(int64_t every) : every_(every) {}
  absl::StatusOr<server::Sample> Run(server::Sample sample, const TaskContext&) const override {
    if (sample.index % every_ == 0) {
      return absl::DataLossError(absl::StrCat("sample ", sample.index, " is corrupt"));
    }
    return sample;
  }

 private:
  const int64_t every_;
};

class ShrinkEveryOp final : public server::Op {
 public:
  explicit ShrinkEveryOp(int64_t every) : every_(every) {}
  absl::StatusOr<server::Sample> Run(server::Sample sample, const TaskContext&) const override {
    if (sample.index % every_ != 0) return sample;
    absl::StatusOr<server::Tensor*> image = sample.Find("image");
    if (!image.ok()) return image.status();
    server::Tensor& tensor = **image;
    if (tensor.shape.size() != 3 || tensor.shape[0] < 2) return sample;
    tensor.shape[0] -= 1;
    tensor.data.resize(tensor.data.size() / (tensor.shape[0] + 1) * tensor.shape[0]);
    return sample;
  }

 private:
  const int64_t every_;
};

inline void CheckRegistered(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "cannot register the test ops: %s\n", status.ToString().c_str());
    std::abort();
  }
}

inline const server::OpRegistry& BuiltinOps() {
  static const server::OpRegistry* const registry = [] {
    auto* made = new server::OpRegistry();
    CheckRegistered(server::RegisterBuiltinOps(*made));
    return made;
  }();
  return *registry;
}

inline const server::OpRegistry& TestOps() {
  static const server::OpRegistry* const registry = [] {
    auto* made = new server::OpRegistry();
    CheckRegistered(server::RegisterBuiltinOps(*made));
    CheckRegistered(made->Register(
        {.name = "fail_every",
         .summary = "fails the samples whose index is a multiple of `every`",
         .args = {{.name = "every",
                   .type = server::ArgType::kInt,
                   .default_value = "2",
                   .min = 1,
                   .help = "every n-th sample fails"}},
         .factory = [](const server::OpArgs& args) -> absl::StatusOr<std::unique_ptr<server::Op>> {
           return std::make_unique<FailEveryOp>(args.Int("every"));
         }}));
    CheckRegistered(made->Register(
        {.name = "shrink_every",
         .summary =
             "drops the image's last row in the samples whose index is a multiple of `every`",
         .args = {{.name = "every",
                   .type = server::ArgType::kInt,
                   .default_value = "2",
                   .min = 1,
                   .help = "every n-th sample shrinks"}},
         .factory = [](const server::OpArgs& args) -> absl::StatusOr<std::unique_ptr<server::Op>> {
           return std::make_unique<ShrinkEveryOp>(args.Int("every"));
         }}));
    return made;
  }();
  return *registry;
}

}  // namespace dataloader::testing

#endif  // TESTS_SERVER_OPS_TEST_OPS_H_
