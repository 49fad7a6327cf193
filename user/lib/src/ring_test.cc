// ring_test.cc — host tests for keel/ring.h: layout, format/attach validation,
// records and wraparound, full/empty/too-big, a malicious peer, zero-copy
// reserve/commit, the wait protocol, and two-thread stress runs.
//
// Every ring lives in an exactly sized, 64-byte-aligned heap allocation, so
// ASan reports any access past the data area.
#include <gtest/gtest.h>

#include "../include/keel/ring.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <thread>
#include <vector>

using keel::RingConsumer;
using keel::RingHeader;
using keel::RingProducer;
using keel::RingView;
using ktl::Error;

namespace {

// An exactly sized, 64-byte-aligned buffer standing in for a mapped MemoryObject.
class SharedMemory {
 public:
  explicit SharedMemory(size_t size)
      : size_(size), data_(static_cast<uint8_t*>(::operator new (size, std::align_val_t{64}))) {
    std::memset(data_, 0xA5, size_);
  }
  ~SharedMemory() { ::operator delete (data_, std::align_val_t{64}); }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;

  std::span<uint8_t> span() { return {data_, size_}; }
  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  RingHeader* header() { return reinterpret_cast<RingHeader*>(data_); }
  uint8_t* ring_data() { return data_ + RingView::kDataOffset; }
  std::vector<uint8_t> snapshot() const { return {data_, data_ + size_}; }

 private:
  size_t size_;
  uint8_t* data_;
};

// A formatted ring with both sides attached.
struct Ring {
  explicit Ring(uint32_t capacity) : mem(RingView::kDataOffset + capacity) {
    EXPECT_TRUE(RingView::format(mem.span(), capacity).ok());
    auto p = RingProducer::attach(mem.span());
    auto c = RingConsumer::attach(mem.span());
    EXPECT_TRUE(p.ok() && c.ok());
    producer.emplace(p.release_value());
    consumer.emplace(c.release_value());
  }
  RingProducer& tx() { return *producer; }
  RingConsumer& rx() { return *consumer; }

  SharedMemory mem;
  std::optional<RingProducer> producer;
  std::optional<RingConsumer> consumer;
};

std::vector<uint8_t> pattern(size_t len, uint32_t seed) {
  std::vector<uint8_t> v(len);
  for (size_t i = 0; i < len; ++i) v[i] = uint8_t(seed * 131 + i * 7 + (i >> 8));
  return v;
}

// Writes and reads `records` 8-byte records, moving both positions forward.
void advance(Ring& r, size_t records) {
  uint8_t buf[4] = {1, 2, 3, 4};
  uint8_t out[4];
  for (size_t i = 0; i < records; ++i) {
    ASSERT_TRUE(r.tx().write(buf).ok());
    auto n = r.rx().read(out);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 4u);
  }
}

void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// ---------------------------------------------------------------------------
// Layout and format.

TEST(RingLayout, HeaderOffsetsAndBytes) {
  SharedMemory mem(RingView::kDataOffset + 128);
  ASSERT_TRUE(RingView::format(mem.span(), 128).ok());
  EXPECT_EQ(std::memcmp(mem.data(), "RING", 4), 0);
  uint32_t v;
  std::memcpy(&v, mem.data() + 4, 4);
  EXPECT_EQ(v, 1u);
  std::memcpy(&v, mem.data() + 8, 4);
  EXPECT_EQ(v, 128u);
  std::memcpy(&v, mem.data() + 12, 4);
  EXPECT_EQ(v, 0u);
  // Header bytes beyond the fields are whatever they were; positions are zero.
  uint64_t pos;
  std::memcpy(&pos, mem.data() + 64, 8);
  EXPECT_EQ(pos, 0u);
  std::memcpy(&pos, mem.data() + 128, 8);
  EXPECT_EQ(pos, 0u);

  auto p = RingProducer::attach(mem.span());
  auto c = RingConsumer::attach(mem.span());
  ASSERT_TRUE(p.ok() && c.ok());
  const uint8_t msg[5] = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(p->write(msg).ok());
  std::memcpy(&pos, mem.data() + 64, 8);
  EXPECT_EQ(pos, 16u);  // align_up(4 + 5, 8)
  std::memcpy(&v, mem.data() + 256, 4);
  EXPECT_EQ(v, 5u);  // length word at the start of the data area
  EXPECT_EQ(std::memcmp(mem.data() + 260, "hello", 5), 0);
  uint8_t out[8];
  ASSERT_TRUE(c->read(out).ok());
  std::memcpy(&pos, mem.data() + 128, 8);
  EXPECT_EQ(pos, 16u);
}

