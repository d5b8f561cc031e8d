# The relay through `regrelay replay`: the inputs in pcaps/relay/ (pcaps/relay/generate.py) and
# the golden outputs in pcaps/relay/expected/ (tests/relay_golden_test.py --regenerate).

# The checked-in relay inputs are exactly what their generator writes (and README.md lists each).
add_test(NAME relay_pcaps_reproducible
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/pcaps/relay/generate.py --check ${CMAKE_SOURCE_DIR}/pcaps/relay)

# One test per input: every option set of tests/relay_golden_test.py, byte for byte against the
# expected output, twice (determinism), then decoded with scapy and tshark. Without scapy or
# tshark the script exits 77 after the byte comparisons and ctest reports the test as skipped.
foreach(name solicit-exchange addr-reg relay-chain all-types drops)
  add_test(NAME relay_golden_${name}
           COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/relay_golden_test.py
                   $<TARGET_FILE:regrelay> ${CMAKE_SOURCE_DIR} --only ${name})
  set_tests_properties(relay_golden_${name} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
