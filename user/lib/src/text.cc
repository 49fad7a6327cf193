// text.cc — lines, tokens, numbers, names, paths and grants for the manifest
// and policy parsers (the rules are documented in keel/manifest.h).
#include "text.h"

namespace keel::text {
namespace {

using ktl::Error;

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_name_char(char c) { return is_lower(c) || is_digit(c) || c == '_' || c == '-'; }
bool is_path_char(char c) {
  return is_lower(c) || is_upper(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '+' ||
         c == '/';
}

// Every '/'-separated component is non-empty and neither "." nor "..".
bool is_normalised(std::string_view path) {
  size_t i = 1;  // past the leading '/'
  while (true) {
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(i, end - i);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == path.size()) return true;
    i = end + 1;
  }
}

}  // namespace

void Tokens::skip_blanks() {
  size_t i = 0;
  while (i < rest_.size() && is_blank(rest_[i])) ++i;
  rest_.remove_prefix(i);
}

std::string_view Tokens::next() {
  size_t i = 0;
  while (i < rest_.size() && !is_blank(rest_[i])) ++i;
  std::string_view token = rest_.substr(0, i);
  rest_.remove_prefix(i);
  skip_blanks();
  return token;
}

ktl::Result<Tokens> LineReader::next(Diagnostics& diag) {
  ++line_;
  diag.set_line(line_);
  size_t end = rest_.find('\n');
  std::string_view line = rest_.substr(0, end);
  rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
  if (end != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);

  size_t content = line.size();  // bytes before the comment
  for (size_t i = 0; i < line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == 0) return diag.fail(Error::InvalidArgument, "NUL byte");
    if (i >= content) continue;  // inside the comment: anything but NUL
    if (c == '#') {
      content = i;
    } else if (c >= 0x80) {
      return diag.fail(Error::InvalidArgument, "non-ASCII byte outside a comment");
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return diag.fail(Error::InvalidArgument, "control character");
    }
  }
  return Tokens(line.substr(0, content));
}

bool is_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  for (char c : s)
    if (!is_name_char(c)) return false;
  return true;
}

bool is_path(std::string_view s) {
  if (s.size() < 2 || s.size() > kMaxPathLength || s[0] != '/') return false;
  for (char c : s)
    if (!is_path_char(c)) return false;
  return is_normalised(s);
}

bool equals(const char* cstr, std::string_view s) {
  for (char c : s) {
    if (*cstr == '\0' || *cstr != c) return false;
    ++cstr;
  }
  return *cstr == '\0';
}

void copy(std::string_view s, char* out, size_t size) {
  size_t n = s.size() < size ? s.size() : size - 1;
  for (size_t i = 0; i < n; ++i) out[i] = s[i];
  for (size_t i = n; i < size; ++i) out[i] = '\0';
}

ktl::Result<void> take_name(Tokens& t, char (&out)[kMaxNameLength + 1], const char* missing_reason,
                            Diagnostics& diag) {
  std::string_view s = t.next();
  if (s.empty()) return diag.fail(Error::InvalidArgument, missing_reason);
  if (s.size() > kMaxNameLength) return diag.fail(Error::InvalidArgument, "name too long");
  if (!is_name(s)) return diag.fail(Error::InvalidArgument, "bad character in name");
  copy(s, out, sizeof(out));
  return ktl::ok();
}

ktl::Result<void> take_path(Tokens& t, char (&out)[kMaxPathLength + 1], bool allow_any, Diagnostics& diag) {
  std::string_view s = t.next();
  if (s.empty()) return diag.fail(Error::InvalidArgument, "missing program path");
  if (allow_any && s == "*") {
    copy(s, out, sizeof(out));
    return ktl::ok();
  }
  if (s.size() > kMaxPathLength) return diag.fail(Error::InvalidArgument, "path too long");
  if (s[0] != '/') return diag.fail(Error::InvalidArgument, "path not absolute");
  for (char c : s)
    if (!is_path_char(c)) return diag.fail(Error::InvalidArgument, "bad character in path");
  if (!is_normalised(s)) return diag.fail(Error::InvalidArgument, "path not normalised");
  copy(s, out, sizeof(out));
  return ktl::ok();
}

