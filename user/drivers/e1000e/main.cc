// e1000e — a small driver for the Intel 82574L Ethernet controller (PCI
// 8086:10d3, QEMU's default NIC on q35, `-device e1000e`), the proof of
// init's MSI-X hand-out: the function has MSI-X (5 entries in BAR 3), and
// the device can be made to raise an interrupt without any DMA, by setting
// an interrupt cause in its Interrupt Cause Set register. It gets only what
// init gives the matched driver (docs/userspace.md, devmgr): "bar0".."bar3"
// (BAR 0 is the register file), "irq" + "irq-notify" (MSI-X table entry 0)
// and "pci" (its PciDevice record, keel/proto/devmgr.h). It does not move
// packets (no DMA buffers yet: TODO(issue 4) for a network stack).
//
// At start it masks every cause (IMC), clears the pending ones (ICR is
// write-1-to-clear), reads the MAC address the device loaded from its EEPROM
// (receive address 0, with its Address Valid bit) and the link state, then
// routes the "other" causes to MSI-X vector 0 (IVAR bits 19:16: valid bit 3,
// vector 2:0), enables Link Status Change and Other (IMS), sets Link Status
// Change in ICS, and waits for the message. It acknowledges by clearing ICR,
// logs what it found and serves kQuery. Register layout and bits: Intel
// 82574 GbE Controller Family Datasheet §10.2 (CTRL 0x0, STATUS 0x8, ICR
// 0xC0, ICS 0xC8, IMS 0xD0, IMC 0xD8, IVAR 0xE4, RAL0/RAH0 0x5400/0x5404;
// ICR.LSC bit 2, ICR.Other bit 24; STATUS.LU bit 1).
#include <keel/keel.h>
#include <keel/pci_driver.h>
#include <keel/proto/devmgr.h>
#include <keel/rpc.h>
#include <keel/start.h>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace dm = keel::proto::devmgr;

namespace {

constexpr uint32_t kRegStatus = 0x0008, kRegIcr = 0x00c0, kRegIcs = 0x00c8, kRegIms = 0x00d0, kRegImc = 0x00d8;
constexpr uint32_t kRegIvar = 0x00e4, kRegRal0 = 0x5400, kRegRah0 = 0x5404;
constexpr uint32_t kCauseLsc = 1u << 2, kCauseOther = 1u << 24;
constexpr uint32_t kIvarOtherValid = 1u << 19;  // the "other" field (19:16): valid, vector 0
constexpr uint32_t kStatusLinkUp = 1u << 1;
constexpr uint32_t kRahAddressValid = 1u << 31;
constexpr uint64_t kIrqBit = 1;
// words: — → Ok; [0] the MAC address (48 bits, first byte highest), [1] STATUS
constexpr uint32_t kQuery = 1;

volatile uint32_t* g_regs = nullptr;

uint32_t rd(uint32_t off) { return g_regs[off / 4]; }
void wr(uint32_t off, uint32_t v) { g_regs[off / 4] = v; }

uint64_t mac() {
  const uint32_t lo = rd(kRegRal0), hi = rd(kRegRah0);
  uint64_t m = 0;
  for (int i = 0; i < 4; ++i) m = m << 8 | ((lo >> (8 * i)) & 0xff);
  for (int i = 0; i < 2; ++i) m = m << 8 | ((hi >> (8 * i)) & 0xff);
  return m;
}

void handle(keel::IpcMessage& m, keel::rpc::Request&) {
  if (keel::rpc::label(m) != kQuery) return keel::rpc::reply_status(m, Status::Unsupported);
  m.words[0] = mac();
  m.words[1] = rd(kRegStatus);
  m.tag = keel::rpc::tag(uint32_t(Status::Ok), 2);
}

const char* irq_name(uint32_t kind) {
  return kind == dm::kIrqMsi ? "MSI" : kind == dm::kIrqMsiX ? "MSI-X" : kind == dm::kIrqIntx ? "INTx" : "none";
}

}  // namespace

int main(uint64_t) {
  keel::PciDriverStart start;
  if (!keel::pci_driver_start("e1000e", &start)) return 1;
  const Handle irq = start.irq, notify = start.irq_notify;
  const uint64_t bar_size = start.bar0_size;
  const auto& dev = start.dev;
  if (bar_size < kRegRah0 + 4) {
    keel::print("e1000e: BAR0 is {} bytes: too small for the register file\n", bar_size);
    return 1;
  }
  const uint64_t addr = keel::map_bar0("e1000e", start, bar_size);
  if (addr == 0) return 1;
  g_regs = reinterpret_cast<volatile uint32_t*>(addr);
  wr(kRegImc, 0xffffffff);
  wr(kRegIcr, 0xffffffff);
  const uint64_t m = mac();
  const bool valid = rd(kRegRah0) & kRahAddressValid;
  const bool link = rd(kRegStatus) & kStatusLinkUp;
  // One interrupt, raised by the device through the message init set up.
  uint64_t bits = 0;
  (void)sys::notification_wait(notify, keel::now_ns(), &bits);  // nothing stale
  wr(kRegIvar, kIvarOtherValid);
  wr(kRegIms, kCauseLsc | kCauseOther);
  wr(kRegIcs, kCauseLsc);
  bits = 0;
  const bool got = sys::notification_wait(notify, keel::now_ns() + 5'000'000'000, &bits) == 0 && (bits & kIrqBit);
  const uint32_t cause = rd(kRegIcr);
  wr(kRegImc, 0xffffffff);
  wr(kRegIcr, 0xffffffff);
  if (got && dev.irq == dm::kIrqIntx) (void)sys::interrupt_ack(irq);
  keel::print("e1000e: {:02x}:{:02x}.{} {:04x}:{:04x} MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}{}, link {}, "
              "interrupt ({}) {} (cause {:#x})\n",
              dev.bus, dev.device, dev.function, dev.vendor_id, dev.device_id, (m >> 40) & 0xff, (m >> 32) & 0xff,
              (m >> 24) & 0xff, (m >> 16) & 0xff, (m >> 8) & 0xff, m & 0xff, valid ? "" : " (not valid)",
              link ? "up" : "down", irq_name(dev.irq), got ? "received" : "NOT received", cause);
  if (!got) return 1;
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) return 1;
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("e1000e: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(ep, &handle, nullptr);
  keel::print("e1000e: serving failed: {}\n", keel::status_name(st));
  return 1;
}
