// boot/multiboot2.cc — the multiboot2 boot-information parser (Multiboot2 spec §3.6).
//
// The parser runs twice over the same bytes (seL4's decode, then invoke): a
// check pass that writes nothing and finds every error, including capacity,
// and a commit pass that repeats the same steps writing into the caller's
// BootInfo and therefore cannot fail. This keeps `out` untouched on failure
// without an 11 KiB temporary BootInfo on the boot stack.
#include <boot/multiboot2.h>

#include <ktl/align.h>

#include <type_traits>

namespace boot {
namespace {

using ktl::Bytes;
using ktl::Error;
using ktl::Result;

// Tag types (Multiboot2 spec 2.0 §3.6; §3.6.2 for the tag format). Types
// not listed here are skipped.
constexpr uint32_t kTagEnd = 0;
constexpr uint32_t kTagCmdline = 1;        // §3.6.5
constexpr uint32_t kTagLoaderName = 2;     // §3.6.9
constexpr uint32_t kTagModule = 3;         // §3.6.6
constexpr uint32_t kTagBasicMeminfo = 4;   // §3.6.3
constexpr uint32_t kTagMmap = 6;           // §3.6.8
constexpr uint32_t kTagFramebuffer = 8;    // §3.6.12
constexpr uint32_t kTagAcpiOld = 14;       // §3.6.16
constexpr uint32_t kTagAcpiNew = 15;       // §3.6.17
constexpr uint32_t kTagEfiMmap = 17;       // §3.6.19

constexpr size_t kMbiHeaderSize = 8;   // u32 total_size, u32 reserved
constexpr size_t kTagHeaderSize = 8;   // u32 type, u32 size
constexpr size_t kTagAlign = 8;
constexpr size_t kEndTagSize = 8;

// Memory map (tag 6): u32 entry_size, u32 entry_version, then entries of
// {u64 base_addr, u64 length, u32 type, u32 reserved} (at least 24 bytes).
constexpr size_t kMmapEntriesOffset = 16;
constexpr uint32_t kMmapMinEntrySize = 24;

// Framebuffer (tag 8): the common part is 32 bytes in GRUB's layout (the
// spec's text shows one reserved byte, GRUB has two; GRUB is what boots us).
constexpr size_t kFbCommonSize = 32;
constexpr size_t kFbColorInfoOffset = 32;
constexpr uint8_t kFbMaxBpp = 32;

// RSDP copies: ACPI 1.0 RSDP is 20 bytes, the ACPI 2.0+ one (XSDP) 36.
constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpV2Size = 36;
constexpr size_t kRsdpRevisionOffset = 15;

// EFI memory map (tag 17): u32 descriptor_size, u32 descriptor_version, then
// EFI_MEMORY_DESCRIPTORs (UEFI spec, GetMemoryMap()): u32 Type, u32 pad,
// u64 PhysicalStart, u64 VirtualStart, u64 NumberOfPages, u64 Attribute.
constexpr size_t kEfiMmapEntriesOffset = 16;
constexpr uint32_t kEfiMinDescriptorSize = 40;
constexpr size_t kEfiPhysStartOffset = 8;
constexpr size_t kEfiNumPagesOffset = 24;
constexpr uint64_t kEfiPageSize = 4096;

// One tag: its type, its offset in the MBI, and its bytes (header included).
struct Tag {
  uint32_t type;
  size_t offset;
  Bytes bytes;
};

// Multiboot2 memory map types (spec §3.6.8); anything else is reserved.
MemoryType mb2_memory_type(uint32_t type) {
  switch (type) {
    case 1: return MemoryType::Usable;
    case 3: return MemoryType::AcpiReclaimable;
    case 4: return MemoryType::AcpiNvs;
    case 5: return MemoryType::BadMemory;
    default: return MemoryType::Reserved;
  }
}

// EFI memory types (UEFI spec, EFI_MEMORY_TYPE). Boot services memory is
// free once GRUB has exited boot services. Loader memory holds the kernel,
// the MBI and the modules; as with tag 6 (spec §3.6.8), which calls all of
// that available RAM too, the memory manager must reserve those ranges itself.
MemoryType efi_memory_type(uint32_t type) {
  switch (type) {
    case 1:  // EfiLoaderCode
    case 2:  // EfiLoaderData
    case 3:  // EfiBootServicesCode
    case 4:  // EfiBootServicesData
    case 7:  // EfiConventionalMemory
      return MemoryType::Usable;
    case 8: return MemoryType::BadMemory;         // EfiUnusableMemory
    case 9: return MemoryType::AcpiReclaimable;   // EfiACPIReclaimMemory
    case 10: return MemoryType::AcpiNvs;          // EfiACPIMemoryNVS
    default: return MemoryType::Reserved;
  }
}

// Tags that may appear at most once.
bool is_singular(uint32_t type) {
  switch (type) {
    case kTagCmdline:
    case kTagLoaderName:
    case kTagBasicMeminfo:
    case kTagMmap:
    case kTagFramebuffer:
    case kTagAcpiOld:
    case kTagAcpiNew:
    case kTagEfiMmap:
      return true;
    default:
      return false;
  }
}

// One pass over the MBI. With `out` null it only checks (and counts); with
// `out` set it also stores. Both passes execute the same checks in the same
// order, so a commit pass over bytes the check pass accepted cannot fail.
class Parser {
 public:
  Parser(Bytes mbi, BootInfo* out, Mb2Diagnostic* diag) : mbi_(mbi), out_(out), diag_(diag) {}

