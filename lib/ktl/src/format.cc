// format.cc — the formatting engine behind ktl::format_to.
#include <ktl/format.h>

namespace ktl {
namespace {

struct Spec {
  char align = 0;     // '<', '>', '^' or 0 for the type's default
  bool zero = false;  // pad numbers with '0' after the sign/prefix
  bool alt = false;   // '#': 0x / 0b / 0 prefix
  size_t width = 0;
  char type = 0;      // x X b o d c or 0
};

class Writer {
 public:
  explicit Writer(Sink& s) : sink_(s) {}
  void put(const char* s, size_t n) {
    if (n) sink_.write(s, n);
    count_ += n;
  }
  void put(char c) { put(&c, 1); }
  void fill(char c, size_t n) {
    char buf[16];
    for (size_t i = 0; i < sizeof buf; ++i) buf[i] = c;
    while (n) {
      size_t k = n < sizeof buf ? n : sizeof buf;
      put(buf, k);
      n -= k;
    }
  }
  size_t count() const { return count_; }

 private:
  Sink& sink_;
  size_t count_ = 0;
};

// Parses the text between ':' and '}' of a placeholder. Unknown characters
// are ignored rather than rejected: formatting must never fail.
Spec parse_spec(std::string_view s) {
  Spec spec;
  size_t i = 0;
  if (i < s.size() && (s[i] == '<' || s[i] == '>' || s[i] == '^')) spec.align = s[i++];
  if (i < s.size() && s[i] == '#') {
    spec.alt = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    spec.zero = true;
    ++i;
  }
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (spec.width < 1000) spec.width = spec.width * 10 + size_t(s[i] - '0');
    ++i;
  }
  if (i < s.size()) spec.type = s[i];
  return spec;
}

void pad_and_put(Writer& w, const Spec& spec, const char* s, size_t n, char default_align) {
  size_t pad = spec.width > n ? spec.width - n : 0;
  char align = spec.align ? spec.align : default_align;
  size_t left = align == '>' ? pad : align == '^' ? pad / 2 : 0;
  w.fill(' ', left);
  w.put(s, n);
  w.fill(' ', pad - left);
}

void put_number(Writer& w, const Spec& spec, uint64_t mag, bool negative, char type) {
  unsigned base = 10;
  const char* digits = "0123456789abcdef";
  const char* prefix = "";
  switch (type) {
    case 'x': base = 16; prefix = "0x"; break;
    case 'X': base = 16; prefix = "0X"; digits = "0123456789ABCDEF"; break;
    case 'b': base = 2; prefix = "0b"; break;
    case 'o': base = 8; prefix = "0"; break;
    default: break;
  }
  char body[72];
  size_t len = 0;
  do {
    body[sizeof body - 1 - len++] = digits[mag % base];
    mag /= base;
  } while (mag);
  char head[4];
  size_t hlen = 0;
  if (negative) head[hlen++] = '-';
  if (spec.alt && base != 10)
    for (const char* p = prefix; *p; ++p) head[hlen++] = *p;
  size_t total = hlen + len;
  if (spec.zero && !spec.align) {
    w.put(head, hlen);
    if (spec.width > total) w.fill('0', spec.width - total);
    w.put(body + sizeof body - len, len);
    return;
  }
  char out[80];
  for (size_t i = 0; i < hlen; ++i) out[i] = head[i];
  for (size_t i = 0; i < len; ++i) out[hlen + i] = body[sizeof body - len + i];
  pad_and_put(w, spec, out, total, '>');
}

void put_arg(Writer& w, const Spec& spec, const FormatArg& a) {
  switch (a.kind) {
    case FormatArg::Kind::Signed:
      if (spec.type == 'c') {
        char c = char(a.s);
        pad_and_put(w, spec, &c, 1, '<');
      } else if (spec.type && spec.type != 'd') {
        put_number(w, spec, uint64_t(a.s), false, spec.type);  // two's complement in hex
      } else {
        bool neg = a.s < 0;
        put_number(w, spec, neg ? 0 - uint64_t(a.s) : uint64_t(a.s), neg, 'd');
      }
      return;
    case FormatArg::Kind::Unsigned:
      if (spec.type == 'c') {
        char c = char(a.u);
        pad_and_put(w, spec, &c, 1, '<');
      } else {
        put_number(w, spec, a.u, false, spec.type);
      }
      return;
    case FormatArg::Kind::Char:
      if (spec.type && spec.type != 'c') {
        put_number(w, spec, a.u, false, spec.type);
      } else {
        char c = char(a.u);
        pad_and_put(w, spec, &c, 1, '<');
      }
      return;
    case FormatArg::Kind::Bool:
      if (a.u)
        pad_and_put(w, spec, "true", 4, '<');
      else
        pad_and_put(w, spec, "false", 5, '<');
      return;
    case FormatArg::Kind::String:
      pad_and_put(w, spec, a.str.data(), a.str.size(), '<');
      return;
    case FormatArg::Kind::Pointer: {
      Spec p = spec;
      p.alt = true;
      if (!p.width) {
        p.width = 18;
        p.zero = true;
      }
      put_number(w, p, uint64_t(reinterpret_cast<uintptr_t>(a.ptr)), false, 'x');
      return;
    }
  }
}

}  // namespace

size_t vformat(Sink& sink, std::string_view fmt, const FormatArg* args, size_t nargs) {
  Writer w(sink);
  size_t next = 0;
  size_t i = 0;
  while (i < fmt.size()) {
    size_t start = i;
    while (i < fmt.size() && fmt[i] != '{' && fmt[i] != '}') ++i;
    w.put(fmt.data() + start, i - start);
    if (i >= fmt.size()) break;
    char c = fmt[i];
    if (i + 1 < fmt.size() && fmt[i + 1] == c) {  // "{{" or "}}"
      w.put(c);
      i += 2;
      continue;
    }
    if (c == '}') {  // a stray '}' prints as itself
      w.put(c);
      ++i;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string_view::npos) {  // unterminated: print the rest verbatim
      w.put(fmt.data() + i, fmt.size() - i);
      break;
    }
    std::string_view inner = fmt.substr(i + 1, close - i - 1);
    Spec spec;
    size_t colon = inner.find(':');
    if (colon != std::string_view::npos) spec = parse_spec(inner.substr(colon + 1));
    if (next < nargs)
      put_arg(w, spec, args[next++]);
    else
      w.put("{?}", 3);
    i = close + 1;
  }
  return w.count();
}

void BufferSink::write(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i, ++len_) {
    if (len_ + 1 < cap_) buf_[len_] = s[i];
  }
  if (cap_) buf_[len_ < cap_ ? len_ : cap_ - 1] = '\0';
}

}  // namespace ktl
