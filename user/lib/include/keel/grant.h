// keel/grant.h — device authority grants, and what the two line-based
// configuration formats that carry them (the boot manifest, keel/manifest.h,
// and the names policy, keel/policy.h) share: name and path limits and the
// ParseError that locates a refusal.
//
// A Grant names one piece of device authority a program may be handed:
//
//   ioports BASE COUNT   I/O ports BASE .. BASE+COUNT-1 (x86 port space, 64 KiB)
//   irq N                one interrupt line: an ISA IRQ or a GSI number, 0..255
//   devmem BASE SIZE     physical memory BASE .. BASE+SIZE-1 (MMIO), page granular
//   resource             the whole device authority (the root Resource; devmgr), and
//                        "acpi-rsdp" (the boot loader's ACPI RSDP) when the kernel passed it
//   modules              the boot modules (the initrd)
//   framebuffer          the boot framebuffer: DeviceMemory over it and its
//                        BootFramebuffer record (fbcon)
//
// The textual grammar of a grant is the same in both formats; it is described
// in keel/manifest.h. Freestanding: no allocation, exceptions, RTTI or libc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel {

// Longest service name (bytes, without the NUL): [a-z0-9_-]{1,31}.
inline constexpr size_t kMaxNameLength = 31;
// Longest program path (bytes, without the NUL).
inline constexpr size_t kMaxPathLength = 127;

// The I/O port space is 64 KiB: a port range must end at or below this.
inline constexpr uint64_t kIoPortLimit = 0x10000;
// Largest interrupt number a grant may name.
inline constexpr uint64_t kMaxIrq = 255;
// devmem grants are in whole pages of this size.
inline constexpr uint64_t kGrantPageSize = 0x1000;
// x86_64 physical addresses have at most 52 bits: a devmem range must end at
// or below 2^52.
inline constexpr uint64_t kPhysAddressLimit = uint64_t(1) << 52;

enum class GrantKind : uint8_t { IoPorts, Irq, DevMem, Resource, Modules, Framebuffer, Pci };
inline constexpr unsigned kGrantKindCount = 7;

// One grant. `base` and `size` by kind: IoPorts first port and port count;
// Irq the interrupt number and 1; DevMem physical base and byte count;
// Resource, Modules and Framebuffer 0 and 0; Pci the vendor and device ids
// (the driver of that PCI function: its BARs and its interrupt).
struct Grant {
  GrantKind kind = GrantKind::Resource;
  uint64_t base = 0;
  uint64_t size = 0;

  static constexpr Grant ioports(uint64_t base, uint64_t count) { return {GrantKind::IoPorts, base, count}; }
  static constexpr Grant irq(uint64_t n) { return {GrantKind::Irq, n, 1}; }
  static constexpr Grant devmem(uint64_t base, uint64_t size) { return {GrantKind::DevMem, base, size}; }
  static constexpr Grant resource() { return {GrantKind::Resource, 0, 0}; }
  static constexpr Grant modules() { return {GrantKind::Modules, 0, 0}; }
  static constexpr Grant framebuffer() { return {GrantKind::Framebuffer, 0, 0}; }
  static constexpr Grant pci(uint16_t vendor, uint16_t device) { return {GrantKind::Pci, vendor, device}; }

  friend constexpr bool operator==(const Grant&, const Grant&) = default;
};

// The keyword of a grant kind in the text formats ("ioports", ...).
constexpr const char* grant_kind_name(GrantKind kind) {
  switch (kind) {
    case GrantKind::IoPorts:
      return "ioports";
    case GrantKind::Irq:
      return "irq";
    case GrantKind::DevMem:
      return "devmem";
    case GrantKind::Resource:
      return "resource";
    case GrantKind::Modules:
      return "modules";
    case GrantKind::Framebuffer:
      return "framebuffer";
    case GrantKind::Pci:
      return "pci";
  }
  return "unknown";
}

// True if `g` is a grant the text formats could produce: a non-empty port
// range inside the 64 KiB port space; an irq <= kMaxIrq with size 1; a
// non-empty page-aligned devmem range ending at or below kPhysAddressLimit;
// resource/modules/framebuffer with base = size = 0; pci ids of 16 bits, the
// vendor not 0xffff (what an absent function reads as).
constexpr bool is_valid(const Grant& g) {
  switch (g.kind) {
    case GrantKind::IoPorts:
      return g.size != 0 && g.base < kIoPortLimit && g.size <= kIoPortLimit - g.base;
    case GrantKind::Irq:
      return g.base <= kMaxIrq && g.size == 1;
    case GrantKind::DevMem:
      return g.size != 0 && g.base % kGrantPageSize == 0 && g.size % kGrantPageSize == 0 &&
             g.base < kPhysAddressLimit && g.size <= kPhysAddressLimit - g.base;
    case GrantKind::Resource:
    case GrantKind::Modules:
    case GrantKind::Framebuffer:
      return g.base == 0 && g.size == 0;
    case GrantKind::Pci:
      return g.base < 0xffff && g.size <= 0xffff;
  }
  return false;
}

// True if holding `allowed` permits holding `wanted`: same kind, both valid,
// and for ioports/devmem the wanted range lies entirely inside the allowed one;
// irq, resource, modules, framebuffer and pci must match exactly.
constexpr bool covers(const Grant& allowed, const Grant& wanted) {
  if (allowed.kind != wanted.kind || !is_valid(allowed) || !is_valid(wanted)) return false;
  switch (wanted.kind) {
    case GrantKind::IoPorts:
    case GrantKind::DevMem:
      // Both valid, so neither end overflows.
      return wanted.base >= allowed.base && wanted.base + wanted.size <= allowed.base + allowed.size;
    case GrantKind::Irq:
      return wanted.base == allowed.base;
    case GrantKind::Pci:
      return wanted.base == allowed.base && wanted.size == allowed.size;
    case GrantKind::Resource:
    case GrantKind::Modules:
    case GrantKind::Framebuffer:
      return true;
  }
  return false;
}

// Where and why a text format was refused. `line` is 1-based (0: not tied to
// a line); `reason` is a short static string ("unknown keyword", ...), never
// null after a failed parse. The ktl::Error the parser returns is the
// category; this is for the log line a human reads.
struct ParseError {
  uint32_t line = 0;
  const char* reason = "";
};

}  // namespace keel
