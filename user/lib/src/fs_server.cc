// fs_server.cc — keel/fs_server.h: one protocol request to one Backend call.
#include <keel/fs_server.h>
#include <keel/rpc.h>

namespace keel::fs {

namespace fsp = keel::proto::fs;
using keel::rpc::tag;

namespace {

// The reply: status, result words r0..r3, and an optional string at r4.
void reply(IpcMessage& m, Status st, uint64_t r0 = 0, uint64_t r1 = 0, uint64_t r2 = 0, uint64_t r3 = 0) {
  if (st != Status::Ok) return keel::rpc::reply_status(m, st);
  m.words[0] = r0;
  m.words[1] = r1;
  m.words[2] = r2;
  m.words[3] = r3;
  m.tag = tag(uint32_t(Status::Ok), fsp::kWordString);
}

void reply_string(IpcMessage& m, uint64_t r0, uint64_t r1, uint64_t r2, std::string_view s, uint64_t r3 = 0) {
  m.words[0] = r0;
  m.words[1] = r1;
  m.words[2] = r2;
  m.words[3] = r3;
  const uint32_t end = keel::rpc::put_string(m, fsp::kWordString, s);
  m.tag = tag(uint32_t(Status::Ok), end);  // (kIoMax and kNameMax always fit)
}

template <typename T>
Status status_of_result(const ktl::Result<T>& r) {
  return r.ok() ? Status::Ok : keel::status_from(r.error());
}

// Reads string `at` (bytes at most `cap`) into `buf`. InvalidArgument if the
// count or the bytes lie past the message; `too_long` if the count is past cap.
Status take_string(const IpcMessage& m, uint32_t at, char* buf, size_t cap, Status too_long, std::string_view* out,
                   uint32_t* next) {
  const uint32_t have = keel::rpc::words(m);
  if (at >= have) return Status::InvalidArgument;
  if (m.words[at] > cap) return too_long;
  if (!keel::rpc::get_string(m, at, buf, cap, out, next)) return Status::InvalidArgument;
  return Status::Ok;
}

// A path: string `at`, normalised into `norm`.
Status take_path(const IpcMessage& m, uint32_t at, char* norm, std::string_view* out, uint32_t* next) {
  char raw[fsp::kPathMax];
  std::string_view s;
  if (Status st = take_string(m, at, raw, sizeof raw, Status::NameTooLong, &s, next); st != Status::Ok) return st;
  auto n = keel::path::normalize(s, {norm, fsp::kPathMax});
  if (!n.ok()) return keel::status_from(n.error());
  *out = *n;
  return Status::Ok;
}

}  // namespace

void dispatch(Backend& b, IpcMessage& m, uint32_t handles, std::span<uint8_t> shared, Images* images) {
  const uint32_t method = keel::rpc::label(m);
  if (method < fsp::kOpen || method > fsp::kMethodLast) return keel::rpc::reply_status(m, Status::Unsupported);
  const bool is_shared = method == fsp::kReadShared || method == fsp::kWriteShared;
  if (keel::rpc::words(m) < fsp::kWordString || handles != (is_shared ? 1u : 0u))
    return keel::rpc::reply_status(m, Status::InvalidArgument);
  const uint64_t raw_fid = m.words[fsp::kWordFid], a = m.words[fsp::kWordA], bw = m.words[fsp::kWordB];
  const uint64_t client = m.words[fsp::kWordClient];
  if (is_shared && (a == 0 || a > fsp::kSharedMax || shared.size() != a))
    return keel::rpc::reply_status(m, Status::InvalidArgument);
  const bool uses_fid = method == fsp::kClose || method == fsp::kRead || method == fsp::kWrite ||
                        method == fsp::kSeek || method == fsp::kFstat || method == fsp::kReadDir || is_shared ||
                        method == fsp::kFchmod || method == fsp::kFsetTimes || method == fsp::kFtruncate ||
                        method == fsp::kFstatfs;
  if (uses_fid && (raw_fid == 0 || raw_fid > fsp::kServerFidMask)) return keel::rpc::reply_status(m, Status::BadHandle);
  const uint32_t fid = uint32_t(raw_fid);
  char path[fsp::kPathMax], path2[fsp::kPathMax];
  std::string_view p1, p2;
  uint32_t next = 0;

  switch (method) {
    case fsp::kOpen: {
      if ((a & ~fsp::kFlagsAll) != 0 || (a & (fsp::kFlagRead | fsp::kFlagWrite)) == 0 || (bw & ~fsp::kModeMask) != 0)
        return reply(m, Status::InvalidArgument);
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      auto opened = b.open(client, p1, a, bw);
      if (!opened.ok()) return reply(m, keel::status_from(opened.error()));
      auto s = b.fstat(client, *opened);
      if (!s.ok()) return reply(m, keel::status_from(s.error()));
      return reply(m, Status::Ok, *opened, s->type, s->size);
    }
    case fsp::kClose: {
      auto r = b.close(client, fid);
      return reply(m, status_of_result(r));
    }
    case fsp::kRead: {
      if (a > fsp::kIoMax) return reply(m, Status::InvalidArgument);
      uint8_t buf[fsp::kIoMax];
      auto r = b.read(client, fid, {buf, size_t(a)});
      if (!r.ok()) return reply(m, keel::status_from(r.error()));
      return reply_string(m, *r, 0, 0, {reinterpret_cast<const char*>(buf), *r});
    }
    case fsp::kWrite: {
      char buf[fsp::kIoMax];
      std::string_view bytes;
      if (Status st = take_string(m, fsp::kWordString, buf, sizeof buf, Status::InvalidArgument, &bytes, &next);
          st != Status::Ok)
        return reply(m, st);
      auto r = b.write(client, fid, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
      if (!r.ok()) return reply(m, keel::status_from(r.error()));
      return reply(m, Status::Ok, *r);
    }
    case fsp::kSeek: {
      if (a > fsp::kSeekEnd) return reply(m, Status::InvalidArgument);
      auto r = b.seek(client, fid, a, int64_t(bw));
      if (!r.ok()) return reply(m, keel::status_from(r.error()));
      return reply(m, Status::Ok, *r);
    }
    case fsp::kStat:
    case fsp::kFstat: {
      ktl::Result<Stat> s = ktl::Error::InvalidArgument;
      if (method == fsp::kStat) {
        if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
        s = b.stat(p1);
      } else {
        s = b.fstat(client, fid);
      }
      if (!s.ok()) return reply(m, keel::status_from(s.error()));
      reply(m, Status::Ok, s->type, s->size, s->mode, 0);
      m.words[4] = s->inode;
      m.words[5] = s->links;
      m.words[6] = uint64_t(s->atime);
      m.words[7] = uint64_t(s->mtime);
      m.words[8] = uint64_t(s->ctime);
      m.tag = tag(uint32_t(Status::Ok), fsp::kStatWords);
      return;
    }
    case fsp::kStatfs:
    case fsp::kFstatfs: {
      ktl::Result<Stat> s = ktl::Error::InvalidArgument;
      if (method == fsp::kStatfs) {
        if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
        s = b.stat(p1);
      } else {
        s = b.fstat(client, fid);
      }
      if (!s.ok()) return reply(m, keel::status_from(s.error()));
      auto info = b.fs_info();
      if (!info.ok()) return reply(m, keel::status_from(info.error()));
      reply(m, Status::Ok, info->block_size, info->blocks, info->free_blocks, info->nodes);
      m.words[4] = info->free_nodes;
      m.words[5] = info->flags;
      m.tag = tag(uint32_t(Status::Ok), fsp::kStatfsWords);
      return;
    }
    case fsp::kReadDir: {
      DirEntry e;
      uint64_t after = 0;
      auto r = b.readdir(client, fid, a, &e, &after);
      if (!r.ok()) return reply(m, keel::status_from(r.error()));
      return reply_string(m, after, e.type, e.size, e.view(), e.inode);
    }
    case fsp::kMkdir: {
      if ((a & ~fsp::kModeMask) != 0) return reply(m, Status::InvalidArgument);
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      return reply(m, status_of_result(b.mkdir(p1, a)));
    }
    case fsp::kRmdir:
    case fsp::kUnlink: {
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      return reply(m, status_of_result(method == fsp::kRmdir ? b.rmdir(p1) : b.unlink(p1)));
    }
    case fsp::kRename: {
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      if (Status st = take_path(m, next, path2, &p2, &next); st != Status::Ok) return reply(m, st);
      return reply(m, status_of_result(b.rename(p1, p2)));
    }
    case fsp::kTruncate: {
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      return reply(m, status_of_result(b.truncate(p1, a)));
    }
    case fsp::kSymlink:
    case fsp::kLink: {
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      if (method == fsp::kLink) {
        if (Status st = take_path(m, next, path2, &p2, &next); st != Status::Ok) return reply(m, st);
        return reply(m, status_of_result(b.link(p1, p2)));
      }
      // The target as given: 1..kPathMax bytes without a NUL.
      if (Status st = take_string(m, next, path2, sizeof path2, Status::NameTooLong, &p2, &next); st != Status::Ok)
        return reply(m, st);
      for (char c : p2)
        if (c == 0) return reply(m, Status::InvalidArgument);
      if (p2.empty()) return reply(m, Status::NotFound);  // (symlink(2): an empty target is ENOENT)
      return reply(m, status_of_result(b.symlink(p1, p2)));
    }
    case fsp::kChmod: {
      if ((a & ~fsp::kModeMask) != 0) return reply(m, Status::InvalidArgument);
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      return reply(m, status_of_result(b.chmod(p1, a)));
    }
    case fsp::kSetTimes: {
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      return reply(m, status_of_result(b.set_times(p1, a, bw)));
    }
    case fsp::kMknod: {
      if (a != fsp::kTypeFifo || (bw & ~fsp::kModeMask) != 0) return reply(m, Status::InvalidArgument);
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      return reply(m, status_of_result(b.mknod(p1, a, bw)));
    }
    case fsp::kFchmod:
      if ((a & ~fsp::kModeMask) != 0) return reply(m, Status::InvalidArgument);
      return reply(m, status_of_result(b.fchmod(client, fid, a)));
    case fsp::kFsetTimes: return reply(m, status_of_result(b.fset_times(client, fid, a, bw)));
    case fsp::kFtruncate: return reply(m, status_of_result(b.ftruncate(client, fid, a)));
    case fsp::kForget:
      b.forget(client);
      return reply(m, Status::Ok);
    case fsp::kReadShared: {
      auto r = b.read(client, fid, shared);
      if (!r.ok()) return reply(m, keel::status_from(r.error()));
      return reply(m, Status::Ok, *r);
    }
    case fsp::kWriteShared: {
      auto r = b.write(client, fid, shared);
      if (!r.ok()) return reply(m, keel::status_from(r.error()));
      return reply(m, Status::Ok, *r);
    }
    case fsp::kImage: {
      if (Status st = take_path(m, fsp::kWordString, path, &p1, &next); st != Status::Ok) return reply(m, st);
      if (images == nullptr) return reply(m, Status::Unsupported);
      Stat st;
      auto h = images->image(p1, &st);
      if (!h.ok()) return reply(m, keel::status_from(h.error()));
      reply(m, Status::Ok, st.type, st.size, st.mode, st.inode);
      m.handles[0] = *h;
      m.tag = tag(uint32_t(Status::Ok), fsp::kWordString, 1);
      return;
    }
  }
  keel::rpc::reply_status(m, Status::Unsupported);
}

}  // namespace keel::fs