TEST(RingFormat, RejectsBadCapacity) {
  SharedMemory mem(RingView::kDataOffset + 4096);
  for (uint32_t cap : {0u, 1u, 8u, 32u, 48u, 100u, 65u, 3000u, 0x80000001u, 0xFFFFFFFFu})
    EXPECT_EQ(RingView::format(mem.span(), cap).error(), Error::InvalidArgument) << cap;
  for (uint32_t cap : {64u, 128u, 4096u}) EXPECT_TRUE(RingView::format(mem.span(), cap).ok()) << cap;
}

TEST(RingFormat, RejectsMemoryTooSmall) {
  SharedMemory exact(RingView::kDataOffset + 256);
  EXPECT_TRUE(RingView::format(exact.span(), 256).ok());
  EXPECT_EQ(RingView::format(exact.span().first(RingView::kDataOffset + 255), 256).error(),
            Error::InvalidArgument);
  EXPECT_EQ(RingView::format(exact.span().first(100), 64).error(), Error::InvalidArgument);
  EXPECT_EQ(RingView::format(exact.span().first(0), 64).error(), Error::InvalidArgument);
  EXPECT_EQ(RingView::format(exact.span(), 512).error(), Error::InvalidArgument);
}

TEST(RingFormat, RejectsMisalignedMemory) {
  SharedMemory mem(RingView::kDataOffset + 64 + 64);
  EXPECT_EQ(RingView::format(mem.span().subspan(8), 64).error(), Error::Misaligned);
  EXPECT_EQ(RingProducer::attach(mem.span().subspan(16)).error(), Error::Misaligned);
  EXPECT_EQ(RingConsumer::attach(mem.span().subspan(32)).error(), Error::Misaligned);
}

// ---------------------------------------------------------------------------
// Attach validation.

Error attach_error_both(SharedMemory& mem) {
  Error p = RingProducer::attach(mem.span()).error();
  Error c = RingConsumer::attach(mem.span()).error();
  EXPECT_EQ(p, c);
  return p;
}

TEST(RingAttach, AcceptsFormattedRing) {
  SharedMemory mem(RingView::kDataOffset + 1024);
  ASSERT_TRUE(RingView::format(mem.span(), 1024).ok());
  auto p = RingProducer::attach(mem.span());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->capacity(), 1024u);
  EXPECT_EQ(p->max_message(), 508u);
  EXPECT_EQ(p->free_bytes(), 1024u);
  auto c = RingConsumer::attach(mem.span());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->capacity(), 1024u);
}

TEST(RingAttach, RejectsBadMagic) {
  SharedMemory mem(RingView::kDataOffset + 64);
  EXPECT_EQ(attach_error_both(mem), Error::BadMagic);  // never formatted (0xA5 fill)
  ASSERT_TRUE(RingView::format(mem.span(), 64).ok());
  mem.data()[3] = 'X';
  EXPECT_EQ(attach_error_both(mem), Error::BadMagic);
}

TEST(RingAttach, RejectsUnknownVersionAndFlags) {
  SharedMemory mem(RingView::kDataOffset + 64);
  ASSERT_TRUE(RingView::format(mem.span(), 64).ok());
  put_u32(mem.data() + 4, 2);
  EXPECT_EQ(attach_error_both(mem), Error::Unsupported);
  ASSERT_TRUE(RingView::format(mem.span(), 64).ok());
  put_u32(mem.data() + 12, 1);
  EXPECT_EQ(attach_error_both(mem), Error::Unsupported);
}

TEST(RingAttach, RejectsBadCapacity) {
  SharedMemory mem(RingView::kDataOffset + 256);
  for (uint32_t cap : {0u, 32u, 100u, 255u, 512u, 0x80000000u, 0xFFFFFFFFu}) {
    ASSERT_TRUE(RingView::format(mem.span(), 256).ok());
    put_u32(mem.data() + 8, cap);
    EXPECT_EQ(attach_error_both(mem), Error::InvalidArgument) << cap;
  }
}

TEST(RingAttach, RejectsMemoryTooSmall) {
  SharedMemory mem(RingView::kDataOffset + 256);
  ASSERT_TRUE(RingView::format(mem.span(), 256).ok());
  EXPECT_EQ(RingProducer::attach(mem.span().first(RingView::kDataOffset + 128)).error(),
            Error::InvalidArgument);
  EXPECT_EQ(RingConsumer::attach(mem.span().first(RingView::kDataOffset + 255)).error(),
            Error::InvalidArgument);
  EXPECT_EQ(RingProducer::attach(mem.span().first(100)).error(), Error::InvalidArgument);
  EXPECT_EQ(RingConsumer::attach(mem.span().first(0)).error(), Error::InvalidArgument);
  SharedMemory tiny(64);  // not even a header: must not read past it
  EXPECT_EQ(RingConsumer::attach(tiny.span()).error(), Error::InvalidArgument);
}

