// keel/spawn.h — starting programs: a static ELF64 image in a MemoryObject
// becomes a new process with one running thread.
//
//   keel::Handle proc;
//   if (keel::spawn(vmo, size, "child", 42, &proc) == keel::Status::Ok) {
//     int64_t code;
//     keel::wait(proc, &code);
//     keel::sys::handle_close(proc);
//   }
//
// The image is validated by the kernel's own ELF parser (kernel/loader/elf.cc,
// compiled into libkeel), so a program is accepted here exactly when the
// kernel would accept it as the root task: static, non-PIE, W^X segments.
// The loader maps the image read-only into the calling process to parse it,
// which needs a handle to the caller's own process with the `map` right: the
// root task's StartInfo.self_process, or one given with set_self_process().
#pragma once

#include <keel_syscalls.h>

#include <string_view>

#include <cstddef>
#include <cstdint>

namespace keel {

// The stack spawn() gives a new program's first thread (bytes).
inline constexpr size_t kSpawnStackSize = 256 * 1024;

// The handle to the calling process itself that the loader maps images with:
// the one given to set_self_process(), else the root task's
// StartInfo.self_process (keel/start.h), else kInvalidHandle (then loading
// fails with BadHandle). libkeel never closes it.
void set_self_process(Handle self);
Handle self_process();

// Loads the static ELF64 executable of `image_size` bytes at the start of
// `image_vmo` into `process`, which must have no mappings in the way: each
// PT_LOAD segment is copied into a new MemoryObject and mapped at its link
// address with its protection. Writes the entry point to `*entry`. Creates no
// thread and no stack.
// Errors: those of parse_elf() for a malformed image (Truncated, BadMagic,
// Unsupported, InvalidArgument, Overflow, OutOfRange, Misaligned, NoSpace,
// AccessDenied), Unsupported for a PIE or an image with PT_INTERP; OutOfRange
// if `image_size` is past the end of `image_vmo`; Truncated if it is 0; else
// the status of the failing syscall (vm_map: AlreadyExists if a segment's
// pages are taken, ...). On failure, segments mapped already stay mapped in
// `process` (kill it); no handle is left open in the caller.
Status load_elf(Handle process, Handle image_vmo, uint64_t image_size, uint64_t* entry);

// Maps a new zero-filled read-write stack of `size` bytes (a multiple of
// kPageSize) into `process` at an address the kernel picks, and writes its
// top (one past its highest byte, 16-byte aligned) to `*top`. There is no guard
// page below it. Errors: those of vmo_create and vm_map.
Status map_stack(Handle process, size_t size, uint64_t* top);

// Creates a thread named `name` in `process` (any process: another one, or
// self_process()) and starts it at `entry` with rsp = `stack_top` and
// rdi = `arg` (see thread_start: no return address is pushed, so `entry` must
// align the stack itself). The thread handle goes to `*out_thread`, or is
// closed if `out_thread` is null. Errors: those of thread_create and
// thread_start; on failure no thread runs and no handle is left open.
// (keel::start_thread in keel/start.h is the simpler form for a C++ function
// in the caller's own process.)
Status start_thread_in(Handle process, const char* name, uintptr_t entry, uint64_t stack_top, uint64_t arg,
                       Handle* out_thread = nullptr);

// Starts the program in `image_vmo` (`image_size` bytes) as a new process
// named `name` (at most kNameMax bytes): process_create, load_elf, a
// kSpawnStackSize stack, and its first thread started at the ELF entry with
// rsp = the stack top and rdi = `arg`. The process handle (kProcessDefaultRights)
// goes to `*out_process`, the thread handle to `*out_thread` if it is not
// null (else it is closed).
// Errors: those of load_elf, map_stack and start_thread_in, and InvalidArgument
// for a name longer than kNameMax. The image is validated before the process
// is created; if a later step fails the half-built process is killed and its
// handle closed, and no handle is left open in the caller.
Status spawn(Handle image_vmo, uint64_t image_size, const char* name, uint64_t arg, Handle* out_process,
             Handle* out_thread = nullptr);

// spawn() in steps, for a parent that gives the child handles before its
// first thread runs:
//
//   keel::Prepared p;
//   keel::spawn_prepare(vmo, size, "server", &p);
//   keel::spawn_give(p, "endpoint", endpoint);   // the child: keel::find_module("endpoint", ...)
//   keel::spawn_start(p, "server", 0);
//
// The child starts with a StartInfo (keel/start.h, start_info()) at the top of
// its stack: a handle to itself (self_process), the handles given, by name,
// and `arg`, which its main() receives.
struct Prepared {
  Handle process = kInvalidHandle;    // the new process (kProcessDefaultRights), no thread yet
  uint64_t entry = 0;                 // its ELF entry point
  uint64_t stack_top = 0;             // the top of its kSpawnStackSize stack
  Handle stack_vmo = kInvalidHandle;  // that stack, until spawn_start writes the StartInfo
  StartInfo info{};                   // what the child will get
};
// Validates and loads the image into a new process named `name`, maps its
// stack and gives the process a handle to itself. Errors: those of spawn();
// on failure nothing is left behind.
Status spawn_prepare(Handle image_vmo, uint64_t image_size, const char* name, Prepared* out);
// Moves `h` into the prepared process (sys::handle_give: it needs `transfer`)
// under `name` (1..32 bytes), as the next StartInfo module entry.
// Errors: InvalidArgument (name), NoSpace (kStartMaxModules given already),
// those of handle_give (h stays with the caller then).
Status spawn_give(Prepared& prepared, std::string_view name, Handle h);
// Writes the StartInfo (with `arg`) and starts the first thread. On failure
// the process is killed and its handles closed (spawn_cancel).
// Errors: those of vmo_write and start_thread_in.
Status spawn_start(Prepared& prepared, const char* name, uint64_t arg, Handle* out_thread = nullptr);
// Abandons a prepared process: kills it, closes its handle and the stack's.
void spawn_cancel(Prepared& prepared);

// Waits until `process` has exited, until `deadline` at the latest, and
// writes its exit code to `*code` (0 after a normal exit of its last thread,
// kExitKilled, kExitFaultBase - vector, or what it passed to process_exit).
// Errors: those of process_wait (TimedOut, BadHandle, ...).
Status wait(Handle process, int64_t* code, Deadline deadline = kDeadlineForever);

}  // namespace keel
