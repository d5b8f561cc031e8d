# Issue 10 part 2: many ports in one process (tests/netns/many_ports_test.py GROUP): relay with
# --client-iface 'vc*' over 64 veth pairs, 8 deleted and 8 created at run time; snoop --bridge
# with 48 ports on one plain bridge, a port joining and one leaving at run time. Namespaces,
# veths, bridge and processes are the test's own; only 2001:db8::/32 and link-local addresses.
# Without root (or nft for snoop) a test exits 77: skipped.
foreach(group relay relay_shared snoop snoop_shared)
  add_test(NAME many_ports_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/many_ports_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(many_ports_${group} PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
