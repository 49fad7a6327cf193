// linux/fast.cc — the in-process fast path (fast.h, docs/linux.md): the
// pages every Linux process gets at kFastBase, the ids published in them, and
// each thread's mask (thread_set_foreign_fast), off while a signal is pending
// for the thread (so that its next call comes here and the signal is
// delivered) and in trace mode (every call is printed).
#include "fast.h"

#include <keel/start.h>

#include "internal.h"

namespace linux_srv {

namespace F = linux_fast;

namespace {

Handle g_code = kInvalidHandle;  // the handler's page, shared by all processes (read-exec there)
bool g_code_failed = false;
// Per process slot: its object (answers, tids, save: 3 pages) and the server's
// mapping of the first two. The slot's next process maps the same object.
struct Slot {
  Handle vmo = kInvalidHandle;
  uint64_t* words = nullptr;  // answers[512], then the tids page
};
Slot g_slots[kMaxProcs];

bool make_code() {
  if (g_code != kInvalidHandle) return true;
  if (g_code_failed) return false;
  Handle h = kInvalidHandle;
  uint64_t at = 0;
  Handle self = keel::start_info()->self_process;
  if (sys::vmo_create(kPage, 0, &h) != 0 || sys::vm_map(self, h, 0, kPage, keel::kVmRead | keel::kVmWrite, &at) != 0) {
    if (h != kInvalidHandle) sys::handle_close(h);
    g_code_failed = true;
    return false;
  }
  memcpy(reinterpret_cast<void*>(at), F::kFastHandler, sizeof F::kFastHandler);
  (void)sys::vm_unmap(self, at, kPage);
  g_code = h;
  return true;
}

Slot* slot_of(Proc& p) {
  Slot& s = g_slots[&p - g_procs];
  if (s.vmo != kInvalidHandle) return &s;
  Handle h = kInvalidHandle;
  uint64_t at = 0;
  if (sys::vmo_create(F::kSize - F::kAnswers, 0, &h) != 0 ||
      sys::vm_map(keel::start_info()->self_process, h, 0, 2 * kPage, keel::kVmRead | keel::kVmWrite, &at) != 0) {
    if (h != kInvalidHandle) sys::handle_close(h);
    return nullptr;
  }
  s.vmo = h;
  s.words = reinterpret_cast<uint64_t*>(at);
  return &s;
}

}  // namespace

void fast_publish(Proc& p) {
  if (p.fast_in == kInvalidHandle || p.fast_in != p.process) return;
  Slot& s = g_slots[&p - g_procs];
  if (!s.words) return;
  F::publish(s.words, F::Ids{.pid = p.pid, .ppid = p.ppid, .pgid = p.pgid, .uid = p.uid[0], .euid = p.uid[1],
                             .gid = p.gid[0], .egid = p.gid[1]});
}

void fast_setup(Proc& p, Thread& t, Handle th) {
  t.fast_ready = t.fast_on = false;
  const size_t index = size_t(&t - g_threads);
  if (g_trace || index >= F::kSlots || !make_code()) return;
  Slot* s = slot_of(p);
  if (!s) return;
  if (p.fast_in != p.process) {  // a new Keel process (the first thread, a fork or an execve)
    const uint64_t base = F::kFastBase;
    if (map_pages(p.process, g_code, 0, base + F::kCode, kPage, 1 | 4) != 0) return;
    if (map_pages(p.process, s->vmo, 0, base + F::kAnswers, 2 * kPage, 1) != 0 ||
        map_pages(p.process, s->vmo, 2 * kPage, base + F::kSave, kPage, 1 | 2) != 0) {
      (void)sys::vm_unmap(p.process, base, F::kSize);
      return;
    }
    p.fast_in = p.process;
  }
  fast_publish(p);
  s->words[512 + index * (F::kSlotBytes / 8)] = uint64_t(t.tid);
  keel::ForeignFast f{};
  F::fast_mask(f.mask);
  f.handler = F::kFastBase + F::kCode;
  f.save = F::kFastBase + F::kSave + index * F::kSlotBytes;
  if (sys::thread_set_foreign_fast(th, &f) != 0) return;
  t.fast_ready = t.fast_on = true;
}

void fast_sync(Thread& t) {
  const bool want = t.fast_ready && t.queued == 0;
  if (want == t.fast_on) return;
  keel::ForeignFast f{};
  const size_t index = size_t(&t - g_threads);
  if (want) F::fast_mask(f.mask);
  f.handler = F::kFastBase + F::kCode;
  f.save = F::kFastBase + F::kSave + index * F::kSlotBytes;
  if (sys::thread_set_foreign_fast(t.thread, &f) == 0) t.fast_on = want;
}

}  // namespace linux_srv
