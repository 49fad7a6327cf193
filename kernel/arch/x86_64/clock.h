// arch/x86_64/clock.h — the kernel's monotonic clock.
//
// Source: the TSC, calibrated against the HPET (IA-PC HPET spec 1.0a) or, when
// there is no HPET, against PIT channel 2 (Intel 8254 datasheet). When the TSC
// is not invariant (CPUID.80000007H:EDX[8]) and an HPET exists, the HPET main
// counter itself is the clock. Time 0 is the moment the kernel was entered
// (the TSC value boot.S saved in g_boot_tsc).
#pragma once

#include <ktl/result.h>

#include <cstdint>

namespace acpi {
struct AcpiInfo;
}

namespace x86 {

enum class ClockSource { None, Tsc, Hpet };

// Calibrates the clock. `acpi` supplies the HPET address, if any.
// `allow_hpet` false forces the PIT path (kernel command line "nohpet").
ktl::Result<void> clock_init(const acpi::AcpiInfo& acpi, bool allow_hpet);

// Nanoseconds since kernel entry. Before clock_init, 0.
uint64_t monotonic_ns();

ClockSource clock_source();
const char* clock_calibration_source();  // "HPET" or "PIT"
uint64_t tsc_hz();
bool hpet_present();

// Busy-waits at least `ns` nanoseconds (for device timing: INIT-SIPI delays).
void delay_ns(uint64_t ns);

}  // namespace x86
