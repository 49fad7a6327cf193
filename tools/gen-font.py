#!/usr/bin/env python3
"""gen-font.py — convert a PSF console font into the kernel's built-in font.

Usage:
  gen-font.py FONT.psf[.gz] OUT.cc

Reads a PSF1 or PSF2 font (gzip-compressed or not) and writes C++ defining
klib::kConsoleFont (struct Font, kernel/lib/fbcon.h) with 256 glyphs:
  U+0020..U+007E, U+00A0..U+00FF   glyph index = code point (ASCII, Latin-1)
  0x01..0x1f, 0x7f..0x9f           EXTRA code points below (box drawing,
                                   blocks, arrows, typography), found through
                                   the font's unicode_map
  code points the font lacks       a copy of its '?' glyph
Code points are located through the font's Unicode table; a font without one
is assumed to be ASCII-ordered, and only U+0020..U+007E are taken from it.
Python 3 standard library only.

PSF formats (as in the Linux kbd package):
  PSF1: {u8 0x36, u8 0x04, u8 mode, u8 charsize}; 8 pixels wide, height =
        charsize, 256 glyphs (512 if mode & 1), Unicode table if mode & 6:
        per glyph, u16 code points, 0xfffe starts a sequence, 0xffff ends.
  PSF2: {u32 0x864ab572, version, headersize, flags, length, charsize,
        height, width}; Unicode table if flags & 1: per glyph, UTF-8 code
        points, 0xfe starts a sequence, 0xff ends.
"""

import gzip
import os
import struct
import sys

# Extra glyphs, in slot order; the 64 free slots hold at most 64.
EXTRA = [
    # Box drawing, light and double.
    0x2500, 0x2502, 0x250C, 0x2510, 0x2514, 0x2518, 0x251C, 0x2524, 0x252C, 0x2534, 0x253C,
    0x2550, 0x2551, 0x2554, 0x2557, 0x255A, 0x255D, 0x2560, 0x2563, 0x2566, 0x2569, 0x256C,
    # Blocks and shades.
    0x2588, 0x2580, 0x2584, 0x258C, 0x2590, 0x2591, 0x2592, 0x2593,
    # Shapes.
    0x25A0, 0x25B2, 0x25BA, 0x25BC, 0x25C4, 0x25C6, 0x25CF, 0x25CB,
    # Arrows.
    0x2190, 0x2191, 0x2192, 0x2193,
    # Typography.
    0x2022, 0x2026, 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x20AC, 0x2122,
    # Marks and maths.
    0x2713, 0x2717, 0x2264, 0x2265, 0x2260, 0x221E, 0xFFFD,
]
FREE_SLOTS = list(range(0x01, 0x20)) + list(range(0x7F, 0xA0))
assert len(EXTRA) <= len(FREE_SLOTS)

GLYPHS_OUT = 256


class FontError(Exception):
    pass


def parse_psf(data):
    """Returns (width, height, bytes_per_row, [glyph bytes], {code point: glyph index} or None)."""
    if data[:2] == b"\x36\x04":
        if len(data) < 4:
            raise FontError("truncated PSF1 header")
        mode, charsize = data[2], data[3]
        count = 512 if mode & 0x01 else 256
        width, height, bpr, header = 8, charsize, 1, 4
        has_table = bool(mode & 0x06)
    elif data[:4] == b"\x72\xb5\x4a\x86":
        if len(data) < 32:
            raise FontError("truncated PSF2 header")
        _magic, _version, header, flags, count, charsize, height, width = struct.unpack_from(
            "<8I", data, 0
        )
        bpr = (width + 7) // 8
        has_table = bool(flags & 0x01)
    else:
        raise FontError("not a PSF1 or PSF2 font")
    if width == 0 or height == 0 or count == 0:
        raise FontError("empty font")
    if charsize != height * bpr:
        raise FontError(f"glyph size {charsize} != {height} rows x {bpr} bytes")
    end = header + count * charsize
    if end > len(data):
        raise FontError("truncated glyph data")
    glyphs = [data[header + i * charsize : header + (i + 1) * charsize] for i in range(count)]
    if not has_table:
        return width, height, bpr, glyphs, None

    table = {}
    pos = end
    is_psf1 = data[:2] == b"\x36\x04"
    for index in range(count):
        in_sequence = False
        while True:
            if is_psf1:
                if pos + 2 > len(data):
                    raise FontError("truncated Unicode table")
                (cp,) = struct.unpack_from("<H", data, pos)
                pos += 2
                if cp == 0xFFFF:
                    break
                if cp == 0xFFFE:
                    in_sequence = True
                    continue
            else:
                if pos >= len(data):
                    raise FontError("truncated Unicode table")
                lead = data[pos]
                if lead == 0xFF:
                    pos += 1
                    break
                if lead == 0xFE:
                    pos += 1
                    in_sequence = True
                    continue
                n = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
                try:
                    cp = ord(data[pos : pos + n].decode("utf-8"))
                except (UnicodeDecodeError, TypeError) as e:
                    raise FontError(f"bad UTF-8 in Unicode table at byte {pos}") from e
                pos += n
            if not in_sequence:  # sequences (combining forms) are not used
                table.setdefault(cp, index)
    return width, height, bpr, glyphs, table


