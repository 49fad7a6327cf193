// vfs_test.cc — host tests of the VFS logic (vfs.h): the mount table and its
// bad inputs, fid encoding, and requests forwarded to fs servers that are
// tmpfs cores behind keel/fs_server.h's dispatch (as the real servers are):
// path rewriting, the client badge, mount indices, cross-mount renames, busy
// mount points, readdir merged with the mount points, malformed requests and
// replies, and the retry after a server restart.
#include <gtest/gtest.h>

#include <keel/fs_server.h>
#include <keel/rpc.h>

#include "../tmpfs/tmpfs.h"
#include "vfs.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fsp = keel::proto::fs;
using keel::IpcMessage;
using keel::Status;
using keel::rpc::tag;
using keel::vfs::MountTable;
using ktl::Error;

namespace {

// ---------------------------------------------------------------- mount table

TEST(MountTable, LongestPrefix) {
  MountTable t;
  ASSERT_TRUE(t.add("/", "initrdfs").ok());
  ASSERT_TRUE(t.add("/tmp", "tmpfs").ok());
  ASSERT_TRUE(t.add("/run", "tmpfs-run").ok());
  ASSERT_TRUE(t.add("/tmp/deep", "other").ok());
  EXPECT_EQ(t.count(), 4u);
  EXPECT_EQ(t.service(1), "tmpfs");
  struct Case {
    const char* path;
    size_t index;
    const char* rest;
  } cases[] = {{"/", 0, "/"},          {"/etc/policy", 0, "/etc/policy"}, {"/tmp", 1, "/"},
               {"/tmp/a/b", 1, "/a/b"}, {"/tmpx", 0, "/tmpx"},             {"/run/x", 2, "/x"},
               {"/tmp/deep", 3, "/"},  {"/tmp/deeper", 1, "/deeper"},     {"/tmp/deep/z", 3, "/z"}};
  for (const Case& c : cases) {
    auto r = t.resolve(c.path);
    ASSERT_TRUE(r.ok()) << c.path;
    EXPECT_EQ(r->index, c.index) << c.path;
    EXPECT_EQ(r->rest, c.rest) << c.path;
  }
}

TEST(MountTable, BadMounts) {
  MountTable t;
  for (const char* bad : {"", "tmp", "/tmp/", "//tmp", "/a/../b", "/a/./b", "/a//b"})
    EXPECT_EQ(t.add(bad, "x").error(), Error::InvalidArgument) << bad;
  EXPECT_EQ(t.add("/tmp", "").error(), Error::InvalidArgument);
  EXPECT_EQ(t.add("/tmp", std::string(32, 'a')).error(), Error::InvalidArgument);
  EXPECT_TRUE(t.add("/tmp", std::string(31, 'a')).ok());
  EXPECT_EQ(t.add("/tmp", "again").error(), Error::AlreadyExists);
  for (int i = 1; i < int(fsp::kMountsMax); ++i) EXPECT_TRUE(t.add("/m" + std::to_string(i), "s").ok()) << i;
  EXPECT_EQ(t.add("/one-too-many", "s").error(), Error::NoSpace);
  // No "/" mount: paths outside every mount are NotFound.
  EXPECT_EQ(t.resolve("/etc").error(), Error::NotFound);
}

TEST(MountTable, ChildrenAndHolders) {
  MountTable t;
  ASSERT_TRUE(t.add("/", "root").ok());
  ASSERT_TRUE(t.add("/tmp", "tmpfs").ok());
  ASSERT_TRUE(t.add("/run", "run").ok());
  ASSERT_TRUE(t.add("/mnt/usb", "usb").ok());
  EXPECT_EQ(t.children("/"), 0b0110);
  EXPECT_EQ(t.children("/mnt"), 0b1000);
  EXPECT_EQ(t.children("/tmp"), 0);
  EXPECT_EQ(t.children("/mn"), 0);
  EXPECT_TRUE(t.is_mount_point("/"));
  EXPECT_TRUE(t.is_mount_point("/tmp"));
  EXPECT_FALSE(t.is_mount_point("/mnt"));
  EXPECT_TRUE(t.holds_mount("/mnt"));
  EXPECT_TRUE(t.holds_mount("/"));
  EXPECT_FALSE(t.holds_mount("/tmp/a"));
  EXPECT_FALSE(t.holds_mount("/mn"));
}

// ---------------------------------------------------------------- fids

TEST(Fid, RoundTrip) {
  const uint64_t fid = keel::vfs::make_fid(2, 0xabcdef, 0b110);
  auto p = keel::vfs::split_fid(fid, 3);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mount, 2u);
  EXPECT_EQ(p->server_fid, 0xabcdefu);
  EXPECT_EQ(p->children, 0b110);
  EXPECT_EQ(keel::vfs::make_fid(0, 5), 5u);
  EXPECT_EQ(keel::vfs::make_fid(1, 5), (uint64_t(1) << fsp::kMountShift) | 5);
}

