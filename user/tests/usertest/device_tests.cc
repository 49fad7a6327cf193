// device_tests.cc — device authority: the Resource, I/O ports, interrupts and
// device memory, on QEMU's q35 machine (tools/keel-test runs it there).
//
// The devices used:
//  - the CMOS RTC (ports 0x70-0x71, ISA IRQ 8 = GSI 8, edge-triggered): its
//    periodic interrupt; registers A-D;
//  - PCI configuration space through ECAM at 0xb0000000, where both SeaBIOS
//    and OVMF put q35's MMCONFIG window (bus 0 device 0 is the MCH,
//    8086:29c0);
//  - the default NIC (an Intel e1000e), whose legacy INTx interrupt is a
//    level-triggered PCI line, raised and lowered through its ICS/IMC
//    registers;
//  - QEMU's "edu" teaching device (1234:11e8, added with -device edu by
//    tools/keel-test), which raises an interrupt — an MSI once enabled — on a
//    write to its interrupt-raise register (QEMU docs/specs/edu.rst).
// Each test leaves the devices as it found them (RTC interrupts off, NIC
// interrupts masked) and closes what it made.
#include <keel/acpi.h>
#include <keel/start.h>
#include <keel/utest.h>

using keel::err;
using keel::Status;
namespace sys = keel::sys;

namespace {

constexpr uint64_t kMs = 1'000'000;

// CMOS RTC (MC146818): index port, data port, registers.
constexpr uint32_t kCmosIndex = 0x70, kCmosData = 0x71;
constexpr uint32_t kRtcA = 0x0a, kRtcB = 0x0b, kRtcC = 0x0c, kRtcD = 0x0d;
constexpr uint32_t kRtcBPie = 0x40;  // register B: periodic interrupt enable
constexpr uint32_t kRtcCIrqf = 0x80, kRtcCPf = 0x40;  // register C: IRQ flag, periodic flag
constexpr uint32_t kRtcGsi = 8;

// q35's ECAM window (see the file comment): 1 MiB per bus.
constexpr uint64_t kEcamBase = 0xb0000000;
constexpr uint64_t kEcamBusSize = 1 << 20;

// e1000e registers (Intel 82574 datasheet §10.2): interrupt cause read, set,
// mask set, mask clear; LSC is the link-status-change cause.
constexpr uint32_t kNicIcr = 0xc0, kNicIcs = 0xc8, kNicIms = 0xd0, kNicImc = 0xd8;
constexpr uint32_t kNicLsc = 1u << 2;
// q35 wires PCI INTx lines (PIRQ A-H) to GSIs 16-23.
constexpr uint32_t kPciGsiFirst = 16, kPciGsiCount = 8;

keel::Handle resource() {
  const keel::StartInfo* si = keel::start_info();
  return si ? si->resource : keel::kInvalidHandle;
}

keel::Handle self() {
  const keel::StartInfo* si = keel::start_info();
  return si ? si->self_process : keel::kInvalidHandle;
}

keel::Handle make_notification() {
  keel::Handle n = 0;
  return sys::notification_create(&n) == 0 ? n : 0;
}

keel::Handle make_vmo() {
  keel::Handle h = 0;
  return sys::vmo_create(4096, 0, &h) == 0 ? h : 0;
}

keel::Handle dup(keel::Handle h, keel::Rights rights) {
  keel::Handle d = 0;
  return sys::handle_duplicate(h, rights, &d) == 0 ? d : 0;
}

// CMOS register access through an IoPorts for 0x70-0x71 (NMIs stay enabled:
// bit 7 of the index is 0).
uint32_t cmos_read(keel::Handle ports, uint32_t reg) {
  uint32_t v = 0xffffffff;
  if (sys::ioport_write(ports, kCmosIndex, 1, reg) != 0) return v;
  if (sys::ioport_read(ports, kCmosData, 1, &v) != 0) return 0xffffffff;
  return v;
}
bool cmos_write(keel::Handle ports, uint32_t reg, uint32_t value) {
  return sys::ioport_write(ports, kCmosIndex, 1, reg) == 0 && sys::ioport_write(ports, kCmosData, 1, value) == 0;
}

// Maps `size` bytes of device memory at `phys` into this process; 0 on failure.
// `*dm` receives the DeviceMemory handle.
uintptr_t map_devmem(uint64_t phys, uint64_t size, uint32_t prot, keel::Handle* dm) {
  *dm = 0;
  if (sys::devmem_create(resource(), phys, size, dm) != 0) return 0;
  uint64_t addr = 0;
  if (sys::vm_map(self(), *dm, 0, size, prot, &addr) != 0) {
    sys::handle_close(*dm);
    *dm = 0;
    return 0;
  }
  return uintptr_t(addr);
}

// A 32-bit register in PCI configuration space (ECAM at `ecam`, bus 0).
volatile uint32_t* config32(uintptr_t ecam, uint32_t dev, uint32_t fn, uint32_t off) {
  return reinterpret_cast<volatile uint32_t*>(ecam + (dev << 15) + (fn << 12) + off);
}
volatile uint16_t* config16(uintptr_t ecam, uint32_t dev, uint32_t fn, uint32_t off) {
  return reinterpret_cast<volatile uint16_t*>(ecam + (dev << 15) + (fn << 12) + off);
}

// The device number of the first bus-0 function 0 with `id` (device << 16 |
// vendor), or 32 if there is none.
uint32_t find_pci(uintptr_t ecam, uint32_t id) {
  for (uint32_t dev = 0; dev < 32; ++dev)
    if (*config32(ecam, dev, 0, 0) == id) return dev;
  return 32;
}

// The offset of capability `cap_id` in a function's configuration space, or
// 0 (PCI Local Bus 3.0 §6.7: status bit 4, the list from offset 0x34).
uint32_t find_capability(uintptr_t ecam, uint32_t dev, uint8_t cap_id) {
  if (!(*config16(ecam, dev, 0, 0x06) & 0x10)) return 0;
  uint32_t off = *config32(ecam, dev, 0, 0x34) & 0xfc;
  for (int hops = 0; off != 0 && hops < 48; ++hops) {
    uint32_t header = *config32(ecam, dev, 0, off);
    if ((header & 0xff) == cap_id) return off;
    off = (header >> 8) & 0xfc;
  }
  return 0;
}

// edu device registers (QEMU docs/specs/edu.rst).
constexpr uint32_t kEduId = 0x11e81234;
constexpr uint32_t kEduIdent = 0x00, kEduIrqStatus = 0x24, kEduIrqRaise = 0x60, kEduIrqAck = 0x64;

}  // namespace

