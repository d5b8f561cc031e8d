# The PostgreSQL store against a real PostgreSQL 15 server that tests/pg/pgtmp.py starts in a
# temporary directory (Unix socket only, stopped by PID and removed, also on failure):
#   registrar_store_pg   the registrar_store unit tests over postgresql:// (AnyStore/*.postgresql,
#                        RegistrarStorePg.*); without the server they GTEST_SKIP in the plain run.
#   registrar_pg_shared  two `regrelay registrar` in network namespaces sharing one database,
#                        who-had/history over postgresql://, a restart, a newer schema refused.
# Exit 77 (skipped) without PostgreSQL 15 (Debian postgresql-15) or, for the netns test, root.
if(TARGET regrelay_unit_tests)
  target_link_libraries(regrelay_unit_tests PRIVATE PkgConfig::PQ)
  add_test(NAME registrar_store_pg
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/pg/pgtmp.py --timeout 240 --
                   $<TARGET_FILE:regrelay_unit_tests> --gtest_filter=*/postgresql:RegistrarStorePg.*)
  set_tests_properties(registrar_store_pg PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS pg)
endif()
add_test(NAME registrar_pg_shared
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/netns/registrar_pg_test.py $<TARGET_FILE:regrelay> shared)
set_tests_properties(registrar_pg_shared PROPERTIES TIMEOUT 150 SKIP_RETURN_CODE 77 LABELS "netns;pg")

# Not a test: registrations/s through Store::write(), SQLite and PostgreSQL side by side
# (`cmake --build DIR --target regrelay_store_bench`, then
#  tests/pg/pgtmp.py -- sh -c 'DIR/tests/regrelay_store_bench --pg "$REGRELAY_TEST_PG_URL"').
add_executable(regrelay_store_bench EXCLUDE_FROM_ALL ${CMAKE_CURRENT_SOURCE_DIR}/pg/store_bench.cpp)
target_link_libraries(regrelay_store_bench PRIVATE regrelay_registrar_store PkgConfig::PQ)
