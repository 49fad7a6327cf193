// boot/multiboot2_test.cc — host tests for the multiboot2 boot-information parser.
//
// MBIs are built byte by byte with MbiBuilder, following the Multiboot2 spec
// §3.6 layouts (GRUB's framebuffer layout), independently of the parser.
#include <boot/multiboot2.h>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace boot {
namespace {

using ktl::Error;

// Spec tag numbers, written out here rather than taken from the parser.
constexpr uint32_t kEnd = 0, kCmdline = 1, kLoaderName = 2, kModule = 3, kBasicMeminfo = 4, kBootDevice = 5,
                   kMmap = 6, kFramebuffer = 8, kElfSections = 9, kAcpiOld = 14, kAcpiNew = 15, kEfiMmap = 17,
                   kLoadBaseAddr = 21;

struct Mb2Entry {
  uint64_t base, length;
  uint32_t type;
};

struct EfiDesc {
  uint32_t type;
  uint64_t phys_start, pages;
};

// Builds a multiboot2 information structure: tags padded to 8 bytes, and
// total_size filled in by build().
class MbiBuilder {
 public:
  MbiBuilder() { bytes_.resize(8); }

  // Appends a tag whose size field says `size` (default: header + payload).
  MbiBuilder& tag(uint32_t type, const std::vector<uint8_t>& payload, int64_t size = -1) {
    last_tag_ = bytes_.size();
    put32(type);
    put32(size >= 0 ? uint32_t(size) : uint32_t(8 + payload.size()));
    bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    while (bytes_.size() % 8) bytes_.push_back(0xcc);  // padding; the parser must not read it
    return *this;
  }
  MbiBuilder& string_tag(uint32_t type, const std::string& s) { return tag(type, with_nul(s)); }
  MbiBuilder& cmdline(const std::string& s) { return string_tag(kCmdline, s); }
  MbiBuilder& loader_name(const std::string& s) { return string_tag(kLoaderName, s); }
  MbiBuilder& module(uint32_t start, uint32_t end, const std::string& s) {
    std::vector<uint8_t> p;
    append32(p, start);
    append32(p, end);
    std::vector<uint8_t> str = with_nul(s);
    p.insert(p.end(), str.begin(), str.end());
    return tag(kModule, p);
  }
  MbiBuilder& meminfo(uint32_t lower, uint32_t upper) {
    std::vector<uint8_t> p;
    append32(p, lower);
    append32(p, upper);
    return tag(kBasicMeminfo, p);
  }
  MbiBuilder& mmap(const std::vector<Mb2Entry>& entries, uint32_t entry_size = 24, uint32_t version = 0) {
    std::vector<uint8_t> p;
    append32(p, entry_size);
    append32(p, version);
    for (const Mb2Entry& e : entries) {
      size_t start = p.size();
      append64(p, e.base);
      append64(p, e.length);
      append32(p, e.type);
      append32(p, 0);
      p.resize(start + entry_size, 0xee);  // entries larger than 24 bytes carry junk
    }
    return tag(kMmap, p);
  }
  MbiBuilder& framebuffer(uint64_t addr, uint32_t pitch, uint32_t width, uint32_t height, uint8_t bpp, uint8_t type,
                          const std::vector<uint8_t>& color_info) {
    std::vector<uint8_t> p;
    append64(p, addr);
    append32(p, pitch);
    append32(p, width);
    append32(p, height);
    p.push_back(bpp);
    p.push_back(type);
    p.push_back(0);  // reserved (u16 in GRUB)
    p.push_back(0);
    p.insert(p.end(), color_info.begin(), color_info.end());
    return tag(kFramebuffer, p);
  }
  MbiBuilder& fb_rgb(uint64_t addr, uint32_t pitch, uint32_t width, uint32_t height, uint8_t bpp = 32) {
    return framebuffer(addr, pitch, width, height, bpp, 1, {16, 8, 8, 8, 0, 8});
  }
  MbiBuilder& efi_mmap(const std::vector<EfiDesc>& descs, uint32_t desc_size = 48) {
    std::vector<uint8_t> p;
    append32(p, desc_size);
    append32(p, 1);  // EFI_MEMORY_DESCRIPTOR_VERSION
    for (const EfiDesc& d : descs) {
      size_t start = p.size();
      append32(p, d.type);
      append32(p, 0);
      append64(p, d.phys_start);
      append64(p, 0xffff800000000000 + d.phys_start);  // VirtualStart: ignored
      append64(p, d.pages);
      append64(p, 0xf);  // Attribute
      p.resize(start + desc_size, 0xdd);
    }
    return tag(kEfiMmap, p);
  }
  MbiBuilder& end() { return tag(kEnd, {}); }

  size_t size() const { return bytes_.size(); }
  size_t last_tag() const { return last_tag_; }

  // The finished MBI; total_size is the byte count unless given.
  std::vector<uint8_t> build(uint32_t total_size = 0) const {
    std::vector<uint8_t> out = bytes_;
    uint32_t t = total_size ? total_size : uint32_t(out.size());
    std::memcpy(out.data(), &t, 4);
    return out;
  }

  static std::vector<uint8_t> with_nul(const std::string& s) {
    std::vector<uint8_t> v(s.begin(), s.end());
    v.push_back(0);
    return v;
  }
  static void append32(std::vector<uint8_t>& v, uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (8 * i)));
  }
  static void append64(std::vector<uint8_t>& v, uint64_t x) {
    for (int i = 0; i < 8; ++i) v.push_back(uint8_t(x >> (8 * i)));
  }

 private:
  void put32(uint32_t x) { append32(bytes_, x); }

  std::vector<uint8_t> bytes_;
  size_t last_tag_ = 0;
};

