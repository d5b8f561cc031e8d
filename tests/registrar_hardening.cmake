# The registrar hardened (tests/netns/registrar_hardening_test.py GROUP), in network namespaces:
#   flood    a flood from one address does not stop another host's registration; rate-limit drops,
#            one summary line, the registrar's /metrics (events by kind, drops by reason, bindings,
#            commits, latency, store errors)
#   readers  who-had and history as an unprivileged uid of the database's group, daemon running and
#            stopped (read-only WAL, immutable fallback); the files are 0640
# Only 2001:db8::/32, link-local and ::1; without root (or setpriv) the test exits 77: skipped.
foreach(group flood readers)
  add_test(NAME registrar_hardening_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/registrar_hardening_test.py $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(registrar_hardening_${group} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
