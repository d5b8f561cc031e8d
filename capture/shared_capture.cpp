#include "capture/shared_capture.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace regrelay::capture {

bool reinsert_vlan_tag(Bytes frame, uint16_t tpid, uint16_t tci, std::vector<uint8_t>& out) {
    if (frame.size() < 12) return false;
    out.resize(frame.size() + 4);
    std::memcpy(out.data(), frame.data(), 12);
    out[12] = uint8_t(tpid >> 8);
    out[13] = uint8_t(tpid);
    out[14] = uint8_t(tci >> 8);
    out[15] = uint8_t(tci);
    std::memcpy(out.data() + 16, frame.data() + 12, frame.size() - 12);
    return true;
}

void IfindexSet::add(unsigned ifindex) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), ifindex,
                               [](const auto& e, unsigned k) { return e.first < k; });
    if (it != entries_.end() && it->first == ifindex) ++it->second;
    else entries_.insert(it, {ifindex, 1u});
}

bool IfindexSet::remove(unsigned ifindex) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), ifindex,
                               [](const auto& e, unsigned k) { return e.first < k; });
    if (it == entries_.end() || it->first != ifindex) return false;
    if (--it->second == 0) entries_.erase(it);
    return true;
}

bool IfindexSet::contains(unsigned ifindex) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), ifindex,
                               [](const auto& e, unsigned k) { return e.first < k; });
    return it != entries_.end() && it->first == ifindex;
}

std::vector<unsigned> IfindexSet::list() const {
    std::vector<unsigned> v;
    for (const auto& e : entries_) v.push_back(e.first);
    return v;
}

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// A port's membership in the shared capture (see SharedCapture::membership).
class Membership final : public PacketSource {
public:
    Membership(std::shared_ptr<IfindexSet> set, unsigned ifindex, std::string name)
        : set_(std::move(set)), ifindex_(ifindex), name_(std::move(name)) {
        set_->add(ifindex_);
    }
    ~Membership() override { set_->remove(ifindex_); }
    ReadStatus next(Packet&) override { return ReadStatus::kTimeout; }
    int linktype() const override { return 1; }
    std::string name() const override { return name_; }
    std::string error() const override { return {}; }

private:
    std::shared_ptr<IfindexSet> set_;
    unsigned ifindex_;
    std::string name_;
};

// The BPF program libpcap makes of `filter` on a live handle of `iface`.
bool compile_filter(const std::string& iface, const SharedOptions& opt, std::vector<sock_filter>& code,
                    std::string& err) {
    char ebuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_create(iface.c_str(), ebuf);
    if (!p) {
        err = iface + ": " + ebuf;
        return false;
    }
    pcap_set_snaplen(p, opt.snaplen);
    pcap_set_buffer_size(p, 1 << 16);  // the handle is only compiled on
    pcap_set_immediate_mode(p, 1);
    if (pcap_activate(p) < 0) {
        err = iface + ": " + pcap_geterr(p);
        pcap_close(p);
        return false;
    }
    if (pcap_datalink(p) != DLT_EN10MB) {
        err = iface + ": not an Ethernet interface";
        pcap_close(p);
        return false;
    }
    bpf_program prog{};
    if (pcap_compile(p, &prog, opt.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        err = "filter: " + std::string(pcap_geterr(p));
        pcap_close(p);
        return false;
    }
    static_assert(sizeof(sock_filter) == sizeof(bpf_insn));
    code.resize(prog.bf_len);
    std::memcpy(code.data(), prog.bf_insns, sizeof(sock_filter) * prog.bf_len);
    pcap_freecode(&prog);
    pcap_close(p);
    return true;
}

// The block status word, read and written as the kernel does (it is shared with it).
uint32_t* status_word(uint8_t* block) {
    return reinterpret_cast<uint32_t*>(block + offsetof(tpacket_block_desc, hdr) + offsetof(tpacket_bd_header_u, bh1) +
                                       offsetof(tpacket_hdr_v1, block_status));
}

}  // namespace

