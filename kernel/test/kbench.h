// test/kbench.h — in-kernel microbenchmarks (command line `kbench`).
#pragma once

// Prints "bench NAME VALUE instructions/op" lines (meaningful under QEMU
// -icount shift=0, where the TSC counts instructions).
void run_kernel_benchmarks();
