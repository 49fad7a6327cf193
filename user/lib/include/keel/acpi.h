// keel/acpi.h — the few ACPI tables devmgr reads itself: finding the RSDP in
// the BIOS read-only area, validating a system description table's header,
// the RSDT/XSDT entry lists, and the MCFG (the PCI Express ECAM windows).
// Pure logic over byte spans, tested on the host; devmgr maps the physical
// pages through DeviceMemory and copies the bytes before parsing them.
//
// References: ACPI 6.4 §5.2.5 (RSDP: on legacy BIOS systems, a 16-byte
// aligned "RSD PTR " in 0xe0000..0xfffff), §5.2.6 (the table header), §5.2.7
// and §5.2.8 (RSDT, XSDT); PCI Firmware Specification 3.2 §4.1.2 (MCFG).
//
// Tables come from firmware and are untrusted: a bad checksum, a length that
// runs past the bytes given or does not leave whole entries, an MCFG window
// with a reversed bus range or an unaligned or overflowing base are refused
// with an error, never half-used.
//
// Freestanding: no allocation, exceptions, RTTI or libc.
#pragma once

#include <ktl/result.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace keel::acpi {

using Bytes = std::span<const uint8_t>;

inline constexpr uint64_t kBiosAreaBase = 0xe0000;  // where a BIOS puts the RSDP
inline constexpr uint64_t kBiosAreaSize = 0x20000;
inline constexpr size_t kHeaderSize = 36;           // of every table but the RSDP
inline constexpr size_t kMaxMcfgWindows = 16;

struct Rsdp {
  uint64_t offset = 0;    // of the structure in the bytes searched
  uint8_t revision = 0;   // 0: ACPI 1.0 (RSDT only); 2 and up: the XSDT too
  uint32_t rsdt = 0;      // physical address
  uint64_t xsdt = 0;      // physical address, 0 if none
};

// Finds the first valid RSDP at a 16-byte aligned offset in `area` (the
// checksum of its first 20 bytes, and for revision 2 and up the extended
// checksum over its length, must be 0; a signature with a bad checksum is
// skipped). NotFound if there is none.
ktl::Result<Rsdp> find_rsdp(Bytes area);

// Validates a table: at least kHeaderSize bytes, its length field at least
// kHeaderSize and at most `table.size()`, its bytes summing to 0, and (if
// `signature` is not null) its 4-byte signature. Returns the table cut to
// its length. Errors: Truncated, BadMagic (signature), BadChecksum.
ktl::Result<Bytes> check_table(Bytes table, const char* signature);

// The length field of a table header (the first kHeaderSize bytes are
// enough). Truncated if `header` is shorter than kHeaderSize.
ktl::Result<uint32_t> table_length(Bytes header);

// The entries of a validated RSDT (4-byte addresses, `xsdt` false) or XSDT
// (8-byte): calls `visit` with each physical address. InvalidArgument if the
// entries do not fill the table exactly.
using EntryVisitor = void (*)(void* ctx, uint64_t phys);
ktl::Result<size_t> for_each_entry(Bytes table, bool xsdt, EntryVisitor visit, void* ctx);

// One ECAM window: configuration space of bus B, device D, function F is at
// base + (B << 20 | D << 15 | F << 12). `base` is the address of bus 0 even
// when bus_start is above it.
struct EcamWindow {
  uint64_t base = 0;
  uint16_t segment = 0;
  uint8_t bus_start = 0, bus_end = 0;
};

struct Mcfg {
  size_t count = 0;
  EcamWindow windows[kMaxMcfgWindows];
};

// Parses an MCFG (check_table with "MCFG" first, so a damaged one is
// refused whole). Errors: those of check_table; Truncated (shorter than 44
// bytes); InvalidArgument (entries that do not fill the table exactly, a bus
// range whose end is below its start, a base that is 0 or not 1 MiB aligned);
// Overflow (a window past the 52-bit physical address space); NoSpace (more
// than kMaxMcfgWindows).
ktl::Result<Mcfg> parse_mcfg(Bytes table);

// The MADT's interrupt source overrides (ACPI 6.5 §5.2.12.5: entry type 2,
// length 10: bus (0, ISA), source IRQ, GSI (4 bytes), flags (2 bytes:
// polarity bits 1:0, trigger mode bits 3:2; 0 conforms to the bus, 1 active
// high / edge, 3 active low / level)), the only part of the MADT user space
// needs: an ISA IRQ reaches the GSI its override names, else the GSI of the
// same number.
struct IsaOverride {
  uint8_t irq = 0;
  uint32_t gsi = 0;
  uint16_t flags = 0;
};
inline constexpr size_t kMaxIsaOverrides = 16;
struct Madt {
  size_t override_count = 0;
  IsaOverride overrides[kMaxIsaOverrides];
  // The GSI ISA IRQ `irq` reaches, and its override's flags (0: none).
  uint32_t isa_gsi(uint8_t irq, uint16_t* flags) const;
};
inline constexpr uint16_t kMpsLevel = 3 << 2;        // flags: trigger mode level
inline constexpr uint16_t kMpsTriggerMask = 3 << 2;

// Parses an MADT (check_table with "APIC" first). Entries other than
// overrides are skipped. Errors: those of check_table; Truncated (shorter
// than the 44-byte fixed part, or an entry running past the end);
// InvalidArgument (an entry of length below 2, an override of length other
// than 10, on a bus other than ISA, or for an IRQ above 15, or two for the
// same IRQ); NoSpace (more than kMaxIsaOverrides).
ktl::Result<Madt> parse_madt(Bytes table);

}  // namespace keel::acpi
