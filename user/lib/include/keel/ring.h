// keel/ring.h — single-producer/single-consumer lock-free byte ring over shared memory.
//
// Bulk data between native Keel programs moves through a MemoryObject that both
// peers map; the kernel copies nothing (ARCHITECTURE.md, IPC). One ring carries
// one direction. Each side also holds a notification of its peer, which it
// signals when needs_wakeup() says so; the ring itself never makes a syscall.
//
//   // Whoever creates the MemoryObject formats it once, before sharing it:
//   TRY(keel::RingView::format(mem, 64 * ktl::KiB));
//   auto tx = TRY(keel::RingProducer::attach(mem));    // in the producer
//   auto rx = TRY(keel::RingConsumer::attach(mem));    // in the consumer
//
// Trust: the peer may be buggy or malicious. Each side caches what only it may
// change (capacity at attach; the producer its head, the consumer its tail) and
// validates every value it reads from shared memory before using it: a bad
// position or record length is Error::InvalidArgument, never an out-of-bounds
// access, and the side that saw it stops trusting the ring (broken() stays true;
// every later call fails). Payload bytes are copied exactly once; the consumer
// must still treat their contents as untrusted input.
//
// ## Shared layout (version 1; all integers little-endian)
//
//   offset   0  u32 magic        bytes 'R' 'I' 'N' 'G' (kRingMagic)
//   offset   4  u32 version      1
//   offset   8  u32 capacity     bytes in the data area: a power of two, >= 64
//   offset  12  u32 flags        0 in version 1; any other bit → Unsupported
//   offset  64  u64 head         producer position (own cache line)
//   offset 128  u64 tail         consumer position (own cache line)
//   offset 192  u32 consumer_waiting
//   offset 196  u32 producer_waiting
//   offset 256  data area, `capacity` bytes (kDataOffset)
//
// Positions are free-running 64-bit byte counters (they never wrap in practice:
// 2^64 bytes); the byte at position p is data[p & (capacity - 1)]. head - tail
// is the number of used bytes, always a multiple of 8 and <= capacity. The
// check is done in modular arithmetic, (head - tail) > capacity, which also
// catches head < tail.
//
// ## Records
//
// Each message is one record: a u32 payload length L (1 <= L <= max_message()),
// then L payload bytes, then padding to a multiple of 8 (contents unspecified).
// A record is therefore record_size(L) = align_up(4 + L, 8) bytes and at most
// capacity / 2 (so max_message() = capacity / 2 - 4).
//
// Records WRAP: there is no skip marker. A record that reaches the end of the
// data area continues at offset 0 and is copied in two parts. Because records
// start on 8-byte positions and capacity is a multiple of 8, the 4-byte length
// word itself never wraps, only the payload does. The whole capacity is usable.
// The zero-copy reserve()/commit() path needs a contiguous record and so works
// only when the record would not wrap (otherwise OutOfRange: use write()).
//
// ## Memory orders
//
// Data: the producer writes a record, then head.store(release); the consumer
// head.load(acquire), then reads the record. The consumer reads a record, then
// tail.store(release); the producer tail.load(acquire) before overwriting that
// space. So every record is fully written before it is read and fully read
// before it is overwritten.
//
// ## Wait protocol (no lost wake-ups)
//
// Consumer, when read() returned WouldBlock:
//   1. prepare_wait():  consumer_waiting.store(1, seq_cst);
//                       atomic_thread_fence(seq_cst);                    // F_c
//                       re-check: head.load(acquire) != tail ?
//      If the ring is no longer empty it clears consumer_waiting (relaxed) and
//      returns false: read again. Otherwise it returns true:
//   2. wait on the consumer's notification; on wake-up go back to read().
// Producer, after one write() or a batch of them:
//   3. needs_wakeup():  atomic_thread_fence(seq_cst);                    // F_p
//                       consumer_waiting.load(relaxed) == 1 ?
//                       then consumer_waiting.exchange(0, acq_rel) == 1 ?
//      If true, the caller signals the consumer's notification.
//
// Why no wake-up is lost: F_c and F_p are both seq_cst fences, so one precedes
// the other in the single total order S ([atomics.order]).
//   - F_p before F_c: the head store is sequenced before F_p and the consumer's
//     re-check load of head after F_c, so the re-check sees the new head (or a
//     later one): the consumer does not sleep.
//   - F_c before F_p: the store of consumer_waiting = 1 is sequenced before F_c
//     and the producer's load after F_p, so the producer sees 1 (or a later
//     value); it exchanges it to 0 and signals.
// Either the consumer sees the data or the producer sees the flag; possibly
// both, which costs only a spurious signal. The exchange makes exactly one
// signal per armed flag. The notification MUST latch: a signal that arrives
// between step 1 and step 2 stays pending and ends the wait at once (Keel's
// bitmask notifications do). Waiters re-check in a loop: a wake-up may be
// spurious.
//
// Producer waiting for space is the mirror image: when write() returns
// WouldBlock, prepare_wait(len) sets producer_waiting = 1 (seq_cst), fences and
// re-checks the free space with tail.load(acquire); the consumer after read()
// calls needs_wakeup(), which fences, then tests and exchanges
// producer_waiting, and the caller signals the producer's notification.
//
// needs_wakeup() must be called after the last write (read) before the caller
// goes idle or waits itself; calling it once per batch is enough, since F_p
// orders every earlier head (tail) store before the flag load.
//
// Not thread-safe within one side: one thread (or the caller's lock) owns a
// RingProducer, one the RingConsumer. Freestanding: no allocation, exceptions,
// RTTI or libc (large __builtin_memcpy copies lower to memcpy, which every
// freestanding Keel program links). <new> is only for placement new and
// std::launder; ktl/result.h includes it already.
#ifndef KEEL_RING_H_
#define KEEL_RING_H_

