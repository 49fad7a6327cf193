// foreign_tests.cc — foreign-ABI threads: thread_set_syscall_handler,
// thread_read_state, thread_write_state (docs/kernel.md, Foreign ABIs).
//
// The foreign code is a few lines of assembly that execute `syscall` with
// made-up numbers, as a Linux program would; the test's own thread is the
// handler and answers each call the way the reply protocol allows.
#include <keel/keel.h>
#include <keel/spawn.h>
#include <keel/start.h>
#include <keel/utest.h>

#include <cstring>

namespace sys = keel::sys;
using keel::Handle;
using keel::Status;
using keel::UserRegs;

// rdi = a ForeignOut to fill. Numbers: 1000 (rax = the handler's answer),
// 1001 (the handler replaces every register: continues at
// foreign_after_ud2), 1002 (the handler suspends it, then writes rax = 77),
// then a spin until the handler sets `release`, then 60 (the handler kills
// the thread).
struct ForeignOut {
  uint64_t sum, rcx_after, r12, rcx, r11, fs_word, suspended_rax, spins;
  uint64_t release;
};
extern "C" void foreign_code();
extern "C" void foreign_after_ud2();
extern "C" void foreign_after_first();
asm(R"(
  .pushsection .text
  .global foreign_code, foreign_after_ud2, foreign_after_first
foreign_code:
  movq %rdi, %rbx
  movl $1000, %eax
  movl $11, %edi
  movl $12, %esi
  movl $13, %edx
  movl $14, %r10d
  movl $15, %r8d
  movl $16, %r9d
  syscall
foreign_after_first:
  movq %rax, 0(%rbx)
  movq %rcx, 8(%rbx)
  movl $1001, %eax
  syscall
  ud2
foreign_after_ud2:
  movq %r12, 16(%rbx)
  movq %rcx, 24(%rbx)
  movq %r11, 32(%rbx)
  movq %fs:0, %rax
  movq %rax, 40(%rbx)
  movl $1002, %eax
  syscall
  movq %rax, 48(%rbx)
1:
  incq 56(%rbx)
  pause
  cmpq $0, 64(%rbx)
  je 1b
  movl $60, %eax
  syscall
  ud2
  .popsection
)");

// A position-independent blob for a process of its own: one syscall (2000),
// then an endless loop of them.
extern "C" void foreign_blob();
extern "C" void foreign_blob_end();
asm(R"(
  .pushsection .text
  .global foreign_blob, foreign_blob_end
foreign_blob:
  movl $2000, %eax
  syscall
  jmp foreign_blob
foreign_blob_end:
  .popsection
)");

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSoon = 10'000 * kMs;

uint64_t deadline() { return keel::now_ns() + kSoon; }

// Receives one foreign syscall on `ep` into `regs`.
bool receive_syscall(Handle ep, UserRegs* regs, keel::IpcMessage* msg) {
  if (sys::ipc_recv(ep, msg, deadline()) != 0) return false;
  if (keel::IpcTag::label(msg->tag) != keel::kForeignSyscallLabel) return false;
  if (keel::IpcTag::words(msg->tag) != keel::kUserRegsWords || keel::IpcTag::handles(msg->tag) != 0) return false;
  memcpy(regs, msg->words, sizeof *regs);
  return true;
}

int64_t reply_rax(uint64_t rax) {
  keel::IpcMessage m{};
  m.tag = keel::IpcTag::make(keel::kForeignReplyResume, 1, 0, 0);
  m.words[0] = rax;
  return sys::ipc_reply(&m);
}

int64_t reply_regs(const UserRegs& r) {
  keel::IpcMessage m{};
  m.tag = keel::IpcTag::make(keel::kForeignReplyResume, keel::kUserRegsWords, 0, 0);
  memcpy(m.words, &r, sizeof r);
  return sys::ipc_reply(&m);
}

int64_t reply_label(uint32_t label, uint32_t words) {
  keel::IpcMessage m{};
  m.tag = keel::IpcTag::make(label, words, 0, 0);
  return sys::ipc_reply(&m);
}

// A thread of this process, not started, running foreign_code on a fresh
// stack with rdi = out, with `ep` as its handler.
Handle make_foreign_thread(Handle ep, ForeignOut* out, uint64_t* stack_top) {
  Handle th = keel::kInvalidHandle;
  if (sys::thread_create(keel::self_process(), "foreign", 7, &th) != 0) return keel::kInvalidHandle;
  if (keel::map_stack(keel::self_process(), 16 * 1024, stack_top) != Status::Ok) return keel::kInvalidHandle;
  if (sys::thread_set_syscall_handler(th, ep) != 0) return keel::kInvalidHandle;
  (void)out;
  return th;
}

