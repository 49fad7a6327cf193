// acpi/tables_test.cc — host tests for the ACPI table parser over fake
// physical memory: a QEMU-like table set (RSDP → RSDT/XSDT → MADT, FADT →
// DSDT, HPET, MCFG, SSDT) built byte by byte, then broken one way at a time.
#include <acpi/tables.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace acpi {
namespace {

using ktl::Error;

// Physical memory [base, base + size) backed by a vector; reads outside it are
// OutOfRange, like the kernel's DirectMapReader beyond its limit.
class FakeMemory final : public PhysReader {
 public:
  FakeMemory(uint64_t base, size_t size) : base_(base), bytes_(size, 0) {}

  ktl::Result<ktl::Bytes> read(uint64_t phys, size_t len) override {
    ++reads_;
    if (phys < base_) return Error::OutOfRange;
    uint64_t off = phys - base_;
    if (off > bytes_.size() || bytes_.size() - off < len) return Error::OutOfRange;
    return ktl::Bytes(bytes_.data() + off, len);
  }

  void put(uint64_t phys, const std::vector<uint8_t>& data) {
    ASSERT_GE(phys, base_);
    ASSERT_LE(phys - base_ + data.size(), bytes_.size());
    std::memcpy(bytes_.data() + (phys - base_), data.data(), data.size());
  }
  uint8_t* at(uint64_t phys) { return bytes_.data() + (phys - base_); }
  size_t reads() const { return reads_; }

 private:
  uint64_t base_;
  std::vector<uint8_t> bytes_;
  size_t reads_ = 0;
};

// Little-endian byte builder.
struct Buf {
  std::vector<uint8_t> b;
  Buf& u8(uint64_t v) { b.push_back(uint8_t(v)); return *this; }
  Buf& u16(uint64_t v) { return u8(v).u8(v >> 8); }
  Buf& u32(uint64_t v) { return u16(v).u16(v >> 16); }
  Buf& u64(uint64_t v) { return u32(v).u32(v >> 32); }
  Buf& str(const char* s) { while (*s) u8(uint8_t(*s++)); return *this; }
  Buf& bytes(const std::vector<uint8_t>& v) { b.insert(b.end(), v.begin(), v.end()); return *this; }
  Buf& zeros(size_t n) { b.insert(b.end(), n, 0); return *this; }
  Buf& gas(uint8_t space, uint8_t width, uint64_t addr, uint8_t access = 0) {
    return u8(space).u8(width).u8(0).u8(access).u64(addr);
  }
};

uint8_t sum(const uint8_t* p, size_t n) {
  uint8_t s = 0;
  for (size_t i = 0; i < n; ++i) s = uint8_t(s + p[i]);
  return s;
}

// Sets the SDT checksum byte (offset 9) so that the table sums to 0.
void fix_checksum(std::vector<uint8_t>& t) {
  t[9] = 0;
  t[9] = uint8_t(-sum(t.data(), t.size()));
}

// Builds an SDT: 36-byte header (ACPI 6.4 §5.2.6) + body, length and checksum set.
std::vector<uint8_t> sdt(const char* sig, uint8_t revision, const std::vector<uint8_t>& body) {
  Buf h;
  h.str(sig).u32(uint32_t(36 + body.size())).u8(revision).u8(0).str("BOCHS ").str("BXPC    ").u32(1).str("BXPC").u32(1);
  h.bytes(body);
  fix_checksum(h.b);
  return h.b;
}

// Physical layout of the fake machine.
constexpr uint64_t kBase = 0x7FE0000;
constexpr size_t kMemSize = 0x4000;
constexpr uint64_t kRsdt = kBase + 0x000;
constexpr uint64_t kXsdt = kBase + 0x100;
constexpr uint64_t kMadt = kBase + 0x200;
constexpr uint64_t kFadt = kBase + 0x400;
constexpr uint64_t kHpet = kBase + 0x600;
constexpr uint64_t kMcfg = kBase + 0x700;
constexpr uint64_t kSsdt = kBase + 0x900;
constexpr uint64_t kBigMadt = kBase + 0x2000;  // room for 257 x2APIC entries
constexpr uint64_t kDsdt = kBase + 0x1000;
constexpr uint64_t kOutside = 0x10000000;  // not backed by FakeMemory

// QEMU q35's \_S5: Name (_S5, Package (4) {Zero, Zero, Zero, Zero}).
const std::vector<uint8_t> kQemuS5 = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};
// A typical real-hardware one: Name (_S5, Package (4) {0x05, 0x05}) + padding.
const std::vector<uint8_t> kRealS5 = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};

// DSDT/SSDT body: some unrelated AML around the \_S5 declaration.
std::vector<uint8_t> aml_body(const std::vector<uint8_t>& s5) {
  Buf b;
  // Scope (\_SB) { Name (PCI0, Zero) } — just noise before the package.
  b.u8(0x10).u8(0x0C).u8('\\').str("_SB_").u8(0x08).str("PCI0").u8(0x00).u8(0x00);
  b.u8(0x08).str("_S3_").u8(0x12).u8(0x06).u8(0x04).u8(0x0A).u8(0x01).u8(0x0A).u8(0x01);  // an \_S3 to skip
  b.bytes(s5);
  b.u8(0x14).u8(0x06).str("_PTS").u8(0x01);  // Method (_PTS, 1) {}
  return b.b;
}

