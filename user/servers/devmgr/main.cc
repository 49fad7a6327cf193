// devmgr — the device manager: enumerates the PCI functions once at start and
// answers keel/proto/devmgr.h (the devices, their BARs).
//
// Configuration space is reached through ECAM (PCI Express memory-mapped
// configuration), found in the ACPI MCFG table. devmgr finds the tables
// itself: the RSDP (from the boot loader, or, as the ACPI specification
// §5.2.5.1 lets a legacy BIOS system do, in the BIOS area 0xe0000..0xfffff),
// the RSDT or XSDT it names, the MCFG among their entries — every page
// mapped read-only as DeviceMemory made from the Resource (manifest: `grant
// resource`), copied, then validated (keel/acpi.h) before use. The parsing, the BAR sizing, the capability walk
// and the bus walk are keel/acpi.h and keel/pci.h, tested on the host.
//
// Under UEFI the RSDP is only in the EFI system table: the kernel passes the
// copy the boot loader made (multiboot2 tag 14/15) as the "acpi-rsdp" module,
// which init gives with the Resource; devmgr uses it first and searches the
// BIOS area only without it. OVMF keeps its tables in ACPI-reclaimable
// memory, which devmem_create maps read-only (never writable: it is RAM).
//
// Without an MCFG (QEMU's i440FX `pc`) configuration space is reached
// through the legacy mechanism #1, ports 0xcf8/0xcfc, which the kernel keeps
// (the pair cannot be shared) and does itself under one lock:
// pci_config_read/pci_config_write. From the MADT devmgr keeps the interrupt
// source overrides, to route INTx pins where that can be done without the
// ACPI _PRT (keel::pci::route_intx: i440FX/PIIX only); kDeviceInfo reports
// the GSI or why there is none.
#include <keel/acpi.h>
#include <keel/alloc.h>
#include <keel/keel.h>
#include <keel/pci.h>
#include <keel/proto/devmgr.h>
#include <keel/rpc.h>
#include <keel/start.h>

#include <ktl/format.h>

#include <cstring>

namespace sys = keel::sys;
using keel::Handle;
using keel::kInvalidHandle;
using keel::Status;
namespace proto = keel::proto::devmgr;
namespace pci = keel::pci;
namespace acpi = keel::acpi;

