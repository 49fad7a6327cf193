// syscall_tests.cc — every implemented syscall, with its error cases.
#include <keel/utest.h>

using keel::err;
using keel::Status;
namespace sys = keel::sys;

namespace {

// A handle to our own process: the root task gets none yet, so tests that need
// one create a child process instead (TODO(issue 3): start-info handles).
// Bad pointers: a kernel address and a never-mapped user page (the first 64 KiB).
template <typename T = void>
T* kernel_ptr() { return reinterpret_cast<T*>(0xffffffff80200000ull); }
template <typename T = void>
T* unmapped_ptr() { return reinterpret_cast<T*>(0x10000ull); }

uint32_t make_vmo(uint64_t size) {
  uint32_t h = 0;
  if (sys::vmo_create(size, 0, (&h)) != 0) return 0;
  return h;
}

}  // namespace

UTEST(debug, write_ok_and_errors) {
  const char msg[] = "usertest: debug_write works\n";
  UEXPECT_EQ(sys::debug_write((msg), sizeof msg - 1), 0);
  UEXPECT_EQ(sys::debug_write((msg), 4096), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::debug_write(kernel_ptr(), 8), err(Status::Fault));
  UEXPECT_EQ(sys::debug_write(unmapped_ptr(), 8), err(Status::Fault));
  UEXPECT_EQ(sys::debug_write(reinterpret_cast<void*>(0x00007ffffffffff0ull), 64), err(Status::Fault));  // runs off the user half
  UEXPECT_EQ(sys::debug_write(nullptr, 0), 0);
}

UTEST(clock, monotonic_and_bad_pointer) {
  uint64_t a = 0, b = 0;
  UEXPECT_EQ(sys::clock_get((&a)), 0);
  UEXPECT_EQ(sys::clock_get((&b)), 0);
  UEXPECT(a > 0 && b >= a);
  UEXPECT_EQ(sys::clock_get(kernel_ptr<uint64_t>()), err(Status::Fault));
  UEXPECT_EQ(sys::clock_get(unmapped_ptr<uint64_t>()), err(Status::Fault));
}

UTEST(syscall, unknown_number_is_refused) {
  int64_t r;
  asm volatile("syscall" : "=a"(r) : "a"(uint64_t(9999)) : "rcx", "r11", "memory");
  UEXPECT_EQ(r, err(Status::Unsupported));
  asm volatile("syscall" : "=a"(r) : "a"(uint64_t(-1)) : "rcx", "r11", "memory");
  UEXPECT_EQ(r, err(Status::Unsupported));
}

UTEST(handles, close_and_stale) {
  uint32_t h = make_vmo(4096);
  UASSERT(h != 0);
  UEXPECT_EQ(sys::handle_close(h), 0);
  UEXPECT_EQ(sys::handle_close(h), err(Status::BadHandle));  // stale
  UEXPECT_EQ(sys::handle_close(0), err(Status::BadHandle));
  UEXPECT_EQ(sys::handle_close(0xffffffffu), err(Status::BadHandle));
  uint32_t h2 = make_vmo(4096);
  UEXPECT(h2 != h);  // a reused slot gets a new handle value
  UEXPECT_EQ(sys::handle_close(h2), 0);
}

