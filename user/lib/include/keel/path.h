// keel/path.h — path names as the VFS sees them: normalisation, their bounds,
// and the mount point a path falls under. Pure logic, tested on the host
// (user/lib/src/path_test.cc); freestanding.
//
// A path is absolute: it starts with '/'. Normalising it
//   - folds runs of '/' into one ("//a///b" → "/a/b") and drops a trailing one;
//   - drops "." components ("/a/./b" → "/a/b");
//   - resolves ".." lexically: it removes the component before it, and at the
//     root it stays at the root ("/a/../../b" → "/b"), as POSIX does for "/..".
// Keel's file systems have no symbolic links that the VFS follows, so lexical
// ".." is exact. The result is "/" or "/name(/name)*", with no empty, "." or
// ".." component.
//
// Bounds (keel/proto/fs.h repeats them for the protocol):
//   kPathMax   bytes of a path, before and after normalising
//   kNameMax   bytes of one component
//   kDepthMax  components of a normalised path ("/" has 0, "/a/b" 2)
// Names may hold any byte but '/' and NUL.
//
// Errors: InvalidArgument (empty, relative, a NUL byte), NameTooLong (a path
// longer than kPathMax, a component longer than kNameMax, deeper than
// kDepthMax).
#pragma once

#include <ktl/error.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::path {

inline constexpr size_t kPathMax = 192;
inline constexpr size_t kNameMax = 60;
inline constexpr size_t kDepthMax = 16;

// Normalises `in` into `out` (which needs kPathMax bytes; no NUL is written)
// and returns the view of the result inside `out`. Errors: see above; also
// InvalidArgument if `out` is smaller than kPathMax.
ktl::Result<std::string_view> normalize(std::string_view in, std::span<char> out);

// True if `name` can be one component: 1..kNameMax bytes, no '/' or NUL, not
// "." or "..".
bool valid_name(std::string_view name);

// Splits a normalised path other than "/" into its parent ("/" for "/a") and
// its last component. False for "/" (the root has no parent).
bool split_last(std::string_view normalized, std::string_view* parent, std::string_view* name);

// The components of a normalised path, in order: "/a/b" gives "a", "b".
class Components {
 public:
  explicit Components(std::string_view normalized) : rest_(normalized) {}
  // The next component, or false at the end.
  bool next(std::string_view* out);

 private:
  std::string_view rest_;
};

// True if normalised `path` is `prefix` or lies under it ("/tmp/x" under
// "/tmp"; "/tmpx" is not; everything is under "/").
bool under(std::string_view path, std::string_view prefix);

// The mount a normalised path belongs to: the longest mount point it lies
// under, and the path relative to that mount's root ("/tmp/a" under "/tmp" is
// "/a"; "/tmp" itself is "/"). `rest` points into `path`, except for "/",
// which is static.
struct MountMatch {
  size_t index;
  std::string_view rest;
};
// `mounts` are normalised mount points (empty entries are skipped). Errors:
// NotFound if no mount covers the path (there is no "/" mount).
ktl::Result<MountMatch> match_mount(std::span<const std::string_view> mounts, std::string_view path);

}  // namespace keel::path
