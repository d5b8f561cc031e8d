# The VLAN-filtering bridge tests (issue 10, test bed (c)) in a QEMU VM booting Debian's own kernel
# (linux-image-amd64): this host's kernel has no VLAN-filtering bridge and no 802.1Q devices.
# tests/vm/run_vm.py boots it with the host root mounted read-only over 9p and no network device,
# and runs tests/vm/vlan_bridge_test.py there (see docs/vm-test.md; `make test-vm` runs only this),
# groups relay, snoop and snoop-bridge one after the other in one boot:
#   relay         the bridge alone; regrelay relay on 802.1Q sub-interfaces, Kea 2.2 per VLAN
#   snoop         + regrelay snoop with --port-vlan (skipped if the binary has none)
#   snoop-bridge  + regrelay snoop --bridge br0: ports and VLANs (the uplink's too) from netlink
#   shared        snoop-bridge with --capture shared for snoop and the relay (Debian's 6.1 kernel)
# Under TCG emulation (no usable nested KVM here) about 4.5 minutes for relay and snoop (snoop-bridge
# alone: about 1 minute), most of it
# setting up namespaces; with KVM much less. Without root, qemu, the kernel or busybox-static it exits 77
# (skipped). Registered in the normal build only: the ASan build's ctest pass would boot a
# second VM for code paths the netns tests cover there.
if(NOT REGRELAY_SANITIZE)
  add_test(NAME vm_vlan_bridge
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/vm/run_vm.py --timeout 1500 --
                   /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/vm/vlan_bridge_test.py
                   $<TARGET_FILE:regrelay> relay,snoop,snoop-bridge,shared)
  set_tests_properties(vm_vlan_bridge PROPERTIES TIMEOUT 1600 SKIP_RETURN_CODE 77 LABELS vm
                       RUN_SERIAL TRUE PROCESSORS 2)
endif()

# run_vm.py's choice of the host trees bound back over the VM's tmpfs mounts (a build tree in a
# clone under /tmp, as in CI): pure Python, no VM, no root; in both builds (it costs nothing).
add_test(NAME vm_run_vm_paths
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/vm/run_vm_paths_test.py)
set_tests_properties(vm_run_vm_paths PROPERTIES TIMEOUT 30 LABELS vm)
