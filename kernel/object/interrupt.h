// object/interrupt.h — Interrupt: a hardware interrupt line (GSI) bound to a
// Notification, so that a user-space driver can wait for its device.
//
// Binding. create() takes a GSI (an IOAPIC input, numbered as in the ACPI
// MADT). ISA IRQs are not translated here: user space maps an ISA IRQ to its
// GSI with the MADT's interrupt source overrides (on QEMU q35, IRQ 0 is GSI 2;
// the others are identity-mapped). The line's trigger mode and polarity come
// from the MADT too: a GSI that an ISA IRQ reaches takes that IRQ's override
// flags, ISA defaults (edge, active high) where they say "bus default"; any
// other GSI is taken to be a PCI line (level, active low).
//
// Each bound GSI gets its own vector in [kFirstVector, kLastVector] and is
// routed to the BSP. At most one Interrupt exists per GSI.
//
// Delivery. When the line fires the kernel ORs `bits` into the notification.
//  - A level-triggered line is also masked at the IOAPIC before the EOI (it
//    would fire again at once while the device holds it asserted) and stays
//    masked until the driver has serviced the device and calls ack().
//  - An edge-triggered line is not masked: an edge that arrived while it was
//    masked would be lost (the IOAPIC does not latch it), and an edge cannot
//    storm. Interrupts before the driver's next wait coalesce in the
//    notification's bits; ack() does nothing.
// So one driver loop works for both: wait, service the device, ack.
//
// Message-signalled interrupts (create_msi) have no line: the kernel only
// reserves a vector on the BSP and reports the MSI address/data pair that
// makes a device raise it (Intel SDM Vol. 3A §11.11). A message is an edge:
// never masked, ack() does nothing.
//
// Lifetime. The line is unbound (masked, its vector freed) when the last
// handle is closed, or at the latest when the object is destroyed. A vector
// may be reused at once; an interrupt already pending in the BSP's local APIC
// for the old line can then show up as one spurious signal of the new one.
//
// Locking: one global spinlock (interrupt.cc) guards the vector table and
// every Interrupt's state; the interrupt handler takes it too. Lock order:
// that lock → the IOAPIC lock → the notification's wait-queue lock (and the
// scheduler locks under it, when the signal wakes a thread).
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <object/notification.h>
#include <object/object.h>
#include <object/quota.h>

#include <cstdint>

namespace x86 {
struct InterruptFrame;
}

namespace object {

class Interrupt final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Interrupt;
  // Vectors for user-space device interrupts (160: below the kernel's 0xf0+).
  static constexpr uint8_t kFirstVector = 0x40;
  static constexpr uint8_t kLastVector = 0xdf;

  // Binds GSI `gsi` to `notification` and `bits`, charged to `quota` (may be
  // null). The line is routed but stays masked until enable(), so that a
  // caller can still fail (and drop the object) without any effect.
  // Errors: InvalidArgument (`bits` 0 or no notification); Busy (`gsi` is
  // bound already, or is the GSI of ISA IRQ 0, the PIT, whose ports the
  // kernel keeps);
  // OutOfRange (no IOAPIC has `gsi`); NoSpace (every vector is in use);
  // QuotaExceeded; NoMemory.
  static ktl::Result<ktl::RefPtr<Interrupt>> create(uint32_t gsi, ktl::RefPtr<Notification> notification,
                                                    uint64_t bits, Quota* quota);

  // A message-signalled interrupt bound to `notification` and `bits`; the
  // MSI address and data a device must write go to *address and *data. No
  // delivery until enable(). Errors: InvalidArgument, NoSpace, QuotaExceeded,
  // NoMemory (as create()).
  static ktl::Result<ktl::RefPtr<Interrupt>> create_msi(ktl::RefPtr<Notification> notification, uint64_t bits,
                                                        Quota* quota, uint64_t* address, uint32_t* data);

  ~Interrupt() override;

  // Unmasks the line: the first delivery can happen from here on.
  void enable();
  // The driver has serviced the device: unmasks a level-triggered line that
  // fired. Does nothing otherwise (edge-triggered, or not fired since).
  void ack();

  bool is_msi() const { return msi_; }
  uint32_t gsi() const { return gsi_; }  // meaningless for an MSI
  uint8_t vector() const { return vector_; }  // read without the lock: for logs and tests
  bool level_triggered() const { return level_; }
  bool active_low() const { return active_low_; }

 private:
  Interrupt(uint32_t gsi, bool msi, bool level, bool active_low, ktl::RefPtr<Notification> notification,
            uint64_t bits, Quota* quota);
  static ktl::Result<ktl::RefPtr<Interrupt>> make(uint32_t gsi, bool msi, bool level, bool active_low,
                                                  ktl::RefPtr<Notification> notification, uint64_t bits,
                                                  Quota* quota);

  void on_zero_handles() override { unbind(); }
  // Takes a vector and (for a line) routes the GSI to it, masked. Errors:
  // as create().
  ktl::Result<void> bind();
  // Masks the line and frees its vector; idempotent.
  void unbind();
  // The line fired: mask it if level-triggered, signal. Global lock held.
  void fire_locked();
  // The handler of every vector in [kFirstVector, kLastVector]; `ctx` is
  // the vector's index in the table.
  static void on_vector(x86::InterruptFrame& frame, void* ctx);

  const uint32_t gsi_;
  const bool msi_;  // message-signalled: no GSI, no IOAPIC route
  const bool level_;
  const bool active_low_;
  const ktl::RefPtr<Notification> notification_;
  const uint64_t bits_;
  // Guarded by the global lock (interrupt.cc).
  uint8_t vector_ = 0;    // valid while bound_
  bool bound_ = false;    // holds a vector and an IOAPIC route
  bool enabled_ = false;  // enable() has run: deliveries signal
  bool masked_ = false;   // a level line fired and awaits ack()
};

}  // namespace object
