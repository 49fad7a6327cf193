// apic.cc — local APIC (xAPIC MMIO mode), IOAPICs and the PIC.
#include <acpi/tables.h>
#include <arch/x86_64/apic.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts.h>
#include <lib/klog.h>
#include <lib/spinlock.h>
#include <mm/vm.h>

namespace x86 {
namespace {

// Local APIC register offsets (SDM Vol. 3A Table 10-1).
constexpr uint32_t kRegId = 0x20, kRegTpr = 0x80, kRegEoi = 0xb0, kRegSvr = 0xf0;
constexpr uint32_t kRegIcrLow = 0x300, kRegIcrHigh = 0x310;
constexpr uint32_t kRegLvtTimer = 0x320, kRegLvtLint0 = 0x350, kRegLvtLint1 = 0x360;
constexpr uint32_t kRegLvtError = 0x370, kRegTimerInit = 0x380, kRegTimerCurrent = 0x390;
constexpr uint32_t kRegTimerDivide = 0x3e0, kRegEsr = 0x280;
constexpr uint32_t kLvtMasked = 1 << 16, kTimerPeriodic = 1 << 17;
constexpr uint32_t kIcrPending = 1 << 12, kIcrAssert = 1 << 14, kIcrLevel = 1 << 15;

volatile uint32_t* g_lapic = nullptr;
uint64_t g_timer_ticks_per_ms = 0;
// MADT Local APIC NMI entries (type 4/0xA), applied by each CPU to its own
// LINT pins in configure_this_lapic().
struct NmiPin {
  uint32_t acpi_uid;  // acpi::kAllProcessors for every CPU
  uint16_t flags;     // MPS INTI flags: polarity bits 1:0, trigger bits 3:2
  uint8_t lint;
};
NmiPin g_nmi_pins[16];
unsigned g_nmi_pin_count = 0;
struct UidMap {
  uint32_t apic_id, acpi_uid;
};
UidMap g_uids[acpi::kMaxCpus];
unsigned g_uid_count = 0;
klib::SpinLock g_icr_lock;  // guards ICR writes (per CPU in xAPIC, but the lock is cheap)

uint32_t rd(uint32_t reg) { return g_lapic[reg / 4]; }
void wr(uint32_t reg, uint32_t v) { g_lapic[reg / 4] = v; }

struct IoApic {
  volatile uint32_t* regs;
  uint32_t gsi_base;
  uint32_t gsi_count;
};
IoApic g_ioapics[16];
unsigned g_ioapic_count = 0;
klib::SpinLock g_ioapic_lock;  // guards IOREGSEL/IOWIN pairs
struct Iso {
  uint8_t source;
  uint32_t gsi;
  uint16_t flags;
};
Iso g_isos[48];
unsigned g_iso_count = 0;

uint32_t ioapic_read(const IoApic& io, uint32_t reg) {
  io.regs[0] = reg;
  return io.regs[4];
}
void ioapic_write(const IoApic& io, uint32_t reg, uint32_t v) {
  io.regs[0] = reg;
  io.regs[4] = v;
}
IoApic* ioapic_for(uint32_t gsi) {
  for (unsigned i = 0; i < g_ioapic_count; ++i) {
    IoApic& io = g_ioapics[i];
    if (gsi >= io.gsi_base && gsi < io.gsi_base + io.gsi_count) return &io;
  }
  return nullptr;
}

void configure_this_lapic() {
  wr(kRegTpr, 0);
  wr(kRegLvtTimer, kLvtMasked | kVectorApicTimer);
  // LINT pins are masked (LINT0 carried the PIC's ExtINT) unless the MADT
  // routes an NMI to them for this CPU (ACPI 6.4 §5.2.12.7).
  uint32_t lvt[2] = {kLvtMasked, kLvtMasked};
  uint32_t my_apic = rd(kRegId) >> 24, my_uid = ~0u;
  for (unsigned i = 0; i < g_uid_count; ++i)
    if (g_uids[i].apic_id == my_apic) my_uid = g_uids[i].acpi_uid;
  for (unsigned i = 0; i < g_nmi_pin_count; ++i) {
    const NmiPin& p = g_nmi_pins[i];
    if (p.lint > 1 || (p.acpi_uid != acpi::kAllProcessors && p.acpi_uid != my_uid)) continue;
    uint32_t v = 4u << 8;                       // delivery mode NMI
    if ((p.flags & 3) == 3) v |= 1u << 13;      // active low
    if (((p.flags >> 2) & 3) == 3) v |= 1u << 15;  // level triggered
    lvt[p.lint] = v;
  }
  wr(kRegLvtLint0, lvt[0]);
  wr(kRegLvtLint1, lvt[1]);
  wr(kRegLvtError, kLvtMasked);
  wr(kRegEsr, 0);
  wr(kRegSvr, 0x100 | kVectorSpurious);  // software enable
  wr(kRegEoi, 0);
}

}  // namespace

void pic_disable() {
  // ICW1–ICW4 (8259A datasheet): remap master to 0x20, slave to 0x28, then mask.
  outb(0x20, 0x11); io_wait();
  outb(0xa0, 0x11); io_wait();
  outb(0x21, 0x20); io_wait();
  outb(0xa1, 0x28); io_wait();
  outb(0x21, 0x04); io_wait();
  outb(0xa1, 0x02); io_wait();
  outb(0x21, 0x01); io_wait();
  outb(0xa1, 0x01); io_wait();
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
}

ktl::Result<void> lapic_init_bsp(const acpi::AcpiInfo& acpi) {
  uint64_t base = acpi.madt.present ? acpi.madt.lapic_address : (rdmsr(kMsrApicBase) & ~0xfffull);
  // Global enable (IA32_APIC_BASE bit 11), xAPIC mode.
  wrmsr(kMsrApicBase, (rdmsr(kMsrApicBase) & 0xfffull) | (base & ~0xfffull) | (1 << 11));
  void* v = const_cast<void*>(TRY(mm::map_mmio(base, 4096)));
  g_lapic = static_cast<volatile uint32_t*>(v);
  for (unsigned i = 0; i < acpi.madt.nmi_count && g_nmi_pin_count < 16; ++i) {
    const auto& n = acpi.madt.nmis[i];
    g_nmi_pins[g_nmi_pin_count++] = {n.acpi_uid, n.flags, n.lint};
  }
  for (unsigned i = 0; i < acpi.madt.cpu_count && g_uid_count < acpi::kMaxCpus; ++i)
    g_uids[g_uid_count++] = {acpi.madt.cpus[i].apic_id, acpi.madt.cpus[i].acpi_uid};
  configure_this_lapic();
  return ktl::ok();
}

void lapic_init_ap() {
  wrmsr(kMsrApicBase, rdmsr(kMsrApicBase) | (1 << 11));
  configure_this_lapic();
}

uint32_t lapic_id() { return g_lapic ? rd(kRegId) >> 24 : 0; }
void lapic_eoi() { wr(kRegEoi, 0); }

static bool send_icr(uint32_t high, uint32_t low) {
  klib::SpinLockGuard guard(g_icr_lock);
  wr(kRegIcrHigh, high);
  wr(kRegIcrLow, low);
  for (int i = 0; i < 1000000; ++i) {
    if (!(rd(kRegIcrLow) & kIcrPending)) return true;
    pause();
  }
  return false;
}

bool lapic_send_ipi(uint32_t apic_id, IpiMode mode, uint8_t vector) {
  uint32_t low = uint32_t(mode) | vector;
  if (mode == IpiMode::Init) low |= kIcrAssert | kIcrLevel;
  else low |= kIcrAssert;
  return send_icr(apic_id << 24, low);
}

bool lapic_send_ipi_others(IpiMode mode, uint8_t vector) {
  if (!g_lapic) return false;
  return send_icr(0, uint32_t(mode) | vector | kIcrAssert | (3u << 18));
}

ktl::Result<void> apic_timer_calibrate() {
  wr(kRegTimerDivide, 0x3);  // divide by 16
  wr(kRegLvtTimer, kLvtMasked | kVectorApicTimer);
  constexpr uint64_t kWindowNs = 10'000'000;  // 10 ms
  wr(kRegTimerInit, 0xffffffff);
  uint64_t start = monotonic_ns();
  while (monotonic_ns() - start < kWindowNs) pause();
  uint32_t elapsed = 0xffffffff - rd(kRegTimerCurrent);
  wr(kRegTimerInit, 0);
  if (elapsed < 10) return ktl::Error::Unsupported;  // timer not counting
  g_timer_ticks_per_ms = elapsed / 10;
  return ktl::ok();
}

uint64_t apic_timer_ticks_per_ms() { return g_timer_ticks_per_ms; }

void apic_timer_start_periodic(uint32_t hz) {
  uint64_t count = g_timer_ticks_per_ms * 1000 / (hz ? hz : 1);
  if (count == 0) count = 1;
  if (count > 0xffffffff) count = 0xffffffff;
  wr(kRegTimerDivide, 0x3);
  wr(kRegLvtTimer, kTimerPeriodic | kVectorApicTimer);
  wr(kRegTimerInit, uint32_t(count));
}

ktl::Result<void> ioapic_init(const acpi::AcpiInfo& acpi) {
  for (unsigned i = 0; i < acpi.madt.ioapic_count && g_ioapic_count < 16; ++i) {
    auto& src = acpi.madt.ioapics[i];
    void* v = const_cast<void*>(TRY(mm::map_mmio(src.address, 4096)));
    IoApic& io = g_ioapics[g_ioapic_count++];
    io.regs = static_cast<volatile uint32_t*>(v);
    io.gsi_base = src.gsi_base;
    io.gsi_count = ((ioapic_read(io, 1) >> 16) & 0xff) + 1;  // IOAPICVER: max redirection entry
    for (uint32_t pin = 0; pin < io.gsi_count; ++pin) {
      ioapic_write(io, 0x10 + 2 * pin, kLvtMasked);
      ioapic_write(io, 0x11 + 2 * pin, 0);
    }
  }
  for (unsigned i = 0; i < acpi.madt.iso_count && g_iso_count < 48; ++i) {
    auto& s = acpi.madt.isos[i];
    g_isos[g_iso_count++] = {s.source, s.gsi, s.flags};
  }
  return ktl::ok();
}

uint32_t isa_irq_to_gsi(uint8_t irq, uint16_t* flags) {
  for (unsigned i = 0; i < g_iso_count; ++i) {
    if (g_isos[i].source == irq) {
      if (flags) *flags = g_isos[i].flags;
      return g_isos[i].gsi;
    }
  }
  if (flags) *flags = 0;
  return irq;
}

ktl::Result<void> ioapic_route(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool active_low,
                               bool level_triggered) {
  IoApic* io = ioapic_for(gsi);
  if (!io) return ktl::Error::NotFound;
  if (vector < 0x20 || apic_id > 0xff) return ktl::Error::InvalidArgument;
  uint32_t pin = gsi - io->gsi_base;
  uint32_t low = vector | (active_low ? 1u << 13 : 0) | (level_triggered ? 1u << 15 : 0);
  klib::SpinLockGuard guard(g_ioapic_lock);
  ioapic_write(*io, 0x10 + 2 * pin, kLvtMasked);
  ioapic_write(*io, 0x11 + 2 * pin, apic_id << 24);
  ioapic_write(*io, 0x10 + 2 * pin, low);
  return ktl::ok();
}

ktl::Result<void> ioapic_mask(uint32_t gsi, bool masked) {
  IoApic* io = ioapic_for(gsi);
  if (!io) return ktl::Error::NotFound;
  uint32_t pin = gsi - io->gsi_base;
  klib::SpinLockGuard guard(g_ioapic_lock);
  uint32_t low = ioapic_read(*io, 0x10 + 2 * pin);
  ioapic_write(*io, 0x10 + 2 * pin, masked ? (low | kLvtMasked) : (low & ~kLvtMasked));
  return ktl::ok();
}

unsigned ioapic_count() { return g_ioapic_count; }
unsigned ioapic_gsi_count() {
  unsigned n = 0;
  for (unsigned i = 0; i < g_ioapic_count; ++i) n += g_ioapics[i].gsi_count;
  return n;
}

}  // namespace x86
