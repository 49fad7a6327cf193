// loader/elf.cc — the ELF64 executable parser and validator (gABI §3, §6;
// x86-64 psABI).
//
// One pass over the program headers, in file order, validating each and
// filling a local ElfImage; the first problem found is the error. The image is
// returned only when everything, including the entry point, has been checked.
// Every read of the file goes through ktl::load / ktl::slice, and every sum of
// file-supplied numbers is overflow-checked before it is compared.
#include <loader/elf.h>

#include <ktl/align.h>

#include <cstddef>
#include <cstdint>

namespace loader {
namespace {

using ktl::Bytes;
using ktl::Error;
using ktl::Result;

static_assert(sizeof(size_t) == sizeof(uint64_t), "file offsets are used as size_t");

// Elf64_Ehdr (gABI §3, Figure 2). Natural alignment gives the file layout.
struct Elf64Ehdr {
  uint8_t e_ident[16];
  uint16_t e_type;
  uint16_t e_machine;
  uint32_t e_version;
  uint64_t e_entry;
  uint64_t e_phoff;
  uint64_t e_shoff;
  uint32_t e_flags;
  uint16_t e_ehsize;
  uint16_t e_phentsize;
  uint16_t e_phnum;
  uint16_t e_shentsize;
  uint16_t e_shnum;
  uint16_t e_shstrndx;
};
static_assert(sizeof(Elf64Ehdr) == 64);

// Elf64_Phdr (gABI §6, Figure 8).
struct Elf64Phdr {
  uint32_t p_type;
  uint32_t p_flags;
  uint64_t p_offset;
  uint64_t p_vaddr;
  uint64_t p_paddr;
  uint64_t p_filesz;
  uint64_t p_memsz;
  uint64_t p_align;
};
static_assert(sizeof(Elf64Phdr) == 56);

// e_ident (gABI §3, Table 2–4).
constexpr uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr size_t kEiClass = 4;
constexpr size_t kEiData = 5;
constexpr size_t kEiVersion = 6;
constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfData2Lsb = 1;
constexpr uint32_t kEvCurrent = 1;

// e_type (gABI Table 5) and e_machine (psABI §4.1.1).
constexpr uint16_t kEtExec = 2;
constexpr uint16_t kEtDyn = 3;
constexpr uint16_t kEmX86_64 = 62;

constexpr size_t kEhdrSize = sizeof(Elf64Ehdr);
constexpr size_t kPhdrSize = sizeof(Elf64Phdr);
// Far more than any real executable has; bounds the work on hostile input.
constexpr uint16_t kMaxPhnum = 64;

// p_type (gABI Table 16; PT_GNU_STACK is a GNU extension) and p_flags.
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtInterp = 3;
constexpr uint32_t kPtTls = 7;
constexpr uint32_t kPtGnuStack = 0x6474e551;
constexpr uint32_t kPfX = 1;
constexpr uint32_t kPfW = 2;

// The x86-64 base page: the granule at which file pages are mapped.
constexpr uint64_t kPageSize = 4096;
// ET_EXEC segments start at or above this: page 0 stays unmapped so that
// null-pointer dereferences fault.
constexpr uint64_t kLowestExecAddress = kPageSize;
// Longest PT_INTERP accepted (bytes, NUL included); Linux's PATH_MAX.
constexpr uint64_t kMaxInterpSize = 4096;

Error fail(ElfDiag* diag, Error e, const char* reason) {
  if (diag) diag->reason = reason;
  return e;
}

// Page-rounded virtual range [start, end) of a validated segment.
uint64_t page_start(const ElfSegment& s) { return ktl::align_down(s.vaddr, kPageSize); }
uint64_t page_end(const ElfSegment& s) { return ktl::align_up(s.vaddr + s.memsz, kPageSize); }

// Checks one PT_LOAD (memsz > 0) on its own and converts it. Returns
// Error::None or the error, with `reason` set.
Error check_load(const Elf64Phdr& ph, Bytes file, bool pie, const ElfLimits& limits, ElfSegment& out,
                 const char*& reason) {
  if (ph.p_filesz > ph.p_memsz) {
    reason = "PT_LOAD p_filesz > p_memsz";
    return Error::InvalidArgument;
  }
  if (!ktl::slice(file, ph.p_offset, ph.p_filesz).ok()) {
    reason = "PT_LOAD file bytes past the end of the file";
    return Error::Truncated;
  }
  uint64_t end;
  if (!ktl::checked_add(ph.p_vaddr, ph.p_memsz, end)) {
    reason = "PT_LOAD p_vaddr + p_memsz wraps";
    return Error::Overflow;
  }
  // Mapping is page-granular, so the page-rounded end is what must fit.
  uint64_t end_page;
  if (!ktl::align_up(end, kPageSize, end_page) || end_page > limits.user_top) {
    reason = "PT_LOAD ends above user_top";
    return Error::OutOfRange;
  }
  if (!pie && ph.p_vaddr < kLowestExecAddress) {
    reason = "ET_EXEC PT_LOAD in page 0";
    return Error::OutOfRange;
  }
  // gABI §6: "Values 0 and 1 mean no alignment is required. Otherwise,
  // p_align should be a positive, integral power of 2, and p_vaddr should
  // equal p_offset, modulo p_align."
  if (ph.p_align > 1) {
    if (!ktl::is_pow2(ph.p_align)) {
      reason = "PT_LOAD p_align not a power of two";
      return Error::Misaligned;
    }
    if (ph.p_align >= kPageSize && (ph.p_vaddr & (ph.p_align - 1)) != (ph.p_offset & (ph.p_align - 1))) {
      reason = "PT_LOAD p_vaddr != p_offset modulo p_align";
      return Error::Misaligned;
    }
  }
  // Whatever p_align says, the loader maps whole file pages.
  if ((ph.p_vaddr & (kPageSize - 1)) != (ph.p_offset & (kPageSize - 1))) {
    reason = "PT_LOAD p_vaddr != p_offset modulo the page size";
    return Error::Misaligned;
  }
  out.vaddr = ph.p_vaddr;
  out.memsz = ph.p_memsz;
  out.offset = ph.p_offset;
  out.filesz = ph.p_filesz;
  // Always readable: x86 page tables cannot express write-only or
  // execute-only, and a present page is readable.
  out.prot = kSegRead | ((ph.p_flags & kPfW) ? kSegWrite : 0u) | ((ph.p_flags & kPfX) ? kSegExec : 0u);
  return Error::None;
}

// Checks a PT_INTERP and records the path (without its NUL) in `image`.
Error check_interp(const Elf64Phdr& ph, Bytes file, ElfImage& image, const char*& reason) {
  if (image.has_interp) {
    reason = "more than one PT_INTERP";
    return Error::InvalidArgument;
  }
  if (ph.p_filesz == 0 || ph.p_filesz > kMaxInterpSize) {
    reason = "PT_INTERP size not in 1..4096";
    return Error::InvalidArgument;
  }
  Result<Bytes> path = ktl::slice(file, ph.p_offset, ph.p_filesz);
  if (!path.ok()) {
    reason = "PT_INTERP past the end of the file";
    return Error::InvalidArgument;
  }
  size_t len = 0;
  while (len < path->size() && (*path)[len] != 0) ++len;
  if (len == path->size()) {
    reason = "PT_INTERP not NUL-terminated";
    return Error::InvalidArgument;
  }
  if (len == 0) {
    reason = "PT_INTERP empty path";
    return Error::InvalidArgument;
  }
  image.has_interp = true;
  image.interp_offset = ph.p_offset;
  image.interp_size = len;
  return Error::None;
}

// Checks a PT_TLS (TLS ABI §2: the TLS initialization image is p_filesz
// bytes, the block p_memsz bytes aligned to p_align) and records it.
Error check_tls(const Elf64Phdr& ph, Bytes file, ElfImage& image, const char*& reason) {
  if (image.tls_align != 0) {
    reason = "more than one PT_TLS";
    return Error::InvalidArgument;
  }
  if (ph.p_filesz > ph.p_memsz) {
    reason = "PT_TLS p_filesz > p_memsz";
    return Error::InvalidArgument;
  }
  if (!ktl::is_pow2(ph.p_align)) {
    reason = "PT_TLS p_align not a power of two";
    return Error::InvalidArgument;
  }
  if (!ktl::slice(file, ph.p_offset, ph.p_filesz).ok()) {
    reason = "PT_TLS past the end of the file";
    return Error::InvalidArgument;
  }
  uint64_t end;
  if (!ktl::checked_add(ph.p_vaddr, ph.p_memsz, end)) {
    reason = "PT_TLS p_vaddr + p_memsz wraps";
    return Error::InvalidArgument;
  }
  image.tls_vaddr = ph.p_vaddr;
  image.tls_filesz = ph.p_filesz;
  image.tls_memsz = ph.p_memsz;
  image.tls_align = ph.p_align;  // non-zero: marks PT_TLS as seen
  return Error::None;
}

}  // namespace

Result<ElfImage> parse_elf(Bytes file, const ElfLimits& limits, ElfDiag* diag) {
  if (diag) diag->reason = nullptr;

  // --- File header (gABI §3).
  if (file.size() < kEhdrSize) return fail(diag, Error::Truncated, "file shorter than the ELF header");
  const Elf64Ehdr eh = TRY(ktl::load<Elf64Ehdr>(file, 0));
  for (size_t i = 0; i < sizeof(kElfMagic); ++i) {
    if (eh.e_ident[i] != kElfMagic[i]) return fail(diag, Error::BadMagic, "not an ELF file");
  }
  if (eh.e_ident[kEiClass] != kElfClass64) return fail(diag, Error::Unsupported, "not ELFCLASS64");
  if (eh.e_ident[kEiData] != kElfData2Lsb) return fail(diag, Error::Unsupported, "not little-endian");
  if (eh.e_ident[kEiVersion] != kEvCurrent) return fail(diag, Error::Unsupported, "EI_VERSION not 1");
  if (eh.e_version != kEvCurrent) return fail(diag, Error::Unsupported, "e_version not 1");
  if (eh.e_machine != kEmX86_64) return fail(diag, Error::Unsupported, "e_machine not EM_X86_64");
  if (eh.e_type != kEtExec && eh.e_type != kEtDyn) {
    return fail(diag, Error::Unsupported, "e_type not ET_EXEC or ET_DYN");
  }
  const bool pie = eh.e_type == kEtDyn;
  if (pie && !limits.allow_pie) return fail(diag, Error::Unsupported, "ET_DYN (PIE) not allowed");
  if (eh.e_ehsize < kEhdrSize) return fail(diag, Error::InvalidArgument, "e_ehsize < 64");
  if (eh.e_phentsize != kPhdrSize) return fail(diag, Error::InvalidArgument, "e_phentsize != 56");
  if (eh.e_phnum == 0 || eh.e_phnum > kMaxPhnum) {
    return fail(diag, Error::InvalidArgument, "e_phnum not in 1..64");
  }
  // phnum <= 64, so the product cannot overflow; the sum can.
  const uint64_t table_size = uint64_t(eh.e_phnum) * kPhdrSize;
  if (!ktl::slice(file, eh.e_phoff, table_size).ok()) {
    return fail(diag, Error::Truncated, "program header table past the end of the file");
  }

  // --- Program headers (gABI §6), in file order.
  ElfImage image;
  image.entry = eh.e_entry;
  image.pie = pie;
  image.phnum = eh.e_phnum;
  image.phentsize = eh.e_phentsize;
  const size_t max_segments = limits.max_segments < kMaxSegments ? limits.max_segments : kMaxSegments;
  const char* reason = nullptr;

  for (size_t i = 0; i < eh.e_phnum; ++i) {
    const Elf64Phdr ph = TRY(ktl::load<Elf64Phdr>(file, eh.e_phoff + i * kPhdrSize));
    Error e = Error::None;
    switch (ph.p_type) {
      case kPtLoad: {
        // An empty segment maps nothing, but a header that contradicts itself
        // is still refused.
        if (ph.p_memsz == 0 && ph.p_filesz == 0) break;
        ElfSegment seg;
        e = check_load(ph, file, pie, limits, seg, reason);
        if (e != Error::None) break;
        if (image.segment_count == max_segments) {
          reason = "too many PT_LOAD segments";
          e = Error::NoSpace;
          break;
        }
        for (size_t j = 0; j < image.segment_count; ++j) {
          const ElfSegment& other = image.segments[j];
          if (page_start(seg) < page_end(other) && page_start(other) < page_end(seg)) {
            reason = "PT_LOAD segments share a page";
            e = Error::InvalidArgument;
            break;
          }
        }
        if (e != Error::None) break;
        if ((seg.prot & kSegWrite) && (seg.prot & kSegExec) && !limits.allow_wx) {
          reason = "PT_LOAD both writable and executable";
          e = Error::AccessDenied;
          break;
        }
        image.segments[image.segment_count++] = seg;
        break;
      }
      case kPtInterp:
        e = check_interp(ph, file, image, reason);
        break;
      case kPtTls:
        e = check_tls(ph, file, image, reason);
        break;
      case kPtGnuStack:
        image.exec_stack = (ph.p_flags & kPfX) != 0;
        break;
      default:
        break;  // PT_PHDR, PT_DYNAMIC, PT_NOTE, PT_GNU_RELRO, ...: not the loader's business
    }
    if (e != Error::None) return fail(diag, e, reason);
  }

  // --- The entry point must be executable code.
  bool entry_ok = false;
  for (size_t i = 0; i < image.segment_count; ++i) {
    const ElfSegment& s = image.segments[i];
    if ((s.prot & kSegExec) && image.entry >= s.vaddr && image.entry - s.vaddr < s.memsz) entry_ok = true;
  }
  if (!entry_ok) return fail(diag, Error::InvalidArgument, "e_entry not inside an executable PT_LOAD");

  // --- Derived values. Segment ends were checked against user_top, so the
  // sums below cannot overflow.
  image.min_vaddr = page_start(image.segments[0]);
  image.max_vaddr = page_end(image.segments[0]);
  for (size_t i = 1; i < image.segment_count; ++i) {
    const ElfSegment& s = image.segments[i];
    if (page_start(s) < image.min_vaddr) image.min_vaddr = page_start(s);
    if (page_end(s) > image.max_vaddr) image.max_vaddr = page_end(s);
  }
  // AT_PHDR: the table is in memory only if a segment's file bytes hold it.
  for (size_t i = 0; i < image.segment_count; ++i) {
    const ElfSegment& s = image.segments[i];
    if (eh.e_phoff >= s.offset && eh.e_phoff - s.offset <= s.filesz &&
        table_size <= s.filesz - (eh.e_phoff - s.offset)) {
      image.phdr_vaddr = s.vaddr + (eh.e_phoff - s.offset);
      break;
    }
  }
  return image;
}

const char* segment_prot_string(unsigned prot) {
  static constexpr const char* kNames[8] = {"---", "r--", "-w-", "rw-", "--x", "r-x", "-wx", "rwx"};
  return kNames[prot & (kSegRead | kSegWrite | kSegExec)];
}

}  // namespace loader