def build(width, height, bpr, glyphs, table):
    """Returns (256 glyphs, [(slot, code point or None)], unicode map [(cp, slot)], missing)."""
    def find(cp):
        if table is None:
            return cp if 0x20 <= cp < 0x7F and cp < len(glyphs) else None
        return table.get(cp)

    question = find(ord("?"))
    blank = bytes(height * bpr)
    fallback = glyphs[question] if question is not None else blank
    out = [blank] * GLYPHS_OUT
    labels = [None] * GLYPHS_OUT
    missing = []
    for cp in list(range(0x20, 0x7F)) + list(range(0xA0, 0x100)):
        index = find(cp)
        labels[cp] = cp
        if index is None:
            out[cp] = fallback
            missing.append(cp)
        else:
            out[cp] = glyphs[index]
    unicode_map = []
    slots = iter(FREE_SLOTS)
    for cp in EXTRA:
        index = find(cp)
        if index is None:
            missing.append(cp)
            continue
        slot = next(slots)
        out[slot] = glyphs[index]
        labels[slot] = cp
        unicode_map.append((cp, slot))
    unicode_map.sort()
    return out, labels, unicode_map, missing


def label(cp):
    if cp is None:
        return "unused"
    if 0x20 <= cp < 0x7F:
        return f"U+{cp:04X} '{chr(cp)}'"
    return f"U+{cp:04X}"


def write_cc(out_path, source, fmt, width, height, bpr, glyphs, labels, unicode_map):
    lines = [
        f"// {os.path.basename(out_path)} — generated by tools/gen-font.py from {source}",
        f"// ({fmt}, {width}x{height}); do not edit. Layout: struct Font in kernel/lib/fbcon.h.",
        "#include <lib/fbcon.h>",
        "",
        "namespace klib {",
        "namespace {",
        "",
        f"constexpr uint8_t kGlyphs[{GLYPHS_OUT} * {height * bpr}] = {{",
    ]
    for slot, g in enumerate(glyphs):
        lines.append(f"    // 0x{slot:02x}: {label(labels[slot])}")
        for i in range(0, len(g), 16):
            lines.append("    " + " ".join(f"0x{b:02x}," for b in g[i : i + 16]))
    lines.append("};")
    lines.append("")
    if unicode_map:
        lines.append("constexpr FontMapEntry kUnicodeMap[] = {")
        for cp, slot in unicode_map:
            lines.append(f"    {{0x{cp:04x}, 0x{slot:02x}}},")
        lines.append("};")
        lines.append("")
    lines.append("}  // namespace")
    lines.append("")
    map_ref = f"kUnicodeMap, {len(unicode_map)}" if unicode_map else "nullptr, 0"
    lines.append(
        f"extern const Font kConsoleFont = {{{width}, {height}, {bpr}, {GLYPHS_OUT}, kGlyphs, {map_ref}}};"
    )
    lines.append("")
    lines.append("}  // namespace klib")
    lines.append("")
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(tmp, out_path)  # never leave a half-written file for the build


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, out_path = argv[1], argv[2]
    try:
        with open(src, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        width, height, bpr, glyphs, table = parse_psf(data)
        out, labels, unicode_map, missing = build(width, height, bpr, glyphs, table)
        fmt = "PSF1" if data[:2] == b"\x36\x04" else "PSF2"
        write_cc(out_path, os.path.basename(src), fmt, width, height, bpr, out, labels, unicode_map)
    except (OSError, EOFError, FontError, struct.error, gzip.BadGzipFile) as e:
        print(f"gen-font.py: {src}: {e}", file=sys.stderr)
        return 1
    if missing:
        shown = " ".join(f"U+{cp:04X}" for cp in missing[:16])
        more = " ..." if len(missing) > 16 else ""
        print(f"gen-font.py: {len(missing)} code points not in the font, drawn as '?': {shown}{more}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
