// linux/stack.h — a Linux program's initial stack: argc, argv, envp and the
// auxiliary vector, with the strings and AT_RANDOM's bytes above them
// (System V x86-64 psABI §3.4.1, "Initial Stack and Register State"; the
// AT_* values are getauxval(3)'s). Pure logic, tested on the host
// (stack_test.cc).
//
//   higher addresses  top
//                     AT_EXECFN string, envp strings, argv strings
//                     "x86_64" (AT_PLATFORM), 16 random bytes (AT_RANDOM)
//                     padding to 16 bytes
//                     auxv pairs, AT_NULL pair
//                     NULL, envp[envc-1] .. envp[0]
//                     NULL, argv[argc-1] .. argv[0]
//   rsp (16-aligned)  argc
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace linux_stack {

struct AuxEntry {
  uint64_t type, value;
};

enum class Result { Ok, NoSpace, TooMany };

// Most argv plus envp strings accepted (execve's E2BIG).
inline constexpr size_t kMaxStrings = 1024;

// Builds the stack image into `out`, which stands for the memory
// [top - out.size(), top); `top` must be 16-aligned. `aux` must not contain
// AT_RANDOM, AT_PLATFORM, AT_EXECFN or AT_NULL: those are added here. On Ok
// `*rsp` is where the program starts (argc), and the bytes in use are
// [*rsp, top). NoSpace if it does not fit, TooMany past kMaxStrings.
inline Result build(uint64_t top, std::span<const std::string_view> argv, std::span<const std::string_view> envp,
                    std::span<const AuxEntry> aux, const uint8_t (&random)[16], std::string_view execfn,
                    std::span<uint8_t> out, uint64_t* rsp) {
  if (argv.size() + envp.size() > kMaxStrings) return Result::TooMany;
  const uint64_t base = top - out.size();
  uint64_t pos = top;
  bool fits = true;
  // Puts bytes just below `pos`; returns their address.
  auto put = [&](const void* data, size_t len) -> uint64_t {
    if (!fits || len > pos - base) {
      fits = false;
      return 0;
    }
    pos -= len;
    memcpy(out.data() + (pos - base), data, len);
    return pos;
  };
  auto put_string = [&](std::string_view s) -> uint64_t {
    const uint8_t nul = 0;
    put(&nul, 1);
    return put(s.data(), s.size());
  };
  const uint64_t execfn_addr = put_string(execfn);
  uint64_t env_addr[kMaxStrings], arg_addr[kMaxStrings];
  for (size_t i = envp.size(); i-- > 0;) env_addr[i] = put_string(envp[i]);
  for (size_t i = argv.size(); i-- > 0;) arg_addr[i] = put_string(argv[i]);
  const uint64_t platform_addr = put_string("x86_64");
  const uint64_t random_addr = put(random, 16);
  if (!fits) return Result::NoSpace;
  // The table: argc, argv + NULL, envp + NULL, aux + 3 added + AT_NULL pair.
  const size_t aux_pairs = aux.size() + 4;
  const size_t words = 1 + argv.size() + 1 + envp.size() + 1 + 2 * aux_pairs;
  uint64_t start = (pos - words * 8) & ~uint64_t(15);
  if (start < base || pos < words * 8) return Result::NoSpace;
  uint64_t* w = reinterpret_cast<uint64_t*>(out.data() + (start - base));
  size_t k = 0;
  auto word = [&](uint64_t v) { memcpy(&w[k++], &v, 8); };
  word(argv.size());
  for (size_t i = 0; i < argv.size(); ++i) word(arg_addr[i]);
  word(0);
  for (size_t i = 0; i < envp.size(); ++i) word(env_addr[i]);
  word(0);
  for (const AuxEntry& a : aux) {
    word(a.type);
    word(a.value);
  }
  word(15);  // AT_PLATFORM
  word(platform_addr);
  word(25);  // AT_RANDOM
  word(random_addr);
  word(31);  // AT_EXECFN
  word(execfn_addr);
  word(0);  // AT_NULL
  word(0);
  // Whatever lies between the table's end and the strings stays as it was
  // (zero in a fresh stack).
  *rsp = start;
  return Result::Ok;
}

}  // namespace linux_stack
