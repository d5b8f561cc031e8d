# `regrelay relay` live in network namespaces (tests/netns/relay_live_test.py GROUP), and its
# configuration errors (tests/netns/relay_config_test.sh). The live tests create their own
# namespaces and veth pairs (tests/netns/lib.py), only ever use 2001:db8::/32 and link-local
# addresses, and clean up on failure; without root they exit 77 and ctest reports them skipped.
foreach(group forward drops pcap senderrors gso burst)
  add_test(NAME relay_live_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/relay_live_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(relay_live_${group} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()

# 100,000 clients at 8,000 frames/s: run alone so a busy machine does not starve the relay.
add_test(NAME relay_live_nostate
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/relay_live_test.py
                 $<TARGET_FILE:regrelay> nostate)
set_tests_properties(relay_live_nostate PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS netns
                     RUN_SERIAL TRUE PROCESSORS 2)

add_test(NAME relay_config_errors
         COMMAND /bin/bash ${CMAKE_CURRENT_SOURCE_DIR}/netns/relay_config_test.sh $<TARGET_FILE:regrelay>)
set_tests_properties(relay_config_errors PROPERTIES TIMEOUT 60 LABELS cli)
