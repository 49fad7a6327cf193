// cmdline.cc — command-line word lookup.
#include <boot/cmdline.h>

#include <cstdint>

namespace boot {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Calls fn(key, value, has_value) for each word until fn returns true.
template <typename Fn>
bool for_each_word(std::string_view text, Fn fn) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i == start) break;
    std::string_view word(text.data() + start, i - start);
    size_t eq = word.find('=');
    bool stop = eq == std::string_view::npos
                    ? fn(word, std::string_view(), false)
                    : fn(std::string_view(word.data(), eq),
                         std::string_view(word.data() + eq + 1, word.size() - eq - 1), true);
    if (stop) return true;
  }
  return false;
}

}  // namespace

bool CommandLine::has(std::string_view name) const {
  return for_each_word(text_, [&](std::string_view k, std::string_view, bool) { return k == name; });
}

std::optional<std::string_view> CommandLine::value(std::string_view name) const {
  std::optional<std::string_view> out;
  for_each_word(text_, [&](std::string_view k, std::string_view v, bool has_value) {
    if (k != name || !has_value) return false;
    out = v;
    return true;
  });
  return out;
}

std::optional<uint64_t> CommandLine::number(std::string_view name) const {
  auto v = value(name);
  if (!v || v->empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, uint64_t(c - '0'), &n))
      return std::nullopt;
  }
  return n;
}

}  // namespace boot