std::vector<uint8_t> madt(bool lapic_override) {
  Buf b;
  b.u32(0xFEE00000).u32(1);                                   // LAPIC address, PCAT_COMPAT
  b.u8(0).u8(8).u8(0).u8(0).u32(1);                           // CPU uid 0 apic 0 enabled
  b.u8(0).u8(8).u8(1).u8(1).u32(1);                           // CPU uid 1 apic 1 enabled
  b.u8(0).u8(8).u8(2).u8(2).u32(0);                           // CPU uid 2 apic 2 disabled
  b.u8(0).u8(8).u8(3).u8(3).u32(2);                           // CPU uid 3 apic 3 online-capable
  b.u8(9).u8(16).u16(0).u32(0x100).u32(1).u32(0x100);         // x2APIC 0x100 uid 0x100
  b.u8(1).u8(12).u8(0).u8(0).u32(0xFEC00000).u32(0);          // IOAPIC id 0, GSI 0
  b.u8(2).u8(10).u8(0).u8(0).u32(2).u16(0);                   // ISO IRQ0 → GSI2
  b.u8(2).u8(10).u8(0).u8(9).u32(9).u16(0xD);                 // ISO IRQ9 level, active high
  b.u8(4).u8(6).u8(0xFF).u16(0).u8(1);                        // LAPIC NMI all, LINT1
  b.u8(0xA).u8(12).u16(5).u32(0x100).u8(0).zeros(3);          // x2APIC NMI uid 0x100, LINT0
  b.u8(0x7F).u8(6).zeros(4);                                  // unknown type: skipped
  if (lapic_override) b.u8(5).u8(12).u16(0).u64(0xFEE10000);  // LAPIC address override
  return sdt("APIC", 3, b.b);
}

enum class FadtForm {
  kLongGas,    // ACPI 6 (276 bytes), X_ fields as I/O GAS, X_DSDT set
  kLongPorts,  // 276 bytes but X_PM1 and X_DSDT zero: 32-bit fields used
  kShort,      // ACPI 1.0, 116 bytes, revision 1
};

std::vector<uint8_t> fadt(FadtForm form, uint64_t dsdt = kDsdt) {
  bool x = form == FadtForm::kLongGas;
  Buf b;
  b.u32(0);                                        // 36 FIRMWARE_CTRL
  b.u32(x ? 0xDEAD000 : uint32_t(dsdt));           // 40 DSDT (bogus when X_DSDT is used)
  b.u8(0).u8(0).u16(9);                            // 44 reserved, PM profile, 46 SCI_INT
  b.u32(0xB2).u8(0xF1).u8(0xF0).u8(0).u8(0);       // 48 SMI_CMD, ACPI_ENABLE/DISABLE, S4BIOS, PSTATE
  b.u32(0x600).u32(0).u32(0x604).u32(0x608);       // 56 PM1a_EVT, PM1b_EVT, 64 PM1a_CNT, 68 PM1b_CNT
  b.u32(0).u32(0x608).u32(0x620).u32(0);           // 72 PM2_CNT, PM_TMR, GPE0, GPE1
  b.u8(4).u8(2).u8(0).u8(4).u8(16).u8(0).u8(0).u8(0);  // 88 PM1_EVT_LEN, 89 PM1_CNT_LEN, ...
  b.u16(0xFFF).u16(0xFFF).u16(0).u16(0).u8(0).u8(0);    // 96 latencies, flush, duty
  b.u8(0x0D).u8(0).u8(0x32);                       // 106 DAY_ALRM, MON_ALRM, 108 CENTURY
  b.u16(form == FadtForm::kShort ? 0 : 0x0002).u8(0);  // 109 IAPC_BOOT_ARCH (8042), 111 reserved
  b.u32(0x84A5);                                   // 112 FLAGS (incl. RESET_REG_SUP)
  if (form != FadtForm::kShort) {
    b.gas(1, 8, 0xCF9, 1).u8(0x0F);                // 116 RESET_REG, 128 RESET_VALUE
    b.u16(0).u8(1);                                // 129 ARM_BOOT_ARCH, 131 minor version
    b.u64(0).u64(x ? dsdt : 0);                    // 132 X_FIRMWARE_CTRL, 140 X_DSDT
    b.gas(1, 32, x ? 0x600 : 0);                   // 148 X_PM1a_EVT
    b.gas(0, 0, 0);                                // 160 X_PM1b_EVT
    b.gas(1, 16, x ? 0x604 : 0, 2);                // 172 X_PM1a_CNT
    b.gas(0, 0, 0);                                // 184 X_PM1b_CNT
    b.zeros(276 - 196);                            // X_PM2 ... hypervisor id
  }
  return sdt("FACP", form == FadtForm::kShort ? 1 : 6, b.b);
}

std::vector<uint8_t> hpet() {
  Buf b;
  b.u32(0x8086A201).gas(0, 64, 0xFED00000).u8(0).u16(0x80).u8(0);
  return sdt("HPET", 1, b.b);
}

std::vector<uint8_t> mcfg(size_t segments = 1) {
  Buf b;
  b.zeros(8);
  for (size_t i = 0; i < segments; ++i) b.u64(0xB0000000 + i * 0x10000000).u16(uint16_t(i)).u8(0).u8(255).u32(0);
  return sdt("MCFG", 1, b.b);
}

std::vector<uint8_t> root_table(bool xsdt, const std::vector<uint64_t>& entries) {
  Buf b;
  for (uint64_t e : entries) xsdt ? b.u64(e) : b.u32(e);
  return sdt(xsdt ? "XSDT" : "RSDT", 1, b.b);
}

