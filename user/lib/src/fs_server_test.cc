// fs_server_test.cc — host tests for keel/fs_server.h's dispatch: protocol
// messages against a real tmpfs core, and every malformed request (short
// messages, handles, strings past the message, counts past the bounds, bad
// flags, modes, whence and fids, unknown methods) refused before the backend
// sees it.
#include <gtest/gtest.h>

#include <keel/fs_server.h>
#include <keel/rpc.h>

#include "../../servers/tmpfs/tmpfs.h"

#include <string>
#include <string_view>
#include <vector>

namespace fsp = keel::proto::fs;
using keel::IpcMessage;
using keel::Status;
using keel::rpc::tag;

namespace {

constexpr uint64_t kClient = 9;

IpcMessage request(uint32_t method, uint64_t fid = 0, uint64_t a = 0, uint64_t b = 0) {
  IpcMessage m{};
  m.words[fsp::kWordFid] = fid;
  m.words[fsp::kWordA] = a;
  m.words[fsp::kWordB] = b;
  m.words[fsp::kWordClient] = kClient;
  m.tag = tag(method, fsp::kWordString);
  return m;
}

IpcMessage with_strings(IpcMessage m, std::string_view s1, std::string_view s2 = {}, bool second = false) {
  uint32_t at = keel::rpc::put_string(m, fsp::kWordString, s1);
  if (second) at = keel::rpc::put_string(m, at, s2);
  m.tag = tag(keel::rpc::label(m), at);
  return m;
}

Status send(keel::fs::Backend& b, IpcMessage& m, uint32_t handles = 0) {
  keel::fs::dispatch(b, m, handles);
  return Status(keel::rpc::label(m));
}

struct Dispatch : ::testing::Test {
  keel::tmpfs::Tmpfs fs{1 << 20};

