// loader/elf_test.cc — host tests for the ELF64 executable parser.
//
// Files are built byte by byte with ElfBuilder from the gABI layouts (§3
// Elf64_Ehdr, §6 Elf64_Phdr), written out here independently of the parser.
// Every parse runs over an exactly sized heap copy, so ASan reports any read
// past the end of the file.
#include <loader/elf.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace ktl {
// Lets gtest and failure messages print "Truncated" instead of an integer.
inline std::ostream& operator<<(std::ostream& os, Error e) { return os << error_name(e); }
}  // namespace ktl

namespace loader {
namespace {

using ktl::Error;

// Spec values, written out here rather than taken from the parser.
constexpr uint16_t kEtRel = 1, kEtExec = 2, kEtDyn = 3, kEtCore = 4;
constexpr uint16_t kEmX86_64 = 62, kEm386 = 3;
constexpr uint32_t kPtNull = 0, kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3, kPtNote = 4, kPtPhdr = 6,
                   kPtTls = 7, kPtGnuStack = 0x6474e551, kPtGnuRelro = 0x6474e552;
constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kUserTop = 0x0000'7fff'ffff'f000;

// Elf64_Ehdr field offsets (gABI §3).
constexpr size_t kOffType = 16, kOffMachine = 18, kOffVersion = 20, kOffEntry = 24, kOffPhoff = 32,
                 kOffEhsize = 52, kOffPhentsize = 54, kOffPhnum = 56;

struct Ph {
  uint32_t type = kPtNull;
  uint32_t flags = 0;
  uint64_t offset = 0;
  uint64_t vaddr = 0;
  uint64_t filesz = 0;
  uint64_t memsz = 0;
  uint64_t align = 0;
};

void put(std::vector<uint8_t>& b, size_t off, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) b[off + i] = uint8_t(v >> (8 * i));
}
uint64_t get(const std::vector<uint8_t>& b, size_t off, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= uint64_t(b[off + i]) << (8 * i);
  return v;
}

// An ELF file description; build() lays it out. Bytes not written explicitly
// are 0xab (never NUL, so no string is terminated by accident).
struct ElfBuilder {
  std::array<uint8_t, 16> ident = {0x7f, 'E', 'L', 'F', 2 /*ELFCLASS64*/, 1 /*ELFDATA2LSB*/,
                                   1 /*EV_CURRENT*/};
  uint16_t type = kEtExec;
  uint16_t machine = kEmX86_64;
  uint32_t version = 1;
  uint64_t entry = 0;
  uint64_t phoff = 64;
  uint16_t ehsize = 64;
  uint16_t phentsize = 56;
  int phnum = -1;  // -1: phdrs.size()
  std::vector<Ph> phdrs;
  size_t size = 0;  // file size in bytes; the header and table are cut off if it is short
  std::vector<std::pair<size_t, std::string>> blobs;  // bytes at offsets (a '\0' in the string is written)

  std::vector<uint8_t> build() const {
    size_t need = size;
    if (need < 64) need = 64;
    if (phoff < (1u << 24) && phoff + phdrs.size() * 56 > need) need = phoff + phdrs.size() * 56;
    std::vector<uint8_t> b(need, 0xab);
    for (size_t i = 0; i < 16; ++i) b[i] = ident[i];
    put(b, kOffType, type, 2);
    put(b, kOffMachine, machine, 2);
    put(b, kOffVersion, version, 4);
    put(b, kOffEntry, entry, 8);
    put(b, kOffPhoff, phoff, 8);
    put(b, 40, 0, 8);  // e_shoff: no section headers
    put(b, 48, 0, 4);  // e_flags
    put(b, kOffEhsize, ehsize, 2);
    put(b, kOffPhentsize, phentsize, 2);
    put(b, kOffPhnum, phnum >= 0 ? uint64_t(phnum) : phdrs.size(), 2);
    put(b, 58, 64, 2);  // e_shentsize
    put(b, 60, 0, 2);   // e_shnum
    put(b, 62, 0, 2);   // e_shstrndx
    if (phoff < (1u << 24)) {
      for (size_t i = 0; i < phdrs.size(); ++i) {
        const Ph& p = phdrs[i];
        size_t o = phoff + i * 56;
        put(b, o + 0, p.type, 4);
        put(b, o + 4, p.flags, 4);
        put(b, o + 8, p.offset, 8);
        put(b, o + 16, p.vaddr, 8);
        put(b, o + 24, p.vaddr, 8);  // p_paddr: ignored by loaders
        put(b, o + 32, p.filesz, 8);
        put(b, o + 40, p.memsz, 8);
        put(b, o + 48, p.align, 8);
      }
    }
    for (const auto& [off, s] : blobs) {
      if (off + s.size() > b.size()) b.resize(off + s.size(), 0xab);
      std::memcpy(b.data() + off, s.data(), s.size());
    }
    b.resize(size);
    return b;
  }
};

// The reference executable: ET_EXEC, text r-x at 0x400000 holding the
// headers, data rw- at 0x402010 with .bss (memsz > filesz) whose file bytes
// end exactly at the end of the file, so any truncation must be refused.
ElfBuilder exec_file() {
  ElfBuilder f;
  f.type = kEtExec;
  f.entry = 0x400100;
  f.size = 0x2800;
  f.phdrs = {
      {kPtLoad, kPfR | kPfX, 0, 0x400000, 0x1800, 0x1800, 0x1000},
      {kPtLoad, kPfR | kPfW, 0x2010, 0x402010, 0x7f0, 0x3000, 0x1000},
  };
  return f;
}

const std::string kInterp = "/lib64/ld-linux-x86-64.so.2";

// A PIE with everything: PT_PHDR, PT_INTERP, two PT_LOADs, PT_DYNAMIC,
// PT_TLS, PT_GNU_STACK (not executable), PT_GNU_RELRO and a PT_NOTE.
ElfBuilder pie_file() {
  ElfBuilder f;
  f.type = kEtDyn;
  f.entry = 0x120;
  f.size = 0x2800;
  f.phdrs = {
      {kPtPhdr, kPfR, 64, 64, 9 * 56, 9 * 56, 8},
      {kPtInterp, kPfR, 0x300, 0x300, kInterp.size() + 1, kInterp.size() + 1, 1},
      {kPtLoad, kPfR | kPfX, 0, 0, 0x1800, 0x1800, 0x200000},
      {kPtLoad, kPfR | kPfW, 0x2010, 0x202010, 0x7f0, 0x3000, 0x200000},
      {kPtDynamic, kPfR | kPfW, 0x2400, 0x202400, 0x100, 0x100, 8},
      {kPtTls, kPfR, 0x2100, 0x202100, 0x10, 0x48, 16},
      {kPtGnuStack, kPfR | kPfW, 0, 0, 0, 0, 16},
      {kPtGnuRelro, kPfR, 0x2010, 0x202010, 0x100, 0x100, 1},
      {kPtNote, kPfR, 0x400, 0x400, 0x20, 0x20, 4},
  };
  f.blobs = {{0x300, kInterp + std::string(1, '\0')}};
  return f;
}

// Parses a heap copy of exactly `bytes.size()` bytes.
ktl::Result<ElfImage> parse_bytes(const std::vector<uint8_t>& bytes, const ElfLimits& limits = {},
                                  ElfDiag* diag = nullptr) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size()]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return parse_elf(ktl::Bytes(copy.get(), bytes.size()), limits, diag);
}

