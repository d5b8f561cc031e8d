# The registrar's store: queries over 1,000,000 history rows, registrations/s with group commit.
add_executable(regrelay_bench_registrar ${CMAKE_CURRENT_SOURCE_DIR}/registrar_bench.cpp)
target_link_libraries(regrelay_bench_registrar PRIVATE regrelay_registrar_store benchmark::benchmark)
