// Host tests of keel/pci.h over a fake configuration space that behaves like
// hardware: BARs keep only their writable bits, absent functions read as
// all ones, the status register is write-1-to-clear.
#include <keel/pci.h>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <tuple>
#include <vector>

namespace pci = keel::pci;
using pci::Address;
using pci::BarKind;

namespace {

struct FakeFunction {
  uint8_t bytes[4096] = {};
  // Per BAR dword: which bits software can write (the rest are hardwired).
  uint32_t bar_writable[6] = {};
  std::vector<uint16_t> command_writes;

  void put8(uint16_t off, uint8_t v) { bytes[off] = v; }
  void put16(uint16_t off, uint16_t v) { std::memcpy(bytes + off, &v, 2); }
  void put32(uint16_t off, uint32_t v) { std::memcpy(bytes + off, &v, 4); }
  uint32_t get32(uint16_t off) const {
    uint32_t v;
    std::memcpy(&v, bytes + off, 4);
    return v;
  }
};

class FakeConfig final : public pci::ConfigSpace {
 public:
  std::map<std::tuple<int, int, int>, FakeFunction> functions;
  int reads = 0;

  FakeFunction& add(Address a, uint16_t vendor, uint16_t device, uint8_t cls, uint8_t sub, uint8_t header = 0) {
    FakeFunction& f = functions[key(a)];
    f.put16(pci::kRegVendor, vendor);
    f.put16(pci::kRegDevice, device);
    f.put8(0x0b, cls);
    f.put8(0x0a, sub);
    f.put8(pci::kRegHeaderType, header);
    f.put16(pci::kRegCommand, pci::kCommandIo | pci::kCommandMemory);
    return f;
  }

  // A BAR that decodes `size` bytes (power of two) at `base`, with `low`
  // the hardwired low bits (type, prefetch, I/O flag).
  static void bar32(FakeFunction& f, unsigned i, uint32_t base, uint32_t size, uint32_t low) {
    f.bar_writable[i] = ~(size - 1) & (low & 1 ? ~3u : ~0xfu);
    f.put32(uint16_t(pci::kRegBar0 + 4 * i), base | low);
  }

  uint32_t read32(Address a, uint16_t offset) override {
    ++reads;
    EXPECT_EQ(offset % 4, 0);
    EXPECT_LT(offset, 4096);
    auto it = functions.find(key(a));
    if (it == functions.end()) return 0xffffffff;
    return it->second.get32(offset);
  }

  void write32(Address a, uint16_t offset, uint32_t value) override {
    EXPECT_EQ(offset % 4, 0);
    auto it = functions.find(key(a));
    if (it == functions.end()) return;
    FakeFunction& f = it->second;
    if (offset >= pci::kRegBar0 && offset < pci::kRegBar0 + 24) {
      const unsigned i = (offset - pci::kRegBar0) / 4;
      const uint32_t w = f.bar_writable[i];
      f.put32(offset, (f.get32(offset) & ~w) | (value & w));
      return;
    }
    if (offset == pci::kRegCommand) {
      // Status (the upper half) is write-1-to-clear.
      const uint32_t status = f.get32(offset) >> 16;
      const uint32_t cleared = status & ~(value >> 16);
      f.command_writes.push_back(uint16_t(value));
      f.put32(offset, (cleared << 16) | (value & 0xffff));
      return;
    }
    f.put32(offset, value);
  }

 private:
  static std::tuple<int, int, int> key(Address a) { return {a.bus, a.device, a.function}; }
};

constexpr Address kA{0, 3, 0};

}  // namespace