TEST(Fid, Bad) {
  EXPECT_EQ(keel::vfs::split_fid(0, 3).error(), Error::BadHandle);
  EXPECT_EQ(keel::vfs::split_fid(keel::vfs::make_fid(1, 0), 3).error(), Error::BadHandle);
  EXPECT_EQ(keel::vfs::split_fid(keel::vfs::make_fid(3, 1), 3).error(), Error::BadHandle);
  EXPECT_EQ(keel::vfs::split_fid(keel::vfs::make_fid(0xff, 1), 3).error(), Error::BadHandle);
  EXPECT_EQ(keel::vfs::split_fid(uint64_t(1) << 40 | 1, 3).error(), Error::BadHandle);
  EXPECT_EQ(keel::vfs::split_fid(~uint64_t(0), 3).error(), Error::BadHandle);
}

// ---------------------------------------------------------------- requests

// Three fs servers (tmpfs cores standing in for initrdfs too), reached as the
// real ones are: through fs_server.h's dispatch. A server can be made to fail
// its next calls, and to come back empty (a restart) on reconnect.
struct FakeServers final : keel::vfs::Servers {
  static constexpr size_t kCount = 3;
  std::unique_ptr<keel::tmpfs::Tmpfs> fs[kCount];
  int failing[kCount] = {};     // calls that fail with `failure` before the server answers
  Status failure = Status::TimedOut;
  int reconnects[kCount] = {};
  bool restart_on_reconnect[kCount] = {};
  bool reconnect_fails = false;
  bool malformed_replies = false;  // Ok with no words
  std::vector<std::string> paths[kCount];  // s1 of every request that reached each server
  uint64_t last_client[kCount] = {};
  std::map<keel::Handle, std::vector<uint8_t>> buffers;  // "MemoryObjects"
  std::vector<keel::Handle> handles_seen;

  FakeServers() {
    for (auto& f : fs) f = std::make_unique<keel::tmpfs::Tmpfs>(1 << 20);
  }

  Status call(size_t mount, IpcMessage& m) override {
    EXPECT_LT(mount, kCount);
    if (failing[mount] > 0) {
      --failing[mount];
      m.tag = 0xdead;  // (what a failed call leaves is not a reply)
      return failure;
    }
    last_client[mount] = m.words[fsp::kWordClient];
    char buf[fsp::kPathMax];
    std::string_view s;
    const uint32_t method = keel::rpc::label(m);
    if (method != fsp::kWrite && keel::rpc::get_string(m, fsp::kWordString, buf, sizeof buf, &s, nullptr))
      paths[mount].emplace_back(s);
    const uint32_t handles = keel::rpc::handles(m);
    if (handles == 1) {
      // A MemoryObject: the test's buffer under that handle value, as the
      // server would map it (count bytes of it).
      handles_seen.push_back(m.handles[0]);
      auto it = buffers.find(m.handles[0]);
      const uint64_t count = m.words[fsp::kWordA];
      if (it == buffers.end() || it->second.size() < count) {
        keel::rpc::reply_status(m, Status::InvalidArgument);
      } else {
        keel::fs::dispatch(*fs[mount], m, 1, {it->second.data(), size_t(count)});
      }
    } else {
      keel::fs::dispatch(*fs[mount], m, handles);
    }
    if (malformed_replies) m.tag = tag(uint32_t(Status::Ok), 0);
    return Status(keel::rpc::label(m));
  }

  Status reconnect(size_t mount) override {
    ++reconnects[mount];
    if (reconnect_fails) return Status::NotFound;
    if (restart_on_reconnect[mount]) fs[mount] = std::make_unique<keel::tmpfs::Tmpfs>(1 << 20);
    return Status::Ok;
  }
};

constexpr uint64_t kBadge = 7;

IpcMessage request(uint32_t method, uint64_t fid = 0, uint64_t a = 0, uint64_t b = 0) {
  IpcMessage m{};
  m.words[fsp::kWordFid] = fid;
  m.words[fsp::kWordA] = a;
  m.words[fsp::kWordB] = b;
  m.tag = tag(method, fsp::kWordString);
  return m;
}

