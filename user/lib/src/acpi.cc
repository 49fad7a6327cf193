// The RSDP search, table checks and the MCFG parser (keel/acpi.h).
#include <keel/acpi.h>

namespace keel::acpi {

using ktl::Error;

namespace {

constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpV2MinSize = 36;
constexpr size_t kMcfgEntriesOffset = 44;
constexpr size_t kMcfgEntrySize = 16;
constexpr uint64_t kPhysLimit = uint64_t(1) << 52;

uint64_t load(Bytes b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}

uint8_t sum(Bytes b) {
  uint8_t s = 0;
  for (uint8_t c : b) s = uint8_t(s + c);
  return s;
}

bool signature_is(Bytes b, const char* sig, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (b[i] != uint8_t(sig[i])) return false;
  return true;
}

}  // namespace

ktl::Result<Rsdp> find_rsdp(Bytes area) {
  for (size_t at = 0; at + kRsdpV1Size <= area.size(); at += 16) {
    Bytes r = area.subspan(at);
    if (!signature_is(r, "RSD PTR ", 8) || sum(r.first(kRsdpV1Size)) != 0) continue;
    Rsdp p;
    p.offset = at;
    p.revision = r[15];
    p.rsdt = uint32_t(load(r, 16, 4));
    if (p.revision >= 2) {
      if (r.size() < kRsdpV2MinSize) continue;
      const uint64_t length = load(r, 20, 4);
      if (length < kRsdpV2MinSize || length > r.size() || sum(r.first(length)) != 0) continue;
      p.xsdt = load(r, 24, 8);
    }
    return p;
  }
  return Error::NotFound;
}

ktl::Result<uint32_t> table_length(Bytes header) {
  if (header.size() < kHeaderSize) return Error::Truncated;
  return uint32_t(load(header, 4, 4));
}

ktl::Result<Bytes> check_table(Bytes table, const char* signature) {
  const uint32_t length = TRY(table_length(table));
  if (length < kHeaderSize || length > table.size()) return Error::Truncated;
  if (signature && !signature_is(table, signature, 4)) return Error::BadMagic;
  Bytes t = table.first(length);
  if (sum(t) != 0) return Error::BadChecksum;
  return t;
}

ktl::Result<size_t> for_each_entry(Bytes table, bool xsdt, EntryVisitor visit, void* ctx) {
  const size_t entry = xsdt ? 8 : 4;
  if (table.size() < kHeaderSize || (table.size() - kHeaderSize) % entry != 0)
    return Error::InvalidArgument;
  const size_t n = (table.size() - kHeaderSize) / entry;
  for (size_t i = 0; i < n; ++i) visit(ctx, load(table, kHeaderSize + i * entry, entry));
  return n;
}

ktl::Result<Mcfg> parse_mcfg(Bytes table) {
  Bytes t = TRY(check_table(table, "MCFG"));
  if (t.size() < kMcfgEntriesOffset) return Error::Truncated;
  if ((t.size() - kMcfgEntriesOffset) % kMcfgEntrySize != 0) return Error::InvalidArgument;
  const size_t n = (t.size() - kMcfgEntriesOffset) / kMcfgEntrySize;
  if (n > kMaxMcfgWindows) return Error::NoSpace;
  Mcfg m;
  for (size_t i = 0; i < n; ++i) {
    const size_t at = kMcfgEntriesOffset + i * kMcfgEntrySize;
    EcamWindow w;
    w.base = load(t, at, 8);
    w.segment = uint16_t(load(t, at + 8, 2));
    w.bus_start = t[at + 10];
    w.bus_end = t[at + 11];
    if (w.bus_end < w.bus_start) return Error::InvalidArgument;
    if (w.base == 0 || w.base % (uint64_t(1) << 20) != 0) return Error::InvalidArgument;
    // The window's last byte: bus_end's last function.
    const uint64_t end = (uint64_t(w.bus_end) + 1) << 20;
    if (w.base >= kPhysLimit || end > kPhysLimit - w.base) return Error::Overflow;
    m.windows[m.count++] = w;
  }
  return m;
}

uint32_t Madt::isa_gsi(uint8_t irq, uint16_t* flags) const {
  for (size_t i = 0; i < override_count; ++i)
    if (overrides[i].irq == irq) {
      if (flags) *flags = overrides[i].flags;
      return overrides[i].gsi;
    }
  if (flags) *flags = 0;
  return irq;
}

ktl::Result<Madt> parse_madt(Bytes table) {
  constexpr size_t kEntriesOffset = 44;  // header, local APIC address, flags
  Bytes t = TRY(check_table(table, "APIC"));
  if (t.size() < kEntriesOffset) return Error::Truncated;
  Madt m;
  for (size_t at = kEntriesOffset; at < t.size();) {
    if (t.size() - at < 2) return Error::Truncated;
    const uint8_t type = t[at], len = t[at + 1];
    if (len < 2) return Error::InvalidArgument;
    if (len > t.size() - at) return Error::Truncated;
    if (type == 2) {
      if (len != 10) return Error::InvalidArgument;
      IsaOverride o;
      if (t[at + 2] != 0 || t[at + 3] > 15) return Error::InvalidArgument;
      o.irq = t[at + 3];
      o.gsi = uint32_t(load(t, at + 4, 4));
      o.flags = uint16_t(load(t, at + 8, 2));
      for (size_t i = 0; i < m.override_count; ++i)
        if (m.overrides[i].irq == o.irq) return Error::InvalidArgument;
      if (m.override_count == kMaxIsaOverrides) return Error::NoSpace;
      m.overrides[m.override_count++] = o;
    }
    at += len;
  }
  return m;
}

}  // namespace keel::acpi
