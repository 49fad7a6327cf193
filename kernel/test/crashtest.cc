// crashtest.cc — deliberate crashes for tools/keel-test's panic-path tests.
#include <arch/x86_64/cpu.h>
#include <lib/klog.h>
#include <lib/panic.h>
#include <test/crashtest.h>

#include <cstdint>

namespace {

[[gnu::noinline]] void crash_test_page_fault() {
  volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(0xdead000);
  *p = 1;
}

volatile uint64_t g_recursion_limit = UINT64_MAX;  // volatile: the compiler cannot see the end

[[gnu::noinline]] uint64_t crash_test_recurse(uint64_t n) {
  volatile char pad[512];
  pad[0] = char(n);
  if (n >= g_recursion_limit) return 0;
  return crash_test_recurse(n + 1) + pad[0];
}

// The state an NMI, #MC or #DF finds between SYSCALL and its SWAPGS:
// kernel CS, interrupts off, a user GS base live (a user-half address,
// unmapped in the kernel's page tables). The IST entry (isr.S) must switch to
// the kernel's GS base, or the panic report faults on its first this_cpu().
constexpr uint64_t kFakeUserGsBase = 0x00007fffdead0000ull;

void enter_user_gs_window() {
  x86::cli();
  x86::wrmsr(x86::kMsrKernelGsBase, kFakeUserGsBase);
  asm volatile("swapgs" ::: "memory");  // from here on, nothing may use GS
}

[[gnu::noinline]] void crash_test_machine_check_user_gs() {
  enter_user_gs_window();
  asm volatile("int $18" ::: "memory");  // the #MC gate (DPL 0, IST3), no error code
  x86::halt_forever();                   // not reached: #MC in the kernel panics
}

[[gnu::noinline]] void crash_test_double_fault_user_gs() {
  enter_user_gs_window();
  (void)crash_test_recurse(0);  // uses no GS; ends in #DF on IST1
}

}  // namespace

void run_crash_test(std::string_view kind) {
  klog::notice("crashtest: {}", kind);
  if (kind == "pagefault") crash_test_page_fault();
  if (kind == "stackoverflow") (void)crash_test_recurse(0);
  if (kind == "panic") panic("crashtest: deliberate panic");
  if (kind == "ud") asm volatile("ud2");
  if (kind == "mc-usergs") crash_test_machine_check_user_gs();
  if (kind == "df-usergs") crash_test_double_fault_user_gs();
  klog::warn("crashtest: unknown kind '{}'", kind);
}
