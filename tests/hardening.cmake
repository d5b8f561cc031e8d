# Issue 8 hardening of `regrelay relay` and `regrelay snoop` in network namespaces
# (tests/netns/hardening_test.py GROUP): interface faults (flap, delete and recreate, renumbering,
# absent or down at start), SIGHUP reload and --write reopening, a closed log pipe, a second
# instance, and the privilege drop (--user, capabilities). The namespaces, veths, bridge and
# processes are the test's own; only 2001:db8::/32 and link-local addresses are used. Without
# root (or nft for the snoop groups, setpriv for privs) a test exits 77: skipped.
# flap and snoopflap measure the daemon's CPU time over 10 s: run alone.
set(REGRELAY_HARDENING_GROUPS flap snoopflap recreate snooprecreate renumber absent snoopabsent
    reload sighup_write sigpipe second snoopsecond privs snoopprivs)
foreach(group ${REGRELAY_HARDENING_GROUPS})
  add_test(NAME hardening_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/hardening_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(hardening_${group} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
set_tests_properties(hardening_flap hardening_snoopflap PROPERTIES RUN_SERIAL TRUE)