IpcMessage with_path(IpcMessage m, std::string_view s1) {
  const uint32_t at = keel::rpc::put_string(m, fsp::kWordString, s1);
  m.tag = tag(keel::rpc::label(m), at);
  return m;
}

IpcMessage with_paths(IpcMessage m, std::string_view s1, std::string_view s2) {
  uint32_t at = keel::rpc::put_string(m, fsp::kWordString, s1);
  at = keel::rpc::put_string(m, at, s2);
  m.tag = tag(keel::rpc::label(m), at);
  return m;
}

struct Vfs : ::testing::Test {
  MountTable mounts;
  FakeServers servers;

  void SetUp() override {
    ASSERT_TRUE(mounts.add("/", "initrdfs").ok());
    ASSERT_TRUE(mounts.add("/tmp", "tmpfs").ok());
    ASSERT_TRUE(mounts.add("/run", "tmpfs-run").ok());
  }

  Status send(IpcMessage& m, uint64_t badge = kBadge, uint32_t handles = 0) {
    keel::Handle received[keel::kIpcMaxHandles] = {101, 102, 103, 104};
    keel::vfs::handle(mounts, servers, m, badge, {received, handles});
    for (uint32_t i = 0; i < handles; ++i)
      EXPECT_EQ(received[i], keel::Handle(101 + i)) << "a refused handle is the caller's to close";
    return Status(keel::rpc::label(m));
  }

  // A shared read or write with "MemoryObject" `h`; true if vfs passed it on.
  Status shared(uint32_t method, uint64_t fid, uint64_t count, keel::Handle h, bool* passed_on = nullptr) {
    IpcMessage m = request(method, fid, count);
    m.tag = tag(method, fsp::kWordString, 1);
    keel::Handle received[1] = {h};
    keel::vfs::handle(mounts, servers, m, kBadge, {received, 1});
    if (passed_on) *passed_on = received[0] == keel::kInvalidHandle;
    return Status(keel::rpc::label(m));
  }

  Status open(std::string_view path, uint64_t flags, uint64_t* fid, uint64_t badge = kBadge) {
    IpcMessage m = with_path(request(fsp::kOpen, 0, flags, 0644), path);
    Status st = send(m, badge);
    *fid = st == Status::Ok ? m.words[0] : 0;
    return st;
  }

  Status path_op(uint32_t method, std::string_view path, uint64_t a = 0) {
    IpcMessage m = with_path(request(method, 0, a), path);
    return send(m);
  }

  Status write(uint64_t fid, std::string_view bytes, uint64_t badge = kBadge) {
    IpcMessage m = with_path(request(fsp::kWrite, fid), bytes);
    return send(m, badge);
  }

  std::string read(uint64_t fid, Status* st = nullptr) {
    IpcMessage m = request(fsp::kRead, fid, fsp::kIoMax);
    Status s = send(m);
    if (st) *st = s;
    char buf[fsp::kIoMax];
    std::string_view out;
    if (s != Status::Ok || !keel::rpc::get_string(m, fsp::kWordString, buf, sizeof buf, &out, nullptr)) return {};
    return std::string(out);
  }

  // Every entry of directory `path` as "name:type:size".
  std::vector<std::string> list(std::string_view path) {
    uint64_t fid = 0;
    EXPECT_EQ(open(path, fsp::kFlagRead | fsp::kFlagDirectory, &fid), Status::Ok) << path;
    std::vector<std::string> out;
    uint64_t cookie = 0;
    for (int guard = 0; guard < 100; ++guard) {
      IpcMessage m = request(fsp::kReadDir, fid, cookie);
      Status st = send(m);
      if (st == Status::OutOfRange) break;
      EXPECT_EQ(st, Status::Ok);
      if (st != Status::Ok) break;
      char buf[fsp::kNameMax];
      std::string_view name;
      EXPECT_TRUE(keel::rpc::get_string(m, fsp::kWordString, buf, sizeof buf, &name, nullptr));
      out.push_back(std::string(name) + ":" + std::to_string(m.words[1]) + ":" + std::to_string(m.words[2]));
      cookie = m.words[0];
    }
    IpcMessage c = request(fsp::kClose, fid);
    EXPECT_EQ(send(c), Status::Ok);
    return out;
  }
};

constexpr uint64_t kRW = fsp::kFlagRead | fsp::kFlagWrite;
constexpr uint64_t kCreate = kRW | fsp::kFlagCreate;