std::vector<uint8_t> rsdp_v1() {
  std::vector<uint8_t> r(20);
  std::memcpy(r.data(), "RSD PTR ", 8);
  r[8] = 0x5a;  // checksum (not checked by the parser)
  std::memcpy(r.data() + 9, "BOCHS ", 6);
  r[15] = 0;  // revision
  const uint8_t rsdt[4] = {0x78, 0x56, 0x34, 0x12};  // RsdtAddress
  std::memcpy(r.data() + 16, rsdt, 4);
  return r;
}

std::vector<uint8_t> rsdp_v2() {
  std::vector<uint8_t> r(36);
  std::memcpy(r.data(), "RSD PTR ", 8);
  std::memcpy(r.data() + 9, "KEELFW", 6);
  r[15] = 2;  // revision
  r[20] = 36;  // Length
  for (int i = 24; i < 32; ++i) r[i] = uint8_t(0x10 + i);  // XsdtAddress
  return r;
}

ktl::Result<void> parse(const std::vector<uint8_t>& mbi, BootInfo& out, Mb2Diagnostic* diag = nullptr) {
  return parse_multiboot2(ktl::Bytes(mbi.data(), mbi.size()), out, diag);
}

// A BootInfo with recognisable contents, to check that failures leave it alone.
std::unique_ptr<BootInfo> sentinel_info() {
  auto info = std::make_unique<BootInfo>();
  std::vector<uint8_t> mbi = MbiBuilder()
                                 .cmdline("previous boot info")
                                 .module(0x100000, 0x101000, "old")
                                 .mmap({{0, 0x9f000, 1}, {0x100000, 0x1000000, 1}})
                                 .fb_rgb(0xfd000000, 4096, 1024, 768)
                                 .end()
                                 .build();
  EXPECT_TRUE(parse(mbi, *info).ok());
  return info;
}

// Parses `mbi`, expecting `error`; checks that `out` is untouched and that a
// reason was given. Returns the diagnostic.
Mb2Diagnostic expect_error(const std::vector<uint8_t>& mbi, Error error) {
  std::unique_ptr<BootInfo> out = sentinel_info();
  BootInfo before;
  std::memcpy(&before, out.get(), sizeof(BootInfo));
  Mb2Diagnostic diag{nullptr, ~size_t(0)};
  ktl::Result<void> r = parse(mbi, *out, &diag);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), error) << "got " << ktl::error_name(r.error()) << " ("
                              << (diag.reason ? diag.reason : "no reason") << ")";
  EXPECT_NE(diag.reason, nullptr);
  EXPECT_EQ(std::memcmp(&before, out.get(), sizeof(BootInfo)), 0) << "out was modified on failure";
  return diag;
}

