// vfs — Keel's one file namespace: a mount table of file-system servers
// (the initrd at "/", tmpfs at "/tmp", tmpfs-run at "/run"), each found in
// names, and every request of keel/proto/fs.h forwarded to the server of the
// mount its path or fid names (vfs.h has the rules). vfs keeps no state per
// file or client, so a restart of vfs loses nothing; the fs servers are
// looked up again when they stop answering.
#include <keel/keel.h>
#include <keel/proto/names.h>
#include <keel/rpc.h>
#include <keel/start.h>

#include "vfs.h"

#include <new>

namespace sys = keel::sys;
using keel::Handle;
using keel::IpcMessage;
using keel::kInvalidHandle;
using keel::Status;

namespace {

constexpr uint64_t kMs = 1'000'000;
// How long one request may take at an fs server before vfs gives up on it
// (a stale endpoint of a server that died is never answered).
constexpr uint64_t kCallDeadline = 1000 * kMs;
// How long a reconnect looks for a server that answers a ping, and each ping.
constexpr uint64_t kReconnectWindow = 1500 * kMs;
constexpr uint64_t kPingDeadline = 200 * kMs;

struct MountSpec {
  const char* point;
  const char* service;
};
constexpr MountSpec kMounts[] = {{"/", "initrdfs"}, {"/tmp", "tmpfs"}, {"/run", "tmpfs-run"}};

class NamesServers final : public keel::vfs::Servers {
 public:
  NamesServers(Handle names, const keel::vfs::MountTable& mounts) : names_(names), mounts_(mounts) {}

  Status call(size_t mount, IpcMessage& m) override {
    if (endpoint_[mount] == kInvalidHandle) {
      if (Status st = lookup(mount); st != Status::Ok) return st;
    }
    return keel::rpc::call(endpoint_[mount], m, keel::now_ns() + kCallDeadline);
  }

  Status reconnect(size_t mount) override {
    keel::print("vfs: {} ({}) did not answer; looking it up again\n", mounts_.service(mount), mounts_.point(mount));
    const uint64_t give_up = keel::now_ns() + kReconnectWindow;
    for (;;) {
      drop(mount);
      Status st = lookup(mount);
      if (st == Status::Ok) {
        IpcMessage ping{};
        ping.tag = keel::rpc::tag(keel::rpc::kMethodPing, 0);
        st = keel::rpc::call(endpoint_[mount], ping, keel::now_ns() + kPingDeadline);
        if (st == Status::Ok) return Status::Ok;
      }
      if (keel::now_ns() > give_up) {
        keel::print("vfs: {} ({}) is not back: {}\n", mounts_.service(mount), mounts_.point(mount),
                    keel::status_name(st));
        return st;
      }
      sys::thread_sleep(keel::now_ns() + 50 * kMs);
    }
  }

  Status lookup(size_t mount) {
    IpcMessage m{};
    uint32_t at = keel::rpc::put_string(m, 0, mounts_.service(mount));
    m.tag = keel::rpc::tag(keel::proto::names::kLookup, at);
    Status st = keel::rpc::call(names_, m, keel::now_ns() + 2000 * kMs);
    if (st != Status::Ok) return st;
    if (keel::rpc::handles(m) != 1) return Status::InvalidArgument;
    endpoint_[mount] = m.handles[0];
    return Status::Ok;
  }

 private:
  void drop(size_t mount) {
    if (endpoint_[mount] != kInvalidHandle) sys::handle_close(endpoint_[mount]);
    endpoint_[mount] = kInvalidHandle;
  }

  Handle names_;
  const keel::vfs::MountTable& mounts_;
  Handle endpoint_[keel::proto::fs::kMountsMax] = {kInvalidHandle, kInvalidHandle, kInvalidHandle, kInvalidHandle,
                                                   kInvalidHandle, kInvalidHandle, kInvalidHandle, kInvalidHandle};
};

struct State {
  keel::vfs::MountTable* mounts;
  NamesServers* servers;
};

}  // namespace

int main(uint64_t) {
  Handle names = kInvalidHandle;
  uint64_t unused = 0;
  if (!keel::find_module("names", &names, &unused)) {
    keel::print("vfs: missing start handle (names)\n");
    return 1;
  }
  auto* mounts = new (std::nothrow) keel::vfs::MountTable;  // (no static: it would need atexit)
  if (mounts == nullptr) return 1;
  for (const MountSpec& s : kMounts) {
    if (auto r = mounts->add(s.point, s.service); !r.ok()) {
      keel::print("vfs: cannot mount {} at {}: {}\n", s.service, s.point, ktl::error_name(r.error()));
      return 1;
    }
  }
  auto* servers = new (std::nothrow) NamesServers(names, *mounts);
  if (servers == nullptr) return 1;
  // The servers are our dependencies: ready before we start, though init
  // may not have registered them in names yet (its registrar thread does
  // that after their kReady). One that is still missing after a while is
  // looked up again at its first request.
  const uint64_t give_up = keel::now_ns() + 5000 * kMs;
  for (size_t i = 0; i < mounts->count(); ++i) {
    Status st = servers->lookup(i);
    while (st == Status::NotFound && keel::now_ns() < give_up) {
      sys::thread_sleep(keel::now_ns() + 20 * kMs);
      st = servers->lookup(i);
    }
    if (st == Status::Ok) {
      keel::print("vfs: mounted {} at {}\n", mounts->service(i), mounts->point(i));
    } else {
      keel::print("vfs: {} (for {}): {}\n", mounts->service(i), mounts->point(i), keel::status_name(st));
    }
  }
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) {
    keel::print("vfs: cannot create its endpoint\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("vfs: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  State state{mounts, servers};
  Status st = keel::rpc::serve(
      ep,
      [](IpcMessage& m, keel::rpc::Request& req) {
        auto* s = static_cast<State*>(req.ctx);
        keel::vfs::handle(*s->mounts, *s->servers, m, req.badge, {req.received, req.received_count});
      },
      &state);
  keel::print("vfs: serving failed: {}\n", keel::status_name(st));
  return 1;
}
