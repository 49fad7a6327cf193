#!/usr/bin/env python3
"""gen-syscalls.py — generate Keel's syscall ABI from abi/syscalls.toml and abi/errors.toml.

Usage:
  gen-syscalls.py ABI_DIR OUT_DIR [--root DIR] [--check-docs FILE]

Reads ABI_DIR/syscalls.toml and ABI_DIR/errors.toml, checks them, and writes
into OUT_DIR (created if needed):

  kernel side (namespace syscalls):
    syscall_numbers.h   enum class Syscall, kSyscallCount
    syscall_abi.h       types, rights, constants, bit fields and structs
    abi_errors.h        abi_error(ktl::Error) -> syscall result, error_from_abi()
    syscall_dispatch.h  one handler declaration per syscall,
                        `int64_t sys_<name>(<typed args>)`, kSyscallTable,
                        KEEL_SYSCALL_LIST(X) and syscall_dispatch()
  user side (namespace keel, freestanding):
    keel_status.h       enum class Status, status_name(), status_of()
    keel_syscalls.h     the same types and constants, and the stubs
                        keel::sys::<name>(...)
  docs:
    syscalls.md         the reference (the build copies it to docs/syscalls.md)

--root DIR (default ABI_DIR/..): the source tree. If DIR/kernel/object/rights.h
and DIR/lib/ktl/include/ktl/error.h exist, the spec's rights and errors are
checked against them (names, bits, order).
--check-docs FILE: after generating, exit 1 if FILE differs from the
generated syscalls.md (to keep the committed docs/syscalls.md current).

Every problem found is reported as FILE: where: what, and the exit status is 1.
Python 3.11 standard library only (tomllib).
"""

import argparse
import os
import re
import sys
import tomllib

MAX_ARGS = 6
ARG_REGISTERS = ["rdi", "rsi", "rdx", "r10", "r8", "r9"]