  uint64_t open(std::string_view path, uint64_t flags) {
    IpcMessage m = with_strings(request(fsp::kOpen, 0, flags, 0644), path);
    EXPECT_EQ(send(fs, m), Status::Ok) << path;
    return m.words[0];
  }
};

TEST_F(Dispatch, OpenWriteReadStat) {
  const uint64_t fid = open("/hello", fsp::kFlagRead | fsp::kFlagWrite | fsp::kFlagCreate);
  ASSERT_NE(fid, 0u);
  IpcMessage w = with_strings(request(fsp::kWrite, fid), "hello, world");
  ASSERT_EQ(send(fs, w), Status::Ok);
  EXPECT_EQ(w.words[0], 12u);
  IpcMessage s = request(fsp::kSeek, fid, fsp::kSeekSet, 7);
  ASSERT_EQ(send(fs, s), Status::Ok);
  EXPECT_EQ(s.words[0], 7u);
  IpcMessage r = request(fsp::kRead, fid, fsp::kIoMax);
  ASSERT_EQ(send(fs, r), Status::Ok);
  EXPECT_EQ(r.words[0], 5u);
  char buf[fsp::kIoMax];
  std::string_view got;
  ASSERT_TRUE(keel::rpc::get_string(r, fsp::kWordString, buf, sizeof buf, &got, nullptr));
  EXPECT_EQ(got, "world");
  IpcMessage st = with_strings(request(fsp::kStat), "//hello/");  // normalised by the server
  ASSERT_EQ(send(fs, st), Status::Ok);
  EXPECT_EQ(st.words[0], fsp::kTypeFile);
  EXPECT_EQ(st.words[1], 12u);
  EXPECT_EQ(st.words[2], 0644u);
  IpcMessage c = request(fsp::kClose, fid);
  EXPECT_EQ(send(fs, c), Status::Ok);
  IpcMessage again = request(fsp::kClose, fid);
  EXPECT_EQ(send(fs, again), Status::BadHandle);
}

TEST_F(Dispatch, DirectoriesRenameTruncateForget) {
  IpcMessage mk = with_strings(request(fsp::kMkdir, 0, 0755), "/d");
  ASSERT_EQ(send(fs, mk), Status::Ok);
  const uint64_t f = open("/d/b", fsp::kFlagWrite | fsp::kFlagCreate);
  IpcMessage mv = with_strings(request(fsp::kRename), "/d/b", "/d/a", true);
  ASSERT_EQ(send(fs, mv), Status::Ok);
  const uint64_t d = open("/d", fsp::kFlagRead | fsp::kFlagDirectory);
  IpcMessage rd = request(fsp::kReadDir, d, 0);
  ASSERT_EQ(send(fs, rd), Status::Ok);
  char buf[64];
  std::string_view name;
  ASSERT_TRUE(keel::rpc::get_string(rd, fsp::kWordString, buf, sizeof buf, &name, nullptr));
  EXPECT_EQ(name, "a");
  EXPECT_EQ(rd.words[1], fsp::kTypeFile);
  IpcMessage rd2 = request(fsp::kReadDir, d, rd.words[0]);
  EXPECT_EQ(send(fs, rd2), Status::OutOfRange);
  IpcMessage tr = with_strings(request(fsp::kTruncate, 0, 100), "/d/a");
  ASSERT_EQ(send(fs, tr), Status::Ok);
  IpcMessage fst = request(fsp::kFstat, f);
  ASSERT_EQ(send(fs, fst), Status::Ok);
  EXPECT_EQ(fst.words[1], 100u);
  IpcMessage rm = with_strings(request(fsp::kRmdir), "/d");
  EXPECT_EQ(send(fs, rm), Status::NotEmpty);
  IpcMessage ul = with_strings(request(fsp::kUnlink), "/d/a");
  EXPECT_EQ(send(fs, ul), Status::Ok);
  IpcMessage forget = request(fsp::kForget);
  EXPECT_EQ(send(fs, forget), Status::Ok);
  IpcMessage closed = request(fsp::kFstat, f);
  EXPECT_EQ(send(fs, closed), Status::BadHandle);
  IpcMessage rm2 = with_strings(request(fsp::kRmdir), "/d");
  EXPECT_EQ(send(fs, rm2), Status::Ok);
}

// kReadShared / kWriteShared: the bytes go through the mapped MemoryObject
// (here a host buffer), not the message.
TEST_F(Dispatch, SharedReadAndWrite) {
  const uint64_t fid = open("/big", fsp::kFlagRead | fsp::kFlagWrite | fsp::kFlagCreate);
  std::vector<uint8_t> out(10000), in(10000);
  for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(i * 13 + 1);
  IpcMessage w = request(fsp::kWriteShared, fid, out.size());
  keel::fs::dispatch(fs, w, 1, {out.data(), out.size()});
  ASSERT_EQ(Status(keel::rpc::label(w)), Status::Ok);
  EXPECT_EQ(w.words[0], out.size());
  IpcMessage seek = request(fsp::kSeek, fid, fsp::kSeekSet, 0);
  ASSERT_EQ(send(fs, seek), Status::Ok);
  IpcMessage r = request(fsp::kReadShared, fid, in.size());
  keel::fs::dispatch(fs, r, 1, {in.data(), in.size()});
  ASSERT_EQ(Status(keel::rpc::label(r)), Status::Ok);
  EXPECT_EQ(r.words[0], in.size());
  EXPECT_EQ(in, out);
  // At the end: 0 bytes.
  r = request(fsp::kReadShared, fid, in.size());
  keel::fs::dispatch(fs, r, 1, {in.data(), in.size()});
  ASSERT_EQ(Status(keel::rpc::label(r)), Status::Ok);
  EXPECT_EQ(r.words[0], 0u);
  // Malformed: no handle, two, a count of 0 or past kSharedMax, a buffer
  // that is not the count, a bad fid.
  struct Case {
    uint64_t fid, count;
    uint32_t handles;
    size_t buffer;
    Status want;
  } cases[] = {{fid, 100, 0, 100, Status::InvalidArgument},
               {fid, 100, 2, 100, Status::InvalidArgument},
               {fid, 0, 1, 0, Status::InvalidArgument},
               {fid, fsp::kSharedMax + 1, 1, 100, Status::InvalidArgument},
               {fid, 100, 1, 99, Status::InvalidArgument},
               {0, 100, 1, 100, Status::BadHandle},
               {fid + 1000, 100, 1, 100, Status::BadHandle}};
  for (uint32_t method : {fsp::kReadShared, fsp::kWriteShared}) {
    for (const Case& c : cases) {
      IpcMessage m = request(method, c.fid, c.count);
      keel::fs::dispatch(fs, m, c.handles, {in.data(), c.buffer});
      EXPECT_EQ(Status(keel::rpc::label(m)), c.want) << method << " count " << c.count << " handles " << c.handles;
    }
  }
  // A directory is IsADirectory, as with kRead.
  IpcMessage d = with_strings(request(fsp::kOpen, 0, fsp::kFlagRead), "/");
  ASSERT_EQ(send(fs, d), Status::Ok);
  r = request(fsp::kReadShared, d.words[0], 10);
  keel::fs::dispatch(fs, r, 1, {in.data(), 10});
  EXPECT_EQ(Status(keel::rpc::label(r)), Status::IsADirectory);
}

TEST_F(Dispatch, LinksAttributesAndTheLongStat) {
  (void)open("/f", fsp::kFlagWrite | fsp::kFlagCreate);
  IpcMessage l = with_strings(request(fsp::kLink), "/f", "//g", true);  // (paths normalised)
  ASSERT_EQ(send(fs, l), Status::Ok);
  IpcMessage st = with_strings(request(fsp::kStat), "/g");
  ASSERT_EQ(send(fs, st), Status::Ok);
  ASSERT_EQ(keel::rpc::words(st), fsp::kStatWords);
  EXPECT_EQ(st.words[4], fs.stat("/f")->inode);
  EXPECT_EQ(st.words[5], 2u);
  // The symlink target is taken as it is; bounds and NULs are checked.
  IpcMessage sl = with_strings(request(fsp::kSymlink), "/s", "a//b/../c", true);
  ASSERT_EQ(send(fs, sl), Status::Ok);
  uint64_t fid = open("/s", fsp::kFlagRead | fsp::kFlagLink);
  IpcMessage rd = request(fsp::kRead, fid, 64);
  ASSERT_EQ(send(fs, rd), Status::Ok);
  EXPECT_EQ(rd.words[0], 9u);
  IpcMessage nul = with_strings(request(fsp::kSymlink), "/t", std::string_view("a\0b", 3), true);
  EXPECT_EQ(send(fs, nul), Status::InvalidArgument);
  IpcMessage empty = with_strings(request(fsp::kSymlink), "/t", "", true);
  EXPECT_EQ(send(fs, empty), Status::NotFound);
  IpcMessage longer = with_strings(request(fsp::kSymlink), "/t", std::string(fsp::kPathMax + 1, 'x'), true);
  EXPECT_EQ(send(fs, longer), Status::NameTooLong);
  IpcMessage one = with_strings(request(fsp::kSymlink), "/t");
  EXPECT_EQ(send(fs, one), Status::InvalidArgument);
  // kChmod, kSetTimes, kMknod and their bad arguments.
  IpcMessage ch = with_strings(request(fsp::kChmod, 0, 0640), "/f");
  EXPECT_EQ(send(fs, ch), Status::Ok);
  EXPECT_EQ(fs.stat("/f")->mode, 0640u);
  IpcMessage badch = with_strings(request(fsp::kChmod, 0, 04755), "/f");
  EXPECT_EQ(send(fs, badch), Status::InvalidArgument);
  IpcMessage times = with_strings(request(fsp::kSetTimes, 0, fsp::kTimeOmit, 12345), "/f");
  EXPECT_EQ(send(fs, times), Status::Ok);
  EXPECT_EQ(fs.stat("/f")->mtime, 12345);
  IpcMessage fifo = with_strings(request(fsp::kMknod, 0, fsp::kTypeFifo, 0600), "/p");
  EXPECT_EQ(send(fs, fifo), Status::Ok);
  IpcMessage badtype = with_strings(request(fsp::kMknod, 0, fsp::kTypeFile, 0600), "/q");
  EXPECT_EQ(send(fs, badtype), Status::InvalidArgument);
  IpcMessage badmode = with_strings(request(fsp::kMknod, 0, fsp::kTypeFifo, 01600), "/q");
  EXPECT_EQ(send(fs, badmode), Status::InvalidArgument);
}

TEST_F(Dispatch, MalformedRequests) {
  IpcMessage unknown = request(99);
  EXPECT_EQ(send(fs, unknown), Status::Unsupported);
  IpcMessage zero = request(0);
  EXPECT_EQ(send(fs, zero), Status::Unsupported);
  IpcMessage ping = request(keel::rpc::kMethodPing);
  EXPECT_EQ(send(fs, ping), Status::Unsupported);
  IpcMessage short_msg = request(fsp::kForget);
  short_msg.tag = tag(fsp::kForget, 3);
  EXPECT_EQ(send(fs, short_msg), Status::InvalidArgument);
  IpcMessage handles = request(fsp::kForget);
  EXPECT_EQ(send(fs, handles, 1), Status::InvalidArgument);
  // No string at all, a count past the message, bytes past the message.
  IpcMessage none = request(fsp::kStat);
  EXPECT_EQ(send(fs, none), Status::InvalidArgument);
  IpcMessage past = with_strings(request(fsp::kStat), "/");
  past.words[fsp::kWordString] = 100;  // more bytes than the words that follow
  EXPECT_EQ(send(fs, past), Status::InvalidArgument);
  IpcMessage cut = with_strings(request(fsp::kStat), "/a-long-enough-name");
  cut.tag = tag(fsp::kStat, keel::rpc::words(cut) - 1);
  EXPECT_EQ(send(fs, cut), Status::InvalidArgument);
  IpcMessage huge = with_strings(request(fsp::kStat), "/");
  huge.words[fsp::kWordString] = ~uint64_t(0);
  EXPECT_EQ(send(fs, huge), Status::NameTooLong);
  IpcMessage longpath = with_strings(request(fsp::kStat), "/" + std::string(fsp::kPathMax, 'x'));
  EXPECT_EQ(send(fs, longpath), Status::NameTooLong);
  IpcMessage relative = with_strings(request(fsp::kStat), "relative");
  EXPECT_EQ(send(fs, relative), Status::InvalidArgument);
  IpcMessage nul = with_strings(request(fsp::kStat), std::string_view("/a\0b", 4));
  EXPECT_EQ(send(fs, nul), Status::InvalidArgument);
  // kRename without its second path.
  IpcMessage one = with_strings(request(fsp::kRename), "/a");
  EXPECT_EQ(send(fs, one), Status::InvalidArgument);
  // Flags, modes, whence, counts, fids.
  IpcMessage flags = with_strings(request(fsp::kOpen, 0, 0x100 | fsp::kFlagRead), "/x");
  EXPECT_EQ(send(fs, flags), Status::InvalidArgument);
  IpcMessage neither = with_strings(request(fsp::kOpen, 0, fsp::kFlagCreate), "/x");
  EXPECT_EQ(send(fs, neither), Status::InvalidArgument);
  IpcMessage mode = with_strings(request(fsp::kOpen, 0, fsp::kFlagRead | fsp::kFlagWrite | fsp::kFlagCreate, 01000), "/x");
  EXPECT_EQ(send(fs, mode), Status::InvalidArgument);
  IpcMessage mkmode = with_strings(request(fsp::kMkdir, 0, 07777), "/x");
  EXPECT_EQ(send(fs, mkmode), Status::InvalidArgument);
  const uint64_t fid = open("/f", fsp::kFlagRead | fsp::kFlagWrite | fsp::kFlagCreate);
  IpcMessage whence = request(fsp::kSeek, fid, 3, 0);
  EXPECT_EQ(send(fs, whence), Status::InvalidArgument);
  IpcMessage before = request(fsp::kSeek, fid, fsp::kSeekSet, uint64_t(-1));
  EXPECT_EQ(send(fs, before), Status::InvalidArgument);
  IpcMessage count = request(fsp::kRead, fid, fsp::kIoMax + 1);
  EXPECT_EQ(send(fs, count), Status::InvalidArgument);
  IpcMessage big_write = with_strings(request(fsp::kWrite, fid), std::string(fsp::kIoMax, 'w'));
  EXPECT_EQ(send(fs, big_write), Status::Ok);
  IpcMessage too_big = with_strings(request(fsp::kWrite, fid), "x");
  too_big.words[fsp::kWordString] = fsp::kIoMax + 1;
  EXPECT_EQ(send(fs, too_big), Status::InvalidArgument);
  IpcMessage fid0 = request(fsp::kRead, 0, 1);
  EXPECT_EQ(send(fs, fid0), Status::BadHandle);
  IpcMessage fid_high = request(fsp::kRead, fid | (uint64_t(1) << fsp::kMountShift), 1);
  EXPECT_EQ(send(fs, fid_high), Status::BadHandle);
  IpcMessage other = request(fsp::kRead, fid, 1);
  other.words[fsp::kWordClient] = kClient + 1;  // not this client's fid
  EXPECT_EQ(send(fs, other), Status::BadHandle);
  // The backend still works.
  IpcMessage ok = request(fsp::kFstat, fid);
  ASSERT_EQ(send(fs, ok), Status::Ok);
  EXPECT_EQ(ok.words[1], fsp::kIoMax);
}

}  // namespace

