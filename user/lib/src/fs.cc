// fs.cc — keel/fs.h: the VFS client.
#include <keel/fs.h>
#include <keel/lock.h>
#include <keel/path.h>
#include <keel/proto/names.h>
#include <keel/rpc.h>
#include <keel/start.h>

#include <atomic>

namespace keel::fs {

namespace fsp = keel::proto::fs;
using keel::rpc::tag;

namespace {

constexpr uint64_t kMs = 1'000'000;
// One request to vfs: more than vfs itself may wait for an fs server (a
// call, a reconnect, the retried call).
constexpr uint64_t kCallDeadline = 4000 * kMs;
constexpr Status kBadReply = Status::BadState;
// How long a lookup that finds no vfs is repeated (vfs may be starting).
constexpr uint64_t kStartingWindow = 1000 * kMs;

SpinLock g_lock;
Handle g_vfs = kInvalidHandle;  // guarded by g_lock
bool g_forgotten = false;       // kForget sent (first connection); guarded by g_lock

// Looks vfs up; on this program's first connection, closes the files an
// earlier instance left open. Lock held.
Status connect() {
  if (g_vfs != kInvalidHandle) return Status::Ok;
  Handle names = kInvalidHandle;
  uint64_t unused = 0;
  if (!find_module("names", &names, &unused)) return Status::NotFound;
  // vfs may be ready but not registered yet (init registers a service in
  // names after its kReady): NotFound is asked again for a moment.
  IpcMessage m{};
  Status st = Status::NotFound;
  const uint64_t give_up = now_ns() + kStartingWindow;
  for (;;) {
    m = IpcMessage{};
    uint32_t at = keel::rpc::put_string(m, 0, "vfs");
    m.tag = tag(keel::proto::names::kLookup, at);
    st = keel::rpc::call(names, m, now_ns() + 2000 * kMs);
    if (st != Status::NotFound || now_ns() > give_up) break;
    sys::thread_sleep(now_ns() + 20 * kMs);
  }
  if (st != Status::Ok) return st;
  if (keel::rpc::handles(m) != 1) return kBadReply;
  g_vfs = m.handles[0];
  if (!g_forgotten) {
    IpcMessage f{};
    f.tag = tag(fsp::kForget, fsp::kWordString);
    (void)keel::rpc::call(g_vfs, f, now_ns() + kCallDeadline);  // (best effort)
    g_forgotten = true;
  }
  return Status::Ok;
}

// Sends request `m` to vfs; `m` becomes the reply. Once more after a new
// lookup if vfs died or did not answer. With `share`, each try sends a
// duplicate of that MemoryObject (the handle moves with the message). The
// result is the call's failure or the reply's Status.
Status call(IpcMessage& m, Handle share = kInvalidHandle) {
  LockGuard guard(g_lock);
  const IpcMessage request = m;
  Status st = Status::NotFound;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (st = connect(); st != Status::Ok) return st;
    m = request;
    if (share != kInvalidHandle) {
      if (int64_t r = sys::handle_duplicate(share, kRightRead | kRightWrite | kRightMap | kRightTransfer, &m.handles[0]);
          r != 0)
        return status_of(r);
      m.tag = tag(keel::rpc::label(request), keel::rpc::words(request), 1);
    }
    int64_t r = sys::ipc_call(g_vfs, &m, now_ns() + kCallDeadline);
    if (r == 0) return Status(keel::rpc::label(m));
    st = status_of(r);
    if (st != Status::PeerClosed && st != Status::TimedOut) return st;
    sys::handle_close(g_vfs);
    g_vfs = kInvalidHandle;
  }
  return st;
}

// ---------------------------------------------------------------- direct channels
//
// With use_channels(true), kOpen, kStat, kClose and kFstat go to the server
// of their mount on a direct channel (keel/proto/fs.h kChannel) instead of
// through vfs: the table of mount points and a channel per mount are asked
// for once (all under g_lock), and this library does what vfs would (the
// longest matching mount point, mount-relative paths, kStat's mount index,
// the fid's mount and child-mount bits). Paths that are not normalised, and
// every other method, still go through vfs. A channel that fails (PeerClosed,
// TimedOut: its server died) is dropped and the request goes through vfs;
// another is asked for a second later.

constexpr uint64_t kDirectDeadline = 1000 * kMs;  // (as vfs waits for an fs server)
constexpr uint64_t kChannelRetry = 1000 * kMs;

struct Mount {
  char point[fsp::kPathMax];
  size_t len = 0;
  Handle ep = kInvalidHandle;
  uint64_t retry_at = 0;  // a channel is asked for again after this (0: never)
};
bool g_use_channels = false;   // guarded by g_lock
bool g_mounts_known = false;   // the table below was asked for
uint64_t g_mounts_retry = 0;   // when asking failed: ask again after this
Mount g_mounts[fsp::kMountsMax];
std::string_view g_points[fsp::kMountsMax];
size_t g_mount_count = 0;

void close_handles(const IpcMessage& m) {
  for (uint32_t i = 0; i < keel::rpc::handles(m); ++i) sys::handle_close(m.handles[i]);
}

// kChannel for mount `i` through vfs: Ok and the reply in `m`, else the
// failure. Lock held, connected.
Status ask_channel(size_t i, IpcMessage& m) {
  m = IpcMessage{};
  m.words[fsp::kWordA] = i;
  m.tag = tag(fsp::kChannel, fsp::kWordString);
  int64_t r = sys::ipc_call(g_vfs, &m, now_ns() + kCallDeadline);
  if (r != 0) return status_of(r);
  const Status st = Status(keel::rpc::label(m));
  if (st != Status::Ok) close_handles(m);
  if (st == Status::Ok && (keel::rpc::words(m) < fsp::kWordString || m.words[0] != i)) {
    close_handles(m);
    return kBadReply;
  }
  return st;
}

// The channel of a kChannel reply (kInvalidHandle if none came), and when to
// ask again if none did.
void take_channel(Mount& mt, const IpcMessage& m) {
  const bool one = m.words[1] == 1 && keel::rpc::handles(m) == 1;
  if (!one) close_handles(m);
  mt.ep = one ? m.handles[0] : kInvalidHandle;
  mt.retry_at = one || Status(m.words[2]) == Status::Unsupported ? 0 : now_ns() + kChannelRetry;
}

// Asks vfs for the mount table and the channels: every index up to
// OutOfRange. Any other failure leaves no table (all through vfs; asked
// again a second later). Lock held.
void load_mounts() {
  if (connect() != Status::Ok) return;
  size_t n = 0;
  IpcMessage m;
  Status st = Status::Ok;
  for (; n < fsp::kMountsMax; ++n) {
    if (st = ask_channel(n, m); st != Status::Ok) break;
    std::string_view point;
    Mount& mt = g_mounts[n];
    if (!keel::rpc::get_string(m, fsp::kWordString, mt.point, sizeof mt.point, &point, nullptr) || point.empty()) {
      close_handles(m);
      st = kBadReply;
      break;
    }
    mt.len = point.size();
    g_points[n] = {mt.point, mt.len};
    take_channel(mt, m);
  }
  if (st != Status::OutOfRange || n == 0) {
    for (size_t i = 0; i < n; ++i)
      if (g_mounts[i].ep != kInvalidHandle) sys::handle_close(g_mounts[i].ep);
    g_mount_count = 0;
    g_mounts_retry = now_ns() + kChannelRetry;
    return;
  }
  g_mount_count = n;
  g_mounts_known = true;
}

// True if `path` is absolute and normalised ("/", or "/a/b": no empty, "."
// or ".." component, no NUL, no trailing '/').
bool normalised(std::string_view path) {
  if (path.empty() || path[0] != '/') return false;
  if (path.size() == 1) return true;
  size_t start = 1;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') {
      if (path[i] == 0) return false;
      continue;
    }
    const size_t len = i - start;
    if (len == 0 || (len == 1 && path[start] == '.') || (len == 2 && path[start] == '.' && path[start + 1] == '.'))
      return false;
    start = i + 1;
  }
  return true;
}

