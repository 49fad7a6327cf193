// ipc_tests.cc — synchronous IPC through endpoints: call/reply, badges,
// handle transfer, errors, and a server that dies mid-call.
#include <keel/start.h>
#include <keel/utest.h>

using keel::err;
using keel::Status;
namespace sys = keel::sys;

namespace {

uint64_t tag(uint32_t label, uint32_t words, uint32_t handles = 0) {
  return (uint64_t(label) << 32) | (uint64_t(words) << 24) | (uint64_t(handles) << 16);
}
uint32_t words_of(uint64_t t) { return uint32_t((t >> 24) & 0xff); }
uint32_t handles_of(uint64_t t) { return uint32_t((t >> 16) & 0xff); }
uint32_t label_of(uint64_t t) { return uint32_t(t >> 32); }

// An echo server: replies to each call with every word + 1, label + 1, and
// the badge it saw in word 63. Label 0xdead makes it exit without replying.
void echo_server(uint64_t ep) {
  keel::IpcMessage m{};
  if (sys::ipc_recv(uint32_t(ep), &m, keel::kDeadlineForever) != 0) return;
  for (;;) {
    if (label_of(m.tag) == 0xdead) return;  // dies with a call outstanding
    uint32_t n = words_of(m.tag);
    uint64_t badge = m.badge;
    for (uint32_t i = 0; i < n; ++i) m.words[i] += 1;
    m.words[63] = badge;
    m.tag = tag(label_of(m.tag) + 1, 64);
    if (sys::ipc_reply_recv(uint32_t(ep), &m, keel::kDeadlineForever) != 0) return;
  }
}

uint32_t make_endpoint() {
  uint32_t e = 0;
  return sys::endpoint_create(&e) == 0 ? e : 0;
}

}  // namespace

UTEST(ipc, call_without_server_times_out) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0);
  keel::IpcMessage m{};
  m.tag = tag(1, 0);
  uint64_t t0 = keel::now_ns();
  UEXPECT_EQ(sys::ipc_call(ep, &m, t0 + 20'000'000), err(Status::TimedOut));
  UEXPECT(keel::now_ns() - t0 >= 20'000'000);
  UEXPECT_EQ(sys::ipc_call(ep, &m, 0), err(Status::TimedOut));  // poll
  UEXPECT_EQ(sys::handle_close(ep), 0);
}

UTEST(ipc, call_reply_with_badges) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0 && keel::start_info() != nullptr);
  uint32_t server = keel::start_thread(&echo_server, ep);
  UASSERT(server != 0);
  uint32_t client = 0;
  UEXPECT_EQ(sys::handle_mint(ep, keel::kRightWrite, 0xb00, &client), 0);
  for (uint64_t round = 0; round < 200; ++round) {
    keel::IpcMessage m{};
    m.tag = tag(7, 3);
    m.words[0] = round;
    m.words[1] = round * 2;
    m.words[2] = ~round;
    int64_t r = sys::ipc_call(client, &m, keel::kDeadlineForever);
    if (r != 0) {
      UEXPECT_EQ(r, 0);
      break;
    }
    UEXPECT_EQ(label_of(m.tag), 8u);
    UEXPECT_EQ(m.words[0], round + 1);
    UEXPECT_EQ(m.words[1], round * 2 + 1);
    UEXPECT_EQ(m.words[2], ~round + 1);
    UEXPECT_EQ(m.words[63], 0xb00u);  // the server saw our badge
  }
  // The unbadged original delivers badge 0.
  keel::IpcMessage m{};
  m.tag = tag(1, 1);
  UEXPECT_EQ(sys::ipc_call(ep, &m, keel::kDeadlineForever), 0);
  UEXPECT_EQ(m.words[63], 0u);
  // Stop the server: it exits without replying, so this call sees PeerClosed.
  m.tag = tag(0xdead, 0);
  UEXPECT_EQ(sys::ipc_call(ep, &m, keel::kDeadlineForever), err(Status::PeerClosed));
  for (uint32_t h : {ep, client, server}) UEXPECT_EQ(sys::handle_close(h), 0);
}

namespace {
// Receives one call carrying a VMO handle, reads it, and replies with a
// notification handle whose bit it has already raised.
void handle_server(uint64_t ep) {
  keel::IpcMessage m{};
  if (sys::ipc_recv(uint32_t(ep), &m, keel::kDeadlineForever) != 0) return;
  uint64_t value = 0;
  int64_t r = handles_of(m.tag) == 1 ? sys::vmo_read(m.handles[0], 0, &value, sizeof value) : -1;
  sys::handle_close(m.handles[0]);
  uint32_t n = 0;
  sys::notification_create(&n);
  sys::notification_signal(n, 0x40);
  m.tag = tag(0, 2, 1);
  m.words[0] = uint64_t(r);
  m.words[1] = value;
  m.handles[0] = n;  // moved to the caller
  sys::ipc_reply(&m);
}
}  // namespace