  Result<void> run() {
    const uint32_t total_size = TRY(read_mbi<uint32_t>(0, "MBI shorter than its total_size field"));
    if (total_size < kMbiHeaderSize + kEndTagSize)
      return fail(Error::Truncated, "total_size too small to hold the end tag", 0);
    if (total_size > mbi_.size()) return fail(Error::Truncated, "total_size larger than the MBI buffer", 0);
    mbi_ = mbi_.first(total_size);

    size_t off = kMbiHeaderSize;
    for (;;) {
      if (off > mbi_.size() || mbi_.size() - off < kTagHeaderSize)
        return fail(Error::Truncated, "no end tag before total_size", off < mbi_.size() ? off : mbi_.size());
      const uint32_t type = TRY(read_mbi<uint32_t>(off, "tag header past total_size"));
      const uint32_t size = TRY(read_mbi<uint32_t>(off + 4, "tag header past total_size"));
      if (size < kTagHeaderSize) return fail(Error::InvalidArgument, "tag size below 8", off);
      if (size > mbi_.size() - off) return fail(Error::Truncated, "tag runs past total_size", off);
      const Tag tag{type, off, mbi_.subspan(off, size)};
      if (type == kTagEnd) {
        if (size != kEndTagSize) return fail(Error::InvalidArgument, "end tag size is not 8", off);
        break;
      }
      TRY(parse_tag(tag));
      off = ktl::align_up(off + size, kTagAlign);  // off + size <= total_size < 2^32
    }

    // The EFI map is only a fallback, so it is handled once we know whether
    // a multiboot2 memory map exists (tags come in any order).
    if (have_efi_mmap_) TRY(parse_efi_mmap(efi_mmap_tag_, /*use=*/!have_mmap_));

    if (out_) {
      out_->region_count = region_count_;
      out_->module_count = module_count_;
    }
    return ktl::ok();
  }

 private:
  ktl::Err fail(Error e, const char* reason, size_t offset) const {
    if (diag_) *diag_ = {reason, offset};
    return ktl::Err{e};
  }

  template <typename T>
  Result<T> read_mbi(size_t off, const char* reason) const {
    Result<T> v = ktl::load<T>(mbi_, off);
    if (!v.ok()) return fail(v.error(), reason, off);
    return v;
  }

  // Reads a field at `off` inside `tag`; running past the tag is Truncated.
  template <typename T>
  Result<T> read(const Tag& tag, size_t off, const char* reason) const {
    Result<T> v = ktl::load<T>(tag.bytes, off);
    if (!v.ok()) return fail(v.error(), reason, tag.offset + off);
    return v;
  }

  Result<Bytes> slice(const Tag& tag, size_t off, size_t len, const char* reason) const {
    Result<Bytes> b = ktl::slice(tag.bytes, off, len);
    if (!b.ok()) return fail(b.error(), reason, tag.offset + off);
    return b;
  }

