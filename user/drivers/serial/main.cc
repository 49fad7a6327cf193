// serial — the 16550 UART driver (COM1), interrupt-driven, as a separate
// process with only its ports and its interrupt (keel/proto/serial.h has the
// protocol).
//
// The kernel programmed the line (115200 8N1, FIFOs on) and still writes its
// log to the same UART with polled output, so this driver never touches the
// line control or divisor registers (kernel/object/ioports.h). It enables the
// received-data interrupt and OUT2 (which gates the UART's interrupt line on
// PCs), moves received bytes into the client's receive ring and bytes from
// the transmit ring to the transmitter, 16 at a time (the FIFO's depth).
// PC16550D datasheet: registers RBR/THR 0, IER 1, IIR/FCR 2, LCR 3, MCR 4, LSR 5.
//
// Threads: the main thread serves the endpoint (attach, heartbeats); the
// device thread waits on the interrupt notification, which the client also
// signals (kTxBit) when it has bytes to send. g_lock guards the attachment.
#include <keel/alloc.h>
#include <keel/keel.h>
#include <keel/lock.h>
#include <keel/proto/init.h>
#include <keel/proto/serial.h>
#include <keel/ring.h>
#include <keel/rpc.h>
#include <keel/start.h>
#include <keel/stream_server.h>


namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace proto = keel::proto::serial;

namespace {

constexpr uint32_t kRbr = 0, kThr = 0, kIer = 1, kLsr = 5, kMcr = 4;
constexpr uint32_t kLsrDataReady = 0x01, kLsrThrEmpty = 0x20;
constexpr uint32_t kIerRxData = 0x01;
constexpr uint32_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut2 = 0x08;
constexpr uint64_t kIrqBit = 1;
constexpr size_t kFifoDepth = 16;

Handle g_ports = kInvalidHandle, g_irq = kInvalidHandle, g_notify = kInvalidHandle;
uint32_t g_base = 0x3f8;

using keel::stream::Attachment;
keel::SpinLock g_lock;
Attachment g_att;  // guarded by g_lock
uint64_t g_dropped = 0;

uint32_t in(uint32_t reg) {
  uint32_t v = 0;
  (void)sys::ioport_read(g_ports, g_base + reg, 1, &v);
  return v;
}
void out(uint32_t reg, uint32_t v) { (void)sys::ioport_write(g_ports, g_base + reg, 1, v); }

// Reads what the UART has into the receive ring. Lock held.
void receive_locked() {
  uint8_t buf[64];
  size_t n = 0;
  bool wake = false;
  for (int guard = 0; guard < 4096 && (in(kLsr) & kLsrDataReady); ++guard) {
    buf[n++] = uint8_t(in(kRbr));
    if (n == sizeof buf) {
      if (!g_att.active || !g_att.rx->write({buf, n}).ok()) g_dropped += n;
      wake = true;
      n = 0;
    }
  }
  if (n != 0) {
    if (!g_att.active || !g_att.rx->write({buf, n}).ok()) g_dropped += n;
    wake = true;
  }
  if (wake && g_att.active && g_att.rx->needs_wakeup()) sys::notification_signal(g_att.client, proto::kClientBit);
}

// Bytes taken from the transmit ring and not yet in the FIFO: kept across
// calls, so that a transmitter that stays busy delays them but never loses
// them. Guarded by g_lock.
uint8_t g_tx_buf[proto::kRingCapacity / 2];
size_t g_tx_len = 0, g_tx_at = 0;

// Sends what the transmit ring holds. Lock held. Returns false if the
// transmitter is still busy with bytes left to send: call again later.
// (QEMU keeps THRE clear for as long as the host end of the console does not
// read — seconds on a loaded host — and this driver once gave up on a batch
// after a while of spinning, losing up to 2 KiB of console output.)
bool transmit_locked() {
  if (!g_att.active && g_tx_at == g_tx_len) return true;
  bool busy = false;
  for (;;) {
    if (g_tx_at == g_tx_len) {
      if (!g_att.active) break;
      auto r = g_att.tx->read({g_tx_buf, sizeof g_tx_buf});
      if (!r.ok() || *r == 0) break;
      g_tx_len = *r;
      g_tx_at = 0;
    }
    // Wait (briefly: the lock is held) for an empty FIFO, then fill it.
    int spin = 0;
    while (!(in(kLsr) & kLsrThrEmpty) && ++spin < 256) {
    }
    if (spin == 256) {
      busy = true;
      break;
    }
    for (size_t k = 0; k < kFifoDepth && g_tx_at < g_tx_len; ++k) out(kThr, g_tx_buf[g_tx_at++]);
  }
  if (g_att.active && g_att.tx->needs_wakeup()) sys::notification_signal(g_att.client, proto::kClientBit);
  return !busy;
}

void device_loop(uint64_t) {
  for (;;) {
    g_lock.lock();
    receive_locked();
    const bool sent = transmit_locked();
    // Sleep only if the transmit ring stays empty (the ring's wait protocol);
    // with the transmitter busy, for a millisecond before trying again.
    const bool sleep = !sent || !g_att.active || g_att.tx->prepare_wait();
    g_lock.unlock();
    if (!sleep) continue;
    uint64_t bits = 0;
    const uint64_t wait_ns = sent ? 1'000'000'000 : 1'000'000;
    if (sys::notification_wait(g_notify, keel::now_ns() + wait_ns, &bits) == 0 && (bits & kIrqBit))
      (void)sys::interrupt_ack(g_irq);
  }
}

void attach(keel::IpcMessage& m, keel::rpc::Request& req) {
  keel::stream::attach(m, req, g_notify, g_lock, g_att);
}

void handle(keel::IpcMessage& m, keel::rpc::Request& req) {
  if (keel::rpc::label(m) == proto::kAttach) return attach(m, req);
  keel::rpc::reply_status(m, Status::Unsupported);
}

}  // namespace

int main(uint64_t) {
  uint64_t unused = 0;
  if (!keel::find_module("ioports", &g_ports, &unused) || !keel::find_module("irq", &g_irq, &unused) ||
      !keel::find_module("irq-notify", &g_notify, &unused)) {
    keel::print("serial: missing start handles (ioports, irq, irq-notify)\n");
    return 1;
  }
  // Interrupts: received data only; OUT2 lets the UART's interrupt reach the
  // interrupt controller. Anything already received is read below.
  out(kMcr, kMcrDtr | kMcrRts | kMcrOut2);
  out(kIer, kIerRxData);
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) {
    keel::print("serial: cannot create its endpoint\n");
    return 1;
  }
  if (keel::start_thread(&device_loop, 0, 64 * 1024) == 0) {
    keel::print("serial: cannot start the device thread\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("serial: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(ep, &handle, nullptr);
  keel::print("serial: serving failed: {}\n", keel::status_name(st));
  return 1;
}
