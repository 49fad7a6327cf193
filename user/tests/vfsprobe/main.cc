// vfsprobe — a test of the VFS through keel/fs.h, in the system suite's
// initrd only (user/tests/system). The policy lets /sbin/vfsprobe look up
// `vfs`; the manifest restarts it on failure. It works in /run (the session
// itself checks /tmp).
//
// First run (no /run/vfsprobe-ran): the error cases of keel/proto/fs.h
// through the library — missing files, bad flags and paths, bounds, files
// where directories are needed and the reverse, exclusive creation, bad and
// forged fids, bad seeks, renames across mounts and into themselves,
// non-empty directories, the read-only initrd, hard and symbolic links,
// modes, times and FIFO nodes — and reads and writes that
// span several requests, through messages and through shared memory (1.25
// MiB written and read back, a program read whole from the initrd); then it opens kOpenMax files, leaves them open and
// exits 1. init restarts it.
// Second run: its first request sends kForget, so the files of the first
// run are closed: it can open kOpenMax files again (without kForget the
// first open would be NoSpace). Prints "vfsprobe: all checks passed" if
// every check held, and exits 0.
#include <keel/fs.h>
#include <keel/keel.h>

#include <new>

namespace fsp = keel::proto::fs;
using keel::Status;

namespace {

int g_failures = 0;
int g_checks = 0;

void check(bool ok, int line, std::string_view what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    keel::print("vfsprobe: FAIL line {}: {}\n", line, what);
  }
}

void expect(Status got, Status want, int line) {
  ++g_checks;
  if (got != want) {
    ++g_failures;
    keel::print("vfsprobe: FAIL line {}: {} (expected {})\n", line, keel::status_name(got), keel::status_name(want));
  }
}
#define EXPECT(call, want) expect((call), (want), __LINE__)
#define CHECK(cond) check((cond), __LINE__, #cond)

constexpr uint64_t kRW = fsp::kFlagRead | fsp::kFlagWrite;
constexpr const char* kMarker = "/run/vfsprobe-ran";

