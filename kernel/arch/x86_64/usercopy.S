// usercopy.S — the only instructions that touch user memory from the kernel.
//
// A page fault whose RIP lies in [user_access_begin, user_access_end) is a
// fault on a user address during a copy: the fault handler first tries to
// resolve it (demand paging, copy-on-write); if it cannot, it resumes at
// user_access_fixup, which returns -1. With SMAP enabled (CR4.SMAP), STAC/CLAC
// open and close the window in which supervisor code may touch user pages.
.text
.global user_copy_raw, user_access_begin, user_access_end, user_access_fixup

// int64_t user_copy_raw(void* dst, const void* src, size_t n): 0, or -1 on an
// unresolvable fault. Callers check the user range first (usercopy.cc).
// Whole quadwords first (rep movsq), then the 0–7 bytes left (rep movsb).
user_copy_raw:
  movq %rdx, %rcx
  shrq $3, %rcx
  andl $7, %edx
  cmpb $0, g_smap_enabled(%rip)
  je 1f
  stac
1:
user_access_begin:
  rep movsq
  movl %edx, %ecx
  rep movsb
user_access_end:
  cmpb $0, g_smap_enabled(%rip)
  je 2f
  clac
2:
  xorl %eax, %eax
  ret

user_access_fixup:
  cmpb $0, g_smap_enabled(%rip)
  je 3f
  clac
3:
  movq $-1, %rax
  ret