std::vector<uint8_t> rsdp_v1(uint64_t rsdt = kRsdt) {
  Buf b;
  b.str("RSD PTR ").u8(0).str("BOCHS ").u8(0).u32(rsdt);
  b.b[8] = uint8_t(-sum(b.b.data(), 20));
  return b.b;
}

std::vector<uint8_t> rsdp_v2(uint64_t xsdt = kXsdt, uint64_t rsdt = kRsdt) {
  Buf b;
  b.str("RSD PTR ").u8(0).str("BOCHS ").u8(2).u32(rsdt).u32(36).u64(xsdt).u8(0).zeros(3);
  b.b[8] = uint8_t(-sum(b.b.data(), 20));
  b.b[32] = uint8_t(-sum(b.b.data(), 36));
  return b.b;
}

const std::vector<uint64_t> kAllTables = {kFadt, kMadt, kHpet, kMcfg, kSsdt};

// A complete QEMU-like machine. Tests tweak `mem` after construction.
struct Machine {
  FakeMemory mem{kBase, kMemSize};
  explicit Machine(FadtForm form = FadtForm::kLongGas, std::vector<uint8_t> dsdt_s5 = kRealS5) {
    mem.put(kRsdt, root_table(false, kAllTables));
    mem.put(kXsdt, root_table(true, kAllTables));
    mem.put(kMadt, madt(false));
    mem.put(kFadt, fadt(form));
    mem.put(kHpet, hpet());
    mem.put(kMcfg, mcfg());
    mem.put(kSsdt, sdt("SSDT", 1, {0x10, 0x05, '\\', '_', 'P', 'R', '_'}));
    mem.put(kDsdt, sdt("DSDT", 1, aml_body(dsdt_s5)));
  }
  // Re-fixes the checksum of the table at `phys` after a tweak.
  void refix(uint64_t phys) {
    uint32_t len;
    std::memcpy(&len, mem.at(phys) + 4, 4);
    mem.at(phys)[9] = 0;
    mem.at(phys)[9] = uint8_t(-sum(mem.at(phys), len));
  }
};

ktl::Bytes bytes(const std::vector<uint8_t>& v) { return ktl::Bytes(v.data(), v.size()); }

// parse_acpi, expecting failure with `e`; checks the diag names `table`.
void expect_fail(Machine& m, const std::vector<uint8_t>& rsdp, Error e, const char* table) {
  AcpiDiag diag{};
  ktl::Result<AcpiInfo> r = parse_acpi(bytes(rsdp), m.mem, &diag);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), e) << ktl::error_name(r.error()) << " / " << (diag.reason ? diag.reason : "");
  ASSERT_NE(diag.reason, nullptr);
  EXPECT_STREQ(diag.table, table) << diag.reason;
}

// Checks everything the default Machine describes.
void expect_full_machine(const AcpiInfo& info) {
  EXPECT_STREQ(info.oem_id, "BOCHS ");
  ASSERT_TRUE(info.madt.present);
  EXPECT_EQ(info.madt.lapic_address, 0xFEE00000u);
  EXPECT_EQ(info.madt.flags, kMadtPcatCompat);
  ASSERT_EQ(info.madt.cpu_count, 5u);
  EXPECT_EQ(info.madt.ioapic_count, 1u);
  EXPECT_EQ(info.madt.iso_count, 2u);
  EXPECT_EQ(info.madt.nmi_count, 2u);
  ASSERT_TRUE(info.fadt.present);
  EXPECT_EQ(info.fadt.dsdt, kDsdt);
  EXPECT_TRUE(info.hpet.present);
  EXPECT_EQ(info.hpet.address, 0xFED00000u);
  EXPECT_EQ(info.mcfg.count, 1u);
  EXPECT_EQ(info.ssdt.count, 1u);
  EXPECT_EQ(info.ssdt.address[0], kSsdt);
  EXPECT_GT(info.dsdt_length, 36u);
  EXPECT_TRUE(info.s5.valid);
  EXPECT_EQ(info.s5.slp_typa, 5);
  EXPECT_EQ(info.s5.slp_typb, 5);
}

// --- RSDP and root tables ---------------------------------------------------

TEST(AcpiTables, RsdpV1UsesRsdt) {
  Machine m;
  m.mem.put(kXsdt, std::vector<uint8_t>(64, 0xEE));  // must not be touched
  AcpiDiag diag{};
  auto r = parse_acpi(bytes(rsdp_v1()), m.mem, &diag);
  ASSERT_TRUE(r.ok()) << ktl::error_name(r.error()) << " " << diag.reason;
  EXPECT_EQ(r->revision, 0);
  EXPECT_FALSE(r->uses_xsdt);
  EXPECT_EQ(r->root_table, kRsdt);
  expect_full_machine(*r);
  EXPECT_EQ(diag.reason, nullptr) << diag.reason;
}

TEST(AcpiTables, RsdpV2UsesXsdt) {
  Machine m;
  m.mem.at(kRsdt)[20] ^= 0xFF;  // a broken RSDT proves the XSDT was used
  AcpiDiag diag{};
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
  ASSERT_TRUE(r.ok()) << ktl::error_name(r.error()) << " " << diag.reason;
  EXPECT_EQ(r->revision, 2);
  EXPECT_TRUE(r->uses_xsdt);
  EXPECT_EQ(r->root_table, kXsdt);
  expect_full_machine(*r);
  EXPECT_EQ(diag.reason, nullptr) << diag.reason;
}

