// cpio_test.cc — host tests for keel/cpio.h: well-formed archives (files,
// directories, symlinks, padding, names, hard links, find), every malformed
// input and its error, truncation at every length and random corruption, and
// an archive written at build time by Debian's own `cpio -o -H newc`.
//
// Archives are built in memory by ArchiveBuilder, which writes newc headers
// field by field so that any field can be made wrong. Every archive is parsed
// from an exactly sized heap allocation, so ASan reports any read past its end.
#include <gtest/gtest.h>

#include <keel/cpio.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using keel::cpio::Entry;
using keel::cpio::Reader;
using ktl::Error;
namespace cpio = keel::cpio;

namespace {

// ---------------------------------------------------------------------------
// Test helpers

// Header fields; the sizes default to those of the name and data given to add().
struct Header {
  std::string magic = "070701";
  uint32_t ino = 1;
  uint32_t mode = 0100644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
  uint32_t mtime = 0;
  std::optional<uint32_t> filesize;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint32_t rdev_major = 0;
  uint32_t rdev_minor = 0;
  std::optional<uint32_t> namesize;
  uint32_t check = 0;
};

// Byte offset of field `i` (0 = c_ino ... 12 = c_check) inside a header.
constexpr size_t field_offset(size_t i) { return cpio::kMagicSize + 8 * i; }
constexpr size_t kFilesizeField = 6;

class ArchiveBuilder {
 public:
  // Writes just the 110-byte header (sizes default to 0).
  ArchiveBuilder& header(const Header& h) {
    bytes_.insert(bytes_.end(), h.magic.begin(), h.magic.end());
    for (uint32_t v : {h.ino, h.mode, h.uid, h.gid, h.nlink, h.mtime, h.filesize.value_or(0), h.dev_major,
                       h.dev_minor, h.rdev_major, h.rdev_minor, h.namesize.value_or(0), h.check}) {
      char buf[9];
      std::snprintf(buf, sizeof(buf), "%08X", v);
      bytes_.insert(bytes_.end(), buf, buf + 8);
    }
    return *this;
  }

  // Appends a whole entry: header, name + NUL (cut or NUL-extended to
  // h.namesize if that is set), padding, data, padding.
  ArchiveBuilder& add(std::string_view name, std::string_view data = {}, Header h = {}) {
    std::string name_field(name);
    name_field.push_back('\0');
    if (h.namesize) name_field.resize(*h.namesize, '\0');
    h.namesize = uint32_t(name_field.size());
    if (!h.filesize) h.filesize = uint32_t(data.size());
    header(h);
    raw(name_field);
    pad();
    raw(data);
    return pad();
  }

