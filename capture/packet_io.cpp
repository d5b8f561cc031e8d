#include "capture/packet_io.h"

#include "capture/frame.h"

#include <libnet.h>
#include <net/if.h>
#include <pcap/pcap.h>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace regrelay::capture {

std::string dhcp6_bpf_filter() {
    const std::string udp = "ip6 and udp and (port 546 or port 547)";
    return "(" + udp + ") or (vlan and " + udp + ") or (vlan and vlan and " + udp + ")";
}

namespace {

// The API speaks pcap LINKTYPE_ values (what files store, frame::kLink*); libpcap handles speak
// DLT_ values and translate when reading or writing a file. The two agree for every link type we
// use except raw IP: LINKTYPE_RAW is 101 but DLT_RAW is 12 (14 on some BSDs).
int dlt_to_linktype(int dlt) { return dlt == DLT_RAW ? frame::kLinkRaw : dlt; }
int linktype_to_dlt(int linktype) { return linktype == frame::kLinkRaw ? DLT_RAW : linktype; }

class PcapSource final : public PacketSource {
public:
    PcapSource(pcap_t* p, std::string name, bool live) : p_(p), name_(std::move(name)), live_(live) {}
    ~PcapSource() override { pcap_close(p_); }

    ReadStatus next(Packet& out) override {
        struct pcap_pkthdr* h;
        const u_char* data;
        int rc = pcap_next_ex(p_, &h, &data);
        switch (rc) {
            case 1:
                out.ts.sec = h->ts.tv_sec;
                // File sources are opened with nanosecond precision; live with microseconds.
                out.ts.nsec = live_ ? uint32_t(h->ts.tv_usec) * 1000 : uint32_t(h->ts.tv_usec);
                out.data = {data, h->caplen};
                out.wire_len = h->len;
                return ReadStatus::kPacket;
            case 0: return ReadStatus::kTimeout;
            case PCAP_ERROR_BREAK: return live_ ? ReadStatus::kTimeout : ReadStatus::kEnd;
            default: err_ = pcap_geterr(p_); return ReadStatus::kError;
        }
    }
    int linktype() const override { return dlt_to_linktype(pcap_datalink(p_)); }
    std::string name() const override { return name_; }
    std::string error() const override { return err_; }
    int selectable_fd() const override { return live_ ? pcap_get_selectable_fd(p_) : -1; }
    void break_loop() override { pcap_breakloop(p_); }
    bool kernel_drops(uint64_t& dropped) const override {
        struct pcap_stat st {};
        if (!live_ || pcap_stats(p_, &st) != 0) return false;
        dropped = uint64_t(st.ps_drop) + st.ps_ifdrop;
        return true;
    }

private:
    pcap_t* p_;
    std::string name_;
    bool live_;
    std::string err_;
};

}  // namespace

namespace {

int link_snaplen(const std::string& ifname) {
    int mtu = 0;
    int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    if (fd >= 0 && ::ioctl(fd, SIOCGIFMTU, &ifr) == 0) mtu = ifr.ifr_mtu;
    if (fd >= 0) ::close(fd);
    constexpr int kLinkOverhead = 14 + 2 * 4;  // Ethernet header and two VLAN tags
    return mtu > 0 && mtu <= 65535 - kLinkOverhead ? mtu + kLinkOverhead : 65535;
}

}  // namespace

std::string kernel_drops_report(const std::vector<std::unique_ptr<PacketSource>>& sources) {
    std::string s;
    for (const auto& src : sources) {
        uint64_t d = 0;
        if (!src->kernel_drops(d)) continue;
        s += ' ';
        s += src->name();
        s += '=';
        s += std::to_string(d);
    }
    return s.empty() ? s : "capture kernel-drops" + s + "\n";
}