// A realistic MBI as GRUB on a UEFI machine produces it.
MbiBuilder full_mbi_builder() {
  MbiBuilder b;
  b.cmdline("/boot/keel.elf console=com1 loglevel=7")
      .loader_name("GRUB 2.06-13+deb12u1")
      .module(0x200000, 0x234567, "/boot/init.cpio")
      .module(0x235000, 0x235000, "/boot/empty.bin arg1 arg2")
      .meminfo(639, 2096000)
      .tag(kBootDevice, {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
      .mmap({
          {0x0, 0x9fc00, 1},
          {0x9fc00, 0x400, 2},
          {0xf0000, 0x10000, 2},
          {0x100000, 0x7ee0000, 1},
          {0x7fe0000, 0x0, 1},  // empty: dropped
          {0x7fe0000, 0x20000, 3},
          {0x8000000, 0x1000, 4},
          {0x8001000, 0x1000, 5},
          {0xfffc0000, 0x40000, 2},
          {0x100000000, 0x80000000, 1},
          {0x180000000, 0x1000, 12},  // persistent memory: unknown to Keel → Reserved
      })
      .tag(kElfSections, std::vector<uint8_t>(40, 0x42))
      .fb_rgb(0xfd000000, 1280 * 4, 1280, 800)
      .tag(kAcpiOld, rsdp_v1())
      .tag(kAcpiNew, rsdp_v2())
      .efi_mmap({{7, 0x1000, 16}})  // ignored: tag 6 is present
      .tag(kLoadBaseAddr, {0, 0, 0x20, 0})
      .tag(1234, {1, 2, 3})  // unknown type: skipped
      .end();
  return b;
}

TEST(Multiboot2, ParsesFullMbi) {
  std::vector<uint8_t> mbi = full_mbi_builder().build();
  auto info = std::make_unique<BootInfo>();
  Mb2Diagnostic diag{"stale", 99};
  ASSERT_TRUE(parse(mbi, *info, &diag).ok()) << diag.reason;
  EXPECT_EQ(diag.reason, nullptr);

  EXPECT_STREQ(info->cmdline, "/boot/keel.elf console=com1 loglevel=7");
  EXPECT_STREQ(info->loader_name, "GRUB 2.06-13+deb12u1");

  ASSERT_EQ(info->module_count, 2u);
  EXPECT_EQ(info->modules[0].start, 0x200000u);
  EXPECT_EQ(info->modules[0].end, 0x234567u);
  EXPECT_EQ(info->modules[0].size(), 0x34567u);
  EXPECT_STREQ(info->modules[0].name, "/boot/init.cpio");
  EXPECT_EQ(info->modules[1].start, 0x235000u);
  EXPECT_EQ(info->modules[1].end, 0x235000u);
  EXPECT_STREQ(info->modules[1].name, "/boot/empty.bin arg1 arg2");

  EXPECT_TRUE(info->meminfo.present);
  EXPECT_EQ(info->meminfo.mem_lower_kib, 639u);
  EXPECT_EQ(info->meminfo.mem_upper_kib, 2096000u);

  struct Want {
    uint64_t base, length;
    MemoryType type;
  };
  const Want want[] = {
      {0x0, 0x9fc00, MemoryType::Usable},
      {0x9fc00, 0x400, MemoryType::Reserved},
      {0xf0000, 0x10000, MemoryType::Reserved},
      {0x100000, 0x7ee0000, MemoryType::Usable},
      {0x7fe0000, 0x20000, MemoryType::AcpiReclaimable},
      {0x8000000, 0x1000, MemoryType::AcpiNvs},
      {0x8001000, 0x1000, MemoryType::BadMemory},
      {0xfffc0000, 0x40000, MemoryType::Reserved},
      {0x100000000, 0x80000000, MemoryType::Usable},
      {0x180000000, 0x1000, MemoryType::Reserved},
  };
  ASSERT_EQ(info->region_count, std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(info->regions[i].base, want[i].base);
    EXPECT_EQ(info->regions[i].length, want[i].length);
    EXPECT_EQ(info->regions[i].type, want[i].type);
  }
  EXPECT_EQ(info->usable_bytes(), 0x9fc00u + 0x7ee0000u + 0x80000000u);
  EXPECT_EQ(info->highest_address(), 0x180001000u);

  const FramebufferInfo& fb = info->framebuffer;
  EXPECT_TRUE(fb.present);
  EXPECT_EQ(fb.address, 0xfd000000u);
  EXPECT_EQ(fb.pitch, 5120u);
  EXPECT_EQ(fb.width, 1280u);
  EXPECT_EQ(fb.height, 800u);
  EXPECT_EQ(fb.bpp, 32);
  EXPECT_EQ(fb.type, FramebufferType::Rgb);
  EXPECT_EQ(fb.red_pos, 16);
  EXPECT_EQ(fb.red_size, 8);
  EXPECT_EQ(fb.green_pos, 8);
  EXPECT_EQ(fb.green_size, 8);
  EXPECT_EQ(fb.blue_pos, 0);
  EXPECT_EQ(fb.blue_size, 8);

  // Both RSDP tags: the new one wins.
  EXPECT_TRUE(info->rsdp.present);
  EXPECT_EQ(info->rsdp.revision, 2);
  EXPECT_EQ(info->rsdp.length, 36u);
  std::vector<uint8_t> v2 = rsdp_v2();
  EXPECT_EQ(std::memcmp(info->rsdp.bytes, v2.data(), 36), 0);
}

TEST(Multiboot2, MinimalMbiGivesEmptyInfo) {
  std::unique_ptr<BootInfo> info = sentinel_info();
  ASSERT_TRUE(parse(MbiBuilder().end().build(), *info).ok());
  EXPECT_EQ(info->region_count, 0u);
  EXPECT_EQ(info->module_count, 0u);
  EXPECT_STREQ(info->cmdline, "");
  EXPECT_STREQ(info->loader_name, "");
  EXPECT_FALSE(info->framebuffer.present);
  EXPECT_FALSE(info->rsdp.present);
  EXPECT_FALSE(info->meminfo.present);
  EXPECT_EQ(info->usable_bytes(), 0u);
  EXPECT_EQ(info->highest_address(), 0u);
}

TEST(Multiboot2, OutputIsIndependentOfTheMbiMemory) {
  std::vector<uint8_t> mbi = full_mbi_builder().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  std::fill(mbi.begin(), mbi.end(), 0xa5);  // the MBI memory is reused
  EXPECT_STREQ(info->cmdline, "/boot/keel.elf console=com1 loglevel=7");
  EXPECT_STREQ(info->modules[0].name, "/boot/init.cpio");
  EXPECT_EQ(info->rsdp.bytes[0], 'R');
}

TEST(Multiboot2, TotalSizeNeedNotBeAMultipleOf8AndTrailingBytesAreIgnored) {
  MbiBuilder b;
  b.cmdline("x").end();
  std::vector<uint8_t> mbi = b.build();
  mbi.push_back(0xff);  // junk after the end tag, inside total_size
  mbi.push_back(0xff);
  uint32_t total = uint32_t(mbi.size());  // 8 + 16 + 8 + 2 = 34
  std::memcpy(mbi.data(), &total, 4);
  mbi.resize(mbi.size() + 100, 0xee);  // the caller mapped more than total_size
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  EXPECT_STREQ(info->cmdline, "x");
}

TEST(Multiboot2, MmapWithLargerEntries) {
  std::vector<uint8_t> mbi =
      MbiBuilder().mmap({{0x1000, 0x2000, 1}, {0x10000, 0x1000, 2}, {0x20000, 0x3000, 1}}, 40).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  ASSERT_EQ(info->region_count, 3u);
  EXPECT_EQ(info->regions[1].base, 0x10000u);
  EXPECT_EQ(info->regions[1].type, MemoryType::Reserved);
  EXPECT_EQ(info->regions[2].base, 0x20000u);
  EXPECT_EQ(info->regions[2].length, 0x3000u);
  EXPECT_EQ(info->usable_bytes(), 0x5000u);
}

TEST(Multiboot2, MergesOnlyAdjacentRegionsOfTheSameType) {
  std::vector<uint8_t> mbi = MbiBuilder()
                                 .mmap({
                                     {0x0, 0x1000, 1},
                                     {0x1000, 0x1000, 1},  // continues the previous: merged
                                     {0x2000, 0x0, 2},     // empty: dropped, does not split
                                     {0x2000, 0x1000, 1},  // merged as well
                                     {0x3000, 0x1000, 2},  // other type
                                     {0x5000, 0x1000, 2},  // gap
                                     {0x6000, 0x1000, 1},
                                 })
                                 .end()
                                 .build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  ASSERT_EQ(info->region_count, 4u);
  EXPECT_EQ(info->regions[0].base, 0x0u);
  EXPECT_EQ(info->regions[0].length, 0x3000u);
  EXPECT_EQ(info->regions[0].type, MemoryType::Usable);
  EXPECT_EQ(info->regions[1].base, 0x3000u);
  EXPECT_EQ(info->regions[2].base, 0x5000u);
  EXPECT_EQ(info->regions[3].base, 0x6000u);
  EXPECT_EQ(info->usable_bytes(), 0x4000u);
  EXPECT_EQ(info->highest_address(), 0x7000u);
}

TEST(Multiboot2, EfiMmapIsTheFallbackMemoryMap) {
  std::vector<uint8_t> mbi = MbiBuilder()
                                 .efi_mmap({
                                     {3, 0x0, 1},         // BootServicesCode → Usable
                                     {7, 0x1000, 0x9e},   // Conventional, adjacent: merged
                                     {0, 0x9f000, 1},     // Reserved
                                     {1, 0x100000, 0x10}, // LoaderCode
                                     {6, 0x200000, 2},    // RuntimeServicesData → Reserved
                                     {9, 0x300000, 3},    // ACPIReclaim
                                     {10, 0x400000, 4},   // ACPI NVS
                                     {8, 0x500000, 1},    // Unusable → BadMemory
                                     {11, 0xfec00000, 1}, // MMIO → Reserved
                                     {7, 0x600000, 0},    // empty: dropped
                                     {2, 0x700000, 1},    // LoaderData
                                     {4, 0x800000, 1},    // BootServicesData
                                 })
                                 .end()
                                 .build();
  auto info = std::make_unique<BootInfo>();
  Mb2Diagnostic diag{};
  ASSERT_TRUE(parse(mbi, *info, &diag).ok()) << diag.reason;
  struct Want {
    uint64_t base, length;
    MemoryType type;
  };
  const Want want[] = {
      {0x0, 0x9f000, MemoryType::Usable},
      {0x9f000, 0x1000, MemoryType::Reserved},
      {0x100000, 0x10000, MemoryType::Usable},
      {0x200000, 0x2000, MemoryType::Reserved},
      {0x300000, 0x3000, MemoryType::AcpiReclaimable},
      {0x400000, 0x4000, MemoryType::AcpiNvs},
      {0x500000, 0x1000, MemoryType::BadMemory},
      {0xfec00000, 0x1000, MemoryType::Reserved},
      {0x700000, 0x1000, MemoryType::Usable},
      {0x800000, 0x1000, MemoryType::Usable},
  };
  ASSERT_EQ(info->region_count, std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(info->regions[i].base, want[i].base);
    EXPECT_EQ(info->regions[i].length, want[i].length);
    EXPECT_EQ(info->regions[i].type, want[i].type);
  }
  EXPECT_EQ(info->highest_address(), 0xfec01000u);
}

TEST(Multiboot2, EfiMmapWithMinimalDescriptorSize) {
  std::vector<uint8_t> mbi = MbiBuilder().efi_mmap({{7, 0x1000, 2}, {7, 0x10000, 3}}, 40).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  ASSERT_EQ(info->region_count, 2u);
  EXPECT_EQ(info->regions[1].base, 0x10000u);
  EXPECT_EQ(info->regions[1].length, 0x3000u);
}

TEST(Multiboot2, EfiMmapIsIgnoredWhenTag6ComesLater) {
  std::vector<uint8_t> mbi =
      MbiBuilder().efi_mmap({{7, 0x1000, 16}, {9, 0x100000, 1}}).mmap({{0x5000, 0x1000, 1}}).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  ASSERT_EQ(info->region_count, 1u);
  EXPECT_EQ(info->regions[0].base, 0x5000u);
}

TEST(Multiboot2, LongFirmwareMapFitsAfterMerging) {
  // Real UEFI maps can have hundreds of descriptors, mostly adjacent boot
  // services and conventional memory.
  std::vector<EfiDesc> descs;
  for (uint64_t i = 0; i < 400; ++i) descs.push_back({uint32_t(i % 2 ? 4 : 7), i * 0x1000, 1});
  std::vector<uint8_t> mbi = MbiBuilder().efi_mmap(descs).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  ASSERT_EQ(info->region_count, 1u);
  EXPECT_EQ(info->regions[0].length, 400u * 0x1000);
}

TEST(Multiboot2, FramebufferEgaText) {
  std::vector<uint8_t> mbi = MbiBuilder().framebuffer(0xb8000, 160, 80, 25, 16, 2, {}).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  EXPECT_TRUE(info->framebuffer.present);
  EXPECT_EQ(info->framebuffer.type, FramebufferType::EgaText);
  EXPECT_EQ(info->framebuffer.address, 0xb8000u);
  EXPECT_EQ(info->framebuffer.pitch, 160u);
  EXPECT_EQ(info->framebuffer.width, 80u);
  EXPECT_EQ(info->framebuffer.height, 25u);
  EXPECT_EQ(info->framebuffer.bpp, 16);
}

TEST(Multiboot2, FramebufferIndexed) {
  // GRUB: u16 num_colors, then 3-byte palette entries.
  std::vector<uint8_t> mbi =
      MbiBuilder().framebuffer(0xa0000, 320, 320, 200, 8, 0, {2, 0, 0, 0, 0, 0xff, 0xff, 0xff}).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  EXPECT_EQ(info->framebuffer.type, FramebufferType::Indexed);
  EXPECT_EQ(info->framebuffer.bpp, 8);
}

TEST(Multiboot2, Framebuffer15BppRgb) {
  std::vector<uint8_t> mbi =
      MbiBuilder().framebuffer(0xe0000000, 2048, 1024, 768, 15, 1, {10, 5, 5, 5, 0, 5}).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  EXPECT_EQ(info->framebuffer.red_pos, 10);
  EXPECT_EQ(info->framebuffer.blue_size, 5);
}

TEST(Multiboot2, OldRsdpAlone) {
  std::vector<uint8_t> mbi = MbiBuilder().tag(kAcpiOld, rsdp_v1()).end().build();
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(mbi, *info).ok());
  EXPECT_TRUE(info->rsdp.present);
  EXPECT_EQ(info->rsdp.revision, 0);
  EXPECT_EQ(info->rsdp.length, 20u);
  std::vector<uint8_t> v1 = rsdp_v1();
  EXPECT_EQ(std::memcmp(info->rsdp.bytes, v1.data(), 20), 0);
  for (size_t i = 20; i < 36; ++i) EXPECT_EQ(info->rsdp.bytes[i], 0) << i;
}

TEST(Multiboot2, NewRsdpWinsInEitherOrder) {
  for (bool new_first : {false, true}) {
    SCOPED_TRACE(new_first);
    MbiBuilder b;
    if (new_first) b.tag(kAcpiNew, rsdp_v2()).tag(kAcpiOld, rsdp_v1());
    else b.tag(kAcpiOld, rsdp_v1()).tag(kAcpiNew, rsdp_v2());
    auto info = std::make_unique<BootInfo>();
    ASSERT_TRUE(parse(b.end().build(), *info).ok());
    EXPECT_EQ(info->rsdp.revision, 2);
    EXPECT_EQ(info->rsdp.length, 36u);
    EXPECT_EQ(std::memcmp(info->rsdp.bytes, rsdp_v2().data(), 36), 0);
  }
}

TEST(Multiboot2, LoaderNameIsTruncated) {
  std::string name(100, 'g');
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(MbiBuilder().loader_name(name).end().build(), *info).ok());
  EXPECT_EQ(std::string(info->loader_name), name.substr(0, 63));
}