// The channel of mount `i`, asked for again if its time has come. Lock held.
Handle channel_of(size_t i) {
  Mount& mt = g_mounts[i];
  if (mt.ep == kInvalidHandle && mt.retry_at != 0 && now_ns() >= mt.retry_at && connect() == Status::Ok) {
    IpcMessage m;
    if (ask_channel(i, m) == Status::Ok) take_channel(mt, m);
    else mt.retry_at = now_ns() + kChannelRetry;
  }
  return mt.ep;
}

// The mount of `path` and its channel, if `path` is normalised and that
// mount has one; `rest` gets the mount-relative path. Lock held.
bool route(std::string_view path, size_t* mount, std::string_view* rest) {
  if (!g_use_channels) return false;
  if (!g_mounts_known) {
    if (g_mounts_retry != 0 && now_ns() < g_mounts_retry) return false;
    load_mounts();
    if (!g_mounts_known) return false;
  }
  if (!normalised(path)) return false;
  auto r = keel::path::match_mount({g_points, g_mount_count}, path);
  if (!r.ok() || channel_of(r->index) == kInvalidHandle) return false;
  *mount = r->index;
  *rest = r->rest;
  return true;
}

// Sends `m` on mount `i`'s channel: true with the result in `*st`, or false
// if the channel failed (it is dropped; the caller goes through vfs). Lock held.
bool channel_call(size_t i, IpcMessage& m, Status* st) {
  Mount& mt = g_mounts[i];
  int64_t r = sys::ipc_call(mt.ep, &m, now_ns() + kDirectDeadline);
  if (r == 0) {
    *st = Status(keel::rpc::label(m));
    if (keel::rpc::handles(m) != 0) close_handles(m);  // (none of these methods sends one)
    return true;
  }
  *st = status_of(r);
  if (*st != Status::PeerClosed && *st != Status::TimedOut) return true;
  sys::handle_close(mt.ep);
  mt.ep = kInvalidHandle;
  mt.retry_at = now_ns() + kChannelRetry;
  return false;
}