// A process of its own holding only foreign_blob, its thread foreign with
// handler `ep`, started. Returns the process handle.
Handle start_blob_process(Handle ep, Handle* thread_out) {
  Handle proc = keel::kInvalidHandle, vmo = keel::kInvalidHandle, th = keel::kInvalidHandle;
  if (sys::process_create("foreign-blob", 12, &proc) != 0) return keel::kInvalidHandle;
  const size_t len = size_t(reinterpret_cast<uintptr_t>(&foreign_blob_end) - reinterpret_cast<uintptr_t>(&foreign_blob));
  if (sys::vmo_create(keel::kPageSize, 0, &vmo) != 0) return keel::kInvalidHandle;
  if (sys::vmo_write(vmo, 0, reinterpret_cast<const void*>(&foreign_blob), len) != 0) return keel::kInvalidHandle;
  uint64_t code = 0;
  if (sys::vm_map(proc, vmo, 0, keel::kPageSize, keel::kVmRead | keel::kVmExecute, &code) != 0)
    return keel::kInvalidHandle;
  sys::handle_close(vmo);
  uint64_t top = 0;
  if (keel::map_stack(proc, 16 * 1024, &top) != Status::Ok) return keel::kInvalidHandle;
  if (sys::thread_create(proc, "blob", 4, &th) != 0) return keel::kInvalidHandle;
  if (sys::thread_set_syscall_handler(th, ep) != 0) return keel::kInvalidHandle;
  if (sys::thread_start(th, code, top, 0) != 0) return keel::kInvalidHandle;
  *thread_out = th;
  return proc;
}

}  // namespace

UTEST(foreign, syscalls_reach_the_handler_with_every_register) {
  Handle ep = keel::kInvalidHandle;
  UASSERT(sys::endpoint_create(&ep) == 0);
  static ForeignOut out;
  static uint64_t tls_word;
  memset(&out, 0, sizeof out);
  tls_word = 0x7777'0000'1234;
  uint64_t top = 0;
  Handle th = make_foreign_thread(ep, &out, &top);
  UASSERT(th != keel::kInvalidHandle);
  UASSERT(sys::thread_start(th, reinterpret_cast<uintptr_t>(&foreign_code), top, reinterpret_cast<uint64_t>(&out)) ==
          0);

  keel::IpcMessage msg{};
  UserRegs r{};
  // 1000: arguments in Linux's registers; rax answered with one word.
  UASSERT(receive_syscall(ep, &r, &msg));
  UEXPECT_EQ(r.rax, 1000u);
  UEXPECT(r.rdi == 11 && r.rsi == 12 && r.rdx == 13 && r.r10 == 14 && r.r8 == 15 && r.r9 == 16);
  UEXPECT_EQ(r.rip, reinterpret_cast<uint64_t>(&foreign_after_first));
  UEXPECT_EQ(r.rbx, reinterpret_cast<uint64_t>(&out));
  UEXPECT(r.rsp <= top && r.rsp > top - 16 * 1024);
  UEXPECT_EQ(r.fs_base, 0u);
  UEXPECT_EQ(reply_rax(r.rdi + r.rsi + r.rdx + r.r10 + r.r8 + r.r9 + r.rax), 0);

  // 1001: every register replaced, rcx and r11 included, and the FS base.
  UASSERT(receive_syscall(ep, &r, &msg));
  UEXPECT_EQ(r.rax, 1001u);
  r.rip = reinterpret_cast<uint64_t>(&foreign_after_ud2);
  r.r12 = 0xabc;
  r.rcx = 0x5151;
  r.r11 = 0x6161;
  r.fs_base = reinterpret_cast<uint64_t>(&tls_word);
  UEXPECT_EQ(reply_regs(r), 0);

  // 1002: suspended by the reply; read, written, resumed.
  UASSERT(receive_syscall(ep, &r, &msg));
  UEXPECT_EQ(r.rax, 1002u);
  UEXPECT_EQ(r.fs_base, reinterpret_cast<uint64_t>(&tls_word));
  UEXPECT_EQ(reply_label(keel::kForeignReplySuspend, 0), 0);
  UserRegs s{};
  UEXPECT_EQ(sys::thread_read_state(th, &s), 0);
  UEXPECT_EQ(s.rax, 1002u);
  UEXPECT_EQ(s.rip, r.rip);
  UEXPECT_EQ(s.rbx, reinterpret_cast<uint64_t>(&out));
  s.rax = 77;
  UEXPECT_EQ(sys::thread_write_state(th, &s), 0);
  UEXPECT_EQ(sys::thread_resume(th), 0);

  // The spin: thread_suspend stops it in user code; its state reads back.
  const uint64_t end = deadline();
  while (__atomic_load_n(&out.spins, __ATOMIC_ACQUIRE) < 1000 && keel::now_ns() < end) sys::thread_yield();
  UEXPECT_EQ(sys::thread_suspend(th), 0);
  UEXPECT_EQ(sys::thread_read_state(th, &s), 0);
  UEXPECT_EQ(s.rbx, reinterpret_cast<uint64_t>(&out));
  UEXPECT_EQ(s.fs_base, reinterpret_cast<uint64_t>(&tls_word));
  const uint64_t spins = __atomic_load_n(&out.spins, __ATOMIC_ACQUIRE);
  sys::thread_sleep(keel::now_ns() + 5 * kMs);
  UEXPECT_EQ(__atomic_load_n(&out.spins, __ATOMIC_ACQUIRE), spins);  // stopped means stopped
  __atomic_store_n(&out.release, 1, __ATOMIC_RELEASE);
  UEXPECT_EQ(sys::thread_resume(th), 0);

  // 60: the handler ends it.
  UASSERT(receive_syscall(ep, &r, &msg));
  UEXPECT_EQ(r.rax, 60u);
  UEXPECT_EQ(reply_label(keel::kForeignReplySuspend, 0), 0);
  UEXPECT_EQ(sys::thread_kill(th), 0);

  UEXPECT_EQ(out.sum, 1000u + 11 + 12 + 13 + 14 + 15 + 16);
  UEXPECT_EQ(out.rcx_after, reinterpret_cast<uint64_t>(&foreign_after_first));  // as SYSCALL leaves it
  UEXPECT_EQ(out.r12, 0xabcu);
  UEXPECT_EQ(out.rcx, 0x5151u);
  UEXPECT_EQ(out.r11, 0x6161u);
  UEXPECT_EQ(out.fs_word, 0x7777'0000'1234u);
  UEXPECT_EQ(out.suspended_rax, 77u);
  sys::handle_close(th);
  sys::handle_close(ep);
}