TEST(PciBar, DecodesIoMem32AndMem64) {
  // I/O, 32 ports at 0xc040.
  pci::Bar io = pci::decode_bar(0xc041, 0xffffffe1);
  EXPECT_EQ(io.kind, BarKind::Io);
  EXPECT_EQ(io.base, 0xc040u);
  EXPECT_EQ(io.size, 32u);
  // I/O BAR implementing only 16 address bits: the upper half reads 0.
  pci::Bar io16 = pci::decode_bar(0xc001, 0x0000ff01);
  EXPECT_EQ(io16.kind, BarKind::Io);
  EXPECT_EQ(io16.size, 256u);
  // 32-bit memory, 16 MiB prefetchable at 0xfd000000.
  pci::Bar m32 = pci::decode_bar(0xfd000008, 0xff000008);
  EXPECT_EQ(m32.kind, BarKind::Mem32);
  EXPECT_TRUE(m32.prefetchable);
  EXPECT_EQ(m32.base, 0xfd000000u);
  EXPECT_EQ(m32.size, 16u << 20);
  // 64-bit memory above 4 GiB, 8 GiB large.
  pci::Bar m64 = pci::decode_bar(0x0000000c, 0x0000000c, 0x8, 0xfffffffe);
  EXPECT_EQ(m64.kind, BarKind::Mem64);
  EXPECT_EQ(m64.base, 0x800000000ull);
  EXPECT_EQ(m64.size, 8ull << 30);
  // 64-bit memory of 16 KiB below 4 GiB.
  pci::Bar small = pci::decode_bar(0xfebf0004, 0xffffc004, 0, 0xffffffff);
  EXPECT_EQ(small.kind, BarKind::Mem64);
  EXPECT_EQ(small.base, 0xfebf0000u);
  EXPECT_EQ(small.size, 16u * 1024);
}

TEST(PciBar, UnimplementedAndMalformed) {
  EXPECT_EQ(pci::decode_bar(0, 0).kind, BarKind::None);
  EXPECT_EQ(pci::decode_bar(0x8, 0x8).kind, BarKind::None);  // only hardwired bits
  EXPECT_EQ(pci::decode_bar(0x1, 0x1).kind, BarKind::None);
  EXPECT_EQ(pci::decode_bar(0x6, 0xfffff006).kind, BarKind::Invalid);  // type 3: reserved
  EXPECT_EQ(pci::decode_bar(0x0, 0xff0f0000).kind, BarKind::Invalid);  // holes in the mask
  EXPECT_EQ(pci::decode_bar(0x1, 0xff0f0001).kind, BarKind::Invalid);
  EXPECT_EQ(pci::decode_bar(0x4, 0xfff00004, 0, 0x7fffffff).kind, BarKind::Invalid);  // hole at bit 63
}

TEST(PciBar, SizingRestoresBarsAndCommand) {
  FakeConfig cs;
  auto& f = cs.add(kA, 0x8086, 0x100e, 0x02, 0x00);
  FakeConfig::bar32(f, 0, 0xfebc0000, 0x20000, 0x0);  // memory 128 KiB
  FakeConfig::bar32(f, 1, 0xc000, 0x40, 0x1);         // I/O 64 ports
  // BAR 2+3: 64-bit prefetchable, 1 MiB at 0x1_0000_0000.
  f.bar_writable[2] = ~(0x100000u - 1) & ~0xfu;
  f.bar_writable[3] = 0xffffffff;
  f.put32(0x18, 0x0000000c);
  f.put32(0x1c, 0x1);
  f.put16(pci::kRegStatus, 0x8010);  // a pending error bit: must survive
  pci::Bar bars[6];
  pci::size_bars(cs, kA, 6, bars);
  EXPECT_EQ(bars[0].kind, BarKind::Mem32);
  EXPECT_EQ(bars[0].base, 0xfebc0000u);
  EXPECT_EQ(bars[0].size, 0x20000u);
  EXPECT_EQ(bars[1].kind, BarKind::Io);
  EXPECT_EQ(bars[1].base, 0xc000u);
  EXPECT_EQ(bars[1].size, 0x40u);
  EXPECT_EQ(bars[2].kind, BarKind::Mem64);
  EXPECT_TRUE(bars[2].prefetchable);
  EXPECT_EQ(bars[2].base, 0x100000000ull);
  EXPECT_EQ(bars[2].size, 0x100000u);
  EXPECT_EQ(bars[3].kind, BarKind::None);  // the upper half
  EXPECT_EQ(bars[4].kind, BarKind::None);
  EXPECT_EQ(bars[5].kind, BarKind::None);
  // Every BAR holds its address again; decoding was off while sizing and is back on.
  EXPECT_EQ(f.get32(0x10), 0xfebc0000u);
  EXPECT_EQ(f.get32(0x14), 0xc001u);
  EXPECT_EQ(f.get32(0x18), 0xcu);
  EXPECT_EQ(f.get32(0x1c), 0x1u);
  ASSERT_EQ(f.command_writes.size(), 2u);
  EXPECT_EQ(f.command_writes[0] & (pci::kCommandIo | pci::kCommandMemory), 0);
  EXPECT_EQ(f.command_writes[1], pci::kCommandIo | pci::kCommandMemory);
  EXPECT_EQ(f.get32(pci::kRegCommand) >> 16, 0x8010u);
}

