// object/interrupt.cc — binding GSIs to vectors and notifications (see interrupt.h).
#include <arch/x86_64/apic.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/percpu.h>
#include <lib/spinlock.h>
#include <object/interrupt.h>

#include <new>
#include <utility>

namespace object {
namespace {

constexpr unsigned kVectorCount = Interrupt::kLastVector - Interrupt::kFirstVector + 1;

// Guards g_owner and the bind state of every Interrupt (vector_, bound_,
// enabled_, masked_). Taken by the interrupt handler: see the lock order in
// interrupt.h.
klib::SpinLock g_lock;
// The Interrupt bound to vector kFirstVector + i, or null (a free vector).
// Raw pointers: an Interrupt clears its entry (unbind) before it dies, and the
// handler uses the pointer only under g_lock.
Interrupt* g_owner[kVectorCount];

// ISA IRQs of devices the kernel keeps (their I/O ports are refused too): the
// PIT. (COM1's IRQ 4 goes to the userspace serial driver: ioports.h.)
constexpr uint8_t kKernelIsaIrqs[] = {0};

struct LineMode {
  bool level;
  bool active_low;
};

// The trigger mode and polarity of `gsi` (see interrupt.h).
LineMode line_mode(uint32_t gsi) {
  for (uint8_t irq = 0; irq < 16; ++irq) {
    uint16_t flags = 0;
    if (x86::isa_irq_to_gsi(irq, &flags) != gsi) continue;
    // MADT interrupt source override flags (ACPI 6.5 §5.2.12.5): polarity in
    // bits 0-1 and trigger mode in bits 2-3, each 1 = active high / edge,
    // 3 = active low / level, 0 = the bus's default, which for ISA is edge,
    // active high. An IRQ without an override reports 0.
    return {((flags >> 2) & 3) == 3, (flags & 3) == 3};
  }
  return {true, true};  // no ISA IRQ reaches it: a PCI line, level-triggered and active low
}

bool kernel_owned(uint32_t gsi) {
  for (uint8_t irq : kKernelIsaIrqs)
    if (x86::isa_irq_to_gsi(irq) == gsi) return true;
  return false;
}

}  // namespace

Interrupt::Interrupt(uint32_t gsi, bool msi, bool level, bool active_low, ktl::RefPtr<Notification> notification,
                     uint64_t bits, Quota* quota)
    : KernelObject(kType, quota, quota ? sizeof(Interrupt) : 0),
      gsi_(gsi),
      msi_(msi),
      level_(level),
      active_low_(active_low),
      notification_(std::move(notification)),
      bits_(bits) {}

ktl::Result<ktl::RefPtr<Interrupt>> Interrupt::create(uint32_t gsi, ktl::RefPtr<Notification> notification,
                                                      uint64_t bits, Quota* quota) {
  if (!notification || bits == 0) return ktl::Error::InvalidArgument;
  if (kernel_owned(gsi)) return ktl::Error::Busy;
  const LineMode mode = line_mode(gsi);
  return make(gsi, false, mode.level, mode.active_low, std::move(notification), bits, quota);
}

ktl::Result<ktl::RefPtr<Interrupt>> Interrupt::create_msi(ktl::RefPtr<Notification> notification, uint64_t bits,
                                                          Quota* quota, uint64_t* address, uint32_t* data) {
  if (!notification || bits == 0) return ktl::Error::InvalidArgument;
  ktl::RefPtr<Interrupt> irq = TRY(make(0, true, false, false, std::move(notification), bits, quota));
  // Intel SDM Vol. 3A §11.11.1: 0xFEE in bits 31..20, the destination APIC ID
  // in bits 19..12, RH = 0 and DM = 0 (physical destination). §11.11.2: the
  // vector in bits 7..0, delivery mode 000 (fixed), trigger mode 0 (edge).
  *address = 0xfee00000u | (uint64_t(x86::cpu(0).apic_id & 0xff) << 12);
  *data = irq->vector_;
  return irq;
}

ktl::Result<ktl::RefPtr<Interrupt>> Interrupt::make(uint32_t gsi, bool msi, bool level, bool active_low,
                                                    ktl::RefPtr<Notification> notification, uint64_t bits,
                                                    Quota* quota) {
  if (quota) TRY(quota->charge(sizeof(Interrupt)));
  auto* irq = new (std::nothrow) Interrupt(gsi, msi, level, active_low, std::move(notification), bits, quota);
  if (!irq) {
    if (quota) quota->uncharge(sizeof(Interrupt));
    return ktl::Error::NoMemory;
  }
  ktl::RefPtr<Interrupt> ref = ktl::adopt_ref(irq);
  TRY(ref->bind());  // on error `ref` dies unbound
  return ref;
}

Interrupt::~Interrupt() { unbind(); }

ktl::Result<void> Interrupt::bind() {
  klib::SpinLockGuard guard(g_lock);
  if (!msi_) {
    for (const Interrupt* other : g_owner)
      if (other && !other->msi_ && other->gsi_ == gsi_) return ktl::Error::Busy;
    // Masking an unbound line changes nothing (they are all masked) and tells
    // whether an IOAPIC has the GSI.
    if (!x86::ioapic_mask(gsi_, true).ok()) return ktl::Error::OutOfRange;
  }
  unsigned i = 0;
  while (i < kVectorCount && g_owner[i]) ++i;
  if (i == kVectorCount) return ktl::Error::NoSpace;
  const uint8_t vector = uint8_t(kFirstVector + i);
  // The same handler and context for a vector every time: rewriting them is
  // harmless even if that vector is being dispatched on another CPU.
  x86::set_interrupt_handler(vector, &Interrupt::on_vector, reinterpret_cast<void*>(uintptr_t(i)));
  if (msi_) {
    g_owner[i] = this;
    vector_ = vector;
    bound_ = true;
    return ktl::ok();
  }
  if (!x86::ioapic_route(gsi_, vector, x86::cpu(0).apic_id, active_low_, level_).ok())
    return ktl::Error::OutOfRange;  // not reached: the mask above found the GSI
  // ioapic_route leaves the line unmasked; keep it masked until enable(). An
  // interrupt accepted in between reaches on_vector, which ignores it (not
  // enabled) and is EOI'd as usual; a level line still asserted fires again
  // after enable().
  (void)x86::ioapic_mask(gsi_, true);
  g_owner[i] = this;
  vector_ = vector;
  bound_ = true;
  return ktl::ok();
}

void Interrupt::unbind() {
  klib::SpinLockGuard guard(g_lock);
  if (!bound_) return;
  if (!msi_) (void)x86::ioapic_mask(gsi_, true);
  g_owner[vector_ - kFirstVector] = nullptr;
  bound_ = enabled_ = masked_ = false;
}

void Interrupt::enable() {
  klib::SpinLockGuard guard(g_lock);
  if (!bound_ || enabled_) return;
  enabled_ = true;
  masked_ = false;
  if (!msi_) (void)x86::ioapic_mask(gsi_, false);
}

void Interrupt::ack() {
  klib::SpinLockGuard guard(g_lock);
  if (!bound_ || !enabled_ || !masked_) return;
  masked_ = false;
  (void)x86::ioapic_mask(gsi_, false);
}

void Interrupt::fire_locked() {
  // Level: masked before interrupt_dispatch sends the EOI, so the line, still
  // asserted until the driver services the device, does not fire again.
  if (level_) {
    (void)x86::ioapic_mask(gsi_, true);
    masked_ = true;
  }
  notification_->signal(bits_);
}

void Interrupt::on_vector(x86::InterruptFrame&, void* ctx) {
  const auto i = reinterpret_cast<uintptr_t>(ctx);
  klib::SpinLockGuard guard(g_lock);
  Interrupt* irq = i < kVectorCount ? g_owner[i] : nullptr;
  if (irq && irq->enabled_) irq->fire_locked();
}

}  // namespace object