  Result<void> parse_tag(const Tag& tag) {
    // Every tag Keel reads except modules describes the one machine state;
    // a second copy would be ambiguous.
    if (is_singular(tag.type)) {
      const uint32_t bit = uint32_t(1) << tag.type;
      if (seen_ & bit) return fail(Error::InvalidArgument, "tag type appears twice", tag.offset);
      seen_ |= bit;
    }

    switch (tag.type) {
      case kTagCmdline:
        return copy_string(tag, kTagHeaderSize, out_ ? out_->cmdline : nullptr, BootInfo::kCmdlineSize,
                           /*may_truncate=*/false, "command line is not NUL-terminated",
                           "command line longer than 511 bytes");
      case kTagLoaderName:
        return copy_string(tag, kTagHeaderSize, out_ ? out_->loader_name : nullptr, BootInfo::kLoaderNameSize,
                           /*may_truncate=*/true, "bootloader name is not NUL-terminated", nullptr);
      case kTagModule: return parse_module(tag);
      case kTagBasicMeminfo: return parse_basic_meminfo(tag);
      case kTagMmap: return parse_mmap(tag);
      case kTagFramebuffer: return parse_framebuffer(tag);
      case kTagAcpiOld:
      case kTagAcpiNew: return parse_rsdp(tag);
      case kTagEfiMmap:
        have_efi_mmap_ = true;
        efi_mmap_tag_ = tag;
        return ktl::ok();
      default: return ktl::ok();  // unknown or unused tag: skipped (spec §3.6)
    }
  }

  // Copies the NUL-terminated string at `off` in `tag` to `dst` (capacity
  // `cap` bytes; nullptr in the check pass). The NUL must lie inside the tag.
  Result<void> copy_string(const Tag& tag, size_t off, char* dst, size_t cap, bool may_truncate,
                           const char* unterminated, const char* too_long) const {
    size_t len = 0;
    for (;;) {
      if (off + len >= tag.bytes.size()) return fail(Error::Truncated, unterminated, tag.offset + off);
      if (tag.bytes[off + len] == 0) break;
      ++len;
    }
    if (len >= cap) {
      if (!may_truncate) return fail(Error::NoSpace, too_long, tag.offset + off);
      len = cap - 1;
    }
    if (dst) {
      __builtin_memcpy(dst, tag.bytes.data() + off, len);
      dst[len] = '\0';
    }
    return ktl::ok();
  }

  // Module (spec §3.6.6): u32 mod_start, u32 mod_end (exclusive), string.
  Result<void> parse_module(const Tag& tag) {
    const uint32_t start = TRY(read<uint32_t>(tag, 8, "module tag too short"));
    const uint32_t end = TRY(read<uint32_t>(tag, 12, "module tag too short"));
    if (start > end) return fail(Error::InvalidArgument, "module start is above its end", tag.offset + 8);
    if (module_count_ == BootInfo::kMaxModules) return fail(Error::NoSpace, "more than 32 modules", tag.offset);
    Module* m = out_ ? &out_->modules[module_count_] : nullptr;
    TRY(copy_string(tag, 16, m ? m->name : nullptr, sizeof(Module::name), /*may_truncate=*/false,
                    "module string is not NUL-terminated", "module string longer than 127 bytes"));
    if (m) {
      m->start = start;
      m->end = end;
    }
    ++module_count_;
    return ktl::ok();
  }

  // Basic memory information (spec §3.6.3): u32 mem_lower, u32 mem_upper, KiB.
  Result<void> parse_basic_meminfo(const Tag& tag) {
    const uint32_t lower = TRY(read<uint32_t>(tag, 8, "basic meminfo tag too short"));
    const uint32_t upper = TRY(read<uint32_t>(tag, 12, "basic meminfo tag too short"));
    if (out_) out_->meminfo = {true, lower, upper};
    return ktl::ok();
  }

  // Memory map (spec §3.6.8).
  Result<void> parse_mmap(const Tag& tag) {
    const uint32_t entry_size = TRY(read<uint32_t>(tag, 8, "mmap tag too short"));
    const uint32_t entry_version = TRY(read<uint32_t>(tag, 12, "mmap tag too short"));
    if (entry_size < kMmapMinEntrySize) return fail(Error::InvalidArgument, "mmap entry_size below 24", tag.offset + 8);
    if (entry_size % 8 != 0)
      return fail(Error::InvalidArgument, "mmap entry_size not a multiple of 8", tag.offset + 8);
    if (entry_version != 0) return fail(Error::Unsupported, "mmap entry_version is not 0", tag.offset + 12);
    TRY(check_whole_entries(tag, kMmapEntriesOffset, entry_size, "mmap entry runs past the tag"));
    have_mmap_ = true;
    for (size_t off = kMmapEntriesOffset; off < tag.bytes.size(); off += entry_size) {
      const uint64_t base = TRY(read<uint64_t>(tag, off, "mmap entry runs past the tag"));
      const uint64_t length = TRY(read<uint64_t>(tag, off + 8, "mmap entry runs past the tag"));
      const uint32_t type = TRY(read<uint32_t>(tag, off + 16, "mmap entry runs past the tag"));
      TRY(add_region(base, length, mb2_memory_type(type), tag.offset + off));
    }
    return ktl::ok();
  }