std::unique_ptr<SharedCapture> SharedCapture::open(const std::string& compile_iface, const SharedOptions& opt,
                                                   std::string& err) {
    std::vector<sock_filter> code;
    if (!compile_filter(compile_iface, opt, code, err)) return nullptr;
    if (opt.block_bytes < 4096 || opt.block_bytes % 4096 || opt.blocks == 0 || code.size() > 0xffff) {
        err = "shared capture: bad ring geometry";
        return nullptr;
    }
    std::unique_ptr<SharedCapture> c(new SharedCapture());
    // Protocol 0 until bound: nothing is queued before the filter is on.
    c->fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd_ < 0) {
        err = errno_text("socket(AF_PACKET)");
        return nullptr;
    }
    const sock_fprog prog{uint16_t(code.size()), code.data()};
    if (::setsockopt(c->fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
        err = errno_text("SO_ATTACH_FILTER");
        return nullptr;
    }
    int one = 1;
    if (opt.ignore_outgoing && ::setsockopt(c->fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0) {
        err = errno_text("PACKET_IGNORE_OUTGOING");
        return nullptr;
    }
    int v = TPACKET_V3;
    if (::setsockopt(c->fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0) {
        err = errno_text("PACKET_VERSION TPACKET_V3");
        return nullptr;
    }
    tpacket_req3 req{};
    req.tp_block_size = opt.block_bytes;
    req.tp_block_nr = opt.blocks;
    req.tp_frame_size = 2048;  // not a slot size in V3 (frames are packed), but checked by the kernel
    req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
    req.tp_retire_blk_tov = std::max(1u, opt.block_timeout_ms);
    if (::setsockopt(c->fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
        err = errno_text("PACKET_RX_RING");
        return nullptr;
    }
    c->block_bytes_ = req.tp_block_size;
    c->blocks_ = req.tp_block_nr;
    c->ring_len_ = size_t(req.tp_block_size) * req.tp_block_nr;
    void* m = ::mmap(nullptr, c->ring_len_, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd_, 0);
    if (m == MAP_FAILED) {
        err = errno_text("mmap(PACKET_RX_RING)");
        return nullptr;
    }
    c->ring_ = static_cast<uint8_t*>(m);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = 0;  // every interface of the namespace
    if (::bind(c->fd_, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) {
        err = errno_text("bind(AF_PACKET)");
        return nullptr;
    }
    return c;
}

SharedCapture::~SharedCapture() {
    if (ring_) ::munmap(ring_, ring_len_);
    if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<PacketSource> SharedCapture::membership(unsigned ifindex, const std::string& name) {
    return std::make_unique<Membership>(served_, ifindex, name);
}

void SharedCapture::release_block() {
    uint8_t* b = ring_ + size_t(block_) * block_bytes_;
    __atomic_store_n(status_word(b), uint32_t(TP_STATUS_KERNEL), __ATOMIC_RELEASE);
    block_ = (block_ + 1) % blocks_;
    in_block_ = false;
}

ReadStatus SharedCapture::next_routed(const Route& route, SharedFrame& f, size_t& port) {
    for (;;) {
        const ReadStatus st = next(f);
        if (st == ReadStatus::kError) spdlog::error("{}", error_);
        if (st != ReadStatus::kPacket) return st;
        auto it = std::lower_bound(route.begin(), route.end(), f.ifindex,
                                   [](const auto& r, unsigned x) { return r.first < x; });
        if (it == route.end() || it->first != f.ifindex) continue;
        port = it->second;
        return st;
    }
}

std::string SharedCapture::take_socket_error() {
    int e = 0;
    socklen_t el = sizeof e;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &e, &el);
    return strerror(e);
}

ReadStatus SharedCapture::next(SharedFrame& f) {
    for (;;) {
        if (in_block_ && left_ == 0) release_block();
        uint8_t* b = ring_ + size_t(block_) * block_bytes_;
        if (!in_block_) {
            if (!(__atomic_load_n(status_word(b), __ATOMIC_ACQUIRE) & TP_STATUS_USER)) return ReadStatus::kTimeout;
            tpacket_block_desc bd;
            std::memcpy(&bd, b, sizeof bd);
            ++stats_.blocks;
            if (bd.hdr.bh1.block_status & TP_STATUS_LOSING) {
                ++stats_.losing_blocks;
                (void)kernel_drops();  // the statistics flag stays set until they are read
            }
            if (bd.hdr.bh1.offset_to_first_pkt >= block_bytes_) {
                error_ = "shared capture: corrupt ring block";
                return ReadStatus::kError;
            }
            in_block_ = true;
            left_ = bd.hdr.bh1.num_pkts;
            pkt_ = b + bd.hdr.bh1.offset_to_first_pkt;
            continue;
        }
        const size_t at = size_t(pkt_ - b);
        tpacket3_hdr h;
        sockaddr_ll sll;
        const size_t sll_at = TPACKET_ALIGN(sizeof(tpacket3_hdr));
        if (at + sll_at + sizeof sll > block_bytes_) {
            error_ = "shared capture: corrupt ring block";
            return ReadStatus::kError;
        }
        std::memcpy(&h, pkt_, sizeof h);
        std::memcpy(&sll, pkt_ + sll_at, sizeof sll);
        --left_;
        uint8_t* here = pkt_;
        if (left_) {
            if (h.tp_next_offset == 0 || at + h.tp_next_offset >= block_bytes_) {
                error_ = "shared capture: corrupt ring block";
                return ReadStatus::kError;
            }
            pkt_ += h.tp_next_offset;
        }
        if (at + h.tp_mac + h.tp_snaplen > block_bytes_) {
            error_ = "shared capture: corrupt ring block";
            return ReadStatus::kError;
        }
        if (sll.sll_pkttype == PACKET_OUTGOING) {
            ++stats_.outgoing;
            continue;
        }
        const unsigned ifindex = unsigned(sll.sll_ifindex);
        if (!served_->contains(ifindex)) {
            ++stats_.foreign;
            continue;
        }
        f.ifindex = ifindex;
        f.ts.sec = int64_t(h.tp_sec);
        f.ts.nsec = h.tp_nsec;
        f.wire_len = h.tp_len;
        const Bytes raw(here + h.tp_mac, h.tp_snaplen);
        f.tag_from_metadata = (h.tp_status & TP_STATUS_VLAN_VALID) != 0;
        if (f.tag_from_metadata) {
            const uint16_t tpid =
                h.tp_status & TP_STATUS_VLAN_TPID_VALID ? uint16_t(h.hv1.tp_vlan_tpid) : uint16_t(ETH_P_8021Q);
            if (reinsert_vlan_tag(raw, tpid, uint16_t(h.hv1.tp_vlan_tci), scratch_)) {
                f.data = Bytes(scratch_.data(), scratch_.size());
                f.wire_len += 4;
            } else {
                f.data = raw;
            }
        } else {
            f.data = raw;
        }
        ++stats_.frames;
        return ReadStatus::kPacket;
    }
}

uint64_t SharedCapture::kernel_drops() const {
    tpacket_stats_v3 st{};
    socklen_t sl = sizeof st;
    if (fd_ >= 0 && ::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0) drops_ += st.tp_drops;
    return drops_;
}

}  // namespace regrelay::capture
