// libFuzzer target: a DNS query answered by the DNS view's responder over UDP and TCP
// (dns/responder.h; the view and the properties in fuzz/exercise_dns.h).
#include <cstddef>
#include <cstdint>

#include "fuzz/exercise_dns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    regrelay::fuzz::exercise_dns({data, size});
    return 0;
}