// The mounts whose points are direct children of normalised `path` (a vfs
// directory fid's bits 32..39). Lock held.
uint8_t child_mounts(std::string_view path) {
  uint8_t mask = 0;
  for (size_t i = 0; i < g_mount_count; ++i) {
    std::string_view parent, name;
    if (keel::path::split_last(g_points[i], &parent, &name) && parent == path) mask |= uint8_t(1u << i);
  }
  return mask;
}

// The mount of vfs fid `fid` if it has a channel (the server's fid in
// `*server`). Lock held.
bool route_fid(Fid fid, size_t* mount, uint64_t* server) {
  if (!g_use_channels || !g_mounts_known || (fid >> 40) != 0) return false;
  const size_t i = size_t((fid >> fsp::kMountShift) & 0xff);
  *server = fid & fsp::kServerFidMask;
  if (i >= g_mount_count || *server == 0 || channel_of(i) == kInvalidHandle) return false;
  *mount = i;
  return true;
}

IpcMessage request(uint32_t method, uint64_t fid = 0, uint64_t a = 0, uint64_t b = 0) {
  IpcMessage m{};
  m.words[fsp::kWordFid] = fid;
  m.words[fsp::kWordA] = a;
  m.words[fsp::kWordB] = b;
  m.words[fsp::kWordClient] = 0;
  m.tag = tag(method, fsp::kWordString);
  return m;
}

