#!/usr/bin/python3
"""The man pages document exactly the options the binary has.

usage: man_test.py REGRELAY MAN_SOURCE_DIR

Discovers the commands from `regrelay --help` ("commands:" section) and each command's options
from `regrelay COMMAND --help` (boost's option lines: two spaces, then "-x [ --long ]" or
"--long"), renders docs/man/*.scd with scdoc, and checks:

- regrelay(8): each command has a section named after it (RELAY, SNOOP, ...) whose option
  definitions (the bold term line of a paragraph: "\\fB--server\\fR \\fIADDR\\fR") name every
  long option of that command's --help, with its short form on the same line, and no option
  that --help does not list; the OPTIONS section the same for `regrelay --help`'s options; the
  SYNOPSIS names every command and no other.
- regrelay.conf(5): for each command that takes --config, its section "COMMAND KEYS" defines
  every key (the long options but config and help) and no other.

Exit 0 when all hold, 1 with one line per gap otherwise.
"""
import os
import re
import subprocess
import sys

ROFF_BOLD = re.compile(r"\\fB(.*?)\\fR")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def help_options(text):
    """{long: short or None} of boost-style option lines ("  -h [ --help ]", "  --server arg")."""
    opts = {}
    for line in text.splitlines():
        m = re.match(r"^  (?:-([A-Za-z0-9]) \[ )?--([a-z0-9][a-z0-9-]*)", line)
        if m:
            opts[m.group(2)] = m.group(1)
        else:
            # The top-level usage's "  -V, --version  ..." style.
            m = re.match(r"^  (?:-([A-Za-z0-9]), )?--([a-z0-9][a-z0-9-]*)\s", line)
            if m:
                opts[m.group(2)] = m.group(1)
    return opts


def commands(top_help):
    out, in_cmds = [], False
    for line in top_help.splitlines():
        if line.strip() == "commands:":
            in_cmds = True
            continue
        if in_cmds:
            if not line.strip():
                break
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s{2,}\S", line)
            if m:
                out.append(m.group(1))
    return out


def render(scdoc_src, version="0.0.0-test"):
    with open(scdoc_src, encoding="utf-8") as f:
        text = f.read().replace("@PROJECT_VERSION@", version)
    p = subprocess.run(["scdoc"], input=text, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: scdoc {scdoc_src}: {p.stderr.strip()}")
    return p.stdout


def sections(roff):
    """{title: [lines]} of the .SH sections."""
    secs, cur = {}, None
    for line in roff.splitlines():
        if line.startswith(".SH "):
            cur = line[4:].strip().strip('"')
            secs[cur] = []
        elif cur is not None:
            secs[cur].append(line)
    return secs


def term_lines(lines):
    """The term lines of the section's definitions: scdoc renders "*--opt* _ARG_" followed by
    tab-indented text as the term line, then ".RS 4" and the text."""
    return [line for i, line in enumerate(lines)
            if line.startswith("\\fB") and i + 1 < len(lines) and lines[i + 1].startswith(".RS")]


def defined_options(lines):
    """{long: short or None} of the options named in the section's term lines."""
    opts = {}
    for t in term_lines(lines):
        bold = [b.replace("\\-", "-") for b in ROFF_BOLD.findall(t)]
        if not bold or not bold[0].startswith("-"):
            continue
        shorts = [b[1:] for b in bold if re.fullmatch(r"-[A-Za-z0-9]", b)]
        longs = [b[2:] for b in bold if re.fullmatch(r"--[a-z0-9][a-z0-9-]*", b)]
        for lo in longs:
            opts[lo] = shorts[0] if len(longs) == 1 and shorts else None
    return opts


def defined_keys(lines):
    keys = set()
    for t in term_lines(lines):
        for b in ROFF_BOLD.findall(t):
            if re.fullmatch(r"[a-z][a-z0-9-]*", b):
                keys.add(b)
    return keys


def compare(where, want, have, errors):
    for lo in sorted(set(want) - set(have)):
        errors.append(f"{where}: --{lo} is in --help but not documented")
    for lo in sorted(set(have) - set(want)):
        errors.append(f"{where}: --{lo} is documented but not in --help (no longer exists?)")
    for lo in sorted(set(want) & set(have)):
        if want[lo] and have[lo] != want[lo]:
            errors.append(f"{where}: --{lo}: short form -{want[lo]} not on its term line")


def main():
    binary, mandir = sys.argv[1], sys.argv[2]
    errors = []

    rc, top, err = run([binary, "--help"])
    if rc != 0:
        raise SystemExit(f"FAIL: regrelay --help exit {rc}: {err}")
    cmds = commands(top)
    if not cmds:
        raise SystemExit("FAIL: no commands found in regrelay --help")
    rc, _, _ = run([binary])
    if rc != 2:
        errors.append(f"regrelay without a command: exit {rc}, want 2")

    man8 = sections(render(os.path.join(mandir, "regrelay.8.scd")))
    conf5 = sections(render(os.path.join(mandir, "regrelay.conf.5.scd")))

    compare("regrelay(8) OPTIONS", help_options(top), defined_options(man8.get("OPTIONS", [])), errors)

    synopsis = " ".join(man8.get("SYNOPSIS", []))
    in_synopsis = set(re.findall(r"\\fBregrelay ([a-z][a-z0-9-]*)\\fR", synopsis))
    for c in sorted(set(cmds) - in_synopsis):
        errors.append(f"regrelay(8) SYNOPSIS: command {c} missing")
    for c in sorted(in_synopsis - set(cmds)):
        errors.append(f"regrelay(8) SYNOPSIS: command {c} is not in regrelay --help")

    checked = {}
    for c in cmds:
        rc, out, err = run([binary, c, "--help"])
        if rc != 0:
            errors.append(f"regrelay {c} --help: exit {rc}: {err.strip()}")
            continue
        want = help_options(out)
        if "help" not in want:
            errors.append(f"regrelay {c} --help lists no --help: option lines not recognised?")
        checked[c] = len(want)
        sec = c.upper()
        if sec not in man8:
            errors.append(f"regrelay(8): no section {sec} for command {c}")
            continue
        compare(f"regrelay(8) {sec}", want, defined_options(man8[sec]), errors)

        if "config" in want:
            keys = set(want) - {"config", "help"}
            ksec = f"{sec} KEYS"
            if ksec not in conf5:
                errors.append(f"regrelay.conf(5): no section {ksec} ({c} takes --config)")
                continue
            have = defined_keys(conf5[ksec])
            for k in sorted(keys - have):
                errors.append(f"regrelay.conf(5) {ksec}: key {k} not documented")
            for k in sorted(have - keys):
                errors.append(f"regrelay.conf(5) {ksec}: key {k} documented but not an option of {c}")
    for s in conf5:
        if s.endswith(" KEYS") and s[: -len(" KEYS")].lower() not in cmds:
            errors.append(f"regrelay.conf(5): section {s} names no command")

    for e in errors:
        print("FAIL:", e)
    if errors:
        return 1
    print("ok: commands " + ", ".join(f"{c} ({n} options)" for c, n in checked.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