TEST(PciBar, Mem64InTheLastSlotIsRefused) {
  FakeConfig cs;
  auto& f = cs.add(kA, 0x1234, 0x5678, 0x01, 0x00);
  f.bar_writable[5] = 0xfffff000;
  f.put32(0x24, 0x4);
  pci::Bar bars[6];
  pci::size_bars(cs, kA, 6, bars);
  EXPECT_EQ(bars[5].kind, BarKind::Invalid);
}

namespace {

// Builds a capability list: (id, offset) pairs chained in order.
void chain(FakeFunction& f, std::vector<std::pair<uint8_t, uint8_t>> caps) {
  f.put16(pci::kRegStatus, pci::kStatusCapabilities);
  f.put8(pci::kRegCapabilities, caps.empty() ? 0 : caps[0].second);
  for (size_t i = 0; i < caps.size(); ++i) {
    f.put8(caps[i].second, caps[i].first);
    f.put8(uint8_t(caps[i].second + 1), i + 1 < caps.size() ? caps[i + 1].second : 0);
  }
}

struct Seen {
  std::vector<std::pair<uint8_t, uint8_t>> caps;
};
bool record(void* ctx, uint8_t id, uint8_t offset) {
  static_cast<Seen*>(ctx)->caps.push_back({id, offset});
  return true;
}

}  // namespace

TEST(PciCapabilities, WalksTheList) {
  FakeConfig cs;
  auto& f = cs.add(kA, 0x8086, 0x10d3, 0x02, 0x00);
  chain(f, {{0x01, 0xc8}, {0x05, 0xd0}, {0x10, 0xe0}, {0x11, 0xa0}});
  f.put8(pci::kRegCapabilities, 0xc8 | 0x3);  // reserved low bits are masked
  Seen s;
  ASSERT_TRUE(pci::walk_capabilities(cs, kA, 0, &record, &s).ok());
  std::vector<std::pair<uint8_t, uint8_t>> want{{0x01, 0xc8}, {0x05, 0xd0}, {0x10, 0xe0}, {0x11, 0xa0}};
  EXPECT_EQ(s.caps, want);
}

TEST(PciCapabilities, NoCapabilityBitMeansNone) {
  FakeConfig cs;
  auto& f = cs.add(kA, 0x8086, 0x10d3, 0x02, 0x00);
  chain(f, {{0x05, 0x50}});
  f.put16(pci::kRegStatus, 0);
  Seen s;
  EXPECT_TRUE(pci::walk_capabilities(cs, kA, 0, &record, &s).ok());
  EXPECT_TRUE(s.caps.empty());
}

TEST(PciCapabilities, LoopsAndHeaderPointersAreRefused) {
  FakeConfig cs;
  auto& f = cs.add(kA, 0x8086, 0x10d3, 0x02, 0x00);
  chain(f, {{0x05, 0x50}, {0x11, 0x60}});
  f.put8(0x61, 0x50);  // 0x60 -> 0x50 -> 0x60 ...
  Seen s;
  EXPECT_EQ(pci::walk_capabilities(cs, kA, 0, &record, &s).error(), ktl::Error::Overflow);
  EXPECT_EQ(s.caps.size(), pci::kMaxCapabilities);
  // A pointer into the header.
  f.put8(0x61, 0x10);
  Seen t;
  EXPECT_EQ(pci::walk_capabilities(cs, kA, 0, &record, &t).error(), ktl::Error::InvalidArgument);
  EXPECT_EQ(t.caps.size(), 2u);
  // A self-loop.
  f.put8(0x51, 0x50);
  EXPECT_EQ(pci::walk_capabilities(cs, kA, 0, &record, &t).error(), ktl::Error::Overflow);
}

