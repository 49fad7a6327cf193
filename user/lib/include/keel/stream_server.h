// keel/stream_server.h — the driver side of the byte stream protocol
// (keel/proto/serial.h): one client's rings, and the kAttach request that
// replaces them. Shared by the serial, ps2kbd and fbcon drivers.
#pragma once

#include <keel/keel.h>
#include <keel/lock.h>
#include <keel/ring.h>
#include <keel/rpc.h>

namespace keel::stream {

// The attached client: its rings (mapped at `addr`) and its notification.
struct Attachment {
  uint64_t addr = 0;                // the rings, mapped here (proto::serial::kRingsSize bytes)
  RingProducer* rx = nullptr;       // driver → client
  RingConsumer* tx = nullptr;       // client → driver
  Handle client = kInvalidHandle;   // the client's notification (signal)
  bool active = false;
};

// Answers kAttach (handles: the rings' MemoryObject, the client's
// notification): maps and checks the rings, then under `lock` replaces `att`
// (an earlier client's rings are unmapped, its notification closed), signals
// `notify` with kTxBit so the driver looks at the new rings, and replies Ok
// with a copy of `notify` (signal). Errors (the reply's label):
// InvalidArgument for the wrong handle count, a MemoryObject that does not
// map for kRingsSize bytes or holds no valid rings, or no copy of `notify`;
// nothing changes then.
void attach(IpcMessage& m, rpc::Request& req, Handle notify, SpinLock& lock, Attachment& att);

}  // namespace keel::stream