ktl::Result<ElfImage> parse(const ElfBuilder& f, const ElfLimits& limits = {}) {
  ElfDiag diag{"untouched"};
  ktl::Result<ElfImage> r = parse_bytes(f.build(), limits, &diag);
  if (r.ok()) {
    EXPECT_EQ(diag.reason, nullptr);
  } else {
    EXPECT_NE(diag.reason, nullptr);
    if (diag.reason) EXPECT_STRNE(diag.reason, "untouched");
  }
  return r;
}

// Error::None on success.
Error parse_error(const ElfBuilder& f, const ElfLimits& limits = {}) { return parse(f, limits).error(); }

// ---------------------------------------------------------------------------
// Valid files.

TEST(Elf, ExecTwoSegments) {
  auto r = parse(exec_file());
  ASSERT_TRUE(r.ok()) << r.error();
  const ElfImage& im = *r;
  EXPECT_EQ(im.entry, 0x400100u);
  EXPECT_FALSE(im.pie);
  ASSERT_EQ(im.segment_count, 2u);
  EXPECT_EQ(im.segments[0].vaddr, 0x400000u);
  EXPECT_EQ(im.segments[0].memsz, 0x1800u);
  EXPECT_EQ(im.segments[0].offset, 0u);
  EXPECT_EQ(im.segments[0].filesz, 0x1800u);
  EXPECT_EQ(im.segments[0].prot, unsigned(kSegRead | kSegExec));
  EXPECT_STREQ(segment_prot_string(im.segments[0].prot), "r-x");
  EXPECT_EQ(im.segments[1].vaddr, 0x402010u);
  EXPECT_EQ(im.segments[1].memsz, 0x3000u);
  EXPECT_EQ(im.segments[1].offset, 0x2010u);
  EXPECT_EQ(im.segments[1].filesz, 0x7f0u);
  EXPECT_EQ(im.segments[1].prot, unsigned(kSegRead | kSegWrite));
  EXPECT_STREQ(segment_prot_string(im.segments[1].prot), "rw-");
  EXPECT_EQ(im.min_vaddr, 0x400000u);
  EXPECT_EQ(im.max_vaddr, 0x406000u);  // 0x402010 + 0x3000 = 0x405010, rounded up
  EXPECT_EQ(im.phdr_vaddr, 0x400040u);
  EXPECT_EQ(im.phnum, 2);
  EXPECT_EQ(im.phentsize, 56);
  EXPECT_FALSE(im.has_interp);
  EXPECT_EQ(im.interp_offset, 0u);
  EXPECT_EQ(im.interp_size, 0u);
  EXPECT_FALSE(im.exec_stack);
  EXPECT_EQ(im.tls_vaddr, 0u);
  EXPECT_EQ(im.tls_filesz, 0u);
  EXPECT_EQ(im.tls_memsz, 0u);
  EXPECT_EQ(im.tls_align, 0u);
}

TEST(Elf, PieWithEverything) {
  ElfBuilder f = pie_file();
  std::vector<uint8_t> bytes = f.build();
  auto r = parse_bytes(bytes);
  ASSERT_TRUE(r.ok()) << r.error();
  const ElfImage& im = *r;
  EXPECT_TRUE(im.pie);
  EXPECT_EQ(im.entry, 0x120u);
  ASSERT_EQ(im.segment_count, 2u);
  EXPECT_EQ(im.segments[0].vaddr, 0u);
  EXPECT_EQ(im.segments[0].prot, unsigned(kSegRead | kSegExec));
  EXPECT_EQ(im.segments[1].vaddr, 0x202010u);
  EXPECT_EQ(im.segments[1].prot, unsigned(kSegRead | kSegWrite));
  EXPECT_EQ(im.min_vaddr, 0u);
  EXPECT_EQ(im.max_vaddr, 0x206000u);
  EXPECT_EQ(im.phdr_vaddr, 0x40u);
  EXPECT_EQ(im.phnum, 9);
  ASSERT_TRUE(im.has_interp);
  EXPECT_EQ(im.interp_offset, 0x300u);
  ASSERT_EQ(im.interp_size, kInterp.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data() + im.interp_offset), im.interp_size),
            kInterp);
  EXPECT_FALSE(im.exec_stack);
  EXPECT_EQ(im.tls_vaddr, 0x202100u);
  EXPECT_EQ(im.tls_filesz, 0x10u);
  EXPECT_EQ(im.tls_memsz, 0x48u);
  EXPECT_EQ(im.tls_align, 16u);
}

