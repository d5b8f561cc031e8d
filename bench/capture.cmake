# One capture per interface against one shared AF_PACKET socket (bench/capture_bench.py drives it;
# not a Google Benchmark program, so bench/run.sh does not run it by itself). Included from
# bench/CMakeLists.txt.
add_executable(regrelay_capture_bench ${CMAKE_CURRENT_LIST_DIR}/capture_bench.cpp)
target_link_libraries(regrelay_capture_bench PRIVATE regrelay_capture)
