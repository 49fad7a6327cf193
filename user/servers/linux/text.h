// text.h — a growing, NUL-terminated text buffer for the files the server
// makes up (/proc, /proc/keel). The caller owns `buf` (new[]; delete[] it or
// hand it on). A failed allocation drops what does not fit.
#pragma once

#include <ktl/format.h>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace linux_srv {

struct Text {
  char* buf = nullptr;
  size_t len = 0, cap = 0;  // bytes used (without the NUL) and allocated
  void put(const char* s, size_t n) {
    if (len + n + 1 > cap) {
      size_t nc = cap ? cap * 2 : 1024;
      while (nc < len + n + 1) nc *= 2;
      char* nb = new char[nc];
      if (!nb) return;
      if (buf) memcpy(nb, buf, len);
      delete[] buf;
      buf = nb;
      cap = nc;
    }
    memcpy(buf + len, s, n);
    len += n;
    buf[len] = 0;
  }
  void put(const char* s) { put(s, strlen(s)); }
  void put(std::string_view s) { put(s.data(), s.size()); }
  // Appends ktl::format(fmt, args...), at most 640 bytes of it.
  template <typename... A>
  void f(std::string_view fmt, const A&... args) {
    char tmp[640];
    put(tmp, ktl::format(tmp, sizeof tmp, fmt, args...));
  }
};

}  // namespace linux_srv
