#!/usr/bin/python3
"""Runs a command inside a QEMU VM booting Debian's own kernel (linux-image-amd64), with this
host's root file system mounted read-only over 9p as the VM's root: the VM has the host's
python3, scapy, kea-dhcp6, nft, ip and the regrelay binary of the build directory, and a kernel
with VLAN-filtering bridges and 802.1Q devices (this host's kernel has neither).

    run_vm.py [--kernel VMLINUZ] [--timeout S] [--mem MiB] [--tcg] [--shell] [--keep] [--bind PATH] -- CMD ARG...

How (see docs/vm-test.md):
  - A small initramfs is built in a temporary directory (never in the tree): busybox-static,
    the kernel modules that mounting the root needs (virtio-pci, 9p over virtio, their
    dependencies; from /lib/modules/VERSION, VERSION taken from the kernel file's name) and an
    /init script (written below).
  - qemu-system-x86_64 -enable-kvm (TCG when /dev/kvm is missing or --tcg), -nographic with the
    console on ttyS0 (printed here, prefixed "vm| "), -nic none: the VM has no network device
    at all. Two 9p shares: "hostroot" (/, read-only) and "out" (a temporary host directory,
    writable: CMD's exit status comes back there as the file "rc").
  - /init mounts the host root read-only on /newroot, tmpfs on /tmp, /run, /var/tmp, /root and
    /var/lib, binds back from the host root (read-only) the trees under those that CMD needs
    (the working directory's, CMD's absolute paths', --bind's: /tmp/CLONE for a build in a
    clone under /tmp), the "out" share on /tmp/vmout, and points the kernel's module loader at the
    root's own modprobe (so `ip link add ... type bridge` loads bridge.ko from
    /lib/modules/VERSION of the host root), then runs CMD there with chroot, in the directory
    this script was started from, writes its status to /tmp/vmout/rc and powers off.
  - --shell: an interactive shell in the VM instead of CMD (on this terminal; exit it to power
    off), e.g. to debug a failing test by hand.

Exit status: CMD's own; 77 (skip) when not root or qemu, the kernel, its modules or busybox are
missing; 124 when the VM did not finish within --timeout seconds (it is killed); 125 when the VM
ended without reporting a status (a panic, for instance; the console shows why).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

SKIP = 77
QEMU = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
# Mounting the root over 9p: these modules and (resolved from modules.dep) their dependencies.
BOOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p")
MARKER = "REGRELAY-VM-STATUS"
# Mounted as empty tmpfs in the VM (writable, over the read-only host root). What CMD needs from
# under them on the host (its directory, its arguments' paths: a build tree under /tmp) is bound
# back from the host root: see exposed_paths().
TMPFS_DIRS = ("/tmp", "/run", "/var/tmp", "/root", "/var/lib")
VMOUT = "/tmp/vmout"

INIT = r"""#!/bin/busybox sh
# /init of the regrelay VM test (tests/vm/run_vm.py). PID 1 stays here; CMD runs chrooted.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "vm: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu(s)"
for m in $(cat /modules.order); do insmod /$m || echo "vm: insmod $m failed"; done
R=/newroot
mkdir -p $R
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot $R || {
  echo "vm: cannot mount the host root over 9p"; echo "@MARKER@ 125"; poweroff -f; }
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts 2>/dev/null
mount -t tmpfs shm $R/dev/shm 2>/dev/null
# The host root once more, without the tmpfs mounts below: the directories of the host's /tmp,
# /run... that CMD needs (a build or source tree under /tmp) are bound back from it (/binds).
mkdir -p /hostview
mount -o bind $R /hostview
for d in @TMPFS_DIRS@; do mount -t tmpfs -o mode=0755 tmpfs $R$d; done
chmod 1777 $R/tmp $R/var/tmp
while IFS= read -r p; do
  mkdir -p "$R$p" && mount -o bind "/hostview$p" "$R$p" || echo "vm: cannot bind $p from the host root"