#include <ktl/error.h>
#include <ktl/result.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace keel {

// The shared header at the start of the region. Only RingView::format
// constructs one; peers access it through the views below.
struct RingHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t capacity;
  uint32_t flags;
  alignas(64) std::atomic<uint64_t> head;              // written by the producer only
  alignas(64) std::atomic<uint64_t> tail;              // written by the consumer only
  alignas(64) std::atomic<uint32_t> consumer_waiting;  // set by consumer, cleared by producer
  std::atomic<uint32_t> producer_waiting;              // set by producer, cleared by consumer
};

static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free,
              "ring positions must be lock-free to be shared between address spaces");
static_assert(sizeof(std::atomic<uint64_t>) == 8 && sizeof(std::atomic<uint32_t>) == 4);
static_assert(std::is_standard_layout_v<RingHeader>);
static_assert(offsetof(RingHeader, head) == 64);
static_assert(offsetof(RingHeader, tail) == 128);
static_assert(offsetof(RingHeader, consumer_waiting) == 192);
static_assert(offsetof(RingHeader, producer_waiting) == 196);
static_assert(sizeof(RingHeader) == 256);

// Constants and helpers shared by both sides, and the formatter.
class RingView {
 public:
  static constexpr uint32_t kRingMagic = 0x474e4952;  // "RING" in memory (little-endian)
  static constexpr uint32_t kVersion = 1;
  static constexpr size_t kDataOffset = 256;  // the data area follows the header
  static constexpr uint32_t kMinCapacity = 64;
  static constexpr size_t kAlignment = 64;  // required alignment of the region
  static constexpr size_t kLengthBytes = 4;
  static constexpr size_t kRecordAlign = 8;

  // Bytes a record carrying `len` payload bytes occupies in the data area.
  static constexpr uint64_t record_size(uint64_t len) {
    return (kLengthBytes + len + (kRecordAlign - 1)) & ~uint64_t(kRecordAlign - 1);
  }
  // Largest payload one record may carry in a ring of `capacity` bytes.
  static constexpr size_t max_message(uint32_t capacity) { return capacity / 2 - kLengthBytes; }

  static constexpr bool valid_capacity(uint64_t capacity) {
    return capacity >= kMinCapacity && capacity <= 0x80000000u && (capacity & (capacity - 1)) == 0;
  }

  // Initialises a ring with a `capacity`-byte data area at the start of
  // `memory`: writes the header, head = tail = 0, no waiters. Call it once,
  // before the region is shared (the IPC that shares it publishes the header);
  // never on a ring that a peer has attached.
  // Errors: InvalidArgument if capacity is not a power of two >= 64 or
  // memory.size() < kDataOffset + capacity; Misaligned if memory.data() is not
  // 64-byte aligned.
  static ktl::Result<void> format(std::span<uint8_t> memory, uint32_t capacity) {
    if (!valid_capacity(capacity)) return ktl::Error::InvalidArgument;
    if (memory.size() < kDataOffset || memory.size() - kDataOffset < capacity)
      return ktl::Error::InvalidArgument;
    if (reinterpret_cast<uintptr_t>(memory.data()) % kAlignment != 0) return ktl::Error::Misaligned;
    RingHeader* h = new (memory.data()) RingHeader{};
    h->magic = to_le32(kRingMagic);
    h->version = to_le32(kVersion);
    h->capacity = to_le32(capacity);
    h->flags = 0;
    h->head.store(0, std::memory_order_relaxed);
    h->tail.store(0, std::memory_order_relaxed);
    h->consumer_waiting.store(0, std::memory_order_relaxed);
    h->producer_waiting.store(0, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    return ktl::ok();
  }

 protected:
  RingView() = default;

  static constexpr uint32_t to_le32(uint32_t v) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap32(v);
#else
    return v;
#endif
  }

