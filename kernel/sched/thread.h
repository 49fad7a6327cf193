// sched/thread.h — the Thread kernel object: a schedulable context with its own kernel stack.
//
// A thread runs either only in the kernel (kernel threads: idle, tests,
// kernel workers) or, for user threads, mostly in user mode (issue 3, next
// steps). Its scheduling state is guarded by `lock` (see sched/scheduler.h for
// the protocol); fields without a lock comment are set at creation and then
// read-only.
#pragma once

#include <ipc/endpoint.h>
#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <lib/spinlock.h>
#include <mm/vm.h>
#include <object/object.h>
#include <sched/run_queue.h>
#include <sched/timer_queue.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sched {

enum class ThreadState : uint8_t {
  New,        // created, never run
  Ready,      // in a run queue (or being moved to one)
  Running,    // on a CPU
  Blocked,    // parked: waiting for unpark() or its deadline
  Dead,       // exited; waiting to be reaped
};

const char* thread_state_name(ThreadState s);

class Thread final : public object::KernelObject {
 public:
  static constexpr object::ObjectType kType = object::ObjectType::Thread;
  static constexpr size_t kNameSize = 32;

  using Entry = void (*)(void* arg);

  // A Thread without a stack or entry point: for adopting a running boot
  // context (sched::init_cpu). Errors: NoMemory.
  static ktl::Result<ktl::RefPtr<Thread>> create_bare();

  // A thread of `process` that starts in user mode at `entry` with stack
  // pointer `stack` and RDI = `arg` once started. `cr3` is the process's page
  // table root. Errors: NoMemory.
  static ktl::Result<ktl::RefPtr<Thread>> create_user(const char* name, ktl::RefPtr<KernelObject> process,
                                                      void* process_raw, uint64_t cr3, uint64_t entry,
                                                      uint64_t stack, uint64_t arg, uint8_t priority);

  // A kernel thread that will run entry(arg) at `priority` (0..31) once
  // started with sched::start(). Errors: NoMemory (object or stack).
  static ktl::Result<ktl::RefPtr<Thread>> create_kernel(const char* name, Entry entry, void* arg,
                                                        uint8_t priority);

  const char* name() const { return name_; }
  ThreadState state() const { return state_.load(std::memory_order_acquire); }
  uint64_t cpu_time_ticks() const { return ticks_; }

  ~Thread() override;

  // ---- Scheduler-private. Guarded by `lock` unless noted. ----
  klib::SpinLock lock;
  std::atomic<ThreadState> state_{ThreadState::New};
  bool wake_token = false;                  // unpark() before park(): the next park returns at once
  ktl::Error wake_reason = ktl::Error::None;  // why the last park ended (None, TimedOut, Interrupted)
  SchedEntity sched{};                      // run-queue membership: guarded by the run queue's CPU lock
  TimerEntry timer{};                       // deadline of a park: guarded by that CPU's lock
  unsigned timer_cpu = 0;                   // whose timer queue `timer` is on
  unsigned last_cpu = kNoCpu;               // where it last ran (wake-up placement)
  uint64_t saved_sp = 0;                    // kernel stack pointer while switched out (owner CPU only)
  uint64_t ticks_ = 0;                      // timer ticks spent running (its CPU only)
  uint8_t priority_ceiling = 0;             // the priority it was created with: the most thread_set_priority gives (read-only)
  bool holds_own_lock_across_switch = false;  // park(): `lock` is released by the next thread
  bool requeue_after_switch = false;          // pin_current(): the next thread unparks it
  mm::KernelStack kstack{};
  char name_[kNameSize] = {};

  // ---- User threads (owner CPU only while running). ----
  bool is_user = false;
  void* fpu_area = nullptr;          // FPU/SSE/AVX state, fpu_state_size() bytes, 64-aligned
  unsigned fpu_cpu = kNoCpu;         // the CPU its state was last restored on (PerCpu::fpu_owner)
  // User FS base (TLS) and GS base (KERNEL_GS_BASE while in the kernel).
  // Only the kernel changes them (CR4.FSGSBASE is off): whoever does must
  // also update the MSR and x86::PerCpu::loaded_* if the thread is running.
  uint64_t fs_base = 0;
  uint64_t user_gs_base = 0;
  uint64_t page_table_root = 0;      // CR3 for this thread; 0 = any (kernel threads)
  uint64_t user_entry = 0, user_stack = 0, user_arg = 0;  // first entry to user mode
  // Checked on every return to user mode. The two must stay adjacent, in this
  // order: syscall.S tests them as one 16-bit word (PerCpu::current_work).
  std::atomic<bool> kill_pending{false};  // exits at its next return to user mode
  // Non-zero: parks at its next return to user mode until thread_resume
  // clears it. Bits: why (kSuspendRequested, kSuspendForeign).
  std::atomic<uint8_t> suspended{0};
  static constexpr uint8_t kSuspendRequested = 1;  // thread_suspend
  static constexpr uint8_t kSuspendForeign = 2;    // in a foreign syscall, or its handler said "suspend"
  // Parked in the return-to-user path because suspended: its user frame
  // (top of kstack) and fs_base are stable and may be read or written by
  // thread_read_state / thread_write_state. Set and cleared by the thread.
  std::atomic<bool> stopped{false};
  // Foreign ABI (thread_set_syscall_handler): set under the process lock
  // while the thread is New, read-only once it has started.
  ktl::RefPtr<ipc::Endpoint> syscall_handler;
  uint64_t syscall_handler_badge = 0;
  uint64_t foreign_syscalls = 0;     // made so far (the thread only)
  // In-process fast path (thread_set_foreign_fast, ForeignFast): changed by
  // the handler at any time, read by the thread at each foreign syscall
  // (relaxed: a call racing a change goes one way or the other; both
  // addresses are always checked user addresses).
  std::atomic<uint64_t> fast_mask[syscalls::kForeignFastMaskWords] = {};
  std::atomic<uint64_t> fast_handler{0}, fast_save{0};
  uint64_t foreign_fast = 0;         // of foreign_syscalls, taken in-process (the thread only)
  // thread_write_state on a New thread: the registers it starts with
  // (instead of user_entry/stack/arg). Guarded by the process lock until start.
  bool initial_regs_set = false;
  syscalls::UserRegs initial_regs{};
  ipc::ThreadIpc ipc;                // synchronous IPC state (ipc/endpoint.h)
  ktl::ListNode wait_node;           // on a WaitQueue: guarded by that queue's lock
  ktl::ListNode process_node;        // in its Process's thread list: guarded by the process lock
  void* process = nullptr;           // owning Process (object/process.h), kept alive by a reference
  ktl::RefPtr<KernelObject> process_ref;  // that reference

 private:
  Thread() : KernelObject(kType) {}
};

// syscall.S reads kill_pending and suspended as one 16-bit word.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(Thread, suspended) == offsetof(Thread, kill_pending) + 1);
static_assert(sizeof(std::atomic<bool>) == 1 && sizeof(std::atomic<uint8_t>) == 1);
#pragma clang diagnostic pop

}  // namespace sched
