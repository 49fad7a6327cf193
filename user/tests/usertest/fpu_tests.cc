// fpu_tests.cc — each thread's FPU/SSE/AVX state survives the switches that
// IPC makes between threads, including the direct switch of the register
// fast path (ipc_call_regs / ipc_reply_recv_regs straight back to user mode,
// docs/kernel.md "IPC fast path").
//
// Two threads that use the vector registers differently — other values in
// xmm0-15 (ymm0-15 where the CPU and kernel enable AVX) and another MXCSR
// rounding mode — call each other in a loop. Each loads its registers right
// before its `syscall` and stores them right after it, in one asm block, so
// nothing the compiler emits can touch them in between; after every round
// trip both compare what came back with what they loaded.
#include <keel/keel.h>
#include <keel/start.h>
#include <keel/utest.h>

#include <atomic>
#include <cstring>

namespace sys = keel::sys;
using keel::err;
using keel::Status;

namespace {

struct alignas(32) Vectors {
  uint8_t bytes[16][32];  // ymm0..15 (only the low 16 bytes of each without AVX)
  uint32_t mxcsr;
};

bool cpu_has_avx() {
  uint32_t a, b, c, d;
  asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  if (!(c & (1u << 27)) || !(c & (1u << 28))) return false;  // OSXSAVE, AVX
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6) == 6;  // XCR0: SSE and AVX state enabled by the kernel
}

void fill(Vectors& v, uint64_t seed, uint32_t mxcsr) {
  for (int r = 0; r < 16; ++r)
    for (int i = 0; i < 32; ++i) v.bytes[r][i] = uint8_t(seed * 131 + r * 17 + i * 7 + (seed >> 8));
  v.mxcsr = mxcsr;
}

bool same(const Vectors& a, const Vectors& b, bool avx) {
  for (int r = 0; r < 16; ++r)
    if (memcmp(a.bytes[r], b.bytes[r], avx ? 32 : 16) != 0) return false;
  return a.mxcsr == b.mxcsr;
}

#define VEC_ALL(OP, BASE)                                                                                  \
  OP " 0*32(" BASE "), %%" R "0\n" OP " 1*32(" BASE "), %%" R "1\n" OP " 2*32(" BASE "), %%" R "2\n" OP      \
     " 3*32(" BASE "), %%" R "3\n" OP " 4*32(" BASE "), %%" R "4\n" OP " 5*32(" BASE "), %%" R "5\n" OP       \
     " 6*32(" BASE "), %%" R "6\n" OP " 7*32(" BASE "), %%" R "7\n" OP " 8*32(" BASE "), %%" R "8\n" OP       \
     " 9*32(" BASE "), %%" R "9\n" OP " 10*32(" BASE "), %%" R "10\n" OP " 11*32(" BASE "), %%" R "11\n" OP   \
     " 12*32(" BASE "), %%" R "12\n" OP " 13*32(" BASE "), %%" R "13\n" OP " 14*32(" BASE "), %%" R "14\n" OP \
     " 15*32(" BASE "), %%" R "15\n"
#define VEC_STORE_ALL(OP, BASE)                                                                             \
  OP " %%" R "0, 0*32(" BASE ")\n" OP " %%" R "1, 1*32(" BASE ")\n" OP " %%" R "2, 2*32(" BASE ")\n" OP      \
     " %%" R "3, 3*32(" BASE ")\n" OP " %%" R "4, 4*32(" BASE ")\n" OP " %%" R "5, 5*32(" BASE ")\n" OP       \
     " %%" R "6, 6*32(" BASE ")\n" OP " %%" R "7, 7*32(" BASE ")\n" OP " %%" R "8, 8*32(" BASE ")\n" OP       \
     " %%" R "9, 9*32(" BASE ")\n" OP " %%" R "10, 10*32(" BASE ")\n" OP " %%" R "11, 11*32(" BASE ")\n" OP   \
     " %%" R "12, 12*32(" BASE ")\n" OP " %%" R "13, 13*32(" BASE ")\n" OP " %%" R "14, 14*32(" BASE ")\n" OP \
     " %%" R "15, 15*32(" BASE ")\n"