UTEST(handles, rights_only_shrink) {
  uint32_t h = make_vmo(4096);
  UASSERT(h != 0);
  uint32_t ro = 0, again = 0, minted = 0;
  UEXPECT_EQ(sys::handle_duplicate(h, keel::kRightRead | keel::kRightDuplicate, (&ro)), 0);
  UEXPECT(ro != 0 && ro != h);
  // More rights than the source has: refused.
  UEXPECT_EQ(sys::handle_duplicate(ro, keel::kRightRead | keel::kRightWrite, (&again)),
             err(Status::AccessDenied));
  char buf[4] = {1, 2, 3, 4};
  UEXPECT_EQ(sys::vmo_write(ro, 0, (buf), 4), err(Status::AccessDenied));
  UEXPECT_EQ(sys::vmo_read(ro, 0, (buf), 4), 0);
  // replace: the old value dies, the new one has fewer rights.
  uint32_t rep = 0;
  UEXPECT_EQ(sys::handle_replace(ro, keel::kRightRead, (&rep)), 0);
  UEXPECT_EQ(sys::handle_close(ro), err(Status::BadHandle));
  UEXPECT_EQ(sys::handle_duplicate(rep, keel::kRightRead, (&again)),
             err(Status::AccessDenied));  // no duplicate right left
  // mint: a badge only on an unbadged original, never a zero badge.
  UEXPECT_EQ(sys::handle_mint(h, keel::kRightRead | keel::kRightDuplicate, 42, (&minted)), 0);
  UEXPECT_EQ(sys::handle_mint(minted, keel::kRightRead, 7, (&again)),
             err(Status::AccessDenied));
  UEXPECT_EQ(sys::handle_mint(h, keel::kRightRead, 0, (&again)),
             err(Status::InvalidArgument));
  // A bad out pointer: nothing is created.
  UEXPECT_EQ(sys::handle_duplicate(h, keel::kRightRead, kernel_ptr<uint32_t>()), err(Status::Fault));
  for (uint32_t x : {h, rep, minted}) UEXPECT_EQ(sys::handle_close(x), 0);
}

UTEST(vmo, read_write_size_and_bounds) {
  uint32_t h = make_vmo(3 * 4096 + 5);  // rounded up to 4 pages
  UASSERT(h != 0);
  uint64_t size = 0;
  UEXPECT_EQ(sys::vmo_get_size(h, (&size)), 0);
  UEXPECT_EQ(size, 4u * 4096);
  char in[6000], out[6000];
  for (int i = 0; i < 6000; ++i) in[i] = char(i * 7);
  UEXPECT_EQ(sys::vmo_write(h, 4000, (in), sizeof in), 0);  // crosses pages
  UEXPECT_EQ(sys::vmo_read(h, 4000, (out), sizeof out), 0);
  bool same = true;
  for (int i = 0; i < 6000; ++i) same &= in[i] == out[i];
  UEXPECT(same);
  UEXPECT_EQ(sys::vmo_read(h, size - 2, (out), 4), err(Status::OutOfRange));
  UEXPECT_EQ(sys::vmo_read(h, ~0ull - 1, (out), 4), err(Status::OutOfRange));
  UEXPECT_EQ(sys::vmo_read(h, 0, kernel_ptr(), 4), err(Status::Fault));
  UEXPECT_EQ(sys::vmo_write(h, 0, unmapped_ptr(), 4), err(Status::Fault));
  uint32_t bad = 0;
  UEXPECT_EQ(sys::vmo_create(0, 0, (&bad)), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::vmo_create(4096, 0xff, (&bad)), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::handle_close(h), 0);
}

UTEST(vmo, clone_is_copy_on_write) {
  uint32_t parent = make_vmo(8192);
  UASSERT(parent != 0);
  const char a[] = "parent";
  UEXPECT_EQ(sys::vmo_write(parent, 0, (a), sizeof a), 0);
  uint32_t child = 0;
  UEXPECT_EQ(sys::vmo_clone(parent, 0, 8192, (&child)), 0);
  const char b[] = "child!";
  UEXPECT_EQ(sys::vmo_write(child, 0, (b), sizeof b), 0);
  char pa[8] = {}, ch[8] = {};
  UEXPECT_EQ(sys::vmo_read(parent, 0, (pa), sizeof a), 0);
  UEXPECT_EQ(sys::vmo_read(child, 0, (ch), sizeof b), 0);
  UEXPECT(__builtin_memcmp(pa, a, sizeof a) == 0);
  UEXPECT(__builtin_memcmp(ch, b, sizeof b) == 0);
  UEXPECT_EQ(sys::handle_close(parent), 0);
  UEXPECT_EQ(sys::handle_close(child), 0);
}