TEST_F(Vfs, PathsAreMountRelative) {
  uint64_t fid = 0;
  ASSERT_EQ(open("/tmp//./a", kCreate, &fid), Status::Ok);
  EXPECT_EQ(servers.paths[1].back(), "/a");
  EXPECT_EQ(fid >> fsp::kMountShift, 1u);
  EXPECT_EQ(servers.last_client[1], kBadge);
  ASSERT_EQ(write(fid, "hello"), Status::Ok);
  IpcMessage s = request(fsp::kSeek, fid, fsp::kSeekSet, 0);
  ASSERT_EQ(send(s), Status::Ok);
  EXPECT_EQ(read(fid), "hello");
  // The file is on the /tmp server, as "/a".
  auto st = servers.fs[1]->stat("/a");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 5u);
  EXPECT_FALSE(servers.fs[0]->stat("/a").ok());
  EXPECT_FALSE(servers.fs[0]->stat("/tmp/a").ok());
  // ".." out of a mount goes to the mount above.
  ASSERT_EQ(path_op(fsp::kMkdir, "/tmp/../x", 0755), Status::Ok);
  EXPECT_EQ(servers.paths[0].back(), "/x");
  ASSERT_EQ(path_op(fsp::kMkdir, "/tmpx", 0755), Status::Ok);
  EXPECT_EQ(servers.paths[0].back(), "/tmpx");
  ASSERT_EQ(path_op(fsp::kMkdir, "/run/y", 0755), Status::Ok);
  EXPECT_EQ(servers.paths[2].back(), "/y");
}

TEST_F(Vfs, StatGivesTheMountIndex) {
  for (auto [path, index] : {std::pair{"/", 0u}, {"/tmp", 1u}, {"/run", 2u}}) {
    IpcMessage m = with_path(request(fsp::kStat), path);
    ASSERT_EQ(send(m), Status::Ok) << path;
    EXPECT_EQ(m.words[0], fsp::kTypeDirectory);
    EXPECT_EQ(m.words[3], index) << path;
  }
  uint64_t fid = 0;
  ASSERT_EQ(open("/run/f", kCreate, &fid), Status::Ok);
  IpcMessage m = request(fsp::kFstat, fid);
  ASSERT_EQ(send(m), Status::Ok);
  EXPECT_EQ(m.words[0], fsp::kTypeFile);
  EXPECT_EQ(m.words[3], 2u);
}

TEST_F(Vfs, FidsBelongToTheirClient) {
  uint64_t fid = 0;
  ASSERT_EQ(open("/tmp/mine", kCreate, &fid), Status::Ok);
  EXPECT_EQ(write(fid, "x", kBadge + 1), Status::BadHandle);
  EXPECT_EQ(write(fid, "x"), Status::Ok);
  // Another mount's bits on the same server fid: not that mount's file.
  const uint64_t elsewhere = keel::vfs::make_fid(2, uint32_t(fid & fsp::kServerFidMask));
  EXPECT_EQ(write(elsewhere, "x"), Status::BadHandle);
  // kForget reaches every mount: the client's files on all of them close.
  uint64_t root_fid = 0;
  ASSERT_EQ(open("/r", kCreate, &root_fid), Status::Ok);
  IpcMessage f = request(fsp::kForget);
  ASSERT_EQ(send(f), Status::Ok);
  EXPECT_EQ(servers.last_client[0], kBadge);
  EXPECT_EQ(servers.last_client[2], kBadge);
  EXPECT_EQ(write(fid, "x"), Status::BadHandle);
  EXPECT_EQ(write(root_fid, "x"), Status::BadHandle);
}

TEST_F(Vfs, RenameAcrossMountsAndBusyMountPoints) {
  ASSERT_EQ(path_op(fsp::kMkdir, "/tmp/d", 0755), Status::Ok);
  IpcMessage m = with_paths(request(fsp::kRename), "/tmp/d", "/d");
  EXPECT_EQ(send(m), Status::CrossDevice);
  m = with_paths(request(fsp::kRename), "/tmp/d", "/run/d");
  EXPECT_EQ(send(m), Status::CrossDevice);
  m = with_paths(request(fsp::kRename), "/tmp/d", "/tmp/e");
  EXPECT_EQ(send(m), Status::Ok);
  EXPECT_EQ(servers.paths[1].back(), "/d");  // (s1; s2 was "/e")
  EXPECT_TRUE(servers.fs[1]->stat("/e").ok());
  for (auto [from, to] : {std::pair{"/tmp", "/tmp2"}, {"/tmp2", "/tmp"}, {"/", "/x"}, {"/run", "/tmp/run"},
                          {"/tmp/e", "/run"}}) {
    m = with_paths(request(fsp::kRename), from, to);
    EXPECT_EQ(send(m), Status::Busy) << from << " -> " << to;
  }
  for (const char* p : {"/tmp", "/run", "/", "/tmp/../run"}) EXPECT_EQ(path_op(fsp::kRmdir, p), Status::Busy) << p;
  EXPECT_EQ(path_op(fsp::kRmdir, "/tmp/e"), Status::Ok);
}