  // Reads a u32 from shared memory exactly once (no re-fetch after the check).
  static uint32_t load_once(const uint32_t* p) { return to_le32(__atomic_load_n(p, __ATOMIC_RELAXED)); }

  // Validates the header in `memory` and fills in this view. Capacity is read
  // once and cached: a peer rewriting it later changes nothing here.
  // Errors: InvalidArgument (too small for the header or the capacity it
  // announces, bad capacity), Misaligned, BadMagic, Unsupported (version, flags).
  ktl::Result<void> bind(std::span<uint8_t> memory) {
    if (memory.size() < kDataOffset) return ktl::Error::InvalidArgument;
    if (reinterpret_cast<uintptr_t>(memory.data()) % kAlignment != 0) return ktl::Error::Misaligned;
    RingHeader* h = std::launder(reinterpret_cast<RingHeader*>(memory.data()));
    if (load_once(&h->magic) != kRingMagic) return ktl::Error::BadMagic;
    if (load_once(&h->version) != kVersion) return ktl::Error::Unsupported;
    if (load_once(&h->flags) != 0) return ktl::Error::Unsupported;
    uint32_t capacity = load_once(&h->capacity);
    if (!valid_capacity(capacity) || memory.size() - kDataOffset < capacity)
      return ktl::Error::InvalidArgument;
    header_ = h;
    data_ = memory.data() + kDataOffset;
    capacity_ = capacity;
    return ktl::ok();
  }

  uint64_t mask() const { return uint64_t(capacity_) - 1; }

  // Copies `n` bytes into the data area starting at position `pos`, in two
  // parts if they cross the end. Precondition: n <= capacity_.
  void copy_in(uint64_t pos, const uint8_t* src, size_t n) {
    size_t idx = size_t(pos & mask());
    size_t first = n < capacity_ - idx ? n : capacity_ - idx;
    __builtin_memcpy(data_ + idx, src, first);
    if (n > first) __builtin_memcpy(data_, src + first, n - first);
  }
  void copy_out(uint64_t pos, uint8_t* dst, size_t n) const {
    size_t idx = size_t(pos & mask());
    size_t first = n < capacity_ - idx ? n : capacity_ - idx;
    __builtin_memcpy(dst, data_ + idx, first);
    if (n > first) __builtin_memcpy(dst + first, data_, n - first);
  }

  RingHeader* header_ = nullptr;
  uint8_t* data_ = nullptr;
  uint32_t capacity_ = 0;
  bool broken_ = false;  // a peer wrote an impossible value; never trust the ring again
};

// The writing side. Move-only: a ring has exactly one producer.
class RingProducer : public RingView {
 public:
  RingProducer(const RingProducer&) = delete;
  RingProducer& operator=(const RingProducer&) = delete;
  RingProducer(RingProducer&&) = default;
  RingProducer& operator=(RingProducer&&) = default;

  // Attaches to a ring formatted by RingView::format and resumes at its
  // current head. Errors: those of the header check (InvalidArgument,
  // Misaligned, BadMagic, Unsupported), and InvalidArgument if head/tail are
  // inconsistent (head not 8-aligned or head - tail > capacity).
  static ktl::Result<RingProducer> attach(std::span<uint8_t> memory) {
    RingProducer p;
    TRY(p.bind(memory));
    p.head_ = p.header_->head.load(std::memory_order_acquire);
    if (p.head_ % kRecordAlign != 0) return ktl::Error::InvalidArgument;
    TRY(p.free_space());
    return p;
  }

  uint32_t capacity() const { return capacity_; }
  size_t max_message() const { return RingView::max_message(capacity_); }
  bool broken() const { return broken_; }

  // Bytes free in the data area now (a message of L bytes needs
  // record_size(L)); 0 if the ring is broken.
  size_t free_bytes() {
    auto r = free_space();
    return r.ok() ? size_t(r.value()) : 0;
  }

