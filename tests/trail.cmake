# --log-format json and the registration trail (--trail, `regrelay trail`) of the live relay in
# network namespaces (tests/trail_test.py, built on tests/netns/lib.py and relay_live_test.py's
# topology). Only 2001:db8::/32 and link-local addresses; without root it exits 77 (skipped).
add_test(NAME trail_relay
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/trail_test.py $<TARGET_FILE:regrelay> relay)
set_tests_properties(trail_relay PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS netns)