TEST(RingAttach, RejectsInconsistentPositions) {
  SharedMemory mem(RingView::kDataOffset + 64);
  ASSERT_TRUE(RingView::format(mem.span(), 64).ok());
  mem.header()->head.store(5);
  EXPECT_EQ(RingProducer::attach(mem.span()).error(), Error::InvalidArgument);
  mem.header()->head.store(128);  // head - tail > capacity
  EXPECT_EQ(RingProducer::attach(mem.span()).error(), Error::InvalidArgument);
  mem.header()->head.store(0);
  mem.header()->tail.store(3);
  EXPECT_EQ(RingConsumer::attach(mem.span()).error(), Error::InvalidArgument);
}

TEST(RingAttach, ResumesAtCurrentPositions) {
  Ring r(128);
  const uint8_t a[3] = {1, 2, 3};
  ASSERT_TRUE(r.tx().write(a).ok());
  ASSERT_TRUE(r.tx().write(a).ok());
  uint8_t out[3];
  ASSERT_TRUE(r.rx().read(out).ok());
  // Re-attach both sides: the second record is still there, head continues.
  auto p = RingProducer::attach(r.mem.span());
  auto c = RingConsumer::attach(r.mem.span());
  ASSERT_TRUE(p.ok() && c.ok());
  EXPECT_EQ(p->free_bytes(), 120u);
  ASSERT_TRUE(p->write(a).ok());
  EXPECT_EQ(*c->read(out), 3u);
  EXPECT_EQ(*c->read(out), 3u);
  EXPECT_EQ(c->read(out).error(), Error::WouldBlock);
}

// ---------------------------------------------------------------------------
// Records.

TEST(RingRecords, RoundTripVariedSizes) {
  Ring r(4096);
  std::vector<uint8_t> out(4096);
  for (size_t len = 1; len <= r.tx().max_message(); len += (len < 64 ? 1 : 37)) {
    auto msg = pattern(len, uint32_t(len));
    ASSERT_TRUE(r.tx().write(msg).ok()) << len;
    EXPECT_EQ(*r.rx().peek_size(), len);
    auto n = r.rx().read(out);
    ASSERT_TRUE(n.ok()) << len;
    ASSERT_EQ(*n, len);
    ASSERT_EQ(std::memcmp(out.data(), msg.data(), len), 0) << len;
    EXPECT_EQ(r.tx().free_bytes(), 4096u);
  }
}

TEST(RingRecords, RecordSizeIsPaddedToEight) {
  EXPECT_EQ(RingView::record_size(1), 8u);
  EXPECT_EQ(RingView::record_size(4), 8u);
  EXPECT_EQ(RingView::record_size(5), 16u);
  EXPECT_EQ(RingView::record_size(12), 16u);
  EXPECT_EQ(RingView::record_size(13), 24u);
  EXPECT_EQ(RingView::max_message(64), 28u);
  EXPECT_EQ(RingView::record_size(RingView::max_message(64)), 32u);
}

// Every record start offset x every length: the wrap point is crossed by the
// payload at every possible split.
TEST(RingRecords, WrapAtEveryOffset) {
  constexpr uint32_t kCap = 256;
  const size_t max = RingView::max_message(kCap);
  std::vector<uint8_t> out(max);
  for (size_t start = 0; start < kCap; start += 8) {
    for (size_t len = 1; len <= max; ++len) {
      Ring r(kCap);
      advance(r, start / 8);
      auto msg = pattern(len, uint32_t(start * 1000 + len));
      ASSERT_TRUE(r.tx().write(msg).ok());
      // A second record right behind it checks the position after the wrap.
      auto next = pattern(3, 77);
      ASSERT_TRUE(r.tx().write(next).ok());
      auto n = r.rx().read(out);
      ASSERT_TRUE(n.ok()) << start << " " << len;
      ASSERT_EQ(*n, len);
      ASSERT_EQ(std::memcmp(out.data(), msg.data(), len), 0) << start << " " << len;
      n = r.rx().read(out);
      ASSERT_TRUE(n.ok());
      ASSERT_EQ(*n, 3u);
      ASSERT_EQ(std::memcmp(out.data(), next.data(), 3), 0);
      ASSERT_EQ(r.rx().read(out).error(), Error::WouldBlock);
    }
  }
}

