// PCI configuration space logic (keel/pci.h): BAR sizing and decoding, the
// capability walk, MSI/MSI-X decoding, bus enumeration through bridges.
#include <keel/pci.h>

namespace keel::pci {

using ktl::Error;

void ConfigSpace::write16(Address a, uint16_t offset, uint16_t value) {
  const uint16_t aligned = offset & ~3;
  const unsigned shift = (offset & 2) * 8;
  uint32_t v = read32(a, aligned);
  // The other half keeps its value, except that a write-1-to-clear status
  // register beside the command register must see zeros.
  if (aligned == kRegCommand) v &= 0x0000ffff;
  v = (v & ~(uint32_t(0xffff) << shift)) | (uint32_t(value) << shift);
  write32(a, aligned, v);
}

ktl::Result<void> walk_capabilities(ConfigSpace& cs, Address a, uint8_t header_type, CapabilityVisitor visit,
                                    void* ctx) {
  if (!(cs.read16(a, kRegStatus) & kStatusCapabilities)) return {};
  const uint16_t pointer_reg = (header_type & 0x7f) == 2 ? 0x14 : kRegCapabilities;
  // The two low bits of every pointer are reserved: software masks them.
  uint8_t at = cs.read8(a, pointer_reg) & 0xfc;
  for (unsigned n = 0; at != 0; ++n) {
    if (n == kMaxCapabilities) return Error::Overflow;
    if (at < 0x40) return Error::InvalidArgument;
    const uint16_t head = cs.read16(a, at);
    if (!visit(ctx, uint8_t(head), at)) return {};
    at = uint8_t(head >> 8) & 0xfc;
  }
  return {};
}

ktl::Result<Msi> decode_msi(ConfigSpace& cs, Address a, uint8_t offset) {
  const uint16_t control = cs.read16(a, uint16_t(offset + 2));
  const unsigned mmc = (control >> 1) & 7;
  if (mmc > 5) return Error::InvalidArgument;
  Msi m;
  m.present = true;
  m.offset = offset;
  m.address_64 = control & (1 << 7);
  m.per_vector_mask = control & (1 << 8);
  m.max_vectors = uint8_t(1u << mmc);
  return m;
}

ktl::Result<MsiX> decode_msix(ConfigSpace& cs, Address a, uint8_t offset) {
  const uint16_t control = cs.read16(a, uint16_t(offset + 2));
  const uint32_t table = cs.read32(a, uint16_t(offset + 4));
  const uint32_t pba = cs.read32(a, uint16_t(offset + 8));
  if ((table & 7) > 5 || (pba & 7) > 5) return Error::InvalidArgument;
  MsiX m;
  m.present = true;
  m.offset = offset;
  m.table_size = uint16_t((control & 0x7ff) + 1);
  m.table_bar = uint8_t(table & 7);
  m.table_offset = table & ~7u;
  m.pba_bar = uint8_t(pba & 7);
  m.pba_offset = pba & ~7u;
  return m;
}

namespace {

// The physical address of [offset, offset + bytes) inside `b`, if it fits.
ktl::Result<uint64_t> inside_bar(const Bar& b, uint32_t offset, uint64_t bytes) {
  if ((b.kind != BarKind::Mem32 && b.kind != BarKind::Mem64) || b.base == 0 || b.size == 0)
    return Error::InvalidArgument;
  if (offset > b.size || bytes > b.size - offset) return Error::OutOfRange;
  uint64_t phys = 0;
  if (__builtin_add_overflow(b.base, uint64_t(offset), &phys)) return Error::OutOfRange;
  return phys;
}

}  // namespace

ktl::Result<MsiXLocation> locate_msix(const MsiX& m, const Bar* bars, unsigned bar_count) {
  if (!m.present || m.table_size == 0 || m.table_bar >= bar_count || m.pba_bar >= bar_count ||
      bar_count > kMaxBars)
    return Error::InvalidArgument;
  MsiXLocation l;
  l.table_bytes = uint64_t(m.table_size) * kMsiXEntryBytes;
  l.pba_bytes = (uint64_t(m.table_size) + 63) / 64 * 8;
  l.table_phys = TRY(inside_bar(bars[m.table_bar], m.table_offset, l.table_bytes));
  l.pba_phys = TRY(inside_bar(bars[m.pba_bar], m.pba_offset, l.pba_bytes));
  return l;
}

namespace {

// The size a mask of address bits stands for: the lowest set bit, if the
// set bits are contiguous up to bit 63 (else 0: malformed).
uint64_t size_of_mask(uint64_t mask) {
  if (mask == 0) return 0;
  const uint64_t size = mask & (~mask + 1);  // lowest set bit
  if (uint64_t(mask | (size - 1)) != ~uint64_t(0)) return 0;  // holes in the mask
  return size;
}

}  // namespace

Bar decode_bar(uint32_t original, uint32_t mask, uint32_t original_high, uint32_t mask_high) {
  Bar b;
  if (mask == 0 && mask_high == 0) return b;  // not implemented
  if (original & 1) {
    // I/O: bits 31:2 are the address. A device may implement only the low
    // 16 bits (x86 ports): the upper ones then read back 0.
    uint32_t m = mask & ~3u;
    if (m == 0) return b;
    if ((m & 0xffff0000u) == 0) m |= 0xffff0000u;
    const uint64_t size = size_of_mask(0xffffffff00000000ull | m);
    if (size == 0) {
      b.kind = BarKind::Invalid;
      return b;
    }
    b.kind = BarKind::Io;
    b.base = original & ~3u;
    b.size = size;
    return b;
  }
  const unsigned type = (original >> 1) & 3;
  if (type == 3) {  // reserved
    b.kind = BarKind::Invalid;
    return b;
  }
  uint64_t m;  // the writable address bits, as a 64-bit mask
  if (type == 2) {
    m = (uint64_t(mask_high) << 32) | (mask & ~0xfu);
  } else {  // 32-bit (type 1: the legacy below-1-MiB kind)
    if ((mask & ~0xfu) == 0) return b;  // nothing writable: not implemented
    m = 0xffffffff00000000ull | (mask & ~0xfu);
  }
  if (m == 0) return b;
  const uint64_t size = size_of_mask(m);
  if (size == 0) {
    b.kind = BarKind::Invalid;
    return b;
  }
  b.kind = type == 2 ? BarKind::Mem64 : BarKind::Mem32;
  b.prefetchable = original & (1 << 3);
  b.base = type == 2 ? (uint64_t(original_high) << 32) | (original & ~0xfu) : (original & ~0xfu);
  b.size = size;
  return b;
}

void size_bars(ConfigSpace& cs, Address a, unsigned count, Bar* out) {
  if (count > kMaxBars) count = kMaxBars;
  const uint16_t command = cs.read16(a, kRegCommand);
  // No decoding while a BAR holds all ones: it would claim addresses that
  // belong to others.
  cs.write16(a, kRegCommand, command & ~(kCommandIo | kCommandMemory));
  for (unsigned i = 0; i < count; ++i) {
    const uint16_t reg = uint16_t(kRegBar0 + 4 * i);
    const uint32_t original = cs.read32(a, reg);
    cs.write32(a, reg, 0xffffffff);
    const uint32_t mask = cs.read32(a, reg);
    cs.write32(a, reg, original);
    const bool is_64 = !(original & 1) && ((original >> 1) & 3) == 2;
    if (!is_64) {
      out[i] = decode_bar(original, mask);
      continue;
    }
    if (i + 1 == count) {  // a 64-bit BAR needs the next slot
      out[i] = Bar{};
      out[i].kind = BarKind::Invalid;
      continue;
    }
    const uint16_t high_reg = uint16_t(reg + 4);
    const uint32_t original_high = cs.read32(a, high_reg);
    cs.write32(a, high_reg, 0xffffffff);
    const uint32_t mask_high = cs.read32(a, high_reg);
    cs.write32(a, high_reg, original_high);
    out[i] = decode_bar(original, mask, original_high, mask_high);
    out[++i] = Bar{};  // the upper half
  }
  cs.write16(a, kRegCommand, command);
}

namespace {

struct CapabilityState {
  ConfigSpace* cs;
  Function* f;
  bool bad = false;
};

bool on_capability(void* ctx, uint8_t id, uint8_t offset) {
  auto* s = static_cast<CapabilityState*>(ctx);
  if (id == kCapMsi && !s->f->msi.present) {
    auto m = decode_msi(*s->cs, s->f->address, offset);
    if (m.ok()) s->f->msi = *m;
    else s->bad = true;
  } else if (id == kCapMsiX && !s->f->msix.present) {
    auto m = decode_msix(*s->cs, s->f->address, offset);
    if (m.ok()) s->f->msix = *m;
    else s->bad = true;
  }
  return true;
}

}  // namespace

ktl::Result<Function> probe(ConfigSpace& cs, Address a) {
  const uint32_t id = cs.read32(a, kRegVendor);
  if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) return Error::NotFound;
  Function f;
  f.address = a;
  f.vendor = uint16_t(id);
  f.device = uint16_t(id >> 16);
  const uint32_t cls = cs.read32(a, kRegRevision);
  f.revision = uint8_t(cls);
  f.prog_if = uint8_t(cls >> 8);
  f.subclass = uint8_t(cls >> 16);
  f.class_code = uint8_t(cls >> 24);
  const uint8_t ht = cs.read8(a, kRegHeaderType);
  f.header_type = ht & 0x7f;
  f.multifunction = ht & 0x80;
  if (f.header_type == 0) {
    f.bar_count = 6;
    const uint32_t sub = cs.read32(a, kRegSubsystemVendor);
    f.subsystem_vendor = uint16_t(sub);
    f.subsystem = uint16_t(sub >> 16);
  } else if (f.header_type == 1) {
    f.bar_count = 2;
    f.secondary_bus = cs.read8(a, kRegSecondaryBus);
    f.subordinate_bus = cs.read8(a, kRegSubordinateBus);
  }
  if (f.header_type <= 1) {
    f.interrupt_line = cs.read8(a, kRegInterruptLine);
    f.interrupt_pin = cs.read8(a, kRegInterruptLine + 1);
    if (f.interrupt_pin > 4) f.interrupt_pin = 0;  // reserved values: no pin we can route
  }
  size_bars(cs, a, f.bar_count, f.bars);
  CapabilityState s{&cs, &f};
  if (!walk_capabilities(cs, a, f.header_type, &on_capability, &s).ok() || s.bad) f.capabilities_malformed = true;
  return f;
}