void error_cases() {
  keel::fs::Fid f = 0, d = 0;
  keel::fs::Info info;
  EXPECT(keel::fs::open("/run/nope", fsp::kFlagRead, &f), Status::NotFound);
  EXPECT(keel::fs::open("/run/nope/x", kRW | fsp::kFlagCreate, &f), Status::NotFound);
  EXPECT(keel::fs::open("/run/x", 0, &f), Status::InvalidArgument);
  EXPECT(keel::fs::open("/run/x", fsp::kFlagRead | 0x1000, &f), Status::InvalidArgument);
  EXPECT(keel::fs::open("run/x", fsp::kFlagRead, &f), Status::InvalidArgument);
  char long_path[fsp::kPathMax + 8];
  long_path[0] = '/';
  for (size_t i = 1; i < sizeof long_path; ++i) long_path[i] = 'a';
  EXPECT(keel::fs::stat({long_path, sizeof long_path}, &info), Status::NameTooLong);
  EXPECT(keel::fs::mkdir({long_path, fsp::kNameMax + 2}), Status::NameTooLong);  // one name of 61 bytes
  EXPECT(keel::fs::stat("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", &info), Status::NameTooLong);  // depth 17

  EXPECT(keel::fs::mkdir("/run/vp"), Status::Ok);
  EXPECT(keel::fs::mkdir("/run/vp"), Status::AlreadyExists);
  EXPECT(keel::fs::open("/run/vp", kRW, &f), Status::IsADirectory);
  EXPECT(keel::fs::unlink("/run/vp"), Status::IsADirectory);
  EXPECT(keel::fs::open("/run/vp/f", kRW | fsp::kFlagCreate | fsp::kFlagExclusive, &f), Status::Ok);
  keel::fs::Fid again = 0;
  EXPECT(keel::fs::open("/run/vp/f", kRW | fsp::kFlagCreate | fsp::kFlagExclusive, &again), Status::AlreadyExists);
  EXPECT(keel::fs::open("/run/vp/f", fsp::kFlagRead | fsp::kFlagDirectory, &again), Status::NotADirectory);
  EXPECT(keel::fs::mkdir("/run/vp/f/sub"), Status::NotADirectory);
  EXPECT(keel::fs::rmdir("/run/vp/f"), Status::NotADirectory);

  // 1000 bytes: three requests each way.
  uint8_t out[1000], in[1000];
  for (size_t i = 0; i < sizeof out; ++i) out[i] = uint8_t(i * 7);
  size_t n = 0;
  EXPECT(keel::fs::write(f, {out, sizeof out}, &n), Status::Ok);
  CHECK(n == sizeof out);
  uint64_t pos = 1;
  EXPECT(keel::fs::seek(f, fsp::kSeekSet, 0, &pos), Status::Ok);
  CHECK(pos == 0);
  EXPECT(keel::fs::read(f, {in, sizeof in}, &n), Status::Ok);
  CHECK(n == sizeof in);
  bool same = true;
  for (size_t i = 0; i < sizeof in; ++i) same = same && in[i] == out[i];
  CHECK(same);
  EXPECT(keel::fs::read(f, {in, sizeof in}, &n), Status::Ok);
  CHECK(n == 0);  // the end
  EXPECT(keel::fs::seek(f, fsp::kSeekSet, -1), Status::InvalidArgument);
  EXPECT(keel::fs::seek(f, 7, 0), Status::InvalidArgument);
  EXPECT(keel::fs::truncate("/run/vp/f", 10), Status::Ok);
  EXPECT(keel::fs::fstat(f, &info), Status::Ok);
  CHECK(info.type == fsp::kTypeFile && info.size == 10 && info.mount == 2);
  uint64_t cookie = 0;
  keel::fs::DirEntry e;
  EXPECT(keel::fs::readdir(f, &cookie, &e), Status::NotADirectory);
  // Forged fids: another mount's bits, bits past the mount, 0.
  EXPECT(keel::fs::fstat(f ^ (uint64_t(1) << fsp::kMountShift), &info), Status::BadHandle);
  EXPECT(keel::fs::fstat(f | (uint64_t(1) << 45), &info), Status::BadHandle);
  EXPECT(keel::fs::fstat(f | (uint64_t(7) << fsp::kMountShift), &info), Status::BadHandle);
  EXPECT(keel::fs::close(0), Status::BadHandle);
  EXPECT(keel::fs::close(f), Status::Ok);
  EXPECT(keel::fs::close(f), Status::BadHandle);

  EXPECT(keel::fs::open("/run/vp", fsp::kFlagRead | fsp::kFlagDirectory, &d), Status::Ok);
  cookie = 0;
  EXPECT(keel::fs::readdir(d, &cookie, &e), Status::Ok);
  CHECK(e.view() == "f" && e.type == fsp::kTypeFile && e.size == 10);
  EXPECT(keel::fs::readdir(d, &cookie, &e), Status::OutOfRange);
  EXPECT(keel::fs::close(d), Status::Ok);

  EXPECT(keel::fs::rename("/run/vp/f", "/tmp/f"), Status::CrossDevice);
  EXPECT(keel::fs::rename("/run/vp", "/run/vp/sub"), Status::InvalidArgument);
  EXPECT(keel::fs::rename("/run", "/run2"), Status::Busy);
  EXPECT(keel::fs::rmdir("/run/vp"), Status::NotEmpty);
  EXPECT(keel::fs::rmdir("/"), Status::Busy);
  EXPECT(keel::fs::rename("/run/vp/f", "/run/vp/g"), Status::Ok);
  EXPECT(keel::fs::unlink("/run/vp/g"), Status::Ok);
  EXPECT(keel::fs::unlink("/run/vp/g"), Status::NotFound);
  EXPECT(keel::fs::rmdir("/run/vp"), Status::Ok);

  // The initrd: read-only, mount 0.
  EXPECT(keel::fs::stat("/etc/manifest", &info), Status::Ok);
  CHECK(info.type == fsp::kTypeFile && info.size > 0 && info.mount == 0);
  EXPECT(keel::fs::open("/etc/manifest", kRW, &f), Status::AccessDenied);
  EXPECT(keel::fs::mkdir("/etc/new"), Status::AccessDenied);
  EXPECT(keel::fs::unlink("/etc/policy"), Status::AccessDenied);
  EXPECT(keel::fs::stat("/run", &info), Status::Ok);
  CHECK(info.type == fsp::kTypeDirectory && info.mount == 2);
}

