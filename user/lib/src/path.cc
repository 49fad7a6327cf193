// path.cc — keel/path.h.
#include <keel/path.h>

namespace keel::path {

ktl::Result<std::string_view> normalize(std::string_view in, std::span<char> out) {
  if (out.size() < kPathMax) return ktl::Error::InvalidArgument;
  const size_t n = in.size();
  if (n == 0 || in[0] != '/') return ktl::Error::InvalidArgument;
  if (n > kPathMax) return ktl::Error::NameTooLong;
  const char* s = in.data();
  if (__builtin_memchr(s, 0, n) != nullptr) return ktl::Error::InvalidArgument;
  // One pass: out[0..len) holds "/a/b" (or "" for the root, fixed at the
  // end); each component is copied as it is read and taken back if it is
  // "." or "..". The result is never longer than the input, so it fits.
  char* o = out.data();
  size_t len = 0, depth = 0, i = 0;
  while (i < n) {
    while (i < n && s[i] == '/') ++i;
    if (i == n) break;
    const size_t start = i, at = len;
    o[len++] = '/';
    while (i < n && s[i] != '/') o[len++] = s[i++];
    const size_t name = i - start;
    if (name == 1 && s[start] == '.') {
      len = at;
      continue;
    }
    if (name > kNameMax) return ktl::Error::NameTooLong;
    if (name == 2 && s[start] == '.' && s[start + 1] == '.') {
      len = at;
      while (len > 0 && o[len - 1] != '/') --len;
      if (len > 0) {
        --len;  // the '/' before it
        --depth;
      }
      continue;
    }
    ++depth;
  }
  if (depth > kDepthMax) return ktl::Error::NameTooLong;
  if (len == 0) o[len++] = '/';
  return std::string_view(o, len);
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kNameMax || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == '\0') return false;
  return true;
}

bool split_last(std::string_view normalized, std::string_view* parent, std::string_view* name) {
  if (normalized.size() < 2 || normalized[0] != '/') return false;
  size_t slash = normalized.rfind('/');
  *name = normalized.substr(slash + 1);
  *parent = slash == 0 ? std::string_view("/") : normalized.substr(0, slash);
  return !name->empty();
}

bool Components::next(std::string_view* out) {
  while (!rest_.empty() && rest_[0] == '/') rest_.remove_prefix(1);
  if (rest_.empty()) return false;
  size_t end = rest_.find('/');
  if (end == std::string_view::npos) end = rest_.size();
  *out = rest_.substr(0, end);
  rest_.remove_prefix(end);
  return true;
}

bool under(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return !path.empty() && path[0] == '/';
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

ktl::Result<MountMatch> match_mount(std::span<const std::string_view> mounts, std::string_view path) {
  size_t best = mounts.size(), best_len = 0;
  for (size_t i = 0; i < mounts.size(); ++i) {
    std::string_view m = mounts[i];
    if (m.empty() || !under(path, m)) continue;
    if (best == mounts.size() || m.size() > best_len) {
      best = i;
      best_len = m.size();
    }
  }
  if (best == mounts.size()) return ktl::Error::NotFound;
  if (mounts[best] == "/") return MountMatch{best, path};
  std::string_view rest = path.substr(best_len);
  return MountMatch{best, rest.empty() ? std::string_view("/") : rest};
}

}  // namespace keel::path
