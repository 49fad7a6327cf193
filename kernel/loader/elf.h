// loader/elf.h — the ELF64 executable parser and validator.
//
// Used by the kernel to load the root task, and later by the Linux personality
// to load Linux programs. The file is untrusted: parse_elf() reads it only
// through ktl::load / ktl::slice, checks everything a loader relies on, and
// returns a plain ElfImage describing what to map. It maps nothing itself.
//
// Specs: System V gABI "ELF-64 Object File Format" (version 1.5) for the file
// header (§3, Elf64_Ehdr) and program headers (§6, Elf64_Phdr); the x86-64
// psABI for EM_X86_64 and the 4 KiB page size; the GNU extensions
// PT_GNU_STACK and the TLS ABI ("ELF Handling For Thread-Local Storage") for
// PT_TLS.
#pragma once

#include <ktl/bytes.h>
#include <ktl/result.h>

#include <cstddef>
#include <cstdint>

namespace loader {

// Most PT_LOAD segments an ElfImage holds. Real executables have 2–5.
constexpr size_t kMaxSegments = 16;

// Protection bits of an ElfSegment (not the ELF PF_* values, which are X=1,
// W=2, R=4).
enum : unsigned { kSegRead = 1, kSegWrite = 2, kSegExec = 4 };

// One loadable (PT_LOAD) segment, as in the file (no load bias applied).
// vaddr and offset may be unaligned, but vaddr ≡ offset (mod 4 KiB), so the
// loader maps file pages [align_down(offset), offset + filesz) at
// align_down(vaddr) and zero-fills [vaddr + filesz, vaddr + memsz).
struct ElfSegment {
  uint64_t vaddr = 0;   // virtual address of the first byte (bytes)
  uint64_t memsz = 0;   // size in memory (bytes, > 0)
  uint64_t offset = 0;  // file offset of the first byte (bytes)
  uint64_t filesz = 0;  // bytes taken from the file (<= memsz); the rest is zero (.bss)
  unsigned prot = 0;    // kSegRead | kSegWrite | kSegExec; kSegRead always set
};

// What a loader needs to know about a validated executable. All addresses are
// the file's own (link-time) addresses; for a PIE (ET_DYN) the caller adds its
// chosen load bias to every one of them.
struct ElfImage {
  uint64_t entry = 0;                      // e_entry; inside a segment with kSegExec
  bool pie = false;                        // e_type == ET_DYN
  ElfSegment segments[kMaxSegments] = {};  // in program header order; page-disjoint
  size_t segment_count = 0;                // >= 1
  uint64_t min_vaddr = 0;                  // lowest segment vaddr rounded down to 4 KiB
  uint64_t max_vaddr = 0;                  // highest segment end (vaddr + memsz) rounded up to 4 KiB
  uint64_t phdr_vaddr = 0;                 // address of the program header table if a segment's
                                           // file bytes contain all of it (for AT_PHDR), else 0
  uint16_t phnum = 0;                      // e_phnum (for AT_PHNUM)
  uint16_t phentsize = 0;                  // e_phentsize, always 56 (for AT_PHENT)
  bool has_interp = false;                 // a PT_INTERP was present
  uint64_t interp_offset = 0;              // file offset of the interpreter path
  uint64_t interp_size = 0;                // its length in bytes, without the terminating NUL (>= 1)
  bool exec_stack = false;                 // PT_GNU_STACK with PF_X; false without PT_GNU_STACK
  uint64_t tls_vaddr = 0;                  // PT_TLS p_vaddr (TLS initialization image), 0 if none
  uint64_t tls_filesz = 0;                 // bytes of initialized TLS data (.tdata)
  uint64_t tls_memsz = 0;                  // total TLS block size (.tdata + .tbss)
  uint64_t tls_align = 0;                  // alignment of the TLS block (power of two), 0 if none
};

// What parse_elf() accepts.
struct ElfLimits {
  uint64_t user_top = 0x0000'7fff'ffff'f000;  // highest address + 1 a segment may reach (page-rounded)
  size_t max_segments = kMaxSegments;         // most PT_LOAD segments (capped at kMaxSegments)
  bool allow_pie = true;                      // accept ET_DYN
  bool allow_wx = false;                      // accept segments both writable and executable
};

// Why parse_elf() failed, for logs.
struct ElfDiag {
  const char* reason;  // static string; nullptr after success
};

// Parses and validates the ELF64 x86-64 executable `file` (gABI §3, §6).
//
// Header: at least 64 bytes, magic "\x7fELF", ELFCLASS64, ELFDATA2LSB,
// EI_VERSION and e_version 1, EM_X86_64, ET_EXEC or ET_DYN (a PIE),
// e_ehsize >= 64, e_phentsize == 56, 1 <= e_phnum <= 64, and the program
// header table inside the file. Program headers:
//   PT_LOAD       memsz == 0 is skipped. filesz <= memsz; the file bytes are
//                 inside the file; vaddr ≡ offset (mod 4 KiB and mod p_align,
//                 which is 0, 1 or a power of two); the page-rounded range is
//                 inside [4 KiB, user_top) for ET_EXEC (page 0 is never
//                 mapped) or [0, user_top) for ET_DYN (before the load bias);
//                 segments do not share a page; not both PF_W and PF_X unless
//                 allow_wx. A segment is always readable (x86 page tables
//                 cannot express write- or execute-only).
//   PT_INTERP     at most one; 1..4096 bytes inside the file holding a
//                 non-empty NUL-terminated path.
//   PT_TLS        at most one; filesz <= memsz, p_align a power of two, the
//                 initialization image inside the file, vaddr + memsz does not
//                 wrap.
//   PT_GNU_STACK  PF_X sets exec_stack.
//   others        ignored (PT_PHDR, PT_DYNAMIC, PT_NOTE, PT_GNU_RELRO, ...).
// Finally e_entry must lie inside a PT_LOAD segment with PF_X.
//
// Errors (the first one found is returned and described in `*diag`):
//   Truncated       file shorter than the header, the program header table
//                   or a PT_LOAD's file bytes past the end of the file;
//   BadMagic        not "\x7fELF";
//   Unsupported     not 64-bit little-endian version 1 x86-64, or e_type not
//                   ET_EXEC/ET_DYN, or ET_DYN while !allow_pie;
//   InvalidArgument bad e_ehsize/e_phentsize/e_phnum, PT_LOAD filesz > memsz,
//                   overlapping segments, entry outside executable segments,
//                   a bad PT_INTERP or PT_TLS, a repeated PT_INTERP or PT_TLS;
//   Overflow        PT_LOAD vaddr + memsz wraps past 2^64;
//   OutOfRange      a segment outside the allowed address range;
//   Misaligned      bad p_align, or vaddr and offset not congruent;
//   NoSpace         more PT_LOAD segments than max_segments;
//   AccessDenied    a writable and executable segment while !allow_wx.
// Never reads outside `file`.
ktl::Result<ElfImage> parse_elf(ktl::Bytes file, const ElfLimits& limits = {}, ElfDiag* diag = nullptr);

// "r--", "rw-", "r-x", "rwx", ... for kSeg* bits (other bits ignored).
const char* segment_prot_string(unsigned prot);

}  // namespace loader
