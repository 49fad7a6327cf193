// pci_match.cc — init's `match pci` hand-out (pci_match.h).
//
// devmgr knows where the devices are; init holds the Resource and starts the
// services. So init asks devmgr (kSummary, kDeviceInfo, kBarInfo: answers
// that carry no authority) where the matched function is, then makes the
// DeviceMemory, IoPorts and Interrupt objects itself and gives them only to
// the matched driver, whose program the policy must allow (`device PATH pci
// VVVV:DDDD`, checked before this runs). The MSI capability is programmed
// here, through a DeviceMemory mapping of the function's one configuration
// page, with the address/data pair the kernel returns (MsiMessage).
#include "pci_match.h"

#include <keel/lock.h>
#include <keel/pci.h>
#include <keel/proto/devmgr.h>
#include <keel/start.h>
#include <keel/rpc.h>
#include <ktl/format.h>

namespace init_pci {
namespace {

namespace sys = keel::sys;
namespace proto = keel::proto::devmgr;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;

constexpr uint64_t kPage = keel::kPageSize;
constexpr uint64_t kCallTimeout = 2'000'000'000;
constexpr size_t kMaxClaims = 16;

// Which service holds which function (bus << 16 | device << 8 | function).
// A claim is by service name and never released, so a restarted driver gets
// its function back and no other service ever does. Each service's
// supervisor thread claims for it: g_claims_lock guards the table.
struct Claim {
  char service[keel::kMaxNameLength + 1] = {};
  uint32_t where = 0;
  bool used = false;
  bool given = false;  // handed out: devmgr names it as the function's driver
};
Claim g_claims[kMaxClaims];
keel::SpinLock g_claims_lock;

bool same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// Claims `where` for `service`: false if another service holds it.
bool claim(const char* service, uint32_t where) {
  g_claims_lock.lock();
  Claim* free_slot = nullptr;
  for (Claim& c : g_claims) {
    if (!c.used) {
      if (!free_slot) free_slot = &c;
      continue;
    }
    if (c.where == where) {
      const bool mine = same(c.service, service);
      g_claims_lock.unlock();
      return mine;
    }
  }
  if (!free_slot) {
    g_claims_lock.unlock();
    return false;
  }
  free_slot->used = true;
  free_slot->where = where;
  size_t i = 0;
  for (; service[i] && i < keel::kMaxNameLength; ++i) free_slot->service[i] = service[i];
  free_slot->service[i] = 0;
  g_claims_lock.unlock();
  return true;
}

// Tells devmgr that `service` drives the function at `where` (kSetDriver).
void tell(Handle devmgr, uint32_t where, const char* service) {
  keel::IpcMessage m{};
  m.words[0] = where;
  const uint32_t at = keel::rpc::put_string(m, 1, service);
  m.tag = keel::rpc::tag(proto::kSetDriver, at);
  if (Status st = keel::rpc::call(devmgr, m, keel::now_ns() + kCallTimeout); st != Status::Ok)
    keel::print("init: devmgr refused {} as the driver of {:02x}:{:02x}.{}: {}\n", service, where >> 16,
                (where >> 8) & 0xff, where & 0xff, keel::status_name(st));
}

void mark_given(const char* service, uint32_t where) {
  g_claims_lock.lock();
  for (Claim& c : g_claims)
    if (c.used && c.where == where && same(c.service, service)) c.given = true;
  g_claims_lock.unlock();
}

Status ask(Handle devmgr, keel::IpcMessage& m, uint32_t label, uint32_t words) {
  m.tag = keel::rpc::tag(label, words);
  if (Status st = keel::rpc::call(devmgr, m, keel::now_ns() + kCallTimeout); st != Status::Ok)
    return st;
  return Status(keel::rpc::label(m));
}

Status give_named(keel::Prepared& p, const char* kind, unsigned n, Handle h) {
  char name[16];
  size_t len = ktl::format(name, sizeof name, "{}{}", kind, n);
  Status st = keel::spawn_give(p, std::string_view(name, len), h);
  if (st != Status::Ok) sys::handle_close(h);
  return st;
}

// One function's configuration space through a DeviceMemory mapping of its
// ECAM page (keel/pci.h's ConfigSpace, so that the capability walk and its
// checks are the host-tested ones).
class PageConfig final : public keel::pci::ConfigSpace {
 public:
  explicit PageConfig(volatile uint8_t* page) : page_(page) {}
  uint32_t read32(keel::pci::Address, uint16_t offset) override {
    return offset < kPage && offset % 4 == 0 ? *reinterpret_cast<volatile uint32_t*>(page_ + offset) : 0xffffffff;
  }
  void write32(keel::pci::Address, uint16_t offset, uint32_t value) override {
    if (offset < kPage && offset % 4 == 0) *reinterpret_cast<volatile uint32_t*>(page_ + offset) = value;
  }