// A request with path string(s); NameTooLong past kPathMax.
Status path_request(IpcMessage& m, std::string_view p1, std::string_view p2 = {}, bool two = false) {
  if (p1.size() > fsp::kPathMax || p2.size() > fsp::kPathMax) return Status::NameTooLong;
  uint32_t at = keel::rpc::put_string(m, fsp::kWordString, p1);
  if (two && at != 0) at = keel::rpc::put_string(m, at, p2);
  if (at == 0) return Status::NameTooLong;
  m.tag = tag(keel::rpc::label(m), at);
  return Status::Ok;
}

Status path_call(uint32_t method, std::string_view path, uint64_t a = 0) {
  IpcMessage m = request(method, 0, a);
  if (Status st = path_request(m, path); st != Status::Ok) return st;
  return call(m);
}

Status info_from(const IpcMessage& m, Info* out) {
  if (keel::rpc::words(m) < fsp::kWordString) return kBadReply;
  if (!out) return Status::Ok;
  *out = Info{m.words[0], m.words[1], m.words[2], m.words[3]};
  if (keel::rpc::words(m) >= fsp::kStatWords) {
    out->inode = m.words[4];
    out->links = m.words[5];
    out->atime = int64_t(m.words[6]);
    out->mtime = int64_t(m.words[7]);
    out->ctime = int64_t(m.words[8]);
  }
  return Status::Ok;
}

// Transfers of up to kCachedIo bytes reuse one MemoryObject, created and
// mapped on the first (g_io_*): a fresh object per request cost a vmo_create,
// a map, a demand-zero fault per page, an unmap and new page tables, about
// as much as the request itself. The file-system servers that get it (vfs,
// and the backend vfs passes it to) are trusted with the file's bytes anyway;
// one that kept the handle could also see later transfers of this program
// through it. A transfer while another thread uses it takes a fresh one.
constexpr size_t kCachedIo = 64 * 1024;
std::atomic<bool> g_io_busy{false};
Handle g_io_vmo = kInvalidHandle;  // owned by whoever set g_io_busy
uint64_t g_io_addr = 0;

// A read or write through a MemoryObject (kReadShared, kWriteShared), in
// pieces of up to kSharedMax bytes; `*done` gets the bytes moved. A read
// stops at the end of the file.
Status shared_io(uint32_t method, Fid fid, uint8_t* data, size_t n, size_t* done) {
  *done = 0;
  const size_t piece = n < fsp::kSharedMax ? n : fsp::kSharedMax;
  const size_t len = (piece + kPageSize - 1) & ~size_t(kPageSize - 1);
  const Handle self = start_info()->self_process;
  Handle vmo = kInvalidHandle;
  uint64_t addr = 0;
  const bool cached = len <= kCachedIo && !g_io_busy.exchange(true, std::memory_order_acquire);
  if (cached && g_io_vmo == kInvalidHandle) {
    Handle v = kInvalidHandle;
    uint64_t a = 0;
    if (sys::vmo_create(kCachedIo, 0, &v) == 0) {
      if (sys::vm_map(self, v, 0, kCachedIo, kVmRead | kVmWrite, &a) == 0) {
        g_io_vmo = v;
        g_io_addr = a;
      } else {
        sys::handle_close(v);
      }
    }
  }
  if (cached && g_io_vmo != kInvalidHandle) {
    vmo = g_io_vmo;
    addr = g_io_addr;
  } else {
    if (cached) g_io_busy.store(false, std::memory_order_release);
    if (int64_t r = sys::vmo_create(len, 0, &vmo); r != 0) return status_of(r);
    if (int64_t r = sys::vm_map(self, vmo, 0, len, kVmRead | kVmWrite, &addr); r != 0) {
      sys::handle_close(vmo);
      return status_of(r);
    }
  }
  const bool reused = vmo == g_io_vmo && cached;
  auto* buf = reinterpret_cast<uint8_t*>(addr);
  Status st = Status::Ok;
  while (*done < n) {
    const size_t count = n - *done < piece ? n - *done : piece;
    if (method == fsp::kWriteShared) __builtin_memcpy(buf, data + *done, count);
    IpcMessage m = request(method, fid, count);
    if (st = call(m, vmo); st != Status::Ok) break;
    const uint64_t moved = keel::rpc::words(m) >= 1 ? m.words[0] : ~uint64_t(0);
    if (moved > count || (method == fsp::kWriteShared && moved == 0)) {
      st = kBadReply;
      break;
    }
    if (method == fsp::kReadShared) __builtin_memcpy(data + *done, buf, moved);
    *done += moved;
    if (method == fsp::kReadShared && moved < count) break;  // the end of the file
  }
  if (reused) {
    g_io_busy.store(false, std::memory_order_release);
  } else {
    (void)sys::vm_unmap(self, addr, len);
    sys::handle_close(vmo);
  }
  return st;
}

}  // namespace

