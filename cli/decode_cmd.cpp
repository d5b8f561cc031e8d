#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "capture/packet_io.h"
#include "cli/commands.h"
#include "cli/decode.h"

namespace po = boost::program_options;

namespace regrelay::cli {

namespace {

capture::PacketSource* g_live = nullptr;  // for the signal handler only
volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) {
    g_stop = 1;
    if (g_live) g_live->break_loop();
}

}  // namespace

int decode_main(int argc, char** argv) {
    po::options_description desc(
        "usage: regrelay decode FILE.pcap | -i IFACE [-c N] [-v] [--json]\n\n"
        "Prints one line per DHCPv6 packet: time (UTC), addresses, message type, xid, relay levels\n"
        "(hop-count, link-address, peer-address, interface-id), option 79's MAC, the registered\n"
        "address of ADDR-REG-INFORM/REPLY and option 148. Options");
    std::string file, iface;
    uint64_t count = 0;
    desc.add_options()
        ("help,h", "show this help")
        ("file,r", po::value(&file), "read packets from a pcap or pcapng file")
        ("interface,i", po::value(&iface), "capture live on an interface (inbound)")
        ("count,c", po::value(&count), "stop after N DHCPv6 packets")
        ("verbose,v", "print the whole option tree")
        ("json", "print one JSON object per packet");
    po::positional_options_description pos;
    pos.add("file", 1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "regrelay decode: %s\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (file.empty() == iface.empty()) {
        std::fprintf(stderr, "regrelay decode: give either a pcap FILE or -i IFACE\n");
        return 2;
    }
    decode::Format fmt = vm.count("json") ? decode::Format::kJson
                         : vm.count("verbose") ? decode::Format::kVerbose
                                               : decode::Format::kText;

    std::string err;
    std::unique_ptr<capture::PacketSource> src =
        file.empty() ? capture::open_live(iface, capture::LiveOptions{}, err) : capture::open_file(file, err);
    if (!src) {
        std::fprintf(stderr, "regrelay decode: %s\n", err.c_str());
        return 2;
    }
    if (!file.empty()) {
        int lt = src->linktype();
        if (lt != frame::kLinkEthernet && lt != frame::kLinkLinuxSll && lt != frame::kLinkRaw && lt != frame::kLinkIpv6 &&
            lt != frame::kLinkLinuxSll2) {
            std::fprintf(stderr, "regrelay decode: %s: unsupported link type %d\n", file.c_str(), lt);
            return 2;
        }
    }

    g_live = src.get();
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    // Live output is line-buffered so it can be piped and watched; file output is block-buffered.
    if (!iface.empty()) setvbuf(stdout, nullptr, _IOLBF, 0);
    decode::Stats st;
    std::string line;
    capture::Packet p;
    int rc = 0;
    const int linktype = src->linktype();
    while (!g_stop) {
        capture::ReadStatus s = src->next(p);
        if (s == capture::ReadStatus::kTimeout) continue;
        if (s == capture::ReadStatus::kEnd) break;
        if (s == capture::ReadStatus::kError) {
            std::fprintf(stderr, "regrelay decode: %s: %s\n", src->name().c_str(), src->error().c_str());
            rc = 1;
            break;
        }
        line.clear();
        if (!decode::format_frame(line, p, linktype, fmt, st.frames + 1, st)) continue;
        std::fwrite(line.data(), 1, line.size(), stdout);
        if (count && st.dhcp6 >= count) break;
    }
    g_live = nullptr;
    std::fflush(stdout);
    // ", N truncated" only when a snap length cut packets short.
    std::string cut = st.truncated ? ", " + std::to_string(st.truncated) + " truncated" : std::string();
    std::fprintf(stderr, "%llu frames, %llu DHCPv6 (%llu malformed%s), %llu other\n",
                 (unsigned long long)st.frames, (unsigned long long)st.dhcp6, (unsigned long long)st.malformed,
                 cut.c_str(), (unsigned long long)st.skipped);
    return rc;
}

}  // namespace regrelay::cli
