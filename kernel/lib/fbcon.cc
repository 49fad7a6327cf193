// lib/fbcon.cc — framebuffer / EGA text console: escape-sequence parser,
// glyph rendering and scrolling.
//
// Every framebuffer access stays inside [base_, base_ + pitch_ * height_):
// cells are only drawn for row < rows_ and col < cols_, and init() checked
// that rows_ * font height <= height_ and cols_ * font width * bytes_pp_ <=
// pitch_. The cursor is drawn by XOR, so hide_cursor() restores the cell
// exactly; write() hides it first and shows it last, so scrolling and drawing
// never see it.
#include <lib/fbcon.h>

namespace klib {
namespace {

// The VGA 16-colour palette as RGB888.
constexpr uint32_t kVgaPalette[16] = {
    0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa,
    0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
};

// ANSI colour number (0 black, 1 red, 2 green, 3 yellow, 4 blue, 5 magenta,
// 6 cyan, 7 white) → VGA palette index.
constexpr uint8_t kAnsiToVga[8] = {0, 4, 2, 6, 1, 5, 3, 7};

constexpr uint32_t kMaxParamValue = 9999;  // parameters saturate here

// Unicode → code page 437 for EGA text mode (the VGA ROM font), sorted by
// code point; generated with Python's cp437 codec for bytes 0x80..0xff.
struct Cp437Entry {
  uint16_t code_point;
  uint8_t byte;
};
constexpr Cp437Entry kCp437[] = {
    {0x00a0, 0xff}, {0x00a1, 0xad}, {0x00a2, 0x9b}, {0x00a3, 0x9c}, {0x00a5, 0x9d}, {0x00aa, 0xa6},
    {0x00ab, 0xae}, {0x00ac, 0xaa}, {0x00b0, 0xf8}, {0x00b1, 0xf1}, {0x00b2, 0xfd}, {0x00b5, 0xe6},
    {0x00b7, 0xfa}, {0x00ba, 0xa7}, {0x00bb, 0xaf}, {0x00bc, 0xac}, {0x00bd, 0xab}, {0x00bf, 0xa8},
    {0x00c4, 0x8e}, {0x00c5, 0x8f}, {0x00c6, 0x92}, {0x00c7, 0x80}, {0x00c9, 0x90}, {0x00d1, 0xa5},
    {0x00d6, 0x99}, {0x00dc, 0x9a}, {0x00df, 0xe1}, {0x00e0, 0x85}, {0x00e1, 0xa0}, {0x00e2, 0x83},
    {0x00e4, 0x84}, {0x00e5, 0x86}, {0x00e6, 0x91}, {0x00e7, 0x87}, {0x00e8, 0x8a}, {0x00e9, 0x82},
    {0x00ea, 0x88}, {0x00eb, 0x89}, {0x00ec, 0x8d}, {0x00ed, 0xa1}, {0x00ee, 0x8c}, {0x00ef, 0x8b},
    {0x00f1, 0xa4}, {0x00f2, 0x95}, {0x00f3, 0xa2}, {0x00f4, 0x93}, {0x00f6, 0x94}, {0x00f7, 0xf6},
    {0x00f9, 0x97}, {0x00fa, 0xa3}, {0x00fb, 0x96}, {0x00fc, 0x81}, {0x00ff, 0x98}, {0x0192, 0x9f},
    {0x0393, 0xe2}, {0x0398, 0xe9}, {0x03a3, 0xe4}, {0x03a6, 0xe8}, {0x03a9, 0xea}, {0x03b1, 0xe0},
    {0x03b4, 0xeb}, {0x03b5, 0xee}, {0x03c0, 0xe3}, {0x03c3, 0xe5}, {0x03c4, 0xe7}, {0x03c6, 0xed},
    {0x207f, 0xfc}, {0x20a7, 0x9e}, {0x2219, 0xf9}, {0x221a, 0xfb}, {0x221e, 0xec}, {0x2229, 0xef},
    {0x2248, 0xf7}, {0x2261, 0xf0}, {0x2264, 0xf3}, {0x2265, 0xf2}, {0x2310, 0xa9}, {0x2320, 0xf4},
    {0x2321, 0xf5}, {0x2500, 0xc4}, {0x2502, 0xb3}, {0x250c, 0xda}, {0x2510, 0xbf}, {0x2514, 0xc0},
    {0x2518, 0xd9}, {0x251c, 0xc3}, {0x2524, 0xb4}, {0x252c, 0xc2}, {0x2534, 0xc1}, {0x253c, 0xc5},
    {0x2550, 0xcd}, {0x2551, 0xba}, {0x2552, 0xd5}, {0x2553, 0xd6}, {0x2554, 0xc9}, {0x2555, 0xb8},
    {0x2556, 0xb7}, {0x2557, 0xbb}, {0x2558, 0xd4}, {0x2559, 0xd3}, {0x255a, 0xc8}, {0x255b, 0xbe},
    {0x255c, 0xbd}, {0x255d, 0xbc}, {0x255e, 0xc6}, {0x255f, 0xc7}, {0x2560, 0xcc}, {0x2561, 0xb5},
    {0x2562, 0xb6}, {0x2563, 0xb9}, {0x2564, 0xd1}, {0x2565, 0xd2}, {0x2566, 0xcb}, {0x2567, 0xcf},
    {0x2568, 0xd0}, {0x2569, 0xca}, {0x256a, 0xd8}, {0x256b, 0xd7}, {0x256c, 0xce}, {0x2580, 0xdf},
    {0x2584, 0xdc}, {0x2588, 0xdb}, {0x258c, 0xdd}, {0x2590, 0xde}, {0x2591, 0xb0}, {0x2592, 0xb1},
    {0x2593, 0xb2}, {0x25a0, 0xfe},
};

uint8_t cp437_for(uint32_t cp) {
  if (cp >= 0x20 && cp < 0x7f) return uint8_t(cp);
  size_t lo = 0, hi = sizeof kCp437 / sizeof kCp437[0];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (kCp437[mid].code_point < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < sizeof kCp437 / sizeof kCp437[0] && kCp437[lo].code_point == cp) return kCp437[lo].byte;
  return '?';
}

// Scales an 8-bit channel to `size` bits (0..16) at bit `pos`.
uint32_t channel(uint32_t c8, uint8_t pos, uint8_t size) {
  if (size == 0) return 0;
  uint32_t v = size <= 8 ? c8 >> (8 - size) : (c8 << (size - 8)) | (c8 >> (16 - size));
  return v << pos;
}

uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

}  // namespace

ktl::Result<void> FbConsole::init(const FramebufferDesc& fb, const Font& font) {
  if (!fb.base || fb.width == 0 || fb.height == 0) return ktl::Error::InvalidArgument;
  uint32_t pitch = fb.pitch;
  uint32_t rows, cols, bytes_pp = 0;
  uint32_t palette[16];
  uint32_t mask = 0;
  if (fb.ega_text) {
    if (pitch == 0) pitch = fb.width * 2;
    if (uint64_t(pitch) < uint64_t(fb.width) * 2) return ktl::Error::InvalidArgument;
    rows = fb.height;
    cols = fb.width;
    for (uint32_t i = 0; i < 16; ++i) palette[i] = i;  // attribute nibbles
  } else {
    if (fb.bpp != 15 && fb.bpp != 16 && fb.bpp != 24 && fb.bpp != 32)
      return ktl::Error::InvalidArgument;
    if (font.width == 0 || font.height == 0 || !font.glyphs || font.glyph_count == 0 ||
        font.bytes_per_row < (font.width + 7) / 8)
      return ktl::Error::InvalidArgument;
    bytes_pp = (fb.bpp + 7) / 8;
    if (uint64_t(pitch) < uint64_t(fb.width) * bytes_pp) return ktl::Error::InvalidArgument;
    if (fb.width < font.width || fb.height < font.height) return ktl::Error::InvalidArgument;
    uint8_t rp = fb.red_pos, rs = fb.red_size, gp = fb.green_pos, gs = fb.green_size;
    uint8_t bp = fb.blue_pos, bs = fb.blue_size;
    if (rs == 0 && gs == 0 && bs == 0) {  // no layout given: the usual one for the depth
      if (fb.bpp == 15) {
        rp = 10, rs = 5, gp = 5, gs = 5, bp = 0, bs = 5;
      } else if (fb.bpp == 16) {
        rp = 11, rs = 5, gp = 5, gs = 6, bp = 0, bs = 5;
      } else {
        rp = 16, rs = 8, gp = 8, gs = 8, bp = 0, bs = 8;
      }
    }
    const uint8_t pos[3] = {rp, gp, bp};
    const uint8_t size[3] = {rs, gs, bs};
    for (int c = 0; c < 3; ++c)
      if (size[c] > 16 || uint32_t(pos[c]) + size[c] > bytes_pp * 8) return ktl::Error::InvalidArgument;
    for (uint32_t i = 0; i < 16; ++i) {
      uint32_t rgb = kVgaPalette[i];
      palette[i] = channel((rgb >> 16) & 0xff, rp, rs) | channel((rgb >> 8) & 0xff, gp, gs) |
                   channel(rgb & 0xff, bp, bs);
    }
    mask = channel(0xff, rp, rs) | channel(0xff, gp, gs) | channel(0xff, bp, bs);
    rows = fb.height / font.height;
    cols = fb.width / font.width;
  }

  base_ = fb.base;
  pitch_ = pitch;
  width_ = fb.width;
  height_ = fb.height;
  bytes_pp_ = bytes_pp;
  ega_ = fb.ega_text;
  font_ = &font;
  for (uint32_t i = 0; i < 16; ++i) palette_[i] = palette[i];
  colour_mask_ = mask;
  rows_ = rows;
  cols_ = cols;
  cursor_visible_ = true;
  cursor_drawn_ = false;
  reset_state();
  clear_screen();
  show_cursor();
  return ktl::ok();
}

void FbConsole::reset_state() {
  row_ = col_ = 0;
  fg_ = kDefaultForeground;
  bg_ = kDefaultBackground;
  bold_ = reverse_ = false;
  state_ = State::Normal;
  utf8_need_ = 0;
}

// ---- output ----

void FbConsole::write(const char* s, size_t n) {
  if (!base_) return;
  hide_cursor();
  for (size_t i = 0; i < n; ++i) feed(uint8_t(s[i]));
  show_cursor();
}

void FbConsole::clear() {
  if (!base_) return;
  hide_cursor();
  clear_screen();
  show_cursor();
}

void FbConsole::clear_screen() {
  erase_rows(0, rows_);
  row_ = col_ = 0;
}

void FbConsole::set_cursor_visible(bool visible) {
  if (!base_) {
    cursor_visible_ = visible;
    return;
  }
  hide_cursor();
  cursor_visible_ = visible;
  show_cursor();
}

void FbConsole::feed(uint8_t b) {
  switch (state_) {
    case State::Normal:
      break;
    case State::Escape:
      if (b == '[') {
        state_ = State::Csi;
        for (uint32_t& p : params_) p = 0;
        param_index_ = 0;
        private_ = intermediate_ = false;
        return;
      }
      state_ = State::Normal;
      if (b == 'c') {  // RIS: full reset
        reset_state();
        cursor_visible_ = true;
        clear_screen();
        return;
      }
      if (b >= 0x20) return;  // other two-byte sequences: ignored
      break;                  // a control character aborts the sequence
    case State::Csi:
      if (b >= '0' && b <= '9') {
        if (param_index_ < kMaxParams) {
          uint32_t& p = params_[param_index_];
          p = p * 10 + (b - '0');
          if (p > kMaxParamValue) p = kMaxParamValue;
        }
        return;
      }
      if (b == ';') {
        if (param_index_ < kMaxParams) ++param_index_;
        return;
      }
      if (b >= 0x3c && b <= 0x3f) {  // private parameter markers: < = > ?
        private_ = true;
        return;
      }
      if (b == ':' || (b >= 0x20 && b <= 0x2f)) {  // sub-parameters, intermediates
        intermediate_ = true;
        return;
      }
      if (b >= 0x40 && b <= 0x7e) {
        state_ = State::Normal;
        if (!intermediate_) csi_dispatch(b);
        return;
      }
      state_ = State::Normal;  // a control character or a non-ASCII byte aborts
      if (b >= 0x80) return;
      break;
  }

  // Normal state: UTF-8, controls, escapes.
  if (b < 0x80 || (b >= 0xc0 && utf8_need_)) {
    if (utf8_need_) {  // the previous sequence was cut short
      utf8_need_ = 0;
      put_code_point(0xfffd);
    }
  }
  if (b < 0x20 || b == 0x7f) {
    control(b);
    return;
  }
  if (b < 0x80) {
    put_code_point(b);
    return;
  }
  if (b < 0xc0) {  // continuation byte
    if (!utf8_need_) {
      put_code_point(0xfffd);
      return;
    }
    utf8_cp_ = (utf8_cp_ << 6) | (b & 0x3f);
    if (--utf8_need_ == 0) put_code_point(utf8_cp_);
    return;
  }
  if (b >= 0xc2 && b <= 0xdf) {
    utf8_cp_ = b & 0x1f;
    utf8_need_ = 1;
  } else if (b >= 0xe0 && b <= 0xef) {
    utf8_cp_ = b & 0x0f;
    utf8_need_ = 2;
  } else if (b >= 0xf0 && b <= 0xf4) {
    utf8_cp_ = b & 0x07;
    utf8_need_ = 3;
  } else {
    put_code_point(0xfffd);  // 0xc0, 0xc1, 0xf5..0xff never appear in UTF-8
  }
}

void FbConsole::control(uint8_t b) {
  switch (b) {
    case '\n':
      col_ = 0;
      newline();
      break;
    case '\r':
      col_ = 0;
      break;
    case '\b':
      if (col_ >= cols_) col_ = cols_ - 1;
      if (col_ > 0) --col_;
      break;
    case '\t':
      if (col_ < cols_) col_ = min_u32((col_ / 8 + 1) * 8, cols_ - 1);
      break;
    case 0x1b:
      state_ = State::Escape;
      break;
    default:  // BEL and the other controls: nothing to show
      break;
  }
}

void FbConsole::put_code_point(uint32_t cp) {
  if (cp >= 0x80 && cp < 0xa0) return;  // C1 controls
  if (col_ >= cols_) {                  // deferred wrap
    col_ = 0;
    newline();
  }
  draw_cell(row_, col_, ega_ ? cp437_for(cp) : glyph_for(cp));
  ++col_;
}

void FbConsole::newline() {
  if (row_ + 1 < rows_)
    ++row_;
  else
    scroll_up();
}

// ---- escape sequences ----

void FbConsole::csi_dispatch(uint8_t final_byte) {
  uint32_t count = param_index_ < kMaxParams ? param_index_ + 1 : kMaxParams;
  uint32_t p0 = params_[0];
  uint32_t n = p0 ? p0 : 1;  // counts and positions: missing or 0 means 1
  uint32_t col = min_u32(col_, cols_ - 1);  // moves cancel a pending wrap
  if (private_) {
    if (p0 == 25 && (final_byte == 'h' || final_byte == 'l')) cursor_visible_ = final_byte == 'h';
    return;
  }
  switch (final_byte) {
    case 'm':
      sgr();
      break;
    case 'H':
    case 'f':
      row_ = min_u32(n, rows_) - 1;
      col_ = min_u32(count > 1 && params_[1] ? params_[1] : 1, cols_) - 1;
      break;
    case 'A':
      row_ = row_ > n ? row_ - n : 0;
      col_ = col;
      break;
    case 'B':
      row_ = min_u32(row_ + n, rows_ - 1);
      col_ = col;
      break;
    case 'C':
      col_ = min_u32(col + n, cols_ - 1);
      break;
    case 'D':
      col_ = col > n ? col - n : 0;
      break;
    case 'G':
      col_ = min_u32(n, cols_) - 1;
      break;
    case 'd':
      row_ = min_u32(n, rows_) - 1;
      col_ = col;
      break;
    case 'J':
      if (p0 == 0) {
        erase(row_, col, cols_);
        erase_rows(row_ + 1, rows_);
      } else if (p0 == 1) {
        erase_rows(0, row_);
        erase(row_, 0, col + 1);
      } else if (p0 == 2 || p0 == 3) {
        erase_rows(0, rows_);
      }
      break;
    case 'K':
      if (p0 == 0)
        erase(row_, col, cols_);
      else if (p0 == 1)
        erase(row_, 0, col + 1);
      else if (p0 == 2)
        erase(row_, 0, cols_);
      break;
    default:  // unknown: dropped
      break;
  }
}

void FbConsole::sgr() {
  uint32_t count = param_index_ < kMaxParams ? param_index_ + 1 : kMaxParams;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t p = params_[i];
    if (p == 0) {
      fg_ = kDefaultForeground;
      bg_ = kDefaultBackground;
      bold_ = reverse_ = false;
    } else if (p == 1) {
      bold_ = true;
    } else if (p == 22) {
      bold_ = false;
    } else if (p == 7) {
      reverse_ = true;
    } else if (p == 27) {
      reverse_ = false;
    } else if (p >= 30 && p <= 37) {
      fg_ = kAnsiToVga[p - 30];
    } else if (p == 39) {
      fg_ = kDefaultForeground;
    } else if (p >= 40 && p <= 47) {
      bg_ = kAnsiToVga[p - 40];
    } else if (p == 49) {
      bg_ = kDefaultBackground;
    } else if (p >= 90 && p <= 97) {
      fg_ = uint8_t(kAnsiToVga[p - 90] | 8);
    } else if (p >= 100 && p <= 107) {
      bg_ = uint8_t(kAnsiToVga[p - 100] | 8);
    } else if (p == 38 || p == 48) {
      // 38;5;n (256 colours: the first 16 are the ANSI ones) or 38;2;r;g;b.
      if (i + 2 < count && params_[i + 1] == 5) {
        uint32_t c = params_[i + 2];
        if (c < 16) {
          uint8_t v = uint8_t(kAnsiToVga[c & 7] | (c & 8));
          (p == 38 ? fg_ : bg_) = v;
        }
        i += 2;
      } else if (i + 1 < count && params_[i + 1] == 2) {
        i += 4;  // true colour: not supported, skip its arguments
      } else {
        i = count;  // malformed: ignore the rest
      }
    }
    // Others (italic, underline, blink, ...): ignored.
  }
}

