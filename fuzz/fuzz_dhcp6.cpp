// libFuzzer target: one DHCPv6 payload (what follows the UDP header). See fuzz/exercise.h.
#include <cstddef>
#include <cstdint>

#include "fuzz/exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    regrelay::fuzz::exercise_dhcp6({data, size});
    return 0;
}
