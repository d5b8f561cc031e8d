// libFuzzer target: one byte choosing the pcap link type (Ethernet, raw, Linux SLL, IPv6 or an
// unsupported one), then a captured frame. See fuzz/exercise.h.
#include <cstddef>
#include <cstdint>

#include "fuzz/exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    regrelay::fuzz::exercise_frame({data, size});
    return 0;
}
