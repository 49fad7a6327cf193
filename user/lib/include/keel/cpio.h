// keel/cpio.h — a reader for cpio "newc" archives, read in place from memory.
//
// Keel's initrd is a newc archive (built with `cpio -o -H newc`) that GRUB
// loads as a multiboot2 module; init and the read-only file-system server read
// it where it lies. The archive is untrusted input: every header field, size
// and name is checked before use, nothing is read outside the archive span,
// and every entry advances the reader by at least 112 bytes, so a walk always
// ends. No allocation, exceptions, RTTI or libc; it builds for native Keel
// programs and for the host tests alike.
//
//   auto count = TRY(keel::cpio::Reader::validate(initrd));   // refuse a bad archive early
//   keel::cpio::Entry init = TRY(keel::cpio::find(initrd, "/bin/init"));
//
//   keel::cpio::Reader reader(initrd);                        // or walk every entry
//   keel::cpio::Entry e;
//   while (TRY(reader.next(&e))) { ... }
//
// ## The newc format
//
// Sources (facts, not code): the GNU cpio manual, "Options" / format "newc"
// ("the new (SVR4) portable format"); libarchive's cpio(5), "New ASCII
// Format"; Linux's Documentation/driver-api/early-userspace/buffer-format.rst.
//
// An archive is a sequence of entries, each starting at a 4-byte-aligned
// offset from the start of the archive:
//
//   offset   0  c_magic      6 bytes  "070701" (newc), or "070702" (newc with "CRC")
//   offset   6  c_ino        8 bytes  inode number
//   offset  14  c_mode       8 bytes  st_mode: file type and permission bits
//   offset  22  c_uid        8 bytes
//   offset  30  c_gid        8 bytes
//   offset  38  c_nlink      8 bytes  number of links
//   offset  46  c_mtime      8 bytes  seconds since the epoch
//   offset  54  c_filesize   8 bytes  bytes of data
//   offset  62  c_devmajor   8 bytes  device holding the file
//   offset  70  c_devminor   8 bytes
//   offset  78  c_rdevmajor  8 bytes  device a device node names
//   offset  86  c_rdevminor  8 bytes
//   offset  94  c_namesize   8 bytes  length of the name INCLUDING its final NUL
//   offset 102  c_check      8 bytes  "070702": the 32-bit sum of all data bytes; else 0
//   offset 110  the name: c_namesize bytes, the last one NUL, then NUL padding so
//               that header + name ends on a multiple of 4 (0–3 bytes);
//   then        the data: c_filesize bytes, then padding to a multiple of 4.
//
// Each field after the magic is exactly 8 ASCII hex digits, a 32-bit unsigned
// value: no sign, spaces or "0x" (GNU cpio writes upper case; Keel accepts
// both cases).
//
// The entry named "TRAILER!!!" (c_filesize 0) ends the archive; writers then
// pad the archive to their block size (GNU cpio: 512 bytes). Bytes after the
// trailer are ignored, including further archives appended to this one.
//
// A symlink's data is its target, without a NUL. Directories, devices, FIFOs
// and sockets have no data. Hard links: every entry of a hard-linked file
// (c_nlink > 1) carries the same (c_devmajor, c_devminor, c_ino), and only
// one of them carries the data; the others have c_filesize 0 (GNU cpio 2.13
// puts the data on the last link it writes). Reader::next() reports entries as
// stored; find() resolves the data of a hard link.
//
// Names: GNU cpio stores what it is given, minus a leading "./" ("./etc/motd"
// becomes "etc/motd", "." stays "."). Keel strips any leading sequence of "/"
// and "./" from names in the archive and from looked-up paths alike, and "."
// becomes "" (the root directory); nothing else is rewritten ("a//b" and
// "a/./b" are compared as they are).
//
// ## Errors
//
//   Truncated        the archive ends inside a header, a name, the name's
//                    padding, the data or the data's padding, or at an entry
//                    boundary before the trailer (an empty span included);
//   BadMagic         c_magic is neither "070701" nor "070702" (so also the
//                    odc "070707" and the old binary formats);
//   InvalidArgument  a header field that is not 8 hex digits; c_namesize 0 or
//                    1 (an empty name); a name whose last byte is not NUL or
//                    that has a NUL before it; a trailer with data; a c_mode
//                    that is not one known file type (S_IFREG, S_IFDIR,
//                    S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK) plus
//                    permission bits; a directory with data; a symlink whose
//                    target is empty or contains a NUL;
//   Unsupported      a well-formed name longer than kMaxPathLength bytes
//                    after normalization (Keel's limit, not the format's);
//   Overflow         an offset plus a size, or its rounding up to 4, would
//                    pass 2^64 - 1 (impossible for a span in memory on a
//                    64-bit machine; checked anyway, see detail::layout);
//   NotFound         (find only) no entry has that path.
// Each entry is checked in this order, and the first failure is returned:
// magic (fewer than 6 bytes left: Truncated), the rest of the header present,
// the 13 fields, c_namesize, the layout's arithmetic, every end inside the
// archive, the name's NULs, trailer or not, the name's length, the type and
// the data. The padding bytes' contents are not checked.
#ifndef KEEL_CPIO_H_
#define KEEL_CPIO_H_

#include <ktl/error.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::cpio {

using Bytes = std::span<const uint8_t>;

