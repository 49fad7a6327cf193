// clock.cc — TSC calibration against the HPET or the PIT, and monotonic_ns().
#include <acpi/tables.h>
#include <arch/x86_64/clock.h>
#include <arch/x86_64/cpu.h>
#include <mm/vm.h>

extern "C" uint64_t g_boot_tsc;  // boot.S

namespace x86 {
namespace {

// HPET registers (IA-PC HPET spec §2.3).
constexpr uint32_t kHpetCap = 0x000, kHpetConfig = 0x010, kHpetCounter = 0x0f0;

volatile uint64_t* g_hpet = nullptr;
bool g_hpet_64bit = false;        // COUNT_SIZE_CAP: a 32-bit main counter wraps every ~5 min
uint64_t g_hpet_period_fs = 0;   // femtoseconds per HPET tick
uint64_t g_tsc_hz = 0;
uint64_t g_tsc_mult = 0;         // ns = (ticks * mult) >> 32
uint64_t g_hpet_mult = 0;
uint64_t g_hpet_offset_ns = 0;   // HPET time 0 expressed on the kernel clock
ClockSource g_source = ClockSource::None;
const char* g_calibrated_by = "none";

uint64_t hpet_read() { return g_hpet_64bit ? g_hpet[kHpetCounter / 8] : uint32_t(g_hpet[kHpetCounter / 8]); }
// Ticks from a to b, modulo the counter width.
uint64_t hpet_delta(uint64_t a, uint64_t b) { return g_hpet_64bit ? b - a : uint32_t(b - a); }

uint64_t scale(uint64_t ticks, uint64_t mult) {
  return uint64_t((static_cast<unsigned __int128>(ticks) * mult) >> 32);
}

ktl::Result<void> hpet_init(uint64_t phys) {
  void* v = const_cast<void*>(TRY(mm::map_mmio(phys, 1024)));
  g_hpet = static_cast<volatile uint64_t*>(v);
  uint64_t cap = g_hpet[kHpetCap / 8];
  g_hpet_period_fs = cap >> 32;
  // The spec bounds the period to (0, 100 ns]; anything else is a broken table or device.
  if (g_hpet_period_fs == 0 || g_hpet_period_fs > 100'000'000) {
    g_hpet = nullptr;
    return ktl::Error::Unsupported;
  }
  g_hpet_64bit = cap & (1u << 13);
  // ENABLE_CNF on, LEG_RT_CNF off: the PIT and RTC keep their own IRQs.
  g_hpet[kHpetConfig / 8] = (g_hpet[kHpetConfig / 8] & ~uint64_t(2)) | 1;
  return ktl::ok();
}

// Counts TSC ticks over ~10 ms of HPET time.
uint64_t calibrate_with_hpet() {
  uint64_t window = 10'000'000'000'000ull / g_hpet_period_fs;  // 10 ms in HPET ticks
  uint64_t h0 = hpet_read();
  uint64_t t0 = rdtsc();
  uint64_t h1;
  while (hpet_delta(h0, h1 = hpet_read()) < window) pause();
  uint64_t t1 = rdtsc();
  // 64-bit only (no 128-bit division in the kernel): ~1e7 ns elapsed and
  // ~1e8 TSC ticks keep ticks * 1e9 below 2^64.
  uint64_t elapsed_ns = hpet_delta(h0, h1) * g_hpet_period_fs / 1'000'000;
  return (t1 - t0) * 1'000'000'000ull / elapsed_ns;
}

// PIT channel 2 one-shot for 10 ms (1193182 Hz input clock), gated by port 0x61.
uint64_t calibrate_with_pit() {
  constexpr uint16_t kCount = 11932;  // 10.000 ms
  uint8_t gate = inb(0x61);
  outb(0x61, (gate & ~0x02) | 0x01);  // speaker off, gate on
  outb(0x43, 0xb0);                   // channel 2, lobyte/hibyte, mode 0
  outb(0x42, kCount & 0xff);
  outb(0x42, kCount >> 8);
  uint64_t t0 = rdtsc();
  for (uint64_t i = 0; i < 1'000'000'000ull && !(inb(0x61) & 0x20); ++i) pause();
  uint64_t t1 = rdtsc();
  outb(0x61, gate);
  return (t1 - t0) * 100;  // ticks per 10 ms → per second
}

}  // namespace

ktl::Result<void> clock_init(const acpi::AcpiInfo& acpi, bool allow_hpet) {
  if (allow_hpet && acpi.hpet.present && hpet_init(acpi.hpet.address).ok()) {
    g_tsc_hz = calibrate_with_hpet();
    g_calibrated_by = "HPET";
  } else {
    g_tsc_hz = calibrate_with_pit();
    g_calibrated_by = "PIT";
  }
  if (g_tsc_hz < 1'000'000) return ktl::Error::Unsupported;  // < 1 MHz: not a working TSC
  g_tsc_mult = (1'000'000'000ull << 32) / g_tsc_hz;  // < 2^63: fits

  bool invariant = false;
  if (cpuid(0x80000000).eax >= 0x80000007) invariant = cpuid(0x80000007).edx & (1 << 8);
  if (!invariant && g_hpet && g_hpet_64bit) {  // a wrapping 32-bit counter is no clock
    g_hpet_mult = (g_hpet_period_fs << 32) / 1'000'000;  // period <= 1e8 fs: fits
    uint64_t now_tsc_ns = scale(rdtsc() - g_boot_tsc, g_tsc_mult);
    g_hpet_offset_ns = now_tsc_ns - scale(hpet_read(), g_hpet_mult);
    g_source = ClockSource::Hpet;
  } else {
    g_source = ClockSource::Tsc;
  }
  return ktl::ok();
}

uint64_t monotonic_ns() {
  switch (g_source) {
    case ClockSource::Tsc: return scale(rdtsc() - g_boot_tsc, g_tsc_mult);
    case ClockSource::Hpet: return g_hpet_offset_ns + scale(hpet_read(), g_hpet_mult);
    case ClockSource::None: break;
  }
  return 0;
}

ClockSource clock_source() { return g_source; }
const char* clock_calibration_source() { return g_calibrated_by; }
uint64_t tsc_hz() { return g_tsc_hz; }
bool hpet_present() { return g_hpet != nullptr; }

void delay_ns(uint64_t ns) {
  if (g_source == ClockSource::None) {
    for (uint64_t i = 0; i < ns / 10 + 1; ++i) io_wait();  // ~1 µs each on PC hardware
    return;
  }
  uint64_t start = monotonic_ns();
  while (monotonic_ns() - start < ns) pause();
}

}  // namespace x86