TEST(AcpiTables, RsdpV2WithoutXsdtUsesRsdt) {
  Machine m;
  auto r = parse_acpi(bytes(rsdp_v2(0)), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->uses_xsdt);
  expect_full_machine(*r);
}

TEST(AcpiTables, RsdpV2CutTo20BytesFallsBackToRsdt) {
  Machine m;
  std::vector<uint8_t> rsdp = rsdp_v2();
  rsdp.resize(20);  // GRUB's old-RSDP tag on a 2.0 machine
  AcpiDiag diag{};
  auto r = parse_acpi(bytes(rsdp), m.mem, &diag);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->uses_xsdt);
  expect_full_machine(*r);
  ASSERT_NE(diag.reason, nullptr);
  EXPECT_STREQ(diag.table, "RSDP");
}

TEST(AcpiTables, BadRsdp) {
  Machine m;
  std::vector<uint8_t> v1 = rsdp_v1();

  std::vector<uint8_t> bad_sig = v1;
  bad_sig[0] = 'X';
  bad_sig[8] = uint8_t(bad_sig[8] - ('X' - 'R'));  // checksum still fine
  expect_fail(m, bad_sig, Error::BadMagic, "RSDP");

  std::vector<uint8_t> bad_sum = v1;
  bad_sum[8] ^= 1;
  expect_fail(m, bad_sum, Error::BadChecksum, "RSDP");

  expect_fail(m, std::vector<uint8_t>(v1.begin(), v1.begin() + 19), Error::Truncated, "RSDP");
  expect_fail(m, {}, Error::Truncated, "RSDP");

  std::vector<uint8_t> bad_ext = rsdp_v2();
  bad_ext[32] ^= 1;  // the first 20 bytes are still fine
  expect_fail(m, bad_ext, Error::BadChecksum, "RSDP");

  std::vector<uint8_t> bad_ext_xsdt = rsdp_v2();
  bad_ext_xsdt[24] ^= 1;  // XSDT address corrupted, extended checksum not fixed
  expect_fail(m, bad_ext_xsdt, Error::BadChecksum, "RSDP");

  // length field larger than the copy, and smaller than the v2 layout
  for (uint32_t len : {40u, 20u}) {
    std::vector<uint8_t> v = rsdp_v2();
    std::memcpy(&v[20], &len, 4);
    v[32] = 0;
    v[32] = uint8_t(-sum(v.data(), 36));
    expect_fail(m, v, len == 40 ? Error::Truncated : Error::InvalidArgument, "RSDP");
  }

  expect_fail(m, rsdp_v1(0), Error::NotFound, "RSDP");
}

TEST(AcpiTables, RootTableProblemsAreFatal) {
  {
    Machine m;
    m.mem.at(kXsdt)[40] ^= 1;  // an entry byte: checksum now wrong
    expect_fail(m, rsdp_v2(), Error::BadChecksum, "XSDT");
  }
  {
    Machine m;
    m.mem.at(kRsdt)[3] = 'X';
    m.refix(kRsdt);
    expect_fail(m, rsdp_v1(), Error::BadMagic, "RSDT");
  }
  {
    Machine m;
    expect_fail(m, rsdp_v2(kOutside), Error::OutOfRange, "XSDT");
    expect_fail(m, rsdp_v1(kBase - 16), Error::OutOfRange, "RSDT");
  }
}

TEST(AcpiTables, TableLengthChecks) {
  struct Case {
    uint32_t length;
    Error error;
  };
  // < 36, > 16 MiB, and past the end of memory (fits the 16 MiB cap).
  for (Case c : {Case{20, Error::InvalidArgument}, Case{0, Error::InvalidArgument},
                 Case{16 * 1024 * 1024 + 1, Error::InvalidArgument}, Case{0x100000, Error::OutOfRange}}) {
    Machine m;
    std::memcpy(m.mem.at(kXsdt) + 4, &c.length, 4);
    expect_fail(m, rsdp_v2(), c.error, "XSDT");

    Machine m2;
    std::memcpy(m2.mem.at(kMadt) + 4, &c.length, 4);
    expect_fail(m2, rsdp_v2(), c.error, "APIC");
  }
}

TEST(AcpiTables, TableAtTheVeryEndOfMemory) {
  // A table that ends exactly at the end of memory is fine; one byte more is not.
  Machine m;
  std::vector<uint8_t> h = hpet();
  uint64_t at = kBase + kMemSize - h.size();
  m.mem.put(at, h);
  m.mem.put(kXsdt, root_table(true, {kFadt, kMadt, at}));
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->hpet.present);

  Machine m2;
  h[4]++;  // length 57: the header is readable, the body runs 1 byte past memory
  m2.mem.put(at, h);
  m2.mem.put(kXsdt, root_table(true, {kFadt, kMadt, at}));
  AcpiDiag diag{};
  auto r2 = parse_acpi(bytes(rsdp_v2()), m2.mem, &diag);
  ASSERT_TRUE(r2.ok());  // HPET is optional: skipped
  EXPECT_FALSE(r2->hpet.present);
  EXPECT_STREQ(diag.table, "HPET");
}

TEST(AcpiTables, EntryPointerOutsideMemoryIsFatal) {
  Machine m;
  m.mem.put(kXsdt, root_table(true, {kFadt, kOutside, kMadt}));
  expect_fail(m, rsdp_v2(), Error::OutOfRange, "XSDT");
  // Straddling the end: header start inside, end outside.
  m.mem.put(kXsdt, root_table(true, {kFadt, kBase + kMemSize - 10, kMadt}));
  expect_fail(m, rsdp_v2(), Error::OutOfRange, "XSDT");
}

