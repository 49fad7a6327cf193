// kmalloc_shim.cc — kmalloc/kfree over the host's malloc, for host tests of
// kernel code that allocates (handle tables, objects). ASan then checks them.
//
// Failure injection: a test sets mm::g_kmalloc_fail_next (declare it with
// `namespace mm { extern bool g_kmalloc_fail_next; }`) to make the next
// kmalloc/kzalloc return nullptr; the flag clears itself. Set it only while
// no other thread allocates.
#include <cstdlib>
#include <cstddef>

namespace mm {
bool g_kmalloc_fail_next = false;

static bool fail_now() {
  if (!g_kmalloc_fail_next) return false;
  g_kmalloc_fail_next = false;
  return true;
}

void* kmalloc(size_t size) { return fail_now() ? nullptr : std::malloc(size ? size : 1); }
void* kzalloc(size_t size) { return fail_now() ? nullptr : std::calloc(1, size ? size : 1); }
void kfree(void* p) { std::free(p); }
}  // namespace mm