UTEST(notification, signal_poll_wait_and_timeout) {
  uint32_t n = 0;
  UASSERT(sys::notification_create((&n)) == 0);
  uint64_t bits = 0;
  UEXPECT_EQ(sys::notification_poll(n, (&bits)), err(Status::WouldBlock));
  UEXPECT_EQ(sys::notification_signal(n, 0x5), 0);
  UEXPECT_EQ(sys::notification_signal(n, 0x10), 0);
  UEXPECT_EQ(sys::notification_wait(n, keel::kDeadlineForever, (&bits)), 0);
  UEXPECT_EQ(bits, 0x15u);  // bits accumulate and are taken together
  uint64_t t0 = keel::now_ns();
  UEXPECT_EQ(sys::notification_wait(n, t0 + 20'000'000, (&bits)), err(Status::TimedOut));
  UEXPECT(keel::now_ns() - t0 >= 20'000'000);
  UEXPECT_EQ(sys::notification_signal(n, 0), err(Status::InvalidArgument));
  uint32_t waitonly = 0;
  UEXPECT_EQ(sys::handle_duplicate(n, keel::kRightWait, (&waitonly)), 0);
  UEXPECT_EQ(sys::notification_signal(waitonly, 1), err(Status::AccessDenied));
  uint32_t vmo = make_vmo(4096);
  UEXPECT_EQ(sys::notification_signal(vmo, 1), err(Status::WrongType));
  for (uint32_t x : {n, waitonly, vmo}) UEXPECT_EQ(sys::handle_close(x), 0);
}

UTEST(thread, sleep_lasts) {
  uint64_t t0 = keel::now_ns();
  UEXPECT_EQ(sys::thread_sleep(t0 + 15'000'000), 0);
  UEXPECT(keel::now_ns() - t0 >= 15'000'000);
  UEXPECT_EQ(sys::thread_sleep(0), 0);  // a deadline in the past returns at once
}

UTEST(process, create_kill_wait) {
  uint32_t p = 0;
  const char name[] = "child";
  UASSERT(sys::process_create((name), 5, (&p)) == 0);
  int64_t code = 0;
  uint64_t now = keel::now_ns();
  // Not started yet is not exited: the wait times out.
  UEXPECT_EQ(sys::process_wait(p, now + 5'000'000, (&code)), err(Status::TimedOut));
  UEXPECT_EQ(sys::process_kill(p), 0);
  UEXPECT_EQ(sys::process_wait(p, keel::kDeadlineForever, (&code)), 0);
  UEXPECT_EQ(code, -9);  // killed
  UEXPECT_EQ(sys::process_kill(p), 0);  // killing an exited process is harmless
  uint32_t p2 = 0;
  UEXPECT_EQ(sys::process_create((name), 4096, (&p2)), err(Status::InvalidArgument));
  UEXPECT_EQ(sys::handle_close(p), 0);
}

