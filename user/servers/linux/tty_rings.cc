// linux/tty_rings.cc — the rings of the console's tty session (keel/proto/linux.h)
// for tty.cc. A file of its own because keel/ring.h brings <atomic>, whose
// libstdc++ defines the errno macros that abi.h's names would collide with.
#include <keel/proto/linux.h>
#include <keel/ring.h>

#include "tty_rings.h"

namespace linux_srv::tty_rings {

namespace lp = keel::proto::linux;

namespace {
keel::RingProducer* g_out = nullptr;  // the output ring: we produce
keel::RingConsumer* g_in = nullptr;   // the input ring: the console produces
}  // namespace

bool attach(uint8_t* base) {
  detach();
  auto out = keel::RingProducer::attach({base, lp::kRingBytes});
  auto in = keel::RingConsumer::attach({base + lp::kInputOffset, lp::kRingBytes});
  if (!out.ok() || !in.ok() || out->max_message() < lp::kMaxRecord) return false;
  g_out = new keel::RingProducer(static_cast<keel::RingProducer&&>(*out));
  g_in = new keel::RingConsumer(static_cast<keel::RingConsumer&&>(*in));
  if (!g_out || !g_in) {
    detach();
    return false;
  }
  return true;
}

void detach() {
  delete g_out;
  delete g_in;
  g_out = nullptr;
  g_in = nullptr;
}

bool write(std::span<const uint8_t> record) { return g_out && g_out->write(record).ok(); }

int64_t read(std::span<uint8_t> out) {
  if (!g_in) return -1;
  auto r = g_in->read(out);
  return r.ok() ? int64_t(*r) : -1;
}

bool room_for_record() {
  return g_out && g_out->free_bytes() >= keel::RingView::record_size(lp::kMaxRecord);
}

}  // namespace linux_srv::tty_rings
