// device_sys.cc — device authority: interrupts, I/O ports and device memory,
// all made from the Resource (object/resource.h).
#include <acpi/system.h>
#include <lib/console.h>
#include <lib/klog.h>
#include <arch/x86_64/cpu.h>
#include <lib/spinlock.h>
#include <ktl/align.h>
#include <mm/vm.h>
#include <object/interrupt.h>
#include <object/ioports.h>
#include <object/notification.h>
#include <object/resource.h>
#include <syscalls/common.h>
#include <vm/memory_object.h>

namespace syscalls {
namespace {

// The CPU's physical address width (CPUID 0x80000008 EAX[7:0]; 36 bits on a
// CPU too old to report it).
unsigned physical_address_bits() {
  if (x86::cpuid(0x80000000).eax < 0x80000008) return 36;
  return x86::cpuid(0x80000008).eax & 0xff;
}

bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

// Whether [phys, phys + size) (not wrapping) touches a device the kernel
// drives through memory: a local APIC, an IOAPIC, the HPET. One page each.
bool overlaps_kernel_devices(uint64_t phys, uint64_t size) {
  const uint64_t page = mm::kPageSize;
  if (overlaps(phys, size, x86::rdmsr(x86::kMsrApicBase) & ~(page - 1), page)) return true;
  const acpi::AcpiInfo& acpi = acpi::info();
  if (acpi.madt.present && overlaps(phys, size, ktl::align_down(acpi.madt.lapic_address, page), page)) return true;
  for (size_t i = 0; i < acpi.madt.ioapic_count; ++i)
    if (overlaps(phys, size, ktl::align_down(acpi.madt.ioapics[i].address, page), page)) return true;
  if (acpi.hpet.present && overlaps(phys, size, ktl::align_down(acpi.hpet.address, page), page)) return true;
  return false;
}

bool valid_port_width(uint32_t width) { return width == 1 || width == 2 || width == 4; }

// PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2): bit 31
// enable, bus 23:16, device 15:11, function 10:8, register 7:2 at port
// 0xcf8; then the dword at 0xcfc. The pair is one operation: g_pci_lock
// (interrupts off while held) keeps every other CPU's pair out of it.
constexpr uint16_t kPciConfigAddress = 0xcf8, kPciConfigData = 0xcfc;
klib::SpinLock g_pci_lock;

bool valid_pci_register(uint32_t address, uint32_t offset) { return address <= 0xffff && offset < 256 && offset % 4 == 0; }

uint32_t pci_config_selector(uint32_t address, uint32_t offset) { return 0x80000000u | address << 8 | offset; }

}  // namespace

int64_t sys_interrupt_create(Handle resource, uint32_t irq, Handle notification, uint64_t bits, UserAddr out) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  auto n = lookup<object::Notification>(notification, kRightSignal);
  if (!n.ok()) return abi_error(n.error());
  if (bits == 0) return abi_error(ktl::Error::InvalidArgument);
  if (!x86::user_range_ok(out, sizeof(Handle))) return abi_error(ktl::Error::Fault);
  auto irq_obj = object::Interrupt::create(irq, n.release_value(), bits, &current_process().quota());
  if (!irq_obj.ok()) return abi_error(irq_obj.error());
  ktl::RefPtr<object::Interrupt> interrupt = irq_obj.release_value();
  // The line stays masked until the handle is out, so a failure here (the
  // object dies unbound) has had no effect.
  if (auto r = give_handle(interrupt, kInterruptDefaultRights, out); !r.ok()) return to_abi(r);
  interrupt->enable();
  return 0;
}

int64_t sys_interrupt_create_msi(Handle resource, Handle notification, uint64_t bits, UserAddr out,
                                 UserAddr msi) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  auto n = lookup<object::Notification>(notification, kRightSignal);
  if (!n.ok()) return abi_error(n.error());
  if (bits == 0) return abi_error(ktl::Error::InvalidArgument);
  if (!x86::user_range_ok(out, sizeof(Handle)) || !x86::user_range_ok(msi, sizeof(MsiMessage)))
    return abi_error(ktl::Error::Fault);
  MsiMessage message{};
  auto irq_obj =
      object::Interrupt::create_msi(n.release_value(), bits, &current_process().quota(), &message.address, &message.data);
  if (!irq_obj.ok()) return abi_error(irq_obj.error());
  ktl::RefPtr<object::Interrupt> interrupt = irq_obj.release_value();
  // The pair first: if it cannot be written, the object dies unbound and no
  // handle was ever visible.
  if (auto w = x86::write_user(msi, message); !w.ok()) return to_abi(w);
  if (auto r = give_handle(interrupt, kInterruptDefaultRights, out); !r.ok()) return to_abi(r);
  interrupt->enable();
  return 0;
}

int64_t sys_interrupt_ack(Handle h) {
  auto interrupt = lookup<object::Interrupt>(h, kRightWrite);
  if (!interrupt.ok()) return abi_error(interrupt.error());
  (*interrupt)->ack();
  return 0;
}

int64_t sys_ioports_create(Handle resource, uint32_t base, uint32_t count, UserAddr out) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  auto ports = object::IoPorts::create(base, count, &current_process().quota());
  if (!ports.ok()) return abi_error(ports.error());
  return to_abi(give_handle(ports.release_value(), kIoPortsDefaultRights, out));
}