// Links, modes, times, FIFOs (kSymlink, kLink, kChmod, kSetTimes, kMknod)
// and their errors, through vfs to tmpfs and the read-only initrd.
void link_cases() {
  keel::fs::Fid f = 0;
  keel::fs::Info info, other;
  EXPECT(keel::fs::open("/run/lf", kRW | fsp::kFlagCreate | fsp::kFlagTruncate, &f), Status::Ok);
  EXPECT(keel::fs::write(f, "data"), Status::Ok);
  EXPECT(keel::fs::link("/run/lf", "/run/lf2"), Status::Ok);
  EXPECT(keel::fs::stat("/run/lf", &info), Status::Ok);
  EXPECT(keel::fs::stat("/run/lf2", &other), Status::Ok);
  CHECK(info.inode != 0 && info.inode == other.inode && info.links == 2 && info.mtime > 0);
  EXPECT(keel::fs::link("/run/lf", "/run/lf2"), Status::AlreadyExists);
  EXPECT(keel::fs::link("/run/lf", "/tmp/lf"), Status::CrossDevice);
  EXPECT(keel::fs::link("/run", "/run/dir-link"), Status::IsADirectory);
  EXPECT(keel::fs::link("/run/missing", "/run/x"), Status::NotFound);
  EXPECT(keel::fs::link("/etc/policy", "/etc/policy2"), Status::AccessDenied);
  EXPECT(keel::fs::unlink("/run/lf2"), Status::Ok);
  EXPECT(keel::fs::unlink("/run/lf"), Status::Ok);
  EXPECT(keel::fs::fstat(f, &info), Status::Ok);
  CHECK(info.links == 0 && info.size == 4);  // open, with no name left
  EXPECT(keel::fs::fchmod(f, 0600), Status::Ok);  // the fid forms still reach it
  EXPECT(keel::fs::set_times(f, 77, fsp::kTimeOmit), Status::Ok);
  EXPECT(keel::fs::ftruncate(f, 1), Status::Ok);
  EXPECT(keel::fs::fstat(f, &info), Status::Ok);
  CHECK(info.mode == 0600 && info.atime == 77 && info.size == 1);
  EXPECT(keel::fs::fchmod(f, 07777), Status::InvalidArgument);
  EXPECT(keel::fs::close(f), Status::Ok);
  EXPECT(keel::fs::fchmod(f, 0600), Status::BadHandle);
  EXPECT(keel::fs::ftruncate(f, 0), Status::BadHandle);

  EXPECT(keel::fs::symlink("/run/ls", "../some/where"), Status::Ok);
  EXPECT(keel::fs::stat("/run/ls", &info), Status::Ok);
  CHECK(info.type == fsp::kTypeSymlink && info.size == 13);
  EXPECT(keel::fs::open("/run/ls", fsp::kFlagRead, &f), Status::Unsupported);
  EXPECT(keel::fs::open("/run/ls", fsp::kFlagRead | fsp::kFlagLink, &f), Status::Ok);
  char target[32];
  size_t n = 0;
  EXPECT(keel::fs::read(f, {reinterpret_cast<uint8_t*>(target), sizeof target}, &n), Status::Ok);
  CHECK(n == 13 && std::string_view(target, n) == "../some/where");
  EXPECT(keel::fs::close(f), Status::Ok);
  EXPECT(keel::fs::symlink("/run/ls", "x"), Status::AlreadyExists);
  EXPECT(keel::fs::symlink("/run/empty-target", ""), Status::NotFound);
  EXPECT(keel::fs::symlink("/etc/new-link", "x"), Status::AccessDenied);
  EXPECT(keel::fs::stat("/run/ls/x", &info), Status::NotADirectory);  // (not followed)
  EXPECT(keel::fs::unlink("/run/ls"), Status::Ok);

  EXPECT(keel::fs::mkdir("/run/attr", 0700), Status::Ok);
  EXPECT(keel::fs::chmod("/run/attr", 0750), Status::Ok);
  EXPECT(keel::fs::stat("/run/attr", &info), Status::Ok);
  CHECK(info.mode == 0750);
  EXPECT(keel::fs::chmod("/run/attr", 07777), Status::InvalidArgument);
  EXPECT(keel::fs::chmod("/run/missing", 0600), Status::NotFound);
  EXPECT(keel::fs::chmod("/etc/policy", 0600), Status::AccessDenied);
  EXPECT(keel::fs::set_times("/run/attr", uint64_t(-1000), fsp::kTimeOmit), Status::Ok);
  EXPECT(keel::fs::stat("/run/attr", &info), Status::Ok);
  CHECK(info.atime == -1000 && info.mtime > 0);
  EXPECT(keel::fs::set_times("/run/missing", 1, 1), Status::NotFound);
  EXPECT(keel::fs::mknod("/run/attr/fifo", fsp::kTypeFifo, 0600), Status::Ok);
  EXPECT(keel::fs::stat("/run/attr/fifo", &info), Status::Ok);
  CHECK(info.type == fsp::kTypeFifo);
  EXPECT(keel::fs::mknod("/run/attr/fifo", fsp::kTypeFifo, 0600), Status::AlreadyExists);
  EXPECT(keel::fs::mknod("/run/attr/dir", fsp::kTypeDirectory, 0600), Status::InvalidArgument);
  EXPECT(keel::fs::open("/run/attr/fifo", fsp::kFlagRead, &f), Status::Ok);
  EXPECT(keel::fs::read(f, {reinterpret_cast<uint8_t*>(target), 4}, &n), Status::BadState);
  EXPECT(keel::fs::close(f), Status::Ok);
  EXPECT(keel::fs::unlink("/run/attr/fifo"), Status::Ok);
  EXPECT(keel::fs::rmdir("/run/attr"), Status::Ok);
}