UTEST(device, root_task_gets_the_resource) {
  const keel::StartInfo* si = keel::start_info();
  UASSERT(si != nullptr);
  UEXPECT(si->resource != keel::kInvalidHandle);
  UEXPECT(si->resource != si->self_process);
  UEXPECT_EQ(si->reserved, 0u);
  // Its rights are manage, duplicate and transfer: nothing more can be had.
  UEXPECT(dup(si->resource, keel::kResourceDefaultRights | keel::kRightRead) == 0);
  keel::Handle copy = dup(si->resource, keel::kResourceDefaultRights);
  UEXPECT(copy != 0);
  keel::Handle ports = 0;
  UEXPECT_EQ(sys::ioports_create(copy, 0x80, 1, &ports), 0);  // the POST port
  UEXPECT_EQ(sys::ioport_write(ports, 0x80, 1, 0), 0);
  sys::handle_close(ports);
  sys::handle_close(copy);
  // Without `manage` the Resource creates nothing.
  keel::Handle weak = dup(si->resource, keel::kRightDuplicate | keel::kRightTransfer);
  UASSERT(weak != 0);
  keel::Handle n = make_notification(), out = 0;
  UEXPECT_EQ(sys::ioports_create(weak, 0x80, 1, &out), err(Status::AccessDenied));
  UEXPECT_EQ(sys::interrupt_create(weak, kRtcGsi, n, 1, &out), err(Status::AccessDenied));
  UEXPECT_EQ(sys::devmem_create(weak, kEcamBase, 4096, &out), err(Status::AccessDenied));
  sys::handle_close(weak);
  sys::handle_close(n);
}

UTEST(device, ioports_read_and_write_the_rtc) {
  keel::Handle ports = 0;
  UASSERT(sys::ioports_create(resource(), kCmosIndex, 2, &ports) == 0);
  // Register D bit 7: "valid RAM and time", always 1 on a working RTC.
  UEXPECT((cmos_read(ports, kRtcD) & 0x80) != 0);
  // Register A: a value with the divider bits set (not the all-ones of an
  // absent device), zero-extended.
  uint32_t a = cmos_read(ports, kRtcA);
  UEXPECT(a <= 0xff);
  UEXPECT((a & 0x70) != 0);
  // Width 4 at the first port would pass the end of the two-port range.
  uint32_t v = 0;
  UEXPECT_EQ(sys::ioport_read(ports, kCmosIndex, 4, &v), err(Status::OutOfRange));
  sys::handle_close(ports);
}

UTEST(device, ioports_errors) {
  keel::Handle ports = 0, out = 0;
  uint32_t v = 0;
  UASSERT(sys::ioports_create(resource(), kCmosIndex, 2, &ports) == 0);
  // Ports outside [0x70, 0x72).
  UEXPECT_EQ(sys::ioport_read(ports, 0x72, 1, &v), err(Status::OutOfRange));
  UEXPECT_EQ(sys::ioport_read(ports, 0x6f, 1, &v), err(Status::OutOfRange));
  UEXPECT_EQ(sys::ioport_read(ports, kCmosData, 2, &v), err(Status::OutOfRange));  // 0x71-0x72
  UEXPECT_EQ(sys::ioport_write(ports, 0x72, 1, 0), err(Status::OutOfRange));
  UEXPECT_EQ(sys::ioport_read(ports, 0xffffffffu, 1, &v), err(Status::OutOfRange));
  // Widths other than 1, 2, 4; values wider than the width.
  UEXPECT_EQ(sys::ioport_read(ports, kCmosIndex, 3, &v), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::ioport_read(ports, kCmosIndex, 0, &v), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::ioport_write(ports, kCmosIndex, 8, 0), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::ioport_write(ports, kCmosIndex, 1, 0x100), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::ioport_write(ports, kCmosIndex, 2, 0x10000), err(Status::InvalidArgument));
  // A bad out pointer: Fault.
  UEXPECT_EQ(sys::ioport_read(ports, kCmosData, 1, reinterpret_cast<uint32_t*>(0xffffffff80200000ull)),
             err(Status::Fault));
  // Rights: read needs `read`, write needs `write`.
  keel::Handle ro = dup(ports, keel::kRightRead), wo = dup(ports, keel::kRightWrite);
  UASSERT(ro != 0 && wo != 0);
  UEXPECT_EQ(sys::ioport_write(ro, kCmosIndex, 1, kRtcD), err(Status::AccessDenied));
  UEXPECT_EQ(sys::ioport_read(ro, kCmosData, 1, &v), 0);
  UEXPECT_EQ(sys::ioport_read(wo, kCmosData, 1, &v), err(Status::AccessDenied));
  UEXPECT_EQ(sys::ioport_write(wo, kCmosIndex, 1, kRtcD), 0);
  // Types: a notification is not an IoPorts, an IoPorts is not a Resource.
  keel::Handle n = make_notification(), vmo = make_vmo();
  UEXPECT_EQ(sys::ioport_read(n, kCmosData, 1, &v), err(Status::WrongType));
  UEXPECT_EQ(sys::ioport_write(vmo, kCmosData, 1, 0), err(Status::WrongType));
  UEXPECT_EQ(sys::ioports_create(ports, 0x80, 1, &out), err(Status::WrongType));
  UEXPECT_EQ(sys::ioports_create(vmo, 0x80, 1, &out), err(Status::WrongType));
  UEXPECT_EQ(sys::ioports_create(0, 0x80, 1, &out), err(Status::BadHandle));
  UEXPECT_EQ(sys::ioport_read(0x12345678, kCmosData, 1, &v), err(Status::BadHandle));
  sys::handle_close(ro);
  sys::handle_close(wo);
  sys::handle_close(n);
  sys::handle_close(vmo);
  sys::handle_close(ports);
}