TEST(Elf, PieRefusedWhenNotAllowed) {
  ElfLimits no_pie;
  no_pie.allow_pie = false;
  EXPECT_EQ(parse_error(pie_file(), no_pie), Error::Unsupported);
  EXPECT_EQ(parse_error(exec_file(), no_pie), Error::None);  // ET_EXEC unaffected
}

TEST(Elf, GnuStack) {
  ElfBuilder f = exec_file();
  auto r = parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->exec_stack);  // no PT_GNU_STACK: not executable
  f.phdrs.push_back({kPtGnuStack, kPfR | kPfW | kPfX, 0, 0, 0, 0, 16});
  r = parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->exec_stack);
  f.phdrs.back().flags = kPfR | kPfW;
  r = parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->exec_stack);
}

TEST(Elf, ProtAlwaysReadable) {
  // Flags without PF_R are mapped readable (x86 cannot express the rest).
  struct Case {
    uint32_t flags;
    unsigned prot;
    const char* name;
  };
  for (Case c : {Case{kPfW, kSegRead | kSegWrite, "rw-"}, Case{0, kSegRead, "r--"},
                 Case{kPfR, kSegRead, "r--"}, Case{kPfR | kPfW, kSegRead | kSegWrite, "rw-"}}) {
    ElfBuilder f = exec_file();
    f.phdrs[1].flags = c.flags;
    auto r = parse(f);
    ASSERT_TRUE(r.ok()) << c.flags;
    EXPECT_EQ(r->segments[1].prot, c.prot) << c.flags;
    EXPECT_STREQ(segment_prot_string(r->segments[1].prot), c.name);
  }
  ElfBuilder f = exec_file();
  f.phdrs[0].flags = kPfX;  // execute-only text
  auto r = parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments[0].prot, unsigned(kSegRead | kSegExec));
}

TEST(Elf, SegmentProtString) {
  EXPECT_STREQ(segment_prot_string(0), "---");
  EXPECT_STREQ(segment_prot_string(kSegRead), "r--");
  EXPECT_STREQ(segment_prot_string(kSegRead | kSegWrite), "rw-");
  EXPECT_STREQ(segment_prot_string(kSegRead | kSegExec), "r-x");
  EXPECT_STREQ(segment_prot_string(kSegRead | kSegWrite | kSegExec), "rwx");
  EXPECT_STREQ(segment_prot_string(kSegWrite), "-w-");
  EXPECT_STREQ(segment_prot_string(kSegExec), "--x");
  EXPECT_STREQ(segment_prot_string(0x100 | kSegRead), "r--");  // other bits ignored
}

TEST(Elf, WxAllowedByLimits) {
  ElfBuilder f = exec_file();
  f.phdrs[0].flags = kPfR | kPfW | kPfX;
  ElfLimits wx;
  wx.allow_wx = true;
  auto r = parse(f, wx);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->segments[0].prot, unsigned(kSegRead | kSegWrite | kSegExec));
  EXPECT_STREQ(segment_prot_string(r->segments[0].prot), "rwx");
}

TEST(Elf, PhdrVaddr) {
  // Table in the second segment's file bytes.
  ElfBuilder f = exec_file();
  f.phoff = 0x2100;
  auto r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->phdr_vaddr, 0x402100u);

  // Table exactly filling the end of the first segment's file bytes.
  f = exec_file();
  f.phoff = 0x1800 - 2 * 56;
  r = parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->phdr_vaddr, 0x400000u + 0x1800 - 2 * 56);

  // One byte past it: not in memory (a gap between segments).
  f.phoff = 0x1800 - 2 * 56 + 8;
  r = parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->phdr_vaddr, 0u);

  // In the file but not loaded (between the segments' file ranges).
  f.phoff = 0x1900;
  r = parse(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->phdr_vaddr, 0u);

  // Loaded only if the text segment covers it: shrink text to start after it.
  f = exec_file();
  f.phdrs[0].offset = 0x1000;
  f.phdrs[0].vaddr = 0x401000;
  f.phdrs[0].filesz = f.phdrs[0].memsz = 0x800;
  f.entry = 0x401100;
  r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->phdr_vaddr, 0u);
  EXPECT_EQ(r->min_vaddr, 0x401000u);
}

