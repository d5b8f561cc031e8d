#include "capture/packet_io.h"

#include "capture/frame.h"

#include <libnet.h>
#include <net/if.h>
#include <pcap/pcap.h>

#include <fcntl.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

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

uint64_t WakeCoalescer::after_wake(uint64_t now, size_t handled) {
    if (hold_ns_ == 0 || handled == 0) {
        held_ = false;  // nothing came in the hold (or an event without messages): block again
        return 0;
    }
    const bool busy = held_ || (last_ != 0 && now >= last_ && now - last_ < hold_ns_);
    last_ = now;
    held_ = busy;
    return busy ? now + hold_ns_ : 0;
}

void sleep_until_ns(uint64_t deadline_ns) {
    timespec ts{time_t(deadline_ns / 1000000000), long(deadline_ns % 1000000000)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

int ring_bytes_per_port(size_t ports) {
    constexpr size_t kMax = size_t(8) << 20, kMin = size_t(1) << 20, kBudget = size_t(64) << 20;
    if (ports == 0) return int(kMax);
    return int(std::clamp(kBudget / ports, kMin, kMax));
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
#ifdef PACKET_IGNORE_OUTGOING
    // libpcap 1.10 skips outgoing frames in user space, after the kernel has cloned and run the
    // filter on every frame we send ourselves (perf: 7 % of a relay's CPU on its reply path at
    // 50,000/s). The kernel (4.20 and later) can leave them out itself; where it cannot, the
    // option fails and libpcap's own check still holds.
    if (opt.inbound_only) {
        int one = 1;
        setsockopt(pcap_get_selectable_fd(p), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    }
#endif
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

// A classic pcap file written with our own checked writes: libpcap's pcap_dump() reports no
// error, so a full disk would go unnoticed (https://www.tcpdump.org/manpages/pcap-savefile.5.html).
class PcapWriter final : public PacketSink {
public:
    static constexpr uint32_t kMagicNano = 0xa1b23c4d, kMagicMicro = 0xa1b2c3d4;
    static constexpr size_t kBufferBytes = 64 << 10;

    PcapWriter(std::string path, int linktype, bool buffered)
        : path_(std::move(path)), linktype_(uint32_t(linktype)), buffered_(buffered) {}
    ~PcapWriter() override {
        flush();
        if (fd_ >= 0) ::close(fd_);
    }

    // Opens path_: truncated (append false) or appended to when it holds a pcap of our link type.
    bool open(bool append, std::string& err) {
        int flags = O_CLOEXEC | O_CREAT | (append ? O_RDWR | O_APPEND : O_WRONLY | O_TRUNC);
        int fd = ::open(path_.c_str(), flags, 0600);
        if (fd < 0) {
            err = path_ + ": " + std::strerror(errno);
            return false;
        }
        bool nano = true;
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            err = path_ + ": " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        if (append && st.st_size > 0) {
            uint32_t h[6] = {};
            if (st.st_size < off_t(sizeof h) || ::pread(fd, h, sizeof h, 0) != ssize_t(sizeof h) ||
                (h[0] != kMagicNano && h[0] != kMagicMicro)) {
                err = path_ + ": not a pcap file written on this host: not appending to it";
                ::close(fd);
                return false;
            }
            if (h[5] != linktype_) {
                err = path_ + ": holds link type " + std::to_string(h[5]) + ", not " + std::to_string(linktype_) +
                      ": not appending to it";
                ::close(fd);
                return false;
            }
            nano = h[0] == kMagicNano;
        } else {
            // Version 2.4, no time zone offset, snapshot length 65535 (as libpcap's dumper wrote it;
            // readers accept records up to 262144 bytes whatever this says).
            const uint32_t h[6] = {kMagicNano, 2u | 4u << 16, 0, 0, 65535, linktype_};
            std::string why;
            if (!write_all(fd, h, sizeof h, why)) {
                err = path_ + ": " + why;
                ::close(fd);
                return false;
            }
        }
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
        nano_ = nano;
        return true;
    }

    bool write(const Timestamp& ts, Bytes frame) override {
        const uint32_t h[4] = {uint32_t(ts.sec), nano_ ? ts.nsec : ts.nsec / 1000, uint32_t(frame.size()),
                               uint32_t(frame.size())};
        if (buffered_) {
            if (buf_.size() + sizeof h + frame.size() > kBufferBytes && !flush()) return false;
            const auto* hb = reinterpret_cast<const uint8_t*>(h);
            buf_.insert(buf_.end(), hb, hb + sizeof h);
            buf_.insert(buf_.end(), frame.begin(), frame.end());
            return true;
        }
        iovec iov[2] = {{const_cast<uint32_t*>(h), sizeof h}, {const_cast<uint8_t*>(frame.data()), frame.size()}};
        return put(iov, 2);
    }
    std::string error() const override { return err_; }
    bool flush() override {
        if (buf_.empty()) return true;
        iovec iov{buf_.data(), buf_.size()};
        bool ok = put(&iov, 1);
        buf_.clear();
        return ok;
    }
    bool reopen(std::string& err) override {
        flush();
        return open(true, err);
    }

private:
    static bool write_all(int fd, const void* p, size_t n, std::string& why) {
        const auto* b = static_cast<const uint8_t*>(p);
        while (n) {
            ssize_t w = ::write(fd, b, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                why = w < 0 ? std::strerror(errno) : "short write";
                return false;
            }
            b += w;
            n -= size_t(w);
        }
        return true;
    }

    // Writes whole records; on failure removes the part that was written, so the file ends on a
    // record boundary and stays readable.
    bool put(iovec* iov, int n) {
        if (fd_ < 0) {
            err_ = path_ + ": not open";
            return false;
        }
        size_t want = 0, done = 0;
        for (int i = 0; i < n; ++i) want += iov[i].iov_len;
        while (done < want) {
            ssize_t w = ::writev(fd_, iov, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                err_ = path_ + ": " + (w < 0 ? std::strerror(errno) : "short write");
                struct stat st {};
                if (done && ::fstat(fd_, &st) == 0 && st.st_size >= off_t(done)) {
                    if (::ftruncate(fd_, st.st_size - off_t(done)) != 0) err_ += " (and a record is cut short)";
                }
                return false;
            }
            done += size_t(w);
            // Skip what was written.
            size_t left = size_t(w);
            while (n && left >= iov->iov_len) {
                left -= iov->iov_len;
                ++iov;
                --n;
            }
            if (n) {
                iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + left;
                iov->iov_len -= left;
            }
        }
        return true;
    }

    std::string path_;
    uint32_t linktype_;
    bool buffered_;
    bool nano_ = true;
    int fd_ = -1;
    std::vector<uint8_t> buf_;
    std::string err_;
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

std::unique_ptr<PacketSink> open_pcap_writer(const std::string& path, int linktype, std::string& err, bool buffered) {
    auto w = std::make_unique<PcapWriter>(path, linktype, buffered);
    if (!w->open(false, err)) return nullptr;
    return w;
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
