// ktl/format.h — type-safe formatting for the kernel and native userspace.
//
// A small subset of std::format syntax:
//   {}        default (decimal integers, strings, "true"/"false", pointers as 0x…)
//   {:x} {:X} hexadecimal, {:#x} with a 0x prefix, {:b} binary, {:o} octal,
//   {:d}      decimal, {:c} an integer as a character
//   {:8} {:<8} {:>8} {:^8}  minimum width and alignment (numbers align right)
//   {:08x}    zero padding to a width
//   {{ and }} literal braces
// Arguments beyond the placeholders are ignored; placeholders beyond the
// arguments print "{?}". Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace ktl {

// Where formatted text goes. Implementations: a fixed buffer (BufferSink),
// the serial console, the kernel log.
class Sink {
 public:
  virtual void write(const char* s, size_t n) = 0;

 protected:
  ~Sink() = default;
};

// One type-erased argument.
struct FormatArg {
  enum class Kind : uint8_t { Signed, Unsigned, String, Pointer, Char, Bool };
  Kind kind;
  union {
    int64_t s;
    uint64_t u;
    std::string_view str;
    const void* ptr;
  };
  constexpr FormatArg(Kind k, int64_t v) : kind(k), s(v) {}
  constexpr FormatArg(Kind k, uint64_t v) : kind(k), u(v) {}
  constexpr FormatArg(std::string_view v) : kind(Kind::String), str(v) {}
  constexpr FormatArg(const void* v) : kind(Kind::Pointer), ptr(v) {}
};

template <typename T>
constexpr FormatArg make_format_arg(const T& v) {
  using U = std::remove_cv_t<std::remove_reference_t<T>>;
  if constexpr (std::is_same_v<U, bool>) {
    return FormatArg(FormatArg::Kind::Bool, uint64_t(v ? 1 : 0));
  } else if constexpr (std::is_same_v<U, char>) {
    return FormatArg(FormatArg::Kind::Char, uint64_t(static_cast<unsigned char>(v)));
  } else if constexpr (std::is_enum_v<U>) {
    return FormatArg(FormatArg::Kind::Signed, int64_t(static_cast<std::underlying_type_t<U>>(v)));
  } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    return FormatArg(FormatArg::Kind::Signed, int64_t(v));
  } else if constexpr (std::is_integral_v<U>) {
    return FormatArg(FormatArg::Kind::Unsigned, uint64_t(v));
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    if constexpr (std::is_pointer_v<U> || std::is_array_v<U>) {
      // A null C string prints as "(null)" rather than faulting.
      const char* p = v;
      return FormatArg(p ? std::string_view(p) : std::string_view("(null)"));
    } else {
      return FormatArg(std::string_view(v));
    }
  } else if constexpr (std::is_pointer_v<U> || std::is_null_pointer_v<U>) {
    return FormatArg(static_cast<const void*>(v));
  } else {
    static_assert(sizeof(T) == 0, "ktl::format: unsupported argument type");
  }
}

// Formats `fmt` with `args` into `sink`. Returns the number of bytes written.
size_t vformat(Sink& sink, std::string_view fmt, const FormatArg* args, size_t nargs);

template <typename... Args>
size_t format_to(Sink& sink, std::string_view fmt, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return vformat(sink, fmt, nullptr, 0);
  } else {
    const FormatArg list[] = {make_format_arg(args)...};
    return vformat(sink, fmt, list, sizeof...(Args));
  }
}

// A sink over a caller's buffer. Always keeps the buffer NUL-terminated
// (capacity must be at least 1); output past the end is counted but dropped.
class BufferSink final : public Sink {
 public:
  BufferSink(char* buf, size_t cap) : buf_(buf), cap_(cap) {
    if (cap_) buf_[0] = '\0';
  }
  void write(const char* s, size_t n) override;
  size_t length() const { return len_ < cap_ ? len_ : (cap_ ? cap_ - 1 : 0); }
  bool truncated() const { return cap_ == 0 || len_ >= cap_; }
  std::string_view view() const { return {buf_, length()}; }

 private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
};

// snprintf-like: formats into `buf` (capacity `cap` bytes, NUL-terminated)
// and returns the length written, excluding the NUL.
template <typename... Args>
size_t format(char* buf, size_t cap, std::string_view fmt, const Args&... args) {
  BufferSink sink(buf, cap);
  format_to(sink, fmt, args...);
  return sink.length();
}

}  // namespace ktl