ktl::Result<uint64_t> parse_number(std::string_view s, uint64_t max, const char* range_reason,
                                   Diagnostics& diag) {
  if (s.empty()) return diag.fail(Error::InvalidArgument, "missing number");
  uint64_t value = 0;
  bool overflow = false;
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x') {
    for (char c : s.substr(2)) {
      int d = hex_value(c);
      if (d < 0) return diag.fail(Error::InvalidArgument, "malformed number");
      overflow |= __builtin_mul_overflow(value, uint64_t(16), &value);
      overflow |= __builtin_add_overflow(value, uint64_t(d), &value);
    }
  } else {
    // Decimal. A leading zero is refused so that 010 is never taken for octal.
    if (s.size() > 1 && s[0] == '0') return diag.fail(Error::InvalidArgument, "malformed number");
    for (char c : s) {
      if (!is_digit(c)) return diag.fail(Error::InvalidArgument, "malformed number");
      overflow |= __builtin_mul_overflow(value, uint64_t(10), &value);
      overflow |= __builtin_add_overflow(value, uint64_t(c - '0'), &value);
    }
  }
  if (overflow || value > max) return diag.fail(Error::OutOfRange, range_reason);
  return value;
}

ktl::Result<uint64_t> take_number(Tokens& t, uint64_t max, const char* range_reason, Diagnostics& diag) {
  return parse_number(t.next(), max, range_reason, diag);
}

ktl::Result<Grant> take_grant(Tokens& t, Diagnostics& diag) {
  std::string_view kind = t.next();
  if (kind.empty()) return diag.fail(Error::InvalidArgument, "missing grant kind");
  if (kind == "ioports") {
    uint64_t base = TRY(take_number(t, kIoPortLimit - 1, "port out of range", diag));
    uint64_t count = TRY(take_number(t, kIoPortLimit, "port count out of range", diag));
    if (count == 0) return diag.fail(Error::InvalidArgument, "empty port range");
    if (count > kIoPortLimit - base) return diag.fail(Error::OutOfRange, "port range past 0xffff");
    return Grant::ioports(base, count);
  }
  if (kind == "irq") return Grant::irq(TRY(take_number(t, kMaxIrq, "irq out of range", diag)));
  if (kind == "devmem") {
    uint64_t base = TRY(take_number(t, UINT64_MAX, "devmem base out of range", diag));
    if (base % kGrantPageSize != 0) return diag.fail(Error::Misaligned, "devmem base not page aligned");
    uint64_t size = TRY(take_number(t, UINT64_MAX, "devmem size out of range", diag));
    if (size == 0) return diag.fail(Error::InvalidArgument, "empty devmem range");
    if (size % kGrantPageSize != 0) return diag.fail(Error::Misaligned, "devmem size not a page multiple");
    uint64_t end;
    if (__builtin_add_overflow(base, size, &end)) return diag.fail(Error::Overflow, "devmem range overflows");
    if (end > kPhysAddressLimit) return diag.fail(Error::OutOfRange, "devmem range past 2^52");
    return Grant::devmem(base, size);
  }
  if (kind == "resource") return Grant::resource();
  if (kind == "modules") return Grant::modules();
  if (kind == "framebuffer") return Grant::framebuffer();
  if (kind == "pci") {
    // VVVV:DDDD, exactly four hex digits each (the way lspci writes them).
    std::string_view id = t.next();
    if (id.empty()) return diag.fail(Error::InvalidArgument, "missing pci id");
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (id.size() != 9 || id[4] != ':') return diag.fail(Error::InvalidArgument, "malformed pci id");
    uint32_t v = 0, d = 0;
    for (size_t i = 0; i < 9; ++i) {
      if (i == 4) continue;
      int x = hex(id[i]);
      if (x < 0) return diag.fail(Error::InvalidArgument, "malformed pci id");
      if (i < 4) v = v * 16 + uint32_t(x);
      else d = d * 16 + uint32_t(x);
    }
    if (v == 0xffff) return diag.fail(Error::InvalidArgument, "pci vendor 0xffff");
    return Grant::pci(uint16_t(v), uint16_t(d));
  }
  return diag.fail(Error::InvalidArgument, "unknown grant kind");
}

ktl::Result<void> expect_end(const Tokens& t, Diagnostics& diag) {
  if (!t.empty()) return diag.fail(Error::InvalidArgument, "trailing garbage");
  return ktl::ok();
}

}  // namespace keel::text