int64_t sys_ioport_read(Handle h, uint32_t port, uint32_t width, UserAddr out) {
  auto ports = lookup<object::IoPorts>(h, kRightRead);
  if (!ports.ok()) return abi_error(ports.error());
  if (!valid_port_width(width)) return abi_error(ktl::Error::InvalidArgument);
  if (!(*ports)->contains(port, width)) return abi_error(ktl::Error::OutOfRange);
  // Checked before the access: reading a port can have side effects (it
  // acknowledges or consumes data in many devices).
  if (!x86::user_range_ok(out, sizeof(uint32_t))) return abi_error(ktl::Error::Fault);
  return to_abi(x86::write_user(out, (*ports)->read(port, width)));
}

int64_t sys_ioport_write(Handle h, uint32_t port, uint32_t width, uint32_t value) {
  auto ports = lookup<object::IoPorts>(h, kRightWrite);
  if (!ports.ok()) return abi_error(ports.error());
  if (!valid_port_width(width)) return abi_error(ktl::Error::InvalidArgument);
  if (width < 4 && (value >> (8 * width)) != 0) return abi_error(ktl::Error::InvalidArgument);
  if (!(*ports)->contains(port, width)) return abi_error(ktl::Error::OutOfRange);
  (*ports)->write(port, width, value);
  return 0;
}

int64_t sys_pci_config_read(Handle resource, uint32_t address, uint32_t offset, UserAddr out) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  if (!valid_pci_register(address, offset)) return abi_error(ktl::Error::InvalidArgument);
  if (!x86::user_range_ok(out, sizeof(uint32_t))) return abi_error(ktl::Error::Fault);
  uint32_t value;
  {
    klib::SpinLockGuard guard(g_pci_lock);
    x86::outl(kPciConfigAddress, pci_config_selector(address, offset));
    value = x86::inl(kPciConfigData);
  }
  return to_abi(x86::write_user(out, value));
}

int64_t sys_pci_config_write(Handle resource, uint32_t address, uint32_t offset, uint32_t value) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  if (!valid_pci_register(address, offset)) return abi_error(ktl::Error::InvalidArgument);
  klib::SpinLockGuard guard(g_pci_lock);
  x86::outl(kPciConfigAddress, pci_config_selector(address, offset));
  x86::outl(kPciConfigData, value);
  return 0;
}

int64_t sys_devmem_create(Handle resource, uint64_t phys, size_t size, UserAddr out) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  if (size == 0 || size > vm::MemoryObject::kMaxSize) return abi_error(ktl::Error::InvalidArgument);
  if (!ktl::is_aligned(phys, mm::kPageSize) || !ktl::is_aligned(size, mm::kPageSize))
    return abi_error(ktl::Error::Misaligned);
  uint64_t end;
  if (!ktl::checked_add(phys, size, end) || end > (uint64_t(1) << physical_address_bits()))
    return abi_error(ktl::Error::OutOfRange);
  if (overlaps_kernel_devices(phys, size)) return abi_error(ktl::Error::AccessDenied);
  // RAM is refused, but for the firmware's ACPI tables in ACPI-reclaimable
  // memory (never given to the frame allocator): those only read-only, the
  // handle without kRightWrite (so no writable mapping, no vmo_write).
  Rights rights = kDeviceMemoryDefaultRights;
  bool uncached = true;
  if (mm::is_ram(phys, size)) {
    if (!mm::is_acpi_tables(phys, size)) return abi_error(ktl::Error::AccessDenied);
    rights &= ~kRightWrite;
    uncached = false;  // RAM: the same (write-back) memory type as the kernel's direct map
  }
  // Device memory is a MemoryObject over the fixed range, mapped uncached;
  // vm_map takes it like any MemoryObject.
  auto vmo = vm::MemoryObject::create_physical(phys, size, uncached, &current_process().quota());
  if (!vmo.ok()) return abi_error(vmo.error());
  int64_t r = to_abi(give_handle(vmo.release_value(), rights, out));
  // A userspace framebuffer driver takes the screen over from the kernel's console.
  if (r == 0) console_framebuffer_claimed(phys, size, current_process().id());
  return r;
}

}  // namespace syscalls

namespace syscalls {

int64_t sys_system_poweroff(Handle resource, uint32_t reboot) {
  auto res = lookup<object::Resource>(resource, kRightManage);
  if (!res.ok()) return abi_error(res.error());
  if (reboot > 1) return abi_error(ktl::Error::InvalidArgument);
  // The last lines reach the consoles first: another CPU may still be
  // printing (then our records are left to it), and S5 would cut it short.
  constexpr uint64_t kFlushSpins = 200'000'000;  // a bound of about a second
  if (reboot) {
    klog::notice("keel: rebooting (requested by process {})", current_process().id());
    (void)klib::kernel_log().flush_wait(kFlushSpins);
    acpi::reboot();
  }
  klog::notice("keel: powering off (ACPI S5, requested by process {})", current_process().id());
  (void)klib::kernel_log().flush_wait(kFlushSpins);
  ktl::Error e = acpi::poweroff();
  klog::warn("keel: power-off failed: {}", ktl::error_name(e));
  return abi_error(ktl::Error::Unsupported);
}

}  // namespace syscalls
