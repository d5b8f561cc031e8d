# `regrelay relay` under floods in network namespaces (tests/netns/flood_test.py GROUP, built on
# tests/netns/lib.py; issue 8 points 2 and 3, RFC 9686 §6): a 100k-random-MAC flood on one
# client port (macflood), Relay-replies for another port during a client flood (replyflood),
# server-side floods (serverflood). Each loads both cores for up to a minute: run alone.
# Only 2001:db8::/32 and link-local addresses; without root they exit 77 (skipped).
foreach(group macflood replyflood serverflood)
  add_test(NAME flood_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/flood_test.py $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(flood_${group} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS netns
                       RUN_SERIAL TRUE PROCESSORS 2)
endforeach()
