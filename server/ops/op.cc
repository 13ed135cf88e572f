// Copyright 2026 The dataloader Authors.

#include "server/ops/op.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dataloader::server {

absl::StatusOr<Sample> Op::Run(Sample, const TaskContext& context) const {
  return absl::InternalError(
      absl::StrCat("stage '", context.stage_name(), "': asynchronous op called synchronously"));
}

void Op::Start(Sample sample, Completion<Sample> done, const TaskContext& context) const {
  done(Run(std::move(sample), context));
}

const OpRegistry& OpRegistry::Default() {
  static const OpRegistry* registry = [] {
    auto* made = new OpRegistry();
    RegisterGenericOps(*made);
    RegisterImageOps(*made);
    RegisterRemoteOps(*made);
    return made;
  }();
  return *registry;
}

absl::Status OpRegistry::Register(const std::string& name, OpFactory factory) {
  if (!factories_.emplace(name, std::move(factory)).second) {
    return absl::AlreadyExistsError(absl::StrCat("op '", name, "' is already registered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Op>> OpRegistry::Create(const std::string& name,
                                                       std::map<std::string, std::string> args,
                                                       std::string data_root) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown op '", name, "' (known: ", absl::StrJoin(Names(), ", "), ")"));
  }
  OpArgs op_args(name, std::move(args), std::move(data_root));
  absl::StatusOr<std::unique_ptr<Op>> op = it->second(op_args);
  if (!op.ok()) return op.status();
  if (absl::Status unused = op_args.CheckAllUsed(); !unused.ok()) return unused;
  return op;
}

std::vector<std::string> OpRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories_) names.push_back(name);
  return names;
}

}  // namespace dataloader::server