UTEST(device, ioports_create_checks_the_range) {
  keel::Handle r = resource(), out = 0;
  UEXPECT_EQ(sys::ioports_create(r, 0x80, 0, &out), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::ioports_create(r, 0xffff, 2, &out), err(Status::OutOfRange));
  UEXPECT_EQ(sys::ioports_create(r, 0x10000, 1, &out), err(Status::OutOfRange));
  UEXPECT_EQ(sys::ioports_create(r, 0x10, 0xffffffffu, &out), err(Status::OutOfRange));
  // Ports the kernel keeps: the PICs, the PIT, PCI configuration — any
  // overlap is refused. (COM1 is shared with the serial driver: allowed.)
  UEXPECT_EQ(sys::ioports_create(r, 0x20, 1, &out), err(Status::Busy));
  UEXPECT_EQ(sys::ioports_create(r, 0x10, 0x11, &out), err(Status::Busy));  // ends at 0x20
  UEXPECT_EQ(sys::ioports_create(r, 0x21, 1, &out), err(Status::Busy));
  UEXPECT_EQ(sys::ioports_create(r, 0xa1, 1, &out), err(Status::Busy));
  UEXPECT_EQ(sys::ioports_create(r, 0x43, 1, &out), err(Status::Busy));
  UEXPECT_EQ(sys::ioports_create(r, 0xcfc, 4, &out), err(Status::Busy));
  UEXPECT_EQ(sys::ioports_create(r, 0, 0x10000, &out), err(Status::Busy));
  // Their neighbours are fine, and so is the last port.
  const uint32_t ok_ranges[][2] = {{0x22, 1}, {0x44, 1}, {0x60, 0x20}, {0x3f0, 8}, {0x3f8, 8}, {0xcf0, 8}, {0xd00, 0x100}, {0xffff, 1}};
  for (const auto& range : ok_ranges) {
    out = 0;
    UEXPECT_EQ(sys::ioports_create(r, range[0], range[1], &out), 0);
    UEXPECT_EQ(sys::handle_close(out), 0);
  }
  // A bad out pointer: Fault, and nothing made.
  UEXPECT_EQ(sys::ioports_create(r, 0x80, 1, reinterpret_cast<keel::Handle*>(0x10000)), err(Status::Fault));
}

UTEST(device, interrupt_rtc_periodic) {
  keel::Handle r = resource(), n = make_notification(), ports = 0, irq = 0;
  UASSERT(n != 0);
  UASSERT(sys::ioports_create(r, kCmosIndex, 2, &ports) == 0);
  const uint32_t a = cmos_read(ports, kRtcA), b = cmos_read(ports, kRtcB);
  UASSERT(a <= 0xff && b <= 0xff);
  UEXPECT(cmos_write(ports, kRtcB, b & ~0x70u));  // no RTC interrupts while binding
  (void)cmos_read(ports, kRtcC);                   // clear pending flags (lowers IRQ 8)

  UASSERT(sys::interrupt_create(r, kRtcGsi, n, 0x10, &irq) == 0);
  // 64 Hz periodic interrupts (rate 10: 32768 Hz >> 9).
  UEXPECT(cmos_write(ports, kRtcA, (a & 0xf0) | 10));
  UEXPECT(cmos_write(ports, kRtcB, (b & ~0x70u) | kRtcBPie));
  for (int round = 0; round < 3; ++round) {
    // The driver's part: read register C (which lowers the RTC's IRQ line),
    // then acknowledge (a no-op for this edge-triggered line). QEMU's RTC
    // raises its line on every tick, and its IOAPIC takes each raise as an
    // edge, even while register C is unread: when this thread reads C more
    // than a tick (15.6 ms) after an interrupt (a loaded host), the next
    // interrupt's flags were already taken by that read. So a round needs
    // C to show the flags after one of its first four interrupts.
    bool flags = false;
    for (int i = 0; i < 4 && !flags; ++i) {
      uint64_t bits = 0;
      UEXPECT_EQ(sys::notification_wait(n, keel::now_ns() + 2000 * kMs, &bits), 0);
      UEXPECT_EQ(bits, 0x10u);
      uint32_t c = cmos_read(ports, kRtcC);
      flags = (c & (kRtcCIrqf | kRtcCPf)) == (kRtcCIrqf | kRtcCPf);
      UEXPECT_EQ(sys::interrupt_ack(irq), 0);
    }
    UEXPECT(flags);
  }

  // Closing the Interrupt unbinds the line: the RTC keeps interrupting (its
  // flags are cleared each time), but no bit arrives any more.
  UEXPECT_EQ(sys::handle_close(irq), 0);
  sys::thread_sleep(keel::now_ns() + 5 * kMs);
  uint64_t bits = 0;
  (void)cmos_read(ports, kRtcC);
  (void)sys::notification_poll(n, &bits);  // one may have come before the close
  for (int i = 0; i < 4; ++i) {
    sys::thread_sleep(keel::now_ns() + 20 * kMs);
    (void)cmos_read(ports, kRtcC);
  }
  UEXPECT_EQ(sys::notification_poll(n, &bits), err(Status::WouldBlock));

  // The GSI is free again: bind it once more and see one interrupt.
  irq = 0;
  UEXPECT_EQ(sys::interrupt_create(r, kRtcGsi, n, 0x20, &irq), 0);
  (void)cmos_read(ports, kRtcC);
  UEXPECT_EQ(sys::notification_wait(n, keel::now_ns() + 2000 * kMs, &bits), 0);
  UEXPECT_EQ(bits, 0x20u);

  // Put the RTC back: periodic interrupts off, flags clear, old rate.
  UEXPECT(cmos_write(ports, kRtcB, b & ~0x70u));
  (void)cmos_read(ports, kRtcC);
  UEXPECT(cmos_write(ports, kRtcA, a));
  UEXPECT_EQ(sys::handle_close(irq), 0);
  sys::handle_close(ports);
  sys::handle_close(n);
}