TEST(PciCapabilities, MsiAndMsiX) {
  FakeConfig cs;
  auto& f = cs.add(kA, 0x8086, 0x10d3, 0x02, 0x00);
  chain(f, {{0x05, 0x50}, {0x11, 0x70}});
  f.put16(0x52, (1 << 7) | (1 << 8) | (3 << 1));  // 64-bit, per-vector mask, 8 vectors
  f.put16(0x72, 4);                               // 5 entries
  f.put32(0x74, 0x2000 | 3);                      // table in BAR 3 at 0x2000
  f.put32(0x78, 0x3000 | 3);                      // PBA in BAR 3 at 0x3000
  auto p = pci::probe(cs, kA);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->capabilities_malformed);
  EXPECT_TRUE(p->msi.present);
  EXPECT_EQ(p->msi.offset, 0x50);
  EXPECT_TRUE(p->msi.address_64);
  EXPECT_TRUE(p->msi.per_vector_mask);
  EXPECT_EQ(p->msi.max_vectors, 8);
  EXPECT_TRUE(p->msix.present);
  EXPECT_EQ(p->msix.table_size, 5);
  EXPECT_EQ(p->msix.table_bar, 3);
  EXPECT_EQ(p->msix.table_offset, 0x2000u);
  EXPECT_EQ(p->msix.pba_bar, 3);
  EXPECT_EQ(p->msix.pba_offset, 0x3000u);
  // Reserved fields are refused: MMC 6, a BIR of 7.
  f.put16(0x52, 6 << 1);
  EXPECT_EQ(pci::decode_msi(cs, kA, 0x50).error(), ktl::Error::InvalidArgument);
  f.put32(0x74, 0x2000 | 7);
  EXPECT_EQ(pci::decode_msix(cs, kA, 0x70).error(), ktl::Error::InvalidArgument);
  auto q = pci::probe(cs, kA);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->capabilities_malformed);
  EXPECT_FALSE(q->msi.present);
  EXPECT_FALSE(q->msix.present);
}

// The MSI-X table and PBA must lie wholly inside an assigned memory BAR.
TEST(PciMsiX, LocatesTableAndPba) {
  pci::Bar bars[6] = {};
  bars[0] = {BarKind::Mem32, false, 0xfeb80000, 0x20000};
  bars[2] = {BarKind::Io, false, 0xc000, 0x20};
  bars[3] = {BarKind::Mem32, false, 0xfebd0000, 0x4000};
  bars[4] = {BarKind::Mem64, true, 0x800000000ull, 0x4000};
  pci::MsiX m;
  m.present = true;
  m.table_size = 5;
  m.table_bar = 3;
  m.table_offset = 0x0;
  m.pba_bar = 3;
  m.pba_offset = 0x2000;
  auto l = pci::locate_msix(m, bars, 6);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->table_phys, 0xfebd0000u);
  EXPECT_EQ(l->table_bytes, 5u * 16);
  EXPECT_EQ(l->pba_phys, 0xfebd2000u);
  EXPECT_EQ(l->pba_bytes, 8u);
  // A 64-bit BAR works; 65 entries need two PBA words.
  m.table_bar = m.pba_bar = 4;
  m.table_size = 65;
  m.table_offset = 0x4000 - 65 * 16;  // the table ends at the BAR's end exactly
  m.pba_offset = 0x4000 - 16;
  l = pci::locate_msix(m, bars, 6);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->table_phys, 0x800000000ull + 0x4000 - 65 * 16);
  EXPECT_EQ(l->pba_bytes, 16u);
}