namespace {

constexpr uint64_t kPage = keel::kPageSize;
constexpr size_t kMaxTableSize = 64 * 1024;  // RSDT, XSDT, MCFG are far smaller
constexpr size_t kMaxDevices = 256;
constexpr uint64_t kEcamBusSize = uint64_t(1) << 20;

Handle g_resource = kInvalidHandle;
Handle g_self = kInvalidHandle;

// ---------------------------------------------------------------- physical memory

// Copies `len` bytes at physical `phys` into `out`, through a read-only
// DeviceMemory mapping of the pages that hold them.
Status copy_phys(uint64_t phys, size_t len, uint8_t* out) {
  const uint64_t base = phys & ~(kPage - 1);
  uint64_t end = 0;
  if (__builtin_add_overflow(phys, uint64_t(len), &end)) return Status::OutOfRange;
  const uint64_t size = ((end + kPage - 1) & ~(kPage - 1)) - base;
  Handle dm = kInvalidHandle;
  if (int64_t r = sys::devmem_create(g_resource, base, size, &dm); r != 0) return keel::status_of(r);
  uint64_t addr = 0;
  if (int64_t r = sys::vm_map(g_self, dm, 0, size, keel::kVmRead, &addr); r != 0) {
    sys::handle_close(dm);
    return keel::status_of(r);
  }
  const volatile uint8_t* p = reinterpret_cast<const volatile uint8_t*>(addr + (phys - base));
  for (size_t i = 0; i < len; ++i) out[i] = p[i];
  (void)sys::vm_unmap(g_self, uintptr_t(addr), size);
  sys::handle_close(dm);
  return Status::Ok;
}

// Reads the whole ACPI table at `phys` into `buf` (its header says how long
// it is) and validates it. `signature` may be null (any).
ktl::Result<acpi::Bytes> read_table(uint64_t phys, const char* signature, uint8_t* buf, size_t cap) {
  if (copy_phys(phys, acpi::kHeaderSize, buf) != Status::Ok) return ktl::Error::AccessDenied;
  const uint32_t length = TRY(acpi::table_length(acpi::Bytes(buf, acpi::kHeaderSize)));
  if (length < acpi::kHeaderSize || length > cap) return ktl::Error::Truncated;
  if (copy_phys(phys, length, buf) != Status::Ok) return ktl::Error::AccessDenied;
  return acpi::check_table(acpi::Bytes(buf, length), signature);
}

uint8_t g_root[kMaxTableSize];  // the RSDT or XSDT
uint8_t g_table[kMaxTableSize];  // one table at a time

struct McfgSearch {
  bool found = false;
  acpi::Mcfg mcfg;
  ktl::Error error = ktl::Error::NotFound;
  bool madt_found = false;
  acpi::Madt madt;
};

void visit_entry(void* ctx, uint64_t phys) {
  auto* s = static_cast<McfgSearch*>(ctx);
  uint8_t head[acpi::kHeaderSize];
  if (copy_phys(phys, sizeof head, head) != Status::Ok) return;
  if (std::memcmp(head, "APIC", 4) == 0 && !s->madt_found) {
    // The MADT: only its interrupt source overrides (INTx routing).
    auto t = read_table(phys, "APIC", g_table, sizeof g_table);
    auto m = t.ok() ? acpi::parse_madt(*t) : ktl::Result<acpi::Madt>(t.error());
    if (m.ok()) {
      s->madt_found = true;
      s->madt = *m;
    } else {
      keel::print("devmgr: the MADT is refused: {}\n", ktl::error_name(m.error()));
    }
    return;
  }
  if (s->found || std::memcmp(head, "MCFG", 4) != 0) return;
  auto t = read_table(phys, "MCFG", g_table, sizeof g_table);
  if (!t.ok()) {
    s->error = t.error();
    return;
  }
  auto m = acpi::parse_mcfg(*t);
  if (!m.ok()) {
    s->error = m.error();
    return;
  }
  s->found = true;
  s->mcfg = *m;
}

acpi::Madt g_madt;  // the MADT's overrides (none if there is no MADT)

// Finds the MCFG: Ok and *out, or the reason there is none (logged).
bool find_mcfg(acpi::Mcfg* out) {
  // The RSDP the boot loader passed (the kernel's "acpi-rsdp" module, given
  // with the Resource), else the legacy BIOS area search.
  ktl::Result<acpi::Rsdp> rsdp = ktl::Error::NotFound;
  Handle given = kInvalidHandle;
  uint64_t given_size = 0;
  if (keel::find_module("acpi-rsdp", &given, &given_size)) {
    // Its first 20 (ACPI 1.0) or 36 bytes; the MemoryObject is a page, zero
    // after them.
    uint8_t copy[36] = {};
    if (given_size < 20 || given_size > sizeof copy) given_size = given_size < 20 ? given_size : sizeof copy;
    if (given_size < 20 || sys::vmo_read(given, 0, copy, given_size) != 0) {
      keel::print("devmgr: the boot loader's RSDP ({} bytes) is unreadable; searching the BIOS area\n", given_size);
    } else {
      rsdp = acpi::find_rsdp(acpi::Bytes(copy, given_size));
      if (rsdp.ok() && rsdp->offset == 0) keel::print("devmgr: ACPI RSDP from the boot loader (revision {})\n", rsdp->revision);
      else {
        keel::print("devmgr: the boot loader's RSDP is refused (bad signature or checksum); searching the BIOS area\n");
        rsdp = ktl::Error::NotFound;
      }
    }
  }
  if (!rsdp.ok()) {
    static uint8_t area[acpi::kBiosAreaSize];
    if (Status st = copy_phys(acpi::kBiosAreaBase, sizeof area, area); st != Status::Ok) {
      keel::print("devmgr: cannot map the BIOS area: {}\n", keel::status_name(st));
      return false;
    }
    rsdp = acpi::find_rsdp(area);
    if (!rsdp.ok()) {
      keel::print("devmgr: no ACPI RSDP (none from the boot loader, none in the BIOS area)\n");
      return false;
    }
  }
  const bool xsdt = rsdp->revision >= 2 && rsdp->xsdt != 0;
  const uint64_t root_phys = xsdt ? rsdp->xsdt : rsdp->rsdt;
  auto root = read_table(root_phys, xsdt ? "XSDT" : "RSDT", g_root, sizeof g_root);
  if (!root.ok()) {
    keel::print("devmgr: the {} at {:#x} is refused: {}\n", xsdt ? "XSDT" : "RSDT", root_phys,
                ktl::error_name(root.error()));
    return false;
  }
  static McfgSearch s;
  if (auto n = acpi::for_each_entry(*root, xsdt, &visit_entry, &s); !n.ok()) {
    keel::print("devmgr: the {} is malformed: {}\n", xsdt ? "XSDT" : "RSDT", ktl::error_name(n.error()));
    return false;
  }
  if (s.madt_found) g_madt = s.madt;
  else keel::print("devmgr: no MADT: no INTx routing\n");
  if (!s.found) {
    if (s.error == ktl::Error::NotFound) keel::print("devmgr: no MCFG table (no PCI Express ECAM)\n");
    else keel::print("devmgr: the MCFG is refused: {}\n", ktl::error_name(s.error));
    return false;
  }
  *out = s.mcfg;
  return true;
}

// ---------------------------------------------------------------- ECAM

// Configuration space through one ECAM window, mapped one bus (1 MiB) at a
// time when first touched.
class Ecam final : public pci::ConfigSpace {
 public:
  explicit Ecam(const acpi::EcamWindow& w) : window_(w) {}

