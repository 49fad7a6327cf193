// lib/fbcon_test.cc — host tests for the framebuffer / EGA text console.
//
// Framebuffers are std::vectors of exactly pitch * height bytes, so any write
// outside the screen is an ASan error.
#include <lib/fbcon.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace klib {
namespace {

constexpr uint32_t kGlyphW = 8;
constexpr uint32_t kGlyphH = 8;
constexpr uint32_t kGlyphCount = 128;

// A synthetic 8x8 font: 'A' is drawn, glyph 1 is a full block (mapped from
// U+2500), space is empty, every other glyph is a distinct pseudo-random pattern.
struct TestFont {
  uint8_t glyphs[kGlyphCount * kGlyphH];
  FontMapEntry map[2] = {{0x2500, 1}, {0x2588, 200}};  // the second is out of range
  Font font;

  TestFont() {
    for (uint32_t c = 0; c < kGlyphCount; ++c)
      for (uint32_t y = 0; y < kGlyphH; ++y) glyphs[c * kGlyphH + y] = uint8_t(c * 37 + y * 101 + 1);
    const uint8_t a[8] = {0x18, 0x24, 0x42, 0x42, 0x7e, 0x42, 0x42, 0x00};
    std::memcpy(&glyphs['A' * kGlyphH], a, 8);
    std::memset(&glyphs[' ' * kGlyphH], 0, 8);
    std::memset(&glyphs[1 * kGlyphH], 0xff, 8);
    font = {kGlyphW, kGlyphH, 1, kGlyphCount, glyphs, map, 2};
  }
  bool bit(uint32_t glyph, uint32_t x, uint32_t y) const {
    return glyphs[glyph * kGlyphH + y] & (0x80 >> x);
  }
};

const TestFont& test_font() {
  static TestFont f;
  return f;
}

struct Screen {
  std::vector<uint8_t> mem;
  FramebufferDesc desc{};
  FbConsole con;

  // cols x rows cells of the test font, `bpp` bits per pixel, `pad` spare
  // bytes at the end of each pixel row.
  Screen(uint32_t cols, uint32_t rows, uint8_t bpp = 32, uint32_t pad = 0) {
    uint32_t bytes_pp = (bpp + 7) / 8;
    desc.width = cols * kGlyphW;
    desc.height = rows * kGlyphH;
    desc.pitch = desc.width * bytes_pp + pad;
    desc.bpp = bpp;
    if (bpp == 32 || bpp == 24) {
      desc.red_pos = 16, desc.red_size = 8, desc.green_pos = 8, desc.green_size = 8;
      desc.blue_pos = 0, desc.blue_size = 8;
    } else if (bpp == 16) {
      desc.red_pos = 11, desc.red_size = 5, desc.green_pos = 5, desc.green_size = 6;
      desc.blue_pos = 0, desc.blue_size = 5;
    }
    mem.assign(size_t(desc.pitch) * desc.height, 0x5a);  // garbage init() must clear
    desc.base = mem.data();
  }
  ktl::Result<void> init() { return con.init(desc, test_font().font); }
  void put(std::string_view s) { con.write(s.data(), s.size()); }