// A ring kept partly full while record sizes walk across the wrap point,
// checked against a model queue.
TEST(RingRecords, ModelCheckedRandomTraffic) {
  for (uint32_t cap : {64u, 256u, 1024u}) {
    Ring r(cap);
    std::deque<std::vector<uint8_t>> model;
    uint64_t used = 0;
    std::mt19937 rng(cap);
    std::vector<uint8_t> out(cap);
    for (int step = 0; step < 50000; ++step) {
      if (rng() % 2) {
        size_t len = 1 + rng() % r.tx().max_message();
        auto msg = pattern(len, uint32_t(step));
        auto w = r.tx().write(msg);
        if (used + RingView::record_size(len) <= cap) {
          ASSERT_TRUE(w.ok());
          used += RingView::record_size(len);
          model.push_back(std::move(msg));
        } else {
          ASSERT_EQ(w.error(), Error::WouldBlock);
        }
      } else {
        auto n = r.rx().read(out);
        if (model.empty()) {
          ASSERT_EQ(n.error(), Error::WouldBlock);
        } else {
          ASSERT_TRUE(n.ok());
          ASSERT_EQ(*n, model.front().size());
          ASSERT_EQ(std::memcmp(out.data(), model.front().data(), *n), 0);
          used -= RingView::record_size(*n);
          model.pop_front();
        }
      }
      ASSERT_EQ(r.tx().free_bytes(), cap - used);
    }
  }
}

TEST(RingRecords, FullRingWouldBlockAndWritesNothing) {
  Ring r(64);
  const uint8_t four[4] = {9, 9, 9, 9};
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(r.tx().write(four).ok());  // 8 x 8 bytes
  EXPECT_EQ(r.tx().free_bytes(), 0u);
  auto before = r.mem.snapshot();
  const uint8_t one[1] = {1};
  EXPECT_EQ(r.tx().write(one).error(), Error::WouldBlock);
  EXPECT_EQ(r.tx().reserve(1).error(), Error::WouldBlock);
  EXPECT_EQ(r.mem.snapshot(), before);
  uint8_t out[4];
  for (int i = 0; i < 8; ++i) ASSERT_EQ(*r.rx().read(out), 4u);
  EXPECT_EQ(r.rx().read(out).error(), Error::WouldBlock);
}

TEST(RingRecords, NotEnoughRoomForThisRecord) {
  Ring r(64);
  auto a = pattern(28, 1);  // 32 bytes
  auto b = pattern(20, 2);  // 24 bytes
  ASSERT_TRUE(r.tx().write(a).ok());
  ASSERT_TRUE(r.tx().write(b).ok());
  EXPECT_EQ(r.tx().free_bytes(), 8u);
  auto before = r.mem.snapshot();
  EXPECT_EQ(r.tx().write(pattern(5, 3)).error(), Error::WouldBlock);  // needs 16
  EXPECT_EQ(r.mem.snapshot(), before);
  EXPECT_TRUE(r.tx().write(pattern(4, 4)).ok());  // needs 8
  EXPECT_EQ(r.tx().free_bytes(), 0u);
}

TEST(RingRecords, RecordTooBigOrEmpty) {
  Ring r(256);
  const size_t max = r.tx().max_message();
  ASSERT_EQ(max, 124u);
  auto before = r.mem.snapshot();
  EXPECT_EQ(r.tx().write(pattern(max + 1, 0)).error(), Error::InvalidArgument);
  EXPECT_EQ(r.tx().write(pattern(100000, 0)).error(), Error::InvalidArgument);
  EXPECT_EQ(r.tx().write(std::span<const uint8_t>()).error(), Error::InvalidArgument);
  EXPECT_EQ(r.tx().reserve(max + 1).error(), Error::InvalidArgument);
  EXPECT_EQ(r.tx().reserve(0).error(), Error::InvalidArgument);
  EXPECT_EQ(r.mem.snapshot(), before);
  // Two largest records fill the ring exactly.
  ASSERT_TRUE(r.tx().write(pattern(max, 1)).ok());
  ASSERT_TRUE(r.tx().write(pattern(max, 2)).ok());
  EXPECT_EQ(r.tx().free_bytes(), 0u);
  std::vector<uint8_t> out(max);
  EXPECT_EQ(*r.rx().read(out), max);
  EXPECT_EQ(out, pattern(max, 1));
  EXPECT_EQ(*r.rx().read(out), max);
  EXPECT_EQ(out, pattern(max, 2));
}

TEST(RingRecords, EmptyWouldBlock) {
  Ring r(64);
  uint8_t out[64];
  EXPECT_EQ(r.rx().read(out).error(), Error::WouldBlock);
  EXPECT_EQ(r.rx().peek_size().error(), Error::WouldBlock);
  EXPECT_FALSE(r.rx().readable());
  EXPECT_FALSE(r.rx().broken());
}

