// vfs.cc — vfs.h: the mount table, vfs fids, and requests forwarded to the
// file-system servers.
#include "vfs.h"

#include <keel/rpc.h>

namespace keel::vfs {

using keel::rpc::tag;
using ktl::Error;

// ---------------------------------------------------------------- mounts

ktl::Result<void> MountTable::add(std::string_view point, std::string_view service) {
  char norm[keel::path::kPathMax];
  auto n = keel::path::normalize(point, {norm, sizeof norm});
  if (!n.ok() || *n != point) return Error::InvalidArgument;
  if (service.empty() || service.size() > kServiceNameMax) return Error::InvalidArgument;
  if (is_mount_point(point)) return Error::AlreadyExists;
  if (count_ >= fsp::kMountsMax) return Error::NoSpace;
  Mount& m = mounts_[count_++];
  for (size_t i = 0; i < point.size(); ++i) m.point[i] = point[i];
  m.point_len = point.size();
  for (size_t i = 0; i < service.size(); ++i) m.service[i] = service[i];
  m.service_len = service.size();
  return {};
}

ktl::Result<keel::path::MountMatch> MountTable::resolve(std::string_view path) const {
  std::string_view points[fsp::kMountsMax];
  for (size_t i = 0; i < count_; ++i) points[i] = point(i);
  return keel::path::match_mount({points, count_}, path);
}

bool MountTable::is_mount_point(std::string_view path) const {
  for (size_t i = 0; i < count_; ++i)
    if (point(i) == path) return true;
  return false;
}

bool MountTable::holds_mount(std::string_view path) const {
  for (size_t i = 0; i < count_; ++i)
    if (keel::path::under(point(i), path)) return true;
  return false;
}

uint8_t MountTable::children(std::string_view path) const {
  uint8_t mask = 0;
  for (size_t i = 0; i < count_; ++i) {
    std::string_view parent, name;
    if (keel::path::split_last(point(i), &parent, &name) && parent == path) mask |= uint8_t(1u << i);
  }
  return mask;
}

// ---------------------------------------------------------------- fids

ktl::Result<FidParts> split_fid(uint64_t fid, size_t mounts) {
  if ((fid >> (kChildShift + 8)) != 0) return Error::BadHandle;
  const size_t mount = size_t((fid >> fsp::kMountShift) & 0xff);
  const uint32_t server_fid = uint32_t(fid & fsp::kServerFidMask);
  if (mount >= mounts || server_fid == 0) return Error::BadHandle;
  return FidParts{mount, server_fid, uint8_t(fid >> kChildShift)};
}

// ---------------------------------------------------------------- requests

namespace {

// A reply from a server that does not follow the protocol.
constexpr Status kBadReply = Status::BadState;

void reply_status(IpcMessage& m, Status st) { keel::rpc::reply_status(m, st); }

// Sends `m` to `mount`'s server; once more after a reconnect if the server
// died or did not answer.
Status forward(Servers& servers, size_t mount, IpcMessage& m) {
  const IpcMessage request = m;
  Status st = servers.call(mount, m);
  if (st != Status::PeerClosed && st != Status::TimedOut) return st;
  if (keel::rpc::handles(request) != 0) return st;  // (they went with the first try)
  if (servers.reconnect(mount) != Status::Ok) return st;
  m = request;
  return servers.call(mount, m);
}

// A normalised path from string `at` of `m` (into `norm`, kPathMax bytes).
Status take_path(const IpcMessage& m, uint32_t at, char* norm, std::string_view* out, uint32_t* next) {
  const uint32_t have = keel::rpc::words(m);
  if (at >= have) return Status::InvalidArgument;
  if (m.words[at] > fsp::kPathMax) return Status::NameTooLong;
  char raw[fsp::kPathMax];
  std::string_view s;
  if (!keel::rpc::get_string(m, at, raw, sizeof raw, &s, next)) return Status::InvalidArgument;
  auto n = keel::path::normalize(s, {norm, fsp::kPathMax});
  if (!n.ok()) return keel::status_from(n.error());
  *out = *n;
  return Status::Ok;
}

// A request for a server: method, fid, a, b, the client's badge, strings.
IpcMessage server_request(uint32_t method, uint64_t fid, uint64_t a, uint64_t b, uint64_t badge,
                          std::string_view s1 = {}, bool with_s1 = false, std::string_view s2 = {},
                          bool with_s2 = false) {
  IpcMessage f{};
  f.words[fsp::kWordFid] = fid;
  f.words[fsp::kWordA] = a;
  f.words[fsp::kWordB] = b;
  f.words[fsp::kWordClient] = badge;
  uint32_t end = fsp::kWordString;
  if (with_s1) end = keel::rpc::put_string(f, end, s1);  // (two kPathMax paths fit)
  if (with_s2) end = keel::rpc::put_string(f, end, s2);
  f.tag = tag(method, end);
  return f;
}

struct Context {
  const MountTable& mounts;
  Servers& servers;
  uint64_t badge;
};

// The type and size of mount `i`'s root (a directory of size 0 if its server
// does not answer).
void root_stat(Context& c, size_t i, uint64_t* type, uint64_t* size) {
  IpcMessage f = server_request(fsp::kStat, 0, 0, 0, c.badge, "/", true);
  *type = fsp::kTypeDirectory;
  *size = 0;
  if (forward(c.servers, i, f) == Status::Ok && keel::rpc::words(f) >= fsp::kWordString) {
    *type = f.words[0];
    *size = f.words[1];
  }
}

void reply_entry(IpcMessage& m, uint64_t next, uint64_t type, uint64_t size, std::string_view name,
                 uint64_t inode = 0) {
  m.words[0] = next;
  m.words[1] = type;
  m.words[2] = size;
  m.words[3] = inode;
  const uint32_t end = keel::rpc::put_string(m, fsp::kWordString, name);
  m.tag = tag(uint32_t(Status::Ok), end);
}

// kReadDir: the server's entries merged with the child mounts (vfs.h).
void readdir(Context& c, IpcMessage& m, const FidParts& fid) {
  const uint8_t all = uint8_t((1u << c.mounts.count()) - 1);
  const uint8_t children = fid.children & all;
  const uint64_t cookie = m.words[fsp::kWordA];
  const uint8_t listed = uint8_t(cookie >> kCookieMountShift) & children;
  const uint64_t server_cookie = cookie & kServerCookieMask;

  IpcMessage f = server_request(fsp::kReadDir, fid.server_fid, server_cookie, 0, c.badge);
  Status st = forward(c.servers, fid.mount, f);
  const bool server_done = st == Status::OutOfRange;
  if (st != Status::Ok && !server_done) return reply_status(m, st);
  char name_buf[fsp::kNameMax];
  std::string_view name;
  uint64_t server_next = 0, type = 0, size = 0, inode = 0;
  if (!server_done) {
    if (keel::rpc::words(f) < fsp::kWordString ||
        !keel::rpc::get_string(f, fsp::kWordString, name_buf, sizeof name_buf, &name, nullptr) ||
        f.words[0] > kServerCookieMask)
      return reply_status(m, kBadReply);
    server_next = f.words[0];
    type = f.words[1];
    size = f.words[2];
    inode = f.words[3];
  }

  // The first child mount not listed yet, in name order.
  size_t first = fsp::kMountsMax;
  std::string_view first_name;
  for (size_t i = 0; i < c.mounts.count(); ++i) {
    if (!(children & ~listed & (1u << i))) continue;
    std::string_view parent, n;
    if (!keel::path::split_last(c.mounts.point(i), &parent, &n)) continue;
    if (first == fsp::kMountsMax || n < first_name) {
      first = i;
      first_name = n;
    }
  }
  if (first == fsp::kMountsMax) {
    if (server_done) return reply_status(m, Status::OutOfRange);
    return reply_entry(m, server_next | uint64_t(listed) << kCookieMountShift, type, size, name, inode);
  }
  const uint8_t now_listed = uint8_t(listed | (1u << first));
  if (server_done || first_name < name) {
    // The mount point alone: the server's position stays.
    uint64_t rt, rs;
    root_stat(c, first, &rt, &rs);
    return reply_entry(m, server_cookie | uint64_t(now_listed) << kCookieMountShift, rt, rs, first_name);
  }
  if (first_name == name) {
    // The directory holds the mount point: once, as the mounted root.
    uint64_t rt, rs;
    root_stat(c, first, &rt, &rs);
    return reply_entry(m, server_next | uint64_t(now_listed) << kCookieMountShift, rt, rs, name);
  }
  reply_entry(m, server_next | uint64_t(listed) << kCookieMountShift, type, size, name, inode);
}

void forget(Context& c, IpcMessage& m) {
  Status first_error = Status::Ok;
  for (size_t i = 0; i < c.mounts.count(); ++i) {
    IpcMessage f = server_request(fsp::kForget, 0, 0, 0, c.badge);
    Status st = forward(c.servers, i, f);
    if (st != Status::Ok && first_error == Status::Ok) first_error = st;
  }
  reply_status(m, first_error);
}

// kChannel: the server of mount `a` makes a direct channel for the caller;
// the reply names the mount point (and carries the handle, if one came).
void channel(Context& c, IpcMessage& m) {
  const uint64_t index = m.words[fsp::kWordA];
  if (index >= c.mounts.count()) return reply_status(m, Status::OutOfRange);
  IpcMessage f = server_request(fsp::kChannel, 0, 0, 0, c.badge);
  Status st = forward(c.servers, size_t(index), f);
  const uint32_t got = st == Status::Ok || keel::rpc::handles(f) != 0 ? keel::rpc::handles(f) : 0;
  const bool one = st == Status::Ok && got == 1;
  if (!one) {
    for (uint32_t i = 0; i < got; ++i) sys::handle_close(f.handles[i]);
    if (st == Status::Ok) st = kBadReply;
  }
  m.words[0] = index;
  m.words[1] = one ? 1 : 0;
  m.words[2] = one ? 0 : uint64_t(st);
  m.words[3] = 0;
  const uint32_t end = keel::rpc::put_string(m, fsp::kWordString, c.mounts.point(size_t(index)));
  m.handles[0] = one ? f.handles[0] : kInvalidHandle;
  m.tag = tag(uint32_t(Status::Ok), end, one ? 1 : 0);
}

bool is_shared(uint32_t method) { return method == fsp::kReadShared || method == fsp::kWriteShared; }

bool uses_fid(uint32_t method) {
  return method == fsp::kClose || method == fsp::kRead || method == fsp::kWrite || method == fsp::kSeek ||
         method == fsp::kFstat || method == fsp::kReadDir || is_shared(method) || method == fsp::kFchmod ||
         method == fsp::kFsetTimes || method == fsp::kFtruncate || method == fsp::kFstatfs;
}

}  // namespace

void handle(const MountTable& mounts, Servers& servers, IpcMessage& m, uint64_t badge, std::span<Handle> received) {
  const uint32_t method = keel::rpc::label(m);
  if (method < fsp::kOpen || method > fsp::kMethodLast) return reply_status(m, Status::Unsupported);
  if (keel::rpc::words(m) < fsp::kWordString || received.size() != (is_shared(method) ? 1u : 0u))
    return reply_status(m, Status::InvalidArgument);
  Context c{mounts, servers, badge};

  if (method == fsp::kForget) return forget(c, m);
  if (method == fsp::kChannel) return channel(c, m);

  if (uses_fid(method)) {
    auto fid = split_fid(m.words[fsp::kWordFid], mounts.count());
    if (!fid.ok()) return reply_status(m, Status::BadHandle);
    if (method == fsp::kReadDir) return readdir(c, m, *fid);
    // The request as it came (kWrite's bytes too), for the server's fid and
    // with the caller's badge.
    IpcMessage f = m;
    f.words[fsp::kWordFid] = fid->server_fid;
    f.words[fsp::kWordClient] = badge;
    if (is_shared(method)) {
      // The MemoryObject goes on with the request (the server checks it).
      f.handles[0] = received[0];
      received[0] = kInvalidHandle;
      f.tag = tag(method, keel::rpc::words(m), 1);
    } else {
      f.tag = tag(method, keel::rpc::words(m));
    }
    Status st = forward(servers, fid->mount, f);
    if (st != Status::Ok) return reply_status(m, st);
    if (method == fsp::kFstat) {
      if (keel::rpc::words(f) < fsp::kWordString) return reply_status(m, kBadReply);
      f.words[3] = fid->mount;
    }
    m = f;
    return;
  }

  // The path methods.
  char path[fsp::kPathMax], path2[fsp::kPathMax];
  std::string_view p1, p2;
  uint32_t next = 0;
  if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply_status(m, st);
  auto where = mounts.resolve(p1);
  if (!where.ok()) return reply_status(m, keel::status_from(where.error()));
  const uint64_t a = m.words[fsp::kWordA], b = m.words[fsp::kWordB];
  IpcMessage f;
  if (method == fsp::kRename || method == fsp::kLink) {
    if (Status st = take_path(m, next, path2, &p2, &next); st != Status::Ok) return reply_status(m, st);
    if (method == fsp::kRename && (mounts.holds_mount(p1) || mounts.holds_mount(p2)))
      return reply_status(m, Status::Busy);
    auto to = mounts.resolve(p2);
    if (!to.ok()) return reply_status(m, keel::status_from(to.error()));
    if (to->index != where->index) return reply_status(m, Status::CrossDevice);
    f = server_request(method, 0, a, b, badge, where->rest, true, to->rest, true);
  } else if (method == fsp::kSymlink) {
    // The target goes on as it is (the server stores it; it names no mount).
    if (next >= keel::rpc::words(m)) return reply_status(m, Status::InvalidArgument);
    if (m.words[next] > fsp::kPathMax) return reply_status(m, Status::NameTooLong);
    char target[fsp::kPathMax];
    std::string_view t;
    if (!keel::rpc::get_string(m, next, target, sizeof target, &t, &next)) return reply_status(m, Status::InvalidArgument);
    f = server_request(method, 0, a, b, badge, where->rest, true, t, true);
  } else {
    if (method == fsp::kRmdir && mounts.holds_mount(p1)) return reply_status(m, Status::Busy);
    f = server_request(method, 0, a, b, badge, where->rest, true);
  }
  Status st = forward(servers, where->index, f);
  if (st != Status::Ok) return reply_status(m, st);
  if (method == fsp::kOpen || method == fsp::kStat) {
    if (keel::rpc::words(f) < fsp::kWordString) return reply_status(m, kBadReply);
    if (method == fsp::kStat) {
      f.words[3] = where->index;
    } else {
      const uint64_t server_fid = f.words[0];
      if (server_fid == 0 || server_fid > fsp::kServerFidMask) {
        IpcMessage close = server_request(fsp::kClose, server_fid, 0, 0, badge);  // (whatever it opened)
        (void)servers.call(where->index, close);
        return reply_status(m, kBadReply);
      }
      const uint8_t children = f.words[1] == fsp::kTypeDirectory ? mounts.children(p1) : 0;
      f.words[0] = make_fid(where->index, uint32_t(server_fid), children);
    }
  }
  m = f;
}

}  // namespace keel::vfs
