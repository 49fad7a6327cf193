// boot/multiboot2.h — the multiboot2 boot shim: boot information → BootInfo.
//
// GRUB hands the kernel a multiboot2 information structure (MBI, Multiboot2
// spec §3.6). parse_multiboot2() checks all of it and copies what Keel uses
// into a BootInfo; the MBI is untrusted input and every read is bounds-checked.
#pragma once

#include <boot/boot_info.h>
#include <ktl/bytes.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>

namespace boot {

// The value in EAX when a multiboot2 loader enters the kernel (spec §3.3).
constexpr uint32_t kMultiboot2BootloaderMagic = 0x36d76289;

// Why parse_multiboot2() failed, for the boot log.
struct Mb2Diagnostic {
  const char* reason;  // static string; nullptr after success
  size_t offset;       // byte offset in the MBI of the offending tag or field
};

// Parses the multiboot2 information structure `mbi` (spec §3.6) into `out`.
//
// `mbi` is the caller's view of the MBI: it reads total_size from the first
// u32 and caps it to what it has mapped. Tags are {u32 type, u32 size}, each
// starting 8-byte aligned, up to an end tag {0, 8}; unknown tags are skipped.
// Used tags: command line (1), bootloader name (2), modules (3), basic memory
// information (4), memory map (6), framebuffer (8, GRUB layout: colour
// information at offset 32), ACPI old/new RSDP (14/15, the new one wins) and
// the EFI memory map (17, used only when there is no tag 6). A tag type other
// than 3 may appear at most once.
//
// Errors (the first one found is returned and described in `*diag`):
//   Truncated       total_size, a tag, a field or an entry runs past its end,
//                   a string is not NUL-terminated inside its tag, or the end
//                   tag is missing;
//   InvalidArgument inconsistent fields (mmap entry_size, module start > end,
//                   framebuffer geometry, a region that wraps past 2^64,
//                   a repeated tag);
//   Unsupported     mmap entry_version other than 0;
//   NoSpace         more regions or modules than BootInfo holds, or a command
//                   line (kernel or module) that does not fit (never truncated).
// `out` is written only on success: the MBI is checked completely first, then
// copied (decode, then commit), so no large temporary lives on the stack.
ktl::Result<void> parse_multiboot2(ktl::Bytes mbi, BootInfo& out, Mb2Diagnostic* diag = nullptr);

// A stable, human-readable name ("Usable", "ACPI NVS", ...).
const char* memory_type_name(MemoryType type);

}  // namespace boot
