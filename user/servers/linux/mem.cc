// linux/mem.cc — memory maps and the memory syscalls (internal.h lists the files).
#include "internal.h"
#include "vmcheck.h"

namespace linux_srv {

namespace V = linux_vmcheck;

// ---------------------------------------------------------------- memory maps

uint32_t keel_prot(uint64_t prot) {
  uint32_t k = 0;
  if (prot & (L::PROT_READ | L::PROT_WRITE | L::PROT_EXEC)) k |= keel::kVmRead;
  if (prot & L::PROT_WRITE) k |= keel::kVmWrite;
  if ((prot & L::PROT_EXEC) && !(prot & L::PROT_WRITE)) k |= keel::kVmExecute;  // W^X: write wins
  return k;
}

// Maps `len` bytes of object `vmo` from `off` at `addr` in `process` with
// the Linux protection `prot` (PROT_NONE: a Keel mapping with no access,
// whose every touch faults into the pager: SIGSEGV, SEGV_ACCERR). 0 or the
// Keel error.
int64_t map_pages(Handle process, Handle vmo, uint64_t off, uint64_t addr, uint64_t len, uint64_t prot) {
  uint64_t at = addr;
  return sys::vm_map(process, vmo, off, len, keel_prot(prot) | keel::kVmFixed, &at);
}

Vmo* new_vmo(Handle h) {
  Vmo* v = new Vmo();
  if (!v) return nullptr;
  v->handle = h;
  v->refs = 1;
  return v;
}
// A shared file mapping's bytes back to its file (msync, the last unmap):
// the whole range the object holds, up to the file's end as it is now (a
// mapping does not grow its file). 0 or -EIO.
int64_t write_back(Vmo* v) {
  File* f = v->backing;
  if (!f) return 0;
  keel::fs::Info info;
  if (keel::fs::fstat(f->fid, &info) != Status::Ok) return -L::EIO;
  if (info.size <= v->file_off) return 0;
  const uint64_t n = info.size - v->file_off < v->file_len ? info.size - v->file_off : v->file_len;
  uint64_t saved = 0;
  (void)keel::fs::seek(f->fid, pfs::kSeekCurrent, 0, &saved);
  if (keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(v->file_off)) != Status::Ok) return -L::EIO;
  static uint8_t chunk[64 * 1024];
  int64_t e = 0;
  for (uint64_t done = 0; done < n && e == 0;) {
    const size_t k = n - done < sizeof chunk ? size_t(n - done) : sizeof chunk;
    if (sys::vmo_read(v->handle, done, chunk, k) != 0 || keel::fs::write(f->fid, {chunk, k}) != Status::Ok) e = -L::EIO;
    done += k;
  }
  (void)keel::fs::seek(f->fid, pfs::kSeekSet, int64_t(saved));
  return e;
}