TEST(AcpiTables, NullEntriesAndUnknownTablesAreSkipped) {
  Machine m;
  uint64_t waet = kBase + 0x3000;
  m.mem.put(waet, sdt("WAET", 1, {0, 0, 0, 0}));
  m.mem.at(waet)[9] ^= 0x55;  // unknown tables are not checksummed
  m.mem.put(kXsdt, root_table(true, {0, kFadt, waet, kMadt, kHpet, kMcfg, kSsdt}));
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  expect_full_machine(*r);
}

TEST(AcpiTables, DuplicateTablesFirstWins) {
  Machine m;
  uint64_t madt2 = kBase + 0x3000;
  std::vector<uint8_t> second = madt(true);
  m.mem.put(madt2, second);
  m.mem.put(kXsdt, root_table(true, {kFadt, kMadt, madt2, kHpet, kMcfg, kSsdt}));
  AcpiDiag diag{};
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->madt.lapic_address, 0xFEE00000u);  // not the second table's override
  EXPECT_EQ(r->madt.cpu_count, 5u);
  EXPECT_STREQ(diag.table, "APIC");
}

TEST(AcpiTables, NullDiagIsFine) {
  Machine m;
  m.mem.at(kHpet)[40] ^= 1;
  EXPECT_TRUE(parse_acpi(bytes(rsdp_v2()), m.mem, nullptr).ok());
  EXPECT_EQ(parse_acpi(bytes(rsdp_v2(kOutside)), m.mem, nullptr).error(), Error::OutOfRange);
}

TEST(AcpiTables, ParseIntoClearsStaleContents) {
  Machine m;
  static AcpiInfo info;
  std::memset(&info, 0xAB, sizeof info);  // stale contents must be cleared
  ASSERT_TRUE(parse_acpi_into(info, bytes(rsdp_v2()), m.mem).ok());
  expect_full_machine(info);
  EXPECT_EQ(info.madt.cpus[5].apic_id, 0u);  // past the end: zeroed
}

// --- MADT -------------------------------------------------------------------

TEST(AcpiMadt, QemuLikeEntries) {
  Machine m;
  m.mem.put(kMadt, madt(true));
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  const Madt& madt = r->madt;
  EXPECT_EQ(madt.lapic_address, 0xFEE10000u);  // type 5 override
  EXPECT_EQ(madt.flags & kMadtPcatCompat, kMadtPcatCompat);

  ASSERT_EQ(madt.cpu_count, 5u);
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(madt.cpus[i].acpi_uid, i);
    EXPECT_EQ(madt.cpus[i].apic_id, i);
    EXPECT_FALSE(madt.cpus[i].x2apic);
  }
  EXPECT_TRUE(madt.cpus[0].enabled);
  EXPECT_TRUE(madt.cpus[1].enabled);
  EXPECT_FALSE(madt.cpus[2].enabled);
  EXPECT_FALSE(madt.cpus[2].online_capable);
  EXPECT_FALSE(madt.cpus[3].enabled);
  EXPECT_TRUE(madt.cpus[3].online_capable);
  EXPECT_TRUE(madt.cpus[4].x2apic);
  EXPECT_TRUE(madt.cpus[4].enabled);
  EXPECT_EQ(madt.cpus[4].apic_id, 0x100u);
  EXPECT_EQ(madt.cpus[4].acpi_uid, 0x100u);

  ASSERT_EQ(madt.ioapic_count, 1u);
  EXPECT_EQ(madt.ioapics[0].id, 0);
  EXPECT_EQ(madt.ioapics[0].address, 0xFEC00000u);
  EXPECT_EQ(madt.ioapics[0].gsi_base, 0u);

  ASSERT_EQ(madt.iso_count, 2u);
  EXPECT_EQ(madt.isos[0].bus, 0);
  EXPECT_EQ(madt.isos[0].source, 0);
  EXPECT_EQ(madt.isos[0].gsi, 2u);
  EXPECT_EQ(madt.isos[0].flags, 0);
  EXPECT_EQ(madt.isos[1].source, 9);
  EXPECT_EQ(madt.isos[1].gsi, 9u);
  EXPECT_EQ(madt.isos[1].flags, 0xD);

  ASSERT_EQ(madt.nmi_count, 2u);
  EXPECT_EQ(madt.nmis[0].acpi_uid, kAllProcessors);  // 0xFF normalised
  EXPECT_EQ(madt.nmis[0].lint, 1);
  EXPECT_EQ(madt.nmis[1].acpi_uid, 0x100u);
  EXPECT_EQ(madt.nmis[1].flags, 5);
  EXPECT_EQ(madt.nmis[1].lint, 0);
}

TEST(AcpiMadt, NoMadtIsNotAnError) {
  Machine m;
  m.mem.put(kXsdt, root_table(true, {kFadt, kHpet}));
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->madt.present);
  EXPECT_TRUE(r->fadt.present);
}

// Replaces the MADT with one of header fields + `entries` (checksum fixed),
// placed where even a large one overlaps no other table.
void put_madt(Machine& m, const std::vector<uint8_t>& entries) {
  Buf b;
  b.u32(0xFEE00000).u32(0).bytes(entries);
  m.mem.put(kBigMadt, sdt("APIC", 3, b.b));
  m.mem.put(kXsdt, root_table(true, {kFadt, kBigMadt, kHpet, kMcfg, kSsdt}));
}

