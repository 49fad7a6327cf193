// vm_sys.cc — memory objects and address-space mappings.
#include <arch/x86_64/tlb.h>
#include <ktl/align.h>
#include <mm/vm.h>
#include <object/process.h>
#include <syscalls/common.h>
#include <vm/memory_object.h>

namespace syscalls {
namespace {

constexpr size_t kCopyChunk = 512;  // vmo_read/write copy through a kernel buffer this big

unsigned prot_from_abi(uint32_t p) {
  unsigned prot = 0;
  if (p & kVmRead) prot |= x86::Prot::Read;
  if (p & kVmWrite) prot |= x86::Prot::Write;
  if (p & kVmExecute) prot |= x86::Prot::Execute;
  return prot;
}

// Entries that vm_protect restricts or vm_unmap removes are flushed from the
// TLB of every CPU that has the address space loaded before the call returns:
// a thread of the process may run on another CPU and would otherwise still
// write a page made read-only (Linux's mprotect), or reach a frame that the
// unmap freed (the last mapping of an object without handles) and that may
// already belong to someone else. libkeel's heap keeps freed large blocks
// mapped for reuse so that free() does not pay a shootdown each time.
// Only the CPUs that have the address space loaded are asked (ctx: its root).
void flush_user_tlb(void* root, uint64_t virt, uint64_t size) {
  x86::tlb_shootdown_space(reinterpret_cast<uint64_t>(root), virt, size);
}
x86::TlbFlush user_flush(vm::AddressSpace& as) { return {&flush_user_tlb, reinterpret_cast<void*>(as.root())}; }

}  // namespace

int64_t sys_vmo_create(size_t size, uint32_t flags, UserAddr out) {
  if (flags != 0 || size == 0) return abi_error(ktl::Error::InvalidArgument);
  auto vmo = vm::MemoryObject::create(mm::frame_allocator_unlocked(), size, &current_process().quota());
  if (!vmo.ok()) return abi_error(vmo.error());
  return to_abi(give_handle(vmo.release_value(), kMemoryObjectDefaultRights, out));
}

namespace {

// Checks a vmo_read/vmo_write request and moves the bytes in kCopyChunk
// pieces through a kernel buffer (the object's pages and the user's buffer
// are never touched under one lock). `to_user`: object → user memory.
int64_t vmo_copy(Handle h, uint64_t offset, UserAddr buf, size_t len, bool to_user) {
  auto vmo = lookup<vm::MemoryObject>(h, to_user ? kRightRead : kRightWrite);
  if (!vmo.ok()) return abi_error(vmo.error());
  if (!x86::user_range_ok(buf, len)) return abi_error(ktl::Error::Fault);
  uint64_t end;
  if (!ktl::checked_add(offset, len, end) || end > (*vmo)->size()) return abi_error(ktl::Error::OutOfRange);
  uint8_t chunk[kCopyChunk];
  for (size_t done = 0; done < len;) {
    size_t n = len - done < kCopyChunk ? len - done : kCopyChunk;
    ktl::Result<void> r = to_user ? (*vmo)->read(offset + done, chunk, n) : x86::copy_from_user(chunk, buf + done, n);
    if (r.ok()) r = to_user ? x86::copy_to_user(buf + done, chunk, n) : (*vmo)->write(offset + done, chunk, n);
    if (!r.ok()) return to_abi(r);
    done += n;
  }
  return 0;
}

}  // namespace

int64_t sys_vmo_read(Handle h, uint64_t offset, UserAddr buf, size_t len) { return vmo_copy(h, offset, buf, len, true); }

int64_t sys_vmo_write(Handle h, uint64_t offset, UserAddr buf, size_t len) {
  return vmo_copy(h, offset, buf, len, false);
}

int64_t sys_vmo_get_size(Handle h, UserAddr out) {
  auto vmo = lookup<vm::MemoryObject>(h, 0);
  if (!vmo.ok()) return abi_error(vmo.error());
  return to_abi(x86::write_user(out, uint64_t((*vmo)->size())));
}

int64_t sys_vmo_clone(Handle h, uint64_t offset, size_t size, UserAddr out) {
  auto vmo = lookup<vm::MemoryObject>(h, kRightRead | kRightDuplicate);
  if (!vmo.ok()) return abi_error(vmo.error());
  auto clone = (*vmo)->clone_cow(offset, size, &current_process().quota());
  if (!clone.ok()) return abi_error(clone.error());
  return to_abi(give_handle(clone.release_value(), kMemoryObjectDefaultRights, out));
}

int64_t sys_vm_map(Handle process, Handle vmo_h, uint64_t offset, size_t len, uint32_t prot_and_flags,
                   UserAddr addr_inout) {
  if (prot_and_flags & ~(kVmRead | kVmWrite | kVmExecute | kVmFixed)) return abi_error(ktl::Error::InvalidArgument);
  auto proc = lookup<object::Process>(process, kRightMap);
  if (!proc.ok()) return abi_error(proc.error());
  Rights need = kRightMap;
  if (prot_and_flags & kVmWrite) need |= kRightWrite;
  if (prot_and_flags & kVmExecute) need |= kRightExecute;
  Rights have = 0;
  auto entry = current_process().handles().get_entry(vmo_h);
  if (!entry.ok()) return abi_error(entry.error());
  have = entry->rights;
  auto vmo = lookup<vm::MemoryObject>(vmo_h, need);
  if (!vmo.ok()) return abi_error(vmo.error());
  uint64_t fixed = 0;
  if (prot_and_flags & kVmFixed) {
    auto a = x86::read_user<uint64_t>(addr_inout);
    if (!a.ok()) return abi_error(a.error());
    if (*a == 0) return abi_error(ktl::Error::InvalidArgument);
    fixed = *a;
  } else if (!x86::user_range_ok(addr_inout, sizeof(uint64_t))) {
    return abi_error(ktl::Error::Fault);
  }
  vm::AddressSpace::MapOptions opts;
  opts.fixed_addr = fixed;
  // What the handle allows bounds later vm_protect calls too.
  opts.max_prot = x86::Prot::Read | ((have & kRightWrite) ? x86::Prot::Write : 0) |
                  ((have & kRightExecute) ? x86::Prot::Execute : 0);
  auto addr = (*proc)->aspace().map(*vmo, offset, len, prot_from_abi(prot_and_flags), opts, {});
  if (!addr.ok()) return abi_error(addr.error());
  if (auto w = x86::write_user(addr_inout, *addr); !w.ok()) {
    (void)(*proc)->aspace().unmap(*addr, len, user_flush((*proc)->aspace()));
    return to_abi(w);
  }
  return 0;
}

int64_t sys_vm_unmap(Handle process, UserAddr addr, size_t len) {
  auto proc = lookup<object::Process>(process, kRightMap);
  if (!proc.ok()) return abi_error(proc.error());
  return to_abi((*proc)->aspace().unmap(addr, len, user_flush((*proc)->aspace())));
}

int64_t sys_vm_protect(Handle process, UserAddr addr, size_t len, uint32_t prot) {
  if (prot & ~(kVmRead | kVmWrite | kVmExecute)) return abi_error(ktl::Error::InvalidArgument);
  auto proc = lookup<object::Process>(process, kRightMap);
  if (!proc.ok()) return abi_error(proc.error());
  return to_abi((*proc)->aspace().protect(addr, len, prot_from_abi(prot), user_flush((*proc)->aspace())));
}

}  // namespace syscalls