TEST(RingRecords, SmallOutputBufferNoSpaceThenRead) {
  Ring r(256);
  auto msg = pattern(50, 5);
  ASSERT_TRUE(r.tx().write(msg).ok());
  auto before = r.mem.snapshot();
  uint8_t small[49];
  size_t needed = 0;
  EXPECT_EQ(r.rx().read(small, &needed).error(), Error::NoSpace);
  EXPECT_EQ(needed, 50u);
  EXPECT_EQ(r.rx().read(std::span<uint8_t>()).error(), Error::NoSpace);  // without out-param
  EXPECT_EQ(r.mem.snapshot(), before);  // record left in place, tail not moved
  EXPECT_EQ(*r.rx().peek_size(), 50u);
  std::vector<uint8_t> out(needed);
  auto n = r.rx().read(out, &needed);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 50u);
  EXPECT_EQ(out, msg);
  EXPECT_EQ(r.tx().free_bytes(), 256u);
}

// ---------------------------------------------------------------------------
// A malicious or buggy peer.

// The consumer side of a ring whose producer is the test itself.
struct EvilProducer {
  explicit EvilProducer(uint32_t cap) : cap(cap), mem(RingView::kDataOffset + cap) {
    EXPECT_TRUE(RingView::format(mem.span(), cap).ok());
    auto c = RingConsumer::attach(mem.span());
    EXPECT_TRUE(c.ok());
    consumer.emplace(c.release_value());
  }
  void publish(uint64_t head) { mem.header()->head.store(head, std::memory_order_release); }
  void length_at(uint64_t pos, uint32_t len) { put_u32(mem.ring_data() + (pos & (cap - 1)), len); }
  Error read_error() {
    std::vector<uint8_t> out(1 << 20);  // larger than any honest record
    return consumer->read(out).error();
  }

  uint32_t cap;
  SharedMemory mem;
  std::optional<RingConsumer> consumer;
};

TEST(RingMalicious, HeadBehindTail) {
  EvilProducer e(64);
  e.length_at(0, 4);
  e.publish(8);
  uint8_t out[4];
  ASSERT_EQ(*e.consumer->read(out), 4u);  // tail is now 8
  e.publish(0);
  EXPECT_EQ(e.read_error(), Error::InvalidArgument);
  EXPECT_TRUE(e.consumer->broken());
  // It stays untrusted even if head looks sane again.
  e.length_at(8, 4);
  e.publish(16);
  EXPECT_EQ(e.read_error(), Error::InvalidArgument);
  EXPECT_EQ(e.consumer->peek_size().error(), Error::InvalidArgument);
  EXPECT_FALSE(e.consumer->prepare_wait());  // a broken ring never sleeps
}

TEST(RingMalicious, HeadTooFarAhead) {
  for (uint64_t head : {uint64_t(64 + 8), uint64_t(1) << 40, ~uint64_t(7)}) {
    EvilProducer e(64);
    e.length_at(0, 4);
    e.publish(head);
    EXPECT_EQ(e.read_error(), Error::InvalidArgument) << head;
  }
}

TEST(RingMalicious, HeadMisaligned) {
  EvilProducer e(64);
  e.length_at(0, 1);
  e.publish(5);
  EXPECT_EQ(e.read_error(), Error::InvalidArgument);
}

TEST(RingMalicious, BadRecordLengths) {
  struct Case {
    uint32_t len;
    uint64_t head;
  };
  // capacity 256: max_message 124.
  for (Case c : {Case{0, 8}, Case{0xFFFFFFFF, 8}, Case{0xFFFFFFFF, 256}, Case{125, 256},
                 Case{0x80000000, 256}, Case{100, 8}, Case{5, 8}, Case{124, 120}}) {
    EvilProducer e(256);
    e.length_at(0, c.len);
    e.publish(c.head);
    EXPECT_EQ(e.consumer->peek_size().error(), Error::InvalidArgument) << c.len << " " << c.head;
    EXPECT_EQ(e.read_error(), Error::InvalidArgument) << c.len << " " << c.head;
  }
}

TEST(RingMalicious, LengthAtTheEndOfTheDataArea) {
  // A record starting 8 bytes before the end with a length that, if trusted,
  // would run far past the data area: rejected; a legitimate wrapped one works.
  EvilProducer e(64);
  for (int i = 0; i < 7; ++i) {
    e.length_at(uint64_t(i) * 8, 4);
  }
  e.publish(56);
  uint8_t out[64];
  for (int i = 0; i < 7; ++i) ASSERT_EQ(*e.consumer->read(out), 4u);
  e.length_at(56, 20);  // 24-byte record: wraps, 4 payload bytes at the end, 16 at the start
  std::memset(e.mem.ring_data(), 0x11, 16);
  std::memset(e.mem.ring_data() + 60, 0x22, 4);
  e.publish(56 + 24);
  auto n = e.consumer->read(out);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 20u);
  EXPECT_EQ(out[0], 0x22);
  EXPECT_EQ(out[19], 0x11);
  e.length_at(80, 0xFFFF);
  e.publish(80 + 32);
  EXPECT_EQ(e.read_error(), Error::InvalidArgument);
}

