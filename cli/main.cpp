// regrelay: a DHCPv6 relay agent and L2 snooping shim for RFC 9686 address registration.
#include <boost/version.hpp>
#include <libnet.h>
#include <pcap/pcap.h>
#include <spdlog/version.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: regrelay COMMAND [OPTIONS]\n"
    "       regrelay --version | --help\n"
    "\n"
    "commands:\n"
    "  relay    relay DHCPv6 (RFC 8415 §19) with option 79, ADDR-REG-INFORM included\n"
    "  replay   run a capture through the relay engine, writing what it would send\n"
    "  snoop    lightweight relay agent (RFC 6221) for a Linux bridge or switch\n"
    "  decode   print the DHCPv6 packets of a pcap file or a live interface\n"
    "  trail    which MAC had an address (at a time): query a --trail file\n"
    "  dns-view serve AAAA/PTR and BNAME records from a configuration (the registrar's DNS view)\n"
    "  registrar  RFC 9686 address registration server (ADDR-REG-INFORM only), SQLite history\n"
    "  who-had  who held an address (at a time): query the registrar's database\n"
    "  history  registration events of a MAC, DUID or prefix from the registrar's database\n"
    "\n"
    "options:\n"
    "  -V, --version  print the version and the libraries regrelay was built with\n"
    "  -h, --help     show this help\n"
    "\n"
    "Run 'regrelay COMMAND --help' for a command's options; man regrelay(8), regrelay.conf(5).\n";

// "libpcap version 1.10.3 (with TPACKET_V3)" -> "1.10.3 (with TPACKET_V3)".
std::string_view after_version_word(std::string_view s) {
    constexpr std::string_view word = " version ";
    size_t at = s.find(word);
    return at == std::string_view::npos ? s : s.substr(at + word.size());
}

// The version, then one line per library: the versions of libpcap and libnet are those of the
// shared libraries loaded at run time; the others are those of the headers and pkg-config
// modules the binary was compiled against (cli/CMakeLists.txt passes them).
void print_version() {
    std::printf("regrelay %s\n", REGRELAY_VERSION);
    std::printf("libpcap %.*s\n", int(after_version_word(pcap_lib_version()).size()),
                after_version_word(pcap_lib_version()).data());
    std::printf("libnet %.*s\n", int(after_version_word(libnet_version()).size()),
                after_version_word(libnet_version()).data());
    std::string boost = BOOST_LIB_VERSION;  // "1_74"
    for (char& c : boost)
        if (c == '_') c = '.';
    std::printf("Boost %s\n", boost.c_str());
    std::printf("spdlog %d.%d.%d\n", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
#ifdef REGRELAY_LIBMNL_VERSION
    std::printf("libmnl %s\n", REGRELAY_LIBMNL_VERSION);
#endif
#ifdef REGRELAY_LIBCAP_NG_VERSION
    std::printf("libcap-ng %s\n", REGRELAY_LIBCAP_NG_VERSION);
#endif
#ifdef REGRELAY_LIBNFTABLES_VERSION
    std::printf("libnftables %s\n", REGRELAY_LIBNFTABLES_VERSION);
#endif
#ifdef REGRELAY_LIBSYSTEMD_VERSION
    std::printf("libsystemd %s\n", REGRELAY_LIBSYSTEMD_VERSION);
#endif
#ifdef REGRELAY_LIBMICROHTTPD_VERSION
    std::printf("libmicrohttpd %s\n", REGRELAY_LIBMICROHTTPD_VERSION);
#endif
}

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
    if (cmd == "-V" || cmd == "--version" || cmd == "version") {
        print_version();
        return 0;
    }
    if (cmd == "decode") return regrelay::cli::decode_main(argc - 1, argv + 1);
    if (cmd == "relay") return regrelay::cli::relay_main(argc - 1, argv + 1);
    if (cmd == "replay") return regrelay::cli::replay_main(argc - 1, argv + 1);
    if (cmd == "snoop") return regrelay::cli::snoop_main(argc - 1, argv + 1);
    if (cmd == "trail") return regrelay::cli::trail_main(argc - 1, argv + 1);
    if (cmd == "dns-view") return regrelay::cli::dns_view_main(argc - 1, argv + 1);
    if (cmd == "registrar") return regrelay::cli::registrar_main(argc - 1, argv + 1);
    if (cmd == "who-had") return regrelay::cli::who_had_main(argc - 1, argv + 1);
    if (cmd == "history") return regrelay::cli::history_main(argc - 1, argv + 1);
    std::fprintf(stderr, "regrelay: unknown command '%s' (see 'regrelay --help')\n", argv[1]);
    return 2;
}