done < /binds
mkdir -p $R/tmp/vmout
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out $R/tmp/vmout || {
  echo "vm: cannot mount the out share"; echo "@MARKER@ 125"; poweroff -f; }
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null
# Modules the kernel asks for (a bridge, 802.1Q, nf_tables...) come from the root's modprobe.
printf '#!/bin/busybox sh\nexec /bin/chroot /newroot /sbin/modprobe "$@"\n' > /bin/rootmodprobe
chmod 755 /bin/rootmodprobe
echo /bin/rootmodprobe > /proc/sys/kernel/modprobe
chroot $R /usr/sbin/ip link set lo up
cd /
if [ -e /shell ]; then
  echo "vm: shell in the host root (read-only; writable: @TMPFS_DIRS@; from the host: $(cat /binds)); exit to power off"
  setsid cttyhack chroot $R /usr/bin/env -i TERM=${TERM:-linux} HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/sh -c "cd $(cat /cwd) 2>/dev/null; exec /bin/bash -i || exec /bin/sh -i"
  rc=$?
else
  chroot $R /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1 \
    REGRELAY_IN_VM=1 /bin/sh -c "cd $(cat /cwd) && exec /bin/sh /tmp/vmout/cmd.sh" < /dev/console
  rc=$?
fi
echo $rc > $R/tmp/vmout/rc
sync
umount $R/tmp/vmout 2>/dev/null
echo "@MARKER@ $rc"
poweroff -f
"""


def skip(why: str) -> int:
    print(f"SKIP: {why}", flush=True)
    return SKIP


def find_kernel(explicit: str | None) -> tuple[str, str] | None:
    """(vmlinuz path, version) of Debian's newest installed kernel that has its modules."""
    cands = [explicit] if explicit else sorted(glob.glob("/boot/vmlinuz-*"), key=_version_key, reverse=True)
    for k in cands:
        m = re.fullmatch(r".*/vmlinuz-(.+)", k or "")
        if m and os.path.isfile(k) and os.path.isdir(f"/lib/modules/{m.group(1)}"):
            return k, m.group(1)
    return None


def _version_key(path: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"[.-]", path)]


def module_closure(version: str, names) -> list[str]:
    """Module paths (relative to /lib/modules/VERSION) for names and their dependencies, in
    load order (dependencies first)."""
    base = f"/lib/modules/{version}"
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    with open(f"{base}/modules.dep") as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
            stem = os.path.basename(path).split(".ko")[0]
            by_name[stem.replace("-", "_")] = path
    order: list[str] = []

    def visit(path):
        if path in order:
            return
        for d in deps.get(path, []):
            visit(d)
        order.append(path)

    for n in names:
        path = by_name.get(n.replace("-", "_"))
        if path is None:
            # built into the kernel: nothing to load
            with open(f"{base}/modules.builtin") as f:
                if not any(os.path.basename(line.strip()).split(".ko")[0].replace("-", "_") == n.replace("-", "_")
                           for line in f):
                    raise FileNotFoundError(f"kernel {version}: no module {n}")
            continue
        visit(path)
    return order