// Bulk data: reads and writes past kSharedThreshold go through a
// MemoryObject (kReadShared, kWriteShared), past kSharedMax in pieces.
void shared_cases() {
  constexpr size_t kBig = fsp::kSharedMax + fsp::kSharedMax / 4;  // two requests
  auto* out = new (std::nothrow) uint8_t[kBig];
  auto* in = new (std::nothrow) uint8_t[kBig + 100];
  CHECK(out != nullptr && in != nullptr);
  if (out == nullptr || in == nullptr) return;
  for (size_t i = 0; i < kBig; ++i) out[i] = uint8_t(i * 31 + i / 4096);
  keel::fs::Fid f = 0;
  keel::fs::Info info;
  size_t n = 0;
  EXPECT(keel::fs::open("/run/big", kRW | fsp::kFlagCreate | fsp::kFlagTruncate, &f), Status::Ok);
  EXPECT(keel::fs::write(f, {out, kBig}, &n), Status::Ok);
  CHECK(n == kBig);
  EXPECT(keel::fs::fstat(f, &info), Status::Ok);
  CHECK(info.size == kBig);
  EXPECT(keel::fs::seek(f, fsp::kSeekSet, 0), Status::Ok);
  EXPECT(keel::fs::read(f, {in, kBig + 100}, &n), Status::Ok);  // (stops at the end)
  CHECK(n == kBig);
  bool same = true;
  for (size_t i = 0; i < kBig; ++i) same = same && in[i] == out[i];
  CHECK(same);
  // The same bytes through messages, from the middle.
  EXPECT(keel::fs::seek(f, fsp::kSeekSet, 5000), Status::Ok);
  EXPECT(keel::fs::read(f, {in, 300}, &n), Status::Ok);
  same = n == 300;
  for (size_t i = 0; i < 300 && same; ++i) same = in[i] == out[5000 + i];
  CHECK(same);
  EXPECT(keel::fs::close(f), Status::Ok);
  EXPECT(keel::fs::unlink("/run/big"), Status::Ok);
  // A program from the initrd, whole.
  EXPECT(keel::fs::stat("/sbin/vfsprobe", &info), Status::Ok);
  CHECK(info.size > fsp::kSharedThreshold && info.size <= kBig);
  EXPECT(keel::fs::open("/sbin/vfsprobe", fsp::kFlagRead, &f), Status::Ok);
  EXPECT(keel::fs::read(f, {in, kBig}, &n), Status::Ok);
  CHECK(n == info.size && in[0] == 0x7f && in[1] == 'E' && in[2] == 'L' && in[3] == 'F');
  // Writing to the initrd is refused in bulk too.
  EXPECT(keel::fs::write(f, {out, 4096}, &n), Status::AccessDenied);
  EXPECT(keel::fs::close(f), Status::Ok);
  delete[] out;
  delete[] in;
}

