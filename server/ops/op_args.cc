// Copyright 2026 The dataloader Authors.

#include "server/ops/op_args.h"

#include <cmath>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"

namespace dataloader::server {
namespace {

// Echoed config values are cut: a value is the config author's, but an error message should
// stay a line.
std::string Shown(absl::string_view text) {
  constexpr size_t kMax = 80;
  if (text.size() <= kMax) return std::string(text);
  return absl::StrCat(text.substr(0, kMax), "... (", text.size(), " bytes)");
}

bool ParseFinite(absl::string_view text, double& value) {
  return absl::SimpleAtod(absl::StripAsciiWhitespace(text), &value) && std::isfinite(value);
}

}  // namespace

std::string BoundsText(const ArgSpec& spec) {
  // Whole bounds as integers ("60000000", not "6e+07").
  auto number = [](double value) {
    return value == std::trunc(value) && std::abs(value) < 1e15
               ? absl::StrCat(static_cast<int64_t>(value))
               : absl::StrCat(value);
  };
  std::string text;
  if (spec.min.has_value()) {
    absl::StrAppend(&text, spec.exclusive_min ? " > " : " >= ", number(*spec.min));
  }
  if (spec.max.has_value()) {
    absl::StrAppend(&text, spec.min.has_value() ? " and" : "", " <= ", number(*spec.max));
  }
  return text;
}

namespace {

bool InBounds(const ArgSpec& spec, double value) {
  if (spec.min.has_value() && (spec.exclusive_min ? value <= *spec.min : value < *spec.min)) {
    return false;
  }
  return !spec.max.has_value() || value <= *spec.max;
}

}  // namespace

absl::string_view ArgTypeName(ArgType type) {
  switch (type) {
    case ArgType::kString:
      return "text";
    case ArgType::kInt:
      return "int";
    case ArgType::kDouble:
      return "number";
    case ArgType::kDoubleList:
      return "numbers";
    case ArgType::kSize:
      return "size";
    case ArgType::kRange:
      return "range";
  }
  return "?";
}

absl::StatusOr<OpArgs> OpArgs::Parse(const std::string& op, const std::vector<ArgSpec>& specs,
                                     const std::map<std::string, std::string>& values,
                                     std::string data_root) {
  OpArgs args(op, std::move(data_root));
  std::set<std::string> declared;
  for (const ArgSpec& spec : specs) declared.insert(spec.name);
  std::vector<std::string> unknown;
  for (const auto& [key, value] : values) {
    if (!declared.contains(key)) unknown.push_back(Shown(key));
  }
  if (!unknown.empty()) {
    return args.Error(absl::StrCat("unknown argument(s) '", absl::StrJoin(unknown, "', '"),
                                   "' (known: ", absl::StrJoin(declared, ", "), ")"));
  }
  for (const ArgSpec& spec : specs) {
    auto given = values.find(spec.name);
    if (given == values.end() && !spec.default_value.has_value()) {
      if (spec.optional) {
        args.absent_.insert(spec.name);
        continue;
      }
      return args.Error(absl::StrCat("missing required argument '", spec.name, "'"));
    }
    const std::string& text = given != values.end() ? given->second : *spec.default_value;
    auto bad = [&](absl::string_view expected) {
      return args.Error(absl::StrCat("argument '", spec.name, "' must be ", expected,
                                     BoundsText(spec), ", got '", Shown(text), "'"));
    };
    Value value;
    switch (spec.type) {
      case ArgType::kString:
        value = text;
        break;
      case ArgType::kInt: {
        int64_t number = 0;
        if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &number) ||
            !InBounds(spec, static_cast<double>(number))) {
          return bad("an integer");
        }
        value = number;
        break;
      }
      case ArgType::kDouble: {
        double number = 0;
        if (!ParseFinite(text, number) || !InBounds(spec, number)) return bad("a finite number");
        value = number;
        break;
      }
      case ArgType::kDoubleList: {
        std::vector<double> numbers;
        for (absl::string_view part : absl::StrSplit(text, ',')) {
          double number = 0;
          if (!ParseFinite(part, number) || !InBounds(spec, number)) {
            return bad("finite numbers separated by ','");
          }
          numbers.push_back(number);
        }
        value = std::move(numbers);
        break;
      }
      case ArgType::kSize: {
        std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
        int height = 0, width = 0;
        const bool parsed =
            (parts.size() == 1 && absl::SimpleAtoi(parts[0], &height) && (width = height) > 0) ||
            (parts.size() == 2 && absl::SimpleAtoi(parts[0], &height) &&
             absl::SimpleAtoi(parts[1], &width));
        if (!parsed || height < 1 || width < 1 || height > 65535 || width > 65535) {
          return bad("N or HEIGHT,WIDTH with values in [1, 65535]");
        }
        value = ImageSize{.height = height, .width = width};
        break;
      }
      case ArgType::kRange: {
        std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
        double low = 0, high = 0;
        if (parts.size() != 2 || !ParseFinite(parts[0], low) || !ParseFinite(parts[1], high) ||
            !InBounds(spec, low) || !InBounds(spec, high) || low > high) {
          return bad("LOW,HIGH with LOW <= HIGH,");
        }
        value = std::make_pair(low, high);
        break;
      }
    }
    args.values_.emplace(spec.name, Parsed{spec.type, std::move(value), given != values.end()});
  }
  return args;
}

const OpArgs::Value& OpArgs::Get(absl::string_view name, ArgType type) const {
  auto it = values_.find(name);
  // Reading an undeclared argument, or as another type, is a bug in the op's factory.
  DL_CHECK(it != values_.end() && it->second.type == type);
  return it->second.value;
}

const std::string& OpArgs::String(absl::string_view name) const {
  return std::get<std::string>(Get(name, ArgType::kString));
}
int64_t OpArgs::Int(absl::string_view name) const {
  return std::get<int64_t>(Get(name, ArgType::kInt));
}
double OpArgs::Double(absl::string_view name) const {
  return std::get<double>(Get(name, ArgType::kDouble));
}
const std::vector<double>& OpArgs::DoubleList(absl::string_view name) const {
  return std::get<std::vector<double>>(Get(name, ArgType::kDoubleList));
}
ImageSize OpArgs::Size(absl::string_view name) const {
  return std::get<ImageSize>(Get(name, ArgType::kSize));
}
std::pair<double, double> OpArgs::Range(absl::string_view name) const {
  return std::get<std::pair<double, double>>(Get(name, ArgType::kRange));
}
bool OpArgs::Given(absl::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    DL_CHECK(absent_.contains(name));  // Asking about an undeclared argument is a bug.
    return false;
  }
  return it->second.given;
}

absl::Status OpArgs::Error(absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat("op '", op_, "': ", what));
}

}  // namespace dataloader::server