TEST(RingMalicious, CapacityRewrittenAfterAttach) {
  Ring r(64);
  put_u32(r.mem.data() + 8, 1u << 30);  // the peer lies about the size now
  for (int i = 0; i < 100; ++i) {
    auto msg = pattern(28, uint32_t(i));
    ASSERT_TRUE(r.tx().write(msg).ok());
    std::vector<uint8_t> out(64);
    ASSERT_EQ(*r.rx().read(out), 28u);
    out.resize(28);
    ASSERT_EQ(out, msg);
  }
}

// Random garbage in head and the data area: any outcome but an out-of-bounds
// access (ASan) or an impossible length is fine.
TEST(RingMalicious, RandomGarbageNeverReadsOutOfBounds) {
  std::mt19937_64 rng(42);
  for (uint32_t cap : {64u, 128u, 1024u}) {
    EvilProducer e(cap);
    std::vector<uint8_t> out(cap);
    for (int i = 0; i < 20000; ++i) {
      if (e.consumer->broken()) {
        auto c = RingConsumer::attach(e.mem.span());
        if (!c.ok()) {
          e.mem.header()->tail.store(0);
          continue;
        }
        e.consumer.emplace(c.release_value());
      }
      for (int k = 0; k < 4; ++k)
        put_u32(e.mem.ring_data() + (rng() % (cap / 4)) * 4, uint32_t(rng() >> (rng() % 32)));
      uint64_t tail = e.mem.header()->tail.load();
      uint64_t head = (rng() % 4 == 0) ? rng() : tail + (rng() % (cap + 16));
      e.publish(head);
      auto n = e.consumer->read(out);
      if (n.ok()) {
        ASSERT_GE(*n, 1u);
        ASSERT_LE(*n, e.consumer->max_message());
      } else {
        ASSERT_TRUE(n.error() == Error::InvalidArgument || n.error() == Error::WouldBlock ||
                    n.error() == Error::NoSpace);
      }
    }
  }
}

TEST(RingMalicious, ConsumerCorruptsTail) {
  {
    Ring r(64);
    r.mem.header()->tail.store(16);  // ahead of head 0
    EXPECT_EQ(r.tx().write(pattern(4, 0)).error(), Error::InvalidArgument);
    EXPECT_TRUE(r.tx().broken());
    EXPECT_EQ(r.tx().free_bytes(), 0u);
    r.mem.header()->tail.store(0);  // sticky
    EXPECT_EQ(r.tx().write(pattern(4, 0)).error(), Error::InvalidArgument);
    EXPECT_FALSE(r.tx().prepare_wait(4));
  }
  {
    Ring r(64);
    ASSERT_TRUE(r.tx().write(pattern(4, 0)).ok());
    r.mem.header()->tail.store(3);  // misaligned
    EXPECT_EQ(r.tx().reserve(4).error(), Error::InvalidArgument);
  }
}

// ---------------------------------------------------------------------------
// Zero-copy reserve/commit.