 private:
  volatile uint8_t* page_;
};

struct Caps {
  keel::pci::Msi msi;
  keel::pci::MsiX msix;
  keel::pci::ConfigSpace* cs;
};

bool on_cap(void* ctx, uint8_t id, uint8_t offset) {
  auto* c = static_cast<Caps*>(ctx);
  if (id == keel::pci::kCapMsi && !c->msi.present) {
    if (auto m = keel::pci::decode_msi(*c->cs, {}, offset); m.ok()) c->msi = *m;
  } else if (id == keel::pci::kCapMsiX && !c->msix.present) {
    if (auto m = keel::pci::decode_msix(*c->cs, {}, offset); m.ok()) c->msix = *m;
  }
  return true;
}

// Maps `len` bytes of device memory at physical `phys` read-write: the
// address of `phys` in the mapping, *base and *size what to unmap.
Status map_phys(Handle resource, uint64_t phys, uint64_t len, volatile uint8_t** out, uint64_t* base,
                uint64_t* size) {
  const uint64_t first = phys & ~(kPage - 1);
  const uint64_t end = (phys + len + kPage - 1) & ~(kPage - 1);
  Handle dm = kInvalidHandle;
  if (int64_t r = sys::devmem_create(resource, first, end - first, &dm); r != 0) return keel::status_of(r);
  uint64_t addr = 0;
  int64_t r = sys::vm_map(keel::start_info()->self_process, dm, 0, end - first, keel::kVmRead | keel::kVmWrite, &addr);
  sys::handle_close(dm);  // the mapping keeps it
  if (r != 0) return keel::status_of(r);
  *out = reinterpret_cast<volatile uint8_t*>(addr + (phys - first));
  *base = addr;
  *size = end - first;
  return Status::Ok;
}

// Programs MSI-X table entry 0 of the function (its table located and
// checked by keel::pci::locate_msix against the BARs in `dev`) with `msg`,
// masks every other entry, and enables MSI-X (function mask off).
Status program_msix(keel::pci::ConfigSpace& cs, const keel::pci::MsiX& x, const proto::PciDevice& dev,
                    Handle resource, const keel::MsiMessage& msg) {
  namespace pci = keel::pci;
  pci::Bar bars[pci::kMaxBars];
  for (unsigned b = 0; b < pci::kMaxBars; ++b) {
    bars[b].kind = dev.bar_kind[b] == proto::kBarMem32   ? pci::BarKind::Mem32
                   : dev.bar_kind[b] == proto::kBarMem64 ? pci::BarKind::Mem64
                   : dev.bar_kind[b] == proto::kBarIo    ? pci::BarKind::Io
                                                         : pci::BarKind::None;
    bars[b].base = dev.bar_base[b];
    bars[b].size = dev.bar_size[b];
  }
  auto where = pci::locate_msix(x, bars, pci::kMaxBars);
  if (!where.ok()) {
    keel::print("init: the MSI-X table (BAR{} +{:#x}, {} entries) is refused: {}\n", x.table_bar, x.table_offset,
                x.table_size, ktl::error_name(where.error()));
    return Status::InvalidArgument;
  }
  volatile uint8_t* table = nullptr;
  uint64_t base = 0, size = 0;
  if (Status st = map_phys(resource, where->table_phys, where->table_bytes, &table, &base, &size); st != Status::Ok)
    return st;
  const uint16_t control_reg = uint16_t(x.offset + 2);
  const uint16_t control = cs.read16({}, control_reg);
  // Enabled but function-masked while the table is written (PCIe 4.0
  // §7.7.2.2: no entry can fire), then unmasked.
  cs.write16({}, control_reg, uint16_t(control | pci::kMsiXEnable | pci::kMsiXFunctionMask));
  auto word = [&](unsigned entry, uint32_t off) {
    return reinterpret_cast<volatile uint32_t*>(table + entry * pci::kMsiXEntryBytes + off);
  };
  auto set_mask = [&](unsigned e, bool masked) {
    volatile uint32_t* c = word(e, pci::kMsiXEntryControl);
    *c = masked ? (*c | pci::kMsiXVectorMasked) : (*c & ~pci::kMsiXVectorMasked);
  };
  for (unsigned e = 0; e < x.table_size; ++e) set_mask(e, true);
  *word(0, pci::kMsiXEntryAddress) = uint32_t(msg.address);
  *word(0, pci::kMsiXEntryUpper) = uint32_t(msg.address >> 32);
  *word(0, pci::kMsiXEntryData) = msg.data;
  set_mask(0, false);
  cs.write16({}, control_reg, uint16_t((control | pci::kMsiXEnable) & ~pci::kMsiXFunctionMask));
  (void)sys::vm_unmap(keel::start_info()->self_process, uintptr_t(base), size);
  return Status::Ok;
}

// Config space access of one function through the kernel's mechanism #1
// (pci_config_read/write), on machines without ECAM.
class Mechanism1 final : public keel::pci::ConfigSpace {
 public:
  Mechanism1(Handle resource, uint32_t address) : resource_(resource), address_(address) {}
  uint32_t read32(keel::pci::Address, uint16_t offset) override {
    uint32_t v = 0xffffffff;
    if (offset >= 256 || sys::pci_config_read(resource_, address_, offset, &v) != 0) return 0xffffffff;
    return v;
  }
  void write32(keel::pci::Address, uint16_t offset, uint32_t value) override {
    if (offset < 256) (void)sys::pci_config_write(resource_, address_, offset, value);
  }

