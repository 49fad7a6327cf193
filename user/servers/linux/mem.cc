// linux/mem.cc — memory maps and the memory syscalls (internal.h lists the files).
#include "internal.h"

namespace linux_srv {

// ---------------------------------------------------------------- memory maps

uint32_t keel_prot(uint64_t prot) {
  uint32_t k = 0;
  if (prot & (L::PROT_READ | L::PROT_WRITE | L::PROT_EXEC)) k |= keel::kVmRead;
  if (prot & L::PROT_WRITE) k |= keel::kVmWrite;
  if ((prot & L::PROT_EXEC) && !(prot & L::PROT_WRITE)) k |= keel::kVmExecute;  // W^X: write wins
  return k;
}

Vmo* new_vmo(Handle h) {
  Vmo* v = new Vmo();
  if (!v) return nullptr;
  v->handle = h;
  v->refs = 1;
  return v;
}
void vmo_unref(Vmo* v) {
  if (--v->refs > 0) return;
  sys::handle_close(v->handle);
  delete v;
}

Mapping* add_mapping(Proc& p, uint64_t start, uint64_t len, uint32_t prot, bool shared, Vmo* vmo, uint64_t off) {
  for (Mapping& m : p.maps)
    if (!m.used) {
      m = Mapping{true, start, len, prot, shared, vmo, off};
      return &m;
    }
  return nullptr;
}

// Forgets [start, start+len) in the table (the caller unmaps it in the
// kernel): mappings are cut, keeping the parts outside. Returns false if the
// table has no room for a split.
bool forget_range(Proc& p, uint64_t start, uint64_t len) {
  const uint64_t end = start + len;
  for (Mapping& m : p.maps) {
    if (!m.used || m.start >= end || m.start + m.len <= start) continue;
    const uint64_t mend = m.start + m.len;
    if (m.start < start && mend > end) {  // a hole in the middle: keep both sides
      ++m.vmo->refs;
      if (!add_mapping(p, end, mend - end, m.prot, m.shared, m.vmo, m.offset + (end - m.start))) {
        --m.vmo->refs;
        return false;
      }
      m.len = start - m.start;
    } else if (m.start < start) {
      m.len = start - m.start;
    } else if (mend > end) {
      m.offset += end - m.start;
      m.len = mend - end;
      m.start = end;
    } else {
      vmo_unref(m.vmo);
      m = Mapping{};
    }
  }
  return true;
}

// Sets the recorded protection of [start, start+len), splitting as needed.
bool protect_range(Proc& p, uint64_t start, uint64_t len, uint32_t prot) {
  const uint64_t end = start + len;
  for (Mapping& m : p.maps) {
    if (!m.used || m.start >= end || m.start + m.len <= start || m.prot == prot) continue;
    const uint64_t mend = m.start + m.len;
    const uint64_t a = m.start > start ? m.start : start, b = mend < end ? mend : end;
    if (b < mend) {  // the tail keeps the old protection
      ++m.vmo->refs;
      if (!add_mapping(p, b, mend - b, m.prot, m.shared, m.vmo, m.offset + (b - m.start))) return false;
      m.len = b - m.start;
    }
    if (a > m.start) {  // the head keeps it too
      ++m.vmo->refs;
      if (!add_mapping(p, m.start, a - m.start, m.prot, m.shared, m.vmo, m.offset)) return false;
      m.offset += a - m.start;
      m.len -= a - m.start;
      m.start = a;
    }
    m.prot = prot;
  }
  return true;
}

bool range_mapped(Proc& p, uint64_t start, uint64_t len) {
  uint64_t pos = start;
  const uint64_t end = start + len;
  while (pos < end) {
    bool found = false;
    for (Mapping& m : p.maps)
      if (m.used && m.start <= pos && pos < m.start + m.len) {
        pos = m.start + m.len;
        found = true;
        break;
      }
    if (!found) return false;
  }
  return true;
}

bool range_free(Proc& p, uint64_t start, uint64_t len) {
  for (Mapping& m : p.maps)
    if (m.used && m.start < start + len && start < m.start + m.len) return false;
  return true;
}

// Maps `len` bytes of a new zeroed object at `addr` (fixed) or at a free
// address below the mmap base. Returns the address or -errno.
int64_t map_new(Proc& p, uint64_t addr, uint64_t len, uint64_t prot, bool fixed, bool shared, Vmo** out_vmo) {
  Handle h = kInvalidHandle;
  if (sys::vmo_create(len, 0, &h) != 0) return -L::ENOMEM;
  Vmo* v = new_vmo(h);
  if (!v) {
    sys::handle_close(h);
    return -L::ENOMEM;
  }
  if (!fixed) {
    if (p.mmap_hint == 0) p.mmap_hint = kMmapBase;
    uint64_t cand = p.mmap_hint - len;
    for (int tries = 0; tries < 4096 && !range_free(p, cand, len); ++tries) cand -= kPage * 16;
    addr = cand;
    p.mmap_hint = cand;
  }
  uint64_t at = addr;
  int64_t r = sys::vm_map(p.process, h, 0, len, keel_prot(prot) | keel::kVmFixed, &at);
  if (r != 0) {
    vmo_unref(v);
    return r == keel::err(Status::QuotaExceeded) || r == keel::err(Status::NoMemory) ? -L::ENOMEM : -L::EINVAL;
  }
  if (!add_mapping(p, addr, len, uint32_t(prot), shared, v, 0)) {
    (void)sys::vm_unmap(p.process, addr, len);
    vmo_unref(v);
    return -L::ENOMEM;
  }
  if (out_vmo) *out_vmo = v;
  return int64_t(addr);
}

void unmap_all(Proc& p) {
  for (Mapping& m : p.maps)
    if (m.used) {
      vmo_unref(m.vmo);
      m = Mapping{};
    }
}


Result sys_brk(Proc& p, uint64_t want) {
  if (want == 0 || want < p.brk_base || want > p.brk_base + kBrkMax) return value(int64_t(p.brk_cur));
  const uint64_t need = page_up(want);
  if (need > p.brk_mapped) {
    if (!range_free(p, p.brk_mapped, need - p.brk_mapped)) return value(int64_t(p.brk_cur));
    if (map_new(p, p.brk_mapped, need - p.brk_mapped, L::PROT_READ | L::PROT_WRITE, true, false) < 0)
      return value(int64_t(p.brk_cur));
    p.brk_mapped = need;
  } else if (need < p.brk_mapped) {
    (void)sys::vm_unmap(p.process, need, p.brk_mapped - need);
    forget_range(p, need, p.brk_mapped - need);
    p.brk_mapped = need;
  }
  p.brk_cur = want;
  return value(int64_t(want));
}

Result sys_mmap(Proc& p, const UserRegs& r) {
  const uint64_t addr = r.rdi, len = r.rsi, prot = r.rdx, flags = r.r10;
  const int64_t fd = int64_t(r.r8);
  const uint64_t off = r.r9;
  if (len == 0 || (addr & (kPage - 1)) || (off & (kPage - 1))) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (size < len || size > (1ull << 40)) return value(-L::ENOMEM);
  const uint64_t type = flags & L::MAP_TYPE;
  if (type != L::MAP_PRIVATE && type != L::MAP_SHARED && type != 3) return value(-L::EINVAL);
  if (prot & ~uint64_t(7)) return value(-L::EINVAL);
  const bool fixed = flags & (L::MAP_FIXED | L::MAP_FIXED_NOREPLACE);
  if (fixed && (addr + size > 0x7fff'ffff'f000 || addr < kPage)) return value(-L::EINVAL);
  File* f = nullptr;
  if (!(flags & L::MAP_ANONYMOUS)) {
    f = fd_file(p, fd);
    if (!f) return value(-L::EBADF);
    if (f->kind == FileKind::Zero || f->kind == FileKind::Null) f = nullptr;  // like anonymous memory
    else if (f->kind != FileKind::Vfs || f->type != pfs::kTypeFile) return value(-L::ENODEV);
    else if ((f->flags & L::O_ACCMODE) == L::O_WRONLY) return value(-L::EACCES);
    else if (type == L::MAP_SHARED && (prot & L::PROT_WRITE)) return value(-L::ENOTSUP);  // no write-back yet
  }
  if (fixed) {
    if ((flags & L::MAP_FIXED_NOREPLACE) && !range_free(p, addr, size)) return value(-L::EEXIST);
    (void)sys::vm_unmap(p.process, addr, size);
    forget_range(p, addr, size);
  }
  Vmo* v = nullptr;
  int64_t at = map_new(p, addr, size, prot, fixed, type == L::MAP_SHARED, &v);
  if (at < 0) return value(at);
  if (f) {  // a private copy of the file's bytes
    uint8_t chunk[4096];
    uint64_t done = 0;
    uint64_t saved = 0;
    (void)keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &saved);
    (void)keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(off));
    bool eof = false;
    while (done < size) {
      size_t got = 0;
      if (keel::fs::read(f->fid, {chunk, sizeof chunk}, &got) != Status::Ok) break;
      if (got == 0) {
        eof = true;
        break;
      }
      if (sys::vmo_write(v->handle, done, chunk, got) != 0) break;
      done += got;
    }
    (void)keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(saved));
    // Whole pages past the end of the file: no access, and a fault there
    // is SIGBUS (signals.cc), as in Linux.
    if (eof && page_up(done) < size && sys::vm_protect(p.process, uint64_t(at) + page_up(done), size - page_up(done), 0) == 0)
      v->past_eof = page_up(done) ? page_up(done) : ~0ull;
  }
  return value(at);
}

Result sys_munmap(Proc& p, uint64_t addr, uint64_t len) {
  if ((addr & (kPage - 1)) || len == 0) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (addr + size > 0x8000'0000'0000 || addr + size < addr) return value(-L::EINVAL);
  (void)sys::vm_unmap(p.process, addr, size);
  if (!forget_range(p, addr, size)) return value(-L::ENOMEM);
  return value(0);
}

Result sys_mprotect(Proc& p, uint64_t addr, uint64_t len, uint64_t prot) {
  if ((addr & (kPage - 1)) || (prot & ~uint64_t(7))) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (size == 0) return value(0);
  if (!range_mapped(p, addr, size)) return value(-L::ENOMEM);
  if (sys::vm_protect(p.process, addr, size, keel_prot(prot)) != 0) return value(-L::EACCES);
  if (!protect_range(p, addr, size, uint32_t(prot))) return value(-L::ENOMEM);
  return value(0);
}

}  // namespace linux_srv