TEST_F(Vfs, LinksSymlinksAndAttributes) {
  ASSERT_TRUE(servers.fs[1]->mkdir("/d", 0755).ok());
  ASSERT_EQ(path_op(fsp::kMkdir, "/tmp/d/e", 0755), Status::Ok);
  uint64_t fid = 0;
  ASSERT_EQ(open("/tmp/f", kCreate, &fid), Status::Ok);
  // kLink: one mount only, paths made mount-relative.
  IpcMessage m = with_paths(request(fsp::kLink), "/tmp/f", "/run/f");
  EXPECT_EQ(send(m), Status::CrossDevice);
  m = with_paths(request(fsp::kLink), "/tmp/f", "/tmp/d/g");
  EXPECT_EQ(send(m), Status::Ok);
  EXPECT_EQ(servers.fs[1]->stat("/d/g")->links, 2u);
  m = with_paths(request(fsp::kLink), "/tmp/d", "/tmp/h");
  EXPECT_EQ(send(m), Status::IsADirectory);
  // kSymlink: the target goes on as it is, "../x" and "/tmp/f" alike.
  m = with_paths(request(fsp::kSymlink), "/tmp/d/up", "../x//y");
  EXPECT_EQ(send(m), Status::Ok);
  EXPECT_EQ(servers.fs[1]->stat("/d/up")->size, 7u);
  m = with_paths(request(fsp::kSymlink), "/tmp/abs", "/tmp/f");
  EXPECT_EQ(send(m), Status::Ok);
  EXPECT_EQ(servers.fs[1]->stat("/abs")->type, fsp::kTypeSymlink);
  m = with_paths(request(fsp::kSymlink), "/tmp/long", std::string(fsp::kPathMax + 1, 'x'));
  EXPECT_EQ(send(m), Status::NameTooLong);
  m = with_paths(request(fsp::kSymlink), "/tmp/empty", "");
  EXPECT_EQ(send(m), Status::NotFound);
  m = request(fsp::kSymlink);
  m = with_path(m, "/tmp/no-target");
  EXPECT_EQ(send(m), Status::InvalidArgument);
  // kChmod, kSetTimes, kMknod; kStat's inode and links come through.
  EXPECT_EQ(path_op(fsp::kChmod, "/tmp/f", 0600), Status::Ok);
  EXPECT_EQ(servers.fs[1]->stat("/f")->mode, 0600u);
  EXPECT_EQ(path_op(fsp::kChmod, "/tmp/f", 01000), Status::InvalidArgument);
  m = with_path(request(fsp::kSetTimes, 0, 5, fsp::kTimeOmit), "/tmp/f");
  EXPECT_EQ(send(m), Status::Ok);
  EXPECT_EQ(servers.fs[1]->stat("/f")->atime, 5);
  m = with_path(request(fsp::kMknod, 0, fsp::kTypeFifo, 0644), "/tmp/p");
  EXPECT_EQ(send(m), Status::Ok);
  EXPECT_EQ(servers.fs[1]->stat("/p")->type, fsp::kTypeFifo);
  m = with_path(request(fsp::kMknod, 0, fsp::kTypeDirectory, 0644), "/tmp/q");
  EXPECT_EQ(send(m), Status::InvalidArgument);
  m = with_path(request(fsp::kStat), "/tmp/d/g");
  ASSERT_EQ(send(m), Status::Ok);
  ASSERT_GE(keel::rpc::words(m), fsp::kStatWords);
  EXPECT_EQ(m.words[3], 1u);
  EXPECT_EQ(m.words[4], servers.fs[1]->stat("/f")->inode);
  EXPECT_EQ(m.words[5], 2u);
}

