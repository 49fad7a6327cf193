// vfsload — a client that keeps using files while the system suite's
// session kills vfs, tmpfs and initrdfs under it (user/tests/system; the
// policy lets /sbin/vfsload look up `vfs` only).
//
// It opens /etc/manifest once and, every 20 ms until /run/vfsload-stop
// exists, reads it again from the start through the same fid and compares
// it with the first read. A restart of vfs must be invisible (keel/fs.h
// looks vfs up again and retries; vfs keeps no state, so the fid still
// works). A restart of initrdfs loses its fids: the next request fails
// (BadHandle, or the error of the try vfs could not repeat) and the file is
// opened again, which must then work. A round that fails after that is an
// error. At the end it prints
//   vfsload: done: R rounds, E errors, O reopened
// and exits 0.
#include <keel/fs.h>
#include <keel/keel.h>
#include <keel/rpc.h>

namespace fsp = keel::proto::fs;
using keel::Status;

namespace {

constexpr size_t kMax = 4096;
uint8_t g_first[kMax], g_again[kMax];  // (static: zero-initialised, no constructor)

// The whole file from its start (in requests of at most 1 KiB: messages).
Status read_all(keel::fs::Fid f, uint8_t* out, size_t* n) {
  if (Status st = keel::fs::seek(f, fsp::kSeekSet, 0); st != Status::Ok) return st;
  *n = 0;
  while (*n < kMax) {
    size_t got = 0;
    const size_t want = kMax - *n < 1024 ? kMax - *n : 1024;
    if (Status st = keel::fs::read(f, {out + *n, want}, &got); st != Status::Ok) return st;
    *n += got;
    if (got < want) break;
  }
  return Status::Ok;
}

// One round: Ok if the file reads as it did first.
Status round(keel::fs::Fid f, size_t first_size) {
  size_t n = 0;
  if (Status st = read_all(f, g_again, &n); st != Status::Ok) return st;
  if (n != first_size) return Status::BadState;
  for (size_t i = 0; i < n; ++i)
    if (g_again[i] != g_first[i]) return Status::BadState;
  return Status::Ok;
}

}  // namespace

int main(uint64_t) {
  // init wants a long-running service to be ready (its endpoint is never
  // used: no heartbeats).
  keel::Handle ep = keel::kInvalidHandle;
  if (keel::sys::endpoint_create(&ep) != 0 ||
      keel::rpc::announce_ready(ep, keel::now_ns() + 2'000'000'000) != Status::Ok)
    keel::print("vfsload: FAIL: init did not take ready\n");
  constexpr const char* kPath = "/etc/manifest";
  keel::fs::Fid f = 0;
  size_t first_size = 0;
  Status st = keel::fs::open(kPath, fsp::kFlagRead, &f);
  if (st == Status::Ok) st = read_all(f, g_first, &first_size);
  if (st != Status::Ok || first_size == 0) {
    keel::print("vfsload: FAIL: cannot read {}: {}\n", kPath, keel::status_name(st));
    return 0;
  }
  uint64_t rounds = 0, errors = 0, reopened = 0;
  for (;;) {
    keel::fs::Info info;
    st = keel::fs::stat("/run/vfsload-stop", &info);
    if (st == Status::Ok) break;
    if (st != Status::NotFound) {
      ++errors;
      keel::print("vfsload: FAIL: round {}: stat: {}\n", rounds, keel::status_name(st));
    }
    st = round(f, first_size);
    if (st != Status::Ok) {
      // The server behind the fid restarted: open the file again.
      (void)keel::fs::close(f);
      Status again = keel::fs::open(kPath, fsp::kFlagRead, &f);
      if (again == Status::Ok) again = round(f, first_size);
      if (again == Status::Ok) {
        ++reopened;
        keel::print("vfsload: round {}: {}; opened again\n", rounds, keel::status_name(st));
      } else {
        ++errors;
        keel::print("vfsload: FAIL: round {}: {}, then {}\n", rounds, keel::status_name(st),
                    keel::status_name(again));
      }
    }
    ++rounds;
    keel::sys::thread_sleep(keel::now_ns() + 20'000'000);
  }
  (void)keel::fs::close(f);
  keel::print("vfsload: done: {} rounds, {} errors, {} reopened\n", rounds, errors, reopened);
  return 0;
}
