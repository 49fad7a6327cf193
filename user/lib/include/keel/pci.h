// keel/pci.h — PCI configuration space: probing a function, decoding and
// sizing its BARs, walking its capability list (MSI, MSI-X), and enumerating
// the buses behind the host bridge. Pure logic over a ConfigSpace interface,
// tested on the host with a fake configuration space; devmgr
// (user/servers/devmgr) implements ConfigSpace over ECAM device memory.
//
// References: PCI Local Bus Specification 3.0 §6 (the type 0 and type 1
// headers, BARs §6.2.5.1, capabilities §6.7, MSI §6.8.1); PCI Express Base
// 4.0 §7.7.2 (MSI-X). Offsets below are those of the headers.
//
// Everything read from configuration space is untrusted: a capability list
// that loops or points into the header, a BAR whose size mask is not
// contiguous, a 64-bit BAR in the last slot — each is refused (the BAR as
// BarKind::Invalid, the capability walk with an error), never followed.
//
// Freestanding: no allocation, exceptions, RTTI or libc.
#pragma once

#include <keel/acpi.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>

namespace keel::pci {

inline constexpr uint16_t kRegVendor = 0x00;       // u16; 0xffff: no function here
inline constexpr uint16_t kRegDevice = 0x02;       // u16
inline constexpr uint16_t kRegCommand = 0x04;      // u16
inline constexpr uint16_t kRegStatus = 0x06;       // u16
inline constexpr uint16_t kRegRevision = 0x08;     // u8, then prog-if, subclass, class
inline constexpr uint16_t kRegHeaderType = 0x0e;   // u8; bit 7: multi-function device
inline constexpr uint16_t kRegBar0 = 0x10;         // six (type 0) or two (type 1) u32s
inline constexpr uint16_t kRegSecondaryBus = 0x19; // type 1: u8 (0x18 primary, 0x1a subordinate)
inline constexpr uint16_t kRegSubordinateBus = 0x1a;
inline constexpr uint16_t kRegSubsystemVendor = 0x2c;  // type 0
inline constexpr uint16_t kRegCapabilities = 0x34;     // u8, the first capability's offset
inline constexpr uint16_t kRegInterruptLine = 0x3c;    // u8, then the pin (0: none, 1..4: INTA..INTD)

inline constexpr uint16_t kCommandIo = 1 << 0;      // decodes its I/O BARs
inline constexpr uint16_t kCommandMemory = 1 << 1;  // decodes its memory BARs
inline constexpr uint16_t kStatusCapabilities = 1 << 4;

inline constexpr uint8_t kCapMsi = 0x05;
inline constexpr uint8_t kCapMsiX = 0x11;

inline constexpr unsigned kDevicesPerBus = 32;
inline constexpr unsigned kFunctionsPerDevice = 8;
inline constexpr unsigned kMaxBars = 6;
// A capability list longer than this loops (48 = the 192 bytes after the
// header, at the 4 bytes each entry needs at least).
inline constexpr unsigned kMaxCapabilities = 48;

struct Address {
  uint8_t bus = 0, device = 0, function = 0;
  friend constexpr bool operator==(const Address&, const Address&) = default;
};

// Reads and writes of one function's configuration space, 32 bits at a time
// at 4-byte aligned offsets below 4096 (ECAM; the first 256 bytes are the
// conventional space). A function that is not there reads as all ones.
class ConfigSpace {
 public:
  virtual uint32_t read32(Address a, uint16_t offset) = 0;
  virtual void write32(Address a, uint16_t offset, uint32_t value) = 0;

  uint16_t read16(Address a, uint16_t offset) { return uint16_t(read32(a, offset & ~3) >> ((offset & 2) * 8)); }
  uint8_t read8(Address a, uint16_t offset) { return uint8_t(read32(a, offset & ~3) >> ((offset & 3) * 8)); }
  // Read-modify-write of the aligned dword (the command register shares its
  // dword with the status register, whose bits are write-1-to-clear: writing
  // the 16 bits back as 0 leaves them alone).
  void write16(Address a, uint16_t offset, uint16_t value);

