# The VLAN-filtering bridge test (issue 10, test bed (c)) in a QEMU VM booting Debian's own kernel
# (linux-image-amd64): this host's kernel has no VLAN-filtering bridge and no 802.1Q devices.
# tests/vm/run_vm.py boots it with the host root mounted read-only over 9p and no network device,
# and runs tests/vm/vlan_bridge_test.py GROUP there (see docs/vm-test.md; `make test-vm` runs
# only these). About 3 minutes under TCG emulation, less with KVM. Without root, qemu, the kernel
# or busybox-static it exits 77 (skipped). Registered in the normal build only: the ASan build's
# ctest pass would boot a second VM for the same relay code paths the netns tests cover there.
if(NOT REGRELAY_SANITIZE)
  foreach(group relay)
    add_test(NAME vm_vlan_bridge_${group}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/vm/run_vm.py --timeout 420 --
                     /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/vm/vlan_bridge_test.py
                     $<TARGET_FILE:regrelay> ${group})
    set_tests_properties(vm_vlan_bridge_${group} PROPERTIES TIMEOUT 480 SKIP_RETURN_CODE 77 LABELS vm
                         RUN_SERIAL TRUE PROCESSORS 2)
  endforeach()
endif()
