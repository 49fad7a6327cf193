// Host tests of keel/acpi.h: the RSDP search, table checks, RSDT/XSDT
// entries and the MCFG parser, with malformed tables of every kind.
#include <keel/acpi.h>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace acpi = keel::acpi;
using ktl::Error;

namespace {

using Buf = std::vector<uint8_t>;

void put(Buf& b, size_t at, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

void fix_checksum(Buf& b, size_t from, size_t len, size_t field) {
  b[field] = 0;
  uint8_t s = 0;
  for (size_t i = from; i < from + len; ++i) s = uint8_t(s + b[i]);
  b[field] = uint8_t(-s);
}

Buf table(const char* sig, size_t length) {
  Buf b(length);
  std::memcpy(b.data(), sig, 4);
  put(b, 4, length, 4);
  b[8] = 1;
  std::memcpy(b.data() + 10, "KEELOS", 6);
  fix_checksum(b, 0, length, 9);
  return b;
}

struct Window {
  uint64_t base;
  uint16_t segment;
  uint8_t start, end;
};

Buf mcfg(std::vector<Window> ws) {
  Buf b = table("MCFG", 44 + 16 * ws.size());
  for (size_t i = 0; i < ws.size(); ++i) {
    const size_t at = 44 + 16 * i;
    put(b, at, ws[i].base, 8);
    put(b, at + 8, ws[i].segment, 2);
    b[at + 10] = ws[i].start;
    b[at + 11] = ws[i].end;
  }
  fix_checksum(b, 0, b.size(), 9);
  return b;
}

// A BIOS area with an RSDP at `at`.
Buf bios_area(size_t at, uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
  Buf b(acpi::kBiosAreaSize, 0xff);
  std::memcpy(b.data() + at, "RSD PTR ", 8);
  b[at + 15] = revision;
  put(b, at + 16, rsdt, 4);
  if (revision >= 2) {
    put(b, at + 20, 36, 4);
    put(b, at + 24, xsdt, 8);
    for (size_t i = 33; i < 36; ++i) b[at + i] = 0;
  }
  fix_checksum(b, at, 20, at + 8);
  if (revision >= 2) fix_checksum(b, at, 36, at + 32);
  return b;
}

}  // namespace

TEST(AcpiRsdp, FindsVersion1And2) {
  Buf a = bios_area(0x15a30, 0, 0x1ffe2000, 0);
  auto r = acpi::find_rsdp(a);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->offset, 0x15a30u);
  EXPECT_EQ(r->revision, 0);
  EXPECT_EQ(r->rsdt, 0x1ffe2000u);
  EXPECT_EQ(r->xsdt, 0u);
  Buf b = bios_area(0x100, 2, 0x7fe000, 0x7fe100);
  auto s = acpi::find_rsdp(b);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->revision, 2);
  EXPECT_EQ(s->xsdt, 0x7fe100u);
}

TEST(AcpiRsdp, BadCandidatesAreSkipped) {
  // A signature with a bad checksum before the good one.
  Buf a = bios_area(0x200, 0, 0x1000, 0);
  std::memcpy(a.data() + 0x100, "RSD PTR ", 8);
  auto r = acpi::find_rsdp(a);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->offset, 0x200u);
  // Unaligned: not found.
  Buf u(4096, 0);
  Buf good = bios_area(0, 0, 0x1000, 0);
  std::memcpy(u.data() + 8, good.data(), 20);
  EXPECT_EQ(acpi::find_rsdp(u).error(), Error::NotFound);
  // Version 2 with a broken extended checksum.
  Buf v = bios_area(0x40, 2, 0x1000, 0x2000);
  v[0x40 + 24] ^= 1;
  EXPECT_EQ(acpi::find_rsdp(v).error(), Error::NotFound);
  // Version 2 cut off at the end of the area.
  Buf w = bios_area(acpi::kBiosAreaSize - 32, 0, 0x1000, 0);
  w[acpi::kBiosAreaSize - 32 + 15] = 2;
  fix_checksum(w, acpi::kBiosAreaSize - 32, 20, acpi::kBiosAreaSize - 32 + 8);
  EXPECT_EQ(acpi::find_rsdp(w).error(), Error::NotFound);
  EXPECT_EQ(acpi::find_rsdp(acpi::Bytes{}).error(), Error::NotFound);
}

TEST(AcpiTable, ChecksAndCuts) {
  Buf t = table("APIC", 60);
  Buf longer = t;
  longer.resize(100, 0xaa);
  auto r = acpi::check_table(longer, "APIC");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 60u);
  EXPECT_TRUE(acpi::check_table(t, nullptr).ok());
  EXPECT_EQ(acpi::check_table(t, "MCFG").error(), Error::BadMagic);
  Buf bad = t;
  bad[40] ^= 0x10;
  EXPECT_EQ(acpi::check_table(bad, "APIC").error(), Error::BadChecksum);
  EXPECT_EQ(acpi::check_table(acpi::Bytes(t).first(59), "APIC").error(), Error::Truncated);
  EXPECT_EQ(acpi::check_table(acpi::Bytes(t).first(20), "APIC").error(), Error::Truncated);
  Buf tiny = t;
  put(tiny, 4, 35, 4);  // shorter than a header
  EXPECT_EQ(acpi::check_table(tiny, "APIC").error(), Error::Truncated);
  EXPECT_EQ(*acpi::table_length(t), 60u);
}