TEST(Multiboot2, CmdlineOf511BytesFits) {
  std::string cmd(511, 'c');
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(MbiBuilder().cmdline(cmd).end().build(), *info).ok());
  EXPECT_EQ(std::string(info->cmdline), cmd);
}

TEST(Multiboot2, CmdlineIsNeverTruncated) {
  expect_error(MbiBuilder().cmdline(std::string(512, 'c')).end().build(), Error::NoSpace);
}

TEST(Multiboot2, ModuleStringIsNeverTruncated) {
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(MbiBuilder().module(0, 1, std::string(127, 'm')).end().build(), *info).ok());
  EXPECT_EQ(std::string(info->modules[0].name), std::string(127, 'm'));
  expect_error(MbiBuilder().module(0, 1, std::string(128, 'm')).end().build(), Error::NoSpace);
}

TEST(Multiboot2, StringEndsAtFirstNul) {
  std::vector<uint8_t> payload = {'a', 'b', 0, 'c', 'd', 0};
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(MbiBuilder().tag(kCmdline, payload).end().build(), *info).ok());
  EXPECT_STREQ(info->cmdline, "ab");
}

TEST(Multiboot2, ThirtyTwoModulesFitThirtyThreeDoNot) {
  MbiBuilder b;
  for (uint32_t i = 0; i < 32; ++i) b.module(i * 0x1000, i * 0x1000 + 0x800, "mod" + std::to_string(i));
  MbiBuilder full = b;
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(full.end().build(), *info).ok());
  ASSERT_EQ(info->module_count, 32u);
  EXPECT_STREQ(info->modules[31].name, "mod31");
  EXPECT_EQ(info->modules[31].start, 31u * 0x1000);

  b.module(0x100000, 0x100800, "one too many");
  size_t offending = b.last_tag();
  Mb2Diagnostic d = expect_error(b.end().build(), Error::NoSpace);
  EXPECT_EQ(d.offset, offending);
}

