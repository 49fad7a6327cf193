// arch/x86_64/apic.h — local APIC, IOAPIC and the legacy 8259 PIC.
// Intel SDM Vol. 3A ch. 10 (local APIC); Intel 82093AA datasheet (IOAPIC).
#pragma once

#include <ktl/result.h>

#include <cstdint>

namespace acpi {
struct AcpiInfo;
}

namespace x86 {

// Remaps the 8259 PICs to vectors 0x20–0x2f and masks every line: the IOAPIC
// delivers interrupts from here on.
void pic_disable();

// Maps and enables this CPU's local APIC (software enable via the spurious
// vector register, vector 0xff; TPR 0; LINT0/LINT1 masked unless a MADT
// Local APIC NMI entry for this CPU makes one of them an NMI input). lapic_init_bsp maps the registers once; APs call lapic_init_ap.
ktl::Result<void> lapic_init_bsp(const acpi::AcpiInfo& acpi);
void lapic_init_ap();

uint32_t lapic_id();
void lapic_eoi();

enum class IpiMode : uint32_t { Fixed = 0, Nmi = 4 << 8, Init = 5 << 8, Startup = 6 << 8 };
// Sends an IPI and waits (bounded) for the ICR's delivery-status bit to clear.
// Returns false if delivery did not complete.
bool lapic_send_ipi(uint32_t apic_id, IpiMode mode, uint8_t vector);
// To every CPU but this one (destination shorthand "all excluding self").
bool lapic_send_ipi_others(IpiMode mode, uint8_t vector);

// APIC timer. The rate is measured once on the BSP (ticks per ms with divide
// by 16) against the kernel clock; every CPU then runs it periodically.
ktl::Result<void> apic_timer_calibrate();
uint64_t apic_timer_ticks_per_ms();
void apic_timer_start_periodic(uint32_t hz);

// IOAPICs from the MADT: maps them and masks every redirection entry.
ktl::Result<void> ioapic_init(const acpi::AcpiInfo& acpi);
// ISA IRQ → GSI through the MADT's interrupt source overrides; also returns
// the override's polarity/trigger flags (MADT ISO flags, 0 = bus default).
uint32_t isa_irq_to_gsi(uint8_t irq, uint16_t* flags = nullptr);
// Routes GSI `gsi` to `vector` on the CPU with `apic_id` (fixed delivery).
// active_low/level_triggered as the interrupt source demands.
ktl::Result<void> ioapic_route(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool active_low,
                               bool level_triggered);
ktl::Result<void> ioapic_mask(uint32_t gsi, bool masked);
unsigned ioapic_count();
unsigned ioapic_gsi_count();

}  // namespace x86
