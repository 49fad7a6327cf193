// ktl/intrusive.h — from an intrusive node back to the object that embeds it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ktl {

// The T whose member `Member` is `*node` (container_of).
template <typename T, typename Node, Node T::*Member>
T* owner_of(const Node* node) {
  // The member's offset, computed on a fake, aligned, non-null address (never
  // dereferenced), so that UBSan has nothing to report.
  T* fake = reinterpret_cast<T*>(uintptr_t(0x10000));
  const size_t off = reinterpret_cast<uintptr_t>(&(fake->*Member)) - uintptr_t(0x10000);
  return reinterpret_cast<T*>(reinterpret_cast<char*>(const_cast<Node*>(node)) - off);
}

}  // namespace ktl
