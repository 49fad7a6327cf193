// dotdot.cc — ".." after a symbolic link, taken physically as Linux does
// (path_resolution(7)): "/a/link/.." is the directory above the link's
// target, not "/a". resolve() takes ".." lexically; path_arg calls
// resolve_physical instead for a path with a ".." component.
#include "internal.h"

namespace linux_srv {

namespace {

bool is_dotdot(const char* c, size_t n) { return n == 2 && c[0] == '.' && c[1] == '.'; }

}  // namespace

bool has_dotdot(const char* path) {
  for (const char* c = path; *c;) {
    const char* e = c;
    while (*e && *e != '/') ++e;
    if (is_dotdot(c, size_t(e - c))) return true;
    c = *e ? e + 1 : e;
  }
  return false;
}

// Walks `path` (relative to dirfd or the cwd) component by component up to
// its last "..": each directory before a ".." has its symbolic links
// followed (follow_links, and follow_middle_links for the links its target
// holds), so ".." leaves the target. What follows the last ".." is taken
// as resolve() takes it. /proc and /dev are left lexical (their links are
// this server's). 0 or -errno (ELOOP past 40 links).
int64_t resolve_physical(Proc& p, int64_t dirfd, const char* path, char (&out)[kPathMax]) {
  // The part up to and including the last "..", and the rest.
  size_t cut = 0;
  for (size_t i = 0; path[i];) {
    size_t e = i;
    while (path[e] && path[e] != '/') ++e;
    if (is_dotdot(path + i, e - i)) cut = e;
    i = path[e] ? e + 1 : e;
  }
  char cur[kPathMax];
  // The start: "/" for an absolute path, else the directory it is relative to.
  if (int64_t e = resolve(p, dirfd, path[0] == '/' ? "/" : ".", cur); e < 0) return e;
  int hops = 0;
  for (size_t i = 0; i < cut;) {
    size_t e = i;
    while (e < cut && path[e] != '/') ++e;
    const size_t n = e - i;
    if (n == 0 || (n == 1 && path[i] == '.')) {
      // nothing
    } else if (is_dotdot(path + i, n)) {
      char* slash = const_cast<char*>(last_slash(cur));
      if (slash == cur) cur[1] = 0; else if (slash) *slash = 0;
    } else {
      const size_t len = strlen(cur);
      if (len + 1 + n >= kPathMax) return -L::ENAMETOOLONG;
      if (len > 1) cur[len] = '/';
      memcpy(cur + (len > 1 ? len + 1 : len), path + i, n);
      cur[(len > 1 ? len + 1 : len) + n] = 0;
      if (!procfs_path(cur) && !dev_node(cur) && !str_eq(cur, "/dev")) {
        keel::fs::Info info;
        if (keel::fs::stat(cur, &info) == Status::Ok && info.type == pfs::kTypeSymlink) {
          if (++hops > 40) return -L::ELOOP;
          if (int64_t r = follow_links(cur); r < 0) return r;
          if (int64_t r = follow_middle_links(cur); r < 0) return r;
        }
      }
    }
    i = e < cut ? e + 1 : e;
  }
  // cur + the rest, lexically.
  char joined[2 * kPathMax + 2];
  const size_t clen = strlen(cur), rlen = strlen(path + cut);
  if (clen + 1 + rlen >= sizeof joined) return -L::ENAMETOOLONG;
  memcpy(joined, cur, clen);
  joined[clen] = '/';
  memcpy(joined + clen + 1, path + cut, rlen + 1);
  return resolve(p, L::AT_FDCWD, joined, out);
}

}  // namespace linux_srv
