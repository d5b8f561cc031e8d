#!/usr/bin/python3
"""tests/vm/run_vm.py's choice of the host trees it binds back over the VM's tmpfs mounts
(exposed_paths): a build tree in a clone under /tmp (the CI's /tmp/ci-check) must be there in
the VM, or the test cannot even cd into its directory. No VM, no root: exits 0 when every
check passes, 1 otherwise.
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_vm  # noqa: E402

failed = 0


def eq(got, want, what):
    global failed
    ok = got == want
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": got {got!r}, want {want!r}"), flush=True)


clone = tempfile.mkdtemp(prefix="regrelay-vmpaths-", dir="/tmp")
other = tempfile.mkdtemp(prefix="regrelay-vmpaths-", dir="/var/tmp")
try:
    os.makedirs(os.path.join(clone, "build", "tests"))
    os.makedirs(os.path.join(clone, "tests", "vm"))
    build_tests = os.path.join(clone, "build", "tests")
    binary = os.path.join(clone, "build", "cli", "regrelay")
    script = os.path.join(clone, "tests", "vm", "vlan_bridge_test.py")
    here = os.path.dirname(os.path.abspath(__file__))

    eq(run_vm.exposed_paths(build_tests, ["/usr/bin/python3", script, binary, "relay"], []), [clone],
       "a clone under /tmp (cwd, script, binary in it): the clone's top directory, once")
    eq(run_vm.exposed_paths("/", ["/usr/bin/python3", script, f"--x={other}/f"], []), [clone, other],
       "paths among the arguments (also after NAME=), under /tmp and /var/tmp")
    eq(run_vm.exposed_paths("/", ["true"], [other + "/sub/dir"]), [other], "--bind PATH: its top directory")
    eq(run_vm.exposed_paths("/tmp", ["true"], []), [], "/tmp itself: nothing to bind (the VM's own tmpfs)")
    eq(run_vm.exposed_paths("/tmp/regrelay-vmpaths-does-not-exist/x", ["true"], []), [],
       "a path that does not exist on the host: not bound")
    eq(run_vm.exposed_paths("/tmp/vmout", ["true"], ["/tmp/vmout/x"]), [], "/tmp/vmout (the out share): never bound")
    if not here.startswith(tuple(d + "/" for d in run_vm.TMPFS_DIRS)):
        eq(run_vm.exposed_paths(here, ["/usr/bin/python3", os.path.join(here, "vlan_bridge_test.py")], []), [],
           f"a tree outside the tmpfs directories ({here}): nothing to bind")
finally:
    shutil.rmtree(clone, ignore_errors=True)
    shutil.rmtree(other, ignore_errors=True)

print(f"\n{'FAILED' if failed else 'all passed'} ({failed} failed)")
sys.exit(1 if failed else 0)
