// Copyright 2026 The dataloader Authors.
//
// Compile-time reading of stage functions and sources: which input they take, what they
// return, how that maps to outputs. The readable errors for a stage that does not fit the
// previous one are static_asserts in pipeline_builder.h built on these traits.
#ifndef CORE_INTERNAL_STAGE_TRAITS_H_
#define CORE_INTERNAL_STAGE_TRAITS_H_

#include <chrono>
#include <exception>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/stage_function.h"

namespace dataloader::internal {

// The outputs of one task, on their way to the stage's output channel.
template <typename Item>
struct Outcome {
  absl::Status status;
  absl::InlinedVector<Item, 1> items;
  size_t next = 0;       // Items before this one were already passed on.
  uint64_t ordinal = 0;  // The input's position (see Channel), given to every output.
  absl::Duration elapsed;
};

template <typename R>
struct IsStatusOr : std::false_type {};
template <typename X>
struct IsStatusOr<absl::StatusOr<X>> : std::true_type {};

template <typename R>
struct UnwrapStatusOr {
  using type = R;
};
template <typename X>
struct UnwrapStatusOr<absl::StatusOr<X>> {
  using type = X;
};

// How a (StatusOr-free) return value maps to outputs.
template <typename R>
struct OutputTraits {
  using Item = R;
  static void Append(R&& value, Outcome<Item>& outcome) {
    outcome.items.push_back(std::move(value));
  }
};
template <typename U>
struct OutputTraits<std::optional<U>> {
  using Item = U;
  static void Append(std::optional<U>&& value, Outcome<Item>& outcome) {
    if (value.has_value()) outcome.items.push_back(std::move(*value));
  }
};
template <typename U>
struct OutputTraits<Many<U>> {
  using Item = U;
  static void Append(Many<U>&& value, Outcome<Item>& outcome) {
    for (U& item : value.items) outcome.items.push_back(std::move(item));
  }
};

// Whether a stage returning R may emit several items per input.
template <typename R>
struct FansOut : std::false_type {};
template <typename U>
struct FansOut<Many<U>> : std::true_type {};
template <typename R>
inline constexpr bool kFansOut = FansOut<typename UnwrapStatusOr<R>::type>::value;

// The item type a stage returning R emits.
template <typename R>
using OutputItem = typename OutputTraits<typename UnwrapStatusOr<R>::type>::Item;

// Turns a stage's return value (possibly a StatusOr) into an Outcome.
template <typename R>
Outcome<OutputItem<R>> ToOutcome(R&& result) {
  Outcome<OutputItem<R>> outcome;
  if constexpr (IsStatusOr<R>::value) {
    if (!result.ok()) {
      outcome.status = result.status();
      return outcome;
    }
    using Inner = typename UnwrapStatusOr<R>::type;
    OutputTraits<Inner>::Append(*std::move(result), outcome);
  } else {
    OutputTraits<R>::Append(std::move(result), outcome);
  }
  return outcome;
}

inline absl::Status ExceptionStatus(const std::string& where) {
  try {
    throw;
  } catch (const std::exception& e) {
    return absl::UnknownError(absl::StrCat(where, " threw an exception: ", e.what()));
  } catch (...) {
    return absl::UnknownError(absl::StrCat(where, " threw a non-std exception"));
  }
}

// --- Synchronous stage functions. ---

template <typename F, typename In>
inline constexpr bool kTakesContext = std::is_invocable_v<F&, In&&, const TaskContext&>;

template <typename F, typename In>
inline constexpr bool kIsSyncStageFn = std::is_invocable_v<F&, In&&> || kTakesContext<F, In>;

template <typename F, typename In>
auto CallSync(F& fn, In&& input, const TaskContext& context) {
  if constexpr (kTakesContext<F, In>) {
    return fn(std::move(input), context);
  } else {
    return fn(std::move(input));
  }
}

template <typename F, typename In>
using SyncResult = decltype(CallSync(std::declval<F&>(), std::declval<In&&>(),
                                     std::declval<const TaskContext&>()));

// --- Asynchronous stage functions: R is read from the Completion<R> parameter. ---

template <typename T>
struct CompletionResult {
  using type = void;
};
template <typename R>
struct CompletionResult<Completion<R>> {
  using type = R;
};

template <typename F>
struct CallableArgs : CallableArgs<decltype(&F::operator())> {};
template <typename Ret, typename... Args>
struct CallableArgs<Ret (*)(Args...)> {
  using Tuple = std::tuple<Args...>;
};
template <typename Ret, typename... Args>
struct CallableArgs<Ret(Args...)> : CallableArgs<Ret (*)(Args...)> {};
template <typename C, typename Ret, typename... Args>
struct CallableArgs<Ret (C::*)(Args...)> : CallableArgs<Ret (*)(Args...)> {};
template <typename C, typename Ret, typename... Args>
struct CallableArgs<Ret (C::*)(Args...) const> : CallableArgs<Ret (*)(Args...)> {};
template <typename C, typename Ret, typename... Args>
struct CallableArgs<Ret (C::*)(Args...) noexcept> : CallableArgs<Ret (*)(Args...)> {};
template <typename C, typename Ret, typename... Args>
struct CallableArgs<Ret (C::*)(Args...) const noexcept> : CallableArgs<Ret (*)(Args...)> {};

template <typename F, typename = void>
struct HasSingleCallOperator : std::false_type {};
template <typename F>
struct HasSingleCallOperator<F, std::void_t<decltype(&F::operator())>> : std::true_type {};

// R of the Completion<R> that F takes second, or void if it cannot be read (generic lambda).
template <typename F, typename = void>
struct DeducedAsyncResult {
  using type = void;
};
template <typename F>
struct DeducedAsyncResult<F, std::enable_if_t<HasSingleCallOperator<F>::value ||
                                              std::is_function_v<std::remove_pointer_t<F>>>> {
  using Args = typename CallableArgs<
      std::conditional_t<HasSingleCallOperator<F>::value, F, std::remove_pointer_t<F>>>::Tuple;
  using type =
      std::conditional_t<(std::tuple_size_v<Args> >= 2),
                         typename CompletionResult<std::remove_cvref_t<std::tuple_element_t<
                             std::min<size_t>(1, std::tuple_size_v<Args> - 1), Args>>>::type,
                         void>;
};

template <typename F, typename In, typename R>
inline constexpr bool kAsyncTakesContext =
    std::is_invocable_v<F&, In&&, Completion<R>&&, const TaskContext&>;

template <typename F, typename In, typename R>
inline constexpr bool kIsAsyncStageFn =
    std::is_invocable_v<F&, In&&, Completion<R>&&> || kAsyncTakesContext<F, In, R>;

// --- Sources. ---

template <typename S>
struct SourceCallResult {
  using type = void;
};
template <typename T>
struct SourceCallResult<std::optional<T>> {
  using type = T;
};
template <typename T>
struct SourceCallResult<absl::StatusOr<std::optional<T>>> {
  using type = T;
};

template <typename S, typename = void>
struct SourceItem {
  using type = void;
};
// A callable returning std::optional<T> or absl::StatusOr<std::optional<T>>.
template <typename S>
struct SourceItem<S, std::enable_if_t<std::is_invocable_v<S&>>> {
  using type = typename SourceCallResult<std::invoke_result_t<S&>>::type;
};
// A range (a container, a view): its elements.
template <typename S>
struct SourceItem<S, std::enable_if_t<!std::is_invocable_v<S&> && std::ranges::input_range<S>>> {
  using type = std::ranges::range_value_t<S>;
};

// Adapts any source to one pull function returning StatusOr<optional<T>>.
template <typename S>
class SourcePuller {
 public:
  using Item = typename SourceItem<S>::type;
  explicit SourcePuller(S source) : source_(std::move(source)) {}

  absl::StatusOr<std::optional<Item>> operator()() {
    if constexpr (std::is_invocable_v<S&>) {
      return source_();
    } else {
      if (!iterator_.has_value()) iterator_.emplace(std::ranges::begin(source_));
      auto& it = *iterator_;
      if (it == std::ranges::end(source_)) return std::optional<Item>();
      // An owned container gives its elements away; a view only lends them, so copy.
      std::optional<Item> item;
      if constexpr (std::ranges::view<S>) {
        item.emplace(*it);
      } else {
        item.emplace(std::move(*it));
      }
      ++it;
      return item;
    }
  }

 private:
  template <typename R, bool = std::ranges::range<R>>
  struct IteratorOf {
    using type = int;
  };
  template <typename R>
  struct IteratorOf<R, true> {
    using type = std::ranges::iterator_t<R>;
  };

  S source_;
  std::optional<typename IteratorOf<S>::type> iterator_;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_STAGE_TRAITS_H_