constexpr size_t kMagicSize = 6;
constexpr size_t kFieldCount = 13;                            // 8-hex-digit fields after the magic
constexpr size_t kHeaderSize = kMagicSize + kFieldCount * 8;  // 110 bytes
constexpr size_t kAlign = 4;                                  // header + name, and data, are padded to this
constexpr std::string_view kMagicNewc = "070701";
constexpr std::string_view kMagicNewcCrc = "070702";
constexpr std::string_view kTrailerName = "TRAILER!!!";

// Longest path Keel accepts, in bytes, after normalization and without the NUL.
constexpr size_t kMaxPathLength = 255;

// st_mode file types (the S_IFMT bits) and the permission bits.
constexpr uint32_t kTypeMask = 0170000;
constexpr uint32_t kTypeSocket = 0140000;
constexpr uint32_t kTypeSymlink = 0120000;
constexpr uint32_t kTypeRegular = 0100000;
constexpr uint32_t kTypeBlockDevice = 0060000;
constexpr uint32_t kTypeDirectory = 0040000;
constexpr uint32_t kTypeCharDevice = 0020000;
constexpr uint32_t kTypeFifo = 0010000;
constexpr uint32_t kPermissionMask = 07777;  // rwx for user/group/other, setuid, setgid, sticky

// One archive entry. `name` and `data` point into the archive, which must
// outlive the Entry. Invariants after Reader::next() or find() succeeded:
// exactly one of the type predicates holds; mode has no bits outside
// kTypeMask | kPermissionMask; name has no NUL and at most kMaxPathLength
// bytes; a directory's data is empty; a symlink's data is non-empty and
// NUL-free.
struct Entry {
  std::string_view name;  // normalized: no leading "/" or "./"; "" for the root "."
  uint32_t mode = 0;      // st_mode: file type bits (kType*) + permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t mtime = 0;      // seconds since the Unix epoch (unsigned 32-bit in the archive)
  Bytes data;              // file contents, or the symlink target; empty for others
  uint32_t ino = 0;        // with dev_major/dev_minor, identifies hard links
  uint32_t dev_major = 0;  // device holding the file when archived
  uint32_t dev_minor = 0;
  uint32_t rdev_major = 0;  // the device a character/block device node names
  uint32_t rdev_minor = 0;
  uint32_t check = 0;  // c_check: the data's byte sum in "070702" archives; NOT verified here

  uint32_t type() const { return mode & kTypeMask; }
  uint32_t permissions() const { return mode & kPermissionMask; }
  bool is_regular() const { return type() == kTypeRegular; }
  bool is_directory() const { return type() == kTypeDirectory; }
  bool is_symlink() const { return type() == kTypeSymlink; }
  // The symlink target as text; "" if this is not a symlink.
  std::string_view symlink_target() const {
    if (!is_symlink()) return {};
    return {reinterpret_cast<const char*>(data.data()), data.size()};
  }
};

// Strips a leading run of "/" and "./" from `path`; "." becomes "" (the root).
std::string_view normalize_path(std::string_view path);

// Walks the entries of one archive, in archive order. Not thread-safe; make
// one Reader per walk (they are cheap: a span and an offset).
class Reader {
 public:
  explicit Reader(Bytes archive) : archive_(archive) {}

  // Decodes the next entry into *out (non-null) and returns true, or returns
  // false at the trailer. Errors: see the file comment. *out is written only
  // when true is returned. Once next() has returned false or an error it
  // returns the same again and reads nothing more. A null `out` is
  // InvalidArgument and changes nothing (the archive may be fine).
  ktl::Result<bool> next(Entry* out);

  // Byte offset of the next entry's header; after an error, the offset of the
  // header of the entry that failed (for logs); after the trailer, the offset
  // just past it (the bytes the archive really uses).
  size_t offset() const { return offset_; }

  // Walks the whole archive up to its trailer and returns the number of
  // entries before it (0 for an archive that is just a trailer). Errors: the
  // first error next() would return.
  static ktl::Result<size_t> validate(Bytes archive);

 private:
  enum class State { Reading, Done, Failed };

  ktl::Result<bool> decode(Entry* out);

  Bytes archive_;
  size_t offset_ = 0;
  State state_ = State::Reading;
  ktl::Error error_ = ktl::Error::None;
};

// Looks `path` up (normalized with normalize_path, so "/etc/motd",
// "./etc/motd" and "etc/motd" are the same; "/" names the root entry ".").
// Walks the whole archive, so an archive with an error anywhere fails with
// that error even if the entry came before it. If a name occurs more than
// once the last one wins, as when the archive is extracted. A regular file
// with nlink > 1 and no data of its own gets the data of the entry with the
// same (dev_major, dev_minor, ino) that carries it, wherever that one is.
// Errors: those of Reader::next(); NotFound if no entry has that path.
ktl::Result<Entry> find(Bytes archive, std::string_view path);

namespace detail {

// Where the parts of the entry whose header starts at `offset` lie, as
// absolute offsets in the archive.
struct Layout {
  uint64_t name = 0;      // first byte of the name
  uint64_t name_end = 0;  // one past the name's NUL
  uint64_t data = 0;      // name_end rounded up to kAlign: the first data byte
  uint64_t data_end = 0;  // one past the last data byte
  uint64_t next = 0;      // data_end rounded up to kAlign: the next header
};

// Computes the Layout. Overflow if any of its values would pass 2^64 - 1.
// Bounds against the archive are the caller's business.
ktl::Result<Layout> layout(uint64_t offset, uint64_t namesize, uint64_t filesize);

}  // namespace detail

}  // namespace keel::cpio

#endif  // KEEL_CPIO_H_
