// acpi/tables.cc — the ACPI static table parser (see tables.h for the policy
// on which problems are fatal). Offsets are from ACPI 6.4 §5.2 unless noted.
#include <acpi/aml.h>
#include <acpi/tables.h>

#include <type_traits>

namespace acpi {
namespace {

using ktl::Bytes;
using ktl::Error;

// System Description Table header (§5.2.6).
constexpr size_t kSdtHeaderSize = 36;
constexpr size_t kSdtLengthOffset = 4;
constexpr size_t kSdtRevisionOffset = 8;
// Larger than any real table (a big DSDT is ~100 KiB); bounds what a corrupt
// length can make us read and checksum.
constexpr uint64_t kMaxTableLength = 16 * ktl::MiB;

// RSDP (§5.2.5.3).
constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpV2Size = 36;
constexpr size_t kRsdpOemIdOffset = 9;
constexpr size_t kRsdpRevisionOffset = 15;
constexpr size_t kRsdpRsdtOffset = 16;
constexpr size_t kRsdpLengthOffset = 20;
constexpr size_t kRsdpXsdtOffset = 24;

// MADT (§5.2.12): fixed part, then variable-length entries {type, length, ...}.
constexpr size_t kMadtLapicAddressOffset = 36;
constexpr size_t kMadtFlagsOffset = 40;
constexpr size_t kMadtEntriesOffset = 44;
enum MadtEntryType : uint8_t {
  kLocalApic = 0,               // §5.2.12.2
  kIoApic = 1,                  // §5.2.12.3
  kInterruptOverride = 2,       // §5.2.12.5
  kLocalApicNmi = 4,            // §5.2.12.7
  kLocalApicAddressOverride = 5,  // §5.2.12.8
  kLocalX2Apic = 9,             // §5.2.12.12
  kLocalX2ApicNmi = 0xA,        // §5.2.12.13
};
// Size of each entry type Keel reads; longer entries are fine (later
// revisions append fields), shorter ones are Truncated.
constexpr size_t madt_entry_min_length(uint8_t type) {
  switch (type) {
    case kLocalApic: return 8;
    case kIoApic: return 12;
    case kInterruptOverride: return 10;
    case kLocalApicNmi: return 6;
    case kLocalApicAddressOverride: return 12;
    case kLocalX2Apic: return 16;
    case kLocalX2ApicNmi: return 12;
    default: return 2;
  }
}
constexpr uint32_t kLapicEnabled = 1u << 0;
constexpr uint32_t kLapicOnlineCapable = 1u << 1;

// FADT (§5.2.9, Table 5.9). ACPI 1.0 ends after FLAGS (116 bytes).
constexpr size_t kFadtV1Size = 116;
constexpr size_t kFadtDsdt = 40;
constexpr size_t kFadtSciInt = 46;
constexpr size_t kFadtSmiCmd = 48;
constexpr size_t kFadtAcpiEnable = 52;
constexpr size_t kFadtAcpiDisable = 53;
constexpr size_t kFadtPm1aCntBlk = 64;
constexpr size_t kFadtPm1bCntBlk = 68;
constexpr size_t kFadtPm1CntLen = 89;
constexpr size_t kFadtCentury = 108;
constexpr size_t kFadtIapcBootArch = 109;
constexpr size_t kFadtFlags = 112;
constexpr size_t kFadtResetReg = 116;    // GAS, FADT revision >= 2
constexpr size_t kFadtResetValue = 128;
constexpr size_t kFadtXDsdt = 140;       // u64
constexpr size_t kFadtXPm1aCntBlk = 172;  // GAS
constexpr size_t kFadtXPm1bCntBlk = 184;  // GAS
constexpr size_t kGasSize = 12;

// HPET (IA-PC HPET spec 1.0a, Table 3): GAS of the block at 40.
constexpr size_t kHpetAddress = 40;
constexpr size_t kHpetNumber = 52;
constexpr size_t kHpetMinTick = 53;
constexpr size_t kHpetSize = 56;

// MCFG (PCI Firmware spec 3.2, Table 4-3): 8 reserved bytes, then entries.
constexpr size_t kMcfgEntriesOffset = 44;
constexpr size_t kMcfgEntrySize = 16;

bool sig_is(const uint8_t* p, const char* sig) { return __builtin_memcmp(p, sig, 4) == 0; }

// Records a problem in `diag` (if any) and returns `e`, so that error paths
// read `return fail(diag, "MADT", "why", Error::X);`.
Error fail(AcpiDiag* diag, const void* sig, const char* reason, Error e) {
  if (diag) {
    diag->reason = reason;
    const auto* s = static_cast<const uint8_t*>(sig);
    for (size_t i = 0; i < 4; ++i) diag->table[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? char(s[i]) : '?';
    diag->table[4] = '\0';
  }
  return e;
}

// Reads the table at `phys`, checks signature `sig`, length and checksum, and
// returns all of it (header included).
ktl::Result<Bytes> load_table(PhysReader& mem, uint64_t phys, const char* sig, AcpiDiag* diag) {
  ktl::Result<Bytes> header = mem.read(phys, kSdtHeaderSize);
  if (!header.ok()) return fail(diag, sig, "table header not readable", header.error());
  if (header->size() != kSdtHeaderSize) return fail(diag, sig, "short read of table header", Error::Truncated);
  if (!sig_is(header->data(), sig)) return fail(diag, sig, "wrong table signature", Error::BadMagic);

  uint32_t length = TRY(ktl::load<uint32_t>(*header, kSdtLengthOffset));
  if (length < kSdtHeaderSize || length > kMaxTableLength)
    return fail(diag, sig, "table length < 36 or > 16 MiB", Error::InvalidArgument);

  ktl::Result<Bytes> table = mem.read(phys, length);
  if (!table.ok()) return fail(diag, sig, "table body not readable", table.error());
  if (table->size() != length) return fail(diag, sig, "short read of table body", Error::Truncated);
  if (ktl::byte_sum(*table) != 0) return fail(diag, sig, "bad table checksum", Error::BadChecksum);
  return *table;
}

ktl::Result<Gas> load_gas(Bytes t, size_t off) {
  TRY(ktl::slice(t, off, kGasSize));
  Gas g{};
  g.space = TRY(ktl::load<uint8_t>(t, off + 0));
  g.bit_width = TRY(ktl::load<uint8_t>(t, off + 1));
  g.bit_offset = TRY(ktl::load<uint8_t>(t, off + 2));
  g.access_size = TRY(ktl::load<uint8_t>(t, off + 3));
  g.address = TRY(ktl::load<uint64_t>(t, off + 4));
  return g;
}

// Which root table the RSDP leads to.
struct RootPointer {
  uint64_t address;
  bool xsdt;
};

ktl::Result<RootPointer> parse_rsdp(Bytes rsdp, AcpiInfo& info, AcpiDiag* diag) {
  if (rsdp.size() < kRsdpV1Size) return fail(diag, "RSDP", "RSDP shorter than 20 bytes", Error::Truncated);
  if (__builtin_memcmp(rsdp.data(), "RSD PTR ", 8) != 0)
    return fail(diag, "RSDP", "wrong RSDP signature", Error::BadMagic);
  if (ktl::byte_sum(rsdp.first(kRsdpV1Size)) != 0)
    return fail(diag, "RSDP", "bad RSDP checksum", Error::BadChecksum);

  info.revision = rsdp[kRsdpRevisionOffset];
  __builtin_memcpy(info.oem_id, rsdp.data() + kRsdpOemIdOffset, 6);
  info.oem_id[6] = '\0';
  uint64_t rsdt = TRY(ktl::load<uint32_t>(rsdp, kRsdpRsdtOffset));

  uint64_t xsdt = 0;
  if (info.revision >= 2) {
    if (rsdp.size() < kRsdpV2Size) {
      // GRUB's old-RSDP tag copies 20 bytes even of a 2.0 RSDP: the extended
      // part cannot be checked, so fall back to the RSDT it vouches for.
      fail(diag, "RSDP", "revision-2 RSDP given as 20 bytes; using the RSDT", Error::Truncated);
    } else {
      uint32_t length = TRY(ktl::load<uint32_t>(rsdp, kRsdpLengthOffset));
      if (length < kRsdpV2Size) return fail(diag, "RSDP", "RSDP length < 36", Error::InvalidArgument);
      if (length > rsdp.size()) return fail(diag, "RSDP", "RSDP length past the copy", Error::Truncated);
      if (ktl::byte_sum(rsdp.first(length)) != 0)
        return fail(diag, "RSDP", "bad RSDP extended checksum", Error::BadChecksum);
      xsdt = TRY(ktl::load<uint64_t>(rsdp, kRsdpXsdtOffset));
    }
  }
  if (xsdt != 0) return RootPointer{xsdt, true};
  if (rsdt != 0) return RootPointer{rsdt, false};
  return fail(diag, "RSDP", "RSDP has neither an RSDT nor an XSDT address", Error::NotFound);
}

// Appends `v` to a fixed-capacity array, or fails with NoSpace.
template <typename T, size_t N>
ktl::Result<void> push(std::array<T, N>& a, size_t& count, const T& v, AcpiDiag* diag, const char* reason) {
  if (count == N) return fail(diag, "APIC", reason, Error::NoSpace);
  a[count++] = v;
  return ktl::ok();
}

// Fills `m` from a checksum-verified MADT `t` (§5.2.12).
ktl::Result<void> parse_madt(Bytes t, Madt& m, AcpiDiag* diag) {
  if (t.size() < kMadtEntriesOffset) return fail(diag, "APIC", "MADT shorter than 44 bytes", Error::Truncated);
  m.present = true;
  m.lapic_address = TRY(ktl::load<uint32_t>(t, kMadtLapicAddressOffset));
  m.flags = TRY(ktl::load<uint32_t>(t, kMadtFlagsOffset));

  size_t off = kMadtEntriesOffset;
  while (off < t.size()) {
    // Every entry starts {type, length}; length < 2 would never advance.
    if (t.size() - off < 2) return fail(diag, "APIC", "MADT entry header cut off", Error::Truncated);
    uint8_t type = t[off];
    uint8_t length = t[off + 1];
    if (length < 2 || length > t.size() - off)
      return fail(diag, "APIC", "MADT entry length < 2 or past the table end", Error::Truncated);
    Bytes e = t.subspan(off, length);
    off += length;

    if (length < madt_entry_min_length(type))
      return fail(diag, "APIC", "MADT entry too short for its type", Error::Truncated);
    // In bounds after the check above; value_or keeps it safe regardless.
    auto u8 = [&](size_t at) { return ktl::load<uint8_t>(e, at).value_or(0); };
    auto u16 = [&](size_t at) { return ktl::load<uint16_t>(e, at).value_or(0); };
    auto u32 = [&](size_t at) { return ktl::load<uint32_t>(e, at).value_or(0); };

    switch (type) {
      case kLocalApic: {
        Cpu c{u8(2), u8(3), (u32(4) & kLapicEnabled) != 0, (u32(4) & kLapicOnlineCapable) != 0, false};
        TRY(push(m.cpus, m.cpu_count, c, diag, "more than 256 processors in the MADT"));
        break;
      }
      case kLocalX2Apic: {
        Cpu c{u32(12), u32(4), (u32(8) & kLapicEnabled) != 0, (u32(8) & kLapicOnlineCapable) != 0, true};
        TRY(push(m.cpus, m.cpu_count, c, diag, "more than 256 processors in the MADT"));
        break;
      }
      case kIoApic: {
        IoApic io{u8(2), u32(4), u32(8)};
        TRY(push(m.ioapics, m.ioapic_count, io, diag, "more than 16 I/O APICs in the MADT"));
        break;
      }
      case kInterruptOverride: {
        InterruptOverride iso{u8(2), u8(3), u32(4), u16(8)};
        TRY(push(m.isos, m.iso_count, iso, diag, "more than 48 interrupt overrides in the MADT"));
        break;
      }
      case kLocalApicNmi: {
        LapicNmi nmi{u8(2) == 0xFF ? kAllProcessors : u8(2), u16(3), u8(5)};
        TRY(push(m.nmis, m.nmi_count, nmi, diag, "more than 16 local APIC NMIs in the MADT"));
        break;
      }
      case kLocalX2ApicNmi: {
        LapicNmi nmi{u32(4), u16(2), u8(8)};
        TRY(push(m.nmis, m.nmi_count, nmi, diag, "more than 16 local APIC NMIs in the MADT"));
        break;
      }
      case kLocalApicAddressOverride:
        m.lapic_address = ktl::load<uint64_t>(e, 4).value_or(0);
        break;
      default:
        break;  // other types (NMI source, GIC, ...) are of no use to Keel
    }
  }
  return ktl::ok();
}

// Parses a checksum-verified FADT `t` (§5.2.9), reading only the fields its
// length covers.
ktl::Result<Fadt> parse_fadt(Bytes t, AcpiDiag* diag) {
  if (t.size() < kFadtV1Size)
    return fail(diag, "FACP", "FADT shorter than the ACPI 1.0 layout (116 bytes)", Error::Truncated);
  Fadt f{};
  f.present = true;
  f.revision = TRY(ktl::load<uint8_t>(t, kSdtRevisionOffset));
  f.dsdt = TRY(ktl::load<uint32_t>(t, kFadtDsdt));
  f.sci_int = TRY(ktl::load<uint16_t>(t, kFadtSciInt));
  f.smi_cmd = TRY(ktl::load<uint32_t>(t, kFadtSmiCmd));
  f.acpi_enable = TRY(ktl::load<uint8_t>(t, kFadtAcpiEnable));
  f.acpi_disable = TRY(ktl::load<uint8_t>(t, kFadtAcpiDisable));
  f.pm1_cnt_len = TRY(ktl::load<uint8_t>(t, kFadtPm1CntLen));
  f.century = TRY(ktl::load<uint8_t>(t, kFadtCentury));
  f.iapc_boot_arch = TRY(ktl::load<uint16_t>(t, kFadtIapcBootArch));
  f.flags = TRY(ktl::load<uint32_t>(t, kFadtFlags));

  // 32-bit I/O port blocks, superseded by the 64-bit GAS forms when those
  // exist in the table and are set (§5.2.9: "X_... if non-zero ...").
  f.pm1a_cnt = Gas{kGasSystemIo, uint8_t(f.pm1_cnt_len * 8), TRY(ktl::load<uint32_t>(t, kFadtPm1aCntBlk)), 0, 0};
  f.pm1b_cnt = Gas{kGasSystemIo, uint8_t(f.pm1_cnt_len * 8), TRY(ktl::load<uint32_t>(t, kFadtPm1bCntBlk)), 0, 0};

  if (f.revision >= 2 && t.size() >= kFadtResetValue + 1) {
    f.reset_reg = TRY(load_gas(t, kFadtResetReg));
    f.reset_value = TRY(ktl::load<uint8_t>(t, kFadtResetValue));
  }
  if (t.size() >= kFadtXDsdt + 8) {
    uint64_t x_dsdt = TRY(ktl::load<uint64_t>(t, kFadtXDsdt));
    if (x_dsdt != 0) f.dsdt = x_dsdt;
  }
  if (t.size() >= kFadtXPm1aCntBlk + kGasSize) {
    Gas g = TRY(load_gas(t, kFadtXPm1aCntBlk));
    if (g.address != 0) f.pm1a_cnt = g;
  }
  if (t.size() >= kFadtXPm1bCntBlk + kGasSize) {
    Gas g = TRY(load_gas(t, kFadtXPm1bCntBlk));
    if (g.address != 0) f.pm1b_cnt = g;
  }
  return f;
}

ktl::Result<Hpet> parse_hpet(Bytes t, AcpiDiag* diag) {
  if (t.size() < kHpetSize) return fail(diag, "HPET", "HPET shorter than 56 bytes", Error::Truncated);
  Gas g = TRY(load_gas(t, kHpetAddress));
  if (g.space != kGasSystemMemory) return fail(diag, "HPET", "HPET not in memory space", Error::Unsupported);
  if (g.address == 0) return fail(diag, "HPET", "HPET address is 0", Error::InvalidArgument);
  Hpet h{};
  h.present = true;
  h.address = g.address;
  h.hpet_number = TRY(ktl::load<uint8_t>(t, kHpetNumber));
  h.min_tick = TRY(ktl::load<uint16_t>(t, kHpetMinTick));
  return h;
}

ktl::Result<void> parse_mcfg(Bytes t, Mcfg& m, AcpiDiag* diag) {
  if (t.size() < kMcfgEntriesOffset) return fail(diag, "MCFG", "MCFG shorter than 44 bytes", Error::Truncated);
  // A trailing partial entry is ignored, as other OSes do.
  size_t n = (t.size() - kMcfgEntriesOffset) / kMcfgEntrySize;
  if (n > kMaxMcfgSegments) return fail(diag, "MCFG", "more than 16 MCFG segments", Error::NoSpace);
  for (size_t i = 0; i < n; ++i) {
    size_t off = kMcfgEntriesOffset + i * kMcfgEntrySize;
    McfgSegment s{TRY(ktl::load<uint64_t>(t, off)), TRY(ktl::load<uint16_t>(t, off + 8)),
                  TRY(ktl::load<uint8_t>(t, off + 10)), TRY(ktl::load<uint8_t>(t, off + 11))};
    if (s.bus_end < s.bus_start) return fail(diag, "MCFG", "MCFG bus range reversed", Error::InvalidArgument);
    m.segments[i] = s;
  }
  m.count = n;
  m.present = true;
  return ktl::ok();
}

// Looks for \_S5 in the AML body of the verified definition block `t`.
// Returns true if found (and fills `s5`).
bool find_s5(Bytes t, const char* sig, SleepState& s5, AcpiDiag* diag) {
  ktl::Result<SleepType> r = find_sleep_package(t.subspan(kSdtHeaderSize), '5');
  if (!r.ok()) {
    if (r.error() != Error::NotFound) fail(diag, sig, "malformed \\_S5 package", r.error());
    return false;
  }
  s5 = SleepState{true, r->slp_typa, r->slp_typb};
  return true;
}

}  // namespace

ktl::Result<void> parse_acpi_into(AcpiInfo& info, Bytes rsdp, PhysReader& mem, AcpiDiag* diag) {
  static_assert(std::is_trivially_copyable_v<AcpiInfo>);
  __builtin_memset(&info, 0, sizeof info);
  if (diag) *diag = AcpiDiag{nullptr, {}};

  RootPointer root = TRY(parse_rsdp(rsdp, info, diag));
  const char* root_sig = root.xsdt ? "XSDT" : "RSDT";
  Bytes root_table = TRY(load_table(mem, root.address, root_sig, diag));
  info.uses_xsdt = root.xsdt;
  info.root_table = root.address;

  // Entries are 8-byte (XSDT) or 4-byte (RSDT) physical addresses, unaligned.
  // A trailing partial entry is ignored.
  size_t entry_size = root.xsdt ? 8 : 4;
  size_t entries = (root_table.size() - kSdtHeaderSize) / entry_size;
  for (size_t i = 0; i < entries; ++i) {
    size_t off = kSdtHeaderSize + i * entry_size;
    uint64_t addr = root.xsdt ? TRY(ktl::load<uint64_t>(root_table, off)) : TRY(ktl::load<uint32_t>(root_table, off));
    if (addr == 0) {
      fail(diag, root_sig, "null table pointer ignored", Error::InvalidArgument);
      continue;
    }
    ktl::Result<Bytes> header = mem.read(addr, kSdtHeaderSize);
    if (!header.ok()) return fail(diag, root_sig, "table pointer to unreadable memory", header.error());
    if (header->size() != kSdtHeaderSize) return fail(diag, root_sig, "short read of table header", Error::Truncated);
    const uint8_t* sig = header->data();

    if (sig_is(sig, "APIC")) {
      if (info.madt.present) {
        fail(diag, "APIC", "duplicate table ignored", Error::AlreadyExists);
        continue;
      }
      Bytes t = TRY(load_table(mem, addr, "APIC", diag));
      TRY(parse_madt(t, info.madt, diag));
    } else if (sig_is(sig, "FACP")) {
      if (info.fadt.present) {
        fail(diag, "FACP", "duplicate table ignored", Error::AlreadyExists);
        continue;
      }
      ktl::Result<Bytes> t = load_table(mem, addr, "FACP", diag);
      if (!t.ok()) continue;
      ktl::Result<Fadt> f = parse_fadt(*t, diag);
      if (f.ok()) info.fadt = *f;
    } else if (sig_is(sig, "HPET")) {
      if (info.hpet.present) {
        fail(diag, "HPET", "duplicate table ignored", Error::AlreadyExists);
        continue;
      }
      ktl::Result<Bytes> t = load_table(mem, addr, "HPET", diag);
      if (!t.ok()) continue;
      ktl::Result<Hpet> h = parse_hpet(*t, diag);
      if (h.ok()) info.hpet = *h;
    } else if (sig_is(sig, "MCFG")) {
      if (info.mcfg.present) {
        fail(diag, "MCFG", "duplicate table ignored", Error::AlreadyExists);
        continue;
      }
      ktl::Result<Bytes> t = load_table(mem, addr, "MCFG", diag);
      if (!t.ok()) continue;
      Mcfg m{};
      if (parse_mcfg(*t, m, diag).ok()) info.mcfg = m;
    } else if (sig_is(sig, "SSDT")) {
      if (!load_table(mem, addr, "SSDT", diag).ok()) continue;
      if (info.ssdt.count == kMaxSsdts) {
        fail(diag, "SSDT", "more than 16 SSDTs; the rest are ignored", Error::NoSpace);
        continue;
      }
      info.ssdt.address[info.ssdt.count++] = addr;
    }
  }

  // \_S5: the DSDT first, then each SSDT (§5.2.11: the DSDT is loaded first).
  bool found = false;
  if (info.fadt.present && info.fadt.dsdt != 0) {
    ktl::Result<Bytes> dsdt = load_table(mem, info.fadt.dsdt, "DSDT", diag);
    if (dsdt.ok()) {
      info.dsdt_length = uint32_t(dsdt->size());
      found = find_s5(*dsdt, "DSDT", info.s5, diag);
    }
  }
  for (size_t i = 0; i < info.ssdt.count && !found; ++i) {
    ktl::Result<Bytes> ssdt = load_table(mem, info.ssdt.address[i], "SSDT", diag);
    if (ssdt.ok()) found = find_s5(*ssdt, "SSDT", info.s5, diag);
  }
  if (!found && info.fadt.present) fail(diag, "DSDT", "no \\_S5 package; power-off unavailable", Error::NotFound);
  return ktl::ok();
}

ktl::Result<AcpiInfo> parse_acpi(Bytes rsdp, PhysReader& mem, AcpiDiag* diag) {
  ktl::Result<AcpiInfo> out{AcpiInfo{}};
  ktl::Result<void> r = parse_acpi_into(out.value(), rsdp, mem, diag);
  if (!r.ok()) return r.error();
  return out;
}

}  // namespace acpi
