// trap.cc — interrupt dispatch, CPU exceptions and the panic path.
//
// An exception in the kernel is a bug: it prints the exception, a register
// dump and a symbolized backtrace, stops the other CPUs with an NMI and halts
// (panic). The test runner treats the "KERNEL PANIC" line as a failure.
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/tlb.h>
#include <lib/klog.h>
#include <lib/panic.h>
#include <lib/symbolize.h>
#include <arch/x86_64/usercopy.h>
#include <mm/vm.h>
#include <object/process.h>
#include <syscall_abi.h>
#include <sched/scheduler.h>

#include <atomic>

extern "C" char __ksyms_start[], __rodata_end[];
extern "C" void user_return_work(x86::InterruptFrame* frame);

namespace x86 {
namespace {

struct Handler {
  InterruptHandler fn;
  void* ctx;
};
Handler g_handlers[256];
std::atomic<int> g_panicking{0};
bool g_debug_exit = false;

// ctx: the faulting address space's page-table root (only CPUs that have it
// loaded can hold its entries: tlb.h).
void user_flush(void* root, uint64_t virt, uint64_t size) {
  tlb_shootdown_space(reinterpret_cast<uint64_t>(root), virt, size);
}

const char* const kExceptionNames[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "BOUND range exceeded",
    "invalid opcode", "device not available", "double fault", "coprocessor segment overrun",
    "invalid TSS", "segment not present", "stack-segment fault", "general protection",
    "page fault", "reserved (15)", "x87 floating-point error", "alignment check",
    "machine check", "SIMD floating-point", "virtualization", "control protection",
    "reserved (22)", "reserved (23)", "reserved (24)", "reserved (25)", "reserved (26)",
    "reserved (27)", "hypervisor injection", "VMM communication", "security", "reserved (31)"};

// Writes straight to the log in panic mode (which never waits for a lock).
template <typename... A>
void emerg(std::string_view fmt, const A&... args) {
  klib::kernel_log().log(klib::LogLevel::Emergency, fmt, args...);
}

const klib::SymbolTable& symbols() {
  static klib::SymbolTable table;
  static bool loaded = false;
  if (!loaded) {
    loaded = true;
    auto t = klib::SymbolTable::from_bytes(klib::kernel_symbol_table_bytes());
    if (t.ok()) table = *t;
  }
  return table;
}

void print_symbol(const char* prefix, uint64_t addr) {
  auto s = symbols().lookup(addr);
  if (s.ok())
    emerg("{}{:#018x} {}+{:#x}", prefix, addr, s->name, s->offset);
  else
    emerg("{}{:#018x} ?", prefix, addr);
}

// Walks the frame-pointer chain (the kernel is built with frame pointers),
// checking each frame is mapped and aligned before reading it.
void backtrace(uint64_t rbp, uint64_t rip) {
  emerg("backtrace:");
  print_symbol("  ", rip);
  for (int depth = 0; depth < 32 && rbp; ++depth) {
    if ((rbp & 7) || rbp < 0xffff800000000000ull) break;
    if (!mm::kernel_address_mapped(rbp) || !mm::kernel_address_mapped(rbp + 15)) break;
    const uint64_t* frame = reinterpret_cast<const uint64_t*>(rbp);
    uint64_t ret = frame[1];
    if (ret == 0) break;
    print_symbol("  ", ret - 1);  // -1: the call instruction, not the one after it
    if (frame[0] <= rbp) break;   // stacks grow down: callers' frames are higher
    rbp = frame[0];
  }
}

void dump_registers(const InterruptFrame& f) {
  emerg("RIP {:#018x} CS {:#06x} RFLAGS {:#010x}", f.rip, f.cs, f.rflags);
  emerg("RSP {:#018x} SS {:#06x} error code {:#x}", f.rsp, f.ss, f.error_code);
  emerg("RAX {:#018x} RBX {:#018x} RCX {:#018x}", f.rax, f.rbx, f.rcx);
  emerg("RDX {:#018x} RSI {:#018x} RDI {:#018x}", f.rdx, f.rsi, f.rdi);
  emerg("RBP {:#018x} R8  {:#018x} R9  {:#018x}", f.rbp, f.r8, f.r9);
  emerg("R10 {:#018x} R11 {:#018x} R12 {:#018x}", f.r10, f.r11, f.r12);
  emerg("R13 {:#018x} R14 {:#018x} R15 {:#018x}", f.r13, f.r14, f.r15);
  emerg("CR0 {:#018x} CR2 {:#018x} CR3 {:#018x} CR4 {:#010x}", read_cr0(), read_cr2(), read_cr3(),
        read_cr4());
}

// this_cpu() reads %gs:0, which faults before the GS base is set.
PerCpu* safe_this_cpu() { return rdmsr(kMsrGsBase) ? this_cpu() : nullptr; }

// First CPU to panic wins; any other CPU that panics (or gets the stop NMI) halts.
void enter_panic() {
  int expected = 0;
  if (!g_panicking.compare_exchange_strong(expected, 1)) halt_forever();
  klib::kernel_log().enter_panic_mode();
  lapic_send_ipi_others(IpiMode::Nmi, 0);
}

[[noreturn]] void finish_panic() {
  emerg("System halted.");
  if (g_debug_exit) outb(0xf4, 0x01);  // QEMU isa-debug-exit: status (1 << 1) | 1 = 3
  halt_forever();
}

[[noreturn]] void kernel_exception(InterruptFrame& f) {
  enter_panic();
  PerCpu* c = safe_this_cpu();
  emerg("KERNEL PANIC: CPU exception {} ({}) on CPU {}", f.vector, exception_name(f.vector),
        c ? c->index : 0);
  if (f.vector == 14) {
    emerg("page fault at {:#018x}: {} {} in {} mode{}", read_cr2(),
          (f.error_code & 1) ? "protection violation" : "page not present",
          (f.error_code & 16) ? "on instruction fetch" : (f.error_code & 2) ? "on write" : "on read",
          (f.error_code & 4) ? "user" : "kernel", (f.error_code & 8) ? " (reserved bit set)" : "");
  }
  // An overflow into a guard page usually arrives as #DF (the #PF cannot be
  // pushed on the broken stack): look at CR2 and the saved RSP either way.
  if (f.vector == 14 || f.vector == 8) {
    uint64_t cr2 = read_cr2();
    if (mm::is_stack_guard_page(cr2) || mm::is_stack_guard_page(f.rsp))
      emerg("kernel stack overflow: the guard page below a kernel stack was hit");
  }
  dump_registers(f);
  backtrace(f.rbp, f.rip);
  finish_panic();
}

// A page fault on a user address: resolved through the current process's
// address space (demand paging, copy-on-write). Returns true if resolved.
bool resolve_user_fault(uint64_t addr, uint64_t error_code) {
  sched::Thread* t = sched::current();
  if (!t || !t->process || addr >= kUserTop) return false;
  auto* proc = static_cast<object::Process*>(t->process);
  auto r = proc->aspace().handle_fault(addr, error_code & 2, error_code & 16, true, {&user_flush, reinterpret_cast<void*>(proc->aspace().root())});
  return r == vm::AddressSpace::FaultResult::Resolved;
}

// A page fault the kernel could not resolve goes to the process's pager, if
// it has one: the faulting thread makes a kernel-built call (label
// kPagerLabelFault, words: address, access, and the thread's syscall-handler
// badge) and waits for the reply. Another CPU exception goes there too, with
// 4 words: the rip of the instruction, 0 (no access), the vector, the badge.
// (The badge names the faulting thread to a foreign-ABI server: 0 without a
// handler.) Returns true if the pager answered "retry" (label 0).
bool ask_pager(object::Process& proc, sched::Thread& t, const InterruptFrame& f) {
  uint64_t badge = 0;
  ktl::RefPtr<ipc::Endpoint> pager = proc.pager(&badge);
  if (!pager) return false;
  ipc::ThreadIpc& me = t.ipc;
  if (f.vector == 14) {
    me.msg.tag = (uint64_t(syscalls::kPagerLabelFault) << 32) | (uint64_t(3) << 24);
    me.msg.words[0] = read_cr2();
    me.msg.words[1] = (f.error_code & 16)  ? syscalls::kVmExecute
                      : (f.error_code & 2) ? syscalls::kVmWrite
                                           : syscalls::kVmRead;
    me.msg.words[2] = t.syscall_handler_badge;
  } else {
    me.msg.tag = (uint64_t(syscalls::kPagerLabelFault) << 32) | (uint64_t(4) << 24);
    me.msg.words[0] = f.rip;
    me.msg.words[1] = 0;
    me.msg.words[2] = f.vector;
    me.msg.words[3] = t.syscall_handler_badge;
  }
  me.handle_count = 0;
  sti();  // from user mode: no kernel lock is held
  ktl::Error e = pager->send(badge, /*is_call=*/true, UINT64_MAX);
  cli();
  if (me.handle_count) object::HandleTable::discard_transferred({me.handles, me.handle_count});
  me.handle_count = 0;
  return e == ktl::Error::None && (me.msg.tag >> 32) == 0;
}

// The exceptions a pager is told about besides #PF: those an instruction of
// the thread itself raises (#DE #DB #BP #OF #BR #UD #GP #MF #AC #XM), not
// #DF, #MC and the like.
bool pager_exception(uint64_t vector) {
  switch (vector) {
    case 0: case 1: case 3: case 4: case 5: case 6: case 13: case 16: case 17: case 19: return true;
    default: return false;
  }
}

// A fault in user mode that could not be resolved (and that no pager
// resolved): the process dies with kExitCodeFaultBase - vector.
void user_exception(InterruptFrame& f) {
  sched::Thread* t = sched::current();
  auto* proc = t ? static_cast<object::Process*>(t->process) : nullptr;
  if (proc && (f.vector == 14 || pager_exception(f.vector)) && ask_pager(*proc, *t, f)) return;  // retry
  if (f.vector == 14)
    klog::warn("user fault: 14 (page fault) in thread '{}' of process '{}' at rip {:#x}, address {:#x}",
               t ? t->name() : "?", proc ? proc->name() : "?", f.rip, read_cr2());
  else
    klog::warn("user fault: {} ({}) in thread '{}' of process '{}' at rip {:#x}", f.vector,
               exception_name(f.vector), t ? t->name() : "?", proc ? proc->name() : "?", f.rip);
  if (proc) proc->kill(object::kExitCodeFaultBase - int64_t(f.vector));
  if (t) t->kill_pending.store(true);
}

}  // namespace

void set_interrupt_handler(uint8_t vector, InterruptHandler h, void* ctx) {
  g_handlers[vector].ctx = ctx;
  std::atomic_thread_fence(std::memory_order_release);
  g_handlers[vector].fn = h;
}

const char* exception_name(uint64_t vector) { return vector < 32 ? kExceptionNames[vector] : "interrupt"; }

void set_debug_exit(bool on) { g_debug_exit = on; }

}  // namespace x86