UTEST(foreign, a_new_thread_starts_with_the_state_written) {
  Handle ep = keel::kInvalidHandle;
  UASSERT(sys::endpoint_create(&ep) == 0);
  static ForeignOut out;
  memset(&out, 0, sizeof out);
  uint64_t top = 0;
  Handle th = make_foreign_thread(ep, &out, &top);
  UASSERT(th != keel::kInvalidHandle);
  UserRegs s{};
  UEXPECT_EQ(sys::thread_read_state(th, &s), 0);  // unstarted: zeros
  UEXPECT_EQ(s.rip, 0u);
  s.rip = reinterpret_cast<uint64_t>(&foreign_code);
  s.rsp = top;
  s.rdi = reinterpret_cast<uint64_t>(&out);
  UEXPECT_EQ(sys::thread_write_state(th, &s), 0);
  UserRegs back{};
  UEXPECT_EQ(sys::thread_read_state(th, &back), 0);
  UEXPECT_EQ(back.rdi, s.rdi);
  UEXPECT_EQ(back.rip, s.rip);
  UASSERT(sys::thread_start(th, 0x1000, 0x2000, 0) == 0);  // ignored: the written state wins
  keel::IpcMessage msg{};
  UserRegs r{};
  UASSERT(receive_syscall(ep, &r, &msg));
  UEXPECT_EQ(r.rax, 1000u);
  UEXPECT_EQ(r.rbx, reinterpret_cast<uint64_t>(&out));
  UEXPECT_EQ(reply_label(keel::kForeignReplySuspend, 0), 0);
  UEXPECT_EQ(sys::thread_kill(th), 0);
  sys::handle_close(th);
  sys::handle_close(ep);
}

