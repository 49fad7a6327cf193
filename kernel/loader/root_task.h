// loader/root_task.h — the first user program (Keel's root task).
#pragma once

#include <boot/boot_info.h>
#include <ktl/ref_ptr.h>
#include <ktl/result.h>
#include <object/process.h>

#include <string_view>

namespace loader {

// Loads the boot module named `name` (the first word of its GRUB module
// string, without directories) as a static ELF64 program into a new process
// and starts its first thread. Errors: NotFound (no such module), the ELF
// parser's errors for a malformed file, Unsupported (PIE or dynamic), NoMemory.
ktl::Result<ktl::RefPtr<object::Process>> start_root_task(const boot::BootInfo& info, std::string_view name);

}  // namespace loader
