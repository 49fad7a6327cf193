// arch/x86_64/syscall.h — the SYSCALL instruction's set-up (Intel SDM Vol. 3A §5.8.8).
#pragma once

#include <cstdint>

extern "C" void syscall_entry();
extern "C" void syscall_entry_foreign();  // threads with a syscall handler (foreign ABIs)

namespace x86 {

// Vector number stored in the InterruptFrame of a syscall (not a real vector).
constexpr uint64_t kSyscallVector = 0x100;

// Programs EFER.SCE, STAR, LSTAR and FMASK on this CPU.
void syscall_init_cpu();

}  // namespace x86
