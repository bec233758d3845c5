// Result<T>: the control path's error type, shaped like std::expected (which GCC 12 lacks in
// C++20). The packet path never uses it: it returns verdicts with drop reasons instead.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace uipsec {

// A failure a user can act on: the message names what was wrong and what was expected
// ("spi: expected 0x100..0xffffffff, got 0x5").
class Error {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const std::string& message() const { return message_; }

  // Returns this error with `context: ` in front, for callers that add where it happened.
  Error with_context(const std::string& context) const { return Error(context + ": " + message_); }

 private:
  std::string message_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Preconditions: ok() for value(), !ok() for error().
  T& value() & {
    assert(ok() && "Result::value() on an error");
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok() && "Result::value() on an error");
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok() && "Result::value() on an error");
    return std::get<0>(std::move(state_));
  }
  const Error& error() const {
    assert(!ok() && "Result::error() on a value");
    return std::get<1>(state_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_ && "Result::error() on success");
    return error_;
  }

 private:
  Error error_{""};
  bool ok_ = true;
};

}  // namespace uipsec

// Propagates an error from an expression returning Result<...>; use inside functions that
// return a Result.
#define UIPSEC_TRY(expr)                                            \
  do {                                                              \
    if (auto uipsec_try_result_ = (expr); !uipsec_try_result_.ok()) \
      return uipsec_try_result_.error();                            \
  } while (false)
