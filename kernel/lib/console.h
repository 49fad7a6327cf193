// lib/console.h — the kernel's consoles besides COM1: the boot framebuffer.
#pragma once

#include <boot/boot_info.h>

// Maps the multiboot2 framebuffer (RGB or EGA text) uncached and registers a
// text console on it with the kernel log. Without a usable framebuffer it
// logs why and does nothing. After paging_init.
void console_init_framebuffer(const boot::FramebufferInfo& fb);