TEST(Elf, MinMaxVaddrUnalignedAndOutOfOrder) {
  ElfBuilder f;
  f.type = kEtExec;
  f.size = 0x5000;
  f.entry = 0x10'0123;
  // Program header order is not address order.
  f.phdrs = {
      {kPtLoad, kPfR | kPfW, 0x4234, 0x20'0234, 0x10, 0x10, 0x1000},
      {kPtLoad, kPfR | kPfX, 0x123, 0x10'0123, 0x100, 0x100, 0x1000},
      {kPtLoad, kPfR, 0x2001, 0x30'1001, 0x1fff, 0x1fff, 0},
  };
  auto r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->segment_count, 3u);
  EXPECT_EQ(r->min_vaddr, 0x10'0000u);
  EXPECT_EQ(r->max_vaddr, 0x30'3000u);  // 0x301001 + 0x1fff = 0x303000, already aligned
  EXPECT_EQ(r->phdr_vaddr, 0u);         // table at 64 is before every segment's file bytes
}

TEST(Elf, EmptyLoadSegmentsSkipped) {
  ElfBuilder f = exec_file();
  // memsz == 0: skipped, whatever else it says.
  f.phdrs.insert(f.phdrs.begin(), Ph{kPtLoad, kPfR | kPfW | kPfX, 0xffff'0000, 3, 0, 0, 7});
  auto r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->segment_count, 2u);
  EXPECT_EQ(r->segments[0].vaddr, 0x400000u);
}

TEST(Elf, UnknownSegmentTypesIgnored) {
  ElfBuilder f = exec_file();
  f.phdrs.push_back({0x12345678, 0xffffffff, ~0ull, ~0ull, ~0ull, 1, 3});
  f.phdrs.push_back({kPtNull, 0, ~0ull, 0, ~0ull, ~0ull, 5});
  f.phdrs.push_back({kPtDynamic, kPfR, ~0ull, 0, 100, 1, 3});
  f.phdrs.push_back({0x6fffffff, 0, 0, 0, 0, 0, 0});  // PT_HIPROC
  EXPECT_EQ(parse_error(f), Error::None);
}

TEST(Elf, BoundaryValuesAccepted) {
  // Lowest ET_EXEC address, file bytes ending exactly at EOF.
  ElfBuilder f = exec_file();
  f.phdrs[0].vaddr = 0x1000;
  f.entry = 0x1000;
  EXPECT_EQ(parse_error(f), Error::None);

  // Highest: ending exactly at user_top (default and custom).
  f = exec_file();
  f.phdrs[1].vaddr = kUserTop - 0x3000 + 0x10;
  f.phdrs[1].memsz = 0x3000 - 0x10;
  auto r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->max_vaddr, kUserTop);
  ElfLimits low;
  low.user_top = 0x406000;
  EXPECT_EQ(parse_error(exec_file(), low), Error::None);

  // A bigger e_ehsize is accepted (only the first 64 bytes are read).
  f = exec_file();
  f.ehsize = 128;
  EXPECT_EQ(parse_error(f), Error::None);

  // e_phnum == 64 (one PT_LOAD, the rest PT_NULL), the table ending exactly
  // at EOF inside the only segment.
  f = exec_file();
  f.phoff = 0x1000;
  f.size = 0x1000 + 64 * 56;
  f.phdrs.resize(1);
  f.phdrs[0].filesz = f.phdrs[0].memsz = f.size;
  f.phdrs.resize(64);
  r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->phnum, 64);
  EXPECT_EQ(r->segment_count, 1u);
  EXPECT_EQ(r->phdr_vaddr, 0x401000u);
  std::vector<uint8_t> b = f.build();
  b.pop_back();
  EXPECT_EQ(parse_bytes(b).error(), Error::Truncated);

  // Entry at the first and last byte of the text segment, and in its zero-filled tail.
  f = exec_file();
  f.entry = 0x400000;
  EXPECT_EQ(parse_error(f), Error::None);
  f.entry = 0x4017ff;
  EXPECT_EQ(parse_error(f), Error::None);
  f.phdrs[0].memsz = 0x1900;
  f.entry = 0x4018ff;
  EXPECT_EQ(parse_error(f), Error::None);
}

TEST(Elf, MaxSegments) {
  // 16 page-disjoint segments fit; a 17th does not.
  ElfBuilder f;
  f.type = kEtExec;
  f.size = 17 * kPage;
  f.entry = 0x400000;
  for (uint64_t i = 0; i < 16; ++i) {
    f.phdrs.push_back(
        {kPtLoad, i == 0 ? kPfR | kPfX : kPfR, i * kPage, 0x400000 + i * kPage, kPage, kPage, kPage});
  }
  auto r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->segment_count, 16u);
  EXPECT_EQ(r->max_vaddr, 0x410000u);
  f.phdrs.push_back({kPtLoad, kPfR, 16 * kPage, 0x400000 + 16 * kPage, kPage, kPage, kPage});
  EXPECT_EQ(parse_error(f), Error::NoSpace);
  ElfLimits big;
  big.max_segments = 1000;  // capped at kMaxSegments
  EXPECT_EQ(parse_error(f, big), Error::NoSpace);

  ElfLimits one;
  one.max_segments = 1;
  EXPECT_EQ(parse_error(exec_file(), one), Error::NoSpace);
  one.max_segments = 2;
  EXPECT_EQ(parse_error(exec_file(), one), Error::None);
}

// ---------------------------------------------------------------------------
// Refusals, one per rule, each from an otherwise valid file.

TEST(ElfMalformed, ShortFile) {
  std::vector<uint8_t> b = exec_file().build();
  for (size_t n : {0, 1, 4, 16, 63}) {
    ElfDiag diag{};
    EXPECT_EQ(parse_bytes({b.begin(), b.begin() + n}, {}, &diag).error(), Error::Truncated) << n;
    EXPECT_NE(diag.reason, nullptr);
  }
}

TEST(ElfMalformed, BadMagic) {
  for (size_t i = 0; i < 4; ++i) {
    ElfBuilder f = exec_file();
    f.ident[i] ^= 0x20;
    EXPECT_EQ(parse_error(f), Error::BadMagic) << i;
  }
}

TEST(ElfMalformed, IdentAndVersion) {
  ElfBuilder f = exec_file();
  f.ident[4] = 1;  // ELFCLASS32
  EXPECT_EQ(parse_error(f), Error::Unsupported);
  f.ident[4] = 0;
  EXPECT_EQ(parse_error(f), Error::Unsupported);
  f = exec_file();
  f.ident[5] = 2;  // ELFDATA2MSB
  EXPECT_EQ(parse_error(f), Error::Unsupported);
  f = exec_file();
  f.ident[6] = 0;  // EI_VERSION
  EXPECT_EQ(parse_error(f), Error::Unsupported);
  f = exec_file();
  f.version = 2;
  EXPECT_EQ(parse_error(f), Error::Unsupported);
  f.version = 0;
  EXPECT_EQ(parse_error(f), Error::Unsupported);
  // OS ABI and padding bytes are not checked.
  f = exec_file();
  f.ident[7] = 3;  // ELFOSABI_LINUX
  f.ident[15] = 0xff;
  EXPECT_EQ(parse_error(f), Error::None);
}

TEST(ElfMalformed, Machine) {
  ElfBuilder f = exec_file();
  f.machine = kEm386;
  EXPECT_EQ(parse_error(f), Error::Unsupported);
  f.machine = 183;  // EM_AARCH64
  EXPECT_EQ(parse_error(f), Error::Unsupported);
}

TEST(ElfMalformed, Type) {
  for (uint16_t t : {uint16_t(0), kEtRel, kEtCore, uint16_t(0xfe00), uint16_t(0xffff)}) {
    ElfBuilder f = exec_file();
    f.type = t;
    EXPECT_EQ(parse_error(f), Error::Unsupported) << t;
  }
}

TEST(ElfMalformed, Ehsize) {
  ElfBuilder f = exec_file();
  f.ehsize = 63;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.ehsize = 0;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
}

TEST(ElfMalformed, Phentsize) {
  for (uint16_t s : {0, 32, 55, 57, 64}) {
    ElfBuilder f = exec_file();
    f.phentsize = s;
    EXPECT_EQ(parse_error(f), Error::InvalidArgument) << s;
  }
}

TEST(ElfMalformed, Phnum) {
  for (int n : {0, 65, 0xffff}) {
    ElfBuilder f = exec_file();
    f.phnum = n;
    EXPECT_EQ(parse_error(f), Error::InvalidArgument) << n;
  }
}

TEST(ElfMalformed, PhdrTableOutsideFile) {
  ElfBuilder f = exec_file();
  f.phoff = 0x2800 - 2 * 56 + 1;  // one byte short
  EXPECT_EQ(parse_error(f), Error::Truncated);
  f.phoff = 0x2800;
  EXPECT_EQ(parse_error(f), Error::Truncated);
  f.phoff = ~0ull - 8;  // phoff + table wraps
  EXPECT_EQ(parse_error(f), Error::Truncated);
  f.phoff = ~0ull - 2 * 56 + 1;  // phoff + table == 2^64
  EXPECT_EQ(parse_error(f), Error::Truncated);
  f = exec_file();
  f.phnum = 40;  // table now reaches past the file
  f.size = 64 + 39 * 56;
  f.phdrs[1].filesz = 0;
  EXPECT_EQ(parse_error(f), Error::Truncated);
}

TEST(ElfMalformed, LoadFileszAboveMemsz) {
  ElfBuilder f = exec_file();
  f.phdrs[1].memsz = f.phdrs[1].filesz - 1;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // memsz == 0 with file bytes: contradictory, not skipped.
  f = exec_file();
  f.phdrs[1].memsz = 0;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
}

TEST(ElfMalformed, LoadOutsideFile) {
  ElfBuilder f = exec_file();
  f.phdrs[1].filesz += 1;  // one byte past EOF
  EXPECT_EQ(parse_error(f), Error::Truncated);
  f = exec_file();
  f.phdrs[1].offset = ~0ull - 0xfef;  // offset + filesz wraps; still ≡ vaddr mod 4 KiB
  f.phdrs[1].filesz = 0x1000;
  EXPECT_EQ(parse_error(f), Error::Truncated);
  f = exec_file();
  f.phdrs[1].offset = 0x3010;  // starts past EOF
  f.phdrs[1].filesz = 0;
  EXPECT_EQ(parse_error(f), Error::Truncated);
}

TEST(ElfMalformed, LoadAddressWraps) {
  ElfBuilder f = exec_file();
  f.phdrs[1].vaddr = 0xffff'ffff'ffff'f010;
  f.phdrs[1].memsz = 0x1000;
  EXPECT_EQ(parse_error(f), Error::Overflow);
  ElfBuilder p = pie_file();
  p.phdrs[3].vaddr = 0xffff'ffff'ffff'f010;
  p.phdrs[3].memsz = ~0ull;
  EXPECT_EQ(parse_error(p), Error::Overflow);
}

TEST(ElfMalformed, ExecAddressRange) {
  ElfBuilder f = exec_file();
  f.phdrs[0].vaddr = 0;  // page 0
  f.entry = 0x100;
  EXPECT_EQ(parse_error(f), Error::OutOfRange);
  f.phdrs[0].vaddr = 0x800;  // in page 0 but unaligned (offset 0x800 to stay congruent)
  f.phdrs[0].offset = 0x800;
  f.phdrs[0].filesz = f.phdrs[0].memsz = 0x800;
  f.entry = 0x900;
  EXPECT_EQ(parse_error(f), Error::OutOfRange);

  f = exec_file();
  f.phdrs[1].vaddr = kUserTop - 0x3000 + 0x11;  // one byte past user_top
  f.phdrs[1].offset = 0x2011;
  f.phdrs[1].filesz = 0x7ef;
  f.phdrs[1].memsz = 0x3000 - 0x10;
  EXPECT_EQ(parse_error(f), Error::OutOfRange);

  f = exec_file();
  f.phdrs[1].vaddr = 0xffff'8000'0000'0010;  // the kernel half
  EXPECT_EQ(parse_error(f), Error::OutOfRange);

  // Page-rounded end above user_top, even if the last byte is below it.
  f = exec_file();
  ElfLimits low;
  low.user_top = 0x405800;
  EXPECT_EQ(parse_error(f, low), Error::OutOfRange);
  low.user_top = 0x405fff;
  EXPECT_EQ(parse_error(f, low), Error::OutOfRange);
  low.user_top = 0x406000;
  EXPECT_EQ(parse_error(f, low), Error::None);
}

TEST(ElfMalformed, PieAddressRange) {
  ElfBuilder f = pie_file();
  ElfLimits low;
  low.user_top = 0x205000;  // PIE span ends at 0x206000
  EXPECT_EQ(parse_error(f, low), Error::OutOfRange);
  low.user_top = 0x206000;
  EXPECT_EQ(parse_error(f, low), Error::None);
  f.phdrs[3].vaddr = kUserTop + 0x10;
  EXPECT_EQ(parse_error(f), Error::OutOfRange);
}

TEST(ElfMalformed, Alignment) {
  ElfBuilder f = exec_file();
  for (uint64_t a : {3ull, 0x1001ull, 0x3000ull, ~0ull}) {
    f.phdrs[1].align = a;
    EXPECT_EQ(parse_error(f), Error::Misaligned) << a;
  }
  // Large alignment: vaddr must equal offset modulo it, not just modulo a page.
  f.phdrs[1].align = 0x200000;  // 0x402010 % 2 MiB = 0x2010 == 0x2010 % 2 MiB
  EXPECT_EQ(parse_error(f), Error::None);
  f.phdrs[1].vaddr = 0x603010;  // % 2 MiB = 0x3010, offset 0x2010: page-congruent only
  EXPECT_EQ(parse_error(f), Error::Misaligned);
  f.phdrs[1].align = 0x1000;
  EXPECT_EQ(parse_error(f), Error::None);
  // vaddr and offset must agree modulo 4 KiB whatever p_align says.
  for (uint64_t a : {0ull, 1ull, 16ull, 0x1000ull}) {
    f = exec_file();
    f.phdrs[1].align = a;
    f.phdrs[1].vaddr = 0x402018;
    EXPECT_EQ(parse_error(f), Error::Misaligned) << a;
  }
}

TEST(ElfMalformed, OverlappingSegments) {
  // Data starting in the page where text ends.
  ElfBuilder f = exec_file();
  f.phdrs[1].vaddr = 0x401010;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // Byte ranges disjoint but sharing a page.
  f = exec_file();
  f.phdrs[0].filesz = f.phdrs[0].memsz = 0x1000;
  f.phdrs[1].vaddr = 0x401010;
  EXPECT_EQ(parse_error(f), Error::None);  // text ends at 0x401000: adjacent, not shared
  f.phdrs[0].memsz = 0x1001;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // Containment, either order.
  f = exec_file();
  f.phdrs[1].vaddr = 0x3ff010;
  f.phdrs[1].memsz = 0x10000;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  std::swap(f.phdrs[0], f.phdrs[1]);
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // Identical segments.
  f = exec_file();
  f.phdrs[1] = f.phdrs[0];
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
}

TEST(ElfMalformed, WritableAndExecutable) {
  ElfBuilder f = exec_file();
  f.phdrs[0].flags = kPfR | kPfW | kPfX;
  EXPECT_EQ(parse_error(f), Error::AccessDenied);
  f = exec_file();
  f.phdrs[1].flags = kPfW | kPfX;  // without PF_R too
  EXPECT_EQ(parse_error(f), Error::AccessDenied);
}

TEST(ElfMalformed, Entry) {
  ElfBuilder f = exec_file();
  f.entry = 0x402100;  // in data (not executable)
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.entry = 0x401800;  // one past text
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.entry = 0x3fffff;  // one before text
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.entry = 0;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // No executable segment at all.
  f = exec_file();
  f.phdrs[0].flags = kPfR;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // No loadable segment at all.
  f = exec_file();
  f.phdrs = {{kPtNote, kPfR, 0x100, 0x400100, 0x10, 0x10, 4}};
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // PIE entry is unbiased: 0x120 is in text, 0x202100 in data.
  ElfBuilder p = pie_file();
  p.entry = 0x202100;
  EXPECT_EQ(parse_error(p), Error::InvalidArgument);
}

TEST(ElfMalformed, Interp) {
  // Twice.
  ElfBuilder f = pie_file();
  f.phdrs.push_back(f.phdrs[1]);
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // Empty, or longer than 4096 bytes.
  f = pie_file();
  f.phdrs[1].filesz = 0;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.phdrs[1].filesz = 4097;
  f.blobs = {{0x300, std::string(4096, 'a') + std::string(1, '\0')}};
  f.size = 0x3000;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.phdrs[1].filesz = 4096;  // 4095 characters and the NUL: the longest accepted
  f.blobs = {{0x300, std::string(4095, 'a') + std::string(1, '\0')}};
  auto r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->interp_size, 4095u);
  // Past the end of the file, and wrapping.
  f = pie_file();
  f.phdrs[1].offset = 0x2800 - kInterp.size();  // the NUL would be one byte past EOF
  f.blobs = {{0x2800 - kInterp.size(), kInterp}};
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.phdrs[1].offset = ~0ull - 4;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // Not NUL-terminated within p_filesz (a NUL right after does not count).
  f = pie_file();
  f.phdrs[1].filesz = kInterp.size();
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // An empty path.
  f = pie_file();
  f.blobs = {{0x300, std::string(1, '\0')}};
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // A NUL before p_filesz ends: the path stops there.
  f = pie_file();
  f.phdrs[1].filesz = 64;
  r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->interp_size, kInterp.size());
}