void use_channels(bool on) {
  LockGuard guard(g_lock);
  g_use_channels = on;
}

Status open(std::string_view path, uint64_t flags, Fid* out, uint64_t mode, Info* info) {
  IpcMessage m = request(fsp::kOpen, 0, flags, mode);
  if (path.size() <= fsp::kPathMax) {
    LockGuard guard(g_lock);
    size_t mount = 0;
    std::string_view rest;
    Status st = Status::Ok;
    if (route(path, &mount, &rest) && path_request(m, rest) == Status::Ok && channel_call(mount, m, &st)) {
      if (st != Status::Ok) return st;
      const uint64_t server_fid = keel::rpc::words(m) >= fsp::kWordString ? m.words[0] : 0;
      if (server_fid == 0 || server_fid > fsp::kServerFidMask) {
        IpcMessage c = request(fsp::kClose, server_fid);  // (whatever it opened, as vfs does)
        if (server_fid != 0) (void)channel_call(mount, c, &st);
        return kBadReply;
      }
      const uint8_t children = m.words[1] == fsp::kTypeDirectory ? child_mounts(path) : 0;
      *out = server_fid | uint64_t(mount) << fsp::kMountShift | uint64_t(children) << 32;
      if (info) *info = Info{m.words[1], m.words[2], 0, 0};
      return Status::Ok;
    }
    m = request(fsp::kOpen, 0, flags, mode);
  }
  if (Status st = path_request(m, path); st != Status::Ok) return st;
  if (Status st = call(m); st != Status::Ok) return st;
  if (keel::rpc::words(m) < fsp::kWordString || m.words[0] == 0) return kBadReply;
  *out = m.words[0];
  if (info) *info = Info{m.words[1], m.words[2], 0, 0};
  return Status::Ok;
}

Status close(Fid fid) {
  {
    LockGuard guard(g_lock);
    size_t mount = 0;
    uint64_t server = 0;
    Status st = Status::Ok;
    IpcMessage m = request(fsp::kClose, 0);
    if (route_fid(fid, &mount, &server)) {
      m.words[fsp::kWordFid] = server;
      // One way if the server waits for a request (it is alive and will see
      // the close before any later request on its endpoint); else a call.
      if (sys::ipc_send(g_mounts[mount].ep, &m, kDeadlinePoll) == 0) return Status::Ok;
      if (channel_call(mount, m, &st)) return st;
    }
  }
  IpcMessage m = request(fsp::kClose, fid);
  return call(m);
}

Status read(Fid fid, std::span<uint8_t> out, size_t* got) {
  if (out.size() > fsp::kSharedThreshold) return shared_io(fsp::kReadShared, fid, out.data(), out.size(), got);
  *got = 0;
  while (*got < out.size()) {
    const size_t want = out.size() - *got < fsp::kIoMax ? out.size() - *got : fsp::kIoMax;
    IpcMessage m = request(fsp::kRead, fid, want);
    if (Status st = call(m); st != Status::Ok) return st;
    char buf[fsp::kIoMax];
    std::string_view bytes;
    if (keel::rpc::words(m) < fsp::kWordString ||
        !keel::rpc::get_string(m, fsp::kWordString, buf, want, &bytes, nullptr) || bytes.size() != m.words[0])
      return kBadReply;
    for (size_t i = 0; i < bytes.size(); ++i) out[*got + i] = uint8_t(bytes[i]);
    *got += bytes.size();
    if (bytes.empty()) break;  // the end of the file
  }
  return Status::Ok;
}