  ArchiveBuilder& file(std::string_view name, std::string_view data, uint32_t perms = 0644) {
    Header h;
    h.mode = cpio::kTypeRegular | perms;
    h.ino = next_ino_++;
    return add(name, data, h);
  }
  ArchiveBuilder& dir(std::string_view name, uint32_t perms = 0755) {
    Header h;
    h.mode = cpio::kTypeDirectory | perms;
    h.nlink = 2;
    h.ino = next_ino_++;
    return add(name, {}, h);
  }
  ArchiveBuilder& symlink(std::string_view name, std::string_view target) {
    Header h;
    h.mode = cpio::kTypeSymlink | 0777;
    h.ino = next_ino_++;
    return add(name, target, h);
  }
  ArchiveBuilder& trailer() {
    Header h;
    h.ino = 0;
    h.mode = 0;
    return add(cpio::kTrailerName, {}, h);
  }
  ArchiveBuilder& raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  ArchiveBuilder& pad() {
    while (bytes_.size() % 4 != 0) bytes_.push_back(0);
    return *this;
  }
  // Overwrites bytes at `offset` (which must already exist).
  ArchiveBuilder& patch(size_t offset, std::string_view s) {
    EXPECT_LE(offset + s.size(), bytes_.size());
    std::memcpy(bytes_.data() + offset, s.data(), s.size());
    return *this;
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  uint32_t next_ino_ = 100;
};

// An exactly sized heap copy of an archive.
class Buffer {
 public:
  explicit Buffer(const std::vector<uint8_t>& v) : Buffer(v.data(), v.size()) {}
  explicit Buffer(const ArchiveBuilder& b) : Buffer(b.bytes()) {}
  Buffer(const uint8_t* p, size_t n) : size_(n), data_(new uint8_t[n]) {
    if (n) std::memcpy(data_.get(), p, n);
  }
  cpio::Bytes span() const { return {data_.get(), size_}; }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  size_t size_;
  std::unique_ptr<uint8_t[]> data_;
};

std::string_view text(cpio::Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Reads every entry; fails the test on an error.
std::vector<Entry> read_all(cpio::Bytes archive) {
  std::vector<Entry> out;
  Reader r(archive);
  Entry e;
  for (;;) {
    auto more = r.next(&e);
    EXPECT_TRUE(more.ok()) << ktl::error_name(more.error()) << " at offset " << r.offset();
    if (!more.ok() || !*more) break;
    out.push_back(e);
  }
  return out;
}

// The error that validate() and a Reader both report (None if the archive is
// valid), after checking that they agree and that the Reader's error sticks.
Error archive_error(cpio::Bytes archive) {
  auto v = Reader::validate(archive);
  Reader r(archive);
  Entry e;
  Error err = Error::None;
  for (size_t i = 0; i < 100000; ++i) {
    auto more = r.next(&e);
    if (!more.ok()) {
      err = more.error();
      break;
    }
    if (!*more) break;
  }
  EXPECT_EQ(v.error(), err) << "validate and next disagree";
  if (err != Error::None) {
    size_t at = r.offset();
    auto again = r.next(&e);
    EXPECT_EQ(again.error(), err) << "error is not sticky";
    EXPECT_EQ(r.offset(), at);
  }
  return err;
}

Error archive_error(const ArchiveBuilder& b) {
  Buffer buf(b);
  return archive_error(buf.span());
}

#define EXPECT_ARCHIVE_ERROR(builder, err) \
  EXPECT_STREQ(ktl::error_name(archive_error(builder)), ktl::error_name(err))

// ---------------------------------------------------------------------------
// Well-formed archives

TEST(CpioLayout, Constants) {
  EXPECT_EQ(cpio::kHeaderSize, 110u);
  EXPECT_EQ(cpio::kMaxPathLength, 255u);
  ArchiveBuilder b;
  b.header({});
  EXPECT_EQ(b.size(), cpio::kHeaderSize);
}

TEST(CpioReader, EmptyArchiveIsJustATrailer) {
  ArchiveBuilder b;
  b.trailer();
  Buffer buf(b);
  EXPECT_EQ(buf.size(), 124u);  // 110 + 11 = 121, padded to 124
  auto n = Reader::validate(buf.span());
  ASSERT_TRUE(n.ok()) << ktl::error_name(n.error());
  EXPECT_EQ(*n, 0u);

  Reader r(buf.span());
  Entry e;
  e.name = "untouched";
  auto more = r.next(&e);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  EXPECT_EQ(e.name, "untouched");  // *out is written only for an entry
  EXPECT_EQ(r.offset(), 124u);
  // Done stays done.
  more = r.next(&e);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

TEST(CpioReader, FilesDirectoriesAndSymlinksInArchiveOrder) {
  ArchiveBuilder b;
  b.dir(".").dir("bin").file("bin/init", "\177ELF....", 0755).dir("etc").file("etc/motd", "hello\n");
  b.symlink("etc/issue", "motd").symlink("sbin", "/bin").file("zzz", "z").file("aaa", "a").trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 9u);

  const char* names[] = {"", "bin", "bin/init", "etc", "etc/motd", "etc/issue", "sbin", "zzz", "aaa"};
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(entries[i].name, names[i]) << i;

  EXPECT_TRUE(entries[0].is_directory());
  EXPECT_TRUE(entries[1].is_directory());
  EXPECT_FALSE(entries[1].is_regular());
  EXPECT_FALSE(entries[1].is_symlink());
  EXPECT_TRUE(entries[1].data.empty());

  EXPECT_TRUE(entries[2].is_regular());
  EXPECT_EQ(entries[2].permissions(), 0755u);
  EXPECT_EQ(entries[2].mode, 0100755u);
  EXPECT_EQ(text(entries[2].data), std::string_view("\177ELF....", 8));
  EXPECT_EQ(entries[2].symlink_target(), "");

  EXPECT_TRUE(entries[4].is_regular());
  EXPECT_EQ(text(entries[4].data), "hello\n");

  EXPECT_TRUE(entries[5].is_symlink());
  EXPECT_FALSE(entries[5].is_regular());
  EXPECT_EQ(entries[5].symlink_target(), "motd");
  EXPECT_EQ(entries[6].symlink_target(), "/bin");

  // Entries point into the archive; nothing was copied.
  for (const Entry& e : entries) {
    EXPECT_GE(reinterpret_cast<const uint8_t*>(e.name.data()), buf.data());
    EXPECT_LE(reinterpret_cast<const uint8_t*>(e.name.data() + e.name.size()), buf.data() + buf.size());
    if (!e.data.empty()) {
      EXPECT_GE(e.data.data(), buf.data());
      EXPECT_LE(e.data.data() + e.data.size(), buf.data() + buf.size());
    }
  }
  auto n = Reader::validate(buf.span());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 9u);
}

TEST(CpioReader, ParsesEveryHeaderField) {
  Header h;
  h.ino = 0x12345678;
  h.mode = cpio::kTypeCharDevice | 0620;
  h.uid = 0xFFFFFFFF;
  h.gid = 0x89ABCDEF;
  h.nlink = 7;
  h.mtime = 0xFEDCBA98;  // past 2038: unsigned
  h.dev_major = 0x0A;
  h.dev_minor = 0x0B;
  h.rdev_major = 4;
  h.rdev_minor = 64;
  h.check = 0xDEADBEEF;
  ArchiveBuilder b;
  b.add("dev/ttyS0", {}, h).trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 1u);
  const Entry& e = entries[0];
  EXPECT_EQ(e.name, "dev/ttyS0");
  EXPECT_EQ(e.ino, 0x12345678u);
  EXPECT_EQ(e.mode, 020620u);
  EXPECT_EQ(e.type(), cpio::kTypeCharDevice);
  EXPECT_FALSE(e.is_regular() || e.is_directory() || e.is_symlink());
  EXPECT_EQ(e.uid, 0xFFFFFFFFu);
  EXPECT_EQ(e.gid, 0x89ABCDEFu);
  EXPECT_EQ(e.nlink, 7u);
  EXPECT_EQ(e.mtime, 0xFEDCBA98u);
  EXPECT_EQ(e.dev_major, 0x0Au);
  EXPECT_EQ(e.dev_minor, 0x0Bu);
  EXPECT_EQ(e.rdev_major, 4u);
  EXPECT_EQ(e.rdev_minor, 64u);
  EXPECT_EQ(e.check, 0xDEADBEEFu);
  EXPECT_TRUE(e.data.empty());
}

TEST(CpioReader, AcceptsEveryFileType) {
  ArchiveBuilder b;
  for (uint32_t type : {cpio::kTypeSocket, cpio::kTypeBlockDevice, cpio::kTypeFifo, cpio::kTypeCharDevice}) {
    Header h;
    h.mode = type | 06777;  // setuid, setgid, sticky and rwx for all are permission bits too
    b.add("node" + std::to_string(type), {}, h);
  }
  b.trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].type(), cpio::kTypeSocket);
  EXPECT_EQ(entries[1].type(), cpio::kTypeBlockDevice);
  EXPECT_EQ(entries[2].type(), cpio::kTypeFifo);
  EXPECT_EQ(entries[3].type(), cpio::kTypeCharDevice);
  EXPECT_EQ(entries[3].permissions(), 06777u);
}