  uint32_t read32(pci::Address a, uint16_t offset) override {
    volatile uint32_t* r = reg(a, offset);
    return r ? *r : 0xffffffff;
  }
  void write32(pci::Address a, uint16_t offset, uint32_t value) override {
    if (volatile uint32_t* r = reg(a, offset)) *r = value;
  }

 private:
  volatile uint32_t* reg(pci::Address a, uint16_t offset) {
    if (a.bus < window_.bus_start || a.bus > window_.bus_end || a.device >= 32 || a.function >= 8 ||
        offset >= 4096 || offset % 4)
      return nullptr;
    if (bus_[a.bus] == 0 && !map_bus(a.bus)) return nullptr;
    return reinterpret_cast<volatile uint32_t*>(bus_[a.bus] + (uint64_t(a.device) << 15) +
                                                (uint64_t(a.function) << 12) + offset);
  }

  bool map_bus(uint8_t bus) {
    if (failed_[bus]) return false;
    Handle dm = kInvalidHandle;
    uint64_t addr = 0;
    const uint64_t phys = window_.base + (uint64_t(bus) << 20);
    if (int64_t r = sys::devmem_create(g_resource, phys, kEcamBusSize, &dm); r != 0) {
      keel::print("devmgr: cannot map ECAM bus {} at {:#x}: {}\n", bus, phys, keel::status_name(keel::status_of(r)));
      failed_[bus] = true;
      return false;
    }
    if (int64_t r = sys::vm_map(g_self, dm, 0, kEcamBusSize, keel::kVmRead | keel::kVmWrite, &addr); r != 0) {
      keel::print("devmgr: cannot map ECAM bus {}: {}\n", bus, keel::status_name(keel::status_of(r)));
      sys::handle_close(dm);
      failed_[bus] = true;
      return false;
    }
    // The mapping keeps the memory; the handle is not needed again.
    sys::handle_close(dm);
    bus_[bus] = uintptr_t(addr);
    return true;
  }

  acpi::EcamWindow window_;
  uintptr_t bus_[256] = {};
  bool failed_[256] = {};
};

// Configuration space through the kernel's configuration mechanism #1
// (pci_config_read/write: ports 0xcf8/0xcfc, which the kernel keeps), for
// machines without an MCFG. Conventional space only (offsets below 256).
class Mechanism1 final : public pci::ConfigSpace {
 public:
  uint32_t read32(pci::Address a, uint16_t offset) override {
    uint32_t v = 0xffffffff;
    if (offset < 256 && sys::pci_config_read(g_resource, address(a), offset, &v) != 0) return 0xffffffff;
    return v;
  }
  void write32(pci::Address a, uint16_t offset, uint32_t value) override {
    if (offset < 256) (void)sys::pci_config_write(g_resource, address(a), offset, value);
  }

