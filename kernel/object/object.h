// object/object.h — KernelObject, the base of everything a handle can name.
//
// Every kernel object (Process, Thread, Endpoint, ...) derives from
// KernelObject, which provides:
//  - a reference count for ktl::RefPtr (starts at 1, for adopt_ref); the last
//    reference destroys the object through its virtual destructor and returns
//    the memory with mm::kfree;
//  - a handle count, kept by HandleTable, and the on_zero_handles() hook that
//    runs when the last handle is closed (endpoints turn it into "peer
//    closed"), which is earlier than destruction: the kernel may still hold
//    references then;
//  - a type tag (no RTTI) and downcast<T>() that checks it;
//  - a koid: a unique id for debugging and `ps`;
//  - a debug canary;
//  - an optional charge against a Quota, returned in the destructor (the
//    object holds a reference to the Quota until then).
//
// Objects are created by a static factory with a private constructor:
//
//   class Foo final : public KernelObject {
//    public:
//     static constexpr ObjectType kType = ObjectType::Foo;
//     static ktl::Result<ktl::RefPtr<Foo>> create(Quota* quota) {
//       if (quota != nullptr) TRY(quota->charge(sizeof(Foo)));
//       Foo* foo = new (std::nothrow) Foo(quota);   // kmalloc; null on failure
//       if (foo == nullptr) {
//         if (quota != nullptr) quota->uncharge(sizeof(Foo));
//         return ktl::Error::NoMemory;
//       }
//       return ktl::adopt_ref(foo);
//     }
//    private:
//     explicit Foo(Quota* quota) : KernelObject(kType, quota, sizeof(Foo)) {}
//   };
//
// KernelObject declares its own operator new (nothrow: mm::kmalloc, null on
// failure, the constructor is then not run) and operator delete (mm::kfree),
// so `new (std::nothrow) Foo(...)` inside create() can reach the private
// constructor, plain throwing `new Foo` does not compile, and destruction goes
// through the virtual deleting destructor, which frees the most-derived
// object's address. (Objects made with mm::knew<Foo>() are compatible: same
// allocator.)
#pragma once

#include <ktl/ref_ptr.h>
#include <mm/heap.h>
#include <object/quota.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace object {

enum class ObjectType : uint8_t {
  Process,
  Thread,
  Endpoint,
  Notification,
  MemoryObject,
  AddressSpace,
  Interrupt,
  IoPorts,
  DeviceMemory,
  Resource,
  Test,  // for tests only
};

// A stable name for `type` ("Endpoint", ...), for logs and `ps`.
constexpr const char* type_name(ObjectType type) {
  switch (type) {
    case ObjectType::Process: return "Process";
    case ObjectType::Thread: return "Thread";
    case ObjectType::Endpoint: return "Endpoint";
    case ObjectType::Notification: return "Notification";
    case ObjectType::MemoryObject: return "MemoryObject";
    case ObjectType::AddressSpace: return "AddressSpace";
    case ObjectType::Interrupt: return "Interrupt";
    case ObjectType::IoPorts: return "IoPorts";
    case ObjectType::DeviceMemory: return "DeviceMemory";
    case ObjectType::Resource: return "Resource";
    case ObjectType::Test: return "Test";
  }
  return "Unknown";
}

namespace internal {
// The next koid. 0 is never used, so it can mean "no object" in debug output.
inline std::atomic<uint64_t> g_next_koid{1};
// Objects constructed and not yet destroyed.
inline std::atomic<uint64_t> g_live_objects{0};
inline constexpr size_t kObjectTypeCount = size_t(ObjectType::Test) + 1;
inline std::atomic<uint64_t> g_live_by_type[kObjectTypeCount] = {};
}  // namespace internal

class KernelObject {
 public:
  static constexpr uint32_t kCanary = 0x4a424f4b;      // "KOBJ" in memory
  static constexpr uint32_t kDeadCanary = 0x44414544;  // "DEAD" in memory

  KernelObject(const KernelObject&) = delete;
  KernelObject& operator=(const KernelObject&) = delete;

  ObjectType type() const { return type_; }
  // Kernel objects alive right now (all types), for leak checks and stats.
  static uint64_t live_count() { return internal::g_live_objects.load(std::memory_order_relaxed); }
  // Objects of one type alive now (Process and Thread for `ps`-style counts).
  static uint64_t live_count(ObjectType type) {
    return internal::g_live_by_type[size_t(type)].load(std::memory_order_relaxed);
  }
  // Unique among all objects since boot, increasing in creation order.
  uint64_t id() const { return koid_; }
  // False if the memory is not (or no longer) a live KernelObject. A debug
  // aid: reading a destroyed object is still a bug.
  bool valid() const { return canary_ == kCanary; }

