# `regrelay snoop` (the RFC 6221 LDRA on a Linux bridge).

# The snoop engine's unit tests (tests/unit/snoop_engine_test.cpp) live in the one GoogleTest
# binary; it needs the engine's library, and the regrelay binary for `snoop --print-filters`.
if(TARGET regrelay_unit_tests)
  target_link_libraries(regrelay_unit_tests PRIVATE regrelay_snoop)
  add_dependencies(regrelay_unit_tests regrelay)
endif()

# `regrelay snoop` live on a Linux bridge in network namespaces (tests/netns/snoop_live_test.py
# GROUP, built on tests/netns/lib.py): with `regrelay relay` on the router (regrelay), with ISC
# dhcrelay on the router (dhcrelay), the nftables filters' leak, guard and removal checks
# (filters), RFC 6221 §6.1 on a trusted port (trusted) and §6.2 on the uplink (uplink).
# Namespaces are unique per run and removed on any failure; only 2001:db8::/32 and link-local
# addresses. Without root (or nft, or dhcrelay) they exit 77: skipped.
foreach(group regrelay dhcrelay filters trusted uplink)
  add_test(NAME snoop_live_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/snoop_live_test.py
                   $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(snoop_live_${group} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
