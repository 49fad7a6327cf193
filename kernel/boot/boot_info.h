// boot/boot_info.h — what the bootloader told us, independent of the boot protocol.
//
// A boot shim (boot/multiboot2.cc today) fills one BootInfo early in boot; the
// rest of the kernel reads only this. Everything is copied into fixed-capacity
// arrays: there are no pointers into the bootloader's memory, so that memory
// may be reused as soon as parsing is done.
//
// BootInfo is about 11 KiB: keep it in static storage, not on the 16 KiB boot
// stack.
#pragma once

#include <cstddef>
#include <cstdint>

namespace boot {

enum class MemoryType : uint8_t {
  Usable,
  Reserved,
  AcpiReclaimable,        // ACPI tables; usable once they have been read
  AcpiNvs,                // ACPI non-volatile storage; never usable
  BadMemory,
  BootloaderReclaimable,  // bootloader data; usable once BootInfo is built
};

struct MemoryRegion {
  uint64_t base = 0;    // physical address, bytes
  uint64_t length = 0;  // bytes, never 0; base + length does not overflow
  MemoryType type = MemoryType::Reserved;

  uint64_t end() const { return base + length; }  // exclusive
};

struct Module {
  uint64_t start = 0;  // physical address of the first byte
  uint64_t end = 0;    // physical address one past the last byte (start <= end)
  char name[128] = {};  // the module's string (its command line), NUL-terminated

  uint64_t size() const { return end - start; }
};

enum class FramebufferType : uint8_t { Indexed = 0, Rgb = 1, EgaText = 2 };

struct FramebufferInfo {
  bool present = false;
  uint64_t address = 0;  // physical
  uint32_t pitch = 0;    // bytes per scan line
  uint32_t width = 0;    // pixels (characters for EgaText)
  uint32_t height = 0;   // pixels (characters for EgaText)
  uint8_t bpp = 0;       // bits per pixel (per character cell for EgaText)
  FramebufferType type = FramebufferType::Indexed;
  // Bit position and width of each colour channel; only meaningful for Rgb.
  uint8_t red_pos = 0, red_size = 0;
  uint8_t green_pos = 0, green_size = 0;
  uint8_t blue_pos = 0, blue_size = 0;
};

// A copy of the ACPI RSDP (ACPI 6.5 §5.2.5). The boot shim does not check its
// signature or checksums: that is left to the ACPI code.
struct RsdpInfo {
  bool present = false;
  uint8_t revision = 0;     // 0 for an ACPI 1.0 RSDP, else the RSDP's revision field
  uint8_t bytes[36] = {};   // the RSDP as the bootloader copied it
  uint32_t length = 0;      // valid bytes in `bytes`: 20 (ACPI 1.0) or 36
};

// The BIOS's "basic memory information" (conventional and extended memory).
struct BasicMemInfo {
  bool present = false;
  uint32_t mem_lower_kib = 0;  // KiB of memory from address 0 (at most 640)
  uint32_t mem_upper_kib = 0;  // KiB of memory from 1 MiB to the first hole
};

struct BootInfo {
  static constexpr size_t kMaxRegions = 256;
  static constexpr size_t kMaxModules = 32;
  static constexpr size_t kCmdlineSize = 512;     // including the NUL
  static constexpr size_t kLoaderNameSize = 64;   // including the NUL

  // The physical memory map, in the bootloader's order. Zero-length regions
  // are dropped and a region directly adjacent to the previous one with the
  // same type is merged into it. Usable regions include the kernel image, the
  // boot information and the modules: reserve those before allocating.
  MemoryRegion regions[kMaxRegions] = {};
  size_t region_count = 0;

  char cmdline[kCmdlineSize] = {};          // NUL-terminated, never truncated
  char loader_name[kLoaderNameSize] = {};   // NUL-terminated, may be truncated

  Module modules[kMaxModules] = {};
  size_t module_count = 0;

  FramebufferInfo framebuffer;
  RsdpInfo rsdp;
  BasicMemInfo meminfo;

  // Sum of the lengths of the Usable regions, in bytes (saturates at 2^64 - 1).
  uint64_t usable_bytes() const {
    uint64_t sum = 0;
    for (size_t i = 0; i < region_count; ++i) {
      if (regions[i].type != MemoryType::Usable) continue;
      if (__builtin_add_overflow(sum, regions[i].length, &sum)) return UINT64_MAX;
    }
    return sum;
  }

  // The end (exclusive) of the highest region of any type; 0 with no regions.
  uint64_t highest_address() const {
    uint64_t top = 0;
    for (size_t i = 0; i < region_count; ++i)
      if (regions[i].end() > top) top = regions[i].end();
    return top;
  }
};

}  // namespace boot
