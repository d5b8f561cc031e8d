# Issue 9 point 2: the systemd units in deploy/systemd and the daemons' sd_notify messages
# (tests/systemd_test.py GROUP). verify and security check the units offline with
# systemd-analyze (no root needed); relay, snoop and syscalls start the daemons in network
# namespaces the test creates, the way the units start them (as nobody with the units' ambient
# capabilities), with a NOTIFY_SOCKET of the test's own. Without systemd-analyze, nft, setpriv,
# root (namespace groups) or strace (syscalls) a test exits 77: skipped.
foreach(group verify security)
  add_test(NAME systemd_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/systemd_test.py $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(systemd_${group} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS systemd)
endforeach()
foreach(group relay snoop syscalls)
  add_test(NAME systemd_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/systemd_test.py $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(systemd_${group} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "netns;systemd")
endforeach()