 private:
  static uint32_t address(pci::Address a) { return uint32_t(a.bus) << 8 | uint32_t(a.device & 31) << 3 | (a.function & 7); }
};

// ---------------------------------------------------------------- the devices

pci::Function g_devices[kMaxDevices];
// The service init handed each function to (kSetDriver), "" for none.
char g_driver[kMaxDevices][proto::kDriverNameMax + 1];
size_t g_device_count = 0;
proto::Access g_access = proto::Access::None;
acpi::EcamWindow g_window;

uint64_t bar_kind(pci::BarKind k) {
  switch (k) {
    case pci::BarKind::None: return proto::kBarNone;
    case pci::BarKind::Io: return proto::kBarIo;
    case pci::BarKind::Mem32: return proto::kBarMem32;
    case pci::BarKind::Mem64: return proto::kBarMem64;
    case pci::BarKind::Invalid: return proto::kBarInvalid;
  }
  return proto::kBarInvalid;
}

// What route_intx needs of the chipset: the host bridge, the ISA bridge at
// 00:01.0 and its PIRQ route control registers.
pci::IntxChipset g_chipset;
uint32_t g_gsi[kMaxDevices];
pci::IntxRoute g_route[kMaxDevices];

void route_interrupts(pci::ConfigSpace& cs) {
  for (size_t i = 0; i < g_device_count; ++i) {
    const pci::Function& f = g_devices[i];
    if (f.address == pci::Address{0, 0, 0}) {
      g_chipset.host_vendor = f.vendor;
      g_chipset.host_device = f.device;
    } else if (f.address == pci::Address{0, 1, 0}) {
      g_chipset.isa_vendor = f.vendor;
      g_chipset.isa_device = f.device;
      g_chipset.pirq_routes = cs.read32(f.address, 0x60);
    }
  }
  for (size_t i = 0; i < g_device_count; ++i) {
    g_gsi[i] = proto::kNoGsi;
    g_route[i] = pci::route_intx(g_devices[i], g_chipset, g_madt, &g_gsi[i]);
    if (g_route[i] != pci::IntxRoute::Routed) g_gsi[i] = proto::kNoGsi;
  }
}

void log_functions() {
  for (size_t i = 0; i < g_device_count; ++i) {
    const pci::Function& f = g_devices[i];
    char intx[24] = "";
    if (g_route[i] == pci::IntxRoute::Routed) ktl::format(intx, sizeof intx, ", INTx GSI {}", g_gsi[i]);
    keel::print("devmgr: {:02x}:{:02x}.{} {:04x}:{:04x} {}{}{}{}{}\n", f.address.bus, f.address.device,
                f.address.function, f.vendor, f.device, pci::class_name(f.class_code, f.subclass),
                f.msi.present ? ", MSI" : "", f.msix.present ? ", MSI-X" : "", static_cast<const char*>(intx),
                f.capabilities_malformed ? ", malformed capability list" : "");
  }
}

void enumerate() {
  acpi::Mcfg mcfg;
  const acpi::EcamWindow* w = nullptr;
  if (find_mcfg(&mcfg)) {
    // Segment 0 only: the other segments' host bridges need _SEG-aware
    // routing that Keel does not have.
    for (size_t i = 0; i < mcfg.count; ++i)
      if (mcfg.windows[i].segment == 0) {
        w = &mcfg.windows[i];
        break;
      }
    if (!w) keel::print("devmgr: the MCFG has no window for segment 0\n");
  }
  pci::ConfigSpace* cs = nullptr;
  pci::FunctionSink sink{g_devices, kMaxDevices};
  if (w) {
    g_window = *w;
    g_access = proto::Access::Ecam;
    keel::print("devmgr: ECAM at {:#x}, buses {}-{}\n", w->base, w->bus_start, w->bus_end);
    static Ecam ecam(*w);
    cs = &ecam;
  } else {
    // No ECAM: the legacy mechanism through the kernel, if it answers (the
    // host bridge 00:00.0 is there on every PC).
    static Mechanism1 legacy;
    uint32_t id = 0;
    if (sys::pci_config_read(g_resource, 0, 0, &id) != 0 || (id & 0xffff) == 0xffff) {
      keel::print("devmgr: no configuration access (no ECAM, mechanism #1 does not answer)\n");
      return;
    }
    g_window = acpi::EcamWindow{0, 0, 0, 255};
    g_access = proto::Access::Legacy;
    keel::print("devmgr: configuration mechanism #1 (no ECAM), buses 0-255\n");
    cs = &legacy;
  }
  pci::enumerate(*cs, g_window.bus_start, g_window.bus_end, sink);
  g_device_count = sink.count;
  if (sink.overflowed) keel::print("devmgr: more than {} PCI functions; the rest are ignored\n", kMaxDevices);
  route_interrupts(*cs);
  log_functions();
}

// ---------------------------------------------------------------- serving

void handle(keel::IpcMessage& m, keel::rpc::Request& req) {
  switch (keel::rpc::label(m)) {
    case proto::kDeviceInfo: {
      if (keel::rpc::words(m) < 1) return keel::rpc::reply_status(m, Status::InvalidArgument);
      if (m.words[0] >= g_device_count) return keel::rpc::reply_status(m, Status::OutOfRange);
      const pci::Function& f = g_devices[m.words[0]];
      m.words[0] = f.address.bus;
      m.words[1] = f.address.device;
      m.words[2] = f.address.function;
      m.words[3] = f.vendor;
      m.words[4] = f.device;
      m.words[5] = f.class_code;
      m.words[6] = f.subclass;
      m.words[7] = f.prog_if;
      m.words[8] = f.revision;
      m.words[9] = f.interrupt_line;
      m.words[10] = f.interrupt_pin;
      m.words[11] = (f.multifunction ? proto::kFlagMultifunction : 0) | (f.msi.present ? proto::kFlagMsi : 0) |
                    (f.msix.present ? proto::kFlagMsiX : 0) |
                    (f.capabilities_malformed ? proto::kFlagCapabilitiesMalformed : 0);
      m.words[12] = f.header_type;
      m.words[13] = f.msi.present ? f.msi.max_vectors : 0;
      m.words[14] = f.msix.present ? f.msix.table_size : 0;
      m.words[15] = g_gsi[&f - g_devices];
      m.words[16] = uint64_t(g_route[&f - g_devices]);
      const uint32_t at = keel::rpc::put_string(m, proto::kDeviceInfoWords, g_driver[&f - g_devices]);
      m.tag = keel::rpc::tag(uint32_t(Status::Ok), at);
      return;
    }
    case proto::kBarInfo: {
      if (keel::rpc::words(m) < 2) return keel::rpc::reply_status(m, Status::InvalidArgument);
      if (m.words[0] >= g_device_count) return keel::rpc::reply_status(m, Status::OutOfRange);
      const pci::Function& f = g_devices[m.words[0]];
      if (m.words[1] >= f.bar_count) return keel::rpc::reply_status(m, Status::OutOfRange);
      const pci::Bar& b = f.bars[m.words[1]];
      m.words[0] = bar_kind(b.kind);
      m.words[1] = b.base;
      m.words[2] = b.size;
      m.words[3] = b.prefetchable ? 1 : 0;
      m.tag = keel::rpc::tag(uint32_t(Status::Ok), proto::kBarInfoWords);
      return;
    }
    case proto::kSummary:
      m.words[0] = g_device_count;
      m.words[1] = uint64_t(g_access);
      m.words[2] = g_access == proto::Access::Ecam ? g_window.base : 0;
      m.words[3] = g_window.bus_start;
      m.words[4] = g_window.bus_end;
      m.tag = keel::rpc::tag(uint32_t(Status::Ok), proto::kSummaryWords);
      return;
    case proto::kSetDriver: {
      // Only init holds the unbadged endpoint handle (names mints badged
      // ones for everyone else).
      if (req.badge != 0) return keel::rpc::reply_status(m, Status::AccessDenied);
      char name[proto::kDriverNameMax + 1];
      std::string_view view;
      if (keel::rpc::words(m) < 1 || !keel::rpc::get_string(m, 1, name, sizeof name - 1, &view, nullptr))
        return keel::rpc::reply_status(m, Status::InvalidArgument);
      const uint64_t where = m.words[0];
      for (size_t i = 0; i < g_device_count; ++i) {
        const pci::Address a = g_devices[i].address;
        if ((uint64_t(a.bus) << 16 | uint64_t(a.device) << 8 | a.function) != where) continue;
        std::memcpy(g_driver[i], view.data(), view.size());
        g_driver[i][view.size()] = 0;
        return keel::rpc::reply_status(m, Status::Ok);
      }
      return keel::rpc::reply_status(m, Status::NotFound);
    }
    default:
      return keel::rpc::reply_status(m, Status::Unsupported);
  }
}

}  // namespace

int main(uint64_t) {
  uint64_t unused = 0;
  const keel::StartInfo* si = keel::start_info();
  if (!si || !keel::find_module("resource", &g_resource, &unused)) {
    keel::print("devmgr: missing start handle (resource)\n");
    return 1;
  }
  g_self = si->self_process;
  enumerate();
  keel::print("devmgr: {} PCI functions\n", g_device_count);
  Handle ep = kInvalidHandle;
  if (sys::endpoint_create(&ep) != 0) {
    keel::print("devmgr: cannot create its endpoint\n");
    return 1;
  }
  if (Status st = keel::rpc::announce_ready(ep); st != Status::Ok) {
    keel::print("devmgr: init refused ready: {}\n", keel::status_name(st));
    return 1;
  }
  Status st = keel::rpc::serve(ep, &handle, nullptr);
  keel::print("devmgr: serving failed: {}\n", keel::status_name(st));
  return 1;
}
