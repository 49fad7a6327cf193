// initrdfs_test.cc — host tests for the initrd file system (initrdfs.h):
// lookup, reading, directories in name order, made-up parents, duplicates and
// hard links, the read-only errors, and malformed archives (the cpio reader's
// refusals and initrdfs's own: unnormalised names, a file as a parent,
// names past the bounds, truncation at every length). Each archive lives in
// an exactly sized heap buffer, so ASan catches any read past its end.
#include <gtest/gtest.h>

#include "initrdfs.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fsp = keel::proto::fs;
using keel::initrdfs::Initrdfs;
using ktl::Error;

namespace {

constexpr uint64_t kClient = 3;
constexpr uint64_t kRead = fsp::kFlagRead;

struct Entry {
  std::string name;
  uint32_t mode;
  std::string data;
  uint32_t nlink = 1;
  uint32_t ino = 0;
};

// A newc archive of `entries` and a trailer.
std::vector<uint8_t> archive(const std::vector<Entry>& entries, bool trailer = true) {
  std::vector<uint8_t> out;
  auto pad = [&] {
    while (out.size() % 4) out.push_back(0);
  };
  auto add = [&](const Entry& e, uint32_t ino) {
    char h[111];
    std::snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, e.mode, 0u, 0u,
                  e.nlink, 0u, unsigned(e.data.size()), 0u, 0u, 0u, 0u, unsigned(e.name.size() + 1), 0u);
    out.insert(out.end(), h, h + 110);
    out.insert(out.end(), e.name.begin(), e.name.end());
    out.push_back(0);
    pad();
    out.insert(out.end(), e.data.begin(), e.data.end());
    pad();
  };
  uint32_t ino = 1;
  for (const Entry& e : entries) add(e, e.ino ? e.ino : ino++);
  if (trailer) add({"TRAILER!!!", 0, ""}, 0);
  return out;
}

constexpr uint32_t kDir = 040755, kFile = 0100644, kLink = 0120777;

std::vector<Entry> standard() {
  return {{".", kDir, ""},
          {"etc", kDir, ""},
          {"etc/motd", kFile, "Welcome to Keel.\n"},
          {"etc/manifest", kFile, "service names\n"},
          {"etc/issue", kLink, "motd"},
          {"etc/secret", 0100200, "write-only"},
          {"sbin", kDir, ""},
          {"sbin/init", 0100755, "\x7f" "ELF"},
          {"tmp", kDir, ""}};
}

// Owns an exactly sized copy of the bytes and the file system over it.
struct Fs {
  std::unique_ptr<uint8_t[]> bytes;
  Initrdfs* fs = nullptr;
  Error error = Error::None;
  explicit Fs(const std::vector<uint8_t>& a) : bytes(new uint8_t[a.size() ? a.size() : 1]) {
    std::copy(a.begin(), a.end(), bytes.get());
    auto r = Initrdfs::create({bytes.get(), a.size()});
    if (r.ok()) fs = *r;
    else error = r.error();
  }
  ~Fs() { delete fs; }
  Initrdfs* operator->() { return fs; }
};

std::string read_all(Initrdfs* fs, std::string_view path, uint64_t client = kClient) {
  auto fid = fs->open(client, path, kRead, 0);
  EXPECT_TRUE(fid.ok()) << path << ": " << ktl::error_name(fid.error());
  if (!fid.ok()) return "";
  std::string out;
  uint8_t buf[5];
  for (;;) {
    auto r = fs->read(client, *fid, buf);
    EXPECT_TRUE(r.ok());
    if (!r.ok() || *r == 0) break;
    out.append(reinterpret_cast<char*>(buf), *r);
  }
  EXPECT_TRUE(fs->close(client, *fid).ok());
  return out;
}

std::vector<std::string> list(Initrdfs* fs, std::string_view path) {
  std::vector<std::string> names;
  auto fid = fs->open(kClient, path, kRead | fsp::kFlagDirectory, 0);
  EXPECT_TRUE(fid.ok()) << path;
  if (!fid.ok()) return names;
  keel::fs::DirEntry e;
  uint64_t cookie = 0, next = 0;
  for (;;) {
    auto r = fs->readdir(kClient, *fid, cookie, &e, &next);
    if (!r.ok()) {
      EXPECT_EQ(r.error(), Error::OutOfRange);
      break;
    }
    names.emplace_back(e.view());
    cookie = next;
  }
  (void)fs->close(kClient, *fid);
  return names;
}

