// linux/time.cc — clocks (internal.h lists the files).
#include "internal.h"

namespace linux_srv {

uint64_t realtime_ns() { return g_boot_realtime_ns + keel::now_ns(); }

Result sys_clock_gettime(Proc& p, uint64_t clock, uint64_t addr) {
  uint64_t ns = 0;
  switch (clock) {
    case L::CLOCK_REALTIME: case L::CLOCK_REALTIME_COARSE: ns = realtime_ns(); break;
    case L::CLOCK_MONOTONIC: case L::CLOCK_MONOTONIC_RAW: case L::CLOCK_MONOTONIC_COARSE: case L::CLOCK_BOOTTIME:
      ns = keel::now_ns();
      break;
    case L::CLOCK_PROCESS_CPUTIME_ID: case L::CLOCK_THREAD_CPUTIME_ID: ns = keel::now_ns() - p.start_ns; break;
    default: return value(-L::EINVAL);
  }
  L::Timespec ts{int64_t(ns / 1'000'000'000), int64_t(ns % 1'000'000'000)};
  if (!write_obj(p, addr, ts)) return value(-L::EFAULT);
  return value(0);
}

}  // namespace linux_srv
