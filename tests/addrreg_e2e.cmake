# RFC 9686 address registration end to end in network namespaces (tests/netns/addrreg_e2e_test.py
# GROUP): tests/addrreg/regclient.py registers 2001:db8:1::100 with tests/addrreg/regserver.py
#   relay     through `regrelay relay`
#   snoop     through `regrelay snoop` (on a Linux bridge) into `regrelay relay`
#   dhcrelay  through `regrelay snoop` into ISC dhcrelay, and a bare ADDR-REG-INFORM to dhcrelay
#   loss      through `regrelay relay` with the first Relay-forward dropped (nftables)
#   tools     the two tools' own protocol rules against hand-made packets
# Only 2001:db8::/32 and link-local addresses; the namespaces are made by the test and removed on
# failure too. Without root (or /usr/sbin/dhcrelay, for that group) a test exits 77: skipped.
set(REGRELAY_ADDRREG_GROUPS relay snoop dhcrelay loss tools)
foreach(group ${REGRELAY_ADDRREG_GROUPS})
  add_test(NAME addrreg_e2e_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/addrreg_e2e_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(addrreg_e2e_${group} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