UTEST(ipc, handles_move_both_ways) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0);
  uint32_t server = keel::start_thread(&handle_server, ep);
  UASSERT(server != 0);
  uint32_t vmo = 0;
  UASSERT(sys::vmo_create(4096, 0, &vmo) == 0);
  uint64_t secret = 0x5ec2e7;
  UEXPECT_EQ(sys::vmo_write(vmo, 0, &secret, sizeof secret), 0);
  keel::IpcMessage m{};
  m.tag = tag(0, 0, 1);
  m.handles[0] = vmo;
  UEXPECT_EQ(sys::ipc_call(ep, &m, keel::kDeadlineForever), 0);
  UEXPECT_EQ(sys::handle_close(vmo), err(Status::BadHandle));  // it moved to the server
  UEXPECT_EQ(m.words[0], 0u);
  UEXPECT_EQ(m.words[1], secret);
  UEXPECT_EQ(handles_of(m.tag), 1u);
  uint64_t bits = 0;
  UEXPECT_EQ(sys::notification_poll(m.handles[0], &bits), 0);  // the reply's handle works here
  UEXPECT_EQ(bits, 0x40u);
  for (uint32_t h : {m.handles[0], ep, server}) UEXPECT_EQ(sys::handle_close(h), 0);
}

UTEST(ipc, bad_messages_and_rights) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0);
  keel::IpcMessage m{};
  m.tag = tag(0, 65);  // too many words
  UEXPECT_EQ(sys::ipc_call(ep, &m, 0), err(Status::InvalidArgument));
  m.tag = tag(0, 0, 5);  // too many handles
  UEXPECT_EQ(sys::ipc_call(ep, &m, 0), err(Status::InvalidArgument));
  uint32_t vmo = 0, no_transfer = 0;
  UASSERT(sys::vmo_create(4096, 0, &vmo) == 0);
  UEXPECT_EQ(sys::handle_duplicate(vmo, keel::kRightRead, &no_transfer), 0);
  m.tag = tag(0, 0, 2);
  m.handles[0] = vmo;
  m.handles[1] = no_transfer;  // lacks the transfer right: nothing moves
  UEXPECT_EQ(sys::ipc_call(ep, &m, 0), err(Status::AccessDenied));
  UEXPECT_EQ(sys::handle_close(vmo), 0);  // still ours
  m.tag = tag(0, 0, 1);
  m.handles[0] = 12345;
  UEXPECT_EQ(sys::ipc_call(ep, &m, 0), err(Status::BadHandle));
  uint32_t send_only = 0, recv_only = 0;
  UEXPECT_EQ(sys::handle_duplicate(ep, keel::kRightWrite | keel::kRightDuplicate, &send_only), 0);
  UEXPECT_EQ(sys::handle_duplicate(ep, keel::kRightRead, &recv_only), 0);
  UEXPECT_EQ(sys::ipc_recv(send_only, &m, 0), err(Status::AccessDenied));
  m.tag = tag(0, 0);
  UEXPECT_EQ(sys::ipc_call(recv_only, &m, 0), err(Status::AccessDenied));
  UEXPECT_EQ(sys::ipc_call(vmo + 0, &m, 0), err(Status::BadHandle));  // closed above
  UEXPECT_EQ(sys::ipc_reply(&m), err(Status::BadState));  // no caller owed
  UEXPECT_EQ(sys::ipc_call(ep, reinterpret_cast<keel::IpcMessage*>(0xffffffff80200000ull), 0), err(Status::Fault));
  UEXPECT_EQ(sys::ipc_recv(ep, reinterpret_cast<keel::IpcMessage*>(0x00007fffffffff00ull), 0), err(Status::Fault));  // runs past the user half
  // An unmapped buffer is only found out when the kernel writes to it: with
  // nothing to receive, the poll simply times out.
  UEXPECT_EQ(sys::ipc_recv(ep, reinterpret_cast<keel::IpcMessage*>(0x10000ull), 0), err(Status::TimedOut));
  for (uint32_t h : {no_transfer, send_only, recv_only, ep}) UEXPECT_EQ(sys::handle_close(h), 0);
}

namespace {
void one_way_receiver(uint64_t ep) {
  keel::IpcMessage m{};
  for (int i = 0; i < 50; ++i)
    if (sys::ipc_recv(uint32_t(ep), &m, keel::kDeadlineForever) != 0) return;
}
}  // namespace