TEST(RingReserve, ReserveCommitRoundTrip) {
  Ring r(256);
  auto span = r.tx().reserve(10);
  ASSERT_TRUE(span.ok());
  ASSERT_EQ(span->size(), 10u);
  EXPECT_EQ(span->data(), r.mem.ring_data() + 4);
  for (size_t i = 0; i < 10; ++i) (*span)[i] = uint8_t(i + 1);
  EXPECT_EQ(r.rx().read(std::span<uint8_t>()).error(), Error::WouldBlock);  // not yet published
  ASSERT_TRUE(r.tx().commit().ok());
  uint8_t out[10];
  ASSERT_EQ(*r.rx().read(out), 10u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(out[i], i + 1);
}

TEST(RingReserve, CommitShorterThanReserved) {
  Ring r(256);
  auto span = r.tx().reserve(100);
  ASSERT_TRUE(span.ok());
  std::memcpy(span->data(), "abcdefg", 7);
  EXPECT_EQ(r.tx().commit(0).error(), Error::InvalidArgument);
  EXPECT_EQ(r.tx().commit(101).error(), Error::InvalidArgument);
  ASSERT_TRUE(r.tx().commit(7).ok());
  EXPECT_EQ(r.tx().free_bytes(), 256u - 16u);
  uint8_t out[100];
  ASSERT_EQ(*r.rx().read(out), 7u);
  EXPECT_EQ(std::memcmp(out, "abcdefg", 7), 0);
}

TEST(RingReserve, StateErrors) {
  Ring r(256);
  EXPECT_EQ(r.tx().commit().error(), Error::BadState);
  ASSERT_TRUE(r.tx().reserve(8).ok());
  EXPECT_EQ(r.tx().reserve(8).error(), Error::BadState);
  EXPECT_EQ(r.tx().write(pattern(8, 0)).error(), Error::BadState);
  r.tx().cancel();
  EXPECT_EQ(r.tx().commit().error(), Error::BadState);
  ASSERT_TRUE(r.tx().write(pattern(8, 0)).ok());
}

TEST(RingReserve, WrappingRecordIsOutOfRange) {
  Ring r(64);
  advance(r, 7);  // next record at offset 56: length word 56..59, payload from 60
  auto before = r.mem.snapshot();
  EXPECT_EQ(r.tx().reserve(5).error(), Error::OutOfRange);
  EXPECT_EQ(r.mem.snapshot(), before);
  ASSERT_TRUE(r.tx().write(pattern(5, 0)).ok());  // write() wraps instead
  uint8_t wrapped[5];
  ASSERT_EQ(*r.rx().read(wrapped), 5u);
  advance(r, 6);                  // back to offset 56
  auto span = r.tx().reserve(4);  // exactly up to the end
  ASSERT_TRUE(span.ok());
  EXPECT_EQ(span->data(), r.mem.ring_data() + 60);
  std::memcpy(span->data(), "wxyz", 4);
  ASSERT_TRUE(r.tx().commit().ok());
  ASSERT_TRUE(r.tx().write(pattern(20, 1)).ok());  // next record at offset 0
  uint8_t out[20];
  ASSERT_EQ(*r.rx().read(out), 4u);
  EXPECT_EQ(std::memcmp(out, "wxyz", 4), 0);
  ASSERT_EQ(*r.rx().read(out), 20u);
}

// ---------------------------------------------------------------------------
// Wait protocol, single-threaded.

TEST(RingWait, ConsumerArmsProducerWakes) {
  Ring r(64);
  auto& flag = r.mem.header()->consumer_waiting;
  EXPECT_FALSE(r.tx().needs_wakeup());
  EXPECT_TRUE(r.rx().prepare_wait());  // empty: sleep
  EXPECT_EQ(flag.load(), 1u);
  ASSERT_TRUE(r.tx().write(pattern(4, 0)).ok());
  EXPECT_TRUE(r.tx().needs_wakeup());  // signal once...
  EXPECT_EQ(flag.load(), 0u);
  EXPECT_FALSE(r.tx().needs_wakeup());  // ...and only once
  EXPECT_FALSE(r.rx().prepare_wait());  // data present: do not sleep, flag disarmed
  EXPECT_EQ(flag.load(), 0u);
}

TEST(RingWait, ProducerArmsConsumerWakes) {
  Ring r(64);
  auto& flag = r.mem.header()->producer_waiting;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(r.tx().write(pattern(28, 0)).ok());
  EXPECT_EQ(r.tx().write(pattern(1, 0)).error(), Error::WouldBlock);
  EXPECT_FALSE(r.rx().needs_wakeup());
  EXPECT_TRUE(r.tx().prepare_wait(1));
  EXPECT_EQ(flag.load(), 1u);
  uint8_t out[28];
  ASSERT_TRUE(r.rx().read(out).ok());
  EXPECT_TRUE(r.rx().needs_wakeup());
  EXPECT_EQ(flag.load(), 0u);
  EXPECT_FALSE(r.rx().needs_wakeup());
  EXPECT_FALSE(r.tx().prepare_wait(28));  // room for 32 bytes now
  EXPECT_EQ(flag.load(), 0u);
  EXPECT_TRUE(r.tx().prepare_wait(29));  // 40 bytes: not yet
}

// ---------------------------------------------------------------------------
// Two threads.

// Stands in for a Keel notification: a latched binary signal.
class Notification {
 public:
  void signal() {
    {
      std::lock_guard<std::mutex> g(mu_);
      set_ = true;
    }
    cv_.notify_one();
  }
  // False if `timeout` passed without a signal.
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    bool got = cv_.wait_for(l, timeout, [&] { return set_; });
    set_ = false;
    return got;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Checksum over (seq, payload): FNV-1a over 8-byte words, then the tail bytes.
uint64_t checksum(uint64_t seq, const uint8_t* p, size_t n) {
  uint64_t h = (1469598103934665603ull ^ seq) * 1099511628211ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h ^ (h >> 32);
}
// Random bytes the payloads are cut from: message `seq` carries
// pool[offset_of(seq), + length_of(seq)).
const std::vector<uint8_t>& pool() {
  static const std::vector<uint8_t> bytes = [] {
    std::vector<uint8_t> v(8192);
    std::mt19937 rng(7);
    for (auto& b : v) b = uint8_t(rng());
    return v;
  }();
  return bytes;
}
size_t offset_of(uint64_t seq) { return size_t((seq * 2654435761u) % 4096); }
// Payload length of message `seq`: pseudo-random in [1, max_payload].
size_t length_of(uint64_t seq, size_t max_payload) {
  uint64_t x = seq * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return 1 + size_t(x % max_payload);
}

struct StressResult {
  uint64_t received = 0;
  uint64_t errors = 0;
  uint64_t consumer_sleeps = 0, producer_sleeps = 0;
  uint64_t lost_wakeups = 0;  // a wait that ran into its timeout
  double seconds = 0;
};

// Message: u64 sequence number, u32 checksum of (sequence, payload), payload.
// Neither side spins: every WouldBlock goes through the wait protocol.
StressResult stress(uint32_t capacity, uint64_t count, size_t max_payload) {
  constexpr size_t kHead = 12;
  constexpr auto kTimeout = std::chrono::milliseconds(5000);
  Ring r(capacity);
  EXPECT_LE(kHead + max_payload, r.tx().max_message());
  Notification consumer_note, producer_note;
  std::atomic<bool> abort{false};
  StressResult res;
  pool();  // built before the threads start
  auto t0 = std::chrono::steady_clock::now();

  std::thread producer([&] {
    std::vector<uint8_t> msg(kHead + max_payload);
    for (uint64_t seq = 0; seq < count && !abort; ++seq) {
      size_t n = length_of(seq, max_payload);
      std::memcpy(msg.data(), &seq, 8);
      std::memcpy(msg.data() + kHead, pool().data() + offset_of(seq), n);
      uint32_t sum = uint32_t(checksum(seq, msg.data() + kHead, n));
      std::memcpy(msg.data() + 8, &sum, 4);
      std::span<const uint8_t> m(msg.data(), kHead + n);
      for (;;) {
        auto w = r.tx().write(m);
        if (w.ok()) break;
        if (w.error() != Error::WouldBlock) {
          abort = true;
          break;
        }
        if (r.tx().prepare_wait(m.size())) {
          ++res.producer_sleeps;
          if (!producer_note.wait_for(kTimeout)) ++res.lost_wakeups;
        }
        if (abort) break;
      }
      if (r.tx().needs_wakeup()) consumer_note.signal();
    }
    consumer_note.signal();
  });

  std::vector<uint8_t> buf(kHead + max_payload);
  uint64_t lost = 0;
  for (uint64_t expect = 0; expect < count && !abort;) {
    auto n = r.rx().read(buf);
    if (n.ok()) {
      uint64_t seq;
      uint32_t sum;
      std::memcpy(&seq, buf.data(), 8);
      std::memcpy(&sum, buf.data() + 8, 4);
      size_t len = *n - kHead;
      bool good = *n > kHead && seq == expect && len == length_of(seq, max_payload) &&
                  sum == uint32_t(checksum(seq, buf.data() + kHead, len)) &&
                  std::memcmp(buf.data() + kHead, pool().data() + offset_of(seq), len) == 0;
      if (!good) {
        ++res.errors;
        abort = true;
        break;
      }
      ++expect;
      ++res.received;
      if (r.rx().needs_wakeup()) producer_note.signal();
      continue;
    }
    if (n.error() != Error::WouldBlock) {
      ++res.errors;
      abort = true;
      break;
    }
    if (r.rx().prepare_wait()) {
      ++res.consumer_sleeps;
      if (!consumer_note.wait_for(kTimeout)) ++lost;
    }
  }
  producer_note.signal();
  producer.join();
  res.lost_wakeups += lost;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

// The budget is for the regular (ASan) build; TSan slows the handoffs ~10x.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_TEST_TSAN 1
#endif
#endif
#ifdef RING_TEST_TSAN
constexpr double kBudgetSeconds = 120.0;
#else
constexpr double kBudgetSeconds = 30.0;
#endif

void check(const StressResult& res, uint64_t count) {
  EXPECT_EQ(res.errors, 0u);
  EXPECT_EQ(res.received, count);
  EXPECT_EQ(res.lost_wakeups, 0u);
  EXPECT_GT(res.consumer_sleeps + res.producer_sleeps, 0u);  // the protocol was exercised
  EXPECT_LT(res.seconds, kBudgetSeconds);
  std::printf("  %llu messages in %.2f s; consumer slept %llu times, producer %llu times\n",
              (unsigned long long)res.received, res.seconds, (unsigned long long)res.consumer_sleeps,
              (unsigned long long)res.producer_sleeps);
}

TEST(RingThreads, MillionRandomSizedMessages) {
  constexpr uint64_t kCount = 1000000;
  check(stress(16384, kCount, 1000), kCount);
}

// A tiny ring: both sides block constantly, so the wait protocol runs on
// nearly every message.
TEST(RingThreads, TinyRingConstantBlocking) {
  constexpr uint64_t kCount = 200000;
  check(stress(64, kCount, 16), kCount);
}

}  // namespace