TEST(ElfMalformed, Tls) {
  ElfBuilder f = pie_file();
  f.phdrs[5].filesz = 0x49;  // > memsz
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  for (uint64_t a : {0ull, 3ull, 24ull}) {
    f = pie_file();
    f.phdrs[5].align = a;
    EXPECT_EQ(parse_error(f), Error::InvalidArgument) << a;
  }
  f = pie_file();
  f.phdrs[5].offset = 0x2800 - 0xf;  // image one byte past EOF
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f.phdrs[5].offset = ~0ull - 4;
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f = pie_file();
  f.phdrs[5].vaddr = ~0ull - 0x10;  // vaddr + memsz wraps
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  f = pie_file();
  f.phdrs.push_back(f.phdrs[5]);  // twice
  EXPECT_EQ(parse_error(f), Error::InvalidArgument);
  // Only .tbss (no initialized data) and align 1 are fine.
  f = pie_file();
  f.phdrs[5].filesz = 0;
  f.phdrs[5].align = 1;
  auto r = parse(f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->tls_filesz, 0u);
  EXPECT_EQ(r->tls_memsz, 0x48u);
  EXPECT_EQ(r->tls_align, 1u);
}

TEST(ElfMalformed, DiagReason) {
  ElfBuilder f = exec_file();
  f.phdrs[0].flags = kPfR | kPfW | kPfX;
  ElfDiag diag{};
  EXPECT_EQ(parse_bytes(f.build(), {}, &diag).error(), Error::AccessDenied);
  ASSERT_NE(diag.reason, nullptr);
  EXPECT_NE(std::string(diag.reason).find("writable"), std::string::npos) << diag.reason;
  // Cleared on success; a null diag is fine.
  EXPECT_TRUE(parse_bytes(exec_file().build(), {}, &diag).ok());
  EXPECT_EQ(diag.reason, nullptr);
  EXPECT_EQ(parse_bytes(f.build(), {}, nullptr).error(), Error::AccessDenied);
}

