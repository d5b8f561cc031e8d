# The registrar's DNS view (dns/, docs/dns.md). Unit tests tests/unit/dns_*_test.cpp (responder,
# zones, the draft's Table 1) are in the one GoogleTest binary; tests/dns_test.py starts
# `regrelay dns-view` on [::1] (a port the kernel picks) and queries it with dig and kdig.
if(TARGET regrelay_unit_tests)
  target_link_libraries(regrelay_unit_tests PRIVATE regrelay_dns)
endif()
add_test(NAME dns_view_dig
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/dns_test.py $<TARGET_FILE:regrelay>)
set_tests_properties(dns_view_dig PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS dns)