  // EFI memory map (spec §3.6.19). `use` is false when tag 6 supplies the
  // map: the tag is still checked, but contributes no regions.
  Result<void> parse_efi_mmap(const Tag& tag, bool use) {
    const uint32_t desc_size = TRY(read<uint32_t>(tag, 8, "EFI mmap tag too short"));
    TRY(read<uint32_t>(tag, 12, "EFI mmap tag too short"));  // descriptor_version: layout is fixed by size
    if (desc_size < kEfiMinDescriptorSize)
      return fail(Error::InvalidArgument, "EFI descriptor_size below 40", tag.offset + 8);
    TRY(check_whole_entries(tag, kEfiMmapEntriesOffset, desc_size, "EFI descriptor runs past the tag"));
    for (size_t off = kEfiMmapEntriesOffset; off < tag.bytes.size(); off += desc_size) {
      const uint32_t type = TRY(read<uint32_t>(tag, off, "EFI descriptor runs past the tag"));
      const uint64_t base = TRY(read<uint64_t>(tag, off + kEfiPhysStartOffset, "EFI descriptor runs past the tag"));
      const uint64_t pages = TRY(read<uint64_t>(tag, off + kEfiNumPagesOffset, "EFI descriptor runs past the tag"));
      uint64_t length;
      if (!ktl::checked_mul(pages, kEfiPageSize, length))
        return fail(Error::InvalidArgument, "EFI region wraps past 2^64", tag.offset + off);
      if (!use) {
        uint64_t end;
        if (length && !ktl::checked_add(base, length, end))
          return fail(Error::InvalidArgument, "EFI region wraps past 2^64", tag.offset + off);
        continue;
      }
      TRY(add_region(base, length, efi_memory_type(type), tag.offset + off));
    }
    return ktl::ok();
  }

  // The entries from `first` to the end of `tag` must be whole `entry_size`
  // records (entry_size != 0).
  Result<void> check_whole_entries(const Tag& tag, size_t first, uint32_t entry_size, const char* reason) const {
    if (tag.bytes.size() < first) return fail(Error::Truncated, reason, tag.offset + tag.bytes.size());
    const size_t rest = (tag.bytes.size() - first) % entry_size;
    if (rest != 0) return fail(Error::Truncated, reason, tag.offset + tag.bytes.size() - rest);
    return ktl::ok();
  }

  // Appends a region, dropping empty ones and merging one that continues the
  // previous region with the same type (firmware maps are long and
  // fragmented; this keeps them within BootInfo::kMaxRegions).
  Result<void> add_region(uint64_t base, uint64_t length, MemoryType type, size_t offset) {
    if (length == 0) return ktl::ok();
    uint64_t end;
    if (!ktl::checked_add(base, length, end))
      return fail(Error::InvalidArgument, "memory region wraps past 2^64", offset);
    if (region_count_ > 0 && last_region_.type == type && last_region_.end() == base) {
      last_region_.length += length;  // == end - last_region_.base, no overflow
      if (out_) out_->regions[region_count_ - 1] = last_region_;
      return ktl::ok();
    }
    if (region_count_ == BootInfo::kMaxRegions)
      return fail(Error::NoSpace, "more than 256 memory regions", offset);
    last_region_ = {base, length, type};
    if (out_) out_->regions[region_count_] = last_region_;
    ++region_count_;
    return ktl::ok();
  }