UTEST(device, interrupt_create_errors) {
  keel::Handle r = resource(), n = make_notification(), vmo = make_vmo(), irq = 0, other = 0;
  UASSERT(n != 0 && vmo != 0);
  UASSERT(sys::interrupt_create(r, kRtcGsi, n, 1, &irq) == 0);
  // One Interrupt per GSI.
  UEXPECT_EQ(sys::interrupt_create(r, kRtcGsi, n, 2, &other), err(Status::Busy));
  // The GSI of a device the kernel keeps: the PIT (ISA IRQ 0 = GSI 2 on q35).
  UEXPECT_EQ(sys::interrupt_create(r, 2, n, 1, &other), err(Status::Busy));
  // No IOAPIC has GSI 1000 (q35 has one IOAPIC with 24 inputs).
  UEXPECT_EQ(sys::interrupt_create(r, 1000, n, 1, &other), err(Status::OutOfRange));
  UEXPECT_EQ(sys::interrupt_create(r, 24, n, 1, &other), err(Status::OutOfRange));
  UEXPECT_EQ(sys::interrupt_create(r, 0xffffffffu, n, 1, &other), err(Status::OutOfRange));
  UEXPECT_EQ(sys::interrupt_create(r, 3, n, 0, &other), err(Status::InvalidArgument));
  // Handles: types and rights.
  keel::Handle wait_only = dup(n, keel::kRightWait);
  UEXPECT_EQ(sys::interrupt_create(r, 3, wait_only, 1, &other), err(Status::AccessDenied));
  UEXPECT_EQ(sys::interrupt_create(r, 3, vmo, 1, &other), err(Status::WrongType));
  UEXPECT_EQ(sys::interrupt_create(n, 9, n, 1, &other), err(Status::WrongType));
  UEXPECT_EQ(sys::interrupt_create(vmo, 9, n, 1, &other), err(Status::WrongType));
  UEXPECT_EQ(sys::interrupt_create(r, 3, 0, 1, &other), err(Status::BadHandle));
  // A bad out pointer: Fault, and the GSI stays free.
  UEXPECT_EQ(sys::interrupt_create(r, 3, n, 1, reinterpret_cast<keel::Handle*>(0x10000)), err(Status::Fault));
  UEXPECT_EQ(sys::interrupt_create(r, 3, n, 1, &other), 0);
  UEXPECT_EQ(sys::handle_close(other), 0);
  // interrupt_ack: type and rights.
  keel::Handle no_write = dup(irq, keel::kRightDuplicate);
  UEXPECT_EQ(sys::interrupt_ack(no_write), err(Status::AccessDenied));
  UEXPECT_EQ(sys::interrupt_ack(n), err(Status::WrongType));
  UEXPECT_EQ(sys::interrupt_ack(0), err(Status::BadHandle));
  UEXPECT_EQ(sys::interrupt_ack(irq), 0);  // not fired: nothing to do
  // The line stays bound while any handle is open: closing the first of two
  // handles does not free the GSI.
  UEXPECT_EQ(sys::handle_close(irq), 0);
  UEXPECT_EQ(sys::interrupt_create(r, kRtcGsi, n, 2, &other), err(Status::Busy));
  UEXPECT_EQ(sys::handle_close(no_write), 0);
  UEXPECT_EQ(sys::interrupt_create(r, kRtcGsi, n, 2, &other), 0);
  UEXPECT_EQ(sys::handle_close(other), 0);
  sys::handle_close(wait_only);
  sys::handle_close(vmo);
  sys::handle_close(n);
}

UTEST(device, devmem_reads_pci_configuration_space) {
  keel::Handle dm = 0;
  uintptr_t ecam = map_devmem(kEcamBase, kEcamBusSize, keel::kVmRead, &dm);
  UASSERT(ecam != 0);
  // Bus 0, device 0: q35's memory controller hub, Intel 8086:29c0.
  UEXPECT_EQ(*config32(ecam, 0, 0, 0), 0x29c08086u);
  // Device 0x1f: the ICH9 LPC bridge (8086:2918).
  UEXPECT_EQ(*config32(ecam, 0x1f, 0, 0), 0x29188086u);
  // A DeviceMemory handle is no pageable memory: sized, but not read or cloned.
  uint64_t size = 0;
  char buf[4];
  keel::Handle clone = 0;
  UEXPECT_EQ(sys::vmo_get_size(dm, &size), 0);
  UEXPECT_EQ(size, kEcamBusSize);
  UEXPECT_EQ(sys::vmo_read(dm, 0, buf, 4), err(Status::Unsupported));
  UEXPECT_EQ(sys::vmo_write(dm, 0, buf, 4), err(Status::Unsupported));
  UEXPECT_EQ(sys::vmo_clone(dm, 0, 4096, &clone), err(Status::Unsupported));
  // The handle's rights bound the mapping: no write without `write`.
  keel::Handle ro = dup(dm, keel::kRightRead | keel::kRightMap);
  uint64_t addr = 0;
  UEXPECT_EQ(sys::vm_map(self(), ro, 0, 4096, keel::kVmRead | keel::kVmWrite, &addr), err(Status::AccessDenied));
  UEXPECT_EQ(sys::vm_map(self(), ro, 0, 4096, keel::kVmRead | keel::kVmExecute, &addr), err(Status::AccessDenied));
  sys::handle_close(ro);
  UEXPECT_EQ(sys::vm_unmap(self(), ecam, kEcamBusSize), 0);
  UEXPECT_EQ(sys::handle_close(dm), 0);
}