 protected:
  ~ConfigSpace() = default;
};

enum class BarKind : uint8_t {
  None,     // not implemented (reads back 0 after sizing), or the upper half of a 64-bit BAR
  Io,       // I/O ports
  Mem32,    // 32-bit memory (also the legacy "below 1 MiB" type)
  Mem64,    // 64-bit memory: this slot and the next
  Invalid,  // refused: reserved type, a size mask that is not contiguous, a 64-bit BAR in the last slot
};

struct Bar {
  BarKind kind = BarKind::None;
  bool prefetchable = false;
  uint64_t base = 0;  // port number or physical address, as the firmware assigned it
  uint64_t size = 0;  // ports or bytes, a power of two
};

struct Msi {
  bool present = false;
  uint8_t offset = 0;           // of the capability
  bool address_64 = false;      // control bit 7
  bool per_vector_mask = false; // control bit 8
  uint8_t max_vectors = 0;      // 1 << "multiple message capable" (1..32)
};

struct MsiX {
  bool present = false;
  uint8_t offset = 0;
  uint16_t table_size = 0;  // entries (control bits 10:0, plus one)
  uint8_t table_bar = 0;    // BIR, 0..5
  uint32_t table_offset = 0;
  uint8_t pba_bar = 0;
  uint32_t pba_offset = 0;
};

// One function, as probe() read it.
struct Function {
  Address address;
  uint16_t vendor = 0, device = 0;
  uint8_t class_code = 0, subclass = 0, prog_if = 0, revision = 0;
  uint8_t header_type = 0;  // 0 device, 1 PCI-to-PCI bridge, 2 CardBus (bit 7 masked off)
  bool multifunction = false;
  uint16_t subsystem_vendor = 0, subsystem = 0;  // type 0 only
  uint8_t bar_count = 0;                          // 6 (type 0), 2 (type 1), 0 (other)
  Bar bars[kMaxBars];
  uint8_t interrupt_line = 0xff;  // as the firmware set it (0xff: unknown)
  uint8_t interrupt_pin = 0;      // 0 none, 1..4 INTA#..INTD#
  uint8_t secondary_bus = 0, subordinate_bus = 0;  // type 1 only
  Msi msi;
  MsiX msix;
  bool capabilities_malformed = false;  // the capability walk was refused (see walk_capabilities)
};

// Called by walk_capabilities for each capability: its id and offset.
// Return false to stop the walk.
using CapabilityVisitor = bool (*)(void* ctx, uint8_t id, uint8_t offset);

// Walks the capability list of `a` (header type `header_type`: the pointer
// is at 0x34 for types 0 and 1, at 0x14 for CardBus). A function without the
// status register's capability bit has none (Ok, nothing visited). Errors:
// InvalidArgument (a pointer into the header, below 0x40, or past 0xfc),
// Overflow (more than kMaxCapabilities entries: a loop). Entries before the
// bad one have been visited.
ktl::Result<void> walk_capabilities(ConfigSpace& cs, Address a, uint8_t header_type, CapabilityVisitor visit,
                                    void* ctx);

// Decodes the MSI capability at `offset`. InvalidArgument: a "multiple
// message capable" field above 5 (reserved).
ktl::Result<Msi> decode_msi(ConfigSpace& cs, Address a, uint8_t offset);
// Decodes the MSI-X capability at `offset`. InvalidArgument: a table or PBA
// BIR above 5 (reserved).
ktl::Result<MsiX> decode_msix(ConfigSpace& cs, Address a, uint8_t offset);

// Where an MSI-X function's table and pending-bit array are (PCI Express
// Base 4.0 §7.7.2.4-5): each must lie inside a memory BAR of the function
// (the upper half of a 64-bit BAR is not one), at a BAR the firmware
// assigned (base not 0), wholly: the table is table_size entries of 16
// bytes, the PBA one bit per entry in whole 8-byte words. Errors:
// InvalidArgument (a BIR at or past bar_count, or naming an I/O, absent,
// invalid or unassigned BAR), OutOfRange (an offset or length past the end
// of the BAR).
struct MsiXLocation {
  uint64_t table_phys = 0;  // physical address of entry 0
  uint64_t table_bytes = 0; // table_size * 16
  uint64_t pba_phys = 0;
  uint64_t pba_bytes = 0;   // ((table_size + 63) / 64) * 8
};
inline constexpr uint32_t kMsiXEntryBytes = 16;
// The words of one MSI-X table entry (PCIe 4.0 §7.7.2.4): message address,
// upper address, data, vector control (bit 0: masked).
inline constexpr uint32_t kMsiXEntryAddress = 0, kMsiXEntryUpper = 4, kMsiXEntryData = 8, kMsiXEntryControl = 12;
inline constexpr uint32_t kMsiXVectorMasked = 1;
// The MSI-X message control register (capability + 2): bit 15 enable, bit 14
// function mask.
inline constexpr uint16_t kMsiXEnable = 1 << 15, kMsiXFunctionMask = 1 << 14;
ktl::Result<MsiXLocation> locate_msix(const MsiX& m, const Bar* bars, unsigned bar_count);

// Sizes the `count` BARs of `a` (6 for a device, 2 for a bridge), by the
// standard protocol: with I/O and memory decoding turned off in the command
// register, write all ones to each BAR, read the mask back, restore the BAR;
// then restore the command register. Fills out[0..count).
void size_bars(ConfigSpace& cs, Address a, unsigned count, Bar* out);

// Decodes one BAR from its original value and its mask (the value read after
// writing all ones), and for a 64-bit BAR the next slot's two values. Pure:
// for tests and for size_bars.
Bar decode_bar(uint32_t original, uint32_t mask, uint32_t original_high = 0, uint32_t mask_high = 0);

// Reads the function at `a`: NotFound if its vendor is 0xffff (nothing
// there). Sizes its BARs (size_bars) and decodes MSI and MSI-X; a malformed
// capability list sets capabilities_malformed and keeps what came before.
ktl::Result<Function> probe(ConfigSpace& cs, Address a);

// Where enumerate() puts the functions it finds.
struct FunctionSink {
  Function* functions;
  size_t capacity;
  size_t count = 0;
  bool overflowed = false;  // more functions than capacity: the rest were not kept
};

// Enumerates the functions on bus `first_bus` and, through PCI-to-PCI
// bridges, the buses behind it, depth first, at most `last_bus`: device 0..31
// function 0, and functions 1..7 of multi-function devices. Each bus is
// scanned once (a bridge that names a bus already scanned, or outside
// first_bus..last_bus, or not above its own, is not followed).
void enumerate(ConfigSpace& cs, uint8_t first_bus, uint8_t last_bus, FunctionSink& sink);

// Where a function's INTx pin reaches an IOAPIC input (GSI), without the
// ACPI _PRT (a method in AML, which Keel cannot evaluate). Only one case is
// derived, and only from what the firmware wrote: the i440FX host bridge
// (8086:1237, QEMU's `pc`) with a PIIX3/PIIX4 ISA bridge (8086:7000,
// 8086:7110), where the BIOS routes each PCI interrupt link (PIRQA#..D#,
// the PIRQ route control registers at ISA bridge offsets 0x60..0x63: bit 7
// disables, bits 3:0 the ISA IRQ) to an ISA IRQ and writes that IRQ into
// each function's Interrupt Line register; the ISA IRQ reaches the IOAPIC
// as the MADT's interrupt source overrides say, which must declare it
// level-triggered (a shared PCI line; QEMU's MADT does, for IRQs 5, 9, 10,
// 11). Everything else is refused with its reason: q35 and other chipsets
// route their PIRQs to GSIs 16-23 in ways only the _PRT describes.
enum class IntxRoute : uint8_t {
  Routed = 0,           // *gsi is the line
  NoPin = 1,            // the function has no INTx pin
  NeedsPrt = 2,         // not an i440FX/PIIX machine: the routing is in the _PRT
  NotRouted = 3,        // the Interrupt Line is not an IRQ a PIRQ route control register names
  NotLevel = 4,         // the MADT has no level-triggered override for that IRQ
};
struct IntxChipset {
  uint16_t host_vendor = 0, host_device = 0;  // function 00:00.0
  uint16_t isa_vendor = 0, isa_device = 0;    // function 00:01.0 (0: none)
  uint32_t pirq_routes = 0x80808080;          // the ISA bridge's dword at 0x60
};
IntxRoute route_intx(const Function& f, const IntxChipset& chipset, const acpi::Madt& madt, uint32_t* gsi);
// A short reason for a route ("routed", "no INTx pin", ...).
const char* intx_route_name(IntxRoute r);

// A short name for a class code ("host bridge", "VGA controller", ...), or
// "unknown"; uses the subclass where it matters.
const char* class_name(uint8_t class_code, uint8_t subclass);

}  // namespace keel::pci