TEST(AcpiMadt, MalformedEntriesAreFatal) {
  const std::vector<std::vector<uint8_t>> bad = {
      {0, 0, 0, 0, 1, 0, 0, 0},  // length 0: must not loop forever
      {0, 1, 0, 0, 1, 0, 0, 0},  // length 1
      {0x7F, 0, 0, 0},           // unknown type, length 0: still fatal
      {0x7F, 1},                 // unknown type, length 1
      {0, 8, 0, 0, 1, 0, 0},     // runs past the end by one byte
      {1, 200, 0, 0},            // far past the end
      {0},                       // one byte left: no room for {type, length}
      {0, 4, 0, 0},              // type 0 needs 8 bytes
      {9, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // type 9 needs 16
      {5, 8, 0, 0, 0, 0, 0, 0},  // override needs 12
  };
  for (const auto& e : bad) {
    Machine m;
    put_madt(m, e);
    SCOPED_TRACE(testing::PrintToString(e));
    expect_fail(m, rsdp_v2(), Error::Truncated, "APIC");
  }
}

TEST(AcpiMadt, LongerEntriesAndEmptyMadtAreFine) {
  Machine m;
  put_madt(m, {0, 10, 7, 8, 1, 0, 0, 0, 0xAA, 0xBB});  // future revision: 2 extra bytes
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->madt.cpu_count, 1u);
  EXPECT_EQ(r->madt.cpus[0].acpi_uid, 7u);
  EXPECT_EQ(r->madt.cpus[0].apic_id, 8u);

  put_madt(m, {});
  r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->madt.present);
  EXPECT_EQ(r->madt.cpu_count, 0u);

  // Shorter than the MADT's fixed part.
  m.mem.put(kBigMadt, sdt("APIC", 3, {0, 0, 0xE0, 0xFE}));
  expect_fail(m, rsdp_v2(), Error::Truncated, "APIC");
}

TEST(AcpiMadt, CapacityLimits) {
  struct Kind {
    std::vector<uint8_t> entry;
    size_t capacity;
  };
  const Kind kinds[] = {
      {{0, 8, 0, 0, 1, 0, 0, 0}, kMaxCpus},
      {{9, 16, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, kMaxCpus},
      {{1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0}, kMaxIoApics},
      {{2, 10, 0, 0, 2, 0, 0, 0, 0, 0}, kMaxIsos},
      {{4, 6, 0xFF, 0, 0, 1}, kMaxNmis},
      {{0xA, 12, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0}, kMaxNmis},
  };
  for (const Kind& k : kinds) {
    SCOPED_TRACE(int(k.entry[0]));
    Buf full, over;
    for (size_t i = 0; i < k.capacity; ++i) full.bytes(k.entry);
    over.bytes(full.b).bytes(k.entry);

    Machine m;
    put_madt(m, full.b);
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
    ASSERT_TRUE(r.ok()) << ktl::error_name(r.error());

    Machine m2;
    put_madt(m2, over.b);
    expect_fail(m2, rsdp_v2(), Error::NoSpace, "APIC");
  }
}

TEST(AcpiMadt, BadChecksumIsFatal) {
  Machine m;
  m.mem.at(kMadt)[50] ^= 4;
  expect_fail(m, rsdp_v2(), Error::BadChecksum, "APIC");
}

// Random mutations of a valid MADT, checksum re-fixed so the entry parser
// sees them: must never crash or read out of bounds (ASan), only fail cleanly.
TEST(AcpiMadt, MutationFuzz) {
  uint64_t state = 0x9E3779B97F4A7C15;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::vector<uint8_t> base = madt(true);
  int ok = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> t = base;
    int flips = 1 + int(next() % 4);
    for (int i = 0; i < flips; ++i) t[44 + next() % (t.size() - 44)] = uint8_t(next());
    if (next() % 4 == 0) t.resize(44 + next() % (t.size() - 44));  // cut
    uint32_t len = uint32_t(t.size());
    std::memcpy(&t[4], &len, 4);
    fix_checksum(t);

    Machine m;
    m.mem.put(kMadt, std::vector<uint8_t>(0x200, 0));
    m.mem.put(kMadt, t);
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
    if (r.ok()) {
      ++ok;
      EXPECT_LE(r->madt.cpu_count, kMaxCpus);
    } else {
      EXPECT_TRUE(r.error() == Error::Truncated || r.error() == Error::NoSpace) << ktl::error_name(r.error());
    }
  }
  EXPECT_GT(ok, 0);
}

// --- FADT and DSDT ----------------------------------------------------------

TEST(AcpiFadt, LongFormPrefersGasFields) {
  Machine m(FadtForm::kLongGas);
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  const Fadt& f = r->fadt;
  ASSERT_TRUE(f.present);
  EXPECT_EQ(f.revision, 6);
  EXPECT_EQ(f.dsdt, kDsdt);  // X_DSDT, not the bogus 32-bit DSDT
  EXPECT_EQ(f.smi_cmd, 0xB2u);
  EXPECT_EQ(f.acpi_enable, 0xF1);
  EXPECT_EQ(f.acpi_disable, 0xF0);
  EXPECT_EQ(f.sci_int, 9);
  EXPECT_EQ(f.pm1a_cnt.space, kGasSystemIo);
  EXPECT_EQ(f.pm1a_cnt.bit_width, 16);
  EXPECT_EQ(f.pm1a_cnt.address, 0x604u);
  EXPECT_EQ(f.pm1a_cnt.access_size, 2);
  // X_PM1b_CNT is zero, so the 32-bit PM1b_CNT_BLK (0x608) is used.
  EXPECT_EQ(f.pm1b_cnt.space, kGasSystemIo);
  EXPECT_EQ(f.pm1b_cnt.address, 0x608u);
  EXPECT_EQ(f.pm1_cnt_len, 2);
  EXPECT_EQ(f.century, 0x32);
  EXPECT_EQ(f.iapc_boot_arch, kBootArch8042);
  EXPECT_EQ(f.flags, 0x84A5u);
  EXPECT_TRUE(f.flags & kFadtResetRegSup);
  EXPECT_EQ(f.reset_reg.space, kGasSystemIo);
  EXPECT_EQ(f.reset_reg.address, 0xCF9u);
  EXPECT_EQ(f.reset_value, 0x0F);
  EXPECT_TRUE(r->s5.valid);
}