  // Copies `msg` into the ring as one record and publishes it (release store
  // of head). Then call needs_wakeup().
  // Errors: WouldBlock if there is not record_size(msg.size()) bytes of room
  // (nothing is written); InvalidArgument if msg is empty or longer than
  // max_message(), or the consumer corrupted tail (the ring is then broken);
  // BadState while a reserve() is outstanding.
  ktl::Result<void> write(std::span<const uint8_t> msg) {
    if (reserved_) return ktl::Error::BadState;
    if (msg.empty() || msg.size() > max_message()) return ktl::Error::InvalidArgument;
    uint64_t rec = record_size(msg.size());
    if (TRY(free_space()) < rec) return ktl::Error::WouldBlock;
    store_length(head_, uint32_t(msg.size()));
    copy_in(head_ + kLengthBytes, msg.data(), msg.size());
    publish(rec);
    return ktl::ok();
  }

  // Zero-copy write, first half: returns `len` contiguous bytes of the data
  // area for the caller to fill, then commit(). Errors as write(), plus
  // OutOfRange if the record would wrap around the end of the data area (use
  // write() for this one; the next position will not wrap).
  ktl::Result<std::span<uint8_t>> reserve(size_t len) {
    if (reserved_) return ktl::Error::BadState;
    if (len == 0 || len > max_message()) return ktl::Error::InvalidArgument;
    if (TRY(free_space()) < record_size(len)) return ktl::Error::WouldBlock;
    size_t idx = size_t((head_ + kLengthBytes) & mask());
    if (len > capacity_ - idx) return ktl::Error::OutOfRange;
    reserved_ = len;
    return std::span<uint8_t>(data_ + idx, len);
  }

  // Zero-copy write, second half: publishes the reserved record carrying its
  // first `len` bytes (default: all of them). Errors: BadState without a
  // reserve(); InvalidArgument if len is 0 or more than was reserved.
  ktl::Result<void> commit(size_t len = SIZE_MAX) {
    if (!reserved_) return ktl::Error::BadState;
    if (len == SIZE_MAX) len = reserved_;
    if (len == 0 || len > reserved_) return ktl::Error::InvalidArgument;
    reserved_ = 0;
    store_length(head_, uint32_t(len));
    publish(record_size(len));
    return ktl::ok();
  }
  // Drops an outstanding reservation without publishing anything.
  void cancel() { reserved_ = 0; }

  // Wait protocol step 3 (see the file comment): true if the consumer armed
  // consumer_waiting; the flag is cleared and the caller must signal the
  // consumer's notification. Call after the last write of a batch.
  bool needs_wakeup() {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // F_p
    auto& flag = header_->consumer_waiting;
    if (flag.load(std::memory_order_relaxed) == 0) return false;
    return flag.exchange(0, std::memory_order_acq_rel) != 0;
  }