// The legacy configuration mechanism #1 through the kernel (pci_config_read
// and pci_config_write): the same registers as ECAM; errors.
UTEST(device, pci_config_mechanism_1) {
  keel::Handle r = resource(), vmo = make_vmo();
  uint32_t v = 0;
  UEXPECT_EQ(sys::pci_config_read(r, 0, 0, &v), 0);
  UEXPECT_EQ(v, 0x29c08086u);  // 00:00.0, q35's host bridge
  UEXPECT_EQ(sys::pci_config_read(r, 0x1f << 3, 0, &v), 0);
  UEXPECT_EQ(v, 0x29188086u);  // 00:1f.0, the LPC bridge
  UEXPECT_EQ(sys::pci_config_read(r, 0xff << 8 | 31 << 3 | 7, 0, &v), 0);
  UEXPECT_EQ(v, 0xffffffffu);  // nothing there
  // The interrupt line register (0x3c, byte 0) of 00:1f.2 (SATA) is plain
  // read-write: written, read back, restored.
  const uint32_t sata = 0x1f << 3 | 2;
  uint32_t line = 0;
  UASSERT(sys::pci_config_read(r, sata, 0x3c, &line) == 0);
  UEXPECT_EQ(sys::pci_config_write(r, sata, 0x3c, (line & ~0xffu) | 0x5a), 0);
  UEXPECT_EQ(sys::pci_config_read(r, sata, 0x3c, &v), 0);
  UEXPECT_EQ(v & 0xff, 0x5au);
  UEXPECT_EQ(sys::pci_config_write(r, sata, 0x3c, line), 0);
  UEXPECT_EQ(sys::pci_config_read(r, 0x10000, 0, &v), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::pci_config_read(r, 0, 2, &v), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::pci_config_read(r, 0, 256, &v), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::pci_config_read(vmo, 0, 0, &v), err(Status::WrongType));
  UEXPECT_EQ(sys::pci_config_read(r, 0, 0, reinterpret_cast<uint32_t*>(0x10000)), err(Status::Fault));
  UEXPECT_EQ(sys::pci_config_write(r, 0, 0x101, 0), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::pci_config_write(r, 0x10000, 0, 0), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::pci_config_write(vmo, 0, 0x3c, 0), err(Status::WrongType));
  sys::handle_close(vmo);
}

UTEST(device, devmem_create_errors) {
  keel::Handle r = resource(), out = 0, vmo = make_vmo();
  // RAM the kernel manages: low memory, the first MiB above it, 16 MiB.
  UEXPECT_EQ(sys::devmem_create(r, 0, 4096, &out), err(Status::AccessDenied));
  UEXPECT_EQ(sys::devmem_create(r, 0x100000, 4096, &out), err(Status::AccessDenied));
  UEXPECT_EQ(sys::devmem_create(r, 0x1000000, 0x10000, &out), err(Status::AccessDenied));
  // A device range that reaches into RAM is refused as a whole.
  UEXPECT_EQ(sys::devmem_create(r, 0xa0000, 0x100000, &out), err(Status::AccessDenied));
  // The kernel's own devices: the IOAPIC, the HPET, the local APIC.
  UEXPECT_EQ(sys::devmem_create(r, 0xfec00000, 4096, &out), err(Status::AccessDenied));
  UEXPECT_EQ(sys::devmem_create(r, 0xfed00000, 4096, &out), err(Status::AccessDenied));
  UEXPECT_EQ(sys::devmem_create(r, 0xfee00000, 4096, &out), err(Status::AccessDenied));
  UEXPECT_EQ(sys::devmem_create(r, 0xfe000000, 0x1000000, &out), err(Status::AccessDenied));  // all three
  // Alignment, size, range.
  UEXPECT_EQ(sys::devmem_create(r, kEcamBase + 0x10, 4096, &out), err(Status::Misaligned));
  UEXPECT_EQ(sys::devmem_create(r, kEcamBase, 100, &out), err(Status::Misaligned));
  UEXPECT_EQ(sys::devmem_create(r, kEcamBase, 0, &out), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::devmem_create(r, 0xfffffffffffff000ull, 0x2000, &out), err(Status::OutOfRange));
  UEXPECT_EQ(sys::devmem_create(r, 1ull << 60, 4096, &out), err(Status::OutOfRange));
  // Handles.
  UEXPECT_EQ(sys::devmem_create(vmo, kEcamBase, 4096, &out), err(Status::WrongType));
  UEXPECT_EQ(sys::devmem_create(0, kEcamBase, 4096, &out), err(Status::BadHandle));
  UEXPECT_EQ(sys::devmem_create(r, kEcamBase, 4096, reinterpret_cast<keel::Handle*>(0x10000)), err(Status::Fault));
  // The legacy VGA window below 1 MiB is no RAM: allowed.
  out = 0;
  UEXPECT_EQ(sys::devmem_create(r, 0xa0000, 0x20000, &out), 0);
  UEXPECT_EQ(sys::handle_close(out), 0);
  sys::handle_close(vmo);
}

