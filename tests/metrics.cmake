# Prometheus /metrics (obs/metrics.h, --metrics-listen).

# The unit tests (tests/unit/metrics_test.cpp) live in the one GoogleTest binary.
if(TARGET regrelay_unit_tests)
  target_link_libraries(regrelay_unit_tests PRIVATE regrelay_obs regrelay_snoop)
endif()

# The same tests of obs/ alone (the triple buffer between the packet and HTTP threads, the
# server) under ThreadSanitizer: a data race fails them. Not in the ASan/fuzz builds (one
# sanitizer runtime per binary).
if(NOT REGRELAY_SANITIZE AND NOT REGRELAY_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  pkg_check_modules(REGRELAY_TSAN_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  add_executable(regrelay_metrics_tsan_test ${CMAKE_SOURCE_DIR}/tests/unit/metrics_test.cpp
                 ${CMAKE_SOURCE_DIR}/obs/metrics.cpp ${CMAKE_SOURCE_DIR}/dhcp6/dhcp6.cpp)
  target_compile_definitions(regrelay_metrics_tsan_test PRIVATE REGRELAY_METRICS_ONLY
                             REGRELAY_VERSION="${PROJECT_VERSION}")
  target_compile_options(regrelay_metrics_tsan_test PRIVATE -fsanitize=thread -O1 -g)
  target_link_options(regrelay_metrics_tsan_test PRIVATE -fsanitize=thread)
  target_link_libraries(regrelay_metrics_tsan_test PRIVATE PkgConfig::REGRELAY_TSAN_MHD GTest::gtest GTest::gtest_main
                        Threads::Threads)
  add_test(NAME metrics_tsan COMMAND regrelay_metrics_tsan_test)
  set_tests_properties(metrics_tsan PROPERTIES TIMEOUT 120 LABELS unit
                       ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1:exitcode=66")
endif()

# `regrelay relay` and `regrelay snoop` with --metrics-listen in network namespaces
# (tests/metrics_test.py GROUP): exact counters after known traffic, fetched over HTTP inside
# the namespace, and the text checked by a strict parser of the exposition format. Without root
# they exit 77: skipped.
foreach(group relay snoop)
  add_test(NAME metrics_${group}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/metrics_test.py $<TARGET_FILE:regrelay> ${group})
  set_tests_properties(metrics_${group} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS netns)
endforeach()
