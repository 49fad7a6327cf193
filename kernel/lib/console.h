// lib/console.h — the kernel's consoles besides COM1: the boot framebuffer.
#pragma once

#include <boot/boot_info.h>

// Maps the multiboot2 framebuffer (RGB or EGA text) uncached and registers a
// text console on it with the kernel log. Without a usable framebuffer it
// logs why and does nothing. After paging_init.
void console_init_framebuffer(const boot::FramebufferInfo& fb);

// The hand-off to a userspace framebuffer driver (docs/userspace.md, fbcon):
// called when a process creates DeviceMemory over [phys, phys + size). If
// that overlaps the framebuffer the kernel draws on, the kernel's console
// there is removed from the kernel log for good (the driver owns the pixels
// now; the log stays on COM1 and in the ring). Safe to call from syscalls.
void console_framebuffer_claimed(uint64_t phys, uint64_t size, uint64_t process_id);