// The kernel passes the boot loader's RSDP ("acpi-rsdp", multiboot2 tag 14
// or 15) under either firmware; the root table it names can be mapped. Under
// UEFI (OVMF) the tables are in ACPI-reclaimable RAM: then the DeviceMemory is
// read-only (no writable mapping) and a range reaching past that region into
// other memory is refused whole.
UTEST(device, acpi_rsdp_module_and_readonly_tables) {
  keel::Handle rec = 0;
  uint64_t size = 0;
  UASSERT(keel::find_module("acpi-rsdp", &rec, &size));
  uint8_t rsdp[36] = {};
  UASSERT(size >= 20);
  UASSERT(sys::vmo_read(rec, 0, rsdp, size < sizeof rsdp ? size : sizeof rsdp) == 0);
  auto r = keel::acpi::find_rsdp(keel::acpi::Bytes(rsdp, sizeof rsdp));
  UASSERT(r.ok());
  UEXPECT_EQ(r->offset, 0u);
  const bool xsdt = r->revision >= 2 && r->xsdt != 0;
  const uint64_t root = xsdt ? r->xsdt : r->rsdt;
  const uint64_t page = root & ~uint64_t(4095);
  keel::Handle dm = 0;
  UASSERT(sys::devmem_create(resource(), page, 4096, &dm) == 0);
  uint64_t addr = 0;
  UASSERT(sys::vm_map(self(), dm, 0, 4096, keel::kVmRead, &addr) == 0);
  const volatile char* sig = reinterpret_cast<const volatile char*>(addr + (root - page));
  UEXPECT(sig[0] == (xsdt ? 'X' : 'R') && sig[1] == 'S' && sig[2] == 'D' && sig[3] == 'T');
  UEXPECT_EQ(sys::vm_unmap(self(), uintptr_t(addr), 4096), 0);
  const int64_t w = sys::vm_map(self(), dm, 0, 4096, keel::kVmRead | keel::kVmWrite, &addr);
  keel::print("usertest: the {} at {:#x} is {}\n", xsdt ? "XSDT" : "RSDT", root,
              w == 0 ? "device memory (not RAM)" : "ACPI-reclaimable RAM: read-only");
  if (w == 0) {
    UEXPECT_EQ(sys::vm_unmap(self(), uintptr_t(addr), 4096), 0);  // BIOS: the tables are not RAM
  } else {
    UEXPECT_EQ(w, err(Status::AccessDenied));  // UEFI: ACPI-reclaimable RAM, read-only
    keel::Handle out = 0;
    UEXPECT_EQ(sys::devmem_create(resource(), page - 0x1000000, 0x1001000, &out), err(Status::AccessDenied));
    UEXPECT_EQ(sys::devmem_create(resource(), page, 0x1000000, &out), err(Status::AccessDenied));
  }
  UEXPECT_EQ(sys::handle_close(dm), 0);
}

// A level-triggered PCI line: the e1000e NIC holds INTx asserted while a
// cause is set and unmasked. The kernel must mask the line when it fires
// (else it would fire forever) and unmask it on interrupt_ack.
UTEST(device, interrupt_level_triggered_pci_line) {
  keel::Handle r = resource(), ecam_dm = 0, bar_dm = 0, n = make_notification();
  UASSERT(n != 0);
  uintptr_t ecam = map_devmem(kEcamBase, kEcamBusSize, keel::kVmRead | keel::kVmWrite, &ecam_dm);
  UASSERT(ecam != 0);
  uint32_t nic = 32;
  for (uint32_t dev = 0; dev < 32 && nic == 32; ++dev) {
    uint32_t id = *config32(ecam, dev, 0, 0);
    if (id == 0x10d38086u || id == 0x100e8086u) nic = dev;  // e1000e, e1000
  }
  UASSERT(nic < 32);
  // Memory decoding on, INTx not disabled; the firmware assigned BAR 0.
  auto* command = reinterpret_cast<volatile uint16_t*>(config32(ecam, nic, 0, 0x04));
  *command = uint16_t((*command | 0x2) & ~0x400);
  UEXPECT_EQ((*config32(ecam, nic, 0, 0x3c) >> 8) & 0xff, 1u);  // interrupt pin INTA
  uint32_t bar_lo = *config32(ecam, nic, 0, 0x10);
  uint64_t bar = bar_lo & ~0xfu;
  if ((bar_lo & 0x6) == 0x4) bar |= uint64_t(*config32(ecam, nic, 0, 0x14)) << 32;
  UASSERT((bar_lo & 1) == 0 && bar != 0);
  auto regs = map_devmem(bar, 4096, keel::kVmRead | keel::kVmWrite, &bar_dm);
  UASSERT(regs != 0);
  auto reg = [regs](uint32_t off) { return reinterpret_cast<volatile uint32_t*>(regs + off); };
  *reg(kNicImc) = ~0u;  // every cause masked: the line is low
  (void)*reg(kNicIcr);

  // We do not know which PIRQ the NIC's INTA reaches: bind all eight PCI
  // GSIs, GSI g raising bit g.
  keel::Handle irqs[kPciGsiCount] = {};
  for (uint32_t i = 0; i < kPciGsiCount; ++i)
    UEXPECT_EQ(sys::interrupt_create(r, kPciGsiFirst + i, n, 1ull << (kPciGsiFirst + i), &irqs[i]), 0);
  uint64_t bits = 0;
  sys::thread_sleep(keel::now_ns() + 10 * kMs);
  UEXPECT_EQ(sys::notification_poll(n, &bits), err(Status::WouldBlock));  // all quiet

  *reg(kNicIms) = kNicLsc;  // raise INTx and keep it raised
  *reg(kNicIcs) = kNicLsc;
  UEXPECT_EQ(sys::notification_wait(n, keel::now_ns() + 2000 * kMs, &bits), 0);
  const uint64_t line = bits;
  UEXPECT(line != 0 && (line & (line - 1)) == 0);  // exactly one GSI
  uint32_t gsi = uint32_t(__builtin_ctzll(line | (1ull << 63)));
  UASSERT(gsi >= kPciGsiFirst && gsi < kPciGsiFirst + kPciGsiCount);
  keel::Handle irq = irqs[gsi - kPciGsiFirst];
  // Masked: the device still holds the line, yet nothing more arrives.
  sys::thread_sleep(keel::now_ns() + 20 * kMs);
  UEXPECT_EQ(sys::notification_poll(n, &bits), err(Status::WouldBlock));
  // Acknowledging without servicing the device: it fires again at once.
  UEXPECT_EQ(sys::interrupt_ack(irq), 0);
  UEXPECT_EQ(sys::notification_wait(n, keel::now_ns() + 2000 * kMs, &bits), 0);
  UEXPECT_EQ(bits, line);
  // Servicing it (mask the cause, read ICR) lowers the line; after the ack
  // all is quiet.
  *reg(kNicImc) = ~0u;
  (void)*reg(kNicIcr);
  UEXPECT_EQ(sys::interrupt_ack(irq), 0);
  sys::thread_sleep(keel::now_ns() + 20 * kMs);
  UEXPECT_EQ(sys::notification_poll(n, &bits), err(Status::WouldBlock));

  for (keel::Handle h : irqs)
    if (h) sys::handle_close(h);
  sys::vm_unmap(self(), regs, 4096);
  sys::vm_unmap(self(), ecam, kEcamBusSize);
  sys::handle_close(bar_dm);
  sys::handle_close(ecam_dm);
  sys::handle_close(n);
}