TEST(AcpiFadt, LongFormWithZeroGasUsesPorts) {
  Machine m(FadtForm::kLongPorts);
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  const Fadt& f = r->fadt;
  EXPECT_EQ(f.dsdt, kDsdt);  // X_DSDT is 0: 32-bit DSDT
  EXPECT_EQ(f.pm1a_cnt.space, kGasSystemIo);
  EXPECT_EQ(f.pm1a_cnt.bit_width, 16);  // PM1_CNT_LEN 2 bytes
  EXPECT_EQ(f.pm1a_cnt.address, 0x604u);
  EXPECT_EQ(f.reset_reg.address, 0xCF9u);
  EXPECT_TRUE(r->s5.valid);
}

TEST(AcpiFadt, Acpi10ShortForm) {
  Machine m(FadtForm::kShort, kQemuS5);
  auto r = parse_acpi(bytes(rsdp_v1()), m.mem);
  ASSERT_TRUE(r.ok());
  const Fadt& f = r->fadt;
  ASSERT_TRUE(f.present);
  EXPECT_EQ(f.revision, 1);
  EXPECT_EQ(f.dsdt, kDsdt);
  EXPECT_EQ(f.pm1a_cnt.space, kGasSystemIo);
  EXPECT_EQ(f.pm1a_cnt.address, 0x604u);
  EXPECT_EQ(f.pm1a_cnt.bit_width, 16);
  EXPECT_EQ(f.pm1b_cnt.address, 0x608u);
  EXPECT_EQ(f.flags, 0x84A5u);
  EXPECT_EQ(f.reset_reg.address, 0u);  // not in a 116-byte table
  EXPECT_EQ(f.reset_value, 0);
  EXPECT_EQ(f.iapc_boot_arch, 0);
  // QEMU's \_S5 is all ZeroOps.
  EXPECT_TRUE(r->s5.valid);
  EXPECT_EQ(r->s5.slp_typa, 0);
  EXPECT_EQ(r->s5.slp_typb, 0);
}

TEST(AcpiFadt, Revision2StopsBeforeXFields) {
  // 132 bytes, revision 2: reset register present, X_ fields absent.
  Machine m;
  std::vector<uint8_t> f = fadt(FadtForm::kLongPorts);
  f.resize(132);
  uint32_t len = 132;
  std::memcpy(&f[4], &len, 4);
  f[8] = 2;
  fix_checksum(f);
  m.mem.put(kFadt, f);
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fadt.dsdt, kDsdt);
  EXPECT_EQ(r->fadt.reset_reg.address, 0xCF9u);
  EXPECT_EQ(r->fadt.pm1a_cnt.address, 0x604u);
  EXPECT_TRUE(r->s5.valid);

  // Same length, revision 1: the reset register is not trusted.
  f[8] = 1;
  fix_checksum(f);
  m.mem.put(kFadt, f);
  r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fadt.reset_reg.address, 0u);
}

TEST(AcpiFadt, ProblemsSkipTheFadtOnly) {
  {  // truncated: shorter than the ACPI 1.0 layout
    Machine m;
    std::vector<uint8_t> f = fadt(FadtForm::kShort);
    f.resize(100);
    uint32_t len = 100;
    std::memcpy(&f[4], &len, 4);
    fix_checksum(f);
    m.mem.put(kFadt, f);
    AcpiDiag diag{};
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->fadt.present);
    EXPECT_FALSE(r->s5.valid);
    EXPECT_EQ(r->dsdt_length, 0u);
    EXPECT_TRUE(r->madt.present);
    EXPECT_STREQ(diag.table, "FACP");
  }
  {  // bad checksum
    Machine m;
    m.mem.at(kFadt)[60] ^= 1;
    AcpiDiag diag{};
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->fadt.present);
    EXPECT_EQ(r->fadt.pm1a_cnt.address, 0u);
    EXPECT_STREQ(diag.table, "FACP");
    EXPECT_EQ(r->madt.cpu_count, 5u);
  }
  {  // absent
    Machine m;
    m.mem.put(kXsdt, root_table(true, {kMadt, kHpet}));
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->fadt.present);
    EXPECT_FALSE(r->s5.valid);
  }
}

TEST(AcpiDsdt, BadDsdtFallsBackToSsdt) {
  Machine m;
  m.mem.at(kDsdt)[40] ^= 1;  // DSDT checksum broken
  AcpiDiag diag{};
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->fadt.present);
  EXPECT_EQ(r->dsdt_length, 0u);
  EXPECT_FALSE(r->s5.valid);  // the SSDT has no \_S5
  EXPECT_STREQ(diag.table, "DSDT");

  // Now give the SSDT one (with a root prefix).
  m.mem.put(kSsdt, sdt("SSDT", 2, {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A, 0x07, 0x01}));
  r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->s5.valid);
  EXPECT_EQ(r->s5.slp_typa, 7);
  EXPECT_EQ(r->s5.slp_typb, 1);
}

