// acpi/tables.h — the ACPI static table parser: RSDP → RSDT/XSDT → MADT,
// FADT (→ DSDT), HPET, MCFG and SSDTs, boiled down into one plain AcpiInfo.
//
// Firmware tables are untrusted input: every table is length-checked and
// checksummed before use, every field is read through ktl::load, and the
// result has fixed capacity (no allocation). Physical memory is read only
// through a PhysReader, so host tests can run the parser over fake memory.
//
// Policy (why some problems fail the parse and others do not):
//   - RSDP, RSDT/XSDT and MADT are required: the kernel cannot enumerate
//     tables, CPUs or interrupt routing without trusting them, so any problem
//     with them (signature, length, checksum, malformed entry, capacity)
//     fails parse_acpi(). An RSDT/XSDT entry whose header cannot be read
//     fails it too: the pointer could be the MADT, and a pointer outside
//     memory means the root table (or our idea of memory) is wrong.
//   - A missing MADT is not an error (madt.present = false): legacy
//     PIC-only machines have none; the SMP code decides what to do.
//   - FADT, DSDT, SSDT, HPET and MCFG are optional: a table with a problem is
//     skipped (left zeroed / not present) and recorded in AcpiDiag; the parse
//     still succeeds. Without a usable FADT, power-off is unavailable
//     (fadt.present = false); without \_S5, s5.valid = false.
//   - Unknown tables are not read beyond their header.
//   - Of duplicate tables (two MADTs, ...), the first listed wins.
#pragma once

#include <ktl/align.h>
#include <ktl/bytes.h>
#include <ktl/result.h>
#include <mm/phys.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace acpi {

// Read-only access to physical memory.
class PhysReader {
 public:
  // Returns a view of the `len` bytes at physical address `phys`, valid for
  // the lifetime of the reader. Error::OutOfRange if any byte of
  // [phys, phys + len) is not readable memory.
  virtual ktl::Result<ktl::Bytes> read(uint64_t phys, size_t len) = 0;

 protected:
  ~PhysReader() = default;
};

// The kernel's PhysReader: views into the direct map (mm/phys.h), refusing
// ranges that are not entirely below `limit` (a byte address; the top of the
// direct-mapped physical range).
class DirectMapReader final : public PhysReader {
 public:
  explicit DirectMapReader(uint64_t limit) : limit_(limit) {}
  ktl::Result<ktl::Bytes> read(uint64_t phys, size_t len) override {
    uint64_t end;
    if (!ktl::checked_add(phys, len, end) || end > limit_) return ktl::Error::OutOfRange;
    return ktl::Bytes(mm::phys_to_ptr<const uint8_t>(phys), len);
  }

 private:
  uint64_t limit_;
};

// The last problem parse_acpi() saw: why it failed, or why it skipped
// something while still succeeding. `reason` is a static string; `table` is
// the 4-character signature involved ("RSDP", "XSDT", "MADT", ...),
// NUL-terminated, non-printable characters replaced by '?'.
struct AcpiDiag {
  const char* reason;
  char table[5];
};

// Capacities of AcpiInfo. Exceeding the MADT ones fails the parse
// (Error::NoSpace): a silently truncated CPU or interrupt list is worse.
constexpr size_t kMaxCpus = 256;
constexpr size_t kMaxIoApics = 16;
constexpr size_t kMaxIsos = 48;
constexpr size_t kMaxNmis = 16;
constexpr size_t kMaxMcfgSegments = 16;
constexpr size_t kMaxSsdts = 16;

// Generic Address Structure, reduced (ACPI 6.4 §5.2.3.2). `address == 0`
// means the register is not implemented.
struct Gas {
  uint8_t space;        // kGasSystemMemory or kGasSystemIo (others exist)
  uint8_t bit_width;    // register width in bits
  uint64_t address;     // physical address or I/O port
  uint8_t bit_offset;   // offset of the field in the register, bits
  uint8_t access_size;  // 0 undefined (legacy), 1 byte, 2 word, 3 dword, 4 qword
};
constexpr uint8_t kGasSystemMemory = 0;
constexpr uint8_t kGasSystemIo = 1;