void vmo_unref(Vmo* v) {
  if (--v->refs > 0) return;
  if (v->backing) {
    (void)write_back(v);
    file_unref(v->backing);
  }
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

// The mapping that holds `addr`, or null.
Mapping* mapping_at(Proc& p, uint64_t addr) {
  for (Mapping& m : p.maps)
    if (m.used && m.start <= addr && addr < m.start + m.len) return &m;
  return nullptr;
}

namespace {

// A free range of `len` bytes below `top`, the highest one (0: none): each
// candidate that meets mappings moves below the lowest of them.
uint64_t free_below(Proc& p, uint64_t top, uint64_t len) {
  for (size_t tries = 0; tries <= kMaxMaps + 1; ++tries) {
    if (top < len || top - len < V::kMinAddr) return 0;
    const uint64_t cand = top - len;
    uint64_t lowest = ~0ull;
    for (Mapping& m : p.maps)
      if (m.used && m.start < cand + len && cand < m.start + m.len && m.start < lowest) lowest = m.start;
    if (lowest == ~0ull) return cand;
    top = lowest;
  }
  return 0;
}

int free_slots(const Proc& p) {
  int n = 0;
  for (const Mapping& m : p.maps) n += !m.used;
  return n;
}

}  // namespace

// Where an mmap without MAP_FIXED goes: below the last one (mmap_hint), or
// below the mmap base when that part is full. 0: no room.
uint64_t find_free(Proc& p, uint64_t len) {
  if (p.mmap_hint == 0) p.mmap_hint = kMmapBase;
  uint64_t at = free_below(p, p.mmap_hint, len);
  if (at == 0) at = free_below(p, kMmapBase, len);
  if (at != 0) p.mmap_hint = at;
  return at;
}

// Maps `len` bytes of a new zeroed object at `addr`: exactly there (fixed),
// or there if it is a usable free hint, else at a free address below the
// mmap base. Returns the address or -errno.
int64_t map_new(Proc& p, uint64_t addr, uint64_t len, uint64_t prot, bool fixed, bool shared, Vmo** out_vmo) {
  if (!fixed && !(V::hint_usable(addr, len) && range_free(p, addr, len))) {
    addr = find_free(p, len);
    if (addr == 0) return -L::ENOMEM;
  }
  Handle h = kInvalidHandle;
  if (sys::vmo_create(len, 0, &h) != 0) return -L::ENOMEM;
  Vmo* v = new_vmo(h);
  if (!v) {
    sys::handle_close(h);
    return -L::ENOMEM;
  }
  int64_t r = map_pages(p.process, h, 0, addr, len, prot);
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

// Unmaps [start, start+len) from the process and the table.
void unmap_range(Proc& p, uint64_t start, uint64_t len) {
  (void)sys::vm_unmap(p.process, start, len);
  (void)forget_range(p, start, len);
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
    else if (type == L::MAP_SHARED && (prot & L::PROT_WRITE) && (f->flags & L::O_ACCMODE) != L::O_RDWR)
      return value(-L::EACCES);
  }
  if (fixed) {
    if ((flags & L::MAP_FIXED_NOREPLACE) && !range_free(p, addr, size)) return value(-L::EEXIST);
    unmap_range(p, addr, size);
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
    // MAP_SHARED of a file open for reading and writing: the object is
    // written back to it (msync, the last unmap; write_back). O_APPEND
    // files are left out (their writes go to the end).
    if (type == L::MAP_SHARED && (f->flags & L::O_ACCMODE) == L::O_RDWR && !(f->flags & L::O_APPEND)) {
      file_ref(f);
      v->backing = f;
      v->file_off = off;
      v->file_len = size;
    }
    // Whole pages past the end of the file: no access, and a fault there
    // is SIGBUS (signals.cc), as in Linux.
    if (eof && page_up(done) < size && sys::vm_protect(p.process, uint64_t(at) + page_up(done), size - page_up(done), 0) == 0)
      v->past_eof = page_up(done) ? page_up(done) : ~0ull;
  }
  return value(at);
}

// msync(2): MS_SYNC or MS_ASYNC (both write back now), MS_INVALIDATE (a
// no-op: the object is the only copy this server keeps); EINVAL for an
// unaligned address, unknown flags or SYNC with ASYNC, ENOMEM for a range
// not all mapped. Each shared file mapping the range touches is written
// back whole.
Result sys_msync(Proc& p, uint64_t addr, uint64_t len, uint64_t flags) {
  constexpr uint64_t kAsync = 1, kInvalidate = 2, kSync = 4;
  if ((addr & (kPage - 1)) || (flags & ~(kAsync | kInvalidate | kSync)) || (flags & (kAsync | kSync)) == (kAsync | kSync))
    return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (size < len) return value(-L::ENOMEM);
  if (size == 0) return value(0);
  if (!range_mapped(p, addr, size)) return value(-L::ENOMEM);
  Vmo* done[kMaxMaps];
  size_t n = 0;
  for (Mapping& m : p.maps) {
    if (!m.used || !m.vmo || !m.vmo->backing || m.start >= addr + size || m.start + m.len <= addr) continue;
    bool seen = false;
    for (size_t i = 0; i < n; ++i) seen |= done[i] == m.vmo;
    if (seen) continue;
    done[n++] = m.vmo;
    if (int64_t e = write_back(m.vmo); e < 0) return value(e);
  }
  return value(0);
}

Result sys_munmap(Proc& p, uint64_t addr, uint64_t len) {
  if ((addr & (kPage - 1)) || len == 0) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (addr + size > 0x8000'0000'0000 || addr + size < addr) return value(-L::EINVAL);
  (void)sys::vm_unmap(p.process, addr, size);
  if (!forget_range(p, addr, size)) return value(-L::ENOMEM);
  return value(0);
}

namespace {

// Gives mapping `m` of a program file's object (read-only, shared: Vmo::
// image) a private copy-on-write clone of its range instead, mapped in its
// place, so that it may become writable. False if that fails (nothing changed).
bool privatize(Proc& p, Mapping& m) {
  Handle h = kInvalidHandle;
  if (sys::vmo_clone(m.vmo->handle, m.offset, m.len, &h) != 0) return false;
  Vmo* v = new_vmo(h);
  if (!v) {
    sys::handle_close(h);
    return false;
  }
  (void)sys::vm_unmap(p.process, m.start, m.len);
  if (map_pages(p.process, h, 0, m.start, m.len, m.prot) != 0) {
    vmo_unref(v);
    (void)map_pages(p.process, m.vmo->handle, m.offset, m.start, m.len, m.prot);  // (put it back)
    return false;
  }
  vmo_unref(m.vmo);
  m.vmo = v;
  m.offset = 0;
  return true;
}

}  // namespace

Result sys_mprotect(Proc& p, uint64_t addr, uint64_t len, uint64_t prot) {
  if ((addr & (kPage - 1)) || (prot & ~uint64_t(7))) return value(-L::EINVAL);
  const uint64_t size = page_up(len);
  if (size < len) return value(-L::ENOMEM);
  if (size == 0) return value(0);
  if (!range_mapped(p, addr, size)) return value(-L::ENOMEM);
  if (prot & L::PROT_WRITE)  // a program's read-only segment becomes a private copy first
    for (Mapping& m : p.maps)
      if (m.used && m.vmo->image && m.start < addr + size && addr < m.start + m.len && !privatize(p, m))
        return value(-L::ENOMEM);
  if (int64_t e = sys::vm_protect(p.process, addr, size, keel_prot(prot)); e != 0)
    return value(e == keel::err(Status::NoMemory) || e == keel::err(Status::QuotaExceeded) ? -L::ENOMEM : -L::EACCES);
  if (!protect_range(p, addr, size, uint32_t(prot))) return value(-L::ENOMEM);
  return value(0);
}

// mremap(2): shrinks in place; grows in place when the pages after the
// mapping are free; otherwise (MREMAP_MAYMOVE) maps the same memory objects
// at a new address (MREMAP_FIXED: the one given, replacing what is there),
// so the contents move without a copy and MAP_SHARED memory stays shared,
// and the growth is new zeroed memory with the protection and sharing of the
// old range's last page. MREMAP_DONTUNMAP leaves fresh zeroed memory behind.
// The old range must be mapped (EFAULT otherwise; Linux also wants it inside
// one mapping, here it may span pieces). old_len 0 (a second mapping of
// shared memory) is not built: EINVAL.
Result sys_mremap(Proc& p, const UserRegs& r) {
  const uint64_t old = r.rdi, old_len = r.rsi, new_len = r.rdx, flags = r.r10, new_addr = r.r8;
  if (int64_t e = V::mremap_check(old, old_len, new_len, flags, new_addr); e < 0) return value(e);
  if (old_len == 0) return value(-L::EINVAL);
  const uint64_t os = page_up(old_len), ns = page_up(new_len);
  if (!range_mapped(p, old, os)) return value(-L::EFAULT);
  const bool fixed = flags & V::kMremapFixed, dontunmap = flags & V::kMremapDontunmap;
  if (!fixed && !dontunmap && ns <= os) {
    if (ns < os) unmap_range(p, old + ns, os - ns);
    return value(int64_t(old));
  }
  const Mapping* lastp = mapping_at(p, old + os - 1);
  const uint32_t grow_prot = lastp ? lastp->prot : uint32_t(L::PROT_READ | L::PROT_WRITE);
  const bool grow_shared = lastp && lastp->shared;
  if (!fixed && !dontunmap && old + ns <= V::kUserTop && range_free(p, old + os, ns - os)) {
    const int64_t e = map_new(p, old + os, ns - os, grow_prot, true, grow_shared);
    if (e >= 0) return value(int64_t(old));
    if (!(flags & V::kMremapMaymove)) return value(e);
  }
  if (!(flags & V::kMremapMaymove)) return value(-L::ENOMEM);
  uint64_t to = new_addr;
  if (fixed) {
    unmap_range(p, to, ns);
  } else {
    to = find_free(p, ns);
    if (to == 0) return value(-L::ENOMEM);
  }
  // The pieces of [old, old + keep), copied first: the table changes below.
  const uint64_t keep = ns < os ? ns : os;
  struct Piece {
    uint64_t start, len, offset;
    uint32_t prot;
    bool shared;
    Vmo* vmo;
  };
  Piece* pieces = new Piece[kMaxMaps];
  if (!pieces) return value(-L::ENOMEM);
  size_t n = 0;
  for (Mapping& m : p.maps) {
    if (!m.used || m.start >= old + keep || m.start + m.len <= old) continue;
    const uint64_t a = m.start > old ? m.start : old, b = m.start + m.len < old + keep ? m.start + m.len : old + keep;
    pieces[n++] = {a, b - a, m.offset + (a - m.start), m.prot, m.shared, m.vmo};
  }
  int64_t err = 0;
  for (size_t i = 0; i < n && err == 0; ++i) {
    const Piece& pc = pieces[i];
    uint64_t at = to + (pc.start - old);
    ++pc.vmo->refs;
    if (map_pages(p.process, pc.vmo->handle, pc.offset, at, pc.len, pc.prot) != 0) {
      --pc.vmo->refs;
      err = -L::ENOMEM;
    } else if (!add_mapping(p, at, pc.len, pc.prot, pc.shared, pc.vmo, pc.offset)) {
      (void)sys::vm_unmap(p.process, at, pc.len);
      --pc.vmo->refs;
      err = -L::ENOMEM;
    }
  }
  delete[] pieces;
  if (err == 0 && ns > os) {
    const int64_t e = map_new(p, to + os, ns - os, grow_prot, true, grow_shared);
    if (e < 0) err = e;
  }
  if (err < 0) {  // nothing moved: the old range is as it was
    unmap_range(p, to, ns);
    return value(err);
  }
  unmap_range(p, old, os);
  if (dontunmap) (void)map_new(p, old, os, grow_prot, true, false);
  return value(int64_t(to));
}

namespace {

// MADV_DONTNEED on the private pieces of [start, start+len): they read as
// zero again (Linux drops the pages; for a private file mapping it would
// read the file again: here those are copies, and read zero too). A piece
// the range covers whole gets a new, empty object; a part of one is
// unmapped and mapped afresh, or, with the table nearly full, zeroed in its
// object. MAP_SHARED memory keeps its contents, as on Linux.
void dont_need(Proc& p, uint64_t start, uint64_t len) {
  const uint64_t end = start + len;
  for (size_t i = 0; i < kMaxMaps; ++i) {
    Mapping& m = p.maps[i];
    // (A program's read-only segment maps its file's object: it reads the file's bytes again, as on Linux.)
    if (!m.used || m.shared || m.vmo->image || m.start >= end || m.start + m.len <= start) continue;
    const uint64_t a = m.start > start ? m.start : start, b = m.start + m.len < end ? m.start + m.len : end;
    if (a == m.start && b == m.start + m.len) {
      Handle h = kInvalidHandle;
      if (sys::vmo_create(m.len, 0, &h) != 0) continue;
      Vmo* v = new_vmo(h);
      if (!v) {
        sys::handle_close(h);
        continue;
      }
      (void)sys::vm_unmap(p.process, m.start, m.len);
      if (map_pages(p.process, h, 0, m.start, m.len, m.prot) != 0) {
        vmo_unref(v);  // (put the old object back)
        (void)map_pages(p.process, m.vmo->handle, m.offset, m.start, m.len, m.prot);
        continue;
      }
      vmo_unref(m.vmo);
      m.vmo = v;
      m.offset = 0;
    } else if (free_slots(p) >= 2) {
      const uint32_t prot = m.prot;
      unmap_range(p, a, b - a);  // (m may now be another piece: the loop goes on over the table)
      (void)map_new(p, a, b - a, prot, true, false);
    } else {
      static const uint8_t zero[512] = {};
      for (uint64_t o = m.offset + (a - m.start); o < m.offset + (b - m.start); o += sizeof zero)
        (void)sys::vmo_write(m.vmo->handle, o, zero, sizeof zero);
    }
  }
}

}  // namespace

// madvise(2): the hints are taken and change nothing; MADV_DONTNEED zeroes
// private memory (dont_need); MADV_FREE keeps it (allowed until memory is
// short). EINVAL for an unaligned address or unknown advice, ENOMEM for a
// range that is not all mapped.
Result sys_madvise(Proc& p, uint64_t addr, uint64_t len, uint64_t advice) {
  const int64_t e = V::madvise_check(addr, len, advice);
  if (e < 0) return value(e);
  if (e == 1) return value(0);
  const uint64_t size = page_up(len);
  if (!range_mapped(p, addr, size)) return value(-L::ENOMEM);
  if (V::classify_advice(advice) == V::Advice::DontNeed) dont_need(p, addr, size);
  return value(0);
}

}  // namespace linux_srv