  // True if cell (row, col) shows `glyph` in colours fg/bg (VGA indices).
  ::testing::AssertionResult cell_is(uint32_t row, uint32_t col, uint32_t glyph, uint8_t fg = 7,
                                     uint8_t bg = 0) const {
    for (uint32_t y = 0; y < kGlyphH; ++y) {
      for (uint32_t x = 0; x < kGlyphW; ++x) {
        uint32_t want = con.palette_pixel(test_font().bit(glyph, x, y) ? fg : bg);
        uint32_t got = con.pixel_at(col * kGlyphW + x, row * kGlyphH + y);
        if (got != want) {
          char msg[96];
          std::snprintf(msg, sizeof msg, "cell (%u,%u) pixel (%u,%u) is %#x, want %#x", row, col, x,
                        y, got, want);
          return ::testing::AssertionFailure() << msg;
        }
      }
    }
    return ::testing::AssertionSuccess();
  }
};

TEST(FbConsole, InitValidation) {
  Screen s(4, 2);
  FbConsole c;
  FramebufferDesc d = s.desc;
  const Font& f = test_font().font;
  d.bpp = 8;
  EXPECT_EQ(c.init(d, f).error(), ktl::Error::InvalidArgument);
  d = s.desc;
  d.base = nullptr;
  EXPECT_EQ(c.init(d, f).error(), ktl::Error::InvalidArgument);
  d = s.desc;
  d.width = 7;  // narrower than one glyph
  EXPECT_EQ(c.init(d, f).error(), ktl::Error::InvalidArgument);
  d = s.desc;
  d.height = 7;
  EXPECT_EQ(c.init(d, f).error(), ktl::Error::InvalidArgument);
  d = s.desc;
  d.pitch = d.width * 4 - 1;
  EXPECT_EQ(c.init(d, f).error(), ktl::Error::InvalidArgument);
  d = s.desc;
  d.red_pos = 30;  // 30 + 8 > 32 bits
  EXPECT_EQ(c.init(d, f).error(), ktl::Error::InvalidArgument);
  Font empty = f;
  empty.glyph_count = 0;
  EXPECT_EQ(c.init(s.desc, empty).error(), ktl::Error::InvalidArgument);
  // Nothing was drawn by the failed attempts; write() before init is a no-op.
  c.write("A", 1);
  for (uint8_t b : s.mem) ASSERT_EQ(b, 0x5a);

  ASSERT_TRUE(s.init().ok());
  EXPECT_EQ(s.con.cols(), 4u);
  EXPECT_EQ(s.con.rows(), 2u);
  EXPECT_EQ(s.con.cursor_row(), 0u);
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.con.set_cursor_visible(false);
  for (uint8_t b : s.mem) ASSERT_EQ(b, 0);  // cleared to black
}

TEST(FbConsole, PartialCellsAreNotUsed) {
  Screen s(4, 2, 32, /*pad=*/20);
  s.desc.width += 5;  // 5 pixels right of the last full cell (within the pitch)
  ASSERT_TRUE(s.init().ok());
  EXPECT_EQ(s.con.cols(), 4u);
}

TEST(FbConsole, GlyphAtOrigin32bpp) {
  Screen s(4, 2);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("A");
  EXPECT_EQ(s.con.palette_pixel(7), 0xaaaaaau);
  // Row 0 of 'A' is 0x18: pixels 3 and 4 lit.
  EXPECT_EQ(s.con.pixel_at(2, 0), 0u);
  EXPECT_EQ(s.con.pixel_at(3, 0), 0xaaaaaau);
  EXPECT_EQ(s.con.pixel_at(4, 0), 0xaaaaaau);
  EXPECT_EQ(s.con.pixel_at(5, 0), 0u);
  // Row 4 is 0x7e.
  EXPECT_EQ(s.con.pixel_at(0, 4), 0u);
  for (uint32_t x = 1; x < 7; ++x) EXPECT_EQ(s.con.pixel_at(x, 4), 0xaaaaaau) << x;
  EXPECT_TRUE(s.cell_is(0, 0, 'A'));
  EXPECT_TRUE(s.cell_is(0, 1, ' '));
  EXPECT_EQ(s.con.cursor_col(), 1u);
  EXPECT_EQ(s.con.pixel_at(1000, 0), 0u);  // outside: 0, no access
}

TEST(FbConsole, CursorIsInvertedUnderline) {
  Screen s(4, 2);
  ASSERT_TRUE(s.init().ok());
  s.put("A");
  // Cursor at (0, 1): the bottom pixel row of that cell is inverted.
  for (uint32_t x = 8; x < 16; ++x) {
    EXPECT_EQ(s.con.pixel_at(x, 7), 0xffffffu) << x;
    EXPECT_EQ(s.con.pixel_at(x, 6), 0u) << x;
  }
  EXPECT_TRUE(s.cell_is(0, 0, 'A'));
  s.put("\x1b[?25l");  // hide
  EXPECT_TRUE(s.cell_is(0, 1, ' '));
  s.put("\x1b[?25h");  // show
  EXPECT_EQ(s.con.pixel_at(8, 7), 0xffffffu);
  s.con.set_cursor_visible(false);
  EXPECT_TRUE(s.cell_is(0, 1, ' '));
}

TEST(FbConsole, TextAdvancesCursor) {
  Screen s(16, 4);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("AB");
  EXPECT_TRUE(s.cell_is(0, 0, 'A'));
  EXPECT_TRUE(s.cell_is(0, 1, 'B'));
  EXPECT_EQ(s.con.cursor_row(), 0u);
  EXPECT_EQ(s.con.cursor_col(), 2u);
}

TEST(FbConsole, ControlCharacters) {
  Screen s(16, 4);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("AB\rC");
  EXPECT_TRUE(s.cell_is(0, 0, 'C'));
  EXPECT_TRUE(s.cell_is(0, 1, 'B'));
  EXPECT_EQ(s.con.cursor_col(), 1u);
  s.put("\n");
  EXPECT_EQ(s.con.cursor_row(), 1u);
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.put("\b");  // at column 0: stays
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.put("XY\bZ");
  EXPECT_TRUE(s.cell_is(1, 0, 'X'));
  EXPECT_TRUE(s.cell_is(1, 1, 'Z'));
  s.put("\r\t");
  EXPECT_EQ(s.con.cursor_col(), 8u);
  s.put("\t");
  EXPECT_EQ(s.con.cursor_col(), 15u);  // capped at the last column, no wrap
  s.put("\t");
  EXPECT_EQ(s.con.cursor_col(), 15u);
  s.put("\r\x07\x01\x7f");  // BEL and others: nothing
  EXPECT_EQ(s.con.cursor_col(), 0u);
  EXPECT_TRUE(s.cell_is(1, 0, 'X'));
}

TEST(FbConsole, DeferredWrap) {
  Screen s(4, 3);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("ABCD");
  EXPECT_EQ(s.con.cursor_row(), 0u);
  EXPECT_EQ(s.con.cursor_col(), 4u);  // wrap pending
  s.put("\n");                        // no blank line in between
  EXPECT_EQ(s.con.cursor_row(), 1u);
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.put("EFGHI");
  EXPECT_TRUE(s.cell_is(1, 3, 'H'));
  EXPECT_TRUE(s.cell_is(2, 0, 'I'));
  EXPECT_EQ(s.con.cursor_row(), 2u);
  EXPECT_EQ(s.con.cursor_col(), 1u);
}

TEST(FbConsole, ScrollsAtBottom) {
  Screen s(4, 3);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("1\n2\n3");
  EXPECT_TRUE(s.cell_is(0, 0, '1'));
  s.put("\n4");
  EXPECT_TRUE(s.cell_is(0, 0, '2'));  // the first row now shows the second
  EXPECT_TRUE(s.cell_is(1, 0, '3'));
  EXPECT_TRUE(s.cell_is(2, 0, '4'));
  EXPECT_TRUE(s.cell_is(2, 1, ' '));  // the new row is blank
  EXPECT_EQ(s.con.cursor_row(), 2u);
  s.put("\n\n\n\n5");
  for (uint32_t r = 0; r < 2; ++r)
    for (uint32_t c = 0; c < 4; ++c) EXPECT_TRUE(s.cell_is(r, c, ' '));
  EXPECT_TRUE(s.cell_is(2, 0, '5'));
  // Wrapping off the last line scrolls too.
  s.put("\x1b[3;1HWXYZQ");
  EXPECT_TRUE(s.cell_is(1, 0, 'W'));
  EXPECT_TRUE(s.cell_is(2, 0, 'Q'));
}

TEST(FbConsole, ScrollKeepsPitchPaddingAndBackground) {
  Screen s(4, 2, 32, /*pad=*/8);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("\x1b[44mAB\nCD\nEF");
  EXPECT_TRUE(s.cell_is(0, 0, 'C', 7, 1));
  EXPECT_TRUE(s.cell_is(1, 0, 'E', 7, 1));
  EXPECT_TRUE(s.cell_is(1, 3, ' ', 7, 1));  // cleared with the current background
  for (uint32_t y = 0; y < s.desc.height; ++y)  // the pitch padding is never written
    for (uint32_t i = s.desc.width * 4; i < s.desc.pitch; ++i)
      ASSERT_EQ(s.mem[y * s.desc.pitch + i], 0x5a) << y;
}

TEST(FbConsole, SgrColours) {
  Screen s(16, 2);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("\x1b[31mA");
  EXPECT_EQ(s.con.pixel_at(3, 0), 0xaa0000u);  // red
  EXPECT_TRUE(s.cell_is(0, 0, 'A', 4, 0));
  s.put("\x1b[1;31mA");  // bold: bright red
  EXPECT_TRUE(s.cell_is(0, 1, 'A', 12, 0));
  EXPECT_EQ(s.con.pixel_at(8 + 3, 0), 0xff5555u);
  s.put("\x1b[0;44mA");  // default fg on blue
  EXPECT_TRUE(s.cell_is(0, 2, 'A', 7, 1));
  EXPECT_EQ(s.con.pixel_at(16, 0), 0x0000aau);
  s.put("\x1b[92;103mA");  // bright green on yellow
  EXPECT_TRUE(s.cell_is(0, 3, 'A', 10, 14));
  s.put("\x1b[39mA");  // default fg, background kept
  EXPECT_TRUE(s.cell_is(0, 4, 'A', 7, 14));
  s.put("\x1b[49;7mA");  // reverse video
  EXPECT_TRUE(s.cell_is(0, 5, 'A', 0, 7));
  s.put("\x1b[27;38;5;9;48;5;4mA");  // 256-colour form, first 16 colours
  EXPECT_TRUE(s.cell_is(0, 6, 'A', 12, 1));
  s.put("\x1b[38;2;1;2;3;32mA");  // true colour skipped, then green
  EXPECT_TRUE(s.cell_is(0, 7, 'A', 2, 1));
  s.put("\x1b[mA");  // empty = reset
  EXPECT_TRUE(s.cell_is(0, 8, 'A'));
  s.put("\x1b[1m\x1b[22mA");
  EXPECT_TRUE(s.cell_is(0, 9, 'A'));
}

// What the userspace fbcon driver draws for console-fb: a line discipline's
// echo (typed text, DEL erasing as "\b \b", Enter as "\r\n"), cursor keys a
// shell might echo back, colours, and then garbage a buggy client could send.
TEST(FbConsole, TtySessionThenGarbage) {
  Screen s(10, 3);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("# AB\b \b\r\n");  // typed "AB", one DEL erased the B
  EXPECT_TRUE(s.cell_is(0, 2, 'A'));
  EXPECT_TRUE(s.cell_is(0, 3, ' '));
  EXPECT_EQ(s.con.cursor_row(), 1u);
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.put("\x1b[2J\x1b[3;4HA\x1b[2AA\x1b[1BA\x1b[3DA\x1b[2CA");  // ED, CUP, CUU, CUD, CUB, CUF
  EXPECT_TRUE(s.cell_is(2, 3, 'A'));
  EXPECT_TRUE(s.cell_is(0, 4, 'A'));
  EXPECT_TRUE(s.cell_is(1, 5, 'A'));
  EXPECT_TRUE(s.cell_is(1, 3, 'A'));
  EXPECT_TRUE(s.cell_is(1, 6, 'A'));
  s.put("\x1b[1;1H\x1b[K\x1b[33;41mA\x1b[97;7mA\x1b[0mA");  // EL; yellow on red; reverse bright white; reset
  EXPECT_TRUE(s.cell_is(0, 0, 'A', 6, 4));
  EXPECT_TRUE(s.cell_is(0, 1, 'A', 4, 15));
  EXPECT_TRUE(s.cell_is(0, 2, 'A'));
  EXPECT_TRUE(s.cell_is(0, 4, ' '));  // erased by EL
  // Garbage: an overlong CSI, a lone ESC at the end of a write, a CSI
  // aborted by a control, bytes no UTF-8 has: nothing outside the screen
  // (ASan), the cursor stays on it, and the next text still draws.
  std::string junk = "\x1b[";
  for (int i = 0; i < 100000; ++i) junk += char('0' + i % 10);
  s.put(junk);
  s.put("\x1b");
  s.put("[;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;m\xff\xfe\xc0\x80");
  s.put("\x1b[12\x1b[H");
  EXPECT_LT(s.con.cursor_row(), s.con.rows());
  EXPECT_LE(s.con.cursor_col(), s.con.cols());
  s.put("\x1b[HA");
  EXPECT_TRUE(s.cell_is(0, 0, 'A'));
}

TEST(FbConsole, SixteenBitPixels) {
  Screen s(4, 2, 16);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  // 0xaaaaaa in 5:6:5 is (0xaa >> 3) << 11 | (0xaa >> 2) << 5 | 0xaa >> 3.
  EXPECT_EQ(s.con.palette_pixel(7), 0xad55u);
  EXPECT_EQ(s.con.palette_pixel(15), 0xffffu);
  EXPECT_EQ(s.con.palette_pixel(12), 0xfaaau);  // ff5555
  s.put("A\x1b[91mA");
  EXPECT_TRUE(s.cell_is(0, 0, 'A'));
  EXPECT_TRUE(s.cell_is(0, 1, 'A', 12, 0));
  uint16_t raw;
  std::memcpy(&raw, &s.mem[3 * 2], 2);  // pixel (3, 0), little-endian
  EXPECT_EQ(raw, 0xad55u);
  s.con.set_cursor_visible(true);
  EXPECT_EQ(s.con.pixel_at(16, 7), 0xffffu);  // cursor at (0, 2)
}

TEST(FbConsole, FifteenAndTwentyFourBitPixels) {
  Screen s15(4, 2, 15);
  s15.desc.red_size = s15.desc.green_size = s15.desc.blue_size = 0;  // use the default layout
  ASSERT_TRUE(s15.init().ok());
  EXPECT_EQ(s15.con.palette_pixel(15), 0x7fffu);
  EXPECT_EQ(s15.con.palette_pixel(4), 0x5400u);  // aa0000: 21 << 10
  s15.con.set_cursor_visible(false);
  s15.put("A");
  EXPECT_TRUE(s15.cell_is(0, 0, 'A'));

  Screen s24(4, 2, 24);
  // BGR order in memory: red in the low byte.
  s24.desc.red_pos = 0, s24.desc.blue_pos = 16;
  ASSERT_TRUE(s24.init().ok());
  s24.con.set_cursor_visible(false);
  s24.put("\x1b[94mA");  // bright blue 5555ff
  EXPECT_EQ(s24.con.palette_pixel(9), 0xff5555u);
  EXPECT_TRUE(s24.cell_is(0, 0, 'A', 9, 0));
  const uint8_t* px = &s24.mem[3 * 3];  // pixel (3, 0)
  EXPECT_EQ(px[0], 0x55);
  EXPECT_EQ(px[1], 0x55);
  EXPECT_EQ(px[2], 0xff);
}

TEST(FbConsole, CursorPositioning) {
  Screen s(16, 4);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("\x1b[2;3HA");
  EXPECT_TRUE(s.cell_is(1, 2, 'A'));
  s.put("\x1b[HB");
  EXPECT_TRUE(s.cell_is(0, 0, 'B'));
  s.put("\x1b[99;99H");
  EXPECT_EQ(s.con.cursor_row(), 3u);
  EXPECT_EQ(s.con.cursor_col(), 15u);
  s.put("\x1b[0;0H");
  EXPECT_EQ(s.con.cursor_row(), 0u);
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.put("\x1b[3;4f");
  EXPECT_EQ(s.con.cursor_row(), 2u);
  EXPECT_EQ(s.con.cursor_col(), 3u);
  s.put("\x1b[A");
  EXPECT_EQ(s.con.cursor_row(), 1u);
  s.put("\x1b[5A");
  EXPECT_EQ(s.con.cursor_row(), 0u);
  s.put("\x1b[2B");
  EXPECT_EQ(s.con.cursor_row(), 2u);
  s.put("\x1b[9B");
  EXPECT_EQ(s.con.cursor_row(), 3u);
  s.put("\x1b[4C");
  EXPECT_EQ(s.con.cursor_col(), 7u);
  s.put("\x1b[100C");
  EXPECT_EQ(s.con.cursor_col(), 15u);
  s.put("\x1b[3D");
  EXPECT_EQ(s.con.cursor_col(), 12u);
  s.put("\x1b[100D");
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.put("\x1b[5G");
  EXPECT_EQ(s.con.cursor_col(), 4u);
  s.put("\x1b[2d");
  EXPECT_EQ(s.con.cursor_row(), 1u);
  // A pending wrap is cancelled by a move.
  s.put("\x1b[1;16HX");
  EXPECT_EQ(s.con.cursor_col(), 16u);
  s.put("\x1b[DY");
  EXPECT_TRUE(s.cell_is(0, 14, 'Y'));
}

TEST(FbConsole, EraseInDisplayAndLine) {
  Screen s(4, 3);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("AAAABBBBCCC");
  s.put("\x1b[2;3H\x1b[K");  // erase row 1 from column 2
  EXPECT_TRUE(s.cell_is(1, 1, 'B'));
  EXPECT_TRUE(s.cell_is(1, 2, ' '));
  EXPECT_TRUE(s.cell_is(1, 3, ' '));
  s.put("\x1b[1K");  // row 1 up to and including column 2
  EXPECT_TRUE(s.cell_is(1, 0, ' '));
  EXPECT_TRUE(s.cell_is(0, 0, 'A'));
  s.put("\x1b[1;2H\x1b[2K");
  for (uint32_t c = 0; c < 4; ++c) EXPECT_TRUE(s.cell_is(0, c, ' '));
  s.put("\x1b[3;2H\x1b[J");  // from (2,1) to the end
  EXPECT_TRUE(s.cell_is(2, 0, 'C'));
  EXPECT_TRUE(s.cell_is(2, 1, ' '));
  s.put("\x1b[1;1HBBBB\x1b[3;1HAAAA\x1b[3;2H\x1b[1J");  // from the start to (2,1)
  EXPECT_TRUE(s.cell_is(0, 3, ' '));
  EXPECT_TRUE(s.cell_is(2, 0, ' '));
  EXPECT_TRUE(s.cell_is(2, 1, ' '));
  EXPECT_TRUE(s.cell_is(2, 2, 'A'));
  s.put("\x1b[2J");
  for (uint32_t r = 0; r < 3; ++r)
    for (uint32_t c = 0; c < 4; ++c) EXPECT_TRUE(s.cell_is(r, c, ' '));
  EXPECT_EQ(s.con.cursor_row(), 2u);  // ED does not move the cursor
  s.put("\x1b[41m\x1b[2J");  // erase uses the current background
  EXPECT_TRUE(s.cell_is(0, 0, ' ', 7, 4));
  s.put("\x1b" "c");  // full reset: also shows the cursor again
  EXPECT_EQ(s.con.pixel_at(0, 7), 0xffffffu);
  s.con.set_cursor_visible(false);
  EXPECT_TRUE(s.cell_is(0, 0, ' '));
  EXPECT_EQ(s.con.cursor_row(), 0u);
}

TEST(FbConsole, BogusSequences) {
  Screen s(8, 3);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("\x1b[99999999999;H");  // saturates, clamps
  EXPECT_EQ(s.con.cursor_row(), 2u);
  EXPECT_EQ(s.con.cursor_col(), 0u);
  s.put("\x1b[99999999999999999999;99999999999999999999H");
  EXPECT_EQ(s.con.cursor_col(), 7u);
  s.put("\x1b[H\x1b[4294967297C");  // would wrap a 32-bit value to 1
  EXPECT_EQ(s.con.cursor_col(), 7u);
  s.put("\x1b[H");
  std::string many = "\x1b[";
  for (int i = 0; i < 1000; ++i) many += "31;";
  many += "m";
  s.put(many);  // more parameters than kept: no overflow
  s.put("\x1b[39m");
  s.put("\x1b[12;");  // unterminated...
  s.put("\nA");       // ...aborted by a control character, which still acts
  EXPECT_EQ(s.con.cursor_row(), 1u);
  EXPECT_TRUE(s.cell_is(1, 0, 'A'));
  s.put("\x1b[5 qB");  // intermediate byte: unknown sequence dropped whole
  EXPECT_TRUE(s.cell_is(1, 1, 'B'));
  s.put("\x1b[?1049hC");  // private mode we do not know
  EXPECT_TRUE(s.cell_is(1, 2, 'C'));
  s.put("\x1b]0;title\x07" "D");  // OSC: ESC ] dropped, the rest is text
  EXPECT_EQ(s.con.cursor_row(), 2u);
  EXPECT_TRUE(s.cell_is(1, 3, '0'));  // "0;title" printed from (1, 3), wrapping
  EXPECT_TRUE(s.cell_is(2, 2, 'D'));
  s.put("\x1b\x1b[31mE\x1b[m");  // ESC ESC: the second one starts over
  EXPECT_TRUE(s.cell_is(2, 3, 'E', 4, 0));
  s.put("\x1b[3\xc3\xa9m");  // non-ASCII inside CSI aborts it
  s.put("\x1b[Zq\x1b[");      // unknown final, then cut off at the end
  s.put("");
}

TEST(FbConsole, SplitAcrossWrites) {
  Screen s(8, 2);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("\x1b");
  s.put("[");
  s.put("3");
  s.put("1");
  s.put("mA");
  EXPECT_TRUE(s.cell_is(0, 0, 'A', 4, 0));
  s.put("\xe2");
  s.put("\x94");
  s.put("\x80");  // U+2500 split in three
  EXPECT_TRUE(s.cell_is(0, 1, 1, 4, 0));
}

TEST(FbConsole, Utf8) {
  Screen s(8, 2);
  ASSERT_TRUE(s.init().ok());
  s.con.set_cursor_visible(false);
  s.put("\xe2\x94\x80");  // U+2500 → glyph 1 through the font's map
  EXPECT_TRUE(s.cell_is(0, 0, 1));
  s.put("\xc3\xa9");  // U+00E9: beyond this font's 128 glyphs → '?'
  EXPECT_TRUE(s.cell_is(0, 1, '?'));
  s.put("\xe2\x96\x88");  // mapped to glyph 200, out of range → '?'
  EXPECT_TRUE(s.cell_is(0, 2, '?'));
  s.put("\xff");  // never valid
  EXPECT_TRUE(s.cell_is(0, 3, '?'));
  s.put("\x80");  // stray continuation
  EXPECT_TRUE(s.cell_is(0, 4, '?'));
  s.put("\xe2\x94Z");  // cut short: replacement, then Z
  EXPECT_TRUE(s.cell_is(0, 5, '?'));
  EXPECT_TRUE(s.cell_is(0, 6, 'Z'));
  s.put("\xc2\x85");  // U+0085, a C1 control: not shown
  EXPECT_EQ(s.con.cursor_col(), 7u);
}

TEST(FbConsole, FuzzStaysInBounds) {
  std::mt19937 rng(1234);
  const char alphabet[] = "\x1b[;0123456789?HfABCDGdJKmhlc \n\r\b\tAZ\xe2\x94\x80\xc3\xff";
  for (uint8_t bpp : {uint8_t(32), uint8_t(24), uint8_t(16)}) {
    Screen s(5, 3, bpp);
    ASSERT_TRUE(s.init().ok());
    for (int round = 0; round < 3000; ++round) {
      std::string chunk;
      size_t len = rng() % 24;
      for (size_t i = 0; i < len; ++i) {
        chunk += (rng() % 4) ? alphabet[rng() % (sizeof alphabet - 1)] : char(rng());
      }
      s.put(chunk);
      ASSERT_LT(s.con.cursor_row(), s.con.rows());
      ASSERT_LE(s.con.cursor_col(), s.con.cols());
    }
  }
}

// The cursor never leaves marks behind: a console with the cursor shown must
// match one with it hidden everywhere except the cursor's underline.
TEST(FbConsole, CursorSurvivesScrolling) {
  Screen shown(6, 3), hidden(6, 3);
  ASSERT_TRUE(shown.init().ok());
  ASSERT_TRUE(hidden.init().ok());
  hidden.con.set_cursor_visible(false);
  const char* inputs[] = {"hello", "\n", "world\nline three", "\n\nmore\x1b[2;2H", "\x1b[K",
                          "x\x1b[44m\x1b[2J", "abc\n\n\n\n", "wrap around the line!", "\b\b\t"};
  for (const char* in : inputs) {
    shown.put(in);
    hidden.put(in);
    uint32_t cr = shown.con.cursor_row();
    uint32_t cc = shown.con.cursor_col() < 6 ? shown.con.cursor_col() : 5;
    for (uint32_t y = 0; y < 24; ++y) {
      for (uint32_t x = 0; x < 48; ++x) {
        uint32_t a = shown.con.pixel_at(x, y), b = hidden.con.pixel_at(x, y);
        bool underline = y == cr * 8 + 7 && x / 8 == cc;
        if (underline)
          ASSERT_EQ(a, b ^ 0xffffffu) << in << " at " << x << "," << y;
        else
          ASSERT_EQ(a, b) << in << " at " << x << "," << y;
      }
    }
  }
}

// ---- EGA text mode ----

struct EgaScreen {
  std::vector<uint8_t> mem = std::vector<uint8_t>(80 * 25 * 2, 0x5a);
  FbConsole con;
  ktl::Result<void> init() {
    FramebufferDesc d{};
    d.base = mem.data();
    d.pitch = 160;
    d.width = 80;
    d.height = 25;
    d.ega_text = true;
    return con.init(d, test_font().font);
  }
  void put(std::string_view s) { con.write(s.data(), s.size()); }
  uint8_t ch(uint32_t row, uint32_t col) const { return mem[row * 160 + col * 2]; }
  uint8_t attr(uint32_t row, uint32_t col) const { return mem[row * 160 + col * 2 + 1]; }
};

TEST(FbConsoleEga, WritesCharAttrPairs) {
  EgaScreen s;
  ASSERT_TRUE(s.init().ok());
  EXPECT_EQ(s.con.cols(), 80u);
  EXPECT_EQ(s.con.rows(), 25u);
  EXPECT_EQ(s.ch(24, 79), ' ');  // cleared
  EXPECT_EQ(s.attr(24, 79), 0x07);
  s.put("Hi");
  EXPECT_EQ(s.ch(0, 0), 'H');
  EXPECT_EQ(s.attr(0, 0), 0x07);
  EXPECT_EQ(s.ch(0, 1), 'i');
  s.put("\x1b[1;33;44mY");  // bright yellow on blue
  EXPECT_EQ(s.ch(0, 2), 'Y');
  EXPECT_EQ(s.attr(0, 2), 0x1e);
  s.put("\x1b[0;105mZ");  // bright background: no blink bit
  EXPECT_EQ(s.attr(0, 3), 0x57);
  s.put("\x1b[m\xe2\x94\x80\xc3\xa9\xe2\x98\x83");  // ─ é ☃ in code page 437
  EXPECT_EQ(s.ch(0, 4), 0xc4);
  EXPECT_EQ(s.ch(0, 5), 0x82);
  EXPECT_EQ(s.ch(0, 6), '?');
  EXPECT_EQ(s.con.pixel_at(0, 0), 0u);
}

TEST(FbConsoleEga, ScrollsAndClears) {
  EgaScreen s;
  ASSERT_TRUE(s.init().ok());
  for (int i = 0; i < 26; ++i) {
    std::string line = "line " + std::to_string(i);
    if (i < 25) line += "\n";
    s.put(line);
  }
  // 26 lines on 25 rows: scrolled by one.
  EXPECT_EQ(s.ch(0, 5), '1');
  EXPECT_EQ(s.ch(0, 6), ' ');
  EXPECT_EQ(s.ch(23, 5), '2');
  EXPECT_EQ(s.ch(23, 6), '4');
  EXPECT_EQ(s.ch(24, 5), '2');
  EXPECT_EQ(s.ch(24, 6), '5');
  EXPECT_EQ(s.ch(24, 0), 'l');
  EXPECT_EQ(s.con.cursor_row(), 24u);
  s.put("\x1b[42m\x1b[2J");
  for (uint32_t r = 0; r < 25; ++r) {
    EXPECT_EQ(s.ch(r, 0), ' ');
    EXPECT_EQ(s.attr(r, 79), 0x27);
  }
  s.put("\x1b[25;80HX");
  EXPECT_EQ(s.ch(24, 79), 'X');
  s.put("Y");  // wraps and scrolls
  EXPECT_EQ(s.ch(23, 79), 'X');
  EXPECT_EQ(s.ch(24, 0), 'Y');
}

}  // namespace
}  // namespace klib