TEST(CpioReader, AcceptsLowerCaseHex) {
  ArchiveBuilder b;
  b.file("f", "0123456789");
  // Rewrite c_mode (0x81A4) and c_filesize (0xA) in lower case.
  b.patch(field_offset(1), "000081a4").patch(field_offset(kFilesizeField), "0000000a").trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mode, 0100644u);
  EXPECT_EQ(entries[0].data.size(), 10u);
}

TEST(CpioReader, AcceptsTheCrcVariantWithoutVerifyingIt) {
  Header h;
  h.magic = "070702";
  h.check = 12345;  // not the byte sum of the data: not checked
  ArchiveBuilder b;
  b.add("crc", "data", h).trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(text(entries[0].data), "data");
  EXPECT_EQ(entries[0].check, 12345u);
}

TEST(CpioReader, ZeroLengthFile) {
  ArchiveBuilder b;
  b.file("empty", "").file("after", "x").trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[0].is_regular());
  EXPECT_TRUE(entries[0].data.empty());
  EXPECT_EQ(text(entries[1].data), "x");
}

// 110 + namesize: name lengths 1, 2, 3, 4 need 0, 3, 2, 1 bytes of padding.
TEST(CpioReader, NamePaddingOfZeroToThreeBytes) {
  const std::pair<std::string, size_t> cases[] = {{"a", 0}, {"ab", 3}, {"abc", 2}, {"abcd", 1}, {"abcde", 0}};
  for (const auto& [name, padding] : cases) {
    ArchiveBuilder b;
    b.file(name, "DATA").trailer();
    Buffer buf(b);
    Reader r(buf.span());
    Entry e;
    auto more = r.next(&e);
    ASSERT_TRUE(more.ok() && *more) << name;
    EXPECT_EQ(e.name, name);
    size_t data_offset = cpio::kHeaderSize + name.size() + 1 + padding;
    EXPECT_EQ(data_offset % 4, 0u);
    EXPECT_EQ(size_t(e.data.data() - buf.data()), data_offset) << name;
    EXPECT_EQ(text(e.data), "DATA");
    EXPECT_EQ(r.offset(), data_offset + 4);
    more = r.next(&e);
    ASSERT_TRUE(more.ok()) << name;
    EXPECT_FALSE(*more);
  }
}

TEST(CpioReader, DataPaddingOfZeroToThreeBytes) {
  // "a": header + name = 112, so data starts at 112; data lengths 0..8.
  for (size_t len = 0; len <= 8; ++len) {
    std::string data(len, 'd');
    ArchiveBuilder b;
    b.file("a", data).file("b", "next").trailer();
    Buffer buf(b);
    Reader r(buf.span());
    Entry e;
    ASSERT_TRUE(r.next(&e).value_or(false)) << len;
    EXPECT_EQ(e.data.size(), len);
    EXPECT_EQ(r.offset(), 112 + (len + 3) / 4 * 4) << len;
    ASSERT_TRUE(r.next(&e).value_or(false)) << len;
    EXPECT_EQ(e.name, "b");
    EXPECT_EQ(text(e.data), "next");
    auto more = r.next(&e);
    ASSERT_TRUE(more.ok()) << len;
    EXPECT_FALSE(*more);
  }
}

TEST(CpioReader, NormalizesLeadingSlashAndDot) {
  ArchiveBuilder b;
  b.dir(".").dir("./").dir("/").file("./a", "1").file("/b", "2").file(".//c", "3").file("/./d", "4");
  b.file("././e", "5").file("e/./f", "6").file(".hidden", "7").file("..x", "8").file("./.", "9").trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  const char* names[] = {"", "", "", "a", "b", "c", "d", "e", "e/./f", ".hidden", "..x", ""};
  ASSERT_EQ(entries.size(), std::size(names));
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(entries[i].name, names[i]) << i;

  EXPECT_EQ(cpio::normalize_path(""), "");
  EXPECT_EQ(cpio::normalize_path("."), "");
  EXPECT_EQ(cpio::normalize_path("/"), "");
  EXPECT_EQ(cpio::normalize_path("//etc"), "etc");
  EXPECT_EQ(cpio::normalize_path("./etc/"), "etc/");
  EXPECT_EQ(cpio::normalize_path(".."), "..");
  EXPECT_EQ(cpio::normalize_path("../x"), "../x");
}