UTEST(foreign, refusals) {
  Handle ep = keel::kInvalidHandle, ep_ro = keel::kInvalidHandle, th = keel::kInvalidHandle;
  UASSERT(sys::endpoint_create(&ep) == 0);
  UASSERT(sys::handle_duplicate(ep, keel::kRightRead, &ep_ro) == 0);
  UASSERT(sys::thread_create(keel::self_process(), "refused", 7, &th) == 0);
  UEXPECT_EQ(sys::thread_set_syscall_handler(th, ep_ro), keel::err(Status::AccessDenied));
  UEXPECT_EQ(sys::thread_set_syscall_handler(th, th), keel::err(Status::WrongType));
  UEXPECT_EQ(sys::thread_set_syscall_handler(ep, ep), keel::err(Status::WrongType));
  UEXPECT_EQ(sys::thread_set_syscall_handler(th, 0x7fff), keel::err(Status::BadHandle));
  UEXPECT_EQ(sys::thread_set_syscall_handler(th, ep), 0);
  UEXPECT_EQ(sys::thread_set_syscall_handler(th, ep), keel::err(Status::BadState));  // once

  UserRegs s{};
  UEXPECT_EQ(sys::thread_read_state(th, nullptr), keel::err(Status::Fault));
  UEXPECT_EQ(sys::thread_read_state(th, reinterpret_cast<UserRegs*>(0xffff'8000'0000'0000)), keel::err(Status::Fault));
  s.rip = 0xffff'8000'0000'1000;  // kernel address
  UEXPECT_EQ(sys::thread_write_state(th, &s), keel::err(Status::InvalidArgument));
  s.rip = 0x1000;
  s.fs_base = 0x0000'8000'0000'0000;
  UEXPECT_EQ(sys::thread_write_state(th, &s), keel::err(Status::InvalidArgument));
  UEXPECT_EQ(sys::thread_write_state(th, nullptr), keel::err(Status::Fault));

  // The caller's own thread, and a running thread that is not suspended.
  Handle me = keel::kInvalidHandle;
  static volatile uint32_t stop;
  stop = 0;
  Handle runner = keel::start_thread(
      [](uint64_t) {
        while (!stop) sys::thread_yield();
        sys::thread_exit();
      },
      0);
  UASSERT(runner != 0);
  s = UserRegs{};
  s.rip = 0x1000;
  UEXPECT_EQ(sys::thread_read_state(runner, &s), keel::err(Status::BadState));
  UEXPECT_EQ(sys::thread_write_state(runner, &s), keel::err(Status::BadState));
  UEXPECT_EQ(sys::thread_set_syscall_handler(runner, ep), keel::err(Status::BadState));  // started
  stop = 1;
  (void)me;
  UEXPECT_EQ(sys::thread_kill(th), 0);
  sys::handle_close(th);
  sys::handle_close(runner);
  sys::handle_close(ep_ro);
  sys::handle_close(ep);
}

// A malformed reply (a bad word count, a kernel rip, an unknown label) kills
// the foreign thread's process; so does a handler that is gone.
UTEST(foreign, bad_replies_and_a_lost_handler_kill_the_process) {
  struct Case {
    const char* what;
    int kind;
  } cases[] = {{"two words", 0}, {"kernel rip", 1}, {"unknown label", 2}, {"handler gone", 3}};
  for (const Case& c : cases) {
    Handle ep = keel::kInvalidHandle, th = keel::kInvalidHandle;
    UASSERT(sys::endpoint_create(&ep) == 0);
    Handle proc = start_blob_process(ep, &th);
    UASSERT(proc != keel::kInvalidHandle);
    keel::IpcMessage msg{};
    UserRegs r{};
    UASSERT(receive_syscall(ep, &r, &msg));
    UEXPECT_EQ(r.rax, 2000u);
    if (c.kind == 3) {  // no handle with read is left: its next call finds no one
      sys::handle_close(ep);
      ep = keel::kInvalidHandle;
      UEXPECT_EQ(reply_rax(5), 0);
    } else {
      UEXPECT_EQ(reply_rax(5), 0);  // a good answer first: it loops and calls again
      UASSERT(receive_syscall(ep, &r, &msg));
      switch (c.kind) {
        case 0: UEXPECT_EQ(reply_label(keel::kForeignReplyResume, 2), 0); break;
        case 1:
          r.rip = 0xffff'ffff'8000'0000;
          UEXPECT_EQ(reply_regs(r), 0);
          break;
        default: UEXPECT_EQ(reply_label(7, 1), 0); break;
      }
    }
    int64_t code = 0;
    UEXPECT_EQ(sys::process_wait(proc, deadline(), &code), 0);
    UEXPECT_EQ(code, keel::kExitKilled);
    sys::handle_close(th);
    sys::handle_close(proc);
    if (ep != keel::kInvalidHandle) sys::handle_close(ep);
  }
}
