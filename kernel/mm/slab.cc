// mm/slab.cc — slab caches (see slab.h).
#include <mm/slab.h>

#include <ktl/align.h>

#include <bit>
#include <new>

namespace mm {
namespace {

constexpr uint32_t kSlabMagic = 0x534c4142;  // "SLAB"

// True if all `n` bytes at `p` hold the poison byte.
bool poison_intact(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  constexpr uint64_t kWord = 0x0101010101010101ull * kSlabPoison;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, b + i, 8);  // objects may be byte-aligned
    if (w != kWord) return false;
  }
  for (; i < n; ++i)
    if (b[i] != kSlabPoison) return false;
  return true;
}

}  // namespace

ktl::Result<void> SlabCache::init(const char* name, size_t size, size_t align, PageSource source) {
  if (stride_ != 0) return ktl::Error::InvalidArgument;
  if (size == 0 || size > kMaxObjectSize) return ktl::Error::InvalidArgument;
  if (!ktl::is_pow2(align) || align > kMaxObjectSize) return ktl::Error::InvalidArgument;
  if (source.alloc == nullptr || source.free == nullptr) return ktl::Error::InvalidArgument;
  static_assert(sizeof(Slab) <= 64, "the slab header must stay small");
  // Both <= kMaxObjectSize, so at least one object fits after the header,
  // and at most (kPageSize - 64) / kMinObjectSize < 64 * kMapWords objects.
  stride_ = ktl::align_up(size < kMinObjectSize ? kMinObjectSize : size, align);
  first_offset_ = ktl::align_up(sizeof(Slab), align);
  capacity_ = (kPageSize - first_offset_) / stride_;
  static_assert((kPageSize - sizeof(Slab)) / kMinObjectSize <= 64 * Slab::kMapWords);
  name_ = name != nullptr ? name : "?";
  source_ = source;
  return ktl::ok();
}

void* SlabCache::object(Slab* slab, size_t i) const {
  return reinterpret_cast<uint8_t*>(slab) + first_offset_ + i * stride_;
}

void SlabCache::report(const char* what, const void* ptr) const {
  if (misuse_handler != nullptr) misuse_handler(what, ptr);
}

SlabCache::Slab* SlabCache::new_slab() {
  auto page = source_.alloc(source_.ctx);
  if (!page.ok()) return nullptr;
  Slab* slab = new (phys_to_virt(*page)) Slab{};
  slab->cache = this;
  slab->magic = kSlabMagic;
  for (size_t i = 0; i < capacity_; ++i) slab->free_map[i / 64] |= uint64_t{1} << (i % 64);
  if (kSlabPoisonEnabled) __builtin_memset(object(slab, 0), kSlabPoison, capacity_ * stride_);
  return slab;
}

void SlabCache::release_slab(Slab* slab) {
  empty_.remove(slab);
  slab->magic = 0;  // stale pointers into the page no longer look like objects
  source_.free(source_.ctx, virt_to_phys(slab));
}

void* SlabCache::alloc() {
  if (stride_ == 0) return nullptr;  // not initialised
  Slab* slab = partial_.front();
  const bool was_partial = slab != nullptr;
  if (!was_partial) {
    slab = empty_.front();
    if (slab != nullptr) {
      empty_.remove(slab);
    } else {
      slab = new_slab();
      if (slab == nullptr) return nullptr;
    }
  }
  size_t w = 0;
  while (slab->free_map[w] == 0) ++w;  // a partial or empty slab has a free bit
  const size_t i = w * 64 + std::countr_zero(slab->free_map[w]);
  slab->free_map[w] &= ~(uint64_t{1} << (i % 64));
  ++slab->in_use;
  ++in_use_;
  if (slab->in_use == capacity_) {
    if (was_partial) partial_.remove(slab);
    full_.push_front(slab);
  } else if (!was_partial) {
    partial_.push_front(slab);
  }
  void* obj = object(slab, i);
  if (kSlabPoisonEnabled && !poison_intact(obj, stride_))
    report("slab alloc: free object modified (write after free)", obj);
  return obj;
}

void SlabCache::free(void* ptr) {
  if (ptr == nullptr) return;
  const uintptr_t v = reinterpret_cast<uintptr_t>(ptr);
  const size_t off = v & (kPageSize - 1);
  auto* slab = reinterpret_cast<Slab*>(v - off);
  if (off == 0 || slab->magic != kSlabMagic) return report("slab free: not a slab object", ptr);
  if (slab->cache != this) return report("slab free: object of another cache", ptr);
  if (off < first_offset_ || (off - first_offset_) % stride_ != 0 ||
      (off - first_offset_) / stride_ >= capacity_)
    return report("slab free: not the start of an object", ptr);
  const size_t i = (off - first_offset_) / stride_;
  const uint64_t bit = uint64_t{1} << (i % 64);
  if (slab->free_map[i / 64] & bit) return report("slab free: double free", ptr);

  if (kSlabPoisonEnabled) __builtin_memset(ptr, kSlabPoison, stride_);
  const bool was_full = slab->in_use == capacity_;
  slab->free_map[i / 64] |= bit;
  --slab->in_use;
  --in_use_;
  if (was_full)
    full_.remove(slab);
  else
    partial_.remove(slab);
  if (slab->in_use != 0) {
    partial_.push_front(slab);
    return;
  }
  empty_.push_front(slab);
  if (empty_.size() > 1) release_slab(empty_.back());  // keep the most recent one
}

void SlabCache::shrink() {
  while (Slab* slab = empty_.front()) release_slab(slab);
}

SlabCache* SlabCache::owner_of(const void* ptr) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(ptr);
  const size_t off = v & (kPageSize - 1);
  if (off == 0) return nullptr;
  const auto* slab = reinterpret_cast<const Slab*>(v - off);
  return slab->magic == kSlabMagic ? slab->cache : nullptr;
}

bool SlabCache::check_invariants() const {
  enum class Fill { Empty, Partial, Full };
  size_t total = 0;
  auto check_list = [&](const SlabList& list, Fill fill) {
    size_t n = 0;
    for (Slab* s = list.front(); s != nullptr; s = list.next(s)) {
      if (++n > list.size()) return false;  // a cycle
      if (s->magic != kSlabMagic || s->cache != this) return false;
      size_t free_objects = 0;
      for (size_t i = 0; i < 64 * Slab::kMapWords; ++i) {
        if (!(s->free_map[i / 64] & (uint64_t{1} << (i % 64)))) continue;
        if (i >= capacity_) return false;  // a bit beyond the last object
        ++free_objects;
        if (kSlabPoisonEnabled && !poison_intact(object(s, i), stride_)) return false;
      }
      if (s->in_use + free_objects != capacity_) return false;
      const bool fill_ok = fill == Fill::Empty  ? s->in_use == 0
                           : fill == Fill::Full ? s->in_use == capacity_
                                                : s->in_use > 0 && s->in_use < capacity_;
      if (!fill_ok) return false;
      total += s->in_use;
    }
    return n == list.size();
  };
  return check_list(empty_, Fill::Empty) && check_list(partial_, Fill::Partial) &&
         check_list(full_, Fill::Full) && empty_.size() <= 1 && total == in_use_;
}

}  // namespace mm