TEST(CpioReader, IgnoresBytesAfterTheTrailer) {
  ArchiveBuilder b;
  b.file("a", "1").trailer();
  size_t used = b.size();
  b.raw(std::string(512 - used % 512, '\0'));  // GNU cpio's block padding
  b.raw("garbage that is not a header at all");
  Buffer buf(b);
  auto n = Reader::validate(buf.span());
  ASSERT_TRUE(n.ok()) << ktl::error_name(n.error());
  EXPECT_EQ(*n, 1u);
  Reader r(buf.span());
  Entry e;
  ASSERT_TRUE(r.next(&e).value_or(false));
  auto more = r.next(&e);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  EXPECT_EQ(r.offset(), used);
}

TEST(CpioReader, NameAtTheLengthLimit) {
  std::string longest(cpio::kMaxPathLength, 'n');
  ArchiveBuilder b;
  b.file(longest, "x").file("./" + longest, "y").file("/" + longest, "z").trailer();
  Buffer buf(b);
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 3u);
  for (const Entry& e : entries) EXPECT_EQ(e.name, longest);  // the limit applies after normalization
}

TEST(CpioReader, NullOutIsInvalidArgumentAndHarmless) {
  ArchiveBuilder b;
  b.file("a", "1").trailer();
  Buffer buf(b);
  Reader r(buf.span());
  EXPECT_EQ(r.next(nullptr).error(), Error::InvalidArgument);
  Entry e;
  EXPECT_TRUE(r.next(&e).value_or(false));  // the archive itself is fine
  EXPECT_EQ(e.name, "a");
}

TEST(CpioReader, OffsetPointsAtTheFailingEntry) {
  ArchiveBuilder b;
  b.file("a", "1").file("b", "2");
  size_t bad = b.size();
  b.file("c", "3").patch(bad, "070707").trailer();
  Buffer buf(b);
  Reader r(buf.span());
  Entry e;
  ASSERT_TRUE(r.next(&e).value_or(false));
  ASSERT_TRUE(r.next(&e).value_or(false));
  EXPECT_EQ(r.offset(), bad);
  EXPECT_EQ(r.next(&e).error(), Error::BadMagic);
  EXPECT_EQ(r.offset(), bad);
  EXPECT_EQ(e.name, "b");  // untouched by the failed call
  EXPECT_EQ(r.next(&e).error(), Error::BadMagic);
}

// ---------------------------------------------------------------------------
// Malformed archives

TEST(CpioErrors, BadMagic) {
  for (const char* magic : {"070707", "070700", "070703", "170701", "07070l", "      ", "\0\0\0\0\0\0"}) {
    Header h;
    h.magic = std::string(magic, 6);
    ArchiveBuilder b;
    b.add("a", "1", h).trailer();
    EXPECT_ARCHIVE_ERROR(b, Error::BadMagic) << magic;
  }
  // A bad magic in a later entry, and in the trailer.
  ArchiveBuilder later;
  later.file("a", "1");
  size_t at = later.size();
  later.file("b", "2").patch(at, "X").trailer();
  EXPECT_ARCHIVE_ERROR(later, Error::BadMagic);
  ArchiveBuilder trailer;
  trailer.file("a", "1");
  at = trailer.size();
  trailer.trailer().patch(at + 5, "7");
  EXPECT_ARCHIVE_ERROR(trailer, Error::BadMagic);
}

TEST(CpioErrors, ShortInputWithWrongMagicIsBadMagicNotTruncated) {
  ArchiveBuilder b;
  b.raw("\177ELF\x02\x01\x01 this is not an archive");
  EXPECT_ARCHIVE_ERROR(b, Error::BadMagic);
  ArchiveBuilder tiny;
  tiny.raw("0707");  // too short to tell
  EXPECT_ARCHIVE_ERROR(tiny, Error::Truncated);
}

TEST(CpioErrors, FieldThatIsNotEightHexDigits) {
  const char bad_chars[] = {'g', 'G', 'x', ' ', '-', '+', '\0', '\xff', '/', ':', '@', '`'};
  for (size_t field = 0; field < cpio::kFieldCount; ++field) {
    for (size_t pos = 0; pos < 8; ++pos) {
      for (char c : bad_chars) {
        ArchiveBuilder b;
        b.file("a", "1").trailer().patch(field_offset(field) + pos, std::string_view(&c, 1));
        EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument)
            << "field " << field << " pos " << pos << " char " << int(c);
      }
    }
  }
  // In the trailer too.
  ArchiveBuilder b;
  b.file("a", "1");
  size_t at = b.size();
  b.trailer().patch(at + field_offset(12), "0x000000");
  EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument);
}