std::unique_ptr<PacketSource> open_live(const std::string& iface, const LiveOptions& opt, std::string& err) {
    if (if_nametoindex(iface.c_str()) == 0) {
        err = "no such interface: " + iface;
        return nullptr;
    }
    char ebuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_create(iface.c_str(), ebuf);
    if (!p) {
        err = iface + ": " + ebuf;
        return nullptr;
    }
    pcap_set_snaplen(p, opt.snaplen ? opt.snaplen : link_snaplen(iface));
    pcap_set_promisc(p, 0);
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, opt.buffer_bytes);
    pcap_set_timeout(p, opt.timeout_ms);
    int rc = pcap_activate(p);
    if (rc < 0) {
        err = iface + ": " + (rc == PCAP_ERROR ? std::string(pcap_geterr(p)) : std::string(pcap_statustostr(rc)));
        pcap_close(p);
        return nullptr;
    }
    if (opt.inbound_only && pcap_setdirection(p, PCAP_D_IN) != 0) {
        err = iface + ": cannot capture inbound only: " + pcap_geterr(p);
        pcap_close(p);
        return nullptr;
    }
    if (!opt.filter.empty()) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, opt.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &prog) != 0) {
            err = iface + ": bad capture filter: " + pcap_geterr(p);
            pcap_close(p);
            return nullptr;
        }
        pcap_freecode(&prog);
    }
    if (opt.nonblocking && pcap_setnonblock(p, 1, ebuf) != 0) {
        err = iface + ": " + ebuf;
        pcap_close(p);
        return nullptr;
    }
    return std::make_unique<PcapSource>(p, iface, true);
}

std::unique_ptr<PacketSource> open_file(const std::string& path, std::string& err) {
    char ebuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!p) {
        // libpcap names the file itself in some messages ("x.pcap: No such file or directory").
        std::string msg = ebuf;
        err = msg.rfind(path + ":", 0) == 0 ? msg : path + ": " + msg;
        return nullptr;
    }
    return std::make_unique<PcapSource>(p, path, false);
}

namespace {

class PcapWriter final : public PacketSink {
public:
    PcapWriter(pcap_t* dead, pcap_dumper_t* d) : dead_(dead), d_(d) {}
    ~PcapWriter() override {
        pcap_dump_close(d_);
        pcap_close(dead_);
    }
    bool write(const Timestamp& ts, Bytes frame) override {
        struct pcap_pkthdr h {};
        h.ts.tv_sec = ts.sec;
        h.ts.tv_usec = ts.nsec;  // nanoseconds: the file is opened with nanosecond precision
        h.caplen = h.len = uint32_t(frame.size());
        pcap_dump(reinterpret_cast<u_char*>(d_), &h, frame.data());
        return true;
    }
    std::string error() const override { return {}; }
    void flush() override { pcap_dump_flush(d_); }

private:
    pcap_t* dead_;
    pcap_dumper_t* d_;
};

class Injector final : public PacketSink {
public:
    explicit Injector(libnet_t* l) : l_(l) {}
    ~Injector() override { libnet_destroy(l_); }
    bool write(const Timestamp&, Bytes frame) override {
        int n = libnet_adv_write_link(l_, const_cast<uint8_t*>(frame.data()), uint32_t(frame.size()));
        if (n != int(frame.size())) {
            err_ = libnet_geterror(l_);
            return false;
        }
        return true;
    }
    std::string error() const override { return err_; }

private:
    libnet_t* l_;
    std::string err_;
};

}  // namespace

std::unique_ptr<PacketSink> open_pcap_writer(const std::string& path, int linktype, std::string& err) {
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(linktype_to_dlt(linktype), 65535, PCAP_TSTAMP_PRECISION_NANO);
    if (!dead) {
        err = path + ": cannot create pcap writer";
        return nullptr;
    }
    pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
    if (!d) {
        err = path + ": " + pcap_geterr(dead);
        pcap_close(dead);
        return nullptr;
    }
    return std::make_unique<PcapWriter>(dead, d);
}

std::unique_ptr<PacketSink> open_injector(const std::string& iface, std::string& err) {
    if (if_nametoindex(iface.c_str()) == 0) {
        err = "no such interface: " + iface;
        return nullptr;
    }
    char ebuf[LIBNET_ERRBUF_SIZE] = {};
    libnet_t* l = libnet_init(LIBNET_LINK_ADV, iface.c_str(), ebuf);
    if (!l) {
        err = iface + ": " + ebuf;
        return nullptr;
    }
    return std::make_unique<Injector>(l);
}

}  // namespace regrelay::capture