TEST_F(Vfs, ReaddirShowsMountPoints) {
  // The root file system has "tmp" (as the initrd does) but no "run".
  ASSERT_TRUE(servers.fs[0]->mkdir("/tmp", 0755).ok());
  ASSERT_TRUE(servers.fs[0]->mkdir("/etc", 0755).ok());
  ASSERT_TRUE(servers.fs[0]->mkdir("/sbin", 0755).ok());
  ASSERT_TRUE(servers.fs[0]->mkdir("/a", 0755).ok());
  ASSERT_TRUE(servers.fs[0]->mkdir("/zz", 0755).ok());
  ASSERT_TRUE(servers.fs[1]->mkdir("/one", 0755).ok());
  ASSERT_TRUE(servers.fs[1]->mkdir("/two", 0755).ok());
  const std::string dir = std::to_string(fsp::kTypeDirectory);
  // Name order; "tmp" once, with the mounted root's size (2 entries).
  EXPECT_EQ(list("/"), (std::vector<std::string>{"a:" + dir + ":0", "etc:" + dir + ":0", "run:" + dir + ":0",
                                                 "sbin:" + dir + ":0", "tmp:" + dir + ":2", "zz:" + dir + ":0"}));
  EXPECT_EQ(list("/tmp"), (std::vector<std::string>{"one:" + dir + ":0", "two:" + dir + ":0"}));
  EXPECT_EQ(list("/run"), std::vector<std::string>{});
  // An empty root: only the mount points.
  servers.fs[0] = std::make_unique<keel::tmpfs::Tmpfs>(1 << 20);
  EXPECT_EQ(list("/"), (std::vector<std::string>{"run:" + dir + ":0", "tmp:" + dir + ":2"}));
}

TEST_F(Vfs, ReaddirBadInputs) {
  uint64_t file = 0;
  ASSERT_EQ(open("/tmp/f", kCreate, &file), Status::Ok);
  IpcMessage m = request(fsp::kReadDir, file, 0);
  EXPECT_EQ(send(m), Status::NotADirectory);
  m = request(fsp::kReadDir, 0, 0);
  EXPECT_EQ(send(m), Status::BadHandle);
  // Forged child bits and cookie bits list nothing that is not there.
  m = request(fsp::kReadDir, file | (uint64_t(0xff) << keel::vfs::kChildShift), ~uint64_t(0));
  EXPECT_NE(send(m), Status::Ok);
  // On a directory they can only add the real mount points' names.
  uint64_t dir = 0;
  ASSERT_EQ(open("/tmp", fsp::kFlagRead, &dir), Status::Ok);
  m = request(fsp::kReadDir, dir | (uint64_t(0xff) << keel::vfs::kChildShift), 0);
  ASSERT_EQ(send(m), Status::Ok);
  char buf[fsp::kNameMax];
  std::string_view name;
  ASSERT_TRUE(keel::rpc::get_string(m, fsp::kWordString, buf, sizeof buf, &name, nullptr));
  EXPECT_EQ(name, "f");
  m = request(fsp::kReadDir, dir, uint64_t(0xff) << keel::vfs::kCookieMountShift);
  ASSERT_EQ(send(m), Status::Ok);
  m = request(fsp::kReadDir, dir, uint64_t(1) << 55);  // a server cookie past the end
  EXPECT_EQ(send(m), Status::OutOfRange);
}

TEST_F(Vfs, MalformedRequests) {
  IpcMessage m = request(fsp::kStat);
  m.tag = tag(fsp::kStat, 3);
  EXPECT_EQ(send(m), Status::InvalidArgument);
  m = with_path(request(fsp::kStat), "/tmp");
  EXPECT_EQ(send(m, kBadge, 1), Status::InvalidArgument);
  m = request(99);
  EXPECT_EQ(send(m), Status::Unsupported);
  m = request(0);
  EXPECT_EQ(send(m), Status::Unsupported);
  // No string, a string past the message, a count past kPathMax.
  m = request(fsp::kStat);
  EXPECT_EQ(send(m), Status::InvalidArgument);
  m = with_path(request(fsp::kStat), "/tmp/abcdefghijkl");
  m.tag = tag(fsp::kStat, fsp::kWordString + 1);
  EXPECT_EQ(send(m), Status::InvalidArgument);
  m = request(fsp::kStat);
  m.words[fsp::kWordString] = fsp::kPathMax + 1;
  m.tag = tag(fsp::kStat, fsp::kWordString + 1);
  EXPECT_EQ(send(m), Status::NameTooLong);
  m = request(fsp::kStat);
  m.words[fsp::kWordString] = ~uint64_t(0);
  m.tag = tag(fsp::kStat, fsp::kWordString + 1);
  EXPECT_EQ(send(m), Status::NameTooLong);
  EXPECT_EQ(path_op(fsp::kStat, "tmp"), Status::InvalidArgument);
  EXPECT_EQ(path_op(fsp::kStat, ""), Status::InvalidArgument);
  EXPECT_EQ(path_op(fsp::kStat, std::string_view("/tmp/a\0b", 8)), Status::InvalidArgument);
  EXPECT_EQ(path_op(fsp::kMkdir, "/tmp/" + std::string(61, 'n'), 0755), Status::NameTooLong);
  EXPECT_EQ(path_op(fsp::kMkdir, "/tmp/" + std::string(60, 'n'), 0755), Status::Ok);
  std::string deep;
  for (int i = 0; i < 17; ++i) deep += "/d";
  EXPECT_EQ(path_op(fsp::kStat, deep), Status::NameTooLong);
  // kRename without its second path.
  m = with_path(request(fsp::kRename), "/tmp/a");
  EXPECT_EQ(send(m), Status::InvalidArgument);
  // Nothing malformed reached a server.
  for (const auto& p : servers.paths)
    for (const auto& s : p) EXPECT_EQ(s.find('\0'), std::string::npos);
  // Fid methods with bad fids.
  for (uint32_t method : {fsp::kClose, fsp::kRead, fsp::kWrite, fsp::kSeek, fsp::kFstat}) {
    m = request(method, keel::vfs::make_fid(3, 1));
    EXPECT_EQ(send(m), Status::BadHandle) << method;
    m = request(method, uint64_t(1) << 50 | 1);
    EXPECT_EQ(send(m), Status::BadHandle) << method;
  }
}