TEST(CpioErrors, MissingTrailer) {
  ArchiveBuilder none;
  EXPECT_ARCHIVE_ERROR(none, Error::Truncated);  // an empty span
  ArchiveBuilder b;
  b.file("a", "1").dir("d");
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);
  Buffer buf(b);
  auto entries = [&] {
    Reader r(buf.span());
    Entry e;
    size_t n = 0;
    while (r.next(&e).value_or(false)) ++n;
    return n;
  }();
  EXPECT_EQ(entries, 2u);  // the entries before the end are still readable
}

TEST(CpioErrors, HeaderRunsPastTheEnd) {
  ArchiveBuilder full;
  full.file("a", "1").trailer();
  size_t trailer_at = full.size() - 124;
  for (size_t cut : {size_t(6), size_t(7), size_t(60), size_t(109)}) {
    std::vector<uint8_t> v(full.bytes().begin(), full.bytes().begin() + trailer_at + cut);
    Buffer buf(v);
    EXPECT_EQ(archive_error(buf.span()), Error::Truncated) << cut;
  }
}

TEST(CpioErrors, NameRunsPastTheEnd) {
  ArchiveBuilder b;
  Header h;
  h.namesize = 10;
  b.header(h).raw("abc");  // 3 of the 10 name bytes
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);

  ArchiveBuilder huge;
  h.namesize = 0xFFFFFFFF;
  huge.header(h).raw(std::string(64, 'n')).trailer();
  EXPECT_ARCHIVE_ERROR(huge, Error::Truncated);
}

TEST(CpioErrors, NamePaddingRunsPastTheEnd) {
  // "ab\0" ends at 113; the padding to 116 is missing.
  ArchiveBuilder b;
  Header h;
  h.namesize = 3;
  b.header(h).raw(std::string_view("ab\0", 3));
  ASSERT_EQ(b.size(), 113u);
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);
  b.raw(std::string_view("\0", 1));  // 2 of the 3 padding bytes
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);
  // Also for the trailer: GNU cpio always pads it.
  ArchiveBuilder t;
  t.file("a", "1");
  size_t at = t.size();
  t.trailer();
  std::vector<uint8_t> v(t.bytes().begin(), t.bytes().begin() + at + 110 + 11);
  Buffer buf(v);
  EXPECT_EQ(archive_error(buf.span()), Error::Truncated);
}

TEST(CpioErrors, DataRunsPastTheEnd) {
  ArchiveBuilder b;
  Header h;
  h.namesize = 2;
  h.filesize = 100;
  b.header(h).raw(std::string_view("a\0", 2)).raw(std::string(99, 'd'));
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);

  ArchiveBuilder huge;  // would run far past the end: no wrap, no read
  h.filesize = 0xFFFFFFFF;
  huge.header(h).raw(std::string_view("a\0", 2)).raw(std::string(64, 'd')).trailer();
  EXPECT_ARCHIVE_ERROR(huge, Error::Truncated);
}

TEST(CpioErrors, DataPaddingRunsPastTheEnd) {
  ArchiveBuilder b;
  Header h;
  h.namesize = 2;
  h.filesize = 5;
  b.header(h).raw(std::string_view("a\0", 2)).raw("12345");  // ends at 117, padding to 120 missing
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);
  b.raw(std::string_view("\0\0", 2));
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);
  b.raw(std::string_view("\0", 1));  // now complete, but no trailer: still Truncated
  EXPECT_ARCHIVE_ERROR(b, Error::Truncated);
  b.trailer();
  EXPECT_ARCHIVE_ERROR(b, Error::None);
}

// Every proper prefix of a valid archive is Truncated, whatever the cut.
TEST(CpioErrors, EveryPrefixIsTruncated) {
  ArchiveBuilder b;
  b.dir(".").file("abc", "hello").symlink("l", "abc").file("e", "").trailer();
  const auto& full = b.bytes();
  for (size_t n = 0; n < full.size(); ++n) {
    Buffer buf(full.data(), n);
    EXPECT_EQ(archive_error(buf.span()), Error::Truncated) << n;
  }
  Buffer buf(full);
  EXPECT_EQ(archive_error(buf.span()), Error::None);
}

TEST(CpioErrors, NameSizeZeroOrEmptyName) {
  for (uint32_t namesize : {0u, 1u}) {
    ArchiveBuilder b;
    Header h;
    h.namesize = namesize;
    b.add("", "x", h).trailer();
    EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument) << namesize;
  }
}

TEST(CpioErrors, NameWithoutFinalNul) {
  ArchiveBuilder b;
  Header h;
  h.namesize = 3;  // covers "abc" only: the NUL is cut off
  b.add("abc", "x", h).trailer();
  EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument);
}

TEST(CpioErrors, NameWithInteriorNul) {
  for (std::string_view name :
       {std::string_view("a\0b", 3), std::string_view("\0ab", 3), std::string_view("ab\0", 3)}) {
    ArchiveBuilder b;
    b.file(name, "x").trailer();
    EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument);
  }
  // The trailer name followed by a NUL and more is not a trailer, nor valid.
  ArchiveBuilder t;
  t.file(std::string("TRAILER!!!\0x", 12), "").trailer();
  EXPECT_ARCHIVE_ERROR(t, Error::InvalidArgument);
}