TEST(Initrdfs, ReadsFiles) {
  Fs f(archive(standard()));
  ASSERT_NE(f.fs, nullptr) << ktl::error_name(f.error);
  EXPECT_EQ(read_all(f.fs, "/etc/motd"), "Welcome to Keel.\n");
  EXPECT_EQ(read_all(f.fs, "/etc/manifest"), "service names\n");
  auto s = f->stat("/etc/motd");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, fsp::kTypeFile);
  EXPECT_EQ(s->size, 17u);
  EXPECT_EQ(s->mode, 0644u);
  EXPECT_EQ(f->stat("/sbin/init")->mode, 0755u);
}

TEST(Initrdfs, DirectoriesInNameOrder) {
  Fs f(archive(standard()));
  ASSERT_NE(f.fs, nullptr);
  EXPECT_EQ(list(f.fs, "/"), (std::vector<std::string>{"etc", "sbin", "tmp"}));
  EXPECT_EQ(list(f.fs, "/etc"), (std::vector<std::string>{"issue", "manifest", "motd", "secret"}));
  EXPECT_TRUE(list(f.fs, "/tmp").empty());
  auto root = f->stat("/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->type, fsp::kTypeDirectory);
  EXPECT_EQ(root->size, 3u);
  EXPECT_EQ(root->mode, 0755u);
}

TEST(Initrdfs, SeekAndOffsets) {
  Fs f(archive(standard()));
  ASSERT_NE(f.fs, nullptr);
  auto fid = f->open(kClient, "/etc/motd", kRead, 0);
  ASSERT_TRUE(fid.ok());
  EXPECT_EQ(*f->seek(kClient, *fid, fsp::kSeekSet, 11), 11u);
  uint8_t buf[64];
  auto r = f->read(kClient, *fid, buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *r), "Keel.\n");
  EXPECT_EQ(*f->read(kClient, *fid, buf), 0u);
  EXPECT_EQ(*f->seek(kClient, *fid, fsp::kSeekEnd, -1), 16u);
  EXPECT_EQ(f->seek(kClient, *fid, fsp::kSeekCurrent, -100).error(), Error::InvalidArgument);
  EXPECT_EQ(f->seek(kClient, *fid, 7, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(*f->seek(kClient, *fid, fsp::kSeekSet, 1000), 1000u);  // past the end reads nothing
  EXPECT_EQ(*f->read(kClient, *fid, buf), 0u);
}

TEST(Initrdfs, ReadOnly) {
  Fs f(archive(standard()));
  ASSERT_NE(f.fs, nullptr);
  auto info = f->fs_info();  // (statfs: nothing free, read-only)
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->block_size, 4096u);
  EXPECT_GE(info->blocks, 1u);
  EXPECT_EQ(info->free_blocks, 0u);
  EXPECT_EQ(info->nodes, f->nodes());
  EXPECT_EQ(info->free_nodes, 0u);
  EXPECT_EQ(info->flags, fsp::kFsReadOnly | fsp::kFsMemory);
  EXPECT_EQ(f->open(kClient, "/etc/motd", fsp::kFlagWrite, 0).error(), Error::AccessDenied);
  EXPECT_EQ(f->open(kClient, "/etc/new", kRead | fsp::kFlagWrite | fsp::kFlagCreate, 0644).error(), Error::AccessDenied);
  EXPECT_EQ(f->open(kClient, "/etc/motd", kRead | fsp::kFlagCreate | fsp::kFlagExclusive, 0).error(),
            Error::AlreadyExists);
  EXPECT_EQ(f->open(kClient, "/etc", fsp::kFlagWrite, 0).error(), Error::IsADirectory);
  EXPECT_EQ(f->mkdir("/etc/x", 0755).error(), Error::AccessDenied);
  EXPECT_EQ(f->mkdir("/etc", 0755).error(), Error::AlreadyExists);
  EXPECT_EQ(f->mkdir("/nowhere/x", 0755).error(), Error::NotFound);
  EXPECT_EQ(f->rmdir("/tmp").error(), Error::AccessDenied);
  EXPECT_EQ(f->rmdir("/etc/motd").error(), Error::NotADirectory);
  EXPECT_EQ(f->rmdir("/").error(), Error::Busy);
  EXPECT_EQ(f->unlink("/etc/motd").error(), Error::AccessDenied);
  EXPECT_EQ(f->unlink("/etc").error(), Error::IsADirectory);
  EXPECT_EQ(f->unlink("/etc/none").error(), Error::NotFound);
  EXPECT_EQ(f->rename("/etc/motd", "/etc/motd2").error(), Error::AccessDenied);
  EXPECT_EQ(f->rename("/etc/none", "/etc/motd2").error(), Error::NotFound);
  EXPECT_EQ(f->truncate("/etc/motd", 0).error(), Error::AccessDenied);
  EXPECT_EQ(f->truncate("/etc", 0).error(), Error::IsADirectory);
  EXPECT_EQ(f->symlink("/etc/l", "motd").error(), Error::AccessDenied);
  EXPECT_EQ(f->symlink("/etc/motd", "x").error(), Error::AlreadyExists);
  EXPECT_EQ(f->symlink("/nowhere/l", "x").error(), Error::NotFound);
  EXPECT_EQ(f->mknod("/etc/p", fsp::kTypeFifo, 0600).error(), Error::AccessDenied);
  EXPECT_EQ(f->link("/etc/motd", "/etc/motd2").error(), Error::AccessDenied);
  EXPECT_EQ(f->link("/etc/motd", "/etc/motd").error(), Error::AlreadyExists);
  EXPECT_EQ(f->link("/etc", "/etc2").error(), Error::IsADirectory);
  EXPECT_EQ(f->link("/etc/none", "/etc/x").error(), Error::NotFound);
  EXPECT_EQ(f->chmod("/etc/motd", 0600).error(), Error::AccessDenied);
  EXPECT_EQ(f->chmod("/etc/none", 0600).error(), Error::NotFound);
  EXPECT_EQ(f->set_times("/etc/motd", 1, 1).error(), Error::AccessDenied);
  EXPECT_EQ(f->set_times("/etc/none", 1, 1).error(), Error::NotFound);
  // Inode numbers: one per entry, never 0; a file has one link.
  auto motd = f->stat("/etc/motd"), etc = f->stat("/etc");
  ASSERT_TRUE(motd.ok() && etc.ok());
  EXPECT_NE(motd->inode, 0u);
  EXPECT_NE(motd->inode, etc->inode);
  EXPECT_EQ(motd->links, 1u);
  auto fid = f->open(kClient, "/etc/motd", kRead, 0);
  ASSERT_TRUE(fid.ok());
  const uint8_t b[1] = {'x'};
  EXPECT_EQ(f->write(kClient, *fid, b).error(), Error::AccessDenied);
  EXPECT_EQ(read_all(f.fs, "/etc/motd"), "Welcome to Keel.\n");
}

TEST(Initrdfs, Errors) {
  Fs f(archive(standard()));
  ASSERT_NE(f.fs, nullptr);
  EXPECT_EQ(f->open(kClient, "/nonexistent", kRead, 0).error(), Error::NotFound);
  EXPECT_EQ(f->open(kClient, "/etc/motd/x", kRead, 0).error(), Error::NotADirectory);
  EXPECT_EQ(f->stat("/etc/motd/x/y").error(), Error::NotADirectory);
  EXPECT_EQ(f->stat("/none/x").error(), Error::NotFound);
  EXPECT_EQ(f->open(kClient, "/etc/motd", kRead | fsp::kFlagDirectory, 0).error(), Error::NotADirectory);
  EXPECT_EQ(f->open(kClient, "/etc/secret", kRead, 0).error(), Error::AccessDenied);  // mode 0200
  EXPECT_EQ(f->open(kClient, "/etc/issue", kRead, 0).error(), Error::Unsupported);   // a symlink
  EXPECT_EQ(f->open(kClient, "/etc/motd", 0, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(f->open(kClient, "/etc/motd", fsp::kFlagLink | kRead, 0).error(), Error::InvalidArgument);  // not a link
  EXPECT_EQ(f->open(kClient, "/etc/motd", 0x100 | kRead, 0).error(), Error::InvalidArgument);
  EXPECT_EQ(f->open(kClient, "/etc/issue", fsp::kFlagLink | kRead | fsp::kFlagWrite, 0).error(), Error::AccessDenied);
  {
    auto link = f->open(kClient, "/etc/issue", fsp::kFlagLink | kRead, 0);  // readlink
    ASSERT_TRUE(link.ok());
    uint8_t target[16];
    auto n = f->read(kClient, *link, target);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(reinterpret_cast<char*>(target), *n), "motd");
    EXPECT_TRUE(f->close(kClient, *link).ok());
  }
  auto issue = f->stat("/etc/issue");
  ASSERT_TRUE(issue.ok());
  EXPECT_EQ(issue->type, fsp::kTypeSymlink);
  EXPECT_EQ(issue->size, 4u);
  uint8_t buf[4];
  EXPECT_EQ(f->read(kClient, 12345, buf).error(), Error::BadHandle);
  auto d = f->open(kClient, "/etc", kRead, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(f->read(kClient, *d, buf).error(), Error::IsADirectory);
  auto file = f->open(kClient, "/etc/motd", kRead, 0);
  ASSERT_TRUE(file.ok());
  keel::fs::DirEntry e;
  uint64_t next;
  EXPECT_EQ(f->readdir(kClient, *file, 0, &e, &next).error(), Error::NotADirectory);
}

TEST(Initrdfs, FidsBelongToTheirClient) {
  Fs f(archive(standard()));
  ASSERT_NE(f.fs, nullptr);
  auto fid = f->open(kClient, "/etc/motd", kRead, 0);
  ASSERT_TRUE(fid.ok());
  uint8_t buf[4];
  EXPECT_EQ(f->read(kClient + 1, *fid, buf).error(), Error::BadHandle);
  EXPECT_EQ(f->close(kClient + 1, *fid).error(), Error::BadHandle);
  f->forget(kClient);
  EXPECT_EQ(f->read(kClient, *fid, buf).error(), Error::BadHandle);
  // kOpenMax per client, then NoSpace; another client still has room.
  for (size_t i = 0; i < fsp::kOpenMax; ++i) ASSERT_TRUE(f->open(kClient, "/etc/motd", kRead, 0).ok());
  EXPECT_EQ(f->open(kClient, "/etc/motd", kRead, 0).error(), Error::NoSpace);
  EXPECT_TRUE(f->open(kClient + 1, "/etc/motd", kRead, 0).ok());
  f->forget(kClient);
  EXPECT_TRUE(f->open(kClient, "/etc/motd", kRead, 0).ok());
}

TEST(Initrdfs, MadeUpParentsAndNoRootEntry) {
  Fs f(archive({{"a/b/c.txt", kFile, "deep"}, {"z", kFile, "zz"}}));
  ASSERT_NE(f.fs, nullptr) << ktl::error_name(f.error);
  EXPECT_EQ(read_all(f.fs, "/a/b/c.txt"), "deep");
  EXPECT_EQ(f->stat("/a")->type, fsp::kTypeDirectory);
  EXPECT_EQ(f->stat("/a/b")->mode, 0555u);
  EXPECT_EQ(list(f.fs, "/"), (std::vector<std::string>{"a", "z"}));
  EXPECT_EQ(list(f.fs, "/a/b"), (std::vector<std::string>{"c.txt"}));
  EXPECT_EQ(f->nodes(), 5u);
}

TEST(Initrdfs, LastDuplicateWinsAndHardLinksShareData) {
  Fs f(archive({{"f", kFile, "first"},
                {"f", kFile, "second"},
                {"l1", kFile, "", 2, 50},
                {"l2", kFile, "linked", 2, 50},
                {"dev", 020644, ""}}));  // a character device: left out
  ASSERT_NE(f.fs, nullptr) << ktl::error_name(f.error);
  EXPECT_EQ(read_all(f.fs, "/f"), "second");
  EXPECT_EQ(read_all(f.fs, "/l1"), "linked");
  EXPECT_EQ(read_all(f.fs, "/l2"), "linked");
  EXPECT_EQ(f->stat("/dev").error(), Error::NotFound);
  EXPECT_EQ(list(f.fs, "/"), (std::vector<std::string>{"f", "l1", "l2"}));
}

TEST(InitrdfsMalformed, ArchivesTheReaderRefuses) {
  EXPECT_EQ(Fs({}).error, Error::Truncated);
  auto bad_magic = archive(standard());
  bad_magic[5] = '7';  // "070707": odc
  EXPECT_EQ(Fs(bad_magic).error, Error::BadMagic);
  EXPECT_EQ(Fs(archive(standard(), false)).error, Error::Truncated);  // no trailer
  auto no_nul = archive({{"etc", kDir, ""}});
  no_nul[110 + 3] = 'x';  // the name's NUL
  EXPECT_EQ(Fs(no_nul).error, Error::InvalidArgument);
  auto too_big = archive({{"f", kFile, "abcd"}});
  std::memcpy(&too_big[54], "00100000", 8);  // c_filesize past the end
  EXPECT_EQ(Fs(too_big).error, Error::Truncated);
  auto dir_data = archive({{"d", kDir, "data"}});
  EXPECT_EQ(Fs(dir_data).error, Error::InvalidArgument);
}

TEST(InitrdfsMalformed, EveryTruncationIsRefused) {
  const auto whole = archive(standard());
  for (size_t n = 0; n < whole.size(); ++n) {
    std::vector<uint8_t> cut(whole.begin(), whole.begin() + n);
    Fs f(cut);
    EXPECT_EQ(f.fs, nullptr) << n;
    EXPECT_NE(f.error, Error::None) << n;
  }
}

TEST(InitrdfsMalformed, NamesInitrdfsRefuses) {
  EXPECT_EQ(Fs(archive({{"a//b", kFile, "x"}})).error, Error::InvalidArgument);
  EXPECT_EQ(Fs(archive({{"a/./b", kFile, "x"}})).error, Error::InvalidArgument);
  EXPECT_EQ(Fs(archive({{"a/../b", kFile, "x"}})).error, Error::InvalidArgument);
  EXPECT_EQ(Fs(archive({{"a/", kDir, ""}})).error, Error::InvalidArgument);
  EXPECT_EQ(Fs(archive({{"..", kDir, ""}})).error, Error::InvalidArgument);
  EXPECT_EQ(Fs(archive({{std::string(keel::path::kNameMax + 1, 'n'), kFile, ""}})).error, Error::NameTooLong);
  std::string deep;
  for (size_t i = 0; i <= keel::path::kDepthMax; ++i) deep += (i ? "/d" : "d");
  EXPECT_EQ(Fs(archive({{deep, kFile, ""}})).error, Error::NameTooLong);
  EXPECT_EQ(Fs(archive({{std::string(200, 'p'), kFile, ""}})).error, Error::NameTooLong);
  // A file that is also a parent.
  EXPECT_EQ(Fs(archive({{"f", kFile, "x"}, {"f/g", kFile, "y"}})).error, Error::InvalidArgument);
  // The root as a file.
  EXPECT_EQ(Fs(archive({{".", kFile, ""}})).error, Error::InvalidArgument);
}

TEST(InitrdfsMalformed, TooManyEntries) {
  std::vector<Entry> many;
  for (size_t i = 0; i < keel::initrdfs::kMaxNodes; ++i) many.push_back({"f" + std::to_string(i), kFile, ""});
  EXPECT_EQ(Fs(archive(many)).error, Error::NoSpace);  // kMaxNodes entries and the root
  many.pop_back();
  Fs f(archive(many));
  EXPECT_NE(f.fs, nullptr) << ktl::error_name(f.error);
}

}  // namespace

namespace {

TEST(Initrdfs, FileForImage) {
  Fs f(archive(standard()));
  ASSERT_NE(f.fs, nullptr);
  auto a = f->file("/sbin/init");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(a->data.data()), a->data.size()), "\x7f" "ELF");
  EXPECT_EQ(a->stat.type, fsp::kTypeFile);
  EXPECT_EQ(a->stat.size, 4u);
  EXPECT_EQ(a->stat.mode, 0755u);
  auto b = f->file("/etc/motd");
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->index, b->index);  // (a cache key per file)
  EXPECT_LT(a->index, f->nodes());
  EXPECT_EQ(f->file("/sbin/init")->index, a->index);
  EXPECT_EQ(f->file("/missing").error(), Error::NotFound);
  EXPECT_EQ(f->file("/etc/motd/x").error(), Error::NotADirectory);
  EXPECT_EQ(f->file("/etc").error(), Error::IsADirectory);
  EXPECT_EQ(f->file("/etc/issue").error(), Error::Unsupported);  // a symlink
  EXPECT_EQ(f->file("/etc/secret").error(), Error::AccessDenied);  // no 0400
}

}  // namespace
