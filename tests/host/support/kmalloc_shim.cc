// kmalloc_shim.cc — kmalloc/kfree over the host's malloc, for host tests of
// kernel code that allocates (handle tables, objects). ASan then checks them.
#include <cstdlib>
#include <cstddef>

namespace mm {
void* kmalloc(size_t size) { return std::malloc(size ? size : 1); }
void* kzalloc(size_t size) { return std::calloc(1, size ? size : 1); }
void kfree(void* p) { std::free(p); }
}  // namespace mm