// Every proper prefix of the reference executable is refused as Truncated
// (the data segment's file bytes end at EOF), and none is read past its end.
TEST(ElfMalformed, EveryTruncation) {
  std::vector<uint8_t> b = exec_file().build();
  ASSERT_TRUE(parse_bytes(b).ok());
  for (size_t n = 0; n < b.size(); ++n) {
    std::vector<uint8_t> prefix(b.begin(), b.begin() + n);
    ASSERT_EQ(parse_bytes(prefix).error(), Error::Truncated) << n;
  }
  // The PIE: prefixes fail (PT_INTERP/PT_TLS cut off are InvalidArgument).
  b = pie_file().build();
  ASSERT_TRUE(parse_bytes(b).ok());
  for (size_t n = 0; n < b.size(); ++n) {
    std::vector<uint8_t> prefix(b.begin(), b.begin() + n);
    ktl::Result<ElfImage> r = parse_bytes(prefix);
    ASSERT_FALSE(r.ok()) << n;
    ASSERT_TRUE(r.error() == Error::Truncated || r.error() == Error::InvalidArgument)
        << n << " " << r.error();
  }
}

// ---------------------------------------------------------------------------
// Fuzzing.

// Checks what a successful parse promises about `file`.
void check_invariants(const std::vector<uint8_t>& file, const ElfLimits& limits, const ElfImage& im) {
  ASSERT_GE(im.segment_count, 1u);
  ASSERT_LE(im.segment_count, kMaxSegments);
  ASSERT_LE(im.segment_count, limits.max_segments);
  EXPECT_EQ(im.pie, get(file, kOffType, 2) == kEtDyn);
  EXPECT_EQ(im.entry, get(file, kOffEntry, 8));
  EXPECT_EQ(im.phnum, get(file, kOffPhnum, 2));
  EXPECT_EQ(im.phentsize, 56);
  uint64_t lo = ~0ull, hi = 0;
  bool entry_ok = false;
  for (size_t i = 0; i < im.segment_count; ++i) {
    const ElfSegment& s = im.segments[i];
    ASSERT_GT(s.memsz, 0u);
    ASSERT_LE(s.filesz, s.memsz);
    ASSERT_LE(s.offset, file.size());
    ASSERT_LE(s.filesz, file.size() - s.offset);
    ASSERT_EQ(s.vaddr % kPage, s.offset % kPage);
    ASSERT_LE(s.vaddr, limits.user_top);
    ASSERT_LE(s.memsz, limits.user_top - s.vaddr);
    uint64_t start = s.vaddr / kPage * kPage;
    uint64_t end = (s.vaddr + s.memsz + kPage - 1) / kPage * kPage;
    ASSERT_LE(end, limits.user_top);
    if (!im.pie) ASSERT_GE(start, kPage);
    ASSERT_TRUE(s.prot & kSegRead);
    ASSERT_EQ(s.prot & ~unsigned(kSegRead | kSegWrite | kSegExec), 0u);
    if (!limits.allow_wx) ASSERT_FALSE((s.prot & kSegWrite) && (s.prot & kSegExec));
    for (size_t j = 0; j < i; ++j) {
      const ElfSegment& t = im.segments[j];
      uint64_t ts = t.vaddr / kPage * kPage, te = (t.vaddr + t.memsz + kPage - 1) / kPage * kPage;
      ASSERT_TRUE(end <= ts || te <= start) << i << " overlaps " << j;
    }
    if (start < lo) lo = start;
    if (end > hi) hi = end;
    if ((s.prot & kSegExec) && im.entry >= s.vaddr && im.entry < s.vaddr + s.memsz) entry_ok = true;
  }
  EXPECT_TRUE(entry_ok);
  EXPECT_EQ(im.min_vaddr, lo);
  EXPECT_EQ(im.max_vaddr, hi);
  if (im.phdr_vaddr != 0) {
    uint64_t phoff = get(file, kOffPhoff, 8), table = uint64_t(im.phnum) * 56;
    bool found = false;
    for (size_t i = 0; i < im.segment_count; ++i) {
      const ElfSegment& s = im.segments[i];
      if (phoff >= s.offset && phoff + table <= s.offset + s.filesz &&
          im.phdr_vaddr == s.vaddr + (phoff - s.offset))
        found = true;
    }
    EXPECT_TRUE(found);
  }
  if (im.has_interp) {
    ASSERT_GE(im.interp_size, 1u);
    ASSERT_LT(im.interp_offset, file.size());
    ASSERT_LT(im.interp_size, file.size() - im.interp_offset);  // room for the NUL
    for (size_t k = 0; k < im.interp_size; ++k) ASSERT_NE(file[im.interp_offset + k], 0);
    ASSERT_EQ(file[im.interp_offset + im.interp_size], 0);
  }
  if (im.tls_align != 0) {
    ASSERT_EQ(im.tls_align & (im.tls_align - 1), 0u);
    ASSERT_LE(im.tls_filesz, im.tls_memsz);
  } else {
    ASSERT_EQ(im.tls_memsz, 0u);
  }
}