TEST(CpioErrors, NameLongerThanTheLimit) {
  std::string too_long(cpio::kMaxPathLength + 1, 'n');
  ArchiveBuilder b;
  b.file(too_long, "x").trailer();
  EXPECT_ARCHIVE_ERROR(b, Error::Unsupported);
  ArchiveBuilder dir;
  dir.dir("/" + too_long).trailer();
  EXPECT_ARCHIVE_ERROR(dir, Error::Unsupported);
}

TEST(CpioErrors, EmptyOrNulContainingSymlinkTarget) {
  ArchiveBuilder b;
  b.symlink("l", "").trailer();
  EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument);
  ArchiveBuilder nul;
  nul.symlink("l", std::string_view("a\0b", 3)).trailer();
  EXPECT_ARCHIVE_ERROR(nul, Error::InvalidArgument);
}

TEST(CpioErrors, UnknownFileTypeOrModeBits) {
  for (uint32_t mode : {0u, 0644u, 0030644u, 0050644u, 0070644u, 0110644u, 0130644u, 0150644u, 0160644u,
                        0170644u, 0200644u, 0x80000000u | 0100644u}) {
    Header h;
    h.mode = mode;
    ArchiveBuilder b;
    b.add("a", {}, h).trailer();
    EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument) << std::oct << mode;
  }
}

TEST(CpioErrors, DirectoryWithData) {
  Header h;
  h.mode = cpio::kTypeDirectory | 0755;
  ArchiveBuilder b;
  b.add("d", "data", h).trailer();
  EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument);
}

TEST(CpioErrors, TrailerWithData) {
  Header h;
  h.mode = 0;
  ArchiveBuilder b;
  b.add(cpio::kTrailerName, "data", h);
  EXPECT_ARCHIVE_ERROR(b, Error::InvalidArgument);
}

// On a 64-bit machine a span cannot reach sizes that overflow, so the
// arithmetic is tested directly.
TEST(CpioErrors, LayoutOverflow) {
  constexpr uint64_t kMax = UINT64_MAX;
  auto l = cpio::detail::layout(4, 3, 5);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->name, 114u);
  EXPECT_EQ(l->name_end, 117u);
  EXPECT_EQ(l->data, 120u);
  EXPECT_EQ(l->data_end, 125u);
  EXPECT_EQ(l->next, 128u);

  l = cpio::detail::layout(kMax - 3, 0xFFFFFFFF, 0xFFFFFFFF);  // offset + header
  EXPECT_EQ(l.error(), Error::Overflow);
  l = cpio::detail::layout(kMax - 110 - 5, 0xFFFFFFFF, 0);  // + namesize
  EXPECT_EQ(l.error(), Error::Overflow);
  l = cpio::detail::layout(kMax - 110 - 5, 5, 0);  // name_end == 2^64 - 1: rounding up overflows
  EXPECT_EQ(l.error(), Error::Overflow);
  l = cpio::detail::layout(kMax - 120, 4, 0);  // name_end == 2^64 - 7 rounds up to 2^64 - 4: fine
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->name_end, kMax - 6);
  EXPECT_EQ(l->data, kMax - 3);
  EXPECT_EQ(l->next, kMax - 3);
  l = cpio::detail::layout(kMax - 120, 4, 4);  // + filesize
  EXPECT_EQ(l.error(), Error::Overflow);
  l = cpio::detail::layout(kMax - 120, 4, 2);  // data_end == 2^64 - 2: rounding up overflows
  EXPECT_EQ(l.error(), Error::Overflow);
  // The largest file whose padded end still fits.
  constexpr uint64_t kData = kMax - 0x100000003ull;  // 4-aligned
  l = cpio::detail::layout(kData - 112, 2, 0xFFFFFFFF);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->data, kData);
  EXPECT_EQ(l->data_end, kMax - 4);
  EXPECT_EQ(l->next, kMax - 3);
}

// Random corruption of a valid archive never reads out of bounds (ASan),
// never loops, and whatever is accepted satisfies the Entry invariants.
TEST(CpioErrors, RandomCorruptionIsCaughtOrHarmless) {
  ArchiveBuilder b;
  b.dir(".").dir("bin").file("bin/init", "0123456789abcdef", 0755).symlink("sbin", "bin");
  b.file("etc/motd", "hi\n").file("e", "").trailer();
  const std::vector<uint8_t> good = b.bytes();
  std::mt19937 rng(12345);
  size_t accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> v = good;
    int flips = 1 + int(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      size_t at = rng() % v.size();
      switch (rng() % 3) {
        case 0:
          v[at] = uint8_t(rng());
          break;
        case 1:  // a plausible hex digit
          v[at] = "0123456789ABCDEF"[rng() % 16];
          break;
        case 2:
          v[at] ^= uint8_t(1u << (rng() % 8));
          break;
      }
    }
    if (rng() % 4 == 0) v.resize(rng() % (v.size() + 1));
    Buffer buf(v);
    if (archive_error(buf.span()) != Error::None) continue;
    ++accepted;
    Reader r(buf.span());
    Entry e;
    while (r.next(&e).value_or(false)) {
      EXPECT_LE(e.name.size(), cpio::kMaxPathLength);
      EXPECT_EQ(e.name.find('\0'), std::string_view::npos);
      EXPECT_EQ(int(e.is_regular()) + int(e.is_directory()) + int(e.is_symlink()) +
                    int(e.type() == cpio::kTypeSocket || e.type() == cpio::kTypeFifo ||
                        e.type() == cpio::kTypeCharDevice || e.type() == cpio::kTypeBlockDevice),
                1);
      EXPECT_GE(e.data.data(), buf.data());
      EXPECT_LE(e.data.data() + e.data.size(), buf.data() + buf.size());
      if (e.is_directory()) EXPECT_TRUE(e.data.empty());
      if (e.is_symlink()) EXPECT_FALSE(e.data.empty());
    }
  }
  EXPECT_GT(accepted, 0u);  // some flips hit only data, names or ignored fields
}