  // Reference counting for ktl::RefPtr; use RefPtr rather than these.
  void ref() { ref_count_.fetch_add(1, std::memory_order_relaxed); }
  // Drops a reference; true when it was the last one (then call release()).
  [[nodiscard]] bool unref() { return ref_count_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  // Destroys an object whose count reached zero: the virtual destructor, then
  // mm::kfree (through the class operator delete).
  static void release(KernelObject* obj) { delete obj; }
  // For debugging and tests; stale as soon as it is read.
  uint32_t ref_count() const { return ref_count_.load(std::memory_order_relaxed); }

  // Handle accounting, called by HandleTable (and by IPC for handles in flight,
  // which still count). on_handle_removed() runs on_zero_handles() when the
  // count drops to zero; callers must not hold a handle table lock then.
  void on_handle_added() { handle_count_.fetch_add(1, std::memory_order_relaxed); }
  void on_handle_removed() {
    if (handle_count_.fetch_sub(1, std::memory_order_acq_rel) == 1) on_zero_handles();
  }
  uint32_t handle_count() const { return handle_count_.load(std::memory_order_relaxed); }

  // The Quota this object is charged to (null if none) and for how much.
  Quota* quota() const { return quota_.get(); }
  uint64_t charged_bytes() const { return charged_bytes_; }

  // Hands this object a charge its creator made: one object of `bytes` bytes
  // on `quota`, returned when the object is destroyed, like a charge passed to
  // the constructor. For objects whose create() knows no quota (threads, made
  // by the scheduler and charged by Process::create_thread). Call it once, on
  // an object not charged yet, before anyone else can see it (the fields are
  // not synchronized). Should the object be charged already, the new charge
  // is returned at once instead (a kernel bug, but no leak).
  void take_charge(Quota* quota, uint64_t bytes) {
    if (quota == nullptr) return;
    if (quota_ != nullptr) {
      quota->uncharge(bytes);
      return;
    }
    quota_ = ktl::RefPtr<Quota>(quota);
    charged_bytes_ = bytes;
  }

  // Allocation: see the file comment.
  static void* operator new(size_t size, const std::nothrow_t&) noexcept { return mm::kmalloc(size); }
  static void* operator new(size_t, void* where) noexcept { return where; }  // for mm::knew
  static void operator delete(void* ptr) { mm::kfree(ptr); }

 protected:
  // `quota`, if not null, has already been charged one object of
  // `charged_bytes` bytes by the caller; the object takes that charge over,
  // holds a reference to `quota` and returns the charge when it is destroyed.
  explicit KernelObject(ObjectType type, Quota* quota = nullptr, uint64_t charged_bytes = 0)
      : type_(type),
        koid_(internal::g_next_koid.fetch_add(1, std::memory_order_relaxed)),
        quota_(quota),
        charged_bytes_(charged_bytes) {
    internal::g_live_objects.fetch_add(1, std::memory_order_relaxed);
    internal::g_live_by_type[size_t(type)].fetch_add(1, std::memory_order_relaxed);
  }

  virtual ~KernelObject() {
    internal::g_live_objects.fetch_sub(1, std::memory_order_relaxed);
    internal::g_live_by_type[size_t(type_)].fetch_sub(1, std::memory_order_relaxed);
    // The reference in quota_ goes after this body, with the other members.
    if (quota_ != nullptr) quota_->uncharge(charged_bytes_);
    // volatile: the store must survive even though the object is about to die.
    *const_cast<volatile uint32_t*>(&canary_) = kDeadCanary;
  }

  // Runs when the last handle to this object is closed (the handle count
  // drops from 1 to 0), outside any handle table lock, on the closing thread.
  // References may remain. Can run again only if a new handle is later made
  // from a plain reference, which kernel code must not do for objects whose
  // hook is one-shot (endpoints get handles only at creation and transfer).
  virtual void on_zero_handles() {}

 private:
  uint32_t canary_ = kCanary;
  const ObjectType type_;
  std::atomic<uint32_t> ref_count_{1};     // references; 1 = the creator's, for adopt_ref
  std::atomic<uint32_t> handle_count_{0};  // handles in tables or in flight in messages
  const uint64_t koid_;
  // Charged by create() (or take_charge()), uncharged by the destructor; a
  // reference, so the Quota outlives the charge. Not changed once shared.
  ktl::RefPtr<Quota> quota_;
  uint64_t charged_bytes_;
};

// Returns `obj` as a T if it is one (type() == T::kType), else null (and
// `obj`'s reference is dropped). T = KernelObject accepts any object.
template <typename T>
ktl::RefPtr<T> downcast(ktl::RefPtr<KernelObject> obj) {
  if constexpr (std::is_same_v<T, KernelObject>) {
    return obj;
  } else {
    if (!obj || obj->type() != T::kType) return nullptr;
    return ktl::adopt_ref(static_cast<T*>(obj.leak_ref()));
  }
}

}  // namespace object