TEST(AcpiTable, RsdtAndXsdtEntries) {
  Buf r = table("RSDT", 36 + 12);
  put(r, 36, 0x1000, 4);
  put(r, 40, 0x2000, 4);
  put(r, 44, 0x3000, 4);
  std::vector<uint64_t> seen;
  auto visit = [](void* ctx, uint64_t p) { static_cast<std::vector<uint64_t>*>(ctx)->push_back(p); };
  auto n = acpi::for_each_entry(r, false, visit, &seen);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{0x1000, 0x2000, 0x3000}));
  Buf x = table("XSDT", 36 + 16);
  put(x, 36, 0x123456789000ull, 8);
  put(x, 44, 0x2000, 8);
  seen.clear();
  ASSERT_TRUE(acpi::for_each_entry(x, true, visit, &seen).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{0x123456789000ull, 0x2000}));
  // Entries that do not fill the table.
  Buf odd = table("XSDT", 36 + 12);
  EXPECT_EQ(acpi::for_each_entry(odd, true, visit, &seen).error(), Error::InvalidArgument);
}

TEST(AcpiMcfgParse, Q35) {
  Buf t = mcfg({{0xb0000000, 0, 0, 255}});
  auto m = acpi::parse_mcfg(t);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->count, 1u);
  EXPECT_EQ(m->windows[0].base, 0xb0000000u);
  EXPECT_EQ(m->windows[0].segment, 0);
  EXPECT_EQ(m->windows[0].bus_start, 0);
  EXPECT_EQ(m->windows[0].bus_end, 255);
  auto two = acpi::parse_mcfg(mcfg({{0xe0000000, 0, 0, 63}, {0x4000000000ull, 1, 16, 31}}));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->count, 2u);
  EXPECT_EQ(two->windows[1].segment, 1);
  EXPECT_EQ(two->windows[1].bus_start, 16);
  auto none = acpi::parse_mcfg(mcfg({}));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->count, 0u);
}

TEST(AcpiMcfgParse, MalformedTablesAreRefused) {
  EXPECT_EQ(acpi::parse_mcfg(mcfg({{0xb0000000, 0, 10, 9}})).error(), Error::InvalidArgument);  // reversed
  EXPECT_EQ(acpi::parse_mcfg(mcfg({{0xb0080000, 0, 0, 255}})).error(), Error::InvalidArgument);  // unaligned
  EXPECT_EQ(acpi::parse_mcfg(mcfg({{0, 0, 0, 255}})).error(), Error::InvalidArgument);
  EXPECT_EQ(acpi::parse_mcfg(mcfg({{0xffffffffff00000ull, 0, 0, 255}})).error(), Error::Overflow);
  std::vector<Window> many(17, Window{0xb0000000, 0, 0, 0});
  EXPECT_EQ(acpi::parse_mcfg(mcfg(many)).error(), Error::NoSpace);
  // A partial entry.
  Buf partial = table("MCFG", 44 + 8);
  EXPECT_EQ(acpi::parse_mcfg(partial).error(), Error::InvalidArgument);
  // Shorter than its fixed part.
  Buf short_table = table("MCFG", 40);
  EXPECT_EQ(acpi::parse_mcfg(short_table).error(), Error::Truncated);
  // Damaged: checksum, signature, a length past the bytes.
  Buf t = mcfg({{0xb0000000, 0, 0, 255}});
  Buf c = t;
  c[50] ^= 1;
  EXPECT_EQ(acpi::parse_mcfg(c).error(), Error::BadChecksum);
  Buf s = t;
  s[0] = 'X';
  fix_checksum(s, 0, s.size(), 9);
  EXPECT_EQ(acpi::parse_mcfg(s).error(), Error::BadMagic);
  EXPECT_EQ(acpi::parse_mcfg(acpi::Bytes(t).first(t.size() - 1)).error(), Error::Truncated);
}

TEST(AcpiMcfgParse, EveryPrefixAndByteFlipIsHandled) {
  Buf t = mcfg({{0xb0000000, 0, 0, 255}, {0xc0000000, 1, 0, 15}});
  for (size_t n = 0; n < t.size(); ++n) EXPECT_FALSE(acpi::parse_mcfg(acpi::Bytes(t).first(n)).ok()) << n;
  for (size_t i = 0; i < t.size(); ++i) {
    Buf f = t;
    f[i] ^= 0x5a;
    EXPECT_FALSE(acpi::parse_mcfg(f).ok()) << i;  // the checksum catches every single flip
    fix_checksum(f, 0, f.size(), 9);
    (void)acpi::parse_mcfg(f);  // must not crash or read out of bounds, whatever it decides
  }
}