TEST(Multiboot2, TwoHundredFiftySixRegionsFitMoreDoNot) {
  std::vector<Mb2Entry> entries;
  for (uint64_t i = 0; i < 256; ++i) entries.push_back({i * 0x2000, 0x1000, 1});  // gaps: no merging
  auto info = std::make_unique<BootInfo>();
  ASSERT_TRUE(parse(MbiBuilder().mmap(entries).end().build(), *info).ok());
  EXPECT_EQ(info->region_count, 256u);
  EXPECT_EQ(info->regions[255].base, 255u * 0x2000);

  entries.push_back({256 * 0x2000, 0x1000, 1});
  expect_error(MbiBuilder().mmap(entries).end().build(), Error::NoSpace);

  std::vector<EfiDesc> descs;
  for (uint64_t i = 0; i < 257; ++i) descs.push_back({7, i * 0x2000, 1});
  expect_error(MbiBuilder().efi_mmap(descs).end().build(), Error::NoSpace);
}

TEST(Multiboot2, MemoryTypeNames) {
  const MemoryType all[] = {MemoryType::Usable,    MemoryType::Reserved,  MemoryType::AcpiReclaimable,
                            MemoryType::AcpiNvs,   MemoryType::BadMemory, MemoryType::BootloaderReclaimable};
  EXPECT_STREQ(memory_type_name(MemoryType::Usable), "Usable");
  EXPECT_STREQ(memory_type_name(MemoryType::AcpiNvs), "ACPI NVS");
  for (size_t i = 0; i < std::size(all); ++i) {
    ASSERT_NE(memory_type_name(all[i]), nullptr);
    EXPECT_STRNE(memory_type_name(all[i]), "Unknown");
    for (size_t j = 0; j < i; ++j) EXPECT_STRNE(memory_type_name(all[i]), memory_type_name(all[j]));
  }
}

// --- Malformed MBIs ---------------------------------------------------------

TEST(Multiboot2Malformed, BufferShorterThanTotalSizeField) {
  expect_error({0x10, 0, 0}, Error::Truncated);
  expect_error({}, Error::Truncated);
}

TEST(Multiboot2Malformed, TotalSizeTooSmall) {
  std::vector<uint8_t> mbi = MbiBuilder().end().build(15);
  expect_error(mbi, Error::Truncated);
  expect_error(MbiBuilder().end().build(8), Error::Truncated);
}

TEST(Multiboot2Malformed, TotalSizeLargerThanBuffer) {
  std::vector<uint8_t> mbi = MbiBuilder().cmdline("x").end().build();
  std::vector<uint8_t> bigger = MbiBuilder().cmdline("x").end().build(uint32_t(mbi.size() + 8));
  Mb2Diagnostic d = expect_error(bigger, Error::Truncated);
  EXPECT_EQ(d.offset, 0u);
  // The caller's view is what counts, not the bytes that happen to follow.
  std::vector<uint8_t> view(mbi.begin(), mbi.end() - 1);
  expect_error(view, Error::Truncated);
}

