// test/crashtest.h — deliberate kernel crashes, to test the panic path end to end.
#pragma once

#include <string_view>

// Kinds: "pagefault" (write to an unmapped address), "stackoverflow" (unbounded
// recursion into the guard page: the #PF cannot be delivered on the broken
// stack, so the CPU raises #DF on its IST stack), "panic" (an explicit panic),
// "ud" (an invalid opcode), "mc-usergs" and "df-usergs" (a machine check by
// INT 18, or the stack overflow's #DF, with a user GS base live and kernel CS:
// the IST entry in isr.S must still find the kernel's per-CPU data). Unknown
// kinds are logged and ignored.
void run_crash_test(std::string_view kind);
