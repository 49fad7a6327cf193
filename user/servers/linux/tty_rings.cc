// linux/tty_rings.cc — the rings of the console's tty session (keel/proto/linux.h)
// for tty.cc. A file of its own because keel/ring.h brings <atomic>, whose
// libstdc++ defines the errno macros that abi.h's names would collide with.
#include <keel/proto/linux.h>
#include <keel/ring.h>

#include "tty_rings.h"

namespace linux_srv::tty_rings {

namespace lp = keel::proto::linux;

namespace {
keel::RingProducer* g_out[kMaxSessions] = {};  // the output rings: we produce
keel::RingConsumer* g_in[kMaxSessions] = {};   // the input rings: the consoles produce
bool valid(int slot) { return slot >= 0 && slot < kMaxSessions; }
}  // namespace

bool attach(int slot, uint8_t* base) {
  if (!valid(slot)) return false;
  detach(slot);
  auto out = keel::RingProducer::attach({base, lp::kRingBytes});
  auto in = keel::RingConsumer::attach({base + lp::kInputOffset, lp::kRingBytes});
  if (!out.ok() || !in.ok() || out->max_message() < lp::kMaxRecord) return false;
  g_out[slot] = new keel::RingProducer(static_cast<keel::RingProducer&&>(*out));
  g_in[slot] = new keel::RingConsumer(static_cast<keel::RingConsumer&&>(*in));
  if (!g_out[slot] || !g_in[slot]) {
    detach(slot);
    return false;
  }
  return true;
}

void detach(int slot) {
  if (!valid(slot)) return;
  delete g_out[slot];
  delete g_in[slot];
  g_out[slot] = nullptr;
  g_in[slot] = nullptr;
}

bool write(int slot, std::span<const uint8_t> record) {
  return valid(slot) && g_out[slot] && g_out[slot]->write(record).ok();
}

int64_t read(int slot, std::span<uint8_t> out) {
  if (!valid(slot) || !g_in[slot]) return -1;
  auto r = g_in[slot]->read(out);
  return r.ok() ? int64_t(*r) : -1;
}

bool room_for_record(int slot) {
  return valid(slot) && g_out[slot] && g_out[slot]->free_bytes() >= keel::RingView::record_size(lp::kMaxRecord);
}

}  // namespace linux_srv::tty_rings