TEST(ElfFuzz, RandomMutations) {
  std::mt19937_64 rng(0x6b65656c);  // fixed seed: "keel"; failures must be reproducible
  const std::vector<uint8_t> bases[] = {exec_file().build(), pie_file().build()};
  const size_t pie_phnum = pie_file().phdrs.size();
  // Header fields worth hitting often: e_type, e_entry, e_phoff, e_phentsize, e_phnum.
  const size_t hot_fields[] = {kOffType,      kOffEntry,     kOffEntry + 1, kOffEntry + 2, kOffPhoff,
                               kOffPhoff + 1, kOffPhoff + 7, kOffPhentsize, kOffPhnum,     kOffPhnum + 1};
  const uint8_t special[] = {0x00, 0x01, 0x02, 0x03, 0x07, 0x0f, 0x10,
                             0x20, 0x38, 0x40, 0x7f, 0x80, 0xfe, 0xff};
  size_t accepted = 0;
  size_t by_error[32] = {};
  for (int iter = 0; iter < 50000; ++iter) {
    const std::vector<uint8_t>& base = bases[iter & 1];
    std::vector<uint8_t> f = base;
    const size_t table_end = 64 + (iter & 1 ? pie_phnum : 2) * 56;
    int mutations = 1 + int(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      size_t pos;
      switch (rng() % 4) {
        case 0:
          pos = hot_fields[rng() % std::size(hot_fields)];
          break;
        case 1:
        case 2:
          pos = 64 + rng() % (table_end - 64);
          break;  // the program headers
        default:
          pos = rng() % f.size();
          break;
      }
      f[pos] = (rng() & 1) ? special[rng() % std::size(special)] : uint8_t(rng());
    }
    ElfLimits limits;
    if (rng() % 8 == 0) limits.allow_wx = true;
    if (rng() % 8 == 0) limits.max_segments = 1 + rng() % 3;
    if (rng() % 8 == 0) limits.user_top = 0x210000 + (rng() % 0x300) * kPage;
    ElfDiag diag{"untouched"};
    ktl::Result<ElfImage> r = parse_bytes(f, limits, &diag);
    if (r.ok()) {
      ++accepted;
      ASSERT_EQ(diag.reason, nullptr);
      check_invariants(f, limits, *r);
      if (testing::Test::HasFatalFailure()) FAIL() << "iteration " << iter;
    } else {
      ASSERT_NE(diag.reason, nullptr) << iter;
      ++by_error[size_t(r.error()) % 32];
    }
  }
  // The mutations must leave enough files valid to exercise the success
  // path, and reach the main refusals.
  EXPECT_GT(accepted, 5000u);
  // (Overflow needs two top bytes hit at once: the directed test covers it.)
  for (Error e : {Error::Truncated, Error::BadMagic, Error::Unsupported, Error::InvalidArgument,
                  Error::OutOfRange, Error::Misaligned, Error::NoSpace, Error::AccessDenied}) {
    EXPECT_GT(by_error[size_t(e)], 0u) << e;
  }
}