// One processor from a Processor Local APIC (type 0) or Processor Local x2APIC
// (type 9) entry (ACPI 6.4 §5.2.12.2, §5.2.12.12).
struct Cpu {
  uint32_t acpi_uid;    // matches _UID of the processor device
  uint32_t apic_id;     // local (x2)APIC ID
  bool enabled;         // flags bit 0: usable now
  bool online_capable;  // flags bit 1: not enabled, but can be brought online
  bool x2apic;          // came from a type 9 entry
};

// I/O APIC (type 1, ACPI 6.4 §5.2.12.3).
struct IoApic {
  uint8_t id;
  uint32_t address;   // physical address of the register window
  uint32_t gsi_base;  // first global system interrupt it handles
};

// Interrupt Source Override (type 2, ACPI 6.4 §5.2.12.5): ISA IRQ `source`
// is wired to `gsi`. QEMU has IRQ0 (PIT) → GSI 2.
struct InterruptOverride {
  uint8_t bus;     // 0 = ISA
  uint8_t source;  // bus-relative IRQ
  uint32_t gsi;
  uint16_t flags;  // MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2
};

// Local APIC NMI (type 4, §5.2.12.7) or Local x2APIC NMI (type 0xA, §5.2.12.13).
struct LapicNmi {
  uint32_t acpi_uid;  // kAllProcessors for "every processor" (0xFF in type 4)
  uint16_t flags;     // MPS INTI flags
  uint8_t lint;       // LINT# input: 0 or 1
};
constexpr uint32_t kAllProcessors = 0xFFFFFFFF;

// Multiple APIC Description Table, signature "APIC" (ACPI 6.4 §5.2.12).
struct Madt {
  bool present;
  uint64_t lapic_address;  // from the header, replaced by a type 5 entry
  uint32_t flags;          // kMadtPcatCompat: dual 8259s present (mask them)
  std::array<Cpu, kMaxCpus> cpus;
  size_t cpu_count;
  std::array<IoApic, kMaxIoApics> ioapics;
  size_t ioapic_count;
  std::array<InterruptOverride, kMaxIsos> isos;
  size_t iso_count;
  std::array<LapicNmi, kMaxNmis> nmis;
  size_t nmi_count;
};
constexpr uint32_t kMadtPcatCompat = 1u << 0;

// Fixed ACPI Description Table, signature "FACP" (ACPI 6.4 §5.2.9, Table 5.9).
// Fields that the table is too short to hold are 0.
struct Fadt {
  bool present;
  uint8_t revision;       // the table header's revision (1 for ACPI 1.0)
  uint64_t dsdt;          // physical address: X_DSDT if set, else DSDT
  uint32_t smi_cmd;       // I/O port; 0 if ACPI mode is fixed (no SMM switch)
  uint8_t acpi_enable;    // value to write to smi_cmd to enter ACPI mode
  uint8_t acpi_disable;
  uint16_t sci_int;       // SCI as an 8259 IRQ number (see the ISOs for its GSI)
  Gas pm1a_cnt;           // X_PM1a_CNT_BLK if set, else PM1a_CNT_BLK as I/O
  Gas pm1b_cnt;           // same for PM1b; address 0 if absent
  uint8_t pm1_cnt_len;    // bytes
  uint8_t century;        // RTC CMOS index of the century, 0 if none
  uint16_t iapc_boot_arch;  // kBootArch* (0 in ACPI 1.0)
  uint32_t flags;         // kFadt*
  Gas reset_reg;          // FADT revision >= 2 and length >= 129, else zero
  uint8_t reset_value;
};
constexpr uint16_t kBootArchLegacyDevices = 1u << 0;
constexpr uint16_t kBootArch8042 = 1u << 1;
constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
constexpr uint16_t kBootArchMsiNotSupported = 1u << 3;
constexpr uint32_t kFadtResetRegSup = 1u << 10;
constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;