// A message-signalled interrupt: the edu device, its MSI capability
// programmed with the pair interrupt_create_msi returns, raises it on demand.
UTEST(device, interrupt_msi_from_edu_device) {
  keel::Handle r = resource(), ecam_dm = 0, bar_dm = 0, n = make_notification();
  UASSERT(n != 0);
  uintptr_t ecam = map_devmem(kEcamBase, kEcamBusSize, keel::kVmRead | keel::kVmWrite, &ecam_dm);
  UASSERT(ecam != 0);
  uint32_t edu = find_pci(ecam, kEduId);
  UASSERT(edu < 32);
  uint32_t msi_cap = find_capability(ecam, edu, 0x05);
  UASSERT(msi_cap != 0);
  uint32_t bar_lo = *config32(ecam, edu, 0, 0x10);
  uint64_t bar = bar_lo & ~0xfu;
  if ((bar_lo & 0x6) == 0x4) bar |= uint64_t(*config32(ecam, edu, 0, 0x14)) << 32;
  UASSERT((bar_lo & 1) == 0 && bar != 0);
  uintptr_t regs = map_devmem(bar, 4096, keel::kVmRead | keel::kVmWrite, &bar_dm);
  UASSERT(regs != 0);
  auto reg = [regs](uint32_t off) { return reinterpret_cast<volatile uint32_t*>(regs + off); };
  UEXPECT_EQ(*reg(kEduIdent) & 0xff, 0xedu);

  keel::Handle irq = 0;
  keel::MsiMessage msg{};
  UASSERT(sys::interrupt_create_msi(r, n, 1u << 5, &irq, &msg) == 0);
  UEXPECT_EQ(msg.address & 0xfff00fffull, 0xfee00000ull);  // only the APIC ID varies
  UEXPECT(msg.data >= 0x40 && msg.data <= 0xdf);           // a device vector, fixed, edge
  // Program the capability (PCI Local Bus 3.0 §6.8.1): address, data at +8
  // or, with 64-bit addressing (control bit 7), upper address at +8 and data
  // at +12; then MSI enable (control bit 0), a single message.
  volatile uint16_t* control = config16(ecam, edu, 0, msi_cap + 2);
  bool wide = (*control & 0x80) != 0;
  *config32(ecam, edu, 0, msi_cap + 4) = uint32_t(msg.address);
  if (wide) *config32(ecam, edu, 0, msi_cap + 8) = uint32_t(msg.address >> 32);
  *config16(ecam, edu, 0, msi_cap + (wide ? 12 : 8)) = uint16_t(msg.data);
  *control = uint16_t((*control & ~0x70) | 0x1);
  // Memory decoding and bus mastering (a message is a memory write), INTx off.
  volatile uint16_t* command = config16(ecam, edu, 0, 0x04);
  *command = uint16_t(*command | 0x2 | 0x4 | 0x400);

  uint64_t bits = 0;
  UEXPECT_EQ(sys::notification_poll(n, &bits), err(Status::WouldBlock));
  for (uint32_t round = 1; round <= 3; ++round) {
    *reg(kEduIrqRaise) = round;
    UEXPECT_EQ(sys::notification_wait(n, keel::now_ns() + 2000 * kMs, &bits), 0);
    UEXPECT_EQ(bits, 1ull << 5);
    UEXPECT_EQ(*reg(kEduIrqStatus), round);
    *reg(kEduIrqAck) = round;  // the device's own status: the driver's job
    UEXPECT_EQ(sys::interrupt_ack(irq), 0);  // nothing to unmask for a message
  }
  UEXPECT_EQ(sys::notification_poll(n, &bits), err(Status::WouldBlock));

  // Errors: nothing is allocated on any of them.
  keel::Handle other = 0, vmo = make_vmo(), wait_only = dup(n, keel::kRightWait);
  UEXPECT_EQ(sys::interrupt_create_msi(r, n, 0, &other, &msg), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::interrupt_create_msi(vmo, n, 1, &other, &msg), err(Status::WrongType));
  UEXPECT_EQ(sys::interrupt_create_msi(r, vmo, 1, &other, &msg), err(Status::WrongType));
  UEXPECT_EQ(sys::interrupt_create_msi(r, wait_only, 1, &other, &msg), err(Status::AccessDenied));
  UEXPECT_EQ(sys::interrupt_create_msi(0, n, 1, &other, &msg), err(Status::BadHandle));
  UEXPECT_EQ(sys::interrupt_create_msi(r, n, 1, &other, reinterpret_cast<keel::MsiMessage*>(0x10000)),
             err(Status::Fault));
  UEXPECT_EQ(sys::interrupt_create_msi(r, n, 1, reinterpret_cast<keel::Handle*>(0xffff800000000000ull), &msg),
             err(Status::Fault));
  // Every vector can still be had (none leaked): take them all, then give them back.
  keel::Handle all[160] = {};
  uint32_t got = 0;
  while (got < 160 && sys::interrupt_create_msi(r, n, 1, &all[got], &msg) == 0) ++got;
  UEXPECT(got > 100);  // 160 minus the lines other tests or devices hold
  UEXPECT_EQ(sys::interrupt_create_msi(r, n, 1, &other, &msg), err(Status::NoSpace));
  for (uint32_t i = 0; i < got; ++i) sys::handle_close(all[i]);
  UEXPECT_EQ(sys::interrupt_create_msi(r, n, 1, &other, &msg), 0);
  sys::handle_close(other);

  // Leave the device quiet: MSI and bus mastering off.
  *control = uint16_t(*control & ~0x1);
  *command = uint16_t(*command & ~0x4);
  sys::handle_close(irq);
  sys::handle_close(wait_only);
  sys::handle_close(vmo);
  sys::vm_unmap(self(), regs, 4096);
  sys::handle_close(bar_dm);
  sys::vm_unmap(self(), ecam, kEcamBusSize);
  sys::handle_close(ecam_dm);
  sys::handle_close(n);
}

