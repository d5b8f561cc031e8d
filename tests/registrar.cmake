# `regrelay registrar` end to end in network namespaces (tests/netns/registrar_test.py GROUP):
#   e2e  regclient.py -> `regrelay relay` -> `regrelay registrar`, and a direct registration on the
#        registrar's own link; rows read with the sqlite3 CLI, who-had, history, restart.
# Only 2001:db8::/32 and link-local addresses; the namespaces are made by the test and removed on
# failure too. Without root (or /usr/bin/sqlite3) the test exits 77: skipped.
foreach(group e2e)
  add_test(NAME registrar_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/registrar_test.py $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(registrar_${group} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
