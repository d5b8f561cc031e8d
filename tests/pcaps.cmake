# The reference captures in pcaps/ (written by pcaps/generate.py) and the tshark cross-check.

# The checked-in captures are exactly what the generator writes: it regenerates them into a
# temporary directory and compares byte for byte (and checks pcaps/README.md lists each one).
add_test(NAME pcaps_reproducible
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/pcaps/generate.py --check ${CMAKE_SOURCE_DIR}/pcaps)

# `regrelay decode --json` and tshark agree, frame by frame and level by level, on every capture.
# Without tshark on PATH the script exits 77 and ctest reports the test as skipped.
add_test(NAME pcaps_crosscheck_tshark
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/crosscheck_tshark.py
                 $<TARGET_FILE:regrelay> ${CMAKE_SOURCE_DIR}/pcaps)
set_tests_properties(pcaps_crosscheck_tshark PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