struct RegsMsg {
  uint64_t tag, w0, w1, w2, badge;
};

// One register-twin syscall (`nr`: ipc_call_regs or ipc_reply_recv_regs) on
// `ep` with the vector registers and MXCSR loaded from `in` just before it
// and stored to `out` just after it. (Other syscalls take `ep` as their first
// argument and ignore the rest.)
int64_t vector_syscall(uint64_t nr, uint64_t ep, keel::IpcMessage* msg, RegsMsg& m, const Vectors& in,
                       Vectors& out, bool avx) {
  uint64_t rax = nr, rdi = ep, rsi = reinterpret_cast<uint64_t>(msg), rdx = m.tag;
  register uint64_t r10 asm("r10") = m.w0;
  register uint64_t r8 asm("r8") = m.w1;
  register uint64_t r9 asm("r9") = m.w2;
  const Vectors* pin = &in;
  Vectors* pout = &out;
  if (avx) {
#define R "ymm"
    asm volatile("ldmxcsr 512(%[in])\n" VEC_ALL("vmovdqu", "%[in]") "syscall\n" VEC_STORE_ALL("vmovdqu", "%[out]")
                 "stmxcsr 512(%[out])\n"
                 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                 : [in] "b"(pin), [out] "r"(pout)
                 : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#undef R
  } else {
#define R "xmm"
    asm volatile("ldmxcsr 512(%[in])\n" VEC_ALL("movdqu", "%[in]") "syscall\n" VEC_STORE_ALL("movdqu", "%[out]")
                 "stmxcsr 512(%[out])\n"
                 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                 : [in] "b"(pin), [out] "r"(pout)
                 : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#undef R
  }
  m = {rdx, r10, r8, r9, rsi};
  return int64_t(rax);
}

constexpr uint64_t kIpcCallRegs = 71, kIpcReplyRecvRegs = 72, kThreadSleep = 16, kThreadYield = 47;
constexpr uint32_t kRounds = 300;
// MXCSR: all exceptions masked (0x1f80) with rounding toward -inf (bits 13-14 = 01) or +inf (10).
constexpr uint32_t kMxcsrClient = 0x1f80 | (1u << 13), kMxcsrServer = 0x1f80 | (2u << 13);

uint64_t tag(uint32_t label, uint32_t words) { return (uint64_t(label) << 32) | (uint64_t(words) << 24); }

struct ServerState {
  uint32_t ep;
  bool avx;
  std::atomic<uint32_t> bad{0};     // rounds whose registers came back changed
  std::atomic<uint32_t> served{0};
};

// Echoes words + 1 until a call with label 0xdead (it then exits without replying).
void vector_server(uint64_t arg) {
  auto* st = reinterpret_cast<ServerState*>(arg);
  keel::IpcMessage msg{};
  if (sys::ipc_recv(st->ep, &msg, keel::kDeadlineForever) != 0) return;
  RegsMsg m{msg.tag, msg.words[0], msg.words[1], msg.words[2], msg.badge};
  static Vectors in, out;
  for (uint64_t round = 0;; ++round) {
    if ((m.tag >> 32) == 0xdead) return;
    fill(in, 0x5000 + round, kMxcsrServer);
    m = {tag(2, 3), m.w0 + 1, m.w1 + 1, m.w2 + 1, 0};
    int64_t r = vector_syscall(kIpcReplyRecvRegs, st->ep, &msg, m, in, out, st->avx);
    if (r != 0) return;
    if (!same(in, out, st->avx)) st->bad.fetch_add(1);
    st->served.fetch_add(1);
  }
}

}  // namespace

UTEST(fpu, vector_state_survives_ipc_switches) {
  static ServerState st;
  st.avx = cpu_has_avx();
  UASSERT(sys::endpoint_create(&st.ep) == 0);
  uint32_t server = keel::start_thread(&vector_server, reinterpret_cast<uint64_t>(&st));
  UASSERT(server != 0);
  static Vectors in, out;
  keel::IpcMessage msg{};
  uint32_t bad = 0, wrong_reply = 0;
  for (uint32_t i = 0; i < kRounds; ++i) {
    fill(in, i, kMxcsrClient);
    RegsMsg m{tag(1, 3), i, 2 * i, 3 * i, 0};
    int64_t r = vector_syscall(kIpcCallRegs, st.ep, &msg, m, in, out, st.avx);
    UASSERT(r == 0);
    if (!same(in, out, st.avx)) ++bad;
    if (m.tag != tag(2, 3) || m.w0 != i + 1 || m.w1 != 2 * i + 1 || m.w2 != 3 * i + 1 || m.badge != 0) ++wrong_reply;
  }
  UEXPECT_EQ(bad, 0u);
  UEXPECT_EQ(wrong_reply, 0u);
  keel::IpcMessage end{};
  end.tag = tag(0xdead, 0);
  UEXPECT_EQ(sys::ipc_call_regs(st.ep, &end), err(Status::PeerClosed));
  // The server checked its registers after each of its replies (the last
  // when the 0xdead call came) and then exited.
  UEXPECT_EQ(st.bad.load(), 0u);
  UEXPECT_EQ(st.served.load(), kRounds);
  UEXPECT_EQ(sys::handle_close(st.ep), 0);
  UEXPECT_EQ(sys::handle_close(server), 0);
}

namespace {

struct Spinner {
  bool avx;
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::atomic<uint32_t> bad{0};
  std::atomic<uint32_t> rounds{0};
};

// Yields in a loop with its own vector values loaded, checking them after each yield.
void vector_spinner(uint64_t arg) {
  auto* sp = reinterpret_cast<Spinner*>(arg);
  static Vectors in, out;
  keel::IpcMessage msg{};
  for (uint64_t i = 0; !sp->stop.load(); ++i) {
    fill(in, 0x9000 + i, kMxcsrServer);
    RegsMsg m{};
    vector_syscall(kThreadYield, 0, &msg, m, in, out, sp->avx);
    if (!same(in, out, sp->avx)) sp->bad.fetch_add(1);
    sp->rounds.fetch_add(1);
  }
  sp->done.store(true);
}

// Sleeps ~1 ms with `seed`'s values loaded; true if they came back intact.
bool sleep_with_vectors(uint64_t seed, bool avx) {
  static Vectors in, out;
  keel::IpcMessage msg{};
  fill(in, seed, kMxcsrClient);
  RegsMsg m{};
  int64_t r = vector_syscall(kThreadSleep, keel::now_ns() + 1'000'000, &msg, m, in, out, avx);
  return r == 0 && same(in, out, avx);
}

}  // namespace

// A thread that sleeps while only the idle thread runs finds its state still
// in the registers (the restore is skipped: PerCpu::fpu_owner); one that
// sleeps while another thread with other values runs gets its own back.
UTEST(fpu, vector_state_survives_sleeps_and_other_threads) {
  const bool avx = cpu_has_avx();
  uint32_t bad = 0;
  for (uint64_t i = 0; i < 10; ++i) bad += sleep_with_vectors(0x100 + i, avx) ? 0 : 1;
  UEXPECT_EQ(bad, 0u);
  static Spinner sp;
  sp.avx = avx;
  uint32_t th = keel::start_thread(&vector_spinner, reinterpret_cast<uint64_t>(&sp));
  UASSERT(th != 0);
  bad = 0;
  for (uint64_t i = 0; i < 20; ++i) bad += sleep_with_vectors(0x200 + i, avx) ? 0 : 1;
  UEXPECT_EQ(bad, 0u);
  sp.stop.store(true);
  for (int i = 0; i < 1000 && !sp.done.load(); ++i) sys::thread_sleep(keel::now_ns() + 1'000'000);
  UEXPECT(sp.done.load());
  UEXPECT(sp.rounds.load() > 0u);
  UEXPECT_EQ(sp.bad.load(), 0u);
  UEXPECT_EQ(sys::handle_close(th), 0);
}
