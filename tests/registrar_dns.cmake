# `regrelay registrar --dns-listen` in network namespaces (tests/netns/registrar_dns_test.py):
# regclient.py registrations with Client FQDN option 39, the DNS view asked with dig and kdig (AAAA,
# PTR, NXDOMAIN after a release, a forward-zone BNAME, an old prefix's reverse BNAME, SIGHUP,
# metrics, restart). Only 2001:db8::/32, ::1 and link-local addresses; the namespaces are made by
# the test and removed on failure too. Without root, dig or kdig the test exits 77: skipped.
add_test(NAME registrar_dns
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/registrar_dns_test.py $<TARGET_FILE:regrelay> dns)
set_tests_properties(registrar_dns PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "netns;dns")
