"""keelqemu — QEMU command lines for Keel and a headless boot runner for tests.

A boot is judged from the serial console: a "KERNEL PANIC" line is a failure
(the rest of the panic report is collected, then QEMU is stopped); QEMU exiting
without the expected final line (a triple fault under -no-reboot, a hang that
hits the timeout) is a failure with the last console lines shown.
"""
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import threading
import time

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def qemu_command(iso, firmware="bios", smp=2, mem="512M", cpu=None, extra=(), vars_dir=None,
                 headless=True, machine_opts="", machine="q35"):
    """The qemu-system-x86_64 argument list for booting `iso` (on `machine`, q35 unless told)."""
    machine = machine + ("," + machine_opts if machine_opts else "")
    cmd = ["qemu-system-x86_64", "-machine", machine, "-accel", "tcg", "-m", str(mem),
           "-smp", str(smp), "-no-reboot", "-cdrom", iso, "-boot", "d",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if cpu:
        cmd += ["-cpu", cpu]
    if firmware == "uefi":
        vars_dir = vars_dir or tempfile.mkdtemp(prefix="keel-ovmf-")
        vars_copy = os.path.join(vars_dir, "OVMF_VARS.fd")
        if not os.path.exists(vars_copy):
            shutil.copyfile(OVMF_VARS, vars_copy)
        cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}"]
    elif firmware != "bios":
        raise ValueError(f"unknown firmware {firmware!r} (bios or uefi)")
    if headless:
        cmd += ["-display", "none", "-vga", "none", "-serial", "stdio", "-monitor", "none"]
    cmd += list(extra)
    return cmd


_iso_lock = threading.Lock()


def make_iso(build, cmdline, modules=(), cache={}, tag=""):
    """Builds (once per command line and tag) a boot image of build/keel.elf
    with `cmdline` and the given boot modules (paths). Images with the same
    command line but other modules need a `tag` of their own: it goes into
    the file name."""
    with _iso_lock:
        return _make_iso(build, cmdline, tuple(modules), cache, tag)


def _make_iso(build, cmdline, modules, cache, tag):
    key = (cmdline, modules, tag)
    if key in cache:
        return cache[key]
    out_dir = os.path.join(build, "test-isos")
    os.makedirs(out_dir, exist_ok=True)
    name = "keel-" + (tag + "-" if tag else "") + ("".join(c if c.isalnum() else "_" for c in cmdline) or "default") + ".iso"
    iso = os.path.join(out_dir, name)
    elf = os.path.join(build, "keel.elf")
    newest = max([os.path.getmtime(elf)] + [os.path.getmtime(m) for m in modules])
    if not os.path.exists(iso) or os.path.getmtime(iso) < newest:
        subprocess.run([os.path.join(ROOT, "tools", "mkiso"), elf, iso, cmdline, *modules], check=True)
    cache[key] = iso
    return iso


class BootResult:
    def __init__(self, lines, exit_code, reason, seconds):
        self.lines = lines            # serial console lines (str)
        self.exit_code = exit_code    # QEMU's exit status, None if it was killed
        self.reason = reason          # "done", "panic", "exited", "timeout"
        self.seconds = seconds

    def tail(self, n=25):
        return "\n".join("    | " + l for l in self.lines[-n:])


def boot(cmd, done=None, timeout=180, on_done=None, script=()):
    """Runs QEMU `cmd`, reading the serial console from its stdout.

    done(line) -> True ends the boot successfully once QEMU exits by itself
    (within 20 s; it is killed otherwise). Panic lines end the boot with
    reason "panic" once QEMU exits (at most 10 s after "System halted.")
    or 30 s after the panic line.
    on_done() runs once when done() first matches (e.g. a monitor command
    that takes a screenshot and quits QEMU).
    script: (regex, text) pairs typed into the serial port in order: each
    text is sent once its regex matches the console output that came after
    the previous match (prompts need no newline). A callable instead of a
    text is called then (it may use the monitor: sendkey, screendump) and
    what it returns is typed. BootResult.script_steps
    says how many steps ran; script_outputs[i] is the console text between
    typing step i and typing step i + 1 (or the end).
    """
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    lines, buf = [], b""
    reason, deadline, finished = None, start + timeout, False
    script = list(script)
    step, transcript = 0, ""
    outputs = []  # outputs[i]: console text after script step i was typed, until the next one
    while True:
        now = time.monotonic()
        if now > deadline:
            if reason is None:
                reason = "timeout"
            break
        events = sel.select(timeout=min(1.0, deadline - now))
        if not events:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        text = strip_ansi(chunk.decode("utf-8", "replace"))
        if outputs:
            outputs[-1] += text
        if step < len(script):
            transcript += text
            while step < len(script):
                m = re.search(script[step][0], transcript)
                if not m:
                    break
                # Whatever followed the match belongs to this step's output.
                if outputs:
                    outputs[-1] = outputs[-1][: len(outputs[-1]) - (len(transcript) - m.end())]
                outputs.append(transcript[m.end():])
                transcript = transcript[m.end():]
                action = script[step][1]
                if callable(action):  # e.g. keys sent through the QEMU monitor; returns text to type
                    action = action()
                try:
                    proc.stdin.write(action.encode())
                    proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    pass
                step += 1
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").rstrip("\r")
            # Strip ANSI escapes the firmware prints on the serial console.
            clean = strip_ansi(line)
            lines.append(clean)
            # A panic: the report (registers, a symbolized backtrace) through
            # a slow emulated UART, then "System halted." and, with
            # `debugexit`, QEMU's exit with status 3. On a loaded host either
            # may take seconds: waiting only 3 s for the report and 0.1 s for
            # the exit once lost the exit status (QEMU was killed first).
            if "KERNEL PANIC" in clean and reason is None:
                reason = "panic"
                deadline = min(deadline, time.monotonic() + 30)
            if reason == "panic" and "System halted." in clean:
                deadline = min(deadline, time.monotonic() + 10)  # QEMU closes its output as it exits
            if reason is None and done is not None and done(clean):
                reason = "done"
                deadline = min(deadline, time.monotonic() + 20)
                if on_done is not None:
                    on_done()
    try:  # QEMU may close its output a moment before it exits
        exit_code = proc.wait(timeout=5 if reason in (None, "done", "panic") else 0.1)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        exit_code = None
    if buf:
        lines.append(strip_ansi(buf.decode("utf-8", "replace")))
    if reason is None:
        reason = "exited"
    if reason == "done" and exit_code is None:
        reason = "hung-after-done"
    result = BootResult(lines, exit_code, reason, time.monotonic() - start)
    result.script_steps = step
    result.script_outputs = outputs
    return result


