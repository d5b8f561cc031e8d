# The relay benchmark's traffic generator and counter (bench/relay_bench.py). Included from
# bench/CMakeLists.txt; standalone (libc and threads only), like what it measures against.
add_executable(regrelay_loadgen ${CMAKE_CURRENT_LIST_DIR}/loadgen.cpp)
target_link_libraries(regrelay_loadgen PRIVATE Threads::Threads)