TEST(PciMsiX, MalformedLocationsAreRefused) {
  pci::Bar bars[6] = {};
  bars[0] = {BarKind::Mem32, false, 0xfeb80000, 0x1000};
  bars[1] = {BarKind::Io, false, 0xc000, 0x20};
  bars[2] = {BarKind::Mem32, false, 0, 0x1000};  // not assigned
  bars[3] = {BarKind::Invalid, false, 0, 0};
  bars[4] = {BarKind::Mem64, false, 0xfffffffffffff000ull, 0x1000};
  pci::MsiX good;
  good.present = true;
  good.table_size = 4;
  good.pba_offset = 0x800;
  ASSERT_TRUE(pci::locate_msix(good, bars, 6).ok());
  auto refused = [&](pci::MsiX m, ktl::Error e, unsigned count = 6) {
    auto l = pci::locate_msix(m, bars, count);
    return !l.ok() && l.error() == e;
  };
  pci::MsiX m = good;
  m.present = false;
  EXPECT_TRUE(refused(m, ktl::Error::InvalidArgument));
  // The BIR names an I/O BAR, an unassigned one, an invalid one, the upper
  // half of a 64-bit BAR, a BAR past the function's count (a bridge has 2).
  for (uint8_t bir : {1, 2, 3, 5}) {
    m = good;
    m.table_bar = bir;
    EXPECT_TRUE(refused(m, ktl::Error::InvalidArgument)) << int(bir);
    m = good;
    m.pba_bar = bir;
    EXPECT_TRUE(refused(m, ktl::Error::InvalidArgument)) << int(bir);
  }
  m = good;
  m.table_bar = 4;
  m.table_offset = 0;
  EXPECT_TRUE(pci::locate_msix(m, bars, 6).ok());
  m.table_bar = 2;
  EXPECT_TRUE(refused(m, ktl::Error::InvalidArgument, 2));
  // Offsets past the end, a table that runs past the end, offsets near 2^32.
  m = good;
  m.table_offset = 0x1000;
  EXPECT_TRUE(refused(m, ktl::Error::OutOfRange));
  m.table_offset = 0x1000 - 4 * 16 + 8;
  EXPECT_TRUE(refused(m, ktl::Error::OutOfRange));
  m.table_offset = 0xfffffff8;
  EXPECT_TRUE(refused(m, ktl::Error::OutOfRange));
  m = good;
  m.table_size = 2048;  // 32 KiB of table in a 4 KiB BAR
  EXPECT_TRUE(refused(m, ktl::Error::OutOfRange));
  m = good;
  m.pba_offset = 0xffc;  // an 8-byte PBA word crossing the end
  EXPECT_TRUE(refused(m, ktl::Error::OutOfRange));
  // A BAR at the top of the address space: the sum would wrap.
  bars[4].size = 0x2000;
  m = good;
  m.table_bar = 4;
  m.table_offset = 0x1000;
  EXPECT_TRUE(refused(m, ktl::Error::OutOfRange));
}