TEST(Multiboot2Malformed, TagSizeBelow8) {
  for (uint32_t size : {0u, 4u, 7u}) {
    SCOPED_TRACE(size);
    MbiBuilder b;
    b.cmdline("ok").tag(1234, {}, size);
    size_t at = b.last_tag();
    Mb2Diagnostic d = expect_error(b.end().build(), Error::InvalidArgument);
    EXPECT_EQ(d.offset, at);
  }
}

TEST(Multiboot2Malformed, TagRunsPastTotalSize) {
  MbiBuilder b;
  b.cmdline("ok").tag(1234, {1, 2, 3, 4, 5, 6, 7, 8}, 25);  // 16 bytes and the end tag follow: 24 < 25
  size_t at = b.last_tag();
  Mb2Diagnostic d = expect_error(b.end().build(), Error::Truncated);
  EXPECT_EQ(d.offset, at);

  // A tag whose header would straddle total_size.
  MbiBuilder c;
  c.cmdline("ok").end();
  std::vector<uint8_t> mbi = c.build();
  mbi.resize(mbi.size() - 8);  // drop the end tag...
  mbi.insert(mbi.end(), {1, 0, 0, 0});  // ...and leave half a header
  uint32_t total = uint32_t(mbi.size());
  std::memcpy(mbi.data(), &total, 4);
  expect_error(mbi, Error::Truncated);
}

TEST(Multiboot2Malformed, MissingEndTag) {
  MbiBuilder b;
  b.cmdline("no end").mmap({{0, 0x1000, 1}});
  Mb2Diagnostic d = expect_error(b.build(), Error::Truncated);
  EXPECT_EQ(d.offset, b.size());
  // Padding of the last tag runs past total_size.
  MbiBuilder c;
  c.cmdline("abc");  // 12 bytes + 4 padding
  std::vector<uint8_t> mbi = c.build(uint32_t(c.size() - 2));
  expect_error(mbi, Error::Truncated);
}

TEST(Multiboot2Malformed, EndTagWithWrongSize) {
  expect_error(MbiBuilder().tag(kEnd, std::vector<uint8_t>(8, 0)).build(), Error::InvalidArgument);
}

TEST(Multiboot2Malformed, UnterminatedStrings) {
  {
    MbiBuilder b;
    b.cmdline("ok");
    size_t at = b.size();
    b.tag(kLoaderName, {'G', 'R', 'U', 'B'});  // padding bytes (0xcc) follow but are outside the tag
    Mb2Diagnostic d = expect_error(b.end().build(), Error::Truncated);
    EXPECT_EQ(d.offset, at + 8);
  }
  expect_error(MbiBuilder().tag(kCmdline, {'a', 'b', 'c'}).end().build(), Error::Truncated);
  expect_error(MbiBuilder().tag(kCmdline, {}).end().build(), Error::Truncated);
  std::vector<uint8_t> module = {0, 0, 1, 0, 0, 0, 2, 0, 'i', 'n', 'i', 't'};
  expect_error(MbiBuilder().tag(kModule, module).end().build(), Error::Truncated);
  module.resize(8);  // no string at all
  expect_error(MbiBuilder().tag(kModule, module).end().build(), Error::Truncated);
}

TEST(Multiboot2Malformed, UnterminatedCmdlineWhoseNulIsInThePadding) {
  // The NUL lies in the padding after the tag: still unterminated.
  MbiBuilder b;
  std::vector<uint8_t> mbi = b.tag(kCmdline, {'a', 'b', 'c'}).end().build();
  mbi[8 + 8 + 3] = 0;
  expect_error(mbi, Error::Truncated);
}

TEST(Multiboot2Malformed, MmapEntrySize) {
  for (uint32_t entry_size : {0u, 8u, 16u, 20u}) {
    SCOPED_TRACE(entry_size);
    MbiBuilder b;
    std::vector<uint8_t> p;
    MbiBuilder::append32(p, entry_size);
    MbiBuilder::append32(p, 0);
    p.resize(8 + 48, 0);
    b.tag(kMmap, p);
    size_t at = b.last_tag();
    Mb2Diagnostic d = expect_error(b.end().build(), Error::InvalidArgument);
    EXPECT_EQ(d.offset, at + 8);
  }
  // 28 and 36 are big enough but not multiples of 8.
  for (uint32_t entry_size : {28u, 36u})
    expect_error(MbiBuilder().mmap({{0, 0x1000, 1}, {0x2000, 0x1000, 1}}, entry_size).end().build(),
                 Error::InvalidArgument);
}

TEST(Multiboot2Malformed, MmapEntryVersion) {
  expect_error(MbiBuilder().mmap({{0, 0x1000, 1}}, 24, 1).end().build(), Error::Unsupported);
}

TEST(Multiboot2Malformed, MmapEntryPastTag) {
  std::vector<uint8_t> p;
  MbiBuilder::append32(p, 24);
  MbiBuilder::append32(p, 0);
  p.resize(8 + 24 + 16, 0);  // one entry and two thirds
  p[8 + 8] = 0x10;           // first entry: length 0x10
  expect_error(MbiBuilder().tag(kMmap, p).end().build(), Error::Truncated);
  expect_error(MbiBuilder().tag(kMmap, {24, 0, 0, 0}).end().build(), Error::Truncated);  // no entry_version
}

TEST(Multiboot2Malformed, MmapRegionWrapsPast2To64) {
  expect_error(MbiBuilder().mmap({{0xfffffffffffff000, 0x2000, 2}}).end().build(), Error::InvalidArgument);
  // Ending exactly at 2^64 would make end() wrap to 0 as well.
  expect_error(MbiBuilder().mmap({{0xfffffffffffff000, 0x1000, 2}}).end().build(), Error::InvalidArgument);
}