namespace {

TEST_F(Dispatch, Statfs) {
  // 1 MiB quota: 256 blocks of 4 KiB; the root costs a node.
  IpcMessage m = with_strings(request(fsp::kStatfs), "/");
  ASSERT_EQ(send(fs, m), Status::Ok);
  ASSERT_EQ(keel::rpc::words(m), fsp::kStatfsWords);
  EXPECT_EQ(m.words[0], 4096u);
  EXPECT_EQ(m.words[1], 256u);
  EXPECT_EQ(m.words[2], ((1u << 20) - keel::tmpfs::kNodeCost) / 4096);
  EXPECT_EQ(m.words[3], 1 + m.words[4]);
  EXPECT_EQ(m.words[5], fsp::kFsMemory);
  const uint64_t fid = open("/f", fsp::kFlagWrite | fsp::kFlagCreate);
  IpcMessage w = with_strings(request(fsp::kWrite, fid), "data");
  ASSERT_EQ(send(fs, w), Status::Ok);
  IpcMessage f = request(fsp::kFstatfs, fid);
  ASSERT_EQ(send(fs, f), Status::Ok);
  EXPECT_EQ(f.words[1], 256u);
  EXPECT_LT(f.words[2], m.words[2]);  // a page and a node less
  EXPECT_EQ(f.words[4], m.words[4] - 1 - keel::tmpfs::kPageBytes / keel::tmpfs::kNodeCost);
  // The path must exist; the fid must be open.
  IpcMessage missing = with_strings(request(fsp::kStatfs), "/nope");
  EXPECT_EQ(send(fs, missing), Status::NotFound);
  IpcMessage bad = request(fsp::kFstatfs, 777);
  EXPECT_EQ(send(fs, bad), Status::BadHandle);
  IpcMessage nostring = request(fsp::kStatfs);
  EXPECT_EQ(send(fs, nostring), Status::InvalidArgument);
}

struct FakeImages final : keel::fs::Images {
  std::string last;
  ktl::Result<uint32_t> image(std::string_view path, keel::fs::Stat* st) override {
    last = path;
    if (path == "/dir") return ktl::Error::IsADirectory;
    st->type = fsp::kTypeFile;
    st->size = 1234;
    st->mode = 0755;
    st->inode = 42;
    return 77u;
  }
};

TEST_F(Dispatch, ImageGoesToTheImagesWithTheHandleInTheReply) {
  FakeImages images;
  IpcMessage m = with_strings(request(fsp::kImage), "/bin/../bin/prog");
  keel::fs::dispatch(fs, m, 0, {}, &images);
  ASSERT_EQ(Status(keel::rpc::label(m)), Status::Ok);
  EXPECT_EQ(images.last, "/bin/prog");  // (normalised first)
  EXPECT_EQ(keel::rpc::handles(m), 1u);
  EXPECT_EQ(m.handles[0], 77u);
  EXPECT_EQ(m.words[0], fsp::kTypeFile);
  EXPECT_EQ(m.words[1], 1234u);
  EXPECT_EQ(m.words[2], 0755u);
  EXPECT_EQ(m.words[3], 42u);
  m = with_strings(request(fsp::kImage), "/dir");
  keel::fs::dispatch(fs, m, 0, {}, &images);
  EXPECT_EQ(Status(keel::rpc::label(m)), Status::IsADirectory);
  EXPECT_EQ(keel::rpc::handles(m), 0u);
  // Malformed: refused before the Images see it.
  images.last.clear();
  m = with_strings(request(fsp::kImage), "relative");
  keel::fs::dispatch(fs, m, 0, {}, &images);
  EXPECT_EQ(Status(keel::rpc::label(m)), Status::InvalidArgument);
  m = with_strings(request(fsp::kImage), "/x");
  keel::fs::dispatch(fs, m, 1, {}, &images);  // (a handle with it)
  EXPECT_EQ(Status(keel::rpc::label(m)), Status::InvalidArgument);
  EXPECT_TRUE(images.last.empty());
  // A server without Images: Unsupported (the client reads the file instead).
  m = with_strings(request(fsp::kImage), "/x");
  EXPECT_EQ(send(fs, m), Status::Unsupported);
}

// kChannel is serve()'s (it mints a handle of its endpoint): dispatch alone
// answers Unsupported, as a server without channels does.
TEST_F(Dispatch, ChannelIsNotTheBackends) {
  IpcMessage m = request(fsp::kChannel);
  EXPECT_EQ(send(fs, m), Status::Unsupported);
  EXPECT_EQ(keel::rpc::handles(m), 0u);
}

}  // namespace