// INTx routing without the _PRT: only i440FX + PIIX, from the firmware's
// Interrupt Line, the PIRQ route control registers and the MADT.
TEST(PciIntx, RoutesOnI440fxOnly) {
  keel::acpi::Madt madt;
  madt.override_count = 3;
  madt.overrides[0] = {0, 2, 0};
  madt.overrides[1] = {10, 10, 0xd};  // level, active high (QEMU)
  madt.overrides[2] = {11, 11, 0xd};
  pci::IntxChipset pc{0x8086, 0x1237, 0x8086, 0x7000, 0x0b0b0a0a};  // PIRQA-D -> 10, 10, 11, 11
  pci::Function f;
  f.interrupt_pin = 1;
  f.interrupt_line = 11;
  uint32_t gsi = 0;
  EXPECT_EQ(pci::route_intx(f, pc, madt, &gsi), pci::IntxRoute::Routed);
  EXPECT_EQ(gsi, 11u);
  // An override that moves the IRQ.
  madt.overrides[1] = {10, 20, 0xf};
  f.interrupt_line = 10;
  EXPECT_EQ(pci::route_intx(f, pc, madt, &gsi), pci::IntxRoute::Routed);
  EXPECT_EQ(gsi, 20u);
  pci::IntxChipset piix4 = pc;
  piix4.isa_device = 0x7110;
  EXPECT_EQ(pci::route_intx(f, piix4, madt, &gsi), pci::IntxRoute::Routed);
  // No pin.
  f.interrupt_pin = 0;
  EXPECT_EQ(pci::route_intx(f, pc, madt, &gsi), pci::IntxRoute::NoPin);
  f.interrupt_pin = 1;
  // q35 (8086:29c0 + ICH9 LPC 8086:2918), or an i440FX without PIIX.
  pci::IntxChipset q35{0x8086, 0x29c0, 0x8086, 0x2918, 0x0b0b0a0a};
  EXPECT_EQ(pci::route_intx(f, q35, madt, &gsi), pci::IntxRoute::NeedsPrt);
  pci::IntxChipset bare = pc;
  bare.isa_vendor = bare.isa_device = 0;
  EXPECT_EQ(pci::route_intx(f, bare, madt, &gsi), pci::IntxRoute::NeedsPrt);
  // Lines the firmware did not route: unknown, reserved, not in a PIRQRC,
  // in a disabled PIRQRC.
  for (uint8_t line : {0xff, 0, 2, 8, 13, 16, 5}) {
    f.interrupt_line = line;
    EXPECT_EQ(pci::route_intx(f, pc, madt, &gsi), pci::IntxRoute::NotRouted) << int(line);
  }
  pci::IntxChipset disabled = pc;
  disabled.pirq_routes = 0x8b8b0a0a;  // PIRQC/D off
  f.interrupt_line = 11;
  EXPECT_EQ(pci::route_intx(f, disabled, madt, &gsi), pci::IntxRoute::NotRouted);
  // The MADT must make the line level-triggered.
  madt.overrides[2] = {11, 11, 0x5};  // edge
  EXPECT_EQ(pci::route_intx(f, pc, madt, &gsi), pci::IntxRoute::NotLevel);
  madt.override_count = 2;  // no override for 11
  EXPECT_EQ(pci::route_intx(f, pc, madt, &gsi), pci::IntxRoute::NotLevel);
  EXPECT_STREQ(pci::intx_route_name(pci::IntxRoute::NeedsPrt), "INTx routing on this chipset needs the ACPI _PRT");
}

TEST(PciProbe, ReadsTheHeader) {
  FakeConfig cs;
  auto& f = cs.add(kA, 0x1234, 0x1111, 0x03, 0x00);
  f.put8(pci::kRegRevision, 0x02);
  f.put8(pci::kRegRevision + 1, 0x00);
  f.put32(pci::kRegSubsystemVendor, 0x11001af4);
  f.put8(pci::kRegInterruptLine, 11);
  f.put8(pci::kRegInterruptLine + 1, 1);
  FakeConfig::bar32(f, 0, 0xfd000000, 16 << 20, 0x8);
  FakeConfig::bar32(f, 2, 0xfebf4000, 0x1000, 0x0);
  auto p = pci::probe(cs, kA);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->vendor, 0x1234);
  EXPECT_EQ(p->device, 0x1111);
  EXPECT_EQ(p->class_code, 0x03);
  EXPECT_EQ(p->revision, 0x02);
  EXPECT_EQ(p->subsystem_vendor, 0x1af4);
  EXPECT_EQ(p->subsystem, 0x1100);
  EXPECT_EQ(p->interrupt_line, 11);
  EXPECT_EQ(p->interrupt_pin, 1);
  EXPECT_EQ(p->bar_count, 6);
  EXPECT_EQ(p->bars[0].kind, BarKind::Mem32);
  EXPECT_EQ(p->bars[0].size, 16u << 20);
  EXPECT_EQ(p->bars[1].kind, BarKind::None);
  EXPECT_EQ(p->bars[2].base, 0xfebf4000u);
  EXPECT_STREQ(pci::class_name(p->class_code, p->subclass), "VGA controller");
  EXPECT_EQ(pci::probe(cs, Address{0, 4, 0}).error(), ktl::Error::NotFound);
}