UTEST(ipc, one_way_send) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0);
  uint32_t rx = keel::start_thread(&one_way_receiver, ep);
  UASSERT(rx != 0);
  keel::IpcMessage m{};
  for (int i = 0; i < 50; ++i) {
    m.tag = tag(3, 1);
    m.words[0] = uint64_t(i);
    UEXPECT_EQ(sys::ipc_send(ep, &m, keel::kDeadlineForever), 0);
  }
  m.tag = tag(3, 0);
  UEXPECT_EQ(sys::ipc_send(ep, &m, keel::now_ns() + 10'000'000), err(Status::TimedOut));  // receiver is done
  for (uint32_t h : {ep, rx}) UEXPECT_EQ(sys::handle_close(h), 0);
}

// ---------------------------------------------------------------------------
// The register twins (ipc_call_regs, ipc_reply_recv_regs): the same results as
// the memory calls, for short messages (all in registers: the fast path) and
// long ones (words past kIpcRegisterWords and handles through memory).

namespace {

// Like echo_server, but answers with ipc_reply_recv_regs, and with a reply as
// long as the request (at least one word): every word + 1, label + 1, and
// the badge in the last word when there are 4 or more.
void regs_echo_server(uint64_t ep) {
  keel::IpcMessage m{};
  if (sys::ipc_recv(uint32_t(ep), &m, keel::kDeadlineForever) != 0) return;
  for (;;) {
    if (label_of(m.tag) == 0xdead) return;
    uint32_t n = words_of(m.tag);
    for (uint32_t i = 0; i < n; ++i) m.words[i] += 1;
    if (n == 0) n = 1, m.words[0] = m.badge;
    if (n >= 4) m.words[n - 1] = m.badge;
    for (uint32_t i = 0; i < handles_of(m.tag); ++i) sys::handle_close(m.handles[i]);
    m.tag = tag(label_of(m.tag) + 1, n);
    if (sys::ipc_reply_recv_regs(uint32_t(ep), &m) != 0) return;
  }
}

}  // namespace

UTEST(ipc, register_twins_short_and_long_messages) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0);
  uint32_t server = keel::start_thread(&regs_echo_server, ep);
  UASSERT(server != 0);
  uint32_t client = 0;
  UEXPECT_EQ(sys::handle_mint(ep, keel::kRightWrite, 0xcafe, &client), 0);
  for (uint32_t n : {0u, 1u, 2u, 3u, 4u, 5u, 17u, 64u}) {
    for (int memory = 0; memory < 2; ++memory) {  // the memory call to the same register-twin server
      keel::IpcMessage m{};
      m.tag = tag(10 + n, n);
      for (uint32_t i = 0; i < 64; ++i) m.words[i] = i < n ? 1000 * n + i : 0x5555;
      int64_t r = memory ? sys::ipc_call(client, &m, keel::kDeadlineForever) : sys::ipc_call_regs(client, &m);
      UEXPECT_EQ(r, 0);
      uint32_t got = n == 0 ? 1 : n;
      UEXPECT_EQ(label_of(m.tag), 11 + n);
      UEXPECT_EQ(words_of(m.tag), got);
      UEXPECT_EQ(handles_of(m.tag), 0u);
      UEXPECT_EQ(m.badge, 0u);  // replies carry no badge
      if (n == 0) UEXPECT_EQ(m.words[0], 0xcafeu);
      for (uint32_t i = 0; i < n; ++i) UEXPECT_EQ(m.words[i], i == n - 1 && n >= 4 ? 0xcafeu : 1000 * n + i + 1);
      // Register words past the reply's count come back as 0; memory words
      // past it are left alone.
      if (!memory) {
        for (uint32_t i = got; i < 3; ++i) UEXPECT_EQ(m.words[i], 0u);
      }
      for (uint32_t i = got > 3 ? got : 3; i < 64; ++i) UEXPECT_EQ(m.words[i], 0x5555u);
    }
  }
  keel::IpcMessage m{};
  m.tag = tag(0xdead, 0);
  UEXPECT_EQ(sys::ipc_call_regs(ep, &m), err(Status::PeerClosed));  // the server exits without replying
  for (uint32_t h : {ep, client, server}) UEXPECT_EQ(sys::handle_close(h), 0);
}

namespace {
// handle_server's register twin: receives calls carrying a VMO, replies with
// a notification handle (so the handles go through memory both ways).
void regs_handle_server(uint64_t ep) {
  keel::IpcMessage m{};
  if (sys::ipc_recv(uint32_t(ep), &m, keel::kDeadlineForever) != 0) return;
  for (;;) {
    uint64_t value = 0;
    int64_t r = handles_of(m.tag) == 1 ? sys::vmo_read(m.handles[0], 0, &value, sizeof value) : -1;
    if (handles_of(m.tag) == 1) sys::handle_close(m.handles[0]);
    uint32_t n = 0;
    sys::notification_create(&n);
    sys::notification_signal(n, 0x80);
    m.tag = tag(0, 2, 1);
    m.words[0] = uint64_t(r);
    m.words[1] = value;
    m.handles[0] = n;
    if (sys::ipc_reply_recv_regs(uint32_t(ep), &m) != 0) return;
  }
}
}  // namespace