// Power-off needs the device authority (the real thing is exercised by the
// console session test, which ends with `poweroff`).
UTEST(device, system_poweroff_errors) {
  keel::Handle r = resource(), n = make_notification();
  keel::Handle weak = dup(r, keel::kRightDuplicate);
  UEXPECT_EQ(sys::system_poweroff(r, 2), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::system_poweroff(weak, 0), err(Status::AccessDenied));
  UEXPECT_EQ(sys::system_poweroff(n, 0), err(Status::WrongType));
  UEXPECT_EQ(sys::system_poweroff(0, 0), err(Status::BadHandle));
  sys::handle_close(weak);
  sys::handle_close(n);
}

// The kernel log, record by record (what `dmesg` shows).
UTEST(device, klog_read_records_in_order) {
  keel::Handle r = resource(), n = make_notification();
  char line[256];
  uint64_t seq = 0;
  int64_t len = sys::klog_read(r, &seq, line, sizeof line);
  UASSERT(len > 0);
  UEXPECT(seq >= 1);
  UEXPECT_EQ(line[0], '[');
  UEXPECT_EQ(line[len - 1], '\n');
  // Our own debug_write shows up as a later record.
  sys::debug_write("klog-read-marker", 16);
  bool found = false;
  for (int i = 0; i < 100000 && !found; ++i) {
    len = sys::klog_read(r, &seq, line, sizeof line);
    if (len < 0) break;
    found = std::string_view(line, size_t(len)).find("klog-read-marker") != std::string_view::npos;
  }
  UEXPECT(found);
  uint64_t future = UINT64_MAX - 1;
  UEXPECT_EQ(sys::klog_read(r, &future, line, sizeof line), err(Status::WouldBlock));
  seq = 0;
  UEXPECT_EQ(sys::klog_read(r, &seq, line, 31), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::klog_read(r, &seq, line, 100000), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::klog_read(n, &seq, line, sizeof line), err(Status::WrongType));
  UEXPECT_EQ(sys::klog_read(r, &seq, reinterpret_cast<char*>(0xffff800000000000ull), 64), err(Status::Fault));
  UEXPECT_EQ(sys::klog_read(r, reinterpret_cast<uint64_t*>(0x10), line, sizeof line), err(Status::Fault));
  keel::Handle weak = dup(r, keel::kRightDuplicate);
  UEXPECT_EQ(sys::klog_read(weak, &seq, line, sizeof line), err(Status::AccessDenied));
  sys::handle_close(weak);
  sys::handle_close(n);
}

// process_list: every process, in id order, with its creator; only with the
// device authority, and with its argument errors.
namespace {

bool listed(uint64_t id, keel::ProcessInfo* out) {
  keel::ProcessInfo infos[keel::kProcessListMax];
  uint64_t after = 0;
  for (;;) {
    int64_t n = sys::process_list(resource(), after, infos, keel::kProcessListMax);
    if (n <= 0) return false;
    for (int64_t i = 0; i < n; ++i) {
      if (i > 0 && infos[i].id <= infos[i - 1].id) return false;  // must be increasing
      if (infos[i].id == id) {
        *out = infos[i];
        return true;
      }
    }
    if (n < keel::kProcessListMax) return false;
    after = infos[n - 1].id;
  }
}

}  // namespace

UTEST(process_list, lists_every_process_with_its_parent) {
  keel::ProcessInfo mine{};
  UASSERT(sys::process_get_info(self(), &mine) == 0);
  keel::ProcessInfo found{};
  UASSERT(listed(mine.id, &found));
  UEXPECT_EQ(found.parent_id, 0u);  // the root task
  UEXPECT(found.threads >= 1);
  UEXPECT(std::string_view(reinterpret_cast<const char*>(found.name)) == "usertest");
  // A process made here appears with us as its parent, and goes once destroyed.
  const char name[] = "listed-child";
  keel::Handle child = keel::kInvalidHandle;
  UASSERT(sys::process_create(name, sizeof name - 1, &child) == 0);
  keel::ProcessInfo ci{};
  UASSERT(sys::process_get_info(child, &ci) == 0);
  UEXPECT_EQ(ci.parent_id, mine.id);
  UASSERT(listed(ci.id, &found));
  UEXPECT_EQ(found.parent_id, mine.id);
  UEXPECT(std::string_view(reinterpret_cast<const char*>(found.name)) == name);
  UEXPECT_EQ(sys::handle_close(child), 0);  // no thread ever ran: destroyed now
  UEXPECT(!listed(ci.id, &found));
  // Paging: one entry at a time walks the same list.
  keel::ProcessInfo one{};
  int64_t n = sys::process_list(resource(), 0, &one, 1);
  UEXPECT_EQ(n, 1);
  uint64_t steps = 0, last = 0;
  while (n == 1 && steps < 1000) {
    UEXPECT(one.id > last);
    last = one.id;
    ++steps;
    n = sys::process_list(resource(), last, &one, 1);
  }
  UEXPECT_EQ(n, 0);
  UEXPECT(steps >= 1);
}

UTEST(process_list, errors) {
  keel::ProcessInfo infos[keel::kProcessListMax + 1];
  UEXPECT_EQ(sys::process_list(resource(), 0, infos, 0), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::process_list(resource(), 0, infos, keel::kProcessListMax + 1), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::process_list(resource(), 0, reinterpret_cast<keel::ProcessInfo*>(0xffff800000000000ull), 1),
             err(Status::Fault));
  UEXPECT_EQ(sys::process_list(resource(), 0, nullptr, 1), err(Status::Fault));
  UEXPECT_EQ(sys::process_list(self(), 0, infos, 1), err(Status::WrongType));
  UEXPECT_EQ(sys::process_list(0x7777, 0, infos, 1), err(Status::BadHandle));
  keel::Handle weak = keel::kInvalidHandle;
  UASSERT(sys::handle_duplicate(resource(), keel::kRightDuplicate, &weak) == 0);
  UEXPECT_EQ(sys::process_list(weak, 0, infos, 1), err(Status::AccessDenied));
  sys::handle_close(weak);
}