TEST(PciEnumerate, FollowsBridgesAndMultifunction) {
  FakeConfig cs;
  cs.add({0, 0, 0}, 0x8086, 0x29c0, 0x06, 0x00);
  auto& lpc = cs.add({0, 0x1f, 0}, 0x8086, 0x2918, 0x06, 0x01, 0x80);  // multi-function
  (void)lpc;
  cs.add({0, 0x1f, 2}, 0x8086, 0x2922, 0x01, 0x06);
  cs.add({0, 0x1f, 3}, 0x8086, 0x2930, 0x0c, 0x05);
  // Function 1 of a single-function device is never probed.
  cs.add({0, 2, 0}, 0x1af4, 0x1000, 0x02, 0x00);
  cs.add({0, 2, 1}, 0xdead, 0xbeef, 0x02, 0x00);
  // A bridge to bus 1, which holds a bridge to bus 2.
  auto& b1 = cs.add({0, 3, 0}, 0x1b36, 0x0001, 0x06, 0x04, 0x01);
  b1.put8(pci::kRegSecondaryBus, 1);
  b1.put8(pci::kRegSubordinateBus, 2);
  auto& b2 = cs.add({1, 0, 0}, 0x1b36, 0x0001, 0x06, 0x04, 0x01);
  b2.put8(pci::kRegSecondaryBus, 2);
  b2.put8(pci::kRegSubordinateBus, 2);
  cs.add({1, 5, 0}, 0x1af4, 0x1001, 0x01, 0x00);
  cs.add({2, 0, 0}, 0x1af4, 0x1042, 0x01, 0x00);
  // A bridge that points back at bus 0 and one outside the range: not followed.
  auto& bad = cs.add({2, 1, 0}, 0x1b36, 0x0001, 0x06, 0x04, 0x01);
  bad.put8(pci::kRegSecondaryBus, 0);
  auto& far = cs.add({2, 2, 0}, 0x1b36, 0x0001, 0x06, 0x04, 0x01);
  far.put8(pci::kRegSecondaryBus, 200);
  cs.add({200, 0, 0}, 0x1111, 0x2222, 0x02, 0x00);

  pci::Function out[32];
  pci::FunctionSink sink{out, 32};
  pci::enumerate(cs, 0, 63, sink);
  std::vector<std::tuple<int, int, int, int>> got;
  for (size_t i = 0; i < sink.count; ++i)
    got.push_back({out[i].address.bus, out[i].address.device, out[i].address.function, out[i].device});
  std::vector<std::tuple<int, int, int, int>> want{
      {0, 0, 0, 0x29c0}, {0, 2, 0, 0x1000}, {0, 3, 0, 0x0001}, {0, 0x1f, 0, 0x2918}, {0, 0x1f, 2, 0x2922},
      {0, 0x1f, 3, 0x2930}, {1, 0, 0, 0x0001}, {1, 5, 0, 0x1001}, {2, 0, 0, 0x1042}, {2, 1, 0, 0x0001},
      {2, 2, 0, 0x0001}};
  EXPECT_EQ(got, want);
  EXPECT_FALSE(sink.overflowed);

  pci::Function few[3];
  pci::FunctionSink small{few, 3};
  pci::enumerate(cs, 0, 63, small);
  EXPECT_EQ(small.count, 3u);
  EXPECT_TRUE(small.overflowed);
}

TEST(PciEnumerate, EmptyAndAllOnesConfigSpace) {
  FakeConfig cs;
  pci::Function out[4];
  pci::FunctionSink sink{out, 4};
  pci::enumerate(cs, 0, 255, sink);
  EXPECT_EQ(sink.count, 0u);
  // Only bus 0 was scanned (32 devices, function 0 each: one read).
  EXPECT_EQ(cs.reads, 32);
  pci::enumerate(cs, 5, 4, sink);  // reversed range: nothing
  EXPECT_EQ(cs.reads, 32);
}
