# End to end with real peers (issue 11 part 6): a lease from Kea 2.2 and a registration in
# `regrelay registrar`, through `regrelay snoop` and `regrelay relay --server KEA --server
# REGISTRAR` (tests/netns/registrar_kea_test.py GROUP, Kea configuration tests/kea/kea-dhcp6.json.in):
#   e2e  dhclient -6 gets Kea's reservation for the MAC of option 79; regclient.py's ADDR-REG-INFORM
#        is answered by the registrar (its Server Identifier), Kea logs type 36 as unknown and sends
#        nothing; the sqlite3 CLI finds the row with the client's MAC and the switch port's
#        Interface-ID; `regrelay who-had --json` answers with them; dig asks the registrar's DNS view
#        (--dns-listen) for the host's AAAA and PTR (its name from option 39) and for an alias
#        through a BNAME (BNAME + synthesized CNAME + AAAA).
# Only 2001:db8::/32 and link-local addresses, in namespaces the test makes and removes (on failure
# too). Without root, kea-dhcp6, dhclient, sqlite3 or dig the script exits 77: skipped.
foreach(group e2e)
  add_test(NAME registrar_kea_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/registrar_kea_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(registrar_kea_${group} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