TEST(Multiboot2Malformed, ModuleStartAboveEnd) {
  MbiBuilder b;
  b.module(0x1000, 0x2000, "fine").module(0x3000, 0x2fff, "backwards");
  size_t at = b.last_tag();
  Mb2Diagnostic d = expect_error(b.end().build(), Error::InvalidArgument);
  EXPECT_EQ(d.offset, at + 8);
  expect_error(MbiBuilder().tag(kModule, {0, 0, 0, 0, 0, 0}).end().build(), Error::Truncated);
}

TEST(Multiboot2Malformed, RsdpTagsTooShort) {
  std::vector<uint8_t> v1 = rsdp_v1();
  v1.pop_back();
  expect_error(MbiBuilder().tag(kAcpiOld, v1).end().build(), Error::Truncated);
  std::vector<uint8_t> v2 = rsdp_v2();
  v2.pop_back();
  expect_error(MbiBuilder().tag(kAcpiNew, v2).end().build(), Error::Truncated);
  // A 20-byte RSDP in the new tag is not enough either.
  expect_error(MbiBuilder().tag(kAcpiNew, rsdp_v1()).end().build(), Error::Truncated);
}

TEST(Multiboot2Malformed, FramebufferBogusGeometry) {
  // pitch shorter than a line: 1024 pixels * 4 bytes > 4000.
  expect_error(MbiBuilder().fb_rgb(0xfd000000, 4000, 1024, 768).end().build(), Error::InvalidArgument);
  // 15 bpp: 1025 pixels need 1922 bytes (rounded up).
  expect_error(MbiBuilder().framebuffer(0xe0000000, 1921, 1025, 768, 15, 1, {10, 5, 5, 5, 0, 5}).end().build(),
               Error::InvalidArgument);
  expect_error(MbiBuilder().framebuffer(0xb8000, 158, 80, 25, 16, 2, {}).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().fb_rgb(0xfd000000, 4096, 0, 768).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().fb_rgb(0xfd000000, 4096, 1024, 0).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().fb_rgb(0xfd000000, 0, 0, 768).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().framebuffer(0xfd000000, 4096, 1024, 768, 0, 2, {}).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().framebuffer(0xfd000000, 65536, 1024, 768, 64, 2, {}).end().build(),
               Error::InvalidArgument);
  // Colour field beyond the pixel.
  expect_error(MbiBuilder().framebuffer(0xfd000000, 4096, 1024, 768, 24, 1, {16, 8, 8, 8, 20, 8}).end().build(),
               Error::InvalidArgument);
  // Unknown framebuffer type.
  expect_error(MbiBuilder().framebuffer(0xfd000000, 4096, 1024, 768, 32, 3, {}).end().build(), Error::InvalidArgument);
  // Framebuffer wrapping past 2^64.
  expect_error(MbiBuilder().fb_rgb(0xffffffffffff0000, 4096, 1024, 768).end().build(), Error::InvalidArgument);
}

TEST(Multiboot2Malformed, FramebufferTagTooShort) {
  // RGB without its colour information.
  expect_error(MbiBuilder().framebuffer(0xfd000000, 4096, 1024, 768, 32, 1, {16, 8, 8}).end().build(),
               Error::Truncated);
  // Common part cut short (no reserved bytes).
  std::vector<uint8_t> p(22, 0);
  p[20] = 32;
  expect_error(MbiBuilder().tag(kFramebuffer, p).end().build(), Error::Truncated);
}

TEST(Multiboot2Malformed, RepeatedTags) {
  expect_error(MbiBuilder().cmdline("a").cmdline("b").end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().mmap({{0, 0x1000, 1}}).mmap({{0x2000, 0x1000, 1}}).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().tag(kAcpiNew, rsdp_v2()).tag(kAcpiNew, rsdp_v2()).end().build(), Error::InvalidArgument);
  // Unknown tags may repeat.
  auto info = std::make_unique<BootInfo>();
  EXPECT_TRUE(parse(MbiBuilder().tag(kLoadBaseAddr, {0, 0, 0, 0}).tag(kLoadBaseAddr, {0, 0, 0, 0}).end().build(), *info)
                  .ok());
}

TEST(Multiboot2Malformed, EfiMmap) {
  expect_error(MbiBuilder().efi_mmap({{7, 0, 1}}, 32).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().efi_mmap({{7, 0, 1}}, 0).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().efi_mmap({{7, 0, 0x10000000000000}}).end().build(), Error::InvalidArgument);
  expect_error(MbiBuilder().efi_mmap({{7, 0xfffffffffffff000, 2}}).end().build(), Error::InvalidArgument);
  // A trailing partial descriptor: cut the last 8 bytes out of the tag.
  std::vector<uint8_t> mbi = MbiBuilder().efi_mmap({{7, 0, 1}, {7, 0x10000, 1}}).end().build();
  uint32_t size;
  std::memcpy(&size, mbi.data() + 12, 4);
  ASSERT_EQ(size, 16u + 2 * 48);
  mbi.erase(mbi.begin() + 8 + size - 8, mbi.begin() + 8 + size);
  size -= 8;
  std::memcpy(mbi.data() + 12, &size, 4);
  uint32_t total = uint32_t(mbi.size());
  std::memcpy(mbi.data(), &total, 4);
  expect_error(mbi, Error::Truncated);
  // Checked even when tag 6 makes it unused.
  expect_error(MbiBuilder().mmap({{0, 0x1000, 1}}).efi_mmap({{7, 0, 1}}, 24).end().build(), Error::InvalidArgument);
}

