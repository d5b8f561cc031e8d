// libFuzzer target: a sequence of datagrams (direct and relayed, any interface index, the clocks
// advancing between them) handled by one registrar engine with links and flood limits
// configured (registrar/engine.h; the input format and the properties in fuzz/exercise_registrar.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/exercise_registrar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    regrelay::fuzz::exercise_registrar({data, size});
    return 0;
}
