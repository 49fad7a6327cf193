// stream_server.cc — keel/stream_server.h.
#include <keel/proto/serial.h>
#include <keel/start.h>
#include <keel/stream_server.h>

namespace keel::stream {

namespace proto = keel::proto::serial;

void attach(IpcMessage& m, rpc::Request& req, Handle notify, SpinLock& lock, Attachment& att) {
  if (req.received_count != 2) return rpc::reply_status(m, Status::InvalidArgument);
  const Handle self = start_info()->self_process;
  Handle vmo = req.received[0], client = req.received[1];
  uint64_t addr = 0;
  if (sys::vm_map(self, vmo, 0, proto::kRingsSize, kVmRead | kVmWrite, &addr) != 0)
    return rpc::reply_status(m, Status::InvalidArgument);
  auto* base = reinterpret_cast<uint8_t*>(addr);
  auto rx = RingProducer::attach({base, proto::kRingBytes});
  auto tx = RingConsumer::attach({base + proto::kTxOffset, proto::kRingBytes});
  Handle back = kInvalidHandle;
  if (!rx.ok() || !tx.ok() || sys::handle_duplicate(notify, kRightSignal | kRightTransfer, &back) != 0) {
    sys::vm_unmap(self, addr, proto::kRingsSize);
    return rpc::reply_status(m, Status::InvalidArgument);
  }
  req.received[1] = kInvalidHandle;  // keep the client's notification
  lock.lock();
  Attachment old = att;
  att.addr = addr;
  att.rx = new RingProducer(static_cast<RingProducer&&>(*rx));
  att.tx = new RingConsumer(static_cast<RingConsumer&&>(*tx));
  att.client = client;
  att.active = true;
  lock.unlock();
  if (old.active) {
    sys::vm_unmap(self, old.addr, proto::kRingsSize);
    sys::handle_close(old.client);
    delete old.rx;
    delete old.tx;
  }
  sys::notification_signal(notify, proto::kTxBit);  // look at the new rings
  m.handles[0] = back;
  m.tag = rpc::tag(uint32_t(Status::Ok), 0, 1);
}

}  // namespace keel::stream