UTEST(vm, map_use_protect_unmap) {
  uint32_t p = 0;
  const char name[] = "mapper";
  UASSERT(sys::process_create((name), 6, (&p)) == 0);
  uint32_t vmo = make_vmo(4 * 4096);
  UASSERT(vmo != 0);
  uint64_t addr = 0;
  UEXPECT_EQ(sys::vm_map(p, vmo, 0, 4 * 4096, keel::kVmRead | keel::kVmWrite, (&addr)), 0);
  UEXPECT(addr != 0 && addr % 4096 == 0);
  UEXPECT_EQ(sys::vm_map(p, vmo, 0, 4096, keel::kVmRead | keel::kVmWrite | keel::kVmExecute,
                         (&addr)), err(Status::AccessDenied));  // W^X
  uint64_t fixed = addr + 1;
  UEXPECT_EQ(sys::vm_map(p, vmo, 0, 4096, keel::kVmRead | keel::kVmFixed, (&fixed)),
             err(Status::Misaligned));
  fixed = addr;
  UEXPECT_EQ(sys::vm_map(p, vmo, 0, 4096, keel::kVmRead | keel::kVmFixed, (&fixed)),
             err(Status::AlreadyExists));
  UEXPECT_EQ(sys::vm_map(p, vmo, 8 * 4096, 4096, keel::kVmRead, (&addr)),
             err(Status::OutOfRange));
  uint32_t ro = 0;
  UEXPECT_EQ(sys::handle_duplicate(vmo, keel::kRightRead | keel::kRightMap, (&ro)), 0);
  UEXPECT_EQ(sys::vm_map(p, ro, 0, 4096, keel::kVmRead | keel::kVmWrite, (&addr)),
             err(Status::AccessDenied));  // the handle gives no write right
  UEXPECT_EQ(sys::vm_unmap(p, addr, 4 * 4096), 0);
  UEXPECT_EQ(sys::vm_protect(p, addr, 4096, keel::kVmRead), err(Status::NotFound));
  for (uint32_t x : {vmo, ro, p}) UEXPECT_EQ(sys::handle_close(x), 0);
}

// Protection 0 (none of kVmRead/kVmWrite/kVmExecute): an inaccessible
// reservation (Linux's PROT_NONE guard pages); its object is still there for
// process_read, and vm_protect turns it on and off.
UTEST(vm, no_access_mapping) {
  keel::Handle p = keel::kInvalidHandle;
  const char name[] = "guard";
  UASSERT(sys::process_create(name, sizeof name - 1, &p) == 0);
  uint32_t vmo = make_vmo(2 * 4096);
  UASSERT(vmo != 0);
  uint64_t base = 0x40000000;
  UEXPECT_EQ(sys::vm_map(p, vmo, 0, 2 * 4096, keel::kVmFixed, &base), 0);
  uint64_t word = 0x5a5a;
  UEXPECT_EQ(sys::process_write(p, base + 8, &word, sizeof word), 0);
  UEXPECT_EQ(sys::vm_protect(p, base, 4096, keel::kVmRead | keel::kVmWrite), 0);
  UEXPECT_EQ(sys::vm_protect(p, base, 2 * 4096, 0), 0);
  uint64_t back = 0;
  UEXPECT_EQ(sys::process_read(p, base + 8, &back, sizeof back), 0);
  UEXPECT_EQ(back, 0x5a5au);
  UEXPECT_EQ(sys::vm_protect(p, base, 4096, keel::kVmWrite), err(Status::InvalidArgument));  // no write-only
  UEXPECT_EQ(sys::vm_unmap(p, base, 2 * 4096), 0);
  for (uint32_t x : {vmo, uint32_t(p)}) UEXPECT_EQ(sys::handle_close(x), 0);
}

UTEST(stats, reports_memory_and_cpus) {
  keel::SystemStats s{};
  UEXPECT_EQ(sys::system_stats((&s), sizeof s), 0);
  UEXPECT(s.frames_total > 0 && s.frames_free > 0 && s.frames_free <= s.frames_total);
  UEXPECT(s.cpus >= 1);
  UEXPECT_EQ(sys::system_stats((&s), 8), err(Status::InvalidArgument));
}

