// Copyright 2026 The dataloader Authors.

#include "server/ops/op_registry.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dataloader::server {

absl::Status OpRegistry::Register(OpSpec spec) {
  if (spec.name.empty() || !spec.factory) {
    return absl::InvalidArgumentError("an op spec needs a name and a factory");
  }
  std::set<std::string> names;
  for (const ArgSpec& arg : spec.args) {
    if (!names.insert(arg.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("op '", spec.name, "' declares argument '", arg.name, "' twice"));
    }
  }
  if (specs_.contains(spec.name)) {
    return absl::AlreadyExistsError(absl::StrCat("op '", spec.name, "' is already registered"));
  }
  std::string name = spec.name;
  specs_.emplace(std::move(name), std::move(spec));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Op>> OpRegistry::Create(
    const std::string& name, const std::map<std::string, std::string>& args,
    std::string data_root) const {
  const OpSpec* spec = Find(name);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown op '", name,
                                                   "' (known: ", absl::StrJoin(Names(), ", "),
                                                   "; see dataloader_server --list_ops)"));
  }
  absl::StatusOr<OpArgs> parsed = OpArgs::Parse(name, spec->args, args, std::move(data_root));
  if (!parsed.ok()) return parsed.status();
  return spec->factory(*parsed);
}

const OpSpec* OpRegistry::Find(const std::string& name) const {
  auto it = specs_.find(name);
  return it == specs_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, spec] : specs_) names.push_back(name);
  return names;
}

std::string OpRegistry::Catalogue() const {
  std::string text;
  for (const auto& [name, spec] : specs_) {
    absl::StrAppend(&text, name,
                    spec.async ? "  (asynchronous: holds no thread while waiting)" : "", "\n    ",
                    spec.summary, "\n");
    for (const ArgSpec& arg : spec.args) {
      const std::string type = absl::StrCat(ArgTypeName(arg.type), BoundsText(arg));
      absl::StrAppend(&text, "    ", arg.name, " (", type, ", ",
                      arg.default_value.has_value()
                          ? absl::StrCat("default \"", *arg.default_value, "\"")
                          : std::string(arg.optional ? "optional" : "required"),
                      "): ", arg.help, "\n");
    }
  }
  return text;
}

}  // namespace dataloader::server