def strip_ansi(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\x1b":
            i += 1
            if i < len(s) and s[i] == "[":
                i += 1
                while i < len(s) and not ("@" <= s[i] <= "~"):
                    i += 1
            i += 1
            continue
        if c >= " " or c == "\t" or c == "\n":  # (lines are split before; script output keeps them)
            out.append(c)
        i += 1
    return "".join(out)


def monitor_commands(sock_path, commands, timeout=10):
    """Sends commands, one at a time, to a QEMU human monitor on a unix socket.

    Waits for the "(qemu)" prompt after each, so that e.g. a screendump has
    finished before "quit" is sent. Returns the monitor's output.
    """
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    out = b""

    def read_prompt(after):
        nonlocal out
        end = time.monotonic() + timeout
        while b"(qemu)" not in out[after:] and time.monotonic() < end:
            chunk = s.recv(4096)
            if not chunk:
                return
            out += chunk

    try:
        read_prompt(0)
        for c in commands:
            mark = len(out)
            s.sendall(c.encode() + b"\n")
            if c != "quit":
                read_prompt(mark)
            else:  # QEMU closes the monitor as it exits; closing first can lose the command
                end = time.monotonic() + timeout
                while time.monotonic() < end and s.recv(4096):
                    pass
    except OSError:
        pass
    finally:
        s.close()
    return out.decode("utf-8", "replace")


def read_ppm(path):
    """Returns (width, height, rgb bytes) of a binary PPM (P6) as QEMU's screendump writes it."""
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6":
        raise ValueError("not a P6 PPM")
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos + 1:pos + 1 + w * h * 3]


# QEMU's sendkey names for the characters a test may type on the PS/2 keyboard.
_SENDKEY = {" ": "spc", "\n": "ret", "-": "minus", ".": "dot", "/": "slash", ",": "comma", "=": "equal",
            ";": "semicolon", "'": "apostrophe", "$": "shift-4", "(": "shift-9", ")": "shift-0", "*": "shift-8", ">": "shift-dot"}


def sendkey_commands(text):
    """Monitor commands typing `text` on the guest's keyboard: lower-case letters,
    digits, space, "-./,=;'" and "\n" (Enter); upper case, "$()*>" with shift."""
    cmds = []
    for ch in text:
        if ch.isascii() and (ch.islower() or ch.isdigit()):
            cmds.append(f"sendkey {ch}")
        elif ch.isascii() and ch.isupper():
            cmds.append(f"sendkey shift-{ch.lower()}")
        elif ch in _SENDKEY:
            cmds.append(f"sendkey {_SENDKEY[ch]}")
        else:
            raise ValueError(f"sendkey_commands: cannot type {ch!r}")
    return cmds


_font_cache = {}


def console_font(path="/usr/share/consolefonts/Unifont-APL8x16.psf.gz"):
    """(width, height, {glyph bytes: character}) for the printable ASCII glyphs of
    the console font, read with tools/gen-font.py's own parser (the one that
    made the font the kernel and fbcon draw with)."""
    if path in _font_cache:
        return _font_cache[path]
    import gzip
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_font", os.path.join(ROOT, "tools", "gen-font.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    width, height, bpr, glyphs, table = mod.parse_psf(data)
    out, _labels, _map, _missing = mod.build(width, height, bpr, glyphs, table)
    by_bits = {}
    for cp in range(0x20, 0x7F):
        by_bits.setdefault(bytes(out[cp]), chr(cp))
    _font_cache[path] = (width, height, by_bits)
    return _font_cache[path]


def screen_text(ppm_path, font_path=None):
    """Reads a screendump of a text console drawn with the console font from
    (0, 0) back into lines of text: each cell's lit pixels (any channel above
    0x40) are looked up among the font's glyphs; unknown cells read as '?',
    trailing blanks are dropped."""
    width, height, by_bits = console_font(font_path) if font_path else console_font()
    w, h, px = read_ppm(ppm_path)
    bpr = (width + 7) // 8
    lines = []
    for row in range(h // height):
        chars = []
        for col in range(w // width):
            bits = bytearray(height * bpr)
            for y in range(height):
                base = ((row * height + y) * w + col * width) * 3
                for x in range(width):
                    p = base + 3 * x
                    if px[p] > 0x40 or px[p + 1] > 0x40 or px[p + 2] > 0x40:
                        bits[y * bpr + (x >> 3)] |= 0x80 >> (x & 7)
            chars.append(by_bits.get(bytes(bits), "?"))
        lines.append("".join(chars).rstrip())
    return lines
