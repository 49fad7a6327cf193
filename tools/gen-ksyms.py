#!/usr/bin/env python3
"""gen-ksyms.py — build the kernel's .ksyms symbol table from a linked ELF.

Usage:
  gen-ksyms.py KERNEL_ELF OUT.S            table of KERNEL_ELF's functions
  gen-ksyms.py --empty OUT.S               valid empty table (first link pass)
  gen-ksyms.py --verify STAGE1_ELF FINAL_ELF
                                           exit 1 if any function moved

The kernel is linked twice: first with an empty table, then with the table
generated from that first link. .ksyms sits after .text and .rodata
(kernel/arch/x86_64/linker.ld), so the second link must not move any code;
--verify proves it. The binary layout is documented in kernel/lib/symbolize.h.

Selection: STT_FUNC symbols, plus named STT_NOTYPE symbols in executable
sections (assembly labels), with an address in the higher half
(>= 0xffffffff80000000). Several symbols at one address are reduced to one
(FUNC over NOTYPE, GLOBAL over WEAK over LOCAL, sized over unsized). Names are
demangled with c++filt (or llvm-cxxfilt) if one is on PATH; otherwise they
stay mangled. Python 3 standard library only; the ELF is parsed here.
"""

import os
import shutil
import struct
import subprocess
import sys

MAGIC = 0x4D59534B  # "KSYM" in little-endian byte order
HEADER_SIZE = 16
ENTRY_SIZE = 16
HIGHER_HALF = 0xFFFFFFFF80000000

SHT_SYMTAB = 2
SHF_EXECINSTR = 0x4
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF
STT_NOTYPE = 0
STT_FUNC = 2
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2


class ElfError(Exception):
    pass