  // Wait protocol, producer side: call when write(msg) returned WouldBlock.
  // Arms producer_waiting, then re-checks the room for a `len`-byte message.
  // Returns true if the caller should now wait on its notification (the
  // consumer will signal once it frees space); false if the room appeared
  // meanwhile (or the ring is broken), in which case the flag is disarmed and
  // the caller retries write().
  bool prepare_wait(size_t len) {
    auto& flag = header_->producer_waiting;
    flag.store(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // F_c (mirror)
    auto room = free_space();
    if (!room.ok() || room.value() >= record_size(len)) {
      flag.store(0, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

 private:
  RingProducer() = default;

  // Free bytes, from an acquire load of tail validated against our own head.
  ktl::Result<uint64_t> free_space() {
    if (broken_) return ktl::Error::InvalidArgument;
    uint64_t tail = header_->tail.load(std::memory_order_acquire);
    uint64_t used = head_ - tail;  // modular: also catches tail > head
    if (used > capacity_ || tail % kRecordAlign != 0) {
      broken_ = true;
      return ktl::Error::InvalidArgument;
    }
    return capacity_ - used;
  }

  void store_length(uint64_t pos, uint32_t len) {
    uint32_t le = to_le32(len);
    __builtin_memcpy(data_ + (pos & mask()), &le, sizeof(le));  // 8-aligned pos: never wraps
  }

  void publish(uint64_t rec) {
    head_ += rec;
    header_->head.store(head_, std::memory_order_release);
  }

  uint64_t head_ = 0;    // our position; the shared head is only ever written from here
  size_t reserved_ = 0;  // bytes handed out by reserve(), 0 if none
};

// The reading side. Move-only: a ring has exactly one consumer.
class RingConsumer : public RingView {
 public:
  RingConsumer(const RingConsumer&) = delete;
  RingConsumer& operator=(const RingConsumer&) = delete;
  RingConsumer(RingConsumer&&) = default;
  RingConsumer& operator=(RingConsumer&&) = default;

  // Attaches to a ring formatted by RingView::format and resumes at its
  // current tail. Errors: those of the header check (InvalidArgument,
  // Misaligned, BadMagic, Unsupported), and InvalidArgument if tail is not
  // 8-aligned. head is checked on every read.
  static ktl::Result<RingConsumer> attach(std::span<uint8_t> memory) {
    RingConsumer c;
    TRY(c.bind(memory));
    c.tail_ = c.header_->tail.load(std::memory_order_relaxed);
    if (c.tail_ % kRecordAlign != 0) return ktl::Error::InvalidArgument;
    return c;
  }

  uint32_t capacity() const { return capacity_; }
  size_t max_message() const { return RingView::max_message(capacity_); }
  bool broken() const { return broken_; }

  // Payload length of the next record, without consuming it.
  // Errors: WouldBlock if the ring is empty; InvalidArgument if the producer
  // corrupted head or the record length (the ring is then broken).
  ktl::Result<size_t> peek_size() {
    uint64_t used = 0;
    return TRY(next_length(used));
  }

  // Copies the next record's payload into `out`, consumes the record (release
  // store of tail) and returns the payload length. Then call needs_wakeup().
  // Errors: WouldBlock if the ring is empty; NoSpace if `out` is shorter than
  // the payload (the record stays; its length goes to *needed if non-null);
  // InvalidArgument on a corrupt head or record length: 0, more than
  // max_message(), or a record longer than the bytes published (the ring is
  // then broken).
  ktl::Result<size_t> read(std::span<uint8_t> out, size_t* needed = nullptr) {
    uint64_t used = 0;
    uint32_t len = TRY(next_length(used));
    if (out.size() < len) {
      if (needed) *needed = len;
      return ktl::Error::NoSpace;
    }
    copy_out(tail_ + kLengthBytes, out.data(), len);
    tail_ += record_size(len);
    header_->tail.store(tail_, std::memory_order_release);
    return size_t(len);
  }

  // True if at least one record is published (or the ring is broken, so that a
  // caller about to wait calls read() and sees the error instead).
  bool readable() {
    if (broken_) return true;
    return header_->head.load(std::memory_order_acquire) != tail_;
  }

  // Wait protocol step 1 (see the file comment): call when read() returned
  // WouldBlock. Arms consumer_waiting and re-checks for data. Returns true if
  // the caller should now wait on its notification; false if data arrived
  // meanwhile (or the ring is broken), in which case the flag is disarmed and
  // the caller reads again.
  bool prepare_wait() {
    auto& flag = header_->consumer_waiting;
    flag.store(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // F_c
    if (readable()) {
      flag.store(0, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

  // Mirror of RingProducer::needs_wakeup for producer_waiting: true if the
  // producer waits for space; the caller signals the producer's notification.
  // Call after the last read of a batch.
  bool needs_wakeup() {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // F_p (mirror)
    auto& flag = header_->producer_waiting;
    if (flag.load(std::memory_order_relaxed) == 0) return false;
    return flag.exchange(0, std::memory_order_acq_rel) != 0;
  }

 private:
  RingConsumer() = default;

  // Validates head and the next record's length word; `used` receives the
  // published byte count. Every value from shared memory is read once.
  ktl::Result<uint32_t> next_length(uint64_t& used) {
    if (broken_) return ktl::Error::InvalidArgument;
    uint64_t head = header_->head.load(std::memory_order_acquire);
    used = head - tail_;  // modular: also catches head < tail
    if (used > capacity_ || used % kRecordAlign != 0) return fail();
    if (used == 0) return ktl::Error::WouldBlock;
    // tail_ is 8-aligned and capacity a multiple of 8, so the word is in bounds
    // and 4-byte aligned (the data area is 64-aligned).
    const uint32_t* word = reinterpret_cast<const uint32_t*>(data_ + (tail_ & mask()));
    uint32_t len = load_once(word);
    if (len == 0 || len > max_message() || record_size(len) > used) return fail();
    return len;
  }

  ktl::Error fail() {
    broken_ = true;
    return ktl::Error::InvalidArgument;
  }

  uint64_t tail_ = 0;  // our position; the shared tail is only ever written from here
};

}  // namespace keel

#endif  // KEEL_RING_H_
