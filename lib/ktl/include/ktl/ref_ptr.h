// ktl/ref_ptr.h — RefPtr<T>: an owning pointer to an intrusively reference-counted T.
//
//   ktl::RefPtr<Foo> a = ktl::adopt_ref(fresh_foo);  // takes the initial reference
//   ktl::RefPtr<Foo> b = a;                          // ref()
//   ktl::RefPtr<Base> c = std::move(b);              // derived -> base, no count traffic
//
// T provides the count itself (no control block, no allocation):
//   void ref();              // adds a reference
//   bool unref();            // drops one; true when the count reached zero
//   static void release(T*); // destroys an object whose count reached zero
// release() is the customization point: it is found by ordinary lookup in T, so
// a base class (KernelObject) provides it once for all its subclasses, and it
// decides how the memory goes back (kernel objects: virtual destructor + kfree).
//
// A new object starts with a count of 1, owned by whoever created it, and is
// handed to a RefPtr with adopt_ref(). RefPtr(T*) instead takes an extra
// reference on an object that someone already owns (e.g. `this`).
//
// RefPtr<T> can be declared with T incomplete (self-referential lists, forward
// declared members); T must be complete where a RefPtr<T> is copied, reset or
// destroyed. Not thread-safe itself: one RefPtr must not be written by one
// thread while another reads it; distinct RefPtrs to one object are fine if
// T's ref()/unref() are atomic.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace ktl {

template <typename T>
class RefPtr;

template <typename T>
RefPtr<T> adopt_ref(T* ptr);

template <typename T>
class RefPtr {
 public:
  constexpr RefPtr() = default;
  constexpr RefPtr(std::nullptr_t) {}

  // Takes a new reference on `ptr` (which someone else already owns); null is
  // allowed. For a freshly created object use adopt_ref() instead.
  explicit RefPtr(T* ptr) : ptr_(ptr) {
    if (ptr_ != nullptr) ptr_->ref();
  }

  RefPtr(const RefPtr& other) : RefPtr(other.ptr_) {}
  RefPtr(RefPtr&& other) : ptr_(other.ptr_) { other.ptr_ = nullptr; }

  // Derived -> base conversions.
  template <typename U>
    requires std::is_convertible_v<U*, T*>
  RefPtr(const RefPtr<U>& other) : RefPtr(static_cast<T*>(other.get())) {}
  template <typename U>
    requires std::is_convertible_v<U*, T*>
  RefPtr(RefPtr<U>&& other) : ptr_(other.leak_ref()) {}

  ~RefPtr() { reset(); }

  RefPtr& operator=(const RefPtr& other) {
    RefPtr(other).swap(*this);
    return *this;
  }
  RefPtr& operator=(RefPtr&& other) {
    RefPtr(std::move(other)).swap(*this);
    return *this;
  }
  template <typename U>
    requires std::is_convertible_v<U*, T*>
  RefPtr& operator=(RefPtr<U>&& other) {
    RefPtr(std::move(other)).swap(*this);
    return *this;
  }
  RefPtr& operator=(std::nullptr_t) {
    reset();
    return *this;
  }

  T* get() const { return ptr_; }
  T& operator*() const { return *ptr_; }
  T* operator->() const { return ptr_; }
  explicit operator bool() const { return ptr_ != nullptr; }

  // Drops the reference (destroying the object if it was the last one) and
  // leaves this RefPtr null. The pointer is cleared before the object can be
  // destroyed, so a destructor that looks at this RefPtr sees null.
  void reset() {
    T* old = ptr_;
    ptr_ = nullptr;
    if (old != nullptr && old->unref()) T::release(old);
  }

  // Gives up ownership without touching the count: the caller now owns the
  // reference and must hand it back with adopt_ref() eventually.
  [[nodiscard]] T* leak_ref() {
    T* p = ptr_;
    ptr_ = nullptr;
    return p;
  }

  void swap(RefPtr& other) {
    T* p = ptr_;
    ptr_ = other.ptr_;
    other.ptr_ = p;
  }

  template <typename U>
  bool operator==(const RefPtr<U>& other) const {
    return ptr_ == other.get();
  }
  bool operator==(std::nullptr_t) const { return ptr_ == nullptr; }

 private:
  friend RefPtr<T> adopt_ref<T>(T*);
  struct AdoptTag {};
  RefPtr(T* ptr, AdoptTag) : ptr_(ptr) {}

  T* ptr_ = nullptr;
};

// Wraps a freshly created object (count 1, owned by the caller) without adding
// a reference. Null gives a null RefPtr.
template <typename T>
RefPtr<T> adopt_ref(T* ptr) {
  return RefPtr<T>(ptr, typename RefPtr<T>::AdoptTag{});
}

}  // namespace ktl
