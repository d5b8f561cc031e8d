# End to end with Kea 2.2 (kea-dhcp6) as the server and ISC dhclient as the client, through
# `regrelay relay` and `regrelay snoop` in network namespaces (tests/netns/kea_e2e_test.py GROUP,
# Kea configuration from tests/kea/kea-dhcp6.json.in; see docs/kea.md). Kea, dhclient and the
# regrelay processes are the test's own, with every file in its temporary directory; only
# 2001:db8::/32 and link-local addresses are used. Without root, kea-dhcp6 or dhclient the
# script exits 77 and ctest reports the test as skipped.
#   reservation      option 79 from the relay: dhclient gets the address Kea reserves for its MAC
#   no-option79      negative control (--no-client-link-layer): a pool address instead
#   snoop            snoop + relay: Kea picks the subnet by the LDRA's Interface-ID (the port)
#   addr-reg-enable  Information-request with ORO 148: the Reply carries Kea's option 148
foreach(group reservation no-option79 snoop addr-reg-enable)
  add_test(NAME kea_e2e_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/kea_e2e_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(kea_e2e_${group} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