// ---------------------------------------------------------------------------
// A real toolchain's output (optional: skipped without a working cc).

TEST(Elf, HostToolchainStaticExecutable) {
  if (access("/usr/bin/cc", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/cc";
  const std::string stem = "/tmp/keel_elf_test_" + std::to_string(getpid());
  const std::string src = stem + ".c", exe = stem + ".elf";
  {
    std::ofstream out(src);
    out << "int counter = 5;\n"
           "char buffer[20000];\n"
           "void _start(void) {\n"
           "  buffer[counter] = 1;\n"
           "  for (;;) __asm__ volatile(\"\" ::: \"memory\");\n"
           "}\n";
  }
  const std::string cmd = "/usr/bin/cc -static -nostdlib -O1 -o " + exe + " " + src + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  std::remove(src.c_str());
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(exe, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::remove(exe.c_str());
  if (rc != 0 || bytes.size() < 64) GTEST_SKIP() << "cc -static -nostdlib failed";

  ElfDiag diag{};
  auto r = parse_bytes(bytes, {}, &diag);
  ASSERT_TRUE(r.ok()) << r.error() << ": " << (diag.reason ? diag.reason : "");
  const ElfImage& im = *r;
  EXPECT_FALSE(im.pie);
  EXPECT_FALSE(im.has_interp);
  EXPECT_FALSE(im.exec_stack);
  EXPECT_EQ(im.entry, get(bytes, kOffEntry, 8));
  check_invariants(bytes, {}, im);
  // Text (r-x) and data with .bss (rw-, memsz > filesz).
  bool text = false, bss = false;
  for (size_t i = 0; i < im.segment_count; ++i) {
    const ElfSegment& s = im.segments[i];
    if (s.prot == unsigned(kSegRead | kSegExec)) text = true;
    if (s.prot == unsigned(kSegRead | kSegWrite) && s.memsz >= s.filesz + 20000) bss = true;
  }
  EXPECT_TRUE(text);
  EXPECT_TRUE(bss);
}

}  // namespace
}  // namespace loader
