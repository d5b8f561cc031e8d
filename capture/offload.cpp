#include "capture/offload.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

namespace regrelay::capture {

namespace {

struct RouteState {
    std::optional<unsigned> oif;
};

int on_route_attr(const nlattr* a, void* data) {
    auto* st = static_cast<RouteState*>(data);
    if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) st->oif = mnl_attr_get_u32(a);
    return MNL_CB_OK;
}

int on_route(const nlmsghdr* h, void* data) {
    if (h->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
    if (mnl_nlmsg_get_payload_len(h) < sizeof(rtmsg)) return MNL_CB_ERROR;
    return mnl_attr_parse(h, sizeof(rtmsg), on_route_attr, data);
}

}  // namespace

std::optional<unsigned> route_interface(const Ip6Addr& dst, std::string& err) {
    std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC),
                                                          mnl_socket_close);
    if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
        err = std::string("rtnetlink: ") + strerror(errno);
        return std::nullopt;
    }
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
    h->nlmsg_type = RTM_GETROUTE;
    h->nlmsg_flags = NLM_F_REQUEST;
    const uint32_t seq = uint32_t(::time(nullptr));
    h->nlmsg_seq = seq;
    auto* rt = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
    rt->rtm_family = AF_INET6;
    rt->rtm_dst_len = 128;
    mnl_attr_put(h, RTA_DST, 16, dst.b.data());
    if (mnl_socket_sendto(nl.get(), h, h->nlmsg_len) < 0) {
        err = std::string("rtnetlink route query: ") + strerror(errno);
        return std::nullopt;
    }
    RouteState st;
    const ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
    if (n < 0 || mnl_cb_run(buf.data(), size_t(n), seq, mnl_socket_get_portid(nl.get()), on_route, &st) < 0) {
        err = "no route to " + dst.str() + ": " + strerror(errno);
        return std::nullopt;
    }
    if (!st.oif) err = "the route to " + dst.str() + " names no interface";
    return st.oif;
}

std::optional<Offloads> read_offloads(const std::string& ifname, std::string& err) {
    if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
        err = "bad interface name";
        return std::nullopt;
    }
    const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = std::string("socket: ") + strerror(errno);
        return std::nullopt;
    }
    auto ethtool = [&](void* cmd) {
        ifreq ifr{};
        std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
        ifr.ifr_data = static_cast<char*>(cmd);
        return ::ioctl(fd, SIOCETHTOOL, &ifr) == 0;
    };
    std::optional<Offloads> out;
    // How many features the kernel names, then their names, then which are active.
    alignas(ethtool_sset_info) uint8_t info_buf[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
    auto* info = reinterpret_cast<ethtool_sset_info*>(info_buf);
    info->cmd = ETHTOOL_GSSET_INFO;
    info->sset_mask = 1ULL << ETH_SS_FEATURES;
    uint32_t count = 0;
    const bool got = ethtool(info_buf);
    std::memcpy(&count, info_buf + sizeof(ethtool_sset_info), sizeof count);
    if (!got || !(info->sset_mask & (1ULL << ETH_SS_FEATURES)) || count == 0 || count > 4096) {
        err = ifname + ": ethtool features: " + strerror(errno);
        ::close(fd);
        return out;
    }
    std::vector<uint8_t> names(sizeof(ethtool_gstrings) + size_t(count) * ETH_GSTRING_LEN);
    auto* gs = reinterpret_cast<ethtool_gstrings*>(names.data());
    gs->cmd = ETHTOOL_GSTRINGS;
    gs->string_set = ETH_SS_FEATURES;
    gs->len = count;
    const uint32_t blocks = (count + 31) / 32;
    std::vector<uint8_t> feat(sizeof(ethtool_gfeatures) + size_t(blocks) * sizeof(ethtool_get_features_block));
    auto* gf = reinterpret_cast<ethtool_gfeatures*>(feat.data());
    gf->cmd = ETHTOOL_GFEATURES;
    gf->size = blocks;
    if (!ethtool(gs) || !ethtool(gf)) {
        err = ifname + ": ethtool features: " + strerror(errno);
        ::close(fd);
        return out;
    }
    ::close(fd);
    auto active = [&](const char* name) {
        for (uint32_t i = 0; i < count && i < gs->len; ++i) {
            const char* s = reinterpret_cast<const char*>(gs->data + size_t(i) * ETH_GSTRING_LEN);
            if (strncmp(s, name, ETH_GSTRING_LEN) == 0) return (gf->features[i / 32].active >> (i % 32) & 1) != 0;
        }
        return false;
    };
    Offloads o;
    o.udp_segmentation = active("tx-udp-segmentation");
    o.tx_checksum = active("tx-checksum-ipv6") || active("tx-checksum-ip-generic");
    out = o;
    return out;
}

GsoChoice choose_gso(GsoMode mode, const std::string& ifname, const std::optional<Offloads>& f) {
    GsoChoice c;
    switch (mode) {
    case GsoMode::Off:
        c.why = "--udp-gso off";
        return c;
    case GsoMode::On:
        c.on = true;
        c.why = "--udp-gso on";
        return c;
    case GsoMode::Auto:
        break;
    }
    const std::string on = ifname.empty() ? std::string("the route's interface") : ifname;
    if (!f) {
        c.why = on + ": its offload features could not be read";
    } else if (f->udp_segmentation) {
        c.why = on + " has tx-udp-segmentation on (it would carry one large datagram past its taps)";
    } else if (!f->tx_checksum) {
        c.why = on + " has no transmit checksum offload (UDP GSO needs it)";
    } else {
        c.on = true;
        c.why = on + " has tx-udp-segmentation off: the kernel cuts the datagrams before the interface";
    }
    return c;
}

}  // namespace regrelay::capture
