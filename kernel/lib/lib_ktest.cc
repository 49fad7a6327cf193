// lib_ktest.cc — in-kernel tests of the symbol table and the kernel log.
#include <lib/klog.h>
#include <lib/symbolize.h>
#include <test/ktest.h>

extern "C" [[noreturn]] void kernel_main(uint32_t, uint32_t);

KTEST(lib, symbol_table_names_kernel_functions) {
  auto table = klib::SymbolTable::from_bytes(klib::kernel_symbol_table_bytes());
  KASSERT_OK(table);
  KEXPECT(table->count() > 100);
  auto s = table->lookup(reinterpret_cast<uint64_t>(&kernel_main) + 4);
  KASSERT_OK(s);
  KEXPECT(s->name == "kernel_main");
  KEXPECT_EQ(s->offset, 4u);
}

KTEST(lib, klog_records_readable) {
  auto& log = klib::kernel_log();
  uint64_t seq = log.next_seq();
  klog::debug("ktest marker {}", 12345);
  klib::LogRecord rec{};
  char text[64];
  auto n = log.read(seq, rec, text, sizeof text);
  KASSERT_OK(n);
  KEXPECT(std::string_view(text, *n) == "ktest marker 12345");
  KEXPECT(rec.level == klib::LogLevel::Debug);
  KEXPECT(rec.timestamp_ns > 0);
}