// A server that answers kOpen with a fid past kServerFidMask.
struct BadFidServers final : keel::vfs::Servers {
  std::vector<uint32_t> methods;
  Status call(size_t, IpcMessage& m) override {
    methods.push_back(keel::rpc::label(m));
    m.words[0] = fsp::kServerFidMask + 1;
    m.words[1] = fsp::kTypeFile;
    m.tag = tag(uint32_t(Status::Ok), fsp::kWordString);
    return Status::Ok;
  }
  Status reconnect(size_t) override { return Status::Ok; }
};

TEST_F(Vfs, BadFidFromServerIsClosed) {
  BadFidServers bad;
  IpcMessage m = with_path(request(fsp::kOpen, 0, kRW, 0644), "/tmp/x");
  keel::vfs::handle(mounts, bad, m, kBadge, {});
  EXPECT_EQ(Status(keel::rpc::label(m)), Status::BadState);
  EXPECT_EQ(bad.methods, (std::vector<uint32_t>{fsp::kOpen, fsp::kClose}));
}

TEST_F(Vfs, SharedReadAndWritePassTheMemoryObjectOn) {
  uint64_t fid = 0;
  ASSERT_EQ(open("/tmp/big", kCreate, &fid), Status::Ok);
  auto& out = servers.buffers[42];
  out.resize(5000);
  for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(i * 3);
  bool passed = false;
  ASSERT_EQ(shared(fsp::kWriteShared, fid, out.size(), 42, &passed), Status::Ok);
  EXPECT_TRUE(passed);
  EXPECT_EQ(servers.handles_seen.back(), 42u);
  EXPECT_EQ(servers.last_client[1], kBadge);
  auto st = servers.fs[1]->stat("/big");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 5000u);
  IpcMessage seek = request(fsp::kSeek, fid, fsp::kSeekSet, 0);
  ASSERT_EQ(send(seek), Status::Ok);
  servers.buffers[43].resize(8192);
  ASSERT_EQ(shared(fsp::kReadShared, fid, 8192, 43), Status::Ok);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), servers.buffers[43].begin()));
  // Refused before any server sees them: no handle, two handles, a handle
  // with another method, a bad fid (the handle stays the caller's).
  const size_t seen = servers.handles_seen.size();
  IpcMessage none = request(fsp::kReadShared, fid, 10);
  EXPECT_EQ(send(none), Status::InvalidArgument);
  IpcMessage two = request(fsp::kReadShared, fid, 10);
  EXPECT_EQ(send(two, kBadge, 2), Status::InvalidArgument);
  IpcMessage other = request(fsp::kRead, fid, 10);
  EXPECT_EQ(send(other, kBadge, 1), Status::InvalidArgument);
  EXPECT_EQ(shared(fsp::kReadShared, keel::vfs::make_fid(5, 1), 10, 43, &passed), Status::BadHandle);
  EXPECT_FALSE(passed);
  EXPECT_EQ(servers.handles_seen.size(), seen);
  // Not retried: the handle went with the failed try.
  const int reconnects = servers.reconnects[1];
  servers.failing[1] = 1;
  EXPECT_EQ(shared(fsp::kWriteShared, fid, 10, 42), Status::TimedOut);
  EXPECT_EQ(servers.reconnects[1], reconnects);
}