// ---- drawing ----

uint32_t FbConsole::glyph_for(uint32_t cp) const {
  const Font& f = *font_;
  if (((cp >= 0x20 && cp < 0x7f) || (cp >= 0xa0 && cp <= 0xff)) && cp < f.glyph_count) return cp;
  size_t lo = 0, hi = f.unicode_map ? f.unicode_map_size : 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (f.unicode_map[mid].code_point < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (f.unicode_map && lo < f.unicode_map_size && f.unicode_map[lo].code_point == cp &&
      f.unicode_map[lo].glyph < f.glyph_count)
    return f.unicode_map[lo].glyph;
  return uint32_t('?') < f.glyph_count ? uint32_t('?') : 0;
}

uint32_t FbConsole::foreground() const {
  uint8_t fg = bold_ ? uint8_t(fg_ | 8) : fg_;
  return palette_[reverse_ ? bg_ : fg];
}

uint32_t FbConsole::background() const {
  uint8_t fg = bold_ ? uint8_t(fg_ | 8) : fg_;
  return palette_[reverse_ ? fg : bg_];
}

void FbConsole::store(uint8_t* p, uint32_t v) const {
  switch (bytes_pp_) {
    case 4:
      __builtin_memcpy(p, &v, 4);
      break;
    case 3:
      p[0] = uint8_t(v);
      p[1] = uint8_t(v >> 8);
      p[2] = uint8_t(v >> 16);
      break;
    default: {
      uint16_t h = uint16_t(v);
      __builtin_memcpy(p, &h, 2);
      break;
    }
  }
}

uint32_t FbConsole::load(const uint8_t* p) const {
  switch (bytes_pp_) {
    case 4: {
      uint32_t v;
      __builtin_memcpy(&v, p, 4);
      return v;
    }
    case 3:
      return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16;
    default: {
      uint16_t h;
      __builtin_memcpy(&h, p, 2);
      return h;
    }
  }
}

void FbConsole::draw_cell(uint32_t row, uint32_t col, uint32_t glyph) {
  if (row >= rows_ || col >= cols_) return;
  if (ega_) {
    uint8_t cell[2] = {uint8_t(glyph), uint8_t((background() & 7) << 4 | (foreground() & 15))};
    __builtin_memcpy(base_ + size_t(row) * pitch_ + size_t(col) * 2, cell, 2);
    return;
  }
  const Font& f = *font_;
  const uint8_t* bits = f.glyphs + size_t(glyph) * f.height * f.bytes_per_row;
  uint32_t fg = foreground(), bg = background();
  uint8_t* line = base_ + size_t(row) * f.height * pitch_ + size_t(col) * f.width * bytes_pp_;
  for (uint32_t y = 0; y < f.height; ++y, line += pitch_, bits += f.bytes_per_row) {
    uint8_t* px = line;
    for (uint32_t x = 0; x < f.width; ++x, px += bytes_pp_)
      store(px, (bits[x >> 3] & (0x80 >> (x & 7))) ? fg : bg);
  }
}

void FbConsole::erase(uint32_t row, uint32_t col_from, uint32_t col_to) {
  if (row >= rows_) return;
  col_to = min_u32(col_to, cols_);
  if (col_from >= col_to) return;
  if (ega_) {
    uint8_t cell[2] = {' ', uint8_t((background() & 7) << 4 | (foreground() & 15))};
    for (uint32_t c = col_from; c < col_to; ++c)
      __builtin_memcpy(base_ + size_t(row) * pitch_ + size_t(c) * 2, cell, 2);
    return;
  }
  const Font& f = *font_;
  uint32_t bg = background();
  uint8_t* line = base_ + size_t(row) * f.height * pitch_ + size_t(col_from) * f.width * bytes_pp_;
  size_t pixels = size_t(col_to - col_from) * f.width;
  for (uint32_t y = 0; y < f.height; ++y, line += pitch_) {
    if (bg == 0) {
      __builtin_memset(line, 0, pixels * bytes_pp_);
    } else {
      uint8_t* px = line;
      for (size_t x = 0; x < pixels; ++x, px += bytes_pp_) store(px, bg);
    }
  }
}

void FbConsole::erase_rows(uint32_t row_from, uint32_t row_to) {
  for (uint32_t r = row_from; r < row_to && r < rows_; ++r) erase(r, 0, cols_);
}

void FbConsole::scroll_up() {
  // One text row of bytes; the bytes below the last full text row (and right
  // of the last column) are never touched.
  size_t row_bytes = ega_ ? pitch_ : size_t(font_->height) * pitch_;
  if (rows_ > 1) __builtin_memmove(base_, base_ + row_bytes, row_bytes * (rows_ - 1));
  erase(rows_ - 1, 0, cols_);
}

// The cursor is an underline (the bottom eighth of the cell, at least one
// pixel row) drawn by inverting the pixels, so drawing it twice removes it.
void FbConsole::toggle_cursor() {
  const Font& f = *font_;
  uint32_t thickness = f.height / 8 ? f.height / 8 : 1;
  uint8_t* line = base_ + (size_t(cursor_drawn_row_) * f.height + f.height - thickness) * pitch_ +
                  size_t(cursor_drawn_col_) * f.width * bytes_pp_;
  for (uint32_t y = 0; y < thickness; ++y, line += pitch_) {
    uint8_t* px = line;
    for (uint32_t x = 0; x < f.width; ++x, px += bytes_pp_) store(px, load(px) ^ colour_mask_);
  }
}

void FbConsole::hide_cursor() {
  if (!cursor_drawn_) return;
  toggle_cursor();
  cursor_drawn_ = false;
}

void FbConsole::show_cursor() {
  // EGA text mode has a hardware cursor (CRT controller registers): the kernel
  // glue can place it from cursor_row()/cursor_col().
  if (cursor_drawn_ || !cursor_visible_ || ega_ || rows_ == 0 || cols_ == 0) return;
  cursor_drawn_row_ = row_;
  cursor_drawn_col_ = min_u32(col_, cols_ - 1);
  toggle_cursor();
  cursor_drawn_ = true;
}

uint32_t FbConsole::pixel_at(uint32_t x, uint32_t y) const {
  if (!base_ || ega_ || x >= width_ || y >= height_) return 0;
  return load(base_ + size_t(y) * pitch_ + size_t(x) * bytes_pp_);
}

}  // namespace klib
