# The Wireshark/tshark Lua plugin for RFC 9686 (deploy/wireshark/regrelay-addrreg.lua): tshark with
# the plugin on every capture in pcaps/ (and a few the test makes) against the test's own decoding
# of the bytes; the built-in DHCPv6 tree unchanged; the step-aside rule. See docs/wireshark.md.
# Without tshark on PATH the script exits 77 and ctest reports the test as skipped.
add_test(NAME wireshark_plugin
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/wireshark_test.py
                 ${CMAKE_SOURCE_DIR}/deploy/wireshark/regrelay-addrreg.lua ${CMAKE_SOURCE_DIR}/pcaps)
set_tests_properties(wireshark_plugin PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS cli)