namespace {

struct Enumerator {
  ConfigSpace& cs;
  uint8_t first, last;
  FunctionSink& sink;
  uint64_t scanned[4] = {};  // one bit per bus

  bool mark(uint8_t bus) {
    uint64_t& w = scanned[bus / 64];
    const uint64_t bit = uint64_t(1) << (bus % 64);
    if (w & bit) return false;
    w |= bit;
    return true;
  }

  void keep(const Function& f) {
    if (sink.count < sink.capacity) sink.functions[sink.count++] = f;
    else sink.overflowed = true;
  }

  // Depth first, with an explicit stack: a hostile topology cannot recurse deep.
  void run() {
    uint8_t stack[256];
    unsigned top = 0;
    if (mark(first)) stack[top++] = first;
    while (top > 0) {
      const uint8_t bus = stack[--top];
      uint8_t children[kDevicesPerBus * kFunctionsPerDevice];
      unsigned nchildren = 0;
      for (unsigned dev = 0; dev < kDevicesPerBus; ++dev) {
        for (unsigned fn = 0; fn < kFunctionsPerDevice; ++fn) {
          auto f = probe(cs, Address{bus, uint8_t(dev), uint8_t(fn)});
          if (!f.ok()) {
            if (fn == 0) break;  // no device: its other functions are not probed
            continue;
          }
          keep(*f);
          if (f->header_type == 1) {
            const uint8_t s = f->secondary_bus;
            if (s > bus && s >= first && s <= last && mark(s)) children[nchildren++] = s;
          }
          if (fn == 0 && !f->multifunction) break;
        }
      }
      // Push in reverse so that the first bridge's bus is scanned first.
      while (nchildren > 0 && top < sizeof stack) stack[top++] = children[--nchildren];
    }
  }
};

}  // namespace