// ---------------------------------------------------------------------------
// find()

TEST(CpioFind, WithAndWithoutLeadingSlashOrDot) {
  ArchiveBuilder b;
  b.dir(".").dir("etc").file("etc/motd", "hello\n").file("./bin/init", "ELF").trailer();
  Buffer buf(b);
  for (const char* path : {"etc/motd", "/etc/motd", "./etc/motd", "//etc/motd", "././/etc/motd"}) {
    auto e = cpio::find(buf.span(), path);
    ASSERT_TRUE(e.ok()) << path << ": " << ktl::error_name(e.error());
    EXPECT_EQ(e->name, "etc/motd");
    EXPECT_EQ(text(e->data), "hello\n");
  }
  // Names stored with "./" are found by either spelling.
  for (const char* path : {"bin/init", "/bin/init", "./bin/init"}) {
    auto e = cpio::find(buf.span(), path);
    ASSERT_TRUE(e.ok()) << path;
    EXPECT_EQ(text(e->data), "ELF");
  }
  for (const char* path : {"/", ".", "", "./"}) {
    auto e = cpio::find(buf.span(), path);
    ASSERT_TRUE(e.ok()) << path;
    EXPECT_TRUE(e->is_directory());
    EXPECT_EQ(e->name, "");
  }
  auto dir = cpio::find(buf.span(), "/etc");
  ASSERT_TRUE(dir.ok());
  EXPECT_TRUE(dir->is_directory());
}

TEST(CpioFind, NotFound) {
  ArchiveBuilder b;
  b.file("etc/motd", "x").trailer();
  Buffer buf(b);
  for (const char* path :
       {"etc/mot", "etc/motdx", "etc", "/", "ETC/MOTD", "etc//motd", "etc/motd/", "TRAILER!!!"}) {
    EXPECT_EQ(cpio::find(buf.span(), path).error(), Error::NotFound) << path;
  }
  ArchiveBuilder empty;
  empty.trailer();
  Buffer e(empty);
  EXPECT_EQ(cpio::find(e.span(), "/").error(), Error::NotFound);
}

TEST(CpioFind, LastDuplicateWins) {
  ArchiveBuilder b;
  b.file("a", "old").file("b", "b").file("./a", "new").trailer();
  Buffer buf(b);
  auto e = cpio::find(buf.span(), "a");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(text(e->data), "new");
}

TEST(CpioFind, ReportsAnErrorAnywhereInTheArchive) {
  ArchiveBuilder b;
  b.file("a", "1");
  size_t at = b.size();
  b.file("b", "2").patch(at + field_offset(1), "zzzzzzzz").trailer();
  Buffer buf(b);
  EXPECT_EQ(cpio::find(buf.span(), "a").error(), Error::InvalidArgument);
  ArchiveBuilder no_trailer;
  no_trailer.file("a", "1");
  Buffer nt(no_trailer);
  EXPECT_EQ(cpio::find(nt.span(), "a").error(), Error::Truncated);
}

// Hard links: the data is stored once, with any one of the links.
TEST(CpioFind, ResolvesHardLinkData) {
  auto link = [](uint32_t ino, uint32_t dev_minor) {
    Header h;
    h.ino = ino;
    h.dev_minor = dev_minor;
    h.nlink = 3;
    return h;
  };
  ArchiveBuilder b;
  b.add("x1", "", link(7, 1));
  b.add("other-dev", "wrong device", link(7, 2));  // same ino, other device: another file
  b.add("x2", "", link(7, 1));
  b.add("x3", "shared", link(7, 1));           // GNU cpio: data on the last link
  b.add("y-data-first", "first", link(9, 1));  // any position is allowed
  b.add("y2", "", link(9, 1));
  b.add("lonely", "", link(11, 1));  // no link carries data: an empty file
  Header single;
  single.ino = 7;
  single.dev_minor = 1;
  b.add("nlink1-empty", "", single);  // same inode numbers but nlink 1: not a link
  b.trailer();
  Buffer buf(b);

  for (const char* p : {"x1", "x2", "x3"}) {
    auto e = cpio::find(buf.span(), p);
    ASSERT_TRUE(e.ok()) << p;
    EXPECT_EQ(text(e->data), "shared") << p;
    EXPECT_EQ(e->name, p);
  }
  auto y2 = cpio::find(buf.span(), "y2");
  ASSERT_TRUE(y2.ok());
  EXPECT_EQ(text(y2->data), "first");
  auto lonely = cpio::find(buf.span(), "lonely");
  ASSERT_TRUE(lonely.ok());
  EXPECT_TRUE(lonely->data.empty());
  auto single_e = cpio::find(buf.span(), "nlink1-empty");
  ASSERT_TRUE(single_e.ok());
  EXPECT_TRUE(single_e->data.empty());

  // The Reader reports entries as stored.
  auto entries = read_all(buf.span());
  ASSERT_EQ(entries.size(), 8u);
  EXPECT_TRUE(entries[0].data.empty());
}