Status write(Fid fid, std::span<const uint8_t> in, size_t* written) {
  if (in.size() > fsp::kSharedThreshold) {
    size_t moved = 0;
    Status st = shared_io(fsp::kWriteShared, fid, const_cast<uint8_t*>(in.data()), in.size(), &moved);
    if (written) *written = moved;
    return st;
  }
  size_t done = 0;
  Status st = Status::Ok;
  while (done < in.size()) {
    const size_t n = in.size() - done < fsp::kIoMax ? in.size() - done : fsp::kIoMax;
    IpcMessage m = request(fsp::kWrite, fid);
    const uint32_t at =
        keel::rpc::put_string(m, fsp::kWordString, {reinterpret_cast<const char*>(in.data() + done), n});
    m.tag = tag(fsp::kWrite, at);
    if (st = call(m); st != Status::Ok) break;
    if (keel::rpc::words(m) < 1 || m.words[0] == 0 || m.words[0] > n) {
      st = kBadReply;
      break;
    }
    done += m.words[0];
  }
  if (written) *written = done;
  return st;
}

Status seek(Fid fid, uint64_t whence, int64_t offset, uint64_t* pos) {
  IpcMessage m = request(fsp::kSeek, fid, whence, uint64_t(offset));
  if (Status st = call(m); st != Status::Ok) return st;
  if (keel::rpc::words(m) < 1) return kBadReply;
  if (pos) *pos = m.words[0];
  return Status::Ok;
}

Status stat(std::string_view path, Info* out) {
  if (path.size() <= fsp::kPathMax) {
    LockGuard guard(g_lock);
    size_t mount = 0;
    std::string_view rest;
    Status st = Status::Ok;
    IpcMessage m = request(fsp::kStat);
    if (route(path, &mount, &rest) && path_request(m, rest) == Status::Ok && channel_call(mount, m, &st)) {
      if (st != Status::Ok) return st;
      if (keel::rpc::words(m) < fsp::kWordString) return kBadReply;
      m.words[3] = mount;  // (as vfs sets it)
      return info_from(m, out);
    }
  }
  IpcMessage m = request(fsp::kStat);
  if (Status st = path_request(m, path); st != Status::Ok) return st;
  if (Status st = call(m); st != Status::Ok) return st;
  return info_from(m, out);
}

Status image(std::string_view path, Info* out, Handle* object) {
  IpcMessage m = request(fsp::kImage);
  if (Status st = path_request(m, path); st != Status::Ok) return st;
  if (Status st = call(m); st != Status::Ok) return st;
  if (keel::rpc::handles(m) != 1 || keel::rpc::words(m) < fsp::kWordString) {
    for (uint32_t i = 0; i < keel::rpc::handles(m); ++i) sys::handle_close(m.handles[i]);
    return kBadReply;
  }
  *out = Info{};
  out->type = m.words[0];
  out->size = m.words[1];
  out->mode = m.words[2];
  out->inode = m.words[3];
  *object = m.handles[0];
  return Status::Ok;
}

static Status usage_from(const IpcMessage& m, FsUsage* out) {
  if (keel::rpc::words(m) < fsp::kStatfsWords) return kBadReply;
  *out = FsUsage{m.words[0], m.words[1], m.words[2], m.words[3], m.words[4], m.words[5]};
  return Status::Ok;
}

