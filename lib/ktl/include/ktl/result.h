// ktl/result.h — Result<T>: a value or an Error, and TRY() to propagate errors.
//
//   ktl::Result<Frame> f = alloc();          // holds a Frame or an Error
//   Frame g = TRY(alloc());                  // returns the Error from the caller
//   TRY(do_something_void());                // works with Result<void> too
//
// [[nodiscard]] on the type: ignoring a Result is a compile error under -Werror.
#pragma once

#include <ktl/error.h>

#include <new>
#include <type_traits>
#include <utility>

namespace ktl {

// Tag wrapper so that Result<Error>-like ambiguities cannot arise.
struct Err {
  Error error;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& v) : has_value_(true) { new (&storage_) T(v); }
  Result(T&& v) : has_value_(true) { new (&storage_) T(std::move(v)); }
  Result(Error e) : has_value_(false), error_(e) {}
  Result(Err e) : has_value_(false), error_(e.error) {}

  Result(const Result& o) : has_value_(o.has_value_), error_(o.error_) {
    if (has_value_) new (&storage_) T(o.value());
  }
  Result(Result&& o) : has_value_(o.has_value_), error_(o.error_) {
    if (has_value_) new (&storage_) T(std::move(o.value()));
  }
  Result& operator=(const Result& o) {
    if (this != &o) {
      destroy();
      has_value_ = o.has_value_;
      error_ = o.error_;
      if (has_value_) new (&storage_) T(o.value());
    }
    return *this;
  }
  Result& operator=(Result&& o) {
    if (this != &o) {
      destroy();
      has_value_ = o.has_value_;
      error_ = o.error_;
      if (has_value_) new (&storage_) T(std::move(o.value()));
    }
    return *this;
  }
  ~Result() { destroy(); }

  bool ok() const { return has_value_; }
  explicit operator bool() const { return has_value_; }
  Error error() const { return has_value_ ? Error::None : error_; }

  T& value() & { return *std::launder(reinterpret_cast<T*>(&storage_)); }
  const T& value() const& { return *std::launder(reinterpret_cast<const T*>(&storage_)); }
  T&& value() && { return std::move(*std::launder(reinterpret_cast<T*>(&storage_))); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // Moves the value out; used by TRY. Precondition: ok().
  T release_value() { return std::move(value()); }

  T value_or(T fallback) const { return has_value_ ? value() : fallback; }

 private:
  void destroy() {
    if (has_value_) value().~T();
    has_value_ = false;
  }

  bool has_value_;
  Error error_ = Error::None;
  alignas(T) unsigned char storage_[sizeof(T)];
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() : error_(Error::None) {}
  Result(Error e) : error_(e) {}
  Result(Err e) : error_(e.error) {}

  bool ok() const { return error_ == Error::None; }
  explicit operator bool() const { return ok(); }
  Error error() const { return error_; }
  void release_value() {}

 private:
  Error error_;
};

// Convenience for `return ktl::ok();` in functions returning Result<void>.
inline Result<void> ok() { return {}; }

}  // namespace ktl

// Evaluates `expr` (a Result); on error returns the error from the enclosing
// function, otherwise yields the value. Uses a GNU statement expression
// (supported by clang and gcc).
#define TRY(expr)                                   \
  ({                                                \
    auto _try_result = (expr);                      \
    if (!_try_result.ok()) [[unlikely]]             \
      return ::ktl::Err{_try_result.error()};       \
    _try_result.release_value();                    \
  })