// process_read / process_write: another process's memory, through what is
// mapped there.
UTEST(process_memory, read_and_write_another_address_space) {
  const char name[] = "target";
  keel::Handle p = keel::kInvalidHandle, vmo = keel::kInvalidHandle;
  UASSERT(sys::process_create(name, sizeof name - 1, &p) == 0);
  UASSERT(sys::vmo_create(3 * 4096, 0, &vmo) == 0);
  uint64_t base = 0x40000000;
  UASSERT(sys::vm_map(p, vmo, 0, 3 * 4096, keel::kVmRead | keel::kVmFixed, &base) == 0);  // read-only there
  // Across a page boundary; pages never touched read as zero.
  char msg[] = "hello across a page boundary";
  UEXPECT_EQ(sys::process_write(p, base + 4096 - 5, msg, sizeof msg), 0);
  char back[sizeof msg] = {};
  UEXPECT_EQ(sys::process_read(p, base + 4096 - 5, back, sizeof back), 0);
  UEXPECT(std::string_view(back) == msg);
  char zeros[16];
  for (char& c : zeros) c = 'x';
  UEXPECT_EQ(sys::process_read(p, base + 2 * 4096, zeros, sizeof zeros), 0);
  bool all_zero = true;
  for (char c : zeros) all_zero = all_zero && c == 0;
  UEXPECT(all_zero);
  // The object itself holds what was written.
  char via_vmo[sizeof msg] = {};
  UEXPECT_EQ(sys::vmo_read(vmo, 4096 - 5, via_vmo, sizeof via_vmo), 0);
  UEXPECT(std::string_view(via_vmo) == msg);
  // Errors: a hole, too much, a bad buffer, the wrong rights, no process.
  UEXPECT_EQ(sys::process_read(p, base + 3 * 4096 - 4, back, 8), keel::err(Status::NotFound));  // runs off the end
  UEXPECT_EQ(sys::process_read(p, 0x1000, back, 8), keel::err(Status::NotFound));
  UEXPECT_EQ(sys::process_read(p, base, back, keel::kProcessCopyMax + 1), keel::err(Status::InvalidArgument));
  UEXPECT_EQ(sys::process_read(p, ~uint64_t(0) - 4, back, 8), keel::err(Status::OutOfRange));
  UEXPECT_EQ(sys::process_read(p, base, reinterpret_cast<char*>(0xffff800000001000ull), 8), keel::err(Status::Fault));
  UEXPECT_EQ(sys::process_write(p, base, reinterpret_cast<char*>(0x8), 8), keel::err(Status::Fault));
  keel::Handle read_only = keel::kInvalidHandle;
  UASSERT(sys::handle_duplicate(p, keel::kRightRead, &read_only) == 0);
  UEXPECT_EQ(sys::process_read(read_only, base, back, 8), 0);
  UEXPECT_EQ(sys::process_write(read_only, base, msg, 8), keel::err(Status::AccessDenied));
  UEXPECT_EQ(sys::process_read(vmo, base, back, 8), keel::err(Status::WrongType));
  sys::handle_close(read_only);
  sys::handle_close(vmo);
  UEXPECT_EQ(sys::handle_close(p), 0);
  UEXPECT_EQ(sys::process_read(p, base, back, 8), keel::err(Status::BadHandle));
}

UTEST(process_memory, write_breaks_copy_on_write_of_a_clone) {
  const char name[] = "cow-target";
  keel::Handle p = keel::kInvalidHandle, parent = keel::kInvalidHandle, clone = keel::kInvalidHandle;
  UASSERT(sys::process_create(name, sizeof name - 1, &p) == 0);
  UASSERT(sys::vmo_create(4096, 0, &parent) == 0);
  const char original[] = "original";
  UASSERT(sys::vmo_write(parent, 0, original, sizeof original) == 0);
  UASSERT(sys::vmo_clone(parent, 0, 4096, &clone) == 0);
  uint64_t base = 0x50000000;
  UASSERT(sys::vm_map(p, clone, 0, 4096, keel::kVmRead | keel::kVmWrite | keel::kVmFixed, &base) == 0);
  const char changed[] = "changed!";
  UEXPECT_EQ(sys::process_write(p, base, changed, sizeof changed), 0);
  char got[sizeof original] = {};
  UEXPECT_EQ(sys::vmo_read(parent, 0, got, sizeof got), 0);
  UEXPECT(std::string_view(got) == original);  // the parent object is untouched
  UEXPECT_EQ(sys::process_read(p, base, got, sizeof got), 0);
  UEXPECT(std::string_view(got) == changed);
  sys::handle_close(clone);
  sys::handle_close(parent);
  sys::handle_close(p);
}
