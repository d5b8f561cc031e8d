# The L3 relay above an LDRA names the link (docs/relay.md, "Link-address above an LDRA"): a
# Solicit from the client's global address through `regrelay snoop` and `regrelay relay` to Kea
# 2.2 (tests/netns/ldra_kea_test.py GROUP, Kea configuration tests/kea/kea-dhcp6.json.in), in
# network namespaces with 2001:db8::/32 and link-local addresses only. Without root or kea-dhcp6
# the script exits 77 and ctest reports the test as skipped.
#   one-level   LDRA -> relay -> Kea: the relay's level carries its link-address, Kea selects
#               subnet 1 by it and the Advertise offers the reserved address
#   two-levels  LDRA -> relay #1 -> relay #2 -> Kea: relay #2 keeps link-address :: (relay #1's
#               level names the link), Kea selects subnet 1 by relay #1's link-address
foreach(group one-level two-levels)
  add_test(NAME ldra_kea_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/ldra_kea_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(ldra_kea_${group} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