def write_cpio(out_path: str, files: list[tuple[str, int, bytes | None]]) -> None:
    """A newc cpio archive (what the kernel unpacks as an initramfs): (name, mode, data) with
    data None for a directory."""
    ino = 1
    with open(out_path, "wb") as out:
        def entry(name: str, mode: int, data: bytes):
            nonlocal ino
            nb = name.encode() + b"\0"
            hdr = "070701" + "".join(f"{v:08X}" for v in (
                ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
            ino += 1
            out.write(hdr.encode() + nb)
            out.write(b"\0" * ((4 - (110 + len(nb)) % 4) % 4))
            out.write(data)
            out.write(b"\0" * ((4 - len(data) % 4) % 4))
        for name, mode, data in files:
            entry(name, mode, data if data is not None else b"")
        entry("TRAILER!!!", 0, b"")


def exposed_paths(cwd: str, cmd: list[str], extra: list[str]) -> list[str]:
    """The host directories the VM binds back over its tmpfs mounts: for the working directory,
    every absolute path among CMD's arguments (also after NAME=) and each --bind PATH that lies
    under one of TMPFS_DIRS, that directory's first component below it (/tmp/ci-check for
    /tmp/ci-check/build/tests), so the whole tree (source and build) is there, read-only."""
    out: list[str] = []
    for a in [cwd, *extra, *(arg.split("=", 1)[-1] for arg in cmd)]:
        if not a.startswith("/"):
            continue
        p = os.path.normpath(a)
        for d in TMPFS_DIRS:
            if p.startswith(d + "/"):
                top = d + "/" + p[len(d) + 1:].split("/")[0]
                if top == VMOUT:
                    print(f"vm: {top} is the VM's own out share: not bound from the host", flush=True)
                elif os.path.isdir(top) and top not in out:
                    out.append(top)
    return out


def build_initramfs(workdir: str, version: str, busybox: str, shell: bool, cwd: str,
                    binds: list[str] = ()) -> str:
    base = f"/lib/modules/{version}"
    mods = module_closure(version, BOOT_MODULES)
    files: list[tuple[str, int, bytes | None]] = []
    for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
        files.append((d, stat.S_IFDIR | 0o755, None))
    with open(busybox, "rb") as f:
        files.append(("bin/busybox", stat.S_IFREG | 0o755, f.read()))
    init = INIT.replace("@MARKER@", MARKER).replace("@TMPFS_DIRS@", " ".join(TMPFS_DIRS))
    files.append(("init", stat.S_IFREG | 0o755, init.encode()))
    names = []
    for m in mods:
        data = open(f"{base}/{m}", "rb").read()
        name = "lib/modules/" + os.path.basename(m)
        if m.endswith(".xz") or m.endswith(".zst"):
            raise RuntimeError(f"{m}: compressed modules are not handled (busybox insmod)")
        files.append((name, stat.S_IFREG | 0o644, data))
        names.append(name)
    files.append(("modules.order", stat.S_IFREG | 0o644, ("\n".join(names) + "\n").encode()))
    files.append(("cwd", stat.S_IFREG | 0o644, (cwd + "\n").encode()))
    files.append(("binds", stat.S_IFREG | 0o644, "".join(b + "\n" for b in binds).encode()))
    if shell:
        files.append(("shell", stat.S_IFREG | 0o644, b""))
    path = os.path.join(workdir, "initramfs.cpio")
    write_cpio(path, files)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", help="vmlinuz to boot (default: the newest /boot/vmlinuz-* with modules)")
    ap.add_argument("--timeout", type=float, default=240, help="seconds before the VM is killed (default 240)")
    ap.add_argument("--mem", type=int, default=1024, help="VM memory in MiB (default 1024)")
    ap.add_argument("--smp", type=int, default=2, help="VM CPUs (default 2)")
    ap.add_argument("--loglevel", type=int, default=4, help="kernel console loglevel (default 4: errors)")
    ap.add_argument("--append", default="", help="more kernel command line")
    ap.add_argument("--boot-timeout", type=float, default=15,
                    help="seconds for the kernel to reach /init under KVM before falling back to TCG (default 15)")
    ap.add_argument("--tcg", action="store_true", help="software emulation even when /dev/kvm works")
    ap.add_argument("--shell", action="store_true", help="an interactive shell in the VM instead of CMD")
    ap.add_argument("--bind", action="append", default=[], metavar="PATH",
                    help="a host path under /tmp, /run, /var/tmp, /root or /var/lib the VM needs besides the "
                         "working directory and CMD's arguments (bound back read-only; repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (initramfs, console log)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARG...: what to run in the VM")
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd and not args.shell:
        ap.error("no command (-- CMD ARG...) and no --shell")

    if os.geteuid() != 0:
        return skip("needs root (9p export of / with security_model=none, namespaces in the VM)")
    if not os.access(QEMU, os.X_OK):
        return skip("needs qemu-system-x86_64 (qemu-system-x86)")
    kernel = find_kernel(args.kernel)
    if kernel is None:
        return skip("needs a /boot/vmlinuz-VERSION with /lib/modules/VERSION (linux-image-amd64)")
    vmlinuz, version = kernel
    busybox = next((b for b in BUSYBOX_CANDIDATES if os.access(b, os.X_OK)), None)
    if busybox is None:
        return skip("needs busybox-static")
    kvm = not args.tcg and os.access("/dev/kvm", os.R_OK | os.W_OK)

    work = tempfile.mkdtemp(prefix="regrelay-vm-")
    outdir = os.path.join(work, "out")
    os.makedirs(outdir)
    os.chmod(outdir, 0o777)
    console_log = os.path.join(work, "console.log")
    try:
        try:
            binds = exposed_paths(os.getcwd(), cmd, args.bind)
            if binds:
                print(f"vm: bound from the host over the VM's tmpfs: {' '.join(binds)}", flush=True)
            initrd = build_initramfs(work, version, busybox, args.shell, os.getcwd(), binds)
        except (OSError, RuntimeError) as e:
            return skip(f"cannot build the initramfs: {e}")
        with open(os.path.join(outdir, "cmd.sh"), "w") as f:
            f.write(shlex.join(cmd) + "\n" if cmd else "exit 0\n")
        attempts = ["kvm", "tcg"] if kvm else ["tcg"]
        for accel in attempts:
            qemu = [QEMU, "-machine", "q35" if accel == "kvm" else "pc", "-m", str(args.mem), "-smp", str(args.smp),
                    "-nographic", "-no-reboot", "-nic", "none",
                    "-kernel", vmlinuz, "-initrd", initrd,
                    "-append", f"console=ttyS0 panic=-1 no_timer_check loglevel={args.loglevel} rdinit=/init net.ifnames=0 {args.append}".strip(),
                    "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
                    "-virtfs", f"local,path={outdir},mount_tag=out,security_model=none,multidevs=remap"]
            qemu[1:1] = ["-enable-kvm"] if accel == "kvm" else ["-accel", "tcg"]
            # Under KVM the kernel must reach /init within --boot-timeout: nested KVM on some hosts
            # hangs in the kernel's decompressor; then the VM is booted again under TCG.
            boot_deadline = time.monotonic() + args.boot_timeout if accel == "kvm" and len(attempts) > 1 else None
            print(f"vm: booting {vmlinuz} ({accel.upper()}), timeout {args.timeout:.0f} s", flush=True)
            started = time.monotonic()
            interactive = args.shell
            proc = subprocess.Popen(qemu, stdin=None if interactive else subprocess.DEVNULL,
                                    stdout=None if interactive else subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=not interactive)
            status = None
            timed_out = no_boot = False
            try:
                if interactive:
                    proc.wait()
                else:
                    status, timed_out, no_boot = pump_console(proc, console_log, started + args.timeout, boot_deadline)
            finally:
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        proc.kill()
                    proc.wait()
            if no_boot or (accel == "kvm" and status is None and not interactive
                           and not os.path.exists(os.path.join(outdir, "rc")) and "vm: kernel" not in
                           open(console_log, errors="replace").read()):
                print(f"vm: the kernel did not reach /init under KVM within {args.boot_timeout:.0f} s "
                      f"(nested KVM on this host?): booting again under TCG", flush=True)
                continue
            break
        kvm = accel == "kvm"
        took = time.monotonic() - started
        rc_file = os.path.join(outdir, "rc")
        if os.path.exists(rc_file):
            with open(rc_file) as f:
                text = f.read().strip()
            status = int(text) if text.lstrip("-").isdigit() else status
        if timed_out:
            print(f"vm: no status within {args.timeout:.0f} s: killed", flush=True)
            return 124
        if status is None:
            print(f"vm: ended (qemu exit {proc.returncode}) without a status after {took:.1f} s", flush=True)
            return 125
        print(f"vm: command exited {status}; VM ran {took:.1f} s ({'KVM' if kvm else 'TCG'})", flush=True)
        return status
    finally:
        if args.keep:
            print(f"vm: kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def pump_console(proc: subprocess.Popen, log_path: str, deadline: float,
                 boot_deadline: float | None = None) -> tuple[int | None, bool, bool]:
    """Copies the console to stdout ("vm| " prefixed) and a log until qemu exits or the deadline;
    returns (status from the marker line or None, whether the deadline passed, whether /init's
    first line failed to appear before boot_deadline)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    status = None
    booted = False
    buf = b""
    with open(log_path, "wb") as log:
        while True:
            now = time.monotonic()
            if boot_deadline is not None and not booted and now > boot_deadline:
                return status, False, True
            left = deadline - now
            if left <= 0:
                return status, True, False
            if not sel.select(min(left, 1.0)):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            log.write(chunk)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode(errors="replace").rstrip("\r")
                m = re.fullmatch(rf"{MARKER} (-?\d+)", text.strip())
                if m:
                    status = int(m.group(1))
                if text.startswith("vm: kernel ") or "vm: kernel " in text:
                    booted = True
                print(f"vm| {text}", flush=True)
    if buf:
        print(f"vm| {buf.decode(errors='replace')}", flush=True)
    proc.wait()
    return status, False, False


if __name__ == "__main__":
    sys.exit(main())
