// object/resource.h — Resource: the root of device authority.
//
// The kernel makes one Resource per boot and gives the root task a handle to
// it in StartInfo.resource (manage, duplicate, transfer). A handle with
// `manage` lets its holder create the objects that reach hardware:
// Interrupt (interrupt_create), IoPorts (ioports_create) and device memory
// (devmem_create). Those objects carry their own rights, so a device manager
// keeps the Resource and hands each driver only the Interrupt, IoPorts and
// device memory of its own device (least privilege); a driver never needs the
// Resource itself.
//
// The object has no state: holding it is the authority. It is not charged to
// any quota (the kernel makes it, once).
#pragma once

#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <object/object.h>

#include <new>

namespace object {

class Resource final : public KernelObject {
 public:
  static constexpr ObjectType kType = ObjectType::Resource;

  // The boot's Resource; the root-task loader calls this once.
  // Errors: NoMemory.
  static ktl::Result<ktl::RefPtr<Resource>> create() {
    auto* r = new (std::nothrow) Resource();
    if (r == nullptr) return ktl::Error::NoMemory;
    return ktl::adopt_ref(r);
  }

 private:
  Resource() : KernelObject(kType) {}
};

}  // namespace object