TEST(AcpiDsdt, DsdtWinsOverSsdt) {
  Machine m;
  m.mem.put(kSsdt, sdt("SSDT", 2, {0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x01, 0x0A, 0x03}));
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->s5.slp_typa, 5);
}

TEST(AcpiDsdt, DsdtProblems) {
  {  // wrong signature
    Machine m;
    m.mem.at(kDsdt)[0] = 'X';
    m.refix(kDsdt);
    AcpiDiag diag{};
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->s5.valid);
    EXPECT_STREQ(diag.table, "DSDT");
  }
  {  // outside memory
    Machine m;
    m.mem.put(kFadt, fadt(FadtForm::kLongGas, kOutside));
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->fadt.dsdt, kOutside);
    EXPECT_FALSE(r->s5.valid);
  }
  {  // no \_S5 anywhere
    Machine m(FadtForm::kLongGas, {});
    AcpiDiag diag{};
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->s5.valid);
    ASSERT_NE(diag.reason, nullptr);
  }
  {  // malformed \_S5 (package runs past the table): reported, not fatal
    Machine m(FadtForm::kLongGas, {0x08, '_', 'S', '5', '_', 0x12, 0x3F, 0x04, 0x0A, 0x05});
    AcpiDiag diag{};
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->s5.valid);
  }
}

// --- HPET, MCFG, SSDT -------------------------------------------------------

TEST(AcpiHpet, Parsed) {
  Machine m;
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->hpet.present);
  EXPECT_EQ(r->hpet.address, 0xFED00000u);
  EXPECT_EQ(r->hpet.hpet_number, 0);
  EXPECT_EQ(r->hpet.min_tick, 0x80);
}

TEST(AcpiHpet, ProblemsSkipTheHpetOnly) {
  auto check = [](Machine& m) {
    AcpiDiag diag{};
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->hpet.present);
    EXPECT_EQ(r->hpet.address, 0u);
    EXPECT_STREQ(diag.table, "HPET");
    EXPECT_TRUE(r->fadt.present);
    EXPECT_EQ(r->mcfg.count, 1u);
  };
  {
    Machine m;
    m.mem.at(kHpet)[44] ^= 1;  // checksum
    check(m);
  }
  {
    Machine m;
    m.mem.at(kHpet)[40] = kGasSystemIo;
    m.refix(kHpet);
    check(m);
  }
  {
    Machine m;
    m.mem.put(kHpet, sdt("HPET", 1, {1, 2, 3, 4}));  // too short
    check(m);
  }
  {
    Machine m;
    uint32_t len = 20;
    std::memcpy(m.mem.at(kHpet) + 4, &len, 4);  // length < 36
    check(m);
  }
}

TEST(AcpiMcfg, Segments) {
  Machine m;
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->mcfg.present);
  ASSERT_EQ(r->mcfg.count, 1u);
  EXPECT_EQ(r->mcfg.segments[0].base, 0xB0000000u);
  EXPECT_EQ(r->mcfg.segments[0].segment, 0);
  EXPECT_EQ(r->mcfg.segments[0].bus_start, 0);
  EXPECT_EQ(r->mcfg.segments[0].bus_end, 255);

  m.mem.put(kMcfg, mcfg(kMaxMcfgSegments));
  r = parse_acpi(bytes(rsdp_v2()), m.mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->mcfg.count, kMaxMcfgSegments);
  EXPECT_EQ(r->mcfg.segments[15].segment, 15);
}

TEST(AcpiMcfg, ProblemsSkipTheMcfgOnly) {
  for (int which = 0; which < 3; ++which) {
    Machine m;
    if (which == 0) m.mem.put(kMcfg, mcfg(kMaxMcfgSegments + 1));
    if (which == 1) m.mem.at(kMcfg)[50] ^= 1;
    if (which == 2) {
      m.mem.at(kMcfg)[44 + 10] = 9;  // bus_start 9 > bus_end 8
      m.mem.at(kMcfg)[44 + 11] = 8;
      m.refix(kMcfg);
    }
    AcpiDiag diag{};
    auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->mcfg.present);
    EXPECT_EQ(r->mcfg.count, 0u);
    EXPECT_STREQ(diag.table, "MCFG");
    EXPECT_TRUE(r->hpet.present);
  }
}

TEST(AcpiSsdt, CapacityAndBadOnes) {
  Machine m;
  std::vector<uint64_t> entries = {kFadt, kMadt};
  for (size_t i = 0; i < kMaxSsdts + 2; ++i) {
    uint64_t at = kBase + 0x2000 + i * 0x40;
    m.mem.put(at, sdt("SSDT", 1, {0xA3, 0xA3}));
    entries.push_back(at);
  }
  m.mem.at(entries[2])[37] ^= 1;  // the first SSDT is corrupt: skipped
  m.mem.put(kXsdt, root_table(true, entries));
  AcpiDiag diag{};
  auto r = parse_acpi(bytes(rsdp_v2()), m.mem, &diag);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->ssdt.count, kMaxSsdts);
  EXPECT_EQ(r->ssdt.address[0], entries[3]);
  EXPECT_EQ(r->ssdt.address[kMaxSsdts - 1], entries[2 + kMaxSsdts]);
}

}  // namespace
}  // namespace acpi
