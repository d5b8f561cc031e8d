// regrelay: a DHCPv6 relay agent and L2 snooping shim for RFC 9686 address registration.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: regrelay COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  relay    relay DHCPv6 (RFC 8415 §19) with option 79, ADDR-REG-INFORM included\n"
    "  replay   run a capture through the relay engine, writing what it would send\n"
    "  snoop    lightweight relay agent (RFC 6221) for a Linux bridge or switch\n"
    "  decode   print the DHCPv6 packets of a pcap file or a live interface\n"
    "\n"
    "Run 'regrelay COMMAND --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::string_view cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (cmd == "--version" || cmd == "version") {
        std::puts("regrelay " REGRELAY_VERSION);
        return 0;
    }
    if (cmd == "decode") return regrelay::cli::decode_main(argc - 1, argv + 1);
    if (cmd == "relay") return regrelay::cli::relay_main(argc - 1, argv + 1);
    if (cmd == "replay") return regrelay::cli::replay_main(argc - 1, argv + 1);
    if (cmd == "snoop") return regrelay::cli::snoop_main(argc - 1, argv + 1);
    std::fprintf(stderr, "regrelay: unknown command '%s' (see 'regrelay --help')\n", argv[1]);
    return 2;
}
