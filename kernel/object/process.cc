// process.cc — process creation, its threads, exit and teardown.
#include <arch/x86_64/apic.h>
#include <arch/x86_64/cpu.h>
#include <arch/x86_64/fpu.h>
#include <arch/x86_64/interrupts.h>
#include <arch/x86_64/layout.h>
#include <arch/x86_64/percpu.h>
#include <arch/x86_64/tlb.h>
#include <lib/klog.h>
#include <mm/vm.h>
#include <object/process.h>
#include <sched/scheduler.h>

#include <new>

namespace object {
namespace {

// ctx: the address space's page-table root (only CPUs that have it loaded
// are asked).
void flush_user_tlb(void* root, uint64_t virt, uint64_t size) {
  x86::tlb_shootdown_space(reinterpret_cast<uint64_t>(root), virt, size);
}

uint64_t aslr_seed() {
  // RDRAND when the CPU has it, mixed with the TSC.
  uint64_t seed = x86::rdtsc() * 0x9e3779b97f4a7c15ull;
  if (x86::cpuid(1).ecx & (1u << 30)) {
    uint64_t r = 0;
    unsigned char ok = 0;
    asm volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
    if (ok) seed ^= r;
  }
  return seed | 1;
}

// Called by the scheduler when a user thread exits (any reason).
void user_thread_exit_hook(sched::Thread* t) {
  if (t->process) static_cast<Process*>(t->process)->on_thread_exit(t);
}

}  // namespace

ktl::Result<ktl::RefPtr<Process>> Process::create(const char* name, size_t name_len, Process* creator) {
  sched::set_user_exit_hook(&user_thread_exit_hook);
  Quota* parent = creator != nullptr ? creator->quota_.get() : nullptr;
  if (parent != nullptr) TRY(parent->charge(charge_bytes()));
  // From here the Process takes the charge over once it exists; until then a
  // failure returns it.
  // The root task's quota holds the whole system (every process descends
  // from it): as much kernel memory as there is RAM. Others start with the
  // default and may be lowered (process_set_limits).
  const uint64_t limit_bytes =
      parent != nullptr ? kDefaultQuotaBytes : mm::frame_allocator_unlocked().total_frames() * mm::kPageSize;
  const uint32_t limit_objects = parent != nullptr ? kDefaultQuotaObjects : kRootQuotaObjects;
  auto quota = Quota::create(limit_bytes, limit_objects, parent);
  Process* raw = quota.ok() ? new (std::nothrow) Process(quota->get(), parent) : nullptr;
  if (!raw) {
    if (parent != nullptr) parent->uncharge(charge_bytes());
    return ktl::Error::NoMemory;
  }
  ktl::RefPtr<Process> p = ktl::adopt_ref(raw);
  for (size_t i = 0; i < name_len && i + 1 < kNameSize && name[i]; ++i) p->name_[i] = name[i];
  p->aspace_ = TRY(vm::AddressSpace::create(mm::frame_allocator_unlocked(), mm::kernel_page_table(), aslr_seed(),
                                            p->quota_.get()));
  p->aspace_->set_tlb_flush({&flush_user_tlb, reinterpret_cast<void*>(p->aspace_->root())});
  p->parent_id_ = creator != nullptr ? creator->id() : 0;
  p->register_self();
  return p;
}

klib::SpinLock& Process::registry_lock() {
  static klib::SpinLock lock;
  return lock;
}

Process::Registry& Process::registry() {
  static Registry list;
  return list;
}

void Process::register_self() {
  klib::SpinLockGuard guard(registry_lock());
  // Ids grow with creation, but two CPUs may register out of order: insert
  // after the last process with a smaller id (almost always the tail).
  Registry& r = registry();
  Registry later;
  for (Process* p = r.back(); p != nullptr && p->id() > id(); p = r.back()) {
    r.remove(p);
    later.push_front(p);
  }
  r.push_back(this);
  for (Process* p = later.pop_front(); p != nullptr; p = later.pop_front()) r.push_back(p);
}

Process::~Process() {
  if (registry_node_.linked()) {
    klib::SpinLockGuard guard(registry_lock());
    registry().remove(this);
  }
  if (aspace_) aspace_->destroy();
}

uint64_t Process::thread_charge_bytes() { return sizeof(sched::Thread) + KSTACK_SIZE + x86::fpu_state_size(); }

ktl::Result<ktl::RefPtr<sched::Thread>> Process::create_thread(const char* name, size_t name_len, uint64_t entry,
                                                               uint64_t stack, uint64_t arg) {
  char buf[sched::Thread::kNameSize] = {};
  for (size_t i = 0; i < name_len && i + 1 < sizeof buf && name[i]; ++i) buf[i] = name[i];
  // The scheduler makes threads without a quota: charge first, then hand the
  // charge to the new Thread, which returns it when it is destroyed (and
  // keeps the quota alive until then, even after this process is gone).
  const uint64_t charge = thread_charge_bytes();
  TRY(quota_->charge(charge));
  auto created = sched::Thread::create_user(buf, ktl::RefPtr<KernelObject>(this), this, aspace_->root(), entry, stack,
                                            arg, sched::kDefaultPriority);
  if (!created.ok()) {
    quota_->uncharge(charge);
    return created.error();
  }
  ktl::RefPtr<sched::Thread> t = created.release_value();
  t->take_charge(quota_.get(), charge);
  uint64_t flags = lock_.lock();
  if (killing_ || finished_) {
    lock_.unlock(flags);
    return ktl::Error::BadState;
  }
  t->ref();  // the list's reference, dropped when the thread leaves it
  threads_.push_back(t.get());
  lock_.unlock(flags);
  return t;
}

ktl::Result<void> Process::start_thread(sched::Thread* t, uint64_t entry, uint64_t stack, uint64_t arg) {
  if (t->process != this) return ktl::Error::InvalidArgument;
  uint64_t flags = lock_.lock();
  if (killing_ || finished_) {
    lock_.unlock(flags);
    return ktl::Error::BadState;
  }
  if (t->state() != sched::ThreadState::New || !t->process_node.linked()) {
    lock_.unlock(flags);
    return ktl::Error::BadState;
  }
  t->user_entry = entry;
  t->user_stack = stack;
  t->user_arg = arg;
  ++live_threads_;
  lock_.unlock(flags);
  ktl::Result<void> r = sched::start(t);
  if (!r.ok()) {
    flags = lock_.lock();
    --live_threads_;
    lock_.unlock(flags);
  }
  return r;
}

ktl::Result<void> Process::set_pager(ktl::RefPtr<ipc::Endpoint> endpoint, uint64_t badge) {
  uint64_t flags = lock_.lock();
  if (finished_ || killing_) {
    lock_.unlock(flags);
    return ktl::Error::BadState;
  }
  ktl::RefPtr<ipc::Endpoint> old = static_cast<ktl::RefPtr<ipc::Endpoint>&&>(pager_);
  pager_ = static_cast<ktl::RefPtr<ipc::Endpoint>&&>(endpoint);
  pager_badge_ = badge;
  lock_.unlock(flags);
  return ktl::ok();  // `old` is dropped here, outside the lock
}

ktl::RefPtr<ipc::Endpoint> Process::pager(uint64_t* badge) {
  uint64_t flags = lock_.lock();
  ktl::RefPtr<ipc::Endpoint> p = pager_;
  *badge = pager_badge_;
  lock_.unlock(flags);
  return p;
}

void Process::discard_unstarted(sched::Thread* t) {
  uint64_t flags = lock_.lock();
  bool listed = t->state() == sched::ThreadState::New && t->process_node.linked();
  if (listed) {
    threads_.remove(t);
    t->state_.store(sched::ThreadState::Dead);  // can never be started now
  }
  lock_.unlock(flags);
  if (listed) (void)t->unref();  // the caller still holds a reference
}

void Process::on_thread_exit(sched::Thread* t) {
  uint64_t flags = lock_.lock();
  bool listed = t->process_node.linked();
  if (listed) threads_.remove(t);
  bool last = --live_threads_ == 0;
  if (last) finished_ = true;  // no thread may start after this
  lock_.unlock(flags);
  if (listed) (void)t->unref();  // the scheduler still holds one: t lives on until reaped
  if (last) finish_exit();
}

void Process::on_zero_handles() {
  uint64_t flags = lock_.lock();
  const bool idle = live_threads_ == 0 && !finished_ && !killing_;
  lock_.unlock(flags);
  if (idle) kill(kExitCodeKilled);
}

void Process::kill(int64_t code) {
  uint64_t flags = lock_.lock();
  if (killing_ || finished_) {  // already dying or gone: the exit code stays
    lock_.unlock(flags);
    return;
  }
  killing_ = true;
  exit_code_ = code;
  for (sched::Thread* t = threads_.front(); t; t = threads_.next(t)) {
    t->kill_pending.store(true, std::memory_order_release);
    sched::unpark(t, ktl::Error::Interrupted);  // a parked thread returns and notices
  }
  bool none_running = live_threads_ == 0;
  if (none_running) finished_ = true;
  lock_.unlock(flags);
  // Threads running in user mode on other CPUs enter the kernel on the next
  // interrupt; make that now.
  x86::lapic_send_ipi_others(x86::IpiMode::Fixed, x86::kVectorReschedule);
  if (none_running) finish_exit();
}

void Process::finish_exit() {
  // The calling thread may be the last one of this process and still run on
  // its page tables: move it to the kernel's before they go. (A thread of
  // another process killing this one keeps its own.)
  if (sched::Thread* self = sched::current(); self && self->process == this) {
    uint64_t flags = x86::read_rflags();
    x86::cli();
    self->page_table_root = 0;
    x86::this_cpu()->loaded_cr3.store(mm::kernel_page_table_root(), std::memory_order_seq_cst);
    x86::write_cr3(mm::kernel_page_table_root());
    if (flags & (1 << 9)) x86::sti();
  }
  // Threads created but never started leave with the process.
  for (;;) {
    uint64_t flags = lock_.lock();
    sched::Thread* t = threads_.pop_front();
    lock_.unlock(flags);
    if (!t) break;
    ktl::RefPtr<sched::Thread> drop = ktl::adopt_ref(t);
  }
  {
    uint64_t flags = lock_.lock();
    ktl::RefPtr<ipc::Endpoint> old = static_cast<ktl::RefPtr<ipc::Endpoint>&&>(pager_);
    lock_.unlock(flags);
  }
  handles_.clear();
  aspace_->destroy();
  {
    uint64_t flags = exit_waiters_.lock().lock();
    exited_ = true;
    exit_waiters_.lock().unlock(flags);
  }
  exit_waiters_.wake_all();
  klog::debug("process {} ({}) exited with code {}", id(), name_, exit_code_);
}

ktl::Error Process::wait_exit(uint64_t deadline_ns) {
  return exit_waiters_.wait(deadline_ns, [&] { return exited_; });
}

}  // namespace object