void enumerate(ConfigSpace& cs, uint8_t first_bus, uint8_t last_bus, FunctionSink& sink) {
  if (last_bus < first_bus) return;
  Enumerator e{cs, first_bus, last_bus, sink};
  e.run();
}

IntxRoute route_intx(const Function& f, const IntxChipset& c, const acpi::Madt& madt, uint32_t* gsi) {
  if (f.interrupt_pin == 0) return IntxRoute::NoPin;
  const bool i440fx = c.host_vendor == 0x8086 && c.host_device == 0x1237;
  const bool piix = c.isa_vendor == 0x8086 && (c.isa_device == 0x7000 || c.isa_device == 0x7110);
  if (!i440fx || !piix) return IntxRoute::NeedsPrt;
  const uint8_t line = f.interrupt_line;
  // IRQs 0, 1, 2, 8 and 13 are never PCI lines (PIIX3 datasheet, PIRQRC:
  // reserved values); 0xff is "unknown".
  if (line < 3 || line > 15 || line == 8 || line == 13) return IntxRoute::NotRouted;
  bool named = false;
  for (unsigned link = 0; link < 4; ++link) {
    const uint8_t r = uint8_t(c.pirq_routes >> (8 * link));
    if (!(r & 0x80) && (r & 0x0f) == line) named = true;
  }
  if (!named) return IntxRoute::NotRouted;
  uint16_t flags = 0;
  const uint32_t g = madt.isa_gsi(line, &flags);
  if ((flags & acpi::kMpsTriggerMask) != acpi::kMpsLevel) return IntxRoute::NotLevel;
  *gsi = g;
  return IntxRoute::Routed;
}