def read_symbols(path):
    """Returns [(address, size, name, type, bind, executable_section)] from .symtab."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise ElfError(f"{path}: not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ElfError(f"{path}: not a little-endian ELF64 file")
    (e_shoff,) = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if e_shoff == 0:
        raise ElfError(f"{path}: no section headers")
    if e_shentsize < 64:
        raise ElfError(f"{path}: bad section header size {e_shentsize}")

    def section(i):
        off = e_shoff + i * e_shentsize
        if off + 64 > len(data):
            raise ElfError(f"{path}: section header {i} out of bounds")
        # name, type, flags, addr, offset, size, link, info, addralign, entsize
        return struct.unpack_from("<IIQQQQIIQQ", data, off)

    if e_shnum == 0:  # extended numbering: the count is in section 0's sh_size
        e_shnum = section(0)[5]
    sections = [section(i) for i in range(e_shnum)]

    def contents(sh):
        off, size = sh[4], sh[5]
        if off + size > len(data):
            raise ElfError(f"{path}: section contents out of bounds")
        return data[off : off + size]

    symtabs = [sh for sh in sections if sh[1] == SHT_SYMTAB]
    if not symtabs:
        raise ElfError(f"{path}: no .symtab (was the kernel stripped?)")
    symtab = symtabs[0]
    if symtab[6] >= len(sections):
        raise ElfError(f"{path}: bad .symtab string table link")
    strtab = contents(sections[symtab[6]])
    syms = contents(symtab)
    entsize = symtab[9] or 24
    out = []
    for off in range(0, len(syms) - 23, entsize):
        st_name, st_info, _st_other, st_shndx, st_value, st_size = struct.unpack_from(
            "<IBBHQQ", syms, off
        )
        end = strtab.find(b"\0", st_name)
        if st_name >= len(strtab) or end < 0:
            raise ElfError(f"{path}: symbol name out of bounds")
        name = strtab[st_name:end].decode("utf-8", "replace")
        executable = (
            st_shndx != SHN_UNDEF
            and st_shndx < SHN_LORESERVE
            and st_shndx < len(sections)
            and bool(sections[st_shndx][2] & SHF_EXECINSTR)
        )
        out.append((st_value, st_size, name, st_info & 0xF, st_info >> 4, executable))
    return out


def function_symbols(path):
    """The symbols that go into the table: [(address, size, name, type, bind)]."""
    result = []
    for address, size, name, typ, bind, executable in read_symbols(path):
        if not name or name.startswith(".L") or address < HIGHER_HALF:
            continue
        if typ == STT_FUNC or (typ == STT_NOTYPE and executable):
            result.append((address, size, name, typ, bind))
    return result


def preference(sym):
    """Sort key among symbols at the same address: smallest wins."""
    _address, size, name, typ, bind = sym
    bind_rank = {STB_GLOBAL: 0, STB_WEAK: 1, STB_LOCAL: 2}.get(bind, 3)
    return (typ != STT_FUNC, bind_rank, size == 0, len(name), name)


def select(symbols):
    """Sorted by address, one symbol per address."""
    best = {}
    for sym in symbols:
        cur = best.get(sym[0])
        if cur is None or preference(sym) < preference(cur):
            best[sym[0]] = sym
    return [best[a] for a in sorted(best)]


def demangle(names):
    """Demangles `names` in one c++filt run; returns them unchanged if unavailable."""
    tool = shutil.which("c++filt") or shutil.which("llvm-cxxfilt")
    if not tool or not names:
        return names
    try:
        proc = subprocess.run(
            [tool],
            input="\n".join(names) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return names
    out = proc.stdout.split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(names):  # should not happen; never mis-assign names
        return names
    return out


def build_table(symbols):
    """Returns (entries [(address, size, name_offset)], strtab bytes)."""
    names = demangle([s[2] for s in symbols])
    strtab = bytearray()
    pool = {}
    entries = []
    for (address, size, _name, _typ, _bind), name in zip(symbols, names):
        raw = name.encode("utf-8").replace(b"\0", b"?")
        if raw not in pool:
            pool[raw] = len(strtab)
            strtab += raw + b"\0"
        entries.append((address, min(size, 0xFFFFFFFF), pool[raw]))
    return entries, bytes(strtab)


def write_asm(out_path, entries, strtab, source):
    strtab_offset = HEADER_SIZE + len(entries) * ENTRY_SIZE
    total = strtab_offset + len(strtab)
    if total > 0xFFFFFFFF:
        raise ElfError("symbol table larger than 4 GiB")
    lines = [
        f"/* {os.path.basename(out_path)} — generated by tools/gen-ksyms.py from {source}; do not edit.",
        " * Layout: kernel/lib/symbolize.h. */",
        '  .section .ksyms, "a"',
        "  .balign 8",
        "  .globl __ksyms_start",
        "  .type __ksyms_start, @object",
        f"  .size __ksyms_start, {total}",
        "__ksyms_start:",
        f"  .long {MAGIC:#010x}, {len(entries)}, {strtab_offset}, {total}",
    ]
    for address, size, name_offset in entries:
        lines.append(f"  .quad {address:#018x}")
        lines.append(f"  .long {size:#x}, {name_offset}")
    for i in range(0, len(strtab), 16):
        lines.append("  .byte " + ", ".join(str(b) for b in strtab[i : i + 16]))
    lines += [
        "  .globl __ksyms_end",
        "__ksyms_end:",
        '  .section .note.GNU-stack, "", @progbits',
        "",
    ]
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(tmp, out_path)  # never leave a half-written file for the build


def verify(stage1, final):
    """Every selected function must have the same address in both links."""
    a = sorted((s[2], s[0]) for s in function_symbols(stage1))
    b = sorted((s[2], s[0]) for s in function_symbols(final))
    if a == b:
        return 0
    sa, sb = set(a), set(b)
    moved = sorted(sa - sb)[:20]
    added = sorted(sb - sa)[:20]
    print(f"gen-ksyms.py: functions differ between {stage1} and {final}:", file=sys.stderr)
    for name, addr in moved:
        print(f"  {stage1}: {addr:#x} {name}", file=sys.stderr)
    for name, addr in added:
        print(f"  {final}: {addr:#x} {name}", file=sys.stderr)
    return 1


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "--empty":
            write_asm(argv[2], [], b"", "nothing (empty table)")
            return 0
        if len(argv) == 4 and argv[1] == "--verify":
            return verify(argv[2], argv[3])
        if len(argv) == 3 and not argv[1].startswith("-"):
            entries, strtab = build_table(select(function_symbols(argv[1])))
            write_asm(argv[2], entries, strtab, os.path.basename(argv[1]))
            return 0
    except (OSError, ElfError, struct.error) as e:
        print(f"gen-ksyms.py: {e}", file=sys.stderr)
        return 1
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
