// cpio.cc — the newc archive reader (keel/cpio.h).
//
// Decode, then use: each entry's header fields, sizes, bounds and name are
// all checked before anything is handed out, so a caller never sees a
// half-valid Entry. Byte comparisons are written out by hand: the code must
// not depend on libc beyond what the compiler itself may emit.
#include <keel/cpio.h>

#include <ktl/align.h>

namespace keel::cpio {
namespace {

using ktl::Error;

// Offsets of the 8-digit fields, in header order (see the table in cpio.h).
enum Field : size_t {
  kIno,
  kMode,
  kUid,
  kGid,
  kNlink,
  kMtime,
  kFilesize,
  kDevMajor,
  kDevMinor,
  kRdevMajor,
  kRdevMinor,
  kNamesize,
  kCheck,
};
static_assert(kCheck + 1 == kFieldCount);
static_assert(kHeaderSize == 110);

bool bytes_equal(const uint8_t* a, std::string_view b) {
  for (size_t i = 0; i < b.size(); ++i) {
    if (a[i] != uint8_t(b[i])) return false;
  }
  return true;
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && bytes_equal(reinterpret_cast<const uint8_t*>(a.data()), b);
}

bool contains_nul(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == 0) return true;
  }
  return false;
}

// Parses exactly 8 hex digits (either case). Error::InvalidArgument otherwise.
ktl::Result<uint32_t> parse_hex8(const uint8_t* p) {
  uint32_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    uint8_t c = p[i];
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return Error::InvalidArgument;
    }
    v = (v << 4) | d;
  }
  return v;
}

bool known_type(uint32_t mode) {
  switch (mode & kTypeMask) {
    case kTypeSocket:
    case kTypeSymlink:
    case kTypeRegular:
    case kTypeBlockDevice:
    case kTypeDirectory:
    case kTypeCharDevice:
    case kTypeFifo:
      return true;
    default:
      return false;
  }
}

bool same_inode(const Entry& a, const Entry& b) {
  return a.ino == b.ino && a.dev_major == b.dev_major && a.dev_minor == b.dev_minor;
}

// A hard link stored without its data (cpio.h, "Hard links").
bool needs_link_data(const Entry& e) { return e.is_regular() && e.nlink > 1 && e.data.empty(); }

}  // namespace

std::string_view normalize_path(std::string_view path) {
  for (;;) {
    if (path.size() >= 1 && path[0] == '/') {
      path.remove_prefix(1);
    } else if (path.size() >= 2 && path[0] == '.' && path[1] == '/') {
      path.remove_prefix(2);
    } else {
      break;
    }
  }
  if (path.size() == 1 && path[0] == '.') path.remove_prefix(1);  // empty, but still points into `path`
  return path;
}

namespace detail {

ktl::Result<Layout> layout(uint64_t offset, uint64_t namesize, uint64_t filesize) {
  Layout l;
  if (!ktl::checked_add(offset, kHeaderSize, l.name) || !ktl::checked_add(l.name, namesize, l.name_end) ||
      !ktl::align_up(l.name_end, kAlign, l.data) || !ktl::checked_add(l.data, filesize, l.data_end) ||
      !ktl::align_up(l.data_end, kAlign, l.next)) {
    return Error::Overflow;
  }
  return l;
}

}  // namespace detail

ktl::Result<bool> Reader::next(Entry* out) {
  switch (state_) {
    case State::Done:
      return false;
    case State::Failed:
      return error_;
    case State::Reading:
      break;
  }
  if (out == nullptr) return Error::InvalidArgument;  // the caller's bug: the archive may be fine
  auto r = decode(out);
  if (!r.ok()) {
    state_ = State::Failed;
    error_ = r.error();
  } else if (!r.value()) {
    state_ = State::Done;
  }
  return r;
}

// Decodes the entry at offset_. Advances offset_ only on success.
ktl::Result<bool> Reader::decode(Entry* out) {
  const uint8_t* base = archive_.data();
  const size_t size = archive_.size();
  const size_t left = size - offset_;  // offset_ <= size: it only ever becomes a checked next
  const uint8_t* h = base + offset_;

  // The magic first, so that a short piece of something else is BadMagic.
  if (left < kMagicSize) return Error::Truncated;
  if (!bytes_equal(h, kMagicNewc) && !bytes_equal(h, kMagicNewcCrc)) return Error::BadMagic;
  if (left < kHeaderSize) return Error::Truncated;

  uint32_t f[kFieldCount];
  for (size_t i = 0; i < kFieldCount; ++i) f[i] = TRY(parse_hex8(h + kMagicSize + 8 * i));

  const uint32_t namesize = f[kNamesize];
  const uint32_t filesize = f[kFilesize];
  if (namesize < 2) return Error::InvalidArgument;  // no NUL at all, or an empty name
  const detail::Layout l = TRY(detail::layout(offset_, namesize, filesize));
  // Each end is checked, so that every kind of truncation is reported alike.
  if (l.name_end > size || l.data > size || l.data_end > size || l.next > size) return Error::Truncated;

  const uint8_t* name = base + l.name;
  if (name[namesize - 1] != 0 || contains_nul(name, namesize - 1)) return Error::InvalidArgument;
  const std::string_view raw(reinterpret_cast<const char*>(name), namesize - 1);
  const Bytes data = archive_.subspan(l.data, filesize);

  if (same(raw, kTrailerName)) {
    if (filesize != 0) return Error::InvalidArgument;
    offset_ = l.next;
    return false;
  }

  const std::string_view path = normalize_path(raw);
  if (path.size() > kMaxPathLength) return Error::Unsupported;

  const uint32_t mode = f[kMode];
  if ((mode & ~(kTypeMask | kPermissionMask)) != 0 || !known_type(mode)) return Error::InvalidArgument;
  if ((mode & kTypeMask) == kTypeDirectory && filesize != 0) return Error::InvalidArgument;
  if ((mode & kTypeMask) == kTypeSymlink && (filesize == 0 || contains_nul(data.data(), filesize))) {
    return Error::InvalidArgument;
  }

  Entry e;
  e.name = path;
  e.mode = mode;
  e.uid = f[kUid];
  e.gid = f[kGid];
  e.nlink = f[kNlink];
  e.mtime = f[kMtime];
  e.data = data;
  e.ino = f[kIno];
  e.dev_major = f[kDevMajor];
  e.dev_minor = f[kDevMinor];
  e.rdev_major = f[kRdevMajor];
  e.rdev_minor = f[kRdevMinor];
  e.check = f[kCheck];
  *out = e;
  offset_ = l.next;
  return true;
}

ktl::Result<size_t> Reader::validate(Bytes archive) {
  Reader reader(archive);
  Entry e;
  size_t count = 0;
  while (TRY(reader.next(&e))) ++count;
  return count;
}

ktl::Result<Entry> find(Bytes archive, std::string_view path) {
  path = normalize_path(path);
  Entry match;
  bool found = false;
  {
    Reader reader(archive);
    Entry e;
    while (TRY(reader.next(&e))) {
      if (same(e.name, path)) {
        match = e;
        found = true;
      }
    }
  }
  if (!found) return Error::NotFound;
  if (needs_link_data(match)) {
    // Second walk: the data-carrying link may come before or after the match.
    // The archive is known to be valid now, so next() cannot fail.
    Reader reader(archive);
    Entry e;
    while (TRY(reader.next(&e))) {
      if (e.is_regular() && e.nlink > 1 && !e.data.empty() && same_inode(e, match)) {
        match.data = e.data;
        match.check = e.check;
        break;
      }
    }
  }
  return match;
}

}  // namespace keel::cpio
