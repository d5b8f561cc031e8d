# `regrelay registrar --listen-address` beside Kea 2.2 in ONE network namespace, started in either
# order (tests/netns/registrar_colocated_test.py GROUP), behind one `regrelay relay` given both:
#   kea-first        without --listen-address the registrar's [::]:547 is refused (exit 1, clear
#                    error); with it, it starts beside Kea
#   registrar-first  Kea opens all its sockets after the registrar
# then: a relayed Solicit gets Kea's Advertise, a relayed ADDR-REG-INFORM the registrar's reply, and
# a direct one multicast to ff02::1:2 on the servers' link reaches both (the group is shared).
# Only 2001:db8::/32 and link-local addresses, in namespaces the test makes and removes (on failure
# too). Without root or kea-dhcp6 the script exits 77: skipped.
foreach(group kea-first registrar-first)
  add_test(NAME registrar_colocated_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/registrar_colocated_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(registrar_colocated_${group} PROPERTIES TIMEOUT 100 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