TEST_F(Vfs, MalformedReplies) {
  servers.malformed_replies = true;
  uint64_t fid = 0;
  EXPECT_EQ(open("/tmp/x", kCreate, &fid), Status::BadState);
  EXPECT_EQ(path_op(fsp::kStat, "/"), Status::BadState);
  servers.malformed_replies = false;
  ASSERT_EQ(open("/tmp/y", kCreate, &fid), Status::Ok);
  servers.malformed_replies = true;
  IpcMessage m = request(fsp::kFstat, fid);
  EXPECT_EQ(send(m), Status::BadState);
}

TEST_F(Vfs, RetriesOnceAfterReconnect) {
  // One failure: reconnected and retried, the client never sees it.
  servers.failing[1] = 1;
  EXPECT_EQ(path_op(fsp::kMkdir, "/tmp/a", 0755), Status::Ok);
  EXPECT_EQ(servers.reconnects[1], 1);
  servers.failure = Status::PeerClosed;
  servers.failing[1] = 1;
  EXPECT_EQ(path_op(fsp::kStat, "/tmp/a"), Status::Ok);
  EXPECT_EQ(servers.reconnects[1], 2);
  // Two in a row: the second is the answer.
  servers.failing[1] = 2;
  EXPECT_EQ(path_op(fsp::kStat, "/tmp/a"), Status::PeerClosed);
  EXPECT_EQ(servers.reconnects[1], 3);
  // Reconnecting fails: the call's failure is the answer, no second call.
  servers.failure = Status::TimedOut;
  servers.reconnect_fails = true;
  servers.failing[1] = 1;
  EXPECT_EQ(path_op(fsp::kStat, "/tmp/a"), Status::TimedOut);
  servers.reconnect_fails = false;
  // Other failures are not retried.
  servers.failure = Status::NotFound;
  servers.failing[1] = 1;
  EXPECT_EQ(path_op(fsp::kStat, "/tmp/a"), Status::NotFound);
  EXPECT_EQ(servers.reconnects[1], 4);
}

TEST_F(Vfs, RestartedServerForgetsItsFids) {
  uint64_t fid = 0;
  ASSERT_EQ(open("/tmp/kept", kCreate, &fid), Status::Ok);
  servers.restart_on_reconnect[1] = true;
  servers.failing[1] = 1;
  // The restarted tmpfs is empty, and the old fid is BadHandle there.
  EXPECT_EQ(write(fid, "x"), Status::BadHandle);
  EXPECT_EQ(path_op(fsp::kStat, "/tmp/kept"), Status::NotFound);
  EXPECT_EQ(open("/tmp/new", kCreate, &fid), Status::Ok);
  EXPECT_EQ(write(fid, "x"), Status::Ok);
}

}  // namespace

namespace {

// kChannel: vfs asks the mount's server (with the caller's badge) and names
// the mount point; a server without channels (dispatch alone: Unsupported)
// gives no handle but the point still comes; past the table: OutOfRange.
TEST_F(Vfs, ChannelNamesTheMountPoint) {
  const char* points[] = {"/", "/tmp", "/run"};
  for (uint64_t i = 0; i < 3; ++i) {
    IpcMessage m = request(fsp::kChannel, 0, i);
    ASSERT_EQ(send(m), Status::Ok) << i;
    EXPECT_EQ(m.words[0], i);
    EXPECT_EQ(m.words[1], 0u);  // (no handle)
    EXPECT_EQ(Status(m.words[2]), Status::Unsupported);
    EXPECT_EQ(keel::rpc::handles(m), 0u);
    EXPECT_EQ(servers.last_client[i], kBadge);
    char buf[fsp::kPathMax];
    std::string_view point;
    ASSERT_TRUE(keel::rpc::get_string(m, fsp::kWordString, buf, sizeof buf, &point, nullptr));
    EXPECT_EQ(point, points[i]);
  }
  IpcMessage past = request(fsp::kChannel, 0, 3);
  EXPECT_EQ(send(past), Status::OutOfRange);
  IpcMessage huge = request(fsp::kChannel, 0, ~uint64_t(0));
  EXPECT_EQ(send(huge), Status::OutOfRange);
  // A server that does not answer: the point still comes, with its Status.
  servers.failing[1] = 2;
  servers.failure = Status::TimedOut;
  servers.reconnect_fails = true;
  IpcMessage m = request(fsp::kChannel, 0, 1);
  ASSERT_EQ(send(m), Status::Ok);
  EXPECT_EQ(m.words[1], 0u);
  EXPECT_EQ(Status(m.words[2]), Status::TimedOut);
}

}  // namespace