  // Framebuffer (spec §3.6.12, GRUB layout): u64 addr, u32 pitch, u32 width,
  // u32 height, u8 bpp, u8 type, u16 reserved, colour information.
  Result<void> parse_framebuffer(const Tag& tag) {
    TRY(slice(tag, 0, kFbCommonSize, "framebuffer tag too short"));
    FramebufferInfo fb;
    fb.present = true;
    fb.address = TRY(read<uint64_t>(tag, 8, "framebuffer tag too short"));
    fb.pitch = TRY(read<uint32_t>(tag, 16, "framebuffer tag too short"));
    fb.width = TRY(read<uint32_t>(tag, 20, "framebuffer tag too short"));
    fb.height = TRY(read<uint32_t>(tag, 24, "framebuffer tag too short"));
    fb.bpp = TRY(read<uint8_t>(tag, 28, "framebuffer tag too short"));
    const uint8_t type = TRY(read<uint8_t>(tag, 29, "framebuffer tag too short"));

    switch (type) {
      case 0:  // indexed: a palette follows; Keel does not use it
        fb.type = FramebufferType::Indexed;
        break;
      case 1: {
        fb.type = FramebufferType::Rgb;
        const Bytes c = TRY(slice(tag, kFbColorInfoOffset, 6, "framebuffer RGB colour information missing"));
        fb.red_pos = c[0];
        fb.red_size = c[1];
        fb.green_pos = c[2];
        fb.green_size = c[3];
        fb.blue_pos = c[4];
        fb.blue_size = c[5];
        for (size_t i = 0; i < 6; i += 2)
          if (c[i] + c[i + 1] > fb.bpp)
            return fail(Error::InvalidArgument, "framebuffer colour field outside the pixel",
                        tag.offset + kFbColorInfoOffset + i);
        break;
      }
      case 2:  // EGA text: width and height in characters
        fb.type = FramebufferType::EgaText;
        break;
      default: return fail(Error::InvalidArgument, "unknown framebuffer type", tag.offset + 29);
    }

    if (fb.width == 0 || fb.height == 0 || fb.pitch == 0 || fb.bpp == 0)
      return fail(Error::InvalidArgument, "framebuffer has a zero dimension", tag.offset + 16);
    if (fb.bpp > kFbMaxBpp) return fail(Error::InvalidArgument, "framebuffer bpp above 32", tag.offset + 28);
    const uint64_t line_bytes = (uint64_t(fb.width) * fb.bpp + 7) / 8;  // < 2^38
    if (fb.pitch < line_bytes)
      return fail(Error::InvalidArgument, "framebuffer pitch shorter than a line", tag.offset + 16);
    uint64_t end;
    if (!ktl::checked_add(fb.address, uint64_t(fb.pitch) * fb.height, end))
      return fail(Error::InvalidArgument, "framebuffer wraps past 2^64", tag.offset + 8);

    if (out_) out_->framebuffer = fb;
    return ktl::ok();
  }

  // ACPI old (spec §3.6.16: an ACPI 1.0 RSDP) and new (§3.6.17: an XSDP)
  // RSDP tags. The new one wins when both are present.
  Result<void> parse_rsdp(const Tag& tag) {
    const bool is_new = tag.type == kTagAcpiNew;
    const size_t size = is_new ? kRsdpV2Size : kRsdpV1Size;
    const Bytes rsdp = TRY(slice(tag, kTagHeaderSize, size, is_new ? "ACPI new RSDP tag shorter than 36 bytes"
                                                                   : "ACPI old RSDP tag shorter than 20 bytes"));
    if (!is_new && rsdp_is_new_) return ktl::ok();
    rsdp_is_new_ = is_new;
    if (out_) {
      RsdpInfo& r = out_->rsdp;
      r.present = true;
      r.revision = is_new ? rsdp[kRsdpRevisionOffset] : 0;
      __builtin_memset(r.bytes, 0, sizeof(r.bytes));
      __builtin_memcpy(r.bytes, rsdp.data(), size);
      r.length = uint32_t(size);
    }
    return ktl::ok();
  }

  Bytes mbi_;
  BootInfo* out_;  // nullptr in the check pass
  Mb2Diagnostic* diag_;

  // Kept in both passes: the checks depend on them.
  size_t region_count_ = 0;
  MemoryRegion last_region_;
  size_t module_count_ = 0;
  uint32_t seen_ = 0;  // bit n: a singular tag of type n was seen
  bool have_mmap_ = false;
  bool have_efi_mmap_ = false;
  Tag efi_mmap_tag_{};
  bool rsdp_is_new_ = false;
};

}  // namespace

ktl::Result<void> parse_multiboot2(ktl::Bytes mbi, BootInfo& out, Mb2Diagnostic* diag) {
  static_assert(std::is_trivially_copyable_v<BootInfo>);
  TRY(Parser(mbi, nullptr, diag).run());

  // All-zero bytes are a valid empty BootInfo (counts 0, nothing present).
  __builtin_memset(&out, 0, sizeof(out));
  // The check pass accepted these exact bytes; the commit pass runs the same
  // checks, so a failure here is a parser bug and `out` would be half-written.
  if (!Parser(mbi, &out, nullptr).run().ok()) __builtin_trap();
  if (diag) *diag = {nullptr, 0};
  return ktl::ok();
}

const char* memory_type_name(MemoryType type) {
  switch (type) {
    case MemoryType::Usable: return "Usable";
    case MemoryType::Reserved: return "Reserved";
    case MemoryType::AcpiReclaimable: return "ACPI reclaimable";
    case MemoryType::AcpiNvs: return "ACPI NVS";
    case MemoryType::BadMemory: return "Bad memory";
    case MemoryType::BootloaderReclaimable: return "Bootloader reclaimable";
  }
  return "Unknown";
}

}  // namespace boot