 private:
  Handle resource_;
  uint32_t address_;
};

// Gives "irq" + "irq-notify"; on failure closes both.
Status give_irq(keel::Prepared& p, Handle irq, Handle n) {
  if (Status s = keel::spawn_give(p, "irq", irq); s != Status::Ok) {
    sys::handle_close(irq);
    sys::handle_close(n);
    return s;
  }
  return keel::spawn_give(p, "irq-notify", n);
}

// Binds the function's INTx line (GSI `gsi`, as devmgr routed it) to a new
// notification, with MSI and MSI-X off and INTx enabled in the command
// register; gives "irq" + "irq-notify".
Status give_intx(keel::Prepared& p, Handle resource, keel::pci::ConfigSpace& cs, uint32_t gsi) {
  Caps caps{{}, {}, &cs};
  (void)keel::pci::walk_capabilities(cs, {}, cs.read8({}, keel::pci::kRegHeaderType), &on_cap, &caps);
  if (caps.msi.present)
    cs.write16({}, uint16_t(caps.msi.offset + 2), uint16_t(cs.read16({}, uint16_t(caps.msi.offset + 2)) & ~1u));
  if (caps.msix.present)
    cs.write16({}, uint16_t(caps.msix.offset + 2),
               uint16_t(cs.read16({}, uint16_t(caps.msix.offset + 2)) & ~keel::pci::kMsiXEnable));
  Handle n = kInvalidHandle, irq = kInvalidHandle;
  if (int64_t r = sys::notification_create(&n); r != 0) return keel::status_of(r);
  if (int64_t r = sys::interrupt_create(resource, gsi, n, 1, &irq); r != 0) {
    sys::handle_close(n);
    return keel::status_of(r);
  }
  cs.write16({}, keel::pci::kRegCommand, uint16_t(cs.read16({}, keel::pci::kRegCommand) & ~(1u << 10)));
  return give_irq(p, irq, n);
}

// Allocates a message-signalled interrupt, programs the function with it —
// MSI-X entry 0 where the function has MSI-X, else its MSI capability (one
// message) — and enables it (and bus mastering, and INTx off); gives "irq" +
// "irq-notify". *kind: proto::kIrqMsi or kIrqMsiX. NotFound: neither.
Status give_msi(keel::Prepared& p, Handle resource, keel::pci::ConfigSpace& cs, const proto::PciDevice& dev,
                uint32_t* kind) {
  Caps caps{{}, {}, &cs};
  const uint8_t header = cs.read8({}, keel::pci::kRegHeaderType);
  (void)keel::pci::walk_capabilities(cs, {}, header, &on_cap, &caps);
  Status st = caps.msi.present || caps.msix.present ? Status::Ok : Status::NotFound;
  Handle n = kInvalidHandle, irq = kInvalidHandle;
  if (st == Status::Ok) st = keel::status_of(sys::notification_create(&n));
  keel::MsiMessage msg{};
  if (st == Status::Ok) st = keel::status_of(sys::interrupt_create_msi(resource, n, 1, &irq, &msg));
  if (st == Status::Ok && caps.msix.present) {
    // MSI off first: a function may use one of them at a time.
    if (caps.msi.present)
      cs.write16({}, uint16_t(caps.msi.offset + 2), uint16_t(cs.read16({}, uint16_t(caps.msi.offset + 2)) & ~1u));
    st = program_msix(cs, caps.msix, dev, resource, msg);
    *kind = proto::kIrqMsiX;
  } else if (st == Status::Ok) {
    // PCI Local Bus 3.0 §6.8.1: control at +2 (bit 0 enable, 6:4 messages
    // enabled, 7 64-bit), address at +4, upper address at +8 if 64-bit,
    // data at +8 or +12. One message.
    const uint16_t cap = caps.msi.offset;
    const uint16_t control = cs.read16({}, uint16_t(cap + 2));
    cs.write16({}, uint16_t(cap + 2), uint16_t(control & ~uint16_t(0x71)));
    cs.write32({}, uint16_t(cap + 4), uint32_t(msg.address));
    if (caps.msi.address_64) cs.write32({}, uint16_t(cap + 8), uint32_t(msg.address >> 32));
    cs.write16({}, uint16_t(cap + (caps.msi.address_64 ? 12 : 8)), uint16_t(msg.data));
    cs.write16({}, uint16_t(cap + 2), uint16_t((control & ~uint16_t(0x71)) | 1));
    *kind = proto::kIrqMsi;
  }
  if (st == Status::Ok) {
    // Command: memory and I/O decoding kept, bus master on (a message is a
    // memory write), INTx disabled.
    cs.write16({}, keel::pci::kRegCommand, uint16_t(cs.read16({}, keel::pci::kRegCommand) | (1 << 2) | (1 << 10)));
  }
  if (st != Status::Ok) {
    if (irq != kInvalidHandle) sys::handle_close(irq);
    if (n != kInvalidHandle) sys::handle_close(n);
    return st;
  }
  return give_irq(p, irq, n);
}

}  // namespace

Status give_device(keel::Prepared& p, const char* service, const keel::Grant& g, bool intx, Handle resource,
                   Handle devmgr) {
  keel::IpcMessage m{};
  if (Status st = ask(devmgr, m, proto::kSummary, 0); st != Status::Ok) {
    keel::print("init: {}: match pci {:04x}:{:04x}: devmgr does not answer: {}\n", service, g.base, g.size,
                keel::status_name(st));
    return st;
  }
  const uint64_t count = m.words[0];
  const proto::Access access = proto::Access(m.words[1]);
  const uint64_t ecam = access == proto::Access::Ecam ? m.words[2] : 0;
  proto::PciDevice dev{};
  bool found = false, taken = false;
  uint64_t index = 0, flags = 0, gsi = proto::kNoGsi, route = 0;
  for (uint64_t i = 0; i < count && !found; ++i) {
    m = keel::IpcMessage{};
    m.words[0] = i;
    if (ask(devmgr, m, proto::kDeviceInfo, 1) != Status::Ok) break;
    if (m.words[3] != g.base || m.words[4] != g.size) continue;
    const uint32_t where = uint32_t(m.words[0] << 16 | m.words[1] << 8 | m.words[2]);
    if (!claim(service, where)) {
      taken = true;
      continue;
    }
    found = true;
    index = i;
    dev.bus = uint32_t(m.words[0]);
    dev.device = uint32_t(m.words[1]);
    dev.function = uint32_t(m.words[2]);
    dev.vendor_id = uint32_t(m.words[3]);
    dev.device_id = uint32_t(m.words[4]);
    dev.class_code = uint32_t(m.words[5]);
    dev.subclass = uint32_t(m.words[6]);
    flags = m.words[11];
    gsi = m.words[15];
    route = m.words[16];
  }
  const bool configurable = access == proto::Access::Ecam || access == proto::Access::Legacy;
  if (!found || !configurable) {
    keel::print("init: {}: match pci {:04x}:{:04x}: {}\n", service, g.base, g.size,
                !configurable ? "devmgr found no PCI configuration access"
                          : taken ? "every such function is another service's" : "no such PCI function");
    return Status::NotFound;
  }
  // The BARs.
  char bars[160];
  size_t bars_len = 0;
  for (unsigned b = 0; b < 6; ++b) {
    m = keel::IpcMessage{};
    m.words[0] = index;
    m.words[1] = b;
    if (ask(devmgr, m, proto::kBarInfo, 2) != Status::Ok) break;  // OutOfRange: no more BARs
    const uint64_t kind = m.words[0], base = m.words[1], size = m.words[2];
    dev.bar_kind[b] = uint32_t(kind);
    dev.bar_base[b] = base;
    dev.bar_size[b] = size;
    if (size == 0 || base == 0) continue;
    Handle h = kInvalidHandle;
    if (kind == proto::kBarMem32 || kind == proto::kBarMem64) {
      const uint64_t first = base & ~(kPage - 1);
      const uint64_t end = (base + size + kPage - 1) & ~(kPage - 1);
      if (int64_t r = sys::devmem_create(resource, first, end - first, &h); r != 0) {
        keel::print("init: {}: BAR{} {:#x}+{:#x}: {}\n", service, b, base, size, keel::status_name(keel::status_of(r)));
        return keel::status_of(r);
      }
    } else if (kind == proto::kBarIo) {
      if (int64_t r = sys::ioports_create(resource, uint32_t(base), uint32_t(size), &h); r != 0) {
        keel::print("init: {}: BAR{} ports {:#x}+{}: {}\n", service, b, base, size, keel::status_name(keel::status_of(r)));
        return keel::status_of(r);
      }
    } else {
      continue;
    }
    if (Status st = give_named(p, "bar", b, h); st != Status::Ok) return st;
    bars_len += ktl::format(bars + bars_len, sizeof bars - bars_len, " bar{} {:#x}+{:#x}", b, base, size);
  }
  // The interrupt: MSI-X or MSI where the function has it (unless the
  // manifest says intx), else the INTx line where devmgr could route it.
  // Configuration space: the function's ECAM page, or mechanism #1.
  volatile uint8_t* page = nullptr;
  uint64_t page_base = 0, page_size = 0;
  if (access == proto::Access::Ecam) {
    const uint64_t phys = ecam + (uint64_t(dev.bus) << 20 | uint64_t(dev.device) << 15 | uint64_t(dev.function) << 12);
    if (Status st = map_phys(resource, phys, kPage, &page, &page_base, &page_size); st != Status::Ok) {
      keel::print("init: {}: cannot map its configuration space: {}\n", service, keel::status_name(st));
      return st;
    }
  }
  PageConfig ecam_cs(page);
  Mechanism1 legacy_cs(resource, dev.bus << 8 | dev.device << 3 | dev.function);
  keel::pci::ConfigSpace& cs = access == proto::Access::Ecam ? static_cast<keel::pci::ConfigSpace&>(ecam_cs)
                                                              : static_cast<keel::pci::ConfigSpace&>(legacy_cs);
  char irq_text[120] = "no interrupt";
  Status st = Status::Ok;
  if (!intx && (flags & (proto::kFlagMsi | proto::kFlagMsiX))) {
    st = give_msi(p, resource, cs, dev, &dev.irq);
    if (st != Status::Ok)
      keel::print("init: {}: cannot set up its {}: {}\n", service, flags & proto::kFlagMsiX ? "MSI-X" : "MSI",
                  keel::status_name(st));
    else ktl::format(irq_text, sizeof irq_text, "{}", dev.irq == proto::kIrqMsiX ? "MSI-X" : "MSI");
  } else if (gsi != proto::kNoGsi) {
    st = give_intx(p, resource, cs, uint32_t(gsi));
    if (st != Status::Ok) {
      keel::print("init: {}: cannot bind its INTx line (GSI {}): {}\n", service, gsi, keel::status_name(st));
    } else {
      dev.irq = proto::kIrqIntx;
      dev.gsi = uint32_t(gsi);
      ktl::format(irq_text, sizeof irq_text, "INTx (GSI {}, level)", gsi);
    }
  } else {
    ktl::format(irq_text, sizeof irq_text, "no interrupt ({}{})", intx ? "INTx: " : "no MSI; INTx: ",
                keel::pci::intx_route_name(keel::pci::IntxRoute(route)));
  }
  if (page) (void)sys::vm_unmap(keel::start_info()->self_process, uintptr_t(page_base), page_size);
  if (st != Status::Ok) return st;
  const char* irq = irq_text;
  Handle rec = kInvalidHandle;
  if (int64_t r = sys::vmo_create(kPage, 0, &rec); r != 0) return keel::status_of(r);
  if (int64_t r = sys::vmo_write(rec, 0, &dev, sizeof dev); r != 0) {
    sys::handle_close(rec);
    return keel::status_of(r);
  }
  if (Status st = keel::spawn_give(p, "pci", rec); st != Status::Ok) {
    sys::handle_close(rec);
    return st;
  }
  const uint32_t where = dev.bus << 16 | dev.device << 8 | dev.function;
  mark_given(service, where);
  tell(devmgr, where, service);
  keel::print("init: {} drives {:02x}:{:02x}.{} ({:04x}:{:04x}):{}, {}\n", service, dev.bus, dev.device, dev.function,
              dev.vendor_id, dev.device_id, std::string_view(bars, bars_len), irq);
  return Status::Ok;
}

void tell_devmgr(Handle devmgr) {
  Claim copy[kMaxClaims];
  g_claims_lock.lock();
  for (size_t i = 0; i < kMaxClaims; ++i) copy[i] = g_claims[i];
  g_claims_lock.unlock();
  for (const Claim& c : copy)
    if (c.used && c.given) tell(devmgr, c.where, c.service);
}

}  // namespace init_pci