// IA-PC HPET Description Table, signature "HPET" (IA-PC HPET spec 1.0a §3.2.4).
struct Hpet {
  bool present;
  uint64_t address;     // physical address of the register block (memory space)
  uint8_t hpet_number;
  uint16_t min_tick;    // minimum periodic tick, in main counter ticks
};

// One ECAM window from the MCFG (PCI Firmware Spec 3.2 §4.1.2).
struct McfgSegment {
  uint64_t base;  // physical address of bus 0's configuration space
  uint16_t segment;
  uint8_t bus_start;
  uint8_t bus_end;
};

struct Mcfg {
  bool present;
  std::array<McfgSegment, kMaxMcfgSegments> segments;
  size_t count;
};

// Physical addresses of the checksum-valid SSDTs, in root-table order.
struct SsdtList {
  std::array<uint64_t, kMaxSsdts> address;
  size_t count;
};

// \_S5 sleep types for power-off (see acpi/aml.h).
struct SleepState {
  bool valid;
  uint8_t slp_typa;
  uint8_t slp_typb;
};

// Everything Keel takes from the static tables. Plain data, about 4.5 KiB:
// keep it in static storage rather than on a boot stack.
struct AcpiInfo {
  uint8_t revision;    // RSDP revision: 0 = ACPI 1.0 (RSDT only), 2 = 2.0+
  char oem_id[7];      // from the RSDP, NUL-terminated
  bool uses_xsdt;      // the tables were found through the XSDT
  uint64_t root_table;  // physical address of the RSDT or XSDT used
  Madt madt;
  Fadt fadt;
  Hpet hpet;
  Mcfg mcfg;
  SsdtList ssdt;
  uint32_t dsdt_length;  // bytes, including the header; 0 if no usable DSDT
  SleepState s5;
};

// Parses the ACPI tables reachable from `rsdp`, the RSDP copy from the
// multiboot2 ACPI tag (20 bytes for old-RSDP tag 14, 36 for new-RSDP tag 15),
// reading physical memory through `mem`. On return, `*diag` (if given) holds
// the last problem seen, or {nullptr, ""} if none.
//
// RSDP (ACPI 6.4 §5.2.5.3): signature "RSD PTR ", checksum of the first 20
// bytes; if revision >= 2, `length` and the extended checksum over `length`
// bytes. The XSDT (§5.2.8) is used if revision >= 2 and its address is not 0,
// otherwise the RSDT (§5.2.7). A revision-2 RSDP cut to 20 bytes (GRUB's old
// tag on a 2.0 machine) cannot be verified beyond 20 bytes: the RSDT is used
// and the diag notes it.
//
// Each table (§5.2.6): header read first; length must be in [36, 16 MiB];
// whole table read; bytes must sum to 0; signature must match.
//
// Errors (see the policy at the top of this file for what is fatal):
//   Truncated        RSDP shorter than 20 bytes (36 if its length says so);
//                    table shorter than its fixed part; MADT entry with
//                    length < 2 or running past the table end, or shorter
//                    than its type requires
//   BadMagic         RSDP, RSDT/XSDT or MADT signature wrong
//   BadChecksum      RSDP (either checksum), RSDT/XSDT or MADT checksum wrong
//   InvalidArgument  RSDP length < 36; table length < 36 or > 16 MiB
//   NotFound         RSDP with neither an RSDT nor an XSDT address
//   NoSpace          more MADT entries of a kind than AcpiInfo holds
//   (any error of `mem`, e.g. OutOfRange, for a required table or an entry
//    header it cannot read)
ktl::Result<AcpiInfo> parse_acpi(ktl::Bytes rsdp, PhysReader& mem, AcpiDiag* diag = nullptr);

// As parse_acpi(), but fills `out` in place (no 4.5 KiB Result on the stack).
// On error `out` is left partially filled and must not be used.
ktl::Result<void> parse_acpi_into(AcpiInfo& out, ktl::Bytes rsdp, PhysReader& mem, AcpiDiag* diag = nullptr);

}  // namespace acpi