// Opens kOpenMax files in /run; the next one is NoSpace. Returns how many opened.
size_t open_all(keel::fs::Fid* fids) {
  size_t opened = 0;
  for (size_t i = 0; i < fsp::kOpenMax; ++i) {
    char name[] = "/run/vfsprobe-00";
    name[14] = char('0' + i / 10);
    name[15] = char('0' + i % 10);
    if (keel::fs::open(name, kRW | fsp::kFlagCreate, &fids[i]) == Status::Ok) ++opened;
  }
  return opened;
}

}  // namespace

int main(uint64_t) {
  keel::fs::Info info;
  keel::fs::Fid fids[fsp::kOpenMax + 1];
  // The root is always there: anything else is the VFS not answering.
  if (Status st = keel::fs::stat("/", &info); st != Status::Ok) {
    keel::print("vfsprobe: FAIL: the VFS does not answer: {}\n", keel::status_name(st));
    return 0;
  }
  const Status first = keel::fs::stat(kMarker, &info);
  if (first == Status::NotFound) {
    keel::fs::Fid marker = 0;
    EXPECT(keel::fs::open(kMarker, kRW | fsp::kFlagCreate, &marker), Status::Ok);
    EXPECT(keel::fs::close(marker), Status::Ok);
    error_cases();
    link_cases();
    shared_cases();
    CHECK(open_all(fids) == fsp::kOpenMax);
    EXPECT(keel::fs::open("/run/vfsprobe-xx", kRW | fsp::kFlagCreate, &fids[fsp::kOpenMax]), Status::NoSpace);
    keel::print("vfsprobe: first run: {} checks, {} failed; exiting with {} files open\n", g_checks, g_failures,
                fsp::kOpenMax);
    return 1;  // (restarted: the second run checks kForget)
  }
  expect(first, Status::Ok, __LINE__);
  const size_t opened = open_all(fids);
  CHECK(opened == fsp::kOpenMax);
  keel::print("vfsprobe: second run: {} files opened again ({})\n", opened,
              opened == fsp::kOpenMax ? "kForget closed the first run's" : "FAIL");
  for (size_t i = 0; i < opened; ++i) EXPECT(keel::fs::close(fids[i]), Status::Ok);
  EXPECT(keel::fs::unlink(kMarker), Status::Ok);
  keel::print("vfsprobe: {}\n", g_failures == 0 ? "all checks passed" : "FAIL");
  return 0;  // (even after a failure, which the session sees in the log: a third run would be a first one)
}
