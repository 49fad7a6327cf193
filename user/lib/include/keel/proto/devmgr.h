// keel/proto/devmgr.h — the protocol of devmgr, the device manager
// (user/servers/devmgr): the PCI functions it enumerated at start, in bus
// order, and their BARs.
//
// Methods (label; words; handles → reply label; words; handles):
//   kDeviceInfo  index               → Ok; kDeviceInfoWords words (below), then the driver's
//                                      name (string, empty: no driver) | OutOfRange (index ≥ the
//                                      number of devices)
//   kBarInfo     index, bar (0..5)   → Ok; kind (BarKind), base, size, prefetchable (0/1)
//                                      | OutOfRange (no such device or bar ≥ its BAR count)
//   kSummary                         → Ok; devices, configuration access (Access), ECAM base,
//                                      first bus, last bus
//   kSetDriver   address (bus << 16 | device << 8 | function), then the driver's name (string,
//                empty: none)        → Ok | NotFound (no such function) | InvalidArgument (a
//                                      malformed or too long name) | AccessDenied (not from init)
//                                      — init, after it handed the function to its driver
//                                      (`match pci`); init's handle is the unbadged one.
//
// kDeviceInfo's words: [0] bus, [1] device, [2] function, [3] vendor id, [4] device id,
// [5] class, [6] subclass, [7] programming interface, [8] revision, [9] interrupt line (as the
// firmware set it; 0xff unknown), [10] interrupt pin (0 none, 1..4 INTA#..INTD#), [11] flags
// (kFlag*), [12] header type, [13] MSI vectors (0: no MSI), [14] MSI-X table entries (0: none),
// [15] the GSI its INTx pin reaches (kNoGsi: not known), [16] why (keel::pci::IntxRoute: 0
// routed, 1 no pin, 2 the chipset needs the ACPI _PRT, 3 the line is not routed, 4 the MADT does
// not make it level-triggered).
//
// Any program the policy lets look up "devmgr" may ask; the answers hold no
// authority (addresses are what the firmware assigned). A driver gets its
// DeviceMemory, IoPorts and Interrupt handles from init, which asks devmgr
// where its matched device is (manifest `match pci`, PciDevice below).
#pragma once

#include <cstdint>

namespace keel::proto::devmgr {

inline constexpr uint32_t kDeviceInfo = 1;
inline constexpr uint32_t kBarInfo = 2;
inline constexpr uint32_t kSummary = 3;
inline constexpr uint32_t kSetDriver = 4;

inline constexpr uint32_t kDeviceInfoWords = 17;
inline constexpr uint64_t kNoGsi = 0xffffffff;
inline constexpr uint32_t kBarInfoWords = 4;
inline constexpr uint32_t kSummaryWords = 5;
// Longest driver name (bytes).
inline constexpr uint32_t kDriverNameMax = 31;

inline constexpr uint64_t kFlagMultifunction = 1 << 0;
inline constexpr uint64_t kFlagMsi = 1 << 1;
inline constexpr uint64_t kFlagMsiX = 1 << 2;
inline constexpr uint64_t kFlagCapabilitiesMalformed = 1 << 3;  // the capability list was refused

// BAR kinds (as keel::pci::BarKind).
inline constexpr uint64_t kBarNone = 0, kBarIo = 1, kBarMem32 = 2, kBarMem64 = 3, kBarInvalid = 4;

// How devmgr reaches configuration space.
enum class Access : uint64_t {
  None = 0,  // no MCFG was found: nothing enumerated
  Ecam = 1,  // memory-mapped (PCI Express ECAM), from the ACPI MCFG
  Legacy = 2,  // configuration mechanism #1 through the kernel (pci_config_read/write): no MCFG
};

// PciDevice::irq: the kind of interrupt the driver got.
inline constexpr uint32_t kIrqNone = 0;   // no "irq"
inline constexpr uint32_t kIrqMsi = 1;    // one MSI message
inline constexpr uint32_t kIrqMsiX = 2;   // MSI-X table entry 0 (the others masked)
inline constexpr uint32_t kIrqIntx = 3;   // the INTx line's GSI (level-triggered: interrupt_ack after servicing)

// What init gives the driver of a matched function (manifest `match pci`)
// as the MemoryObject "pci", beside "bar0".."bar5" (DeviceMemory for a
// memory BAR, IoPorts for an I/O BAR; only the BARs the function has) and
// "irq" + "irq-notify" (its interrupt, bit 0 of the notification).
struct PciDevice {
  uint32_t bus = 0, device = 0, function = 0;
  uint32_t vendor_id = 0, device_id = 0;
  uint32_t class_code = 0, subclass = 0;
  uint32_t irq = 0;        // kIrq*: what "irq" is (MSI and MSI-X programmed and enabled by init)
  uint32_t gsi = 0;        // kIrqIntx: the GSI
  uint32_t bar_kind[6] = {};  // kBar*
  uint64_t bar_base[6] = {};
  uint64_t bar_size[6] = {};
};

}  // namespace keel::proto::devmgr
