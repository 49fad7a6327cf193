// edu — a driver for QEMU's "edu" teaching device (PCI 1234:11e8, `-device
// edu`), the smallest real PCI driver: it proves that init's `match pci`
// hand-out works end to end. It gets only what init gives the matched
// driver (docs/userspace.md, devmgr): "bar0" (DeviceMemory over the
// device's 1 MiB register BAR), "irq" + "irq-notify" (its MSI, or its INTx
// line) and "pci" (a MemoryObject with the function's PciDevice record,
// keel/proto/devmgr.h).
//
// At start it reads the identification register (0x00: 0xRRrr00ed, major and
// minor version), checks the liveness register (0x04 returns the inverse of
// what was written), has the device compute a factorial (0x08, status 0x20
// bit 0 while busy), and twice raises an interrupt (0x60), waits for it and
// acknowledges it (0x24 status, 0x64 ack; an INTx line also with
// interrupt_ack, after which it must stay quiet: the device lowered it). It logs what it found and serves
// proto::edu::kQuery: the identification and a factorial computed by the
// device. Register layout: QEMU's docs/specs/edu.rst.
#include <keel/alloc.h>
#include <keel/keel.h>
#include <keel/pci_driver.h>
#include <keel/proto/devmgr.h>
#include <keel/rpc.h>
#include <keel/start.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;

namespace {

constexpr uint32_t kRegId = 0x00, kRegLiveness = 0x04, kRegFactorial = 0x08, kRegStatus = 0x20;
constexpr uint32_t kRegIrqStatus = 0x24, kRegIrqRaise = 0x60, kRegIrqAck = 0x64;
constexpr uint32_t kStatusBusy = 1;
constexpr uint64_t kIrqBit = 1;
constexpr uint32_t kQuery = 1;  // words[0] n (0..12) → Ok; [0] identification, [1] n! (by the device)

volatile uint32_t* g_regs = nullptr;

const char* irq_name(uint32_t kind) {
  namespace dm = keel::proto::devmgr;
  return kind == dm::kIrqMsi ? "MSI" : kind == dm::kIrqMsiX ? "MSI-X" : kind == dm::kIrqIntx ? "INTx" : "none";
}

uint32_t rd(uint32_t off) { return g_regs[off / 4]; }
void wr(uint32_t off, uint32_t v) { g_regs[off / 4] = v; }

// n! by the device; false if it stays busy for 1 s.
bool factorial(uint32_t n, uint32_t* out) {
  wr(kRegFactorial, n);
  const uint64_t deadline = keel::now_ns() + 1'000'000'000;
  while (rd(kRegStatus) & kStatusBusy)
    if (keel::now_ns() > deadline) return false;
  *out = rd(kRegFactorial);
  return true;
}

void handle(keel::IpcMessage& m, keel::rpc::Request&) {
  if (keel::rpc::label(m) != kQuery) return keel::rpc::reply_status(m, Status::Unsupported);
  if (keel::rpc::words(m) < 1 || m.words[0] > 12) return keel::rpc::reply_status(m, Status::InvalidArgument);
  uint32_t f = 0;
  if (!factorial(uint32_t(m.words[0]), &f)) return keel::rpc::reply_status(m, Status::TimedOut);
  m.words[0] = rd(kRegId);
  m.words[1] = f;
  m.tag = keel::rpc::tag(uint32_t(Status::Ok), 2);
}

}  // namespace

int main(uint64_t) {
  keel::PciDriverStart start;
  if (!keel::pci_driver_start("edu", &start)) return 1;
  const Handle irq = start.irq, notify = start.irq_notify;
  const uint64_t bar_size = start.bar0_size;
  const auto& dev = start.dev;
  const uint64_t addr = keel::map_bar0("edu", start, keel::kPageSize);
  if (addr == 0) return 1;
  g_regs = reinterpret_cast<volatile uint32_t*>(addr);
  const uint32_t id = rd(kRegId);
  if ((id & 0xff) != 0xed) {
    keel::print("edu: BAR0 identification {:#x} is not an edu device\n", id);
    return 1;
  }
  wr(kRegLiveness, 0x12345678);
  const bool live = rd(kRegLiveness) == ~uint32_t(0x12345678);
  uint32_t f5 = 0;
  const bool fact = factorial(5, &f5) && f5 == 120;
  // Interrupts raised by the device, through whatever init set up: two
  // rounds. Each is acknowledged at the device (0x64), which lowers its
  // line; a level-triggered INTx line is then unmasked (interrupt_ack), and
  // must stay quiet — were it still asserted, it would fire again at once.
  const bool intx = dev.irq == keel::proto::devmgr::kIrqIntx;
  uint64_t bits = 0;
  (void)sys::notification_wait(notify, keel::now_ns(), &bits);  // nothing stale
  bool got = true, quiet = true;
  for (int round = 0; round < 2 && got; ++round) {
    wr(kRegIrqRaise, 0x1);
    bits = 0;
    got = sys::notification_wait(notify, keel::now_ns() + 5'000'000'000, &bits) == 0 && (bits & kIrqBit);
    wr(kRegIrqAck, rd(kRegIrqStatus));
    if (intx) {
      (void)sys::interrupt_ack(irq);
      bits = 0;
      if (sys::notification_wait(notify, keel::now_ns() + 20'000'000, &bits) == 0) quiet = false;
    }
  }
  keel::print("edu: {:02x}:{:02x}.{} {:04x}:{:04x} version {}.{}, BAR0 {:#x} ({} KiB), liveness {}, 5! = {}, "
              "interrupt ({}) {}{}\n",
              dev.bus, dev.device, dev.function, dev.vendor_id, dev.device_id, id >> 24, (id >> 16) & 0xff,
              dev.bar_base[0], bar_size / 1024, live ? "ok" : "WRONG", fact ? f5 : 0,
              irq_name(dev.irq), got ? "received" : "NOT received",
              !intx || !got ? "" : quiet ? " twice, acknowledged, line lowered" : ", but the line stayed asserted");
  if (!live || !fact || !got || !quiet) return 1;
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) return 1;
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("edu: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(ep, &handle, nullptr);
  keel::print("edu: serving failed: {}\n", keel::status_name(st));
  return 1;
}
