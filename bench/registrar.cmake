# The registrar's store: queries over 1,000,000 history rows, registrations/s with group commit.
add_executable(regrelay_bench_registrar ${CMAKE_CURRENT_SOURCE_DIR}/registrar_bench.cpp)
target_link_libraries(regrelay_bench_registrar PRIVATE regrelay_registrar_store benchmark::benchmark)

# The end-to-end load: Relay-forwards around ADDR-REG-INFORMs to `regrelay registrar`, replies
# counted and timed (bench/registrar_bench.py). Standalone (libc and threads only).
add_executable(regrelay_registrar_loadgen ${CMAKE_CURRENT_LIST_DIR}/registrar_loadgen.cpp)
target_link_libraries(regrelay_registrar_loadgen PRIVATE Threads::Threads)