# Scalar ABI types: kernel C++ type, user C++ type, bits, signed, ArgType
# enumerator, description for the docs.
TYPES = {
    "handle": ("Handle", "Handle", 32, False, "Handle", "A handle value (32 bits, 0 = kInvalidHandle)."),
    "u32": ("uint32_t", "uint32_t", 32, False, "U32", "Unsigned 32-bit integer."),
    "u64": ("uint64_t", "uint64_t", 64, False, "U64", "Unsigned 64-bit integer."),
    "i64": ("int64_t", "int64_t", 64, True, "I64", "Signed 64-bit integer (two's complement)."),
    "usize": ("size_t", "size_t", 64, False, "USize", "A size or count (64 bits)."),
    "uptr": ("UserAddr", None, 64, False, "UPtr",
             "A user virtual address (64 bits); the kernel reads or writes there only through fault-safe copies."),
    "rights": ("Rights", "Rights", 32, False, "Rights", "A set of rights bits (32 bits); see Rights."),
    "deadline": ("Deadline", "Deadline", 64, False, "Deadline",
                 "Absolute monotonic time in ns; 0 = poll, UINT64_MAX = forever."),
}
SCALAR_SIZES = {name: t[2] // 8 for name, t in TYPES.items()}
POINTEE_SCALARS = {"u8": "uint8_t", "char": "char", "u32": "uint32_t", "u64": "uint64_t", "i64": "int64_t",
                   "handle": "Handle"}
ACCESSES = ("in", "out", "inout", "none")

# The rights kernel/object/rights.h defines, in bit order.
KNOWN_RIGHTS = ["read", "write", "execute", "map", "duplicate", "transfer", "signal", "wait", "manage"]

CXX_KEYWORDS = set("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch template
this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t
while xor xor_eq
""".split())
# Argument names that would shadow what the generated code uses.
RESERVED_ARG_NAMES = {"nr", "a0", "a1", "a2", "a3", "a4", "a5", "rax", "ret"}

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
KCONST = re.compile(r"^k[A-Z][A-Za-z0-9]*$")


class SpecError(Exception):
    pass


class Problems:
    """Collects every problem so that one run reports them all."""

    def __init__(self):
        self.items = []

    def add(self, where, what):
        self.items.append(f"{where}: {what}")

    def check_keys(self, where, table, required, optional=()):
        if not isinstance(table, dict):
            self.add(where, "must be a table")
            return False
        for key in required:
            if key not in table:
                self.add(where, f"missing key '{key}'")
        for key in table:
            if key not in required and key not in optional:
                self.add(where, f"unknown key '{key}'")
        return all(key in table for key in required)


def camel(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def first_sentence(text):
    text = " ".join(text.split())
    m = re.match(r"(.+?\.)(\s|$)", text)
    return m.group(1) if m else text


def one_line(text):
    return " ".join(text.split())


# ---------------------------------------------------------------------------
# Loading and checking.


def load_toml(path):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise SpecError(f"{path}: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: {e}")


def check_errors(doc, p):
    """Returns [{name, code, doc}] from errors.toml, sorted by code."""
    p.check_keys("errors.toml", doc, ["error"])
    errors = []
    names, codes = set(), set()
    for i, e in enumerate(doc.get("error", [])):
        where = f"errors.toml: error[{i}]"
        if not p.check_keys(where, e, ["name", "code", "doc"]):
            continue
        name, code = e["name"], e["code"]
        where = f"errors.toml: error {name}"
        if not isinstance(name, str) or not CAMEL.match(name):
            p.add(where, "name must be CamelCase")
        if name in names:
            p.add(where, "duplicate name")
        names.add(name)
        if not isinstance(code, int) or isinstance(code, bool) or code < 0 or code > 4095:
            p.add(where, "code must be an integer in 0..4095")
        elif code in codes:
            p.add(where, f"duplicate code {code}")
        codes.add(code)
        if (code == 0) != (name == "None"):
            p.add(where, "code 0 is reserved for 'None' (success), and 'None' must have code 0")
        if not isinstance(e["doc"], str) or not e["doc"].strip() or "\n" in e["doc"].strip():
            p.add(where, "doc must be one non-empty line")
        errors.append({"name": name, "code": code, "doc": one_line(str(e["doc"]))})
    if "None" not in names:
        p.add("errors.toml", "no entry for None (code 0)")
    return sorted((e for e in errors if isinstance(e["code"], int)), key=lambda e: e["code"])


def check_against_error_h(path, errors, p):
    with open(path) as f:
        text = f.read()
    m = re.search(r"enum class Error\b[^{]*\{(.*?)\};", text, re.S)
    if not m:
        p.add(path, "cannot find 'enum class Error'")
        return
    body = re.sub(r"//[^\n]*", "", m.group(1))
    enum_names = [re.sub(r"\s*=.*", "", item).strip() for item in body.split(",")]
    enum_names = [n for n in enum_names if n]
    spec_names = [e["name"] for e in errors]
    if enum_names != spec_names:
        missing = [n for n in enum_names if n not in spec_names]
        extra = [n for n in spec_names if n not in enum_names]
        detail = []
        if missing:
            detail.append(f"missing in errors.toml: {', '.join(missing)}")
        if extra:
            detail.append(f"not in ktl::Error: {', '.join(extra)}")
        if not detail:
            detail.append("same names in a different order (codes must follow the enum order)")
        p.add("errors.toml", f"disagrees with {path}: " + "; ".join(detail))


def check_against_rights_h(path, rights, p):
    with open(path) as f:
        text = f.read()
    found = {}
    for m in re.finditer(r"kRight([A-Z][A-Za-z]*)\s*=\s*1u\s*<<\s*(\d+)\s*;", text):
        found[m.group(1).lower()] = int(m.group(2))
    spec = {r["name"]: r["bit"] for r in rights}
    if found != spec:
        p.add("syscalls.toml", f"[[right]] disagrees with {path}: header has {found}, spec has {spec}")


def parse_int_value(value, typ, where, p):
    """An integer constant value: an int or 'max'/'min' of `typ`. Returns (int, symbol or None)."""
    bits, signed = TYPES[typ][2], TYPES[typ][3]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if value == "max":
        return hi, ("INT64_MAX" if signed else "UINT64_MAX" if bits == 64 else "UINT32_MAX")
    if value == "min":
        if not signed:
            return 0, None
        return lo, "INT64_MIN"
    if not isinstance(value, int) or isinstance(value, bool):
        p.add(where, "value must be an integer, \"max\" or \"min\"")
        return 0, None
    if not lo <= value <= hi:
        p.add(where, f"value {value} does not fit in {typ}")
    return value, None


def check_spec(doc, errors, p):
    """Validates syscalls.toml and returns a normalized model (dicts and lists)."""
    p.check_keys("syscalls.toml", doc, ["abi", "right", "object", "syscall"], ["const", "bitfield", "struct"])
    model = {}
    error_names = {e["name"] for e in errors}

    abi = doc.get("abi", {})
    if p.check_keys("[abi]", abi, ["version", "convention"]):
        if not isinstance(abi["version"], int) or abi["version"] < 1:
            p.add("[abi]", "version must be a positive integer")
    model["version"] = abi.get("version", 0)
    model["convention"] = str(abi.get("convention", "")).strip()

    # Rights.
    rights = []
    for i, r in enumerate(doc.get("right", [])):
        where = f"right[{i}]"
        if not p.check_keys(where, r, ["name", "bit", "doc"]):
            continue
        rights.append({"name": r["name"], "bit": r["bit"], "doc": one_line(r["doc"])})
    if [r["name"] for r in rights] != KNOWN_RIGHTS:
        p.add("[[right]]", f"must be exactly {', '.join(KNOWN_RIGHTS)} in this order")
    for i, r in enumerate(rights):
        if r["bit"] != i:
            p.add(f"right {r['name']}", f"bit must be {i} (its position in the list)")
    model["rights"] = rights
    right_names = {r["name"] for r in rights}

    def check_rights_list(where, value):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            p.add(where, "rights must be a list of right names")
            return []
        for v in value:
            if v not in right_names:
                p.add(where, f"unknown right '{v}' (known: {', '.join(KNOWN_RIGHTS)})")
        if len(set(value)) != len(value):
            p.add(where, "a right is named twice")
        return [v for v in KNOWN_RIGHTS if v in value]

    # Object types.
    objects = []
    for i, o in enumerate(doc.get("object", [])):
        where = f"object[{i}]"
        if not p.check_keys(where, o, ["name", "default_rights", "doc"]):
            continue
        where = f"object {o['name']}"
        if not CAMEL.match(o["name"]):
            p.add(where, "name must be CamelCase")
        objects.append({"name": o["name"], "default_rights": check_rights_list(where, o["default_rights"]),
                        "doc": one_line(o["doc"])})
    if len({o["name"] for o in objects}) != len(objects):
        p.add("[[object]]", "duplicate object name")
    model["objects"] = objects
    object_names = {o["name"] for o in objects}

    # Constants.
    consts = []
    const_names = set()
    for i, c in enumerate(doc.get("const", [])):
        where = f"const[{i}]"
        if not p.check_keys(where, c, ["group", "name", "type", "value", "doc"], ["hex"]):
            continue
        where = f"const {c['name']}"
        if not KCONST.match(c["name"]):
            p.add(where, "name must be kCamelCase")
        if c["name"] in const_names:
            p.add(where, "duplicate name")
        const_names.add(c["name"])
        if c["type"] not in TYPES or c["type"] == "uptr":
            p.add(where, f"type must be one of {', '.join(t for t in TYPES if t != 'uptr')}")
            continue
        value, symbol = parse_int_value(c["value"], c["type"], where, p)
        consts.append({"group": c["group"], "name": c["name"], "type": c["type"], "value": value,
                       "symbol": symbol, "hex": bool(c.get("hex", False)), "doc": one_line(c["doc"])})
    model["consts"] = consts
    if not any(c["name"] == "kAbiVersion" and c["value"] == model["version"] for c in consts):
        p.add("[[const]]", "needs kAbiVersion equal to [abi] version")
    const_values = {c["name"]: c["value"] for c in consts}

    type_names = set()  # struct and bitfield names

    # Bit fields.
    bitfields = []
    for i, b in enumerate(doc.get("bitfield", [])):
        where = f"bitfield[{i}]"
        if not p.check_keys(where, b, ["name", "type", "doc", "field"]):
            continue
        where = f"bitfield {b['name']}"
        if not CAMEL.match(b["name"]) or b["name"] in type_names:
            p.add(where, "name must be CamelCase and unique")
        type_names.add(b["name"])
        if b["type"] not in ("u32", "u64"):
            p.add(where, "type must be u32 or u64")
            continue
        width_total = TYPES[b["type"]][2]
        used = 0
        fields = []
        for j, f in enumerate(b["field"]):
            fw = f"{where}: field[{j}]"
            if not p.check_keys(fw, f, ["name", "lsb", "width", "doc"]):
                continue
            if not SNAKE.match(f["name"]) or f["name"] in ("make",) or f["name"] in CXX_KEYWORDS:
                p.add(fw, "name must be snake_case, not 'make' or a C++ keyword")
            lsb, width = f["lsb"], f["width"]
            if not (isinstance(lsb, int) and isinstance(width, int) and width >= 1 and lsb >= 0
                    and lsb + width <= width_total):
                p.add(fw, f"lsb/width must lie inside {width_total} bits")
                continue
            mask = ((1 << width) - 1) << lsb
            if used & mask:
                p.add(fw, "overlaps another field")
            used |= mask
            fields.append({"name": f["name"], "lsb": lsb, "width": width, "doc": one_line(f["doc"])})
        if len({f["name"] for f in fields}) != len(fields):
            p.add(where, "duplicate field name")
        bitfields.append({"name": b["name"], "type": b["type"], "doc": one_line(b["doc"]), "fields": fields})
    model["bitfields"] = bitfields

    # Structures.
    structs = []
    for i, s in enumerate(doc.get("struct", [])):
        where = f"struct[{i}]"
        if not p.check_keys(where, s, ["name", "doc", "field"]):
            continue
        where = f"struct {s['name']}"
        if not CAMEL.match(s["name"]) or s["name"] in type_names:
            p.add(where, "name must be CamelCase and unique")
        type_names.add(s["name"])
        offset, align_max = 0, 1
        fields = []
        for j, f in enumerate(s["field"]):
            fw = f"{where}: field[{j}]"
            if not p.check_keys(fw, f, ["name", "type", "doc"], ["count"]):
                continue
            if not SNAKE.match(f["name"]) or f["name"] in CXX_KEYWORDS:
                p.add(fw, "name must be snake_case and not a C++ keyword")
            if f["type"] not in TYPES or f["type"] == "uptr":
                p.add(fw, f"type must be one of {', '.join(t for t in TYPES if t != 'uptr')}")
                continue
            count, count_name = 1, None
            if "count" in f:
                if isinstance(f["count"], str):
                    count_name = f["count"]
                    if count_name not in const_values:
                        p.add(fw, f"count names unknown constant '{count_name}'")
                        continue
                    count = const_values[count_name]
                elif isinstance(f["count"], int) and not isinstance(f["count"], bool):
                    count = f["count"]
                else:
                    p.add(fw, "count must be an integer or a constant's name")
                    continue
                if count < 1:
                    p.add(fw, "count must be at least 1")
                    continue
            size = SCALAR_SIZES[f["type"]]
            if offset % size:
                p.add(fw, f"would need implicit padding at offset {offset}: add an explicit reserved field")
                offset += size - offset % size
            fields.append({"name": f["name"], "type": f["type"], "count": count, "count_name": count_name,
                           "offset": offset, "doc": one_line(f["doc"])})
            offset += size * count
            align_max = max(align_max, size)
        if offset % align_max:
            p.add(where, "size is not a multiple of its alignment: add an explicit reserved field at the end")
        if len({f["name"] for f in fields}) != len(fields):
            p.add(where, "duplicate field name")
        structs.append({"name": s["name"], "doc": one_line(s["doc"]), "fields": fields, "size": offset})
    model["structs"] = structs
    struct_names = {s["name"] for s in structs}

    # Syscalls.
    syscalls = []
    names, numbers = set(), set()
    for i, sc in enumerate(doc.get("syscall", [])):
        where = f"syscall {sc['name']}" if isinstance(sc, dict) and "name" in sc else f"syscall[{i}]"
        if not p.check_keys(where, sc, ["name", "number", "doc", "errors"], ["arg", "fastpath", "noreturn", "register_message"]):
            continue
        name, number = sc["name"], sc["number"]
        where = f"syscall {name}"
        if not isinstance(name, str) or not SNAKE.match(name):
            p.add(where, "name must be snake_case")
        if name in names:
            p.add(where, "duplicate name")
        names.add(name)
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 1024:
            p.add(where, "number must be an integer in 0..1023")
            number = -1
        elif number in numbers:
            p.add(where, f"duplicate number {number}")
        numbers.add(number)
        for flag in ("fastpath", "noreturn", "register_message"):
            if flag in sc and not isinstance(sc[flag], bool):
                p.add(where, f"{flag} must be true or false")
        args = []
        arg_list = sc.get("arg", [])
        if len(arg_list) > MAX_ARGS:
            p.add(where, f"{len(arg_list)} arguments: at most {MAX_ARGS} fit in registers")
        for j, a in enumerate(arg_list):
            aw = f"{where}: arg[{j}]"
            if not p.check_keys(aw, a, ["name", "type", "doc"],
                                ["unit", "object", "rights", "rights_note", "access", "pointee"]):
                continue
            aname, atype = a["name"], a["type"]
            aw = f"{where}: arg {aname}"
            if not SNAKE.match(aname) or aname in CXX_KEYWORDS or aname in RESERVED_ARG_NAMES:
                p.add(aw, "name must be snake_case, not a C++ keyword or a name the generated code uses")
            if atype not in TYPES:
                p.add(aw, f"unknown type '{atype}' (known: {', '.join(TYPES)})")
                continue
            arg = {"name": aname, "type": atype, "doc": one_line(a["doc"]), "unit": a.get("unit"),
                   "objects": [], "rights": [], "rights_note": a.get("rights_note"), "access": None,
                   "pointee": None}
            if atype == "handle":
                if "rights" not in a:
                    p.add(aw, "a handle argument needs 'rights' (the list it needs; [] for none)")
                arg["rights"] = check_rights_list(aw, a.get("rights", []))
                obj = a.get("object", [])
                obj = [obj] if isinstance(obj, str) else obj
                for o in obj:
                    if o not in object_names:
                        p.add(aw, f"unknown object type '{o}' (known: {', '.join(sorted(object_names))})")
                arg["objects"] = obj
            else:
                for key in ("object", "rights", "rights_note"):
                    if key in a:
                        p.add(aw, f"'{key}' is only for handle arguments")
            if atype == "uptr":
                access = a.get("access")
                if access not in ACCESSES:
                    p.add(aw, f"a uptr needs access = one of {', '.join(ACCESSES)}")
                arg["access"] = access
                if access == "none":
                    if "pointee" in a:
                        p.add(aw, "access = \"none\" takes no pointee")
                else:
                    pointee = a.get("pointee")
                    if pointee not in POINTEE_SCALARS and pointee not in struct_names:
                        p.add(aw, f"a uptr needs pointee = one of {', '.join(POINTEE_SCALARS)} or a struct")
                    arg["pointee"] = pointee
            else:
                for key in ("access", "pointee"):
                    if key in a:
                        p.add(aw, f"'{key}' is only for uptr arguments")
            args.append(arg)
        if len({a["name"] for a in args}) != len(args):
            p.add(where, "duplicate argument name")

        errs = sc["errors"]
        if not isinstance(errs, dict):
            p.add(where, "errors must be a table ErrorName = \"when\"")
            errs = {}
        for ename, when in errs.items():
            if ename not in error_names or ename == "None":
                p.add(where, f"error '{ename}' is not in errors.toml")
            if not isinstance(when, str) or not when.strip():
                p.add(where, f"error '{ename}' needs a non-empty description")
        # Lint: the errors every handle and user pointer can cause must be listed.
        for a in args:
            if a["type"] == "handle":
                needed = ["BadHandle"] + (["WrongType"] if a["objects"] else []) + \
                    (["AccessDenied"] if a["rights"] else [])
                for e in needed:
                    if e not in errs:
                        p.add(where, f"handle argument '{a['name']}' can fail with {e}: list it in errors")
            if a["type"] == "uptr" and a["access"] not in (None, "none") and "Fault" not in errs:
                p.add(where, f"user pointer '{a['name']}' can fail with Fault: list it in errors")
        if sc.get("noreturn") and errs:
            p.add(where, "a noreturn syscall cannot return errors")
        syscalls.append({"name": name, "number": number, "doc": str(sc["doc"]).strip(), "args": args,
                         "errors": [(k, one_line(str(v))) for k, v in errs.items()],
                         "fastpath": bool(sc.get("fastpath", False)), "noreturn": bool(sc.get("noreturn", False)),
                         "register_message": bool(sc.get("register_message", False))})
    if not syscalls:
        p.add("syscalls.toml", "no [[syscall]]")
    syscalls.sort(key=lambda s: s["number"])
    model["syscalls"] = syscalls
    model["count"] = max((s["number"] for s in syscalls), default=-1) + 1
    return model


# ---------------------------------------------------------------------------
# Shared C++ pieces.


def header(filename, purpose, includes):
    lines = [f"// {filename} — GENERATED by tools/gen-syscalls.py from abi/syscalls.toml and",
             "// abi/errors.toml. Do not edit: change the spec and rebuild.", "//"]
    lines += [f"// {line}" if line else "//" for line in purpose]
    lines += ["#pragma once", ""]
    lines += includes
    return lines


def const_literal(c):
    if c["symbol"]:
        return c["symbol"]
    v = c["value"]
    bits, signed = TYPES[c["type"]][2], TYPES[c["type"]][3]
    text = f"0x{v:X}" if c["hex"] and v >= 0 else str(v)
    if signed:
        return text
    return text + ("u" if bits == 32 else "ull")


def const_doc_value(c):
    if c["symbol"]:
        return f"{c['symbol']} ({c['value']})" if c["value"] >= 0 else c["symbol"]
    return f"0x{c['value']:X}" if c["hex"] else str(c["value"])


def struct_field_type(f):
    return TYPES[f["type"]][0]  # identical spelling on both sides (Handle, uint64_t, ...)


def wrap_comment(text, indent, width=110):
    """`text` as // lines of at most `width` columns."""
    prefix = " " * indent + "// "
    words = text.split()
    lines, cur = [], ""
    for w in words:
        if cur and len(prefix) + len(cur) + 1 + len(w) > width:
            lines.append(prefix + cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(prefix + cur)
    return lines


def pack(head, items, tail, cont=4, width=110, sep=", "):
    """head + items joined by `sep` + tail, broken greedily into lines of at most `width`
    columns, continuation lines indented by `cont` spaces (as clang-format would)."""
    one = head + sep.join(items) + tail
    if len(one) <= width or not items:
        return [one]
    lines, cur = [], head
    for i, item in enumerate(items):
        piece = item + (sep.rstrip() if i + 1 < len(items) else tail)
        glue = "" if cur == head else " "
        if cur != head and len(cur) + len(glue) + len(piece) > width:
            lines.append(cur)
            cur = " " * cont + piece
        else:
            cur = cur + glue + piece
    lines.append(cur)
    return lines


def decl_with_doc(decl, doc, indent=0, width=110):
    """`decl` with `doc` as a trailing comment if it fits, else as comment lines above."""
    line = " " * indent + decl
    if len(line) + 5 + len(doc) <= width:
        return [f"{line}  // {doc}"]
    return wrap_comment(doc, indent, width) + [line]


def abi_types_block(model, side):
    """Aliases, rights, default rights, constants, bit fields and structs (both sides)."""
    out = []
    out += ["// Argument types (docs/syscalls.md, Types)."]
    out += ["using Handle = uint32_t;    // a handle value; 0 = kInvalidHandle",
            "using Rights = uint32_t;    // a set of kRight* bits",
            "using Deadline = uint64_t;  // absolute monotonic ns; kDeadlinePoll, kDeadlineForever"]
    if side == "kernel":
        out += ["using UserAddr = uint64_t;  // a user virtual address: access only through x86::copy_{from,to}_user"]
    out += ["", "// Rights."]
    for r in model["rights"]:
        out += decl_with_doc(f"inline constexpr Rights kRight{camel(r['name'])} = 1u << {r['bit']};", r["doc"])
    out += [f"inline constexpr Rights kRightAll = (1u << {len(model['rights'])}) - 1;", "",
            "// The rights of the handle each object's creating syscall returns."]
    for o in model["objects"]:
        expr = " | ".join(f"kRight{camel(r)}" for r in o["default_rights"]) or "0"
        out += pack(f"inline constexpr Rights k{o['name']}DefaultRights = ", expr.split(" | "), ";", sep=" | ")
    group = None
    for c in model["consts"]:
        if c["group"] != group:
            group = c["group"]
            out += ["", f"// {group}."]
        ctype = TYPES[c["type"]][0] if side == "kernel" else TYPES[c["type"]][1]
        out += wrap_comment(c["doc"], 0)
        out += [f"inline constexpr {ctype} {c['name']} = {const_literal(c)};"]
    for b in model["bitfields"]:
        t = TYPES[b["type"]][0]
        out += [""] + wrap_comment(b["doc"], 0) + [f"struct {b['name']} {{"]
        for f in b["fields"]:
            ftype = "uint32_t" if f["width"] <= 32 else "uint64_t"
            mask = (1 << f["width"]) - 1
            out += wrap_comment(f"{f['name']}: bits {f['lsb']}..{f['lsb'] + f['width'] - 1}. {f['doc']}", 2)
            out += [f"  static constexpr unsigned k{camel(f['name'])}Shift = {f['lsb']};",
                    f"  static constexpr {t} k{camel(f['name'])}Mask = 0x{mask:X}u;",
                    f"  static constexpr {ftype} {f['name']}({t} bits) {{",
                    f"    return static_cast<{ftype}>((bits >> {f['lsb']}) & 0x{mask:X}u);",
                    "  }"]
        params = ", ".join(f"{t} {f['name']}" for f in b["fields"])
        terms = [f"(({f['name']} & 0x{(1 << f['width']) - 1:X}u) << {f['lsb']})" for f in b["fields"]]
        out += ["  // Packs the fields; each is masked to its width.",
                f"  static constexpr {t} make({params}) {{"]
        out += pack("    return ", [" | ".join(terms)], ";") if len(" | ".join(terms)) < 90 else \
            ["    return " + terms[0]] + [f"           | {t_}" for t_ in terms[1:-1]] + [f"           | {terms[-1]};"]
        out += ["  }", "};"]
    for s in model["structs"]:
        out += [""] + wrap_comment(s["doc"], 0) + [f"struct {s['name']} {{"]
        for f in s["fields"]:
            arr = f"[{f['count_name'] or f['count']}]" if f["count"] > 1 or f["count_name"] else ""
            out += decl_with_doc(f"{struct_field_type(f)} {f['name']}{arr};", f["doc"], 2)
        out += ["};", f"static_assert(sizeof({s['name']}) == {s['size']}, \"ABI layout\");"]
        for f in s["fields"]:
            out += [f"static_assert(offsetof({s['name']}, {f['name']}) == {f['offset']}, \"ABI layout\");"]
    return out


# ---------------------------------------------------------------------------
# Kernel headers.


def gen_syscall_numbers(model):
    out = header("syscall_numbers.h", ["Keel's syscall numbers (the value in rax). Stable: numbers are never reused."],
                 ["#include <cstdint>", ""])
    out += ["namespace syscalls {", "", "enum class Syscall : uint64_t {"]
    for s in model["syscalls"]:
        out += [f"  {camel(s['name'])} = {s['number']},"]
    out += ["};", "", "// One more than the highest syscall number: the size of kSyscallTable.",
            f"inline constexpr uint64_t kSyscallCount = {model['count']};", "", "}  // namespace syscalls", ""]
    return "\n".join(out)


def gen_syscall_abi(model):
    out = header("syscall_abi.h",
                 ["The kernel's view of the types, rights, constants and structures of Keel's syscall",
                  "ABI (the user side has the same in keel_syscalls.h, namespace keel)."],
                 ["#include <cstddef>", "#include <cstdint>", ""])
    out += ["namespace syscalls {", ""]
    out += abi_types_block(model, "kernel")
    out += ["", "}  // namespace syscalls", ""]
    return "\n".join(out)


def gen_abi_errors(model, errors):
    out = header("abi_errors.h",
                 ["ktl::Error <-> syscall results. Errors are ktl::Error inside Keel and become the",
                  "ABI codes of abi/errors.toml only at the syscall boundary. A syscall returns 0 on",
                  "success or -code. Every ktl::Error must have a code: a missing case is a -Wswitch",
                  "error."],
                 ["#include <ktl/error.h>", "", "#include <cstdint>", ""])
    unsupported = next(e["code"] for e in errors if e["name"] == "Unsupported")
    out += ["namespace syscalls {", "",
            "// What a syscall returns for `e`: 0 for Error::None, else the negative ABI code.",
            "constexpr int64_t abi_error(ktl::Error e) {", "  switch (e) {"]
    for e in errors:
        out += [f"    case ktl::Error::{e['name']}: return {-e['code']};"]
    out += ["  }", f"  return {-unsupported};  // not an enumerator: Unsupported", "}", "",
            "// The ktl::Error a syscall result means: None for results >= 0, Unsupported for",
            "// negative values that are no ABI code.",
            "constexpr ktl::Error error_from_abi(int64_t result) {",
            "  if (result >= 0) return ktl::Error::None;", "  switch (result) {"]
    for e in errors:
        if e["code"]:
            out += [f"    case {-e['code']}: return ktl::Error::{e['name']};"]
    out += ["    default: return ktl::Error::Unsupported;", "  }", "}", "", "}  // namespace syscalls", ""]
    return "\n".join(out)


def kernel_params(s):
    return ", ".join(f"{TYPES[a['type']][0]} {a['name']}" for a in s["args"])


def arg_summary(a):
    if a["type"] == "handle":
        obj = "|".join(a["objects"]) or "any"
        rights = ",".join(a["rights"])
        return f"{a['name']}: {obj}" + (f" [{rights}]" if rights else "")
    return a["name"]


def gen_syscall_dispatch(model):
    out = header("syscall_dispatch.h",
                 ["The kernel side of every syscall: the handler declarations (defined by hand in",
                  "kernel/syscalls/*.cc), kSyscallTable for tracing, KEEL_SYSCALL_LIST and",
                  "syscall_dispatch(), which decodes the argument registers into the declared types",
                  "and calls the handler. The calling convention is in docs/syscalls.md."],
                 ['#include "abi_errors.h"', '#include "syscall_abi.h"', '#include "syscall_numbers.h"', "",
                  "#include <object/rights.h>", "", "#include <cstddef>", "#include <cstdint>", ""])
    out += ["namespace syscalls {", "",
            "// The kernel's rights are the ABI's.",
            ]
    for r in model["rights"]:
        n = camel(r["name"])
        out += [f"static_assert(kRight{n} == object::kRight{n});"]
    out += ["static_assert(kRightAll == object::kRightAll);", "",
            f"inline constexpr size_t kMaxSyscallArgs = {MAX_ARGS};", "",
            "// An argument's ABI type, for tracing and tests (docs/syscalls.md, Types).",
            "enum class ArgType : uint8_t { None, " + ", ".join(t[4] for t in TYPES.values()) + " };", "",
            "struct SyscallInfo {",
            "  const char* name;  // nullptr: no syscall has this number",
            "  uint8_t nargs;",
            "  bool fastpath;  // has a register-only IPC fast path",
            "  bool noreturn;  // never returns to the caller",
            "  ArgType args[kMaxSyscallArgs];",
            "  const char* arg_names[kMaxSyscallArgs];",
            "};", "",
            "// Indexed by syscall number.",
            "inline constexpr SyscallInfo kSyscallTable[kSyscallCount] = {"]
    by_number = {s["number"]: s for s in model["syscalls"]}
    for n in range(model["count"]):
        s = by_number.get(n)
        if not s:
            out += ["    {nullptr, 0, false, false, {}, {}},"]
            continue
        types = ", ".join(f"ArgType::{TYPES[a['type']][4]}" for a in s["args"])
        anames = ", ".join(f'"{a["name"]}"' for a in s["args"])
        row = (f'    {{"{s["name"]}", {len(s["args"])}, {str(s["fastpath"]).lower()}, '
               f'{str(s["noreturn"]).lower()}, {{{types}}}, {{{anames}}}}},')
        if len(row) <= 110:
            out += [row]
        else:
            out += [f'    {{"{s["name"]}", {len(s["args"])}, {str(s["fastpath"]).lower()}, '
                    f'{str(s["noreturn"]).lower()},']
            out += pack("     {", [f"ArgType::{TYPES[a['type']][4]}" for a in s["args"]], "},", cont=6)
            out += pack("     {", [f'"{a["name"]}"' for a in s["args"]], "}},", cont=6)
    out += ["};", "",
            "// The handlers, one per syscall. Each decodes and checks everything (handles, rights,",
            "// user memory) before it changes anything, and returns 0 or abi_error(e). Handlers of",
            "// noreturn syscalls may return: the result is discarded, the thread never gets back to",
            "// user mode.", ""]
    for s in model["syscalls"]:
        sig = ", ".join(arg_summary(a) for a in s["args"])
        out += wrap_comment(f"{s['number']} {s['name']}({sig}){' [fast path]' if s['fastpath'] else ''}"
                            f"{' [noreturn]' if s['noreturn'] else ''}", 0)
        out += wrap_comment(first_sentence(s["doc"]), 0)
        if s["errors"]:
            out += wrap_comment("Errors: " + ", ".join(e for e, _ in s["errors"]) + ".", 0)
        out += pack(f"int64_t sys_{s['name']}(", kernel_params(s).split(", ") if s["args"] else [], ");") + [""]
    out += ["// X(number, name, (typed parameters), (argument names)) for every syscall.",
            "#define KEEL_SYSCALL_LIST(X) \\"]
    for s in model["syscalls"]:
        names = ", ".join(a["name"] for a in s["args"])
        line = f"  X({s['number']}, {s['name']}, ({kernel_params(s)}), ({names})) \\"
        if len(line) <= 110:
            out += [line]
        else:
            out += [f"  X({s['number']}, {s['name']}, ({kernel_params(s)}), \\", f"    ({names})) \\"]
    out += ["  /* end */", ""]
    out += ["// Decodes the syscall registers (rax = nr; rdi, rsi, rdx, r10, r8, r9 = a0..a5) and calls",
            "// the handler. Returns its result; -Unsupported for a number no syscall has;",
            "// -InvalidArgument, without calling the handler, if a 32-bit argument (handle, u32,",
            "// rights) has any of bits 32..63 set. Always inlined: in the kernel's syscall entry",
            "// each case becomes a tail jump to its handler.",
            ]
    out += pack("[[gnu::always_inline]] inline int64_t syscall_dispatch(",
                ["uint64_t nr"] + [f"[[maybe_unused]] uint64_t a{i}" for i in range(MAX_ARGS)], ") {")
    out += ["  switch (nr) {"]
    for s in model["syscalls"]:
        out += [f"    case {s['number']}:  // {s['name']}"]
        narrow = [f"a{i}" for i, a in enumerate(s["args"]) if TYPES[a["type"]][2] == 32]
        if narrow:
            expr = narrow[0] if len(narrow) == 1 else "(" + " | ".join(narrow) + ")"
            out += [f"      if (({expr} >> 32) != 0) return abi_error(ktl::Error::InvalidArgument);"]
        conv = []
        for i, a in enumerate(s["args"]):
            ktype = TYPES[a["type"]][0]
            conv.append(f"a{i}" if ktype in ("uint64_t", "UserAddr", "Deadline") else
                        f"static_cast<{ktype}>(a{i})")
        out += pack(f"      return sys_{s['name']}(", conv, ");", cont=10)
    out += ["    default:", "      return abi_error(ktl::Error::Unsupported);", "  }", "}", "",
            "}  // namespace syscalls", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# User headers.


def gen_keel_status(errors):
    out = header("keel_status.h",
                 ["What a Keel syscall returned, for native user space: keel::Status has one",
                  "enumerator per ABI error code (abi/errors.toml) and Ok for success. Freestanding."],
                 ["#include <stdint.h>", ""])
    out += ["namespace keel {", "", "enum class Status : int64_t {"]
    for e in errors:
        name = "Ok" if e["code"] == 0 else e["name"]
        out += decl_with_doc(f"{name} = {e['code']},", e["doc"], 2)
    out += ["};", "", "// A stable name for `s` (\"Ok\", \"NoMemory\", ...); \"Unknown\" for other values.",
            "constexpr const char* status_name(Status s) {", "  switch (s) {"]
    for e in errors:
        name = "Ok" if e["code"] == 0 else e["name"]
        out += [f"    case Status::{name}: return \"{name}\";"]
    out += ["  }", "  return \"Unknown\";", "}", "",
            "// The Status a syscall result means: Ok for results >= 0, else Status(-result).",
            "constexpr Status status_of(int64_t result) {",
            "  return result >= 0 ? Status::Ok : static_cast<Status>(0 - static_cast<uint64_t>(result));",
            "}", "", "}  // namespace keel", ""]
    return "\n".join(out)


def user_param_type(a):
    if a["type"] != "uptr":
        return TYPES[a["type"]][1]
    if a["access"] == "none":
        return "uintptr_t"
    pointee = a["pointee"]
    const = "const " if a["access"] == "in" else ""
    if pointee == "u8":
        return f"{const}void*"
    return f"{const}{POINTEE_SCALARS.get(pointee, pointee)}*"


def user_params(s):
    return ", ".join(f"{user_param_type(a)} {a['name']}" for a in s["args"])


def user_to_reg(a):
    t = user_param_type(a)
    if t.endswith("*"):
        return f"reinterpret_cast<uint64_t>({a['name']})"
    if t in ("uint64_t", "Deadline"):
        return a["name"]
    return f"static_cast<uint64_t>({a['name']})"


def register_message_stub(s):
    """The stub of a register-message IPC syscall (endpoint, msg, tag, w0, w1, w2 in; status in rax,
    the received tag, w0..w2 in rdx r10 r8 r9 and the badge in rsi out): it takes the message
    like its memory twin, loads the registers from *msg and stores the received ones back into it
    when a message arrived (status 0, or NoSpace: the words came, the handles did not)."""
    if [a["name"] for a in s["args"]] != ["endpoint", "msg", "tag", "w0", "w1", "w2"]:
        raise SystemExit(f"syscall {s['name']}: register_message needs the arguments endpoint, msg, tag, w0, w1, w2")
    return [
        f"[[gnu::always_inline]] inline int64_t {s['name']}(Handle endpoint, IpcMessage* msg) {{",
        f"  uint64_t rax = {s['number']}, rdi = endpoint, rsi = reinterpret_cast<uint64_t>(msg), rdx = msg->tag;",
        "  register uint64_t r10 asm(\"r10\") = msg->words[0];",
        "  register uint64_t r8 asm(\"r8\") = msg->words[1];",
        "  register uint64_t r9 asm(\"r9\") = msg->words[2];",
        "  asm volatile(\"syscall\"",
        "               : \"+a\"(rax), \"+D\"(rdi), \"+S\"(rsi), \"+d\"(rdx), \"+r\"(r10), \"+r\"(r8), \"+r\"(r9)",
        "               :",
        "               : \"rcx\", \"r11\", \"memory\");",
        "  if (rax == 0 || rax == static_cast<uint64_t>(-static_cast<int64_t>(Status::NoSpace))) {",
        "    msg->tag = rdx;",
        "    msg->words[0] = r10;",
        "    msg->words[1] = r8;",
        "    msg->words[2] = r9;",
        "    msg->badge = rsi;",
        "  }",
        "  return static_cast<int64_t>(rax);",
        "}",
        "",
    ]


def gen_keel_syscalls(model):
    out = header("keel_syscalls.h",
                 ["Native user space's side of Keel's syscall ABI: the types, rights, constants and",
                  "structures (namespace keel) and one inline stub per syscall, keel::sys::<name>(),",
                  "which returns 0 or -code (keel::status_of() makes a Status of it). Freestanding:",
                  "needs only the compiler's <stddef.h> and <stdint.h>. Reference: docs/syscalls.md."],
                 ['#include "keel_status.h"', "", "#include <stddef.h>", "#include <stdint.h>", ""])
    out += ["namespace keel {", ""]
    out += abi_types_block(model, "user")
    out += ["", "namespace sys {", "", "enum class Syscall : uint64_t {"]
    for s in model["syscalls"]:
        out += [f"  {camel(s['name'])} = {s['number']},"]
    out += ["};", f"inline constexpr uint64_t kSyscallCount = {model['count']};", "",
            "namespace detail {", "",
            "// The syscall instruction with n arguments (docs/syscalls.md, Calling convention): rax =",
            "// number and result, arguments in rdi rsi rdx r10 r8 r9, which the kernel may change;",
            "// rcx and r11 are overwritten by the instruction; the kernel writes memory."]
    regs_c = ['"+D"', '"+S"', '"+d"']
    for n in range(MAX_ARGS + 1):
        params = ["uint64_t nr"] + [f"uint64_t a{i}" for i in range(n)]
        out += pack(f"[[gnu::always_inline]] inline int64_t syscall{n}(", params, ") {") + ["  uint64_t rax = nr;"]
        outs = ['"+a"(rax)']
        clobbers = ['"rcx"', '"r11"']
        for i in range(MAX_ARGS):
            reg = ARG_REGISTERS[i]
            if i < n:
                if i < 3:
                    outs.append(f"{regs_c[i]}(a{i})")
                else:
                    out += [f"  register uint64_t {reg} asm(\"{reg}\") = a{i};"]
                    outs.append(f'"+r"({reg})')
            else:
                clobbers.append(f'"{reg}"')
        clobbers.append('"memory"')
        out += ["  asm volatile(\"syscall\"", f"               : {', '.join(outs)}", "               :",
                f"               : {', '.join(clobbers)});",
                "  return static_cast<int64_t>(rax);", "}", ""]
    out += ["}  // namespace detail", ""]
    for s in model["syscalls"]:
        out += [f"// {s['number']} {s['name']}{' (fast path)' if s['fastpath'] else ''}: "
                f"docs/syscalls.md#{s['name']}"]
        out += wrap_comment(first_sentence(s["doc"]), 0)
        regs = [str(s["number"])] + [user_to_reg(a) for a in s["args"]]
        params = [f"{user_param_type(a)} {a['name']}" for a in s["args"]]
        if s["register_message"]:
            out += register_message_stub(s)
            continue
        if s["noreturn"]:
            out += pack(f"[[noreturn, gnu::always_inline]] inline void {s['name']}(", params, ") {")
            out += pack(f"  detail::syscall{len(s['args'])}(", regs, ");", cont=6)
            out += ["  __builtin_unreachable();", "}", ""]
        else:
            out += pack(f"[[gnu::always_inline]] inline int64_t {s['name']}(", params, ") {")
            out += pack(f"  return detail::syscall{len(s['args'])}(", regs, ");", cont=6) + ["}", ""]
    out += ["}  // namespace sys", "}  // namespace keel", "",
            "// X(number, name, nargs) for every stub keel::sys::<name>.",
            "#define KEEL_USER_SYSCALL_LIST(X) \\"]
    out += [f"  X({s['number']}, {s['name']}, {len(s['args'])}) \\" for s in model["syscalls"]
            if not s["register_message"]]
    out += ["  /* end */", "",
            "// X(number, name) for the register-message stubs keel::sys::<name>(Handle, IpcMessage*).",
            "#define KEEL_USER_REGISTER_MESSAGE_LIST(X) \\"]
    out += [f"  X({s['number']}, {s['name']}) \\" for s in model["syscalls"] if s["register_message"]]
    out += ["  /* end */", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Documentation.


def md_escape_cell(text):
    return text.replace("|", "\\|")


def type_label(a):
    if a["type"] == "handle":
        obj = " or ".join(a["objects"]) if a["objects"] else "any object"
        return f"handle ({obj})"
    if a["type"] == "uptr":
        if a["access"] == "none":
            return "uptr (address only)"
        return f"uptr ({a['access']}: {a['pointee']})"
    return a["type"]


def narrow_args(s):
    return [a["name"] for a in s["args"] if TYPES[a["type"]][2] == 32]


def gen_docs(model, errors):
    o = ["# Keel system calls", "",
         "<!-- GENERATED by tools/gen-syscalls.py from abi/syscalls.toml and abi/errors.toml. "
         "Do not edit: change the spec and rebuild. -->", "",
         f"ABI version {model['version']}. This reference is generated from the one machine-readable "
         "definition of the syscalls, `abi/syscalls.toml` (with the error codes in `abi/errors.toml`), "
         "by `tools/gen-syscalls.py`, which also generates the kernel's dispatch (`syscall_dispatch.h`) "
         "and the user stubs (`keel_syscalls.h`).", "",
         "- [Calling convention](#calling-convention)", "- [Types](#types)", "- [Rights](#rights)",
         "- [Object types](#object-types)", "- [Error codes](#error-codes)", "- [Constants](#constants)",
         "- [Structures](#structures)", "- [Syscall index](#syscall-index)", "- [Syscalls](#syscalls)", "",
         "## Calling convention", "", model["convention"], "",
         "## Types", "", "Argument types in the spec, their C++ types in the kernel handlers "
         "(`syscalls::sys_<name>`) and in the user stubs (`keel::sys::<name>`).", "",
         "| type | kernel | user | meaning |", "| --- | --- | --- | --- |"]
    for name, t in TYPES.items():
        user = t[1] or "`T*` / `const T*` per pointee (`void*` for bytes), `uintptr_t` for a bare address"
        user = f"`{user}`" if t[1] else user
        o += [f"| `{name}` | `{t[0]}` | {user} | {t[5]} |"]
    o += ["", "`Handle`, `Rights` and `Deadline` are `uint32_t`, `uint32_t` and `uint64_t`; "
          "the kernel's `UserAddr` is `uint64_t`.", "",
          "## Rights", "", "A handle's rights are a bit set (`kernel/object/rights.h`; `keel::kRight*` "
          "in user space). Rights can only be removed: duplicate, mint, replace and transfer keep a subset.",
          "", "| right | bit | constant | what it allows |", "| --- | --- | --- | --- |"]
    for r in model["rights"]:
        o += [f"| `{r['name']}` | {r['bit']} | `kRight{camel(r['name'])}` | {r['doc']} |"]
    o += ["", "## Object types", "",
          "The objects handles name, and the rights of the handle returned by the syscall that creates one "
          "(also `k<Type>DefaultRights`).", "", "| object | default rights | what it is |", "| --- | --- | --- |"]
    for ob in model["objects"]:
        o += [f"| `{ob['name']}` | {', '.join(ob['default_rights'])} | {md_escape_cell(ob['doc'])} |"]
    o += ["", "## Error codes", "",
          "A failed syscall returns the negative of its code (`keel::Status` in user space, "
          "`syscalls::abi_error(ktl::Error)` in the kernel). The codes are stable.", "",
          "| code | name | meaning |", "| --- | --- | --- |"]
    for e in errors:
        name = "Ok (None)" if e["code"] == 0 else e["name"]
        o += [f"| {e['code']} | `{name}` | {md_escape_cell(e['doc'])} |"]
    o += ["", "## Constants", ""]
    group = None
    for c in model["consts"]:
        if c["group"] != group:
            if group is not None:
                o += [""]
            group = c["group"]
            o += [f"### {group}", "", "| name | type | value | meaning |", "| --- | --- | --- | --- |"]
        o += [f"| `{c['name']}` | {c['type']} | `{const_doc_value(c)}` | {md_escape_cell(c['doc'])} |"]
    o += ["", "## Structures", ""]
    for b in model["bitfields"]:
        o += [f"### {b['name']} ({b['type']})", "", b["doc"], "", "| bits | field | meaning |", "| --- | --- | --- |"]
        for f in sorted(b["fields"], key=lambda f: -f["lsb"]):
            o += [f"| {f['lsb'] + f['width'] - 1}..{f['lsb']} | `{f['name']}` | {md_escape_cell(f['doc'])} |"]
        o += [""]
    for s in model["structs"]:
        o += [f"### {s['name']} ({s['size']} bytes)", "", s["doc"], "", "```cpp", f"struct {s['name']} {{"]
        for f in s["fields"]:
            arr = f"[{f['count_name'] or f['count']}]" if f["count"] > 1 or f["count_name"] else ""
            o += [f"  {struct_field_type(f)} {f['name']}{arr};"]
        o += ["};", "```", "", "| offset | field | type | meaning |", "| --- | --- | --- | --- |"]
        for f in s["fields"]:
            t = f["type"] + (f"[{f['count']}]" if f["count"] > 1 or f["count_name"] else "")
            o += [f"| {f['offset']} | `{f['name']}` | {t} | {md_escape_cell(f['doc'])} |"]
        o += [""]
    o += ["## Syscall index", "", "| nr | syscall | arguments | what it does |", "| --- | --- | --- | --- |"]
    for s in model["syscalls"]:
        notes = "; ".join(n for n, on in (("fast path", s["fastpath"]), ("does not return", s["noreturn"])) if on)
        args = ", ".join(a["name"] for a in s["args"])
        what = md_escape_cell(first_sentence(s["doc"])) + (f" *({notes})*" if notes else "")
        o += [f"| {s['number']} | [`{s['name']}`](#{s['name']}) | {args} | {what} |"]
    o += ["", "## Syscalls", ""]
    for s in model["syscalls"]:
        title = f"{s['number']} · {s['name']}" + (" (fast path)" if s["fastpath"] else "")
        o += [f'<a id="{s["name"]}"></a>', f"### {title}", "", "```cpp"]
        ret = "[[noreturn]] void" if s["noreturn"] else "int64_t"
        uparams = "Handle endpoint, IpcMessage* msg" if s["register_message"] else user_params(s)
        o += [f"{ret} keel::sys::{s['name']}({uparams});"]
        o += [f"int64_t syscalls::sys_{s['name']}({kernel_params(s)});  // kernel", "```", "", s["doc"], ""]
        if s["args"]:
            o += ["| # | reg | argument | type | unit | meaning |", "| --- | --- | --- | --- | --- | --- |"]
            for i, a in enumerate(s["args"]):
                unit = a["unit"] or ("ns" if a["type"] == "deadline" else "")
                o += [f"| {i + 1} | `{ARG_REGISTERS[i]}` | `{a['name']}` | {type_label(a)} | {unit} | "
                      f"{md_escape_cell(a['doc'])} |"]
            o += [""]
        else:
            o += ["No arguments.", ""]
        handles = [a for a in s["args"] if a["type"] == "handle"]
        if handles:
            parts = []
            for a in handles:
                need = ", ".join(f"`{r}`" for r in a["rights"]) or "no right"
                if a["rights_note"]:
                    need += f", {a['rights_note']}"
                parts.append(f"`{a['name']}`: {need}")
            if len(parts) == 1:
                o += [f"**Rights:** {parts[0]}.", ""]
            else:
                o += ["**Rights:**", ""] + [f"- {part}." for part in parts] + [""]
        else:
            o += ["**Rights:** needs no handle.", ""]
        if s["noreturn"]:
            o += ["**Returns:** never.", ""]
            continue
        o += ["**Returns:** 0 on success, or one of:", ""]
        narrow = narrow_args(s)
        narrow_text = ("a 32-bit argument (" + ", ".join(f"`{n}`" for n in narrow) +
                       ") has any of bits 32..63 set (checked by the dispatcher, before the handler runs).")
        listed = False
        for ename, when in s["errors"]:
            if ename == "InvalidArgument" and narrow:
                when = f"{when} Also: {narrow_text}"
                listed = True
            o += [f"- `{ename}`: {when}"]
        if narrow and not listed:
            o += [f"- `InvalidArgument`: {narrow_text[0].upper()}{narrow_text[1:]}"]
        o += [""]
    return "\n".join(o).rstrip() + "\n"


# ---------------------------------------------------------------------------


def main(argv):
    ap = argparse.ArgumentParser(description="Generate Keel's syscall ABI from abi/*.toml.")
    ap.add_argument("abi_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--root", help="source tree for cross-checks (default: ABI_DIR/..)")
    ap.add_argument("--check-docs", metavar="FILE", help="exit 1 if FILE differs from the generated syscalls.md")
    args = ap.parse_args(argv)

    root = args.root or os.path.join(args.abi_dir, os.pardir)
    p = Problems()
    try:
        errors_doc = load_toml(os.path.join(args.abi_dir, "errors.toml"))
        spec_doc = load_toml(os.path.join(args.abi_dir, "syscalls.toml"))
    except SpecError as e:
        print(f"gen-syscalls: {e}", file=sys.stderr)
        return 1
    errors = check_errors(errors_doc, p)
    error_h = os.path.join(root, "lib/ktl/include/ktl/error.h")
    if os.path.exists(error_h):
        check_against_error_h(error_h, errors, p)
    if not any(e["name"] == "Unsupported" for e in errors):
        p.add("errors.toml", "needs Unsupported (the result of an unknown syscall number)")
    if not any(e["name"] == "InvalidArgument" for e in errors):
        p.add("errors.toml", "needs InvalidArgument (the result of a bad 32-bit argument)")
    model = check_spec(spec_doc, errors, p)
    rights_h = os.path.join(root, "kernel/object/rights.h")
    if os.path.exists(rights_h):
        check_against_rights_h(rights_h, model["rights"], p)
    if p.items:
        for item in p.items:
            print(f"gen-syscalls: {item}", file=sys.stderr)
        print(f"gen-syscalls: {len(p.items)} problem(s); nothing generated", file=sys.stderr)
        return 1

    outputs = {
        "syscall_numbers.h": gen_syscall_numbers(model),
        "syscall_abi.h": gen_syscall_abi(model),
        "abi_errors.h": gen_abi_errors(model, errors),
        "syscall_dispatch.h": gen_syscall_dispatch(model),
        "keel_status.h": gen_keel_status(errors),
        "keel_syscalls.h": gen_keel_syscalls(model),
        "syscalls.md": gen_docs(model, errors),
    }
    os.makedirs(args.out_dir, exist_ok=True)
    for name, text in outputs.items():
        path = os.path.join(args.out_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    if args.check_docs:
        try:
            with open(args.check_docs) as f:
                current = f.read()
        except OSError:
            current = None
        if current != outputs["syscalls.md"]:
            print(f"gen-syscalls: {args.check_docs} is out of date: copy {os.path.join(args.out_dir, 'syscalls.md')} "
                  "over it", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
