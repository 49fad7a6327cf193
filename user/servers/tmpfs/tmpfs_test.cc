// tmpfs_test.cc — host tests for the tmpfs core (tmpfs.h): files, directories,
// offsets and holes, every error of keel/proto/fs.h it can return, the byte
// quota, open files per client, and unlinked files that are still open.
// Leaks are caught by ASan's leak checker when each Tmpfs is destroyed.
#include <gtest/gtest.h>

#include "tmpfs.h"

#include <string>
#include <string_view>
#include <vector>

namespace fsp = keel::proto::fs;
using keel::tmpfs::kNodeCost;
using keel::tmpfs::kPageBytes;
using keel::tmpfs::Tmpfs;
using ktl::Error;

namespace {

constexpr uint64_t kClient = 7;
constexpr uint64_t kRW = fsp::kFlagRead | fsp::kFlagWrite;
constexpr uint64_t kCreate = kRW | fsp::kFlagCreate;

std::span<const uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

uint32_t open_ok(Tmpfs& fs, std::string_view path, uint64_t flags = kCreate, uint64_t mode = 0644,
                 uint64_t client = kClient) {
  auto r = fs.open(client, path, flags, mode);
  EXPECT_TRUE(r.ok()) << path << ": " << ktl::error_name(r.error());
  return r.ok() ? *r : 0;
}

std::string read_all(Tmpfs& fs, uint32_t fid, uint64_t client = kClient) {
  std::string out;
  uint8_t buf[100];
  for (;;) {
    auto r = fs.read(client, fid, buf);
    EXPECT_TRUE(r.ok());
    if (!r.ok() || *r == 0) return out;
    out.append(reinterpret_cast<char*>(buf), *r);
  }
}

std::string contents(Tmpfs& fs, std::string_view path) {
  uint32_t fid = open_ok(fs, path, fsp::kFlagRead);
  std::string s = read_all(fs, fid);
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  return s;
}

void put(Tmpfs& fs, std::string_view path, std::string_view text) {
  uint32_t fid = open_ok(fs, path, kCreate | fsp::kFlagTruncate);
  auto w = fs.write(kClient, fid, bytes(text));
  ASSERT_TRUE(w.ok()) << ktl::error_name(w.error());
  EXPECT_EQ(*w, text.size());
  EXPECT_TRUE(fs.close(kClient, fid).ok());
}

std::vector<std::string> list(Tmpfs& fs, std::string_view dir) {
  std::vector<std::string> names;
  uint32_t fid = open_ok(fs, dir, fsp::kFlagRead | fsp::kFlagDirectory);
  uint64_t cookie = 0;
  for (;;) {
    keel::fs::DirEntry e;
    uint64_t next = 0;
    auto r = fs.readdir(kClient, fid, cookie, &e, &next);
    if (!r.ok()) {
      EXPECT_EQ(r.error(), Error::OutOfRange);
      break;
    }
    names.emplace_back(e.view());
    cookie = next;
  }
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  return names;
}

TEST(Tmpfs, WriteThenRead) {
  Tmpfs fs(1 << 20);
  put(fs, "/hello", "hello, world");
  EXPECT_EQ(contents(fs, "/hello"), "hello, world");
  auto st = fs.stat("/hello");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type, fsp::kTypeFile);
  EXPECT_EQ(st->size, 12u);
  EXPECT_EQ(st->mode, 0644u);
  auto root = fs.stat("/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->type, fsp::kTypeDirectory);
  EXPECT_EQ(root->size, 1u);  // one entry
}

TEST(Tmpfs, DataAcrossPages) {
  Tmpfs fs(1 << 20);
  std::string big;
  for (size_t i = 0; i < 3 * kPageBytes + 17; ++i) big.push_back(char('a' + i % 23));
  uint32_t fid = open_ok(fs, "/big");
  for (size_t at = 0; at < big.size(); at += 448) {
    auto w = fs.write(kClient, fid, bytes(std::string_view(big).substr(at, 448)));
    ASSERT_TRUE(w.ok());
  }
  ASSERT_TRUE(fs.seek(kClient, fid, fsp::kSeekSet, 0).ok());
  EXPECT_EQ(read_all(fs, fid), big);
  EXPECT_EQ(fs.used(), 2 * kNodeCost + 4 * kPageBytes);
  EXPECT_TRUE(fs.close(kClient, fid).ok());
}

TEST(Tmpfs, SeekAndHoles) {
  Tmpfs fs(1 << 20);
  uint32_t fid = open_ok(fs, "/sparse");
  EXPECT_EQ(*fs.seek(kClient, fid, fsp::kSeekSet, 2 * kPageBytes + 5), 2 * kPageBytes + 5);
  ASSERT_TRUE(fs.write(kClient, fid, bytes("xyz")).ok());
  EXPECT_EQ(fs.fstat(kClient, fid)->size, 2 * kPageBytes + 8);
  EXPECT_EQ(fs.used(), 2 * kNodeCost + kPageBytes);  // only the page written
  EXPECT_EQ(*fs.seek(kClient, fid, fsp::kSeekEnd, -3), 2 * kPageBytes + 5);
  EXPECT_EQ(*fs.seek(kClient, fid, fsp::kSeekCurrent, -int64_t(2 * kPageBytes)), 5u);
  uint8_t buf[10];
  ASSERT_EQ(*fs.read(kClient, fid, buf), 10u);
  for (uint8_t b : buf) EXPECT_EQ(b, 0);
  EXPECT_EQ(fs.seek(kClient, fid, fsp::kSeekSet, -1).error(), Error::InvalidArgument);
  EXPECT_EQ(fs.seek(kClient, fid, fsp::kSeekCurrent, -100).error(), Error::InvalidArgument);
  EXPECT_EQ(fs.seek(kClient, fid, 3, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(fs.seek(kClient, fid, fsp::kSeekCurrent, INT64_MAX).error(), Error::Overflow);
  EXPECT_TRUE(fs.close(kClient, fid).ok());
}

TEST(Tmpfs, AppendAndTruncateFlags) {
  Tmpfs fs(1 << 20);
  put(fs, "/log", "one\n");
  uint32_t fid = open_ok(fs, "/log", fsp::kFlagWrite | fsp::kFlagAppend);
  ASSERT_TRUE(fs.seek(kClient, fid, fsp::kSeekSet, 0).ok());
  ASSERT_TRUE(fs.write(kClient, fid, bytes("two\n")).ok());
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  EXPECT_EQ(contents(fs, "/log"), "one\ntwo\n");
  fid = open_ok(fs, "/log", fsp::kFlagWrite | fsp::kFlagTruncate);
  EXPECT_EQ(fs.fstat(kClient, fid)->size, 0u);
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  EXPECT_EQ(fs.used(), 2 * kNodeCost);
}

TEST(Tmpfs, TruncateShrinksAndZeroes) {
  Tmpfs fs(1 << 20);
  put(fs, "/t", std::string(kPageBytes + 100, 'x'));
  ASSERT_TRUE(fs.truncate("/t", 10).ok());
  EXPECT_EQ(fs.used(), 2 * kNodeCost + kPageBytes);
  ASSERT_TRUE(fs.truncate("/t", 20).ok());  // grows with zeros, not the old bytes
  EXPECT_EQ(contents(fs, "/t"), std::string(10, 'x') + std::string(10, '\0'));
  EXPECT_EQ(fs.truncate("/", 0).error(), Error::IsADirectory);
  EXPECT_EQ(fs.truncate("/none", 0).error(), Error::NotFound);
  EXPECT_EQ(fs.truncate("/t", (1 << 20) + 1).error(), Error::NoSpace);
}

TEST(Tmpfs, Directories) {
  Tmpfs fs(1 << 20);
  ASSERT_TRUE(fs.mkdir("/d", 0755).ok());
  ASSERT_TRUE(fs.mkdir("/d/e", 0755).ok());
  put(fs, "/d/e/f", "deep");
  EXPECT_EQ(contents(fs, "/d/e/f"), "deep");
  put(fs, "/d/b", "");
  put(fs, "/d/a", "");
  put(fs, "/d/c", "");
  EXPECT_EQ(list(fs, "/d"), (std::vector<std::string>{"a", "b", "c", "e"}));
  EXPECT_EQ(list(fs, "/"), (std::vector<std::string>{"d"}));
  EXPECT_EQ(fs.stat("/d")->size, 4u);
  EXPECT_EQ(fs.stat("/d/e")->type, fsp::kTypeDirectory);
}

TEST(Tmpfs, ErrorsOfOpen) {
  Tmpfs fs(1 << 20);
  put(fs, "/file", "x");
  ASSERT_TRUE(fs.mkdir("/dir", 0755).ok());
  EXPECT_EQ(fs.open(kClient, "/none", fsp::kFlagRead, 0).error(), Error::NotFound);
  EXPECT_EQ(fs.open(kClient, "/none/x", kCreate, 0644).error(), Error::NotFound);
  EXPECT_EQ(fs.open(kClient, "/file/x", kCreate, 0644).error(), Error::NotADirectory);
  EXPECT_EQ(fs.open(kClient, "/file/x", fsp::kFlagRead, 0).error(), Error::NotADirectory);
  EXPECT_EQ(fs.open(kClient, "/file", kCreate | fsp::kFlagExclusive, 0644).error(), Error::AlreadyExists);
  EXPECT_EQ(fs.open(kClient, "/dir", fsp::kFlagWrite, 0).error(), Error::IsADirectory);
  EXPECT_EQ(fs.open(kClient, "/", kCreate, 0644).error(), Error::IsADirectory);
  EXPECT_EQ(fs.open(kClient, "/file", fsp::kFlagRead | fsp::kFlagDirectory, 0).error(), Error::NotADirectory);
  EXPECT_EQ(fs.open(kClient, "/file", 0, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(fs.open(kClient, "/file", fsp::kFlagRead | 0x1000, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(fs.open(kClient, "/nd", kCreate | fsp::kFlagDirectory, 0644).error(), Error::NotFound);
}

TEST(Tmpfs, ErrorsOfReadWrite) {
  Tmpfs fs(1 << 20);
  put(fs, "/file", "x");
  uint32_t ro = open_ok(fs, "/file", fsp::kFlagRead);
  uint32_t wo = open_ok(fs, "/file", fsp::kFlagWrite);
  uint32_t dir = open_ok(fs, "/", fsp::kFlagRead);
  uint8_t buf[4];
  EXPECT_EQ(fs.write(kClient, ro, bytes("y")).error(), Error::AccessDenied);
  EXPECT_EQ(fs.read(kClient, wo, buf).error(), Error::AccessDenied);
  EXPECT_EQ(fs.read(kClient, dir, buf).error(), Error::IsADirectory);
  EXPECT_EQ(fs.write(kClient, dir, bytes("y")).error(), Error::IsADirectory);
  keel::fs::DirEntry e;
  uint64_t next;
  EXPECT_EQ(fs.readdir(kClient, ro, 0, &e, &next).error(), Error::NotADirectory);
  EXPECT_EQ(fs.read(kClient, 12345, buf).error(), Error::BadHandle);
  EXPECT_EQ(fs.close(kClient, 12345).error(), Error::BadHandle);
  EXPECT_EQ(fs.close(kClient, 0).error(), Error::BadHandle);
  // Another client cannot use our fids.
  EXPECT_EQ(fs.read(kClient + 1, ro, buf).error(), Error::BadHandle);
  EXPECT_EQ(fs.close(kClient + 1, ro).error(), Error::BadHandle);
  EXPECT_EQ(fs.fstat(kClient + 1, ro).error(), Error::BadHandle);
  EXPECT_TRUE(fs.close(kClient, ro).ok());
  EXPECT_EQ(fs.close(kClient, ro).error(), Error::BadHandle);  // closed twice
  EXPECT_TRUE(fs.close(kClient, wo).ok());
  EXPECT_TRUE(fs.close(kClient, dir).ok());
}

TEST(Tmpfs, ErrorsOfDirectoryOperations) {
  Tmpfs fs(1 << 20);
  put(fs, "/file", "x");
  ASSERT_TRUE(fs.mkdir("/dir", 0755).ok());
  put(fs, "/dir/inside", "x");
  EXPECT_EQ(fs.mkdir("/dir", 0755).error(), Error::AlreadyExists);
  EXPECT_EQ(fs.mkdir("/file", 0755).error(), Error::AlreadyExists);
  EXPECT_EQ(fs.mkdir("/", 0755).error(), Error::AlreadyExists);
  EXPECT_EQ(fs.mkdir("/none/sub", 0755).error(), Error::NotFound);
  EXPECT_EQ(fs.mkdir("/file/sub", 0755).error(), Error::NotADirectory);
  EXPECT_EQ(fs.rmdir("/dir").error(), Error::NotEmpty);
  EXPECT_EQ(fs.rmdir("/file").error(), Error::NotADirectory);
  EXPECT_EQ(fs.rmdir("/none").error(), Error::NotFound);
  EXPECT_EQ(fs.rmdir("/").error(), Error::Busy);
  EXPECT_EQ(fs.unlink("/dir").error(), Error::IsADirectory);
  EXPECT_EQ(fs.unlink("/").error(), Error::IsADirectory);
  EXPECT_EQ(fs.unlink("/none").error(), Error::NotFound);
  EXPECT_EQ(fs.unlink("/file/x").error(), Error::NotADirectory);
  EXPECT_EQ(fs.stat("/file/x").error(), Error::NotADirectory);
  EXPECT_EQ(fs.stat("/none").error(), Error::NotFound);
  ASSERT_TRUE(fs.unlink("/dir/inside").ok());
  ASSERT_TRUE(fs.rmdir("/dir").ok());
  ASSERT_TRUE(fs.unlink("/file").ok());
  EXPECT_EQ(fs.used(), kNodeCost);
  EXPECT_EQ(fs.nodes(), 1u);
}

TEST(Tmpfs, Permissions) {
  Tmpfs fs(1 << 20);
  // Its creator may write a read-only file it just made; nobody may reopen it for writing.
  uint32_t fid = open_ok(fs, "/ro", kCreate, 0444);
  ASSERT_TRUE(fs.write(kClient, fid, bytes("data")).ok());
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  EXPECT_EQ(fs.open(kClient, "/ro", fsp::kFlagWrite, 0).error(), Error::AccessDenied);
  EXPECT_EQ(fs.truncate("/ro", 0).error(), Error::AccessDenied);
  EXPECT_EQ(contents(fs, "/ro"), "data");
  open_ok(fs, "/wo", kCreate, 0200);
  EXPECT_EQ(fs.open(kClient, "/wo", fsp::kFlagRead, 0).error(), Error::AccessDenied);
  // A read-only directory: nothing is created, removed or renamed in it.
  ASSERT_TRUE(fs.mkdir("/locked", 0755).ok());
  put(fs, "/locked/keep", "k");
  ASSERT_TRUE(fs.mkdir("/locked/sub", 0755).ok());
  ASSERT_TRUE(fs.rename("/locked", "/locked2").ok());  // the root is writable
  // Make it read-only by recreating: tmpfs has no chmod; mkdir with mode 0555.
  ASSERT_TRUE(fs.mkdir("/sealed", 0555).ok());
  EXPECT_EQ(fs.open(kClient, "/sealed/new", kCreate, 0644).error(), Error::AccessDenied);
  EXPECT_EQ(fs.mkdir("/sealed/new", 0755).error(), Error::AccessDenied);
  EXPECT_EQ(fs.rename("/locked2/keep", "/sealed/keep").error(), Error::AccessDenied);
  EXPECT_EQ(fs.stat("/sealed")->mode, 0555u);
  fs.forget(kClient);
}

TEST(Tmpfs, Rename) {
  Tmpfs fs(1 << 20);
  put(fs, "/a", "A");
  put(fs, "/b", "B");
  ASSERT_TRUE(fs.mkdir("/d", 0755).ok());
  ASSERT_TRUE(fs.mkdir("/d/sub", 0755).ok());
  ASSERT_TRUE(fs.mkdir("/empty", 0755).ok());
  ASSERT_TRUE(fs.rename("/a", "/d/a2").ok());
  EXPECT_EQ(contents(fs, "/d/a2"), "A");
  EXPECT_EQ(fs.stat("/a").error(), Error::NotFound);
  ASSERT_TRUE(fs.rename("/b", "/d/a2").ok());  // replaces a file
  EXPECT_EQ(contents(fs, "/d/a2"), "B");
  ASSERT_TRUE(fs.rename("/d/a2", "/d/a2").ok());  // onto itself: nothing happens
  EXPECT_EQ(fs.rename("/none", "/x").error(), Error::NotFound);
  EXPECT_EQ(fs.rename("/d/a2", "/none/x").error(), Error::NotFound);
  EXPECT_EQ(fs.rename("/d", "/d/sub/d").error(), Error::InvalidArgument);
  EXPECT_EQ(fs.rename("/d", "/d/a2").error(), Error::InvalidArgument);  // also into itself
  EXPECT_EQ(fs.rename("/empty", "/d/a2").error(), Error::NotADirectory);
  EXPECT_EQ(fs.rename("/d/a2", "/empty").error(), Error::IsADirectory);
  EXPECT_EQ(fs.rename("/empty", "/d").error(), Error::NotEmpty);
  EXPECT_EQ(fs.rename("/", "/x").error(), Error::Busy);
  EXPECT_EQ(fs.rename("/empty", "/").error(), Error::Busy);
  ASSERT_TRUE(fs.rename("/d", "/empty").ok());  // a directory replaces an empty one
  EXPECT_EQ(list(fs, "/empty"), (std::vector<std::string>{"a2", "sub"}));
  EXPECT_EQ(list(fs, "/"), (std::vector<std::string>{"empty"}));
}

TEST(Tmpfs, QuotaGivesNoSpace) {
  const uint64_t quota = kNodeCost * 3 + kPageBytes * 2;  // root, two files, two pages
  Tmpfs fs(quota);
  uint32_t f = open_ok(fs, "/f");
  ASSERT_TRUE(fs.write(kClient, f, bytes(std::string(kPageBytes, 'a'))).ok());
  ASSERT_TRUE(fs.write(kClient, f, bytes(std::string(kPageBytes, 'b'))).ok());
  EXPECT_EQ(fs.used(), quota - kNodeCost);
  // A third page does not fit: the write is refused whole.
  EXPECT_EQ(fs.write(kClient, f, bytes("c")).error(), Error::NoSpace);
  EXPECT_EQ(fs.fstat(kClient, f)->size, 2 * kPageBytes);
  // Writing inside the pages it has costs nothing.
  ASSERT_TRUE(fs.seek(kClient, f, fsp::kSeekSet, 10).ok());
  EXPECT_TRUE(fs.write(kClient, f, bytes("xyz")).ok());
  open_ok(fs, "/g");  // the last node
  EXPECT_EQ(fs.open(kClient, "/h", kCreate, 0644).error(), Error::NoSpace);
  EXPECT_EQ(fs.mkdir("/dir", 0755).error(), Error::NoSpace);
  // Space comes back.
  ASSERT_TRUE(fs.truncate("/f", 0).ok());
  EXPECT_EQ(fs.used(), quota - 2 * kPageBytes);
  ASSERT_TRUE(fs.seek(kClient, f, fsp::kSeekSet, 0).ok());
  EXPECT_TRUE(fs.write(kClient, f, bytes("again")).ok());
  // No file grows past the quota, holes included.
  ASSERT_TRUE(fs.seek(kClient, f, fsp::kSeekSet, int64_t(quota)).ok());
  EXPECT_EQ(fs.write(kClient, f, bytes("x")).error(), Error::NoSpace);
  fs.forget(kClient);
}

TEST(Tmpfs, UnlinkedFileStaysWhileOpen) {
  Tmpfs fs(1 << 20);
  put(fs, "/f", "still here");
  uint32_t fid = open_ok(fs, "/f", fsp::kFlagRead);
  ASSERT_TRUE(fs.unlink("/f").ok());
  EXPECT_EQ(fs.stat("/f").error(), Error::NotFound);
  EXPECT_EQ(read_all(fs, fid), "still here");
  EXPECT_EQ(fs.nodes(), 2u);
  put(fs, "/f", "new");  // a new file under the old name
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  EXPECT_EQ(fs.nodes(), 2u);
  EXPECT_EQ(contents(fs, "/f"), "new");
  // Replaced by a rename while open: the same.
  put(fs, "/g", "g");
  fid = open_ok(fs, "/f", fsp::kFlagRead);
  ASSERT_TRUE(fs.rename("/g", "/f").ok());
  EXPECT_EQ(read_all(fs, fid), "new");
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  EXPECT_EQ(fs.used(), 2 * kNodeCost + kPageBytes);
}

TEST(Tmpfs, OpenFilesPerClient) {
  Tmpfs fs(1 << 20);
  put(fs, "/f", "x");
  std::vector<uint32_t> fids;
  for (size_t i = 0; i < fsp::kOpenMax; ++i) fids.push_back(open_ok(fs, "/f", fsp::kFlagRead));
  EXPECT_EQ(fs.open(kClient, "/f", fsp::kFlagRead, 0).error(), Error::NoSpace);
  // ... and the limit does not create a file it then cannot open.
  EXPECT_EQ(fs.open(kClient, "/new", kCreate, 0644).error(), Error::NoSpace);
  EXPECT_EQ(fs.stat("/new").error(), Error::NotFound);
  // Other clients are not affected.
  uint32_t other = open_ok(fs, "/f", fsp::kFlagRead, 0, kClient + 1);
  // fids are distinct.
  for (size_t i = 0; i < fids.size(); ++i)
    for (size_t j = i + 1; j < fids.size(); ++j) EXPECT_NE(fids[i], fids[j]);
  fs.forget(kClient);
  uint8_t buf[1];
  EXPECT_EQ(fs.read(kClient, fids[0], buf).error(), Error::BadHandle);
  EXPECT_EQ(*fs.read(kClient + 1, other, buf), 1u);
  EXPECT_TRUE(fs.open(kClient, "/f", fsp::kFlagRead, 0).ok());
}

TEST(Tmpfs, FidsAreNotReusedAtOnce) {
  Tmpfs fs(1 << 20);
  put(fs, "/f", "x");
  uint32_t a = open_ok(fs, "/f", fsp::kFlagRead);
  ASSERT_TRUE(fs.close(kClient, a).ok());
  uint32_t b = open_ok(fs, "/f", fsp::kFlagRead);
  EXPECT_NE(a, b);
  EXPECT_EQ(fs.close(kClient, a).error(), Error::BadHandle);
}

TEST(Tmpfs, DestroyedWithEverythingInIt) {
  // ASan's leak checker fails the test binary if this leaks.
  auto* fs = new Tmpfs(1 << 20);
  ASSERT_TRUE(fs->mkdir("/a", 0755).ok());
  ASSERT_TRUE(fs->mkdir("/a/b", 0755).ok());
  put(*fs, "/a/b/c", std::string(5000, 'c'));
  open_ok(*fs, "/a/b/c", fsp::kFlagRead);
  uint32_t fid = open_ok(*fs, "/gone");
  ASSERT_TRUE(fs->write(kClient, fid, bytes("x")).ok());
  ASSERT_TRUE(fs->unlink("/gone").ok());
  delete fs;
}

}  // namespace

namespace {

// Readdir stays put while the directory changes under it (rm -r): each
// call resumes after the name it returned last.
TEST(TmpfsReaddir, UnlinkingWhileReading) {
  Tmpfs fs(1 << 20);
  ASSERT_TRUE(fs.mkdir("/d", 0755).ok());
  for (int i = 0; i < 50; ++i) put(fs, "/d/e" + std::to_string(100 + i), "x");
  const uint32_t dir = open_ok(fs, "/d", fsp::kFlagRead | fsp::kFlagDirectory);
  std::vector<std::string> seen;
  uint64_t cookie = 0;
  for (int guard = 0; guard < 200; ++guard) {
    keel::fs::DirEntry e;
    uint64_t next = 0;
    auto r = fs.readdir(kClient, dir, cookie, &e, &next);
    if (!r.ok()) {
      EXPECT_EQ(r.error(), Error::OutOfRange);
      break;
    }
    seen.emplace_back(e.view());
    EXPECT_TRUE(fs.unlink("/d/" + std::string(e.view())).ok());
    cookie = next;
  }
  EXPECT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50 && i < int(seen.size()); ++i) EXPECT_EQ(seen[i], "e" + std::to_string(100 + i));
  EXPECT_TRUE(list(fs, "/d").empty());
  EXPECT_TRUE(fs.close(kClient, dir).ok());
  EXPECT_TRUE(fs.rmdir("/d").ok());
}

// Asked again for the same cookie (a caller whose buffer was full), it
// gives the same entry, even after the ones before it went away; other
// cookies are indices; a new entry after the current one is listed.
TEST(TmpfsReaddir, SameCookieAgainAndChangesAhead) {
  Tmpfs fs(1 << 20);
  for (const char* n : {"/a", "/b", "/c", "/e"}) put(fs, n, "x");
  const uint32_t dir = open_ok(fs, "/", fsp::kFlagRead | fsp::kFlagDirectory);
  keel::fs::DirEntry e;
  uint64_t next = 0, cookie = 0;
  ASSERT_TRUE(fs.readdir(kClient, dir, 0, &e, &next).ok());
  EXPECT_EQ(e.view(), "a");
  cookie = next;
  ASSERT_TRUE(fs.readdir(kClient, dir, cookie, &e, &next).ok());
  EXPECT_EQ(e.view(), "b");
  ASSERT_TRUE(fs.unlink("/a").ok());
  ASSERT_TRUE(fs.readdir(kClient, dir, cookie, &e, &next).ok());  // again: "b" still
  EXPECT_EQ(e.view(), "b");
  cookie = next;
  put(fs, "/d", "x");  // ahead of the cursor: listed
  ASSERT_TRUE(fs.readdir(kClient, dir, cookie, &e, &next).ok());
  EXPECT_EQ(e.view(), "c");
  cookie = next;
  ASSERT_TRUE(fs.readdir(kClient, dir, cookie, &e, &next).ok());
  EXPECT_EQ(e.view(), "d");
  cookie = next;
  ASSERT_TRUE(fs.readdir(kClient, dir, cookie, &e, &next).ok());
  EXPECT_EQ(e.view(), "e");
  EXPECT_EQ(fs.readdir(kClient, dir, next, &e, &next).error(), Error::OutOfRange);
  // An old cookie is an index into the directory as it is now (b c d e).
  ASSERT_TRUE(fs.readdir(kClient, dir, 1, &e, &next).ok());
  EXPECT_EQ(e.view(), "c");
  // 0 starts again.
  ASSERT_TRUE(fs.readdir(kClient, dir, 0, &e, &next).ok());
  EXPECT_EQ(e.view(), "b");
  EXPECT_TRUE(fs.close(kClient, dir).ok());
}

// ---------------------------------------------------------------- links, modes, times, FIFOs

int64_t g_clock = 0;
int64_t test_clock() { return g_clock; }

TEST(TmpfsLinks, SymlinkStoresItsTargetAndIsNotFollowed) {
  Tmpfs fs(1 << 20);
  put(fs, "/f", "data");
  ASSERT_TRUE(fs.symlink("/l", "f").ok());
  auto s = fs.stat("/l");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, fsp::kTypeSymlink);
  EXPECT_EQ(s->size, 1u);
  EXPECT_EQ(s->links, 1u);
  // kFlagLink reads the target; without it the link is Unsupported.
  uint32_t fid = open_ok(fs, "/l", fsp::kFlagRead | fsp::kFlagLink);
  EXPECT_EQ(read_all(fs, fid), "f");
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  EXPECT_EQ(fs.open(kClient, "/l", fsp::kFlagRead, 0).error(), Error::Unsupported);
  EXPECT_EQ(fs.open(kClient, "/f", fsp::kFlagRead | fsp::kFlagLink, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(fs.open(kClient, "/l", kRW | fsp::kFlagLink, 0).error(), Error::InvalidArgument);
  // A path through it is not followed; a dangling one is fine.
  EXPECT_EQ(fs.stat("/l/x").error(), Error::NotADirectory);
  ASSERT_TRUE(fs.symlink("/dangling", "/nowhere/at/all").ok());
  EXPECT_EQ(fs.stat("/dangling")->size, 15u);
  EXPECT_EQ(fs.symlink("/l", "x").error(), Error::AlreadyExists);
  EXPECT_EQ(fs.symlink("/", "x").error(), Error::AlreadyExists);
  EXPECT_EQ(fs.symlink("/missing/l", "x").error(), Error::NotFound);
  EXPECT_EQ(fs.symlink("/f/l", "x").error(), Error::NotADirectory);
  EXPECT_EQ(fs.symlink("/e", "").error(), Error::InvalidArgument);
  EXPECT_EQ(fs.truncate("/l", 0).error(), Error::InvalidArgument);
  // Removed like a file; the node and its charge go.
  const uint64_t before = fs.used();
  ASSERT_TRUE(fs.unlink("/dangling").ok());
  EXPECT_EQ(fs.used(), before - kNodeCost);
  EXPECT_EQ(contents(fs, "/f"), "data");
}

TEST(TmpfsLinks, HardLinksShareTheNode) {
  Tmpfs fs(1 << 20);
  put(fs, "/a", "one");
  ASSERT_TRUE(fs.mkdir("/d", 0755).ok());
  const uint64_t before = fs.used();
  ASSERT_TRUE(fs.link("/a", "/d/b").ok());
  EXPECT_EQ(fs.used(), before + kNodeCost);  // a name past the first is charged
  EXPECT_EQ(fs.nodes(), 3u);                 // root, a, d: no new node
  auto a = fs.stat("/a"), b = fs.stat("/d/b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->inode, b->inode);
  EXPECT_EQ(a->links, 2u);
  put(fs, "/d/b", "two!");
  EXPECT_EQ(contents(fs, "/a"), "two!");
  EXPECT_EQ(fs.link("/a", "/d/b").error(), Error::AlreadyExists);
  EXPECT_EQ(fs.link("/d", "/e").error(), Error::IsADirectory);
  EXPECT_EQ(fs.link("/missing", "/e").error(), Error::NotFound);
  EXPECT_EQ(fs.link("/a", "/missing/e").error(), Error::NotFound);
  // rename onto another name of the same file does nothing.
  ASSERT_TRUE(fs.rename("/a", "/d/b").ok());
  EXPECT_EQ(fs.stat("/a")->links, 2u);
  ASSERT_TRUE(fs.unlink("/a").ok());
  EXPECT_EQ(fs.used(), before);
  EXPECT_EQ(fs.stat("/d/b")->links, 1u);
  // An open file whose last name goes has no links, and still its data.
  uint32_t fid = open_ok(fs, "/d/b", fsp::kFlagRead);
  ASSERT_TRUE(fs.unlink("/d/b").ok());
  EXPECT_EQ(fs.fstat(kClient, fid)->links, 0u);
  EXPECT_EQ(read_all(fs, fid), "two!");
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  EXPECT_EQ(fs.nodes(), 2u);
}

TEST(TmpfsLinks, RenameKeepsTheNodeAndItsCharge) {
  Tmpfs fs(1 << 20);
  put(fs, "/a", "x");
  ASSERT_TRUE(fs.mkdir("/d", 0755).ok());
  ASSERT_TRUE(fs.mkdir("/d/sub", 0755).ok());
  const uint64_t ino = fs.stat("/a")->inode;
  const uint64_t before = fs.used();
  ASSERT_TRUE(fs.rename("/a", "/d/a2").ok());
  EXPECT_EQ(fs.stat("/d/a2")->inode, ino);
  EXPECT_EQ(fs.used(), before);
  EXPECT_EQ(fs.stat("/d")->links, 3u);  // 2 + one subdirectory
  ASSERT_TRUE(fs.rename("/d/sub", "/sub").ok());
  EXPECT_EQ(fs.stat("/d")->links, 2u);
  EXPECT_EQ(fs.stat("/")->links, 4u);  // d and sub
  EXPECT_EQ(fs.used(), before);
}

TEST(TmpfsAttributes, ChmodAndTimes) {
  g_clock = 100;
  Tmpfs fs(1 << 20, test_clock);
  put(fs, "/f", "abc");
  auto s = fs.stat("/f");
  EXPECT_EQ(s->atime, 100);
  EXPECT_EQ(s->mtime, 100);
  g_clock = 200;
  ASSERT_TRUE(fs.chmod("/f", 0600).ok());
  s = fs.stat("/f");
  EXPECT_EQ(s->mode, 0600u);
  EXPECT_EQ(s->ctime, 200);
  EXPECT_EQ(s->mtime, 100);
  EXPECT_EQ(fs.chmod("/f", 01000).error(), Error::InvalidArgument);
  EXPECT_EQ(fs.chmod("/missing", 0600).error(), Error::NotFound);
  ASSERT_TRUE(fs.set_times("/f", uint64_t(-5), 7).ok());
  s = fs.stat("/f");
  EXPECT_EQ(s->atime, -5);
  EXPECT_EQ(s->mtime, 7);
  g_clock = 300;
  ASSERT_TRUE(fs.set_times("/f", fsp::kTimeOmit, fsp::kTimeNow).ok());
  s = fs.stat("/f");
  EXPECT_EQ(s->atime, -5);
  EXPECT_EQ(s->mtime, 300);
  EXPECT_EQ(fs.set_times("/missing", 1, 1).error(), Error::NotFound);
  // A write moves mtime; a read leaves atime.
  g_clock = 400;
  uint32_t fid = open_ok(fs, "/f", kRW);
  ASSERT_TRUE(fs.write(kClient, fid, bytes("z")).ok());
  EXPECT_EQ(fs.fstat(kClient, fid)->mtime, 400);
  (void)read_all(fs, fid);
  EXPECT_EQ(fs.fstat(kClient, fid)->atime, -5);
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  // The mode is kept and checked.
  ASSERT_TRUE(fs.chmod("/f", 0200).ok());
  EXPECT_EQ(fs.open(kClient, "/f", fsp::kFlagRead, 0).error(), Error::AccessDenied);
}

TEST(TmpfsAttributes, FidFormsReachAnOpenFileWithoutAName) {
  g_clock = 10;
  Tmpfs fs(1 << 20, test_clock);
  put(fs, "/f", "0123456789");
  uint32_t ro = open_ok(fs, "/f", fsp::kFlagRead);
  uint32_t rw = open_ok(fs, "/f", kRW);
  ASSERT_TRUE(fs.unlink("/f").ok());
  ASSERT_TRUE(fs.fchmod(kClient, rw, 0400).ok());
  EXPECT_EQ(fs.fstat(kClient, ro)->mode, 0400u);
  EXPECT_EQ(fs.fchmod(kClient, rw, 01000).error(), Error::InvalidArgument);
  g_clock = 20;
  ASSERT_TRUE(fs.fset_times(kClient, ro, 5, fsp::kTimeNow).ok());
  EXPECT_EQ(fs.fstat(kClient, rw)->atime, 5);
  EXPECT_EQ(fs.fstat(kClient, rw)->mtime, 20);
  // Truncation needs the fid to be open for writing, not the mode.
  ASSERT_TRUE(fs.ftruncate(kClient, rw, 4).ok());
  EXPECT_EQ(fs.fstat(kClient, ro)->size, 4u);
  EXPECT_EQ(fs.ftruncate(kClient, ro, 0).error(), Error::AccessDenied);
  EXPECT_EQ(fs.ftruncate(kClient, 999, 0).error(), Error::BadHandle);
  EXPECT_EQ(fs.fchmod(kClient + 1, rw, 0600).error(), Error::BadHandle);  // another client's fid
  EXPECT_EQ(fs.fset_times(kClient, 999, 1, 1).error(), Error::BadHandle);
  uint32_t dir = open_ok(fs, "/", fsp::kFlagRead);
  EXPECT_EQ(fs.ftruncate(kClient, dir, 0).error(), Error::IsADirectory);
  EXPECT_TRUE(fs.close(kClient, dir).ok());
  EXPECT_TRUE(fs.close(kClient, ro).ok());
  EXPECT_TRUE(fs.close(kClient, rw).ok());
  EXPECT_EQ(fs.nodes(), 1u);
}

TEST(TmpfsAttributes, FifoIsANodeOnly) {
  Tmpfs fs(1 << 20);
  ASSERT_TRUE(fs.mknod("/p", fsp::kTypeFifo, 0600).ok());
  auto s = fs.stat("/p");
  EXPECT_EQ(s->type, fsp::kTypeFifo);
  EXPECT_EQ(s->mode, 0600u);
  EXPECT_EQ(fs.mknod("/p", fsp::kTypeFifo, 0600).error(), Error::AlreadyExists);
  EXPECT_EQ(fs.mknod("/q", fsp::kTypeFile, 0600).error(), Error::InvalidArgument);
  uint32_t fid = open_ok(fs, "/p", fsp::kFlagRead);
  uint8_t buf[4];
  EXPECT_EQ(fs.read(kClient, fid, buf).error(), Error::BadState);
  EXPECT_EQ(fs.fstat(kClient, fid)->inode, s->inode);
  EXPECT_TRUE(fs.close(kClient, fid).ok());
  ASSERT_TRUE(fs.unlink("/p").ok());
}

}  // namespace

namespace {

TEST(Tmpfs, FilePagesForImage) {
  Tmpfs fs(1 << 20);
  const uint32_t fid = open_ok(fs, "/prog", kCreate, 0755);
  std::string data(kPageBytes + 10, 'a');
  ASSERT_TRUE(fs.write(kClient, fid, bytes(data)).ok());
  // A hole: page 2 never written; page 3 holds the last 5 bytes.
  ASSERT_TRUE(fs.seek(kClient, fid, fsp::kSeekSet, int64_t(3 * kPageBytes)).ok());
  ASSERT_TRUE(fs.write(kClient, fid, bytes("tail!")).ok());
  struct Seen {
    std::vector<std::pair<uint64_t, std::string>> pages;
  } seen;
  keel::fs::Stat st;
  auto r = fs.file_pages(
      "/prog", &st,
      [](void* ctx, uint64_t off, const uint8_t* b, size_t len) -> ktl::Result<void> {
        static_cast<Seen*>(ctx)->pages.emplace_back(off, std::string(reinterpret_cast<const char*>(b), len));
        return ktl::ok();
      },
      &seen);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(st.size, 3 * kPageBytes + 5);
  EXPECT_EQ(st.mode, 0755u);
  ASSERT_EQ(seen.pages.size(), 3u);
  EXPECT_EQ(seen.pages[0].first, 0u);
  EXPECT_EQ(seen.pages[0].second, std::string(kPageBytes, 'a'));
  EXPECT_EQ(seen.pages[1].first, kPageBytes);
  EXPECT_EQ(seen.pages[1].second.size(), kPageBytes);  // (the page: 10 bytes, then zeros)
  EXPECT_EQ(seen.pages[1].second.substr(0, 10), std::string(10, 'a'));
  EXPECT_EQ(seen.pages[2].first, 3 * kPageBytes);
  EXPECT_EQ(seen.pages[2].second, "tail!");
  // The callback's error ends it.
  auto fail = fs.file_pages(
      "/prog", &st, [](void*, uint64_t, const uint8_t*, size_t) -> ktl::Result<void> { return Error::NoMemory; },
      nullptr);
  EXPECT_EQ(fail.error(), Error::NoMemory);
  ASSERT_TRUE(fs.mkdir("/d", 0755).ok());
  ASSERT_TRUE(fs.symlink("/l", "/prog").ok());
  auto none = [](void*, uint64_t, const uint8_t*, size_t) -> ktl::Result<void> { return ktl::ok(); };
  EXPECT_EQ(fs.file_pages("/d", &st, none, nullptr).error(), Error::IsADirectory);
  EXPECT_EQ(fs.file_pages("/l", &st, none, nullptr).error(), Error::Unsupported);
  EXPECT_EQ(fs.file_pages("/missing", &st, none, nullptr).error(), Error::NotFound);
  ASSERT_TRUE(fs.chmod("/prog", 0311).ok());
  EXPECT_EQ(fs.file_pages("/prog", &st, none, nullptr).error(), Error::AccessDenied);
  EXPECT_TRUE(fs.close(kClient, fid).ok());
}

}  // namespace