// ---------------------------------------------------------------------------
// An archive written by Debian's cpio at build time (tests/host/CMakeLists.txt
// builds the tree below and runs `find . | LC_ALL=C sort | cpio -o -H newc
// --reproducible -R 0:0` in it). Keep the two in step.

#ifdef KEEL_CPIO_TEST_ARCHIVE
std::vector<uint8_t> load_real_archive() {
  std::ifstream in(KEEL_CPIO_TEST_ARCHIVE, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << KEEL_CPIO_TEST_ARCHIVE;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
#define SKIP_WITHOUT_CPIO() (void)0
#else
std::vector<uint8_t> load_real_archive() { return {}; }
#define SKIP_WITHOUT_CPIO() GTEST_SKIP() << "cpio was not found at configure time (Debian package cpio)"
#endif

constexpr uint32_t kTreeMtime = 1700000000;

struct Expected {
  const char* name;
  uint32_t mode;
  std::string_view data;  // contents or symlink target; for hard links see below
};

const Expected kTree[] = {
    {"", 0040755, ""},
    {"bin", 0040755, ""},
    {"bin/init", 0100755, "#!keel-init\n"},
    {"empty-dir", 0040755, ""},
    {"etc", 0040755, ""},
    {"etc/empty", 0100644, ""},
    {"etc/issue", 0120777, "motd"},
    {"etc/motd", 0100644, "Welcome to Keel.\n"},
    {"lib", 0040755, ""},
    {"lib/a.txt", 0100644, "abc"},  // hard-linked with lib/b.txt
    {"lib/b.txt", 0100644, "abc"},
    {"sbin", 0120777, "/bin"},
};

TEST(CpioRealArchive, ReadsBackTheTreeItWasGiven) {
  SKIP_WITHOUT_CPIO();
  std::vector<uint8_t> bytes = load_real_archive();
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.size() % 512, 0u);  // GNU cpio pads to its block size
  Buffer buf(bytes);
  EXPECT_EQ(buf.data()[5], '1');  // "070701"

  Reader r(buf.span());
  std::vector<Entry> entries;
  Entry e;
  for (;;) {
    auto more = r.next(&e);
    ASSERT_TRUE(more.ok()) << ktl::error_name(more.error()) << " at " << r.offset();
    if (!*more) break;
    entries.push_back(e);
  }
  EXPECT_LE(r.offset(), buf.size());
  for (size_t i = r.offset(); i < buf.size(); ++i) ASSERT_EQ(buf.data()[i], 0) << i;  // block padding

  ASSERT_EQ(entries.size(), std::size(kTree));
  std::string_view link_data;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& got = entries[i];
    const Expected& want = kTree[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.mode, want.mode) << std::oct << got.mode;
    EXPECT_EQ(got.uid, 0u);
    EXPECT_EQ(got.gid, 0u);
    EXPECT_EQ(got.mtime, kTreeMtime);
    EXPECT_EQ(got.check, 0u);
    if (got.is_directory()) {
      EXPECT_GE(got.nlink, 2u);
      EXPECT_TRUE(got.data.empty());
    } else if (got.name.starts_with("lib/")) {
      EXPECT_EQ(got.nlink, 2u);
      if (!got.data.empty()) link_data = text(got.data);
    } else {
      EXPECT_EQ(got.nlink, 1u);
      EXPECT_EQ(text(got.data), want.data);
    }
    if (got.is_symlink()) {
      EXPECT_EQ(got.symlink_target(), want.data);
    }
  }
  // The two links share an inode; exactly one of them carries the data.
  const Entry& a = entries[9];
  const Entry& b = entries[10];
  EXPECT_EQ(a.ino, b.ino);
  EXPECT_EQ(a.dev_major, b.dev_major);
  EXPECT_EQ(a.dev_minor, b.dev_minor);
  EXPECT_EQ(a.data.empty() + b.data.empty(), 1);
  EXPECT_EQ(link_data, "abc");

  auto n = Reader::validate(buf.span());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, std::size(kTree));
}

TEST(CpioRealArchive, FindsEveryPath) {
  SKIP_WITHOUT_CPIO();
  std::vector<uint8_t> bytes = load_real_archive();
  Buffer buf(bytes);
  for (const Expected& want : kTree) {
    std::string name = want.name;
    for (const std::string& path : {name, "/" + name, "./" + name}) {
      auto e = cpio::find(buf.span(), path);
      ASSERT_TRUE(e.ok()) << path << ": " << ktl::error_name(e.error());
      EXPECT_EQ(e->name, want.name);
      EXPECT_EQ(e->mode, want.mode);
      EXPECT_EQ(text(e->data), want.data) << path;  // hard links resolved
    }
  }
  EXPECT_EQ(cpio::find(buf.span(), "/etc/nonexistent").error(), Error::NotFound);
  EXPECT_EQ(cpio::find(buf.span(), "/TRAILER!!!").error(), Error::NotFound);
}

}  // namespace