UTEST(ipc, register_twins_move_handles) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0);
  uint32_t server = keel::start_thread(&regs_handle_server, ep);
  UASSERT(server != 0);
  for (int round = 0; round < 3; ++round) {
    uint32_t vmo = 0;
    UASSERT(sys::vmo_create(4096, 0, &vmo) == 0);
    uint64_t secret = 0xab0 + uint64_t(round);
    UEXPECT_EQ(sys::vmo_write(vmo, 0, &secret, sizeof secret), 0);
    keel::IpcMessage m{};
    m.tag = tag(0, 0, 1);
    m.handles[0] = vmo;
    UEXPECT_EQ(sys::ipc_call_regs(ep, &m), 0);
    UEXPECT_EQ(sys::handle_close(vmo), err(Status::BadHandle));  // moved
    UEXPECT_EQ(m.words[0], 0u);
    UEXPECT_EQ(m.words[1], secret);
    UEXPECT_EQ(handles_of(m.tag), 1u);
    uint64_t bits = 0;
    UEXPECT_EQ(sys::notification_poll(m.handles[0], &bits), 0);
    UEXPECT_EQ(bits, 0x80u);
    UEXPECT_EQ(sys::handle_close(m.handles[0]), 0);
  }
  UEXPECT_EQ(sys::handle_close(ep), 0);  // the server's receive fails: it exits
  UEXPECT_EQ(sys::handle_close(server), 0);
}

UTEST(ipc, register_twins_refuse_bad_input) {
  uint32_t ep = make_endpoint();
  UASSERT(ep != 0);
  keel::IpcMessage m{};
  m.tag = tag(0, 65);
  UEXPECT_EQ(sys::ipc_call_regs(ep, &m), err(Status::InvalidArgument));
  m.tag = tag(0, 0, 5);
  UEXPECT_EQ(sys::ipc_call_regs(ep, &m), err(Status::InvalidArgument));
  m.tag = tag(0, 0, 1);
  m.handles[0] = 12345;
  UEXPECT_EQ(sys::ipc_call_regs(ep, &m), err(Status::BadHandle));
  m.tag = tag(0, 1);
  UEXPECT_EQ(sys::ipc_call_regs(12345, &m), err(Status::BadHandle));
  uint32_t vmo = 0, send_only = 0, recv_only = 0;
  UASSERT(sys::vmo_create(4096, 0, &vmo) == 0);
  UEXPECT_EQ(sys::ipc_call_regs(vmo, &m), err(Status::WrongType));
  UEXPECT_EQ(sys::handle_duplicate(ep, keel::kRightWrite, &send_only), 0);
  UEXPECT_EQ(sys::handle_duplicate(ep, keel::kRightRead, &recv_only), 0);
  UEXPECT_EQ(sys::ipc_call_regs(recv_only, &m), err(Status::AccessDenied));
  UEXPECT_EQ(sys::ipc_reply_recv_regs(send_only, &m), err(Status::AccessDenied));
  // A kernel or non-canonical pointer is refused even for a message that
  // fits the registers (the reply might not).
  auto* kernel = reinterpret_cast<keel::IpcMessage*>(0xffffffff80200000ull);
  auto* past_end = reinterpret_cast<keel::IpcMessage*>(0x00007fffffffff00ull);
  uint64_t raw = 0;
  {
    // The stub dereferences msg: call the syscall by hand for bad pointers.
    register uint64_t r10 asm("r10") = 0;
    register uint64_t r8 asm("r8") = 0;
    register uint64_t r9 asm("r9") = 0;
    uint64_t rax = uint64_t(keel::sys::Syscall::IpcCallRegs), rdi = ep, rsi = reinterpret_cast<uint64_t>(kernel),
             rdx = tag(0, 1);
    asm volatile("syscall"
                 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                 :
                 : "rcx", "r11", "memory");
    raw = rax;
  }
  UEXPECT_EQ(int64_t(raw), err(Status::Fault));
  {
    register uint64_t r10 asm("r10") = 0;
    register uint64_t r8 asm("r8") = 0;
    register uint64_t r9 asm("r9") = 0;
    uint64_t rax = uint64_t(keel::sys::Syscall::IpcReplyRecvRegs), rdi = ep,
             rsi = reinterpret_cast<uint64_t>(past_end), rdx = 0;
    asm volatile("syscall"
                 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                 :
                 : "rcx", "r11", "memory");
    raw = rax;
  }
  UEXPECT_EQ(int64_t(raw), err(Status::Fault));
  for (uint32_t h : {vmo, send_only, recv_only, ep}) UEXPECT_EQ(sys::handle_close(h), 0);
}