extern "C" void interrupt_dispatch(x86::InterruptFrame* frame) {
  using namespace x86;
  const uint64_t v = frame->vector;
  if (v == 2) {  // NMI: a panic's stop signal, a TLB shootdown, or a hardware NMI
    if (g_panicking.load()) halt_forever();
    // GS is the kernel's even if the NMI hit a SYSCALL entry or exit before
    // its SWAPGS (isr.S decides by the GS base, not CS). Null only before
    // install_percpu().
    PerCpu* c = safe_this_cpu();
    if (tlb_handle_nmi()) {  // no EOI for NMIs
      if (c) ++c->nmi_count;
      return;
    }
    if (c && c->nmi_test_armed) {  // raised on purpose by an in-kernel test
      c->nmi_test_armed = false;
      ++c->nmi_count;
      return;
    }
    enter_panic();
    emerg("KERNEL PANIC: unexpected NMI on CPU {}", c ? c->index : 0);
    dump_registers(*frame);
    finish_panic();
  }
  if (v < 32) {
    if (frame->cs & 3) {  // from user mode
      if (!(v == 14 && resolve_user_fault(read_cr2(), frame->error_code))) user_exception(*frame);
      user_return_work(frame);
      return;
    }
    if (v == 14) {  // kernel mode: a user copy may touch a page not yet mapped
      if (resolve_user_fault(read_cr2(), frame->error_code)) return;
      if (uint64_t fixup = user_access_fixup_for(frame->rip)) {
        frame->rip = fixup;
        return;
      }
    }
    kernel_exception(*frame);
  }
  if (v == kVectorSpurious) return;      // no EOI for spurious interrupts (SDM §10.9)
  Handler h = g_handlers[v];
  if (h.fn) h.fn(*frame, h.ctx);
  lapic_eoi();
  if (frame->cs & 3)
    user_return_work(frame);  // kill and preemption checks before user code resumes
  else
    sched::preempt_if_needed();  // may switch threads; returns when this one runs again
}

[[noreturn]] void panic_str(std::string_view message) {
  using namespace x86;
  cli();
  enter_panic();
  PerCpu* c = safe_this_cpu();
  emerg("KERNEL PANIC: {} (CPU {})", message, c ? c->index : 0);
  backtrace(reinterpret_cast<uint64_t>(__builtin_frame_address(0)), reinterpret_cast<uint64_t>(&panic_str));
  finish_panic();
}

namespace klib {
ktl::Bytes kernel_symbol_table_bytes() {
  // The table starts at __ksyms_start; from_bytes() checks its own total_size.
  return {reinterpret_cast<const uint8_t*>(__ksyms_start),
          size_t(__rodata_end - __ksyms_start)};
}
}  // namespace klib