namespace syscalls {
namespace {

// process_read / process_write: moves `len` bytes between the caller's
// buffer and the address space of `process`, mapping by mapping, through each
// mapping's MemoryObject (so demand-zero pages are committed, a write breaks
// copy-on-write as a write by the owner would, and no frame can be freed
// under the copy). Protections are not checked: the right on the process is
// the authority (a debugger's, a personality server's).
int64_t process_copy(Handle process, uint64_t addr, UserAddr buf, size_t len, bool to_user) {
  auto p = lookup<object::Process>(process, to_user ? kRightRead : kRightWrite);
  if (!p.ok()) return abi_error(p.error());
  if (len > kProcessCopyMax) return abi_error(ktl::Error::InvalidArgument);
  if (!x86::user_range_ok(buf, len)) return abi_error(ktl::Error::Fault);
  uint64_t end;
  if (!ktl::checked_add(addr, len, end) || end > vm::AddressSpace::kUserEnd) return abi_error(ktl::Error::OutOfRange);
  uint8_t chunk[kCopyChunk];
  for (size_t done = 0; done < len;) {
    uint64_t offset = 0, left = 0;
    auto vmo = (*p)->aspace().object_at(addr + done, &offset, &left);
    if (!vmo.ok()) return abi_error(vmo.error());  // NotFound: a hole in the range
    if ((*vmo)->is_physical()) return abi_error(ktl::Error::AccessDenied);  // device memory: never through here
    size_t n = len - done < kCopyChunk ? len - done : kCopyChunk;
    if (n > left) n = size_t(left);
    ktl::Result<void> r = to_user ? (*vmo)->read(offset, chunk, n) : x86::copy_from_user(chunk, buf + done, n);
    if (r.ok()) r = to_user ? x86::copy_to_user(buf + done, chunk, n) : (*vmo)->write(offset, chunk, n);
    if (!r.ok()) return to_abi(r);
    done += n;
  }
  return 0;
}

}  // namespace

int64_t sys_process_read(Handle process, uint64_t addr, UserAddr buf, size_t len) {
  return process_copy(process, addr, buf, len, true);
}

int64_t sys_process_write(Handle process, uint64_t addr, UserAddr buf, size_t len) {
  return process_copy(process, addr, buf, len, false);
}

}  // namespace syscalls