TEST(Multiboot2Malformed, ErrorInTheLastTagLeavesOutUntouched) {
  // Everything before the bad tag is valid and would overwrite `out`.
  MbiBuilder b = full_mbi_builder();
  std::vector<uint8_t> good = b.build();
  good.resize(good.size() - 8);  // drop the end tag
  MbiBuilder tail;
  tail.module(5, 4, "bad").end();
  std::vector<uint8_t> t = tail.build();
  good.insert(good.end(), t.begin() + 8, t.end());
  uint32_t total = uint32_t(good.size());
  std::memcpy(good.data(), &total, 4);
  Mb2Diagnostic d = expect_error(good, Error::InvalidArgument);
  const size_t bad_tag = b.size() - 8;  // where the end tag was
  EXPECT_EQ(d.offset, bad_tag + 8);      // its mod_start field
}

TEST(Multiboot2Malformed, DiagnosticIsOptional) {
  std::unique_ptr<BootInfo> info = sentinel_info();
  ktl::Result<void> r = parse(MbiBuilder().cmdline("x").build(), *info, nullptr);
  EXPECT_EQ(r.error(), Error::Truncated);
}

// --- Robustness ---------------------------------------------------------------

// The invariants every successful parse must give.
void check_consistent(const BootInfo& out) {
  ASSERT_LE(out.region_count, BootInfo::kMaxRegions);
  ASSERT_LE(out.module_count, BootInfo::kMaxModules);
  for (size_t i = 0; i < out.region_count; ++i) {
    ASSERT_NE(out.regions[i].length, 0u);
    ASSERT_GT(out.regions[i].end(), out.regions[i].base);
  }
  for (size_t i = 0; i < out.module_count; ++i) {
    ASSERT_LE(out.modules[i].start, out.modules[i].end);
    ASSERT_LT(strnlen(out.modules[i].name, sizeof(Module::name)), sizeof(Module::name));
  }
  ASSERT_LT(strnlen(out.cmdline, sizeof(out.cmdline)), sizeof(out.cmdline));
  ASSERT_LT(strnlen(out.loader_name, sizeof(out.loader_name)), sizeof(out.loader_name));
  if (out.framebuffer.present) {
    ASSERT_NE(out.framebuffer.width, 0u);
    ASSERT_GE(uint64_t(out.framebuffer.pitch) * 8, uint64_t(out.framebuffer.width) * out.framebuffer.bpp);
  }
}

// Parses `data` from an exactly sized heap copy (so ASan sees any over-read)
// and checks the result is either an error with `out` untouched or a
// consistent BootInfo. Returns whether the parser accepted it.
bool parse_anything(const uint8_t* data, size_t size) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size ? size : 1]);
  if (size) std::memcpy(copy.get(), data, size);
  std::unique_ptr<BootInfo> out = sentinel_info();
  BootInfo before;
  std::memcpy(&before, out.get(), sizeof(BootInfo));
  Mb2Diagnostic diag{nullptr, 0};
  ktl::Result<void> r = parse_multiboot2(ktl::Bytes(copy.get(), size), *out, &diag);
  if (!r.ok()) {
    EXPECT_NE(diag.reason, nullptr);
    EXPECT_EQ(std::memcmp(&before, out.get(), sizeof(BootInfo)), 0) << "out was modified on failure";
    return false;
  }
  check_consistent(*out);
  EXPECT_EQ(diag.reason, nullptr);
  return true;
}

std::vector<uint8_t> fuzz_seed() { return full_mbi_builder().build(); }

// Covers the paths the full MBI does not: the EFI map in use, EGA text.
std::vector<uint8_t> fuzz_seed_efi() {
  return MbiBuilder()
      .efi_mmap({{7, 0, 1}, {9, 0x1000, 2}})
      .framebuffer(0xb8000, 160, 80, 25, 16, 2, {})
      .tag(kAcpiOld, rsdp_v1())
      .end()
      .build();
}

TEST(Multiboot2Fuzz, EveryPrefix) {
  for (const std::vector<uint8_t>& seed : {fuzz_seed(), fuzz_seed_efi()}) {
    for (size_t len = 0; len <= seed.size(); ++len) {
      SCOPED_TRACE(len);
      // As mapped by a caller that trusted total_size but had fewer bytes...
      parse_anything(seed.data(), len);
      // ...and with total_size saying the same, so the tag walk itself is cut.
      std::vector<uint8_t> cut(seed.begin(), seed.begin() + len);
      if (len >= 4) {
        uint32_t total = uint32_t(len);
        std::memcpy(cut.data(), &total, 4);
      }
      parse_anything(cut.data(), cut.size());
      if (HasFailure()) return;
    }
  }
}

// Applies 20000 random corruptions (mostly one byte, some two or three) to
// `seed` and parses each.
void corrupt_and_parse(const std::vector<uint8_t>& seed) {
  std::mt19937 rng(0x6b65656c);  // fixed: failures must be reproducible
  std::uniform_int_distribution<size_t> where(0, seed.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  // Values that tend to make parsers misbehave.
  static constexpr uint8_t kNasty[] = {0x00, 0x01, 0x07, 0x08, 0x7f, 0x80, 0xff};
  constexpr int kRounds = 20000;
  int accepted = 0;
  for (int i = 0; i < kRounds; ++i) {
    std::vector<uint8_t> mbi = seed;
    const int flips = (i % 4 == 0) ? 1 + i % 3 : 1;
    for (int f = 0; f < flips; ++f) {
      const size_t at = where(rng);
      mbi[at] = (i % 2) ? kNasty[size_t(byte(rng)) % sizeof(kNasty)] : uint8_t(byte(rng));
    }
    SCOPED_TRACE(i);
    if (parse_anything(mbi.data(), mbi.size())) ++accepted;
    if (::testing::Test::HasFailure()) return;
  }
  // Corrupting payload bytes (names, addresses) still gives a valid MBI,
  // corrupting sizes does not: both outcomes must occur.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, kRounds);
}

TEST(Multiboot2Fuzz, RandomCorruptions) {
  for (const std::vector<uint8_t>& seed : {fuzz_seed(), fuzz_seed_efi()}) {
    corrupt_and_parse(seed);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace boot