Status statfs(std::string_view path, FsUsage* out) {
  IpcMessage m = request(fsp::kStatfs);
  if (Status st = path_request(m, path); st != Status::Ok) return st;
  if (Status st = call(m); st != Status::Ok) return st;
  return usage_from(m, out);
}

Status fstatfs(Fid fid, FsUsage* out) {
  IpcMessage m = request(fsp::kFstatfs, fid);
  if (Status st = call(m); st != Status::Ok) return st;
  return usage_from(m, out);
}

Status fstat(Fid fid, Info* out) {
  {
    LockGuard guard(g_lock);
    size_t mount = 0;
    uint64_t server = 0;
    Status st = Status::Ok;
    IpcMessage m = request(fsp::kFstat, 0);
    if (route_fid(fid, &mount, &server)) {
      m.words[fsp::kWordFid] = server;
      if (channel_call(mount, m, &st)) {
        if (st != Status::Ok) return st;
        if (keel::rpc::words(m) < fsp::kWordString) return kBadReply;
        m.words[3] = mount;
        return info_from(m, out);
      }
    }
  }
  IpcMessage m = request(fsp::kFstat, fid);
  if (Status st = call(m); st != Status::Ok) return st;
  return info_from(m, out);
}

Status readdir(Fid dir, uint64_t* cookie, DirEntry* out) {
  IpcMessage m = request(fsp::kReadDir, dir, *cookie);
  if (Status st = call(m); st != Status::Ok) return st;
  std::string_view name;
  if (keel::rpc::words(m) < fsp::kWordString ||
      !keel::rpc::get_string(m, fsp::kWordString, out->name, sizeof out->name, &name, nullptr))
    return kBadReply;
  out->name_len = name.size();
  out->type = m.words[1];
  out->size = m.words[2];
  out->inode = m.words[3];
  *cookie = m.words[0];
  return Status::Ok;
}

Status mkdir(std::string_view path, uint64_t mode) { return path_call(fsp::kMkdir, path, mode); }
Status rmdir(std::string_view path) { return path_call(fsp::kRmdir, path); }
Status unlink(std::string_view path) { return path_call(fsp::kUnlink, path); }
Status truncate(std::string_view path, uint64_t size) { return path_call(fsp::kTruncate, path, size); }

Status rename(std::string_view from, std::string_view to) {
  IpcMessage m = request(fsp::kRename);
  if (Status st = path_request(m, from, to, true); st != Status::Ok) return st;
  return call(m);
}

Status symlink(std::string_view path, std::string_view target) {
  IpcMessage m = request(fsp::kSymlink);
  if (Status st = path_request(m, path, target, true); st != Status::Ok) return st;
  return call(m);
}

Status link(std::string_view from, std::string_view to) {
  IpcMessage m = request(fsp::kLink);
  if (Status st = path_request(m, from, to, true); st != Status::Ok) return st;
  return call(m);
}

Status chmod(std::string_view path, uint64_t mode) { return path_call(fsp::kChmod, path, mode); }

Status set_times(std::string_view path, uint64_t atime, uint64_t mtime) {
  IpcMessage m = request(fsp::kSetTimes, 0, atime, mtime);
  if (Status st = path_request(m, path); st != Status::Ok) return st;
  return call(m);
}

Status fchmod(Fid fid, uint64_t mode) {
  IpcMessage m = request(fsp::kFchmod, fid, mode);
  return call(m);
}

Status set_times(Fid fid, uint64_t atime, uint64_t mtime) {
  IpcMessage m = request(fsp::kFsetTimes, fid, atime, mtime);
  return call(m);
}

Status ftruncate(Fid fid, uint64_t size) {
  IpcMessage m = request(fsp::kFtruncate, fid, size);
  return call(m);
}

Status mknod(std::string_view path, uint64_t type, uint64_t mode) {
  IpcMessage m = request(fsp::kMknod, 0, type, mode);
  if (Status st = path_request(m, path); st != Status::Ok) return st;
  return call(m);
}

}  // namespace keel::fs