namespace {

// An MADT with the given entries (raw bytes after the 44-byte fixed part).
Buf madt(const Buf& entries) {
  Buf b = table("APIC", 44 + entries.size());
  put(b, 36, 0xfee00000, 4);
  if (!entries.empty()) std::memcpy(b.data() + 44, entries.data(), entries.size());
  fix_checksum(b, 0, b.size(), 9);
  return b;
}

Buf iso(uint8_t irq, uint32_t gsi, uint16_t flags, uint8_t bus = 0) {
  Buf e(10);
  e[0] = 2;
  e[1] = 10;
  e[2] = bus;
  e[3] = irq;
  put(e, 4, gsi, 4);
  put(e, 8, flags, 2);
  return e;
}

Buf cat(std::vector<Buf> parts) {
  Buf b;
  for (auto& p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}

// QEMU's i440FX MADT: a local APIC, an IOAPIC, IRQ 0 -> GSI 2, and the PCI
// IRQs 5, 9, 10, 11 level-triggered, active high.
Buf qemu_pc_madt() {
  Buf lapic = {0, 8, 0, 0, 1, 0, 0, 0};
  Buf ioapic = {1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0};
  Buf nmi = {4, 6, 0xff, 0, 0, 1};
  return madt(cat({lapic, ioapic, iso(0, 2, 0), iso(5, 5, 0xd), iso(9, 9, 0xd), iso(10, 10, 0xd), iso(11, 11, 0xd), nmi}));
}

}  // namespace

TEST(AcpiMadtParse, QemuPcOverrides) {
  auto m = acpi::parse_madt(qemu_pc_madt());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->override_count, 5u);
  uint16_t flags = 0xffff;
  EXPECT_EQ(m->isa_gsi(0, &flags), 2u);
  EXPECT_EQ(flags, 0);
  EXPECT_EQ(m->isa_gsi(11, &flags), 11u);
  EXPECT_EQ(flags, 0xd);
  EXPECT_EQ(flags & acpi::kMpsTriggerMask, acpi::kMpsLevel);
  EXPECT_EQ(m->isa_gsi(4, &flags), 4u);  // no override: the same number
  EXPECT_EQ(flags, 0);
  auto moved = acpi::parse_madt(madt(iso(10, 21, 0xf)));
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->isa_gsi(10, nullptr), 21u);
  auto empty = acpi::parse_madt(madt({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->override_count, 0u);
}

TEST(AcpiMadtParse, MalformedTablesAreRefused) {
  EXPECT_EQ(acpi::parse_madt(madt({2, 1})).error(), Error::InvalidArgument);           // length below 2
  EXPECT_EQ(acpi::parse_madt(madt({2, 0})).error(), Error::InvalidArgument);
  EXPECT_EQ(acpi::parse_madt(madt({1, 12, 0})).error(), Error::Truncated);             // past the end
  EXPECT_EQ(acpi::parse_madt(madt({1})).error(), Error::Truncated);                    // half a header
  Buf bad_len = iso(9, 9, 0xd);
  bad_len[1] = 12;
  bad_len.resize(12);
  EXPECT_EQ(acpi::parse_madt(madt(bad_len)).error(), Error::InvalidArgument);
  EXPECT_EQ(acpi::parse_madt(madt(iso(9, 9, 0xd, 1))).error(), Error::InvalidArgument);  // not ISA
  EXPECT_EQ(acpi::parse_madt(madt(iso(16, 16, 0xd))).error(), Error::InvalidArgument);   // no such ISA IRQ
  EXPECT_EQ(acpi::parse_madt(madt(cat({iso(9, 9, 0xd), iso(9, 20, 0xd)}))).error(), Error::InvalidArgument);
  std::vector<Buf> many;
  for (uint8_t i = 0; i < 16; ++i) many.push_back(iso(i, i, 0));
  EXPECT_TRUE(acpi::parse_madt(madt(cat(many))).ok());
  EXPECT_EQ(acpi::parse_madt(table("APIC", 40)).error(), Error::Truncated);
  Buf t = qemu_pc_madt();
  for (size_t n = 0; n < t.size(); ++n) EXPECT_FALSE(acpi::parse_madt(acpi::Bytes(t).first(n)).ok()) << n;
  for (size_t i = 0; i < t.size(); ++i) {
    Buf f = t;
    f[i] ^= 0x5a;
    EXPECT_FALSE(acpi::parse_madt(f).ok()) << i;
    fix_checksum(f, 0, f.size(), 9);
    (void)acpi::parse_madt(f);  // must not crash or read out of bounds
  }
}