const char* intx_route_name(IntxRoute r) {
  switch (r) {
    case IntxRoute::Routed: return "routed";
    case IntxRoute::NoPin: return "no INTx pin";
    case IntxRoute::NeedsPrt: return "INTx routing on this chipset needs the ACPI _PRT";
    case IntxRoute::NotRouted: return "the interrupt line is no IRQ the firmware routed a PCI link to";
    case IntxRoute::NotLevel: return "the MADT does not make the interrupt line level-triggered";
  }
  return "unknown";
}

const char* class_name(uint8_t class_code, uint8_t subclass) {
  switch (class_code) {
    case 0x00:
      return subclass == 0x01 ? "VGA-compatible device" : "unclassified";
    case 0x01:
      switch (subclass) {
        case 0x01: return "IDE controller";
        case 0x06: return "SATA controller";
        case 0x08: return "NVMe controller";
        default: return "storage controller";
      }
    case 0x02:
      return subclass == 0x00 ? "Ethernet controller" : "network controller";
    case 0x03:
      return subclass == 0x00 ? "VGA controller" : "display controller";
    case 0x04:
      return subclass == 0x03 ? "audio device" : "multimedia controller";
    case 0x05:
      return "memory controller";
    case 0x06:
      switch (subclass) {
        case 0x00: return "host bridge";
        case 0x01: return "ISA bridge";
        case 0x04: return "PCI bridge";
        default: return "bridge";
      }
    case 0x07:
      return "communication controller";
    case 0x08:
      return "system peripheral";
    case 0x09:
      return "input device";
    case 0x0c:
      switch (subclass) {
        case 0x03: return "USB controller";
        case 0x05: return "SMBus controller";
        default: return "serial bus controller";
      }
    default:
      return "unknown";
  }
}

}  // namespace keel::pci
