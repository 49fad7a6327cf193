// acpi/system.h — the kernel's ACPI state: tables found at boot, power-off and reboot.
#pragma once

#include <acpi/tables.h>
#include <boot/boot_info.h>
#include <ktl/result.h>

namespace acpi {

// Parses the tables reached from the boot information's RSDP copy (through
// the direct map). Error::NotFound if the boot loader gave no RSDP; parse
// errors are logged with the table and reason.
ktl::Result<void> init(const boot::BootInfo& info);

// The parsed tables (all-zero, present flags false, before init or on failure).
const AcpiInfo& info();

// Enters ACPI S5 (soft off, ACPI 6.4 §7.4.2): switches to ACPI mode if the
// firmware needs it (SMI_CMD ← ACPI_ENABLE, wait for PM1_CNT.SCI_EN), then
// writes SLP_TYPx (from \_S5) | SLP_EN to PM1a_CNT and PM1b_CNT. Returns only
// if the machine did not power off within 100 ms, with the reason.
ktl::Error poweroff();

// Resets through the FADT reset register, then the 8042 and a triple fault.
[[noreturn]] void reboot();

}  // namespace acpi
