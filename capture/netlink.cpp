#include "capture/netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace regrelay::capture {

namespace {

// mnl_attr_for_each / mnl_attr_for_each_nested, without their C casts from void*.
template <class F>
void for_each_attr(const char* begin, const char* end, F&& f) {
    const auto* a = reinterpret_cast<const nlattr*>(begin);
    while (mnl_attr_ok(a, int(end - reinterpret_cast<const char*>(a)))) {
        f(a);
        a = static_cast<const nlattr*>(mnl_attr_next(a));
    }
}

const char* attr_begin(const nlattr* a) { return static_cast<const char*>(mnl_attr_get_payload(a)); }
const char* attr_end(const nlattr* a) { return reinterpret_cast<const char*>(a) + a->nla_len; }

// IFLA_AF_SPEC of an AF_BRIDGE message: IFLA_BRIDGE_VLAN_INFO entries, single or ranges.
bool parse_vlans(const nlattr* spec, LinkMessage& out) {
    bool ok = true;
    bool in_range = false;  // a RANGE_BEGIN seen, waiting for its RANGE_END
    uint16_t begin_vid = 0, begin_flags = 0;
    for_each_attr(attr_begin(spec), attr_end(spec), [&](const nlattr* a) {
        if (!ok || mnl_attr_get_type(a) != IFLA_BRIDGE_VLAN_INFO) return;
        if (mnl_attr_get_payload_len(a) < sizeof(bridge_vlan_info)) {
            ok = false;
            return;
        }
        bridge_vlan_info vi;
        std::memcpy(&vi, mnl_attr_get_payload(a), sizeof vi);
        out.has_vlans = true;
        if (vi.vid == 0 || vi.vid >= 4095) {
            ok = false;
            return;
        }
        if (vi.flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
            if (in_range) ok = false;  // two begins
            in_range = true;
            begin_vid = vi.vid;
            begin_flags = vi.flags;
            return;
        }
        uint16_t first = vi.vid;
        uint16_t flags = vi.flags;
        if (vi.flags & BRIDGE_VLAN_INFO_RANGE_END) {
            if (!in_range || begin_vid > vi.vid) {
                ok = false;
                return;
            }
            first = begin_vid;
            flags = begin_flags;
            in_range = false;
        } else if (in_range) {
            ok = false;  // a begin not followed by its end
            return;
        }
        for (unsigned v = first; v <= vi.vid; ++v)
            out.vlans.push_back({uint16_t(v), (flags & BRIDGE_VLAN_INFO_PVID) != 0,
                                 (flags & BRIDGE_VLAN_INFO_UNTAGGED) != 0});
    });
    if (in_range) ok = false;
    std::sort(out.vlans.begin(), out.vlans.end(), [](const BridgeVlan& x, const BridgeVlan& y) { return x.vid < y.vid; });
    out.vlans.erase(std::unique(out.vlans.begin(), out.vlans.end(),
                                [](const BridgeVlan& x, const BridgeVlan& y) { return x.vid == y.vid; }),
                    out.vlans.end());
    return ok;
}

}  // namespace

bool parse_link_message(const nlmsghdr* h, LinkMessage& out) {
    out = {};
    if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) return false;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return false;
    ifinfomsg ifi;
    std::memcpy(&ifi, mnl_nlmsg_get_payload(h), sizeof ifi);
    out.deleted = h->nlmsg_type == RTM_DELLINK;
    out.bridge_family = ifi.ifi_family == AF_BRIDGE;
    if (ifi.ifi_index <= 0) return false;
    out.ifindex = unsigned(ifi.ifi_index);
    out.up = (ifi.ifi_flags & IFF_UP) != 0;
    bool ok = true;
    const char* begin = static_cast<const char*>(mnl_nlmsg_get_payload(h)) + MNL_ALIGN(sizeof(ifinfomsg));
    const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(h));
    if (begin > end) return false;
    for_each_attr(begin, end, [&](const nlattr* a) {
        switch (mnl_attr_get_type(a)) {
            case IFLA_IFNAME:
                if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) out.name = mnl_attr_get_str(a);
                else ok = false;
                break;
            case IFLA_MASTER:
                if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) out.master = mnl_attr_get_u32(a);
                else ok = false;
                break;
            case IFLA_AF_SPEC:
                if (out.bridge_family && !parse_vlans(a, out)) ok = false;
                break;
            default: break;
        }
    });
    return ok;
}

PortVlanTable summarize_vlans(const std::vector<BridgeVlan>& vlans) {
    PortVlanTable t;
    for (const auto& v : vlans) {
        if (v.pvid) {
            t.pvid = v.vid;
            t.pvid_untagged = v.untagged;
        } else if (!v.untagged) {
            t.tagged.push_back(v.vid);
        }
    }
    return t;
}

std::string describe_vlans(const std::vector<BridgeVlan>& vlans) {
    const PortVlanTable t = summarize_vlans(vlans);
    std::string s;
    if (t.pvid) {
        s = "pvid ";
        s += std::to_string(t.pvid);
        s += t.pvid_untagged ? " untagged" : " tagged";
    }
    if (!t.tagged.empty()) {
        if (!s.empty()) s += ", ";
        s += "tagged ";
        for (size_t i = 0; i < t.tagged.size(); ++i) {
            if (i) s += ',';
            s += std::to_string(t.tagged[i]);
        }
    }
    return s.empty() ? std::string("no VLANs") : s;
}

size_t build_bridge_dump_request(char* buf, size_t size, uint32_t seq) {
    if (size < size_t(MNL_SOCKET_BUFFER_SIZE / 8)) return 0;
    std::memset(buf, 0, size);
    nlmsghdr* h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = RTM_GETLINK;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    h->nlmsg_seq = seq;
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_BRIDGE;
    mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN);
    return h->nlmsg_len;
}

namespace {

struct DumpState {
    std::vector<BridgePort>* out;
};

int on_dump(const nlmsghdr* h, void* data) {
    auto* st = static_cast<DumpState*>(data);
    LinkMessage m;
    if (!parse_link_message(h, m)) return MNL_CB_OK;  // a port whose message does not parse is left out
    if (!m.master || *m.master == 0 || *m.master == m.ifindex) return MNL_CB_OK;  // the bridge itself
    st->out->push_back({m.ifindex, m.name, *m.master, m.has_vlans, std::move(m.vlans)});
    return MNL_CB_OK;
}

}  // namespace

bool dump_bridge_ports(std::vector<BridgePort>& out, std::string& err) {
    out.clear();
    mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl) {
        err = std::string("rtnetlink socket: ") + strerror(errno);
        return false;
    }
    bool ok = false;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    const uint32_t seq = uint32_t(::time(nullptr));
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        err = std::string("rtnetlink bind: ") + strerror(errno);
    } else {
        const size_t len = build_bridge_dump_request(buf.data(), buf.size(), seq);
        if (mnl_socket_sendto(nl, buf.data(), len) < 0) {
            err = std::string("rtnetlink bridge dump: ") + strerror(errno);
        } else {
            DumpState st{&out};
            const unsigned portid = mnl_socket_get_portid(nl);
            for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
                if (n < 0) {
                    err = std::string("rtnetlink bridge dump: ") + strerror(errno);
                    break;
                }
                int r = mnl_cb_run(buf.data(), size_t(n), seq, portid, on_dump, &st);
                if (r == MNL_CB_STOP) {
                    ok = true;
                    break;
                }
                if (r == MNL_CB_ERROR) {
                    err = std::string("rtnetlink bridge dump: ") + strerror(errno);
                    break;
                }
            }
        }
    }
    mnl_socket_close(nl);
    return ok;
}

LinkMonitor::~LinkMonitor() {
    if (nl_) mnl_socket_close(nl_);
}

bool LinkMonitor::open(std::string& err) {
    nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!nl_) {
        err = std::string("rtnetlink socket: ") + strerror(errno);
        return false;
    }
    // Bursts (a bridge with dozens of ports coming up) must not overrun the default buffer.
    int bytes = 1 << 20;
    setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    // RTNLGRP_LINK carries both families: the links themselves and the bridges' per-port
    // messages (membership, VLAN table).
    if (mnl_socket_bind(nl_, RTMGRP_LINK | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID) < 0) {
        err = std::string("rtnetlink bind: ") + strerror(errno);
        mnl_socket_close(nl_);
        nl_ = nullptr;
        return false;
    }
    return true;
}

int LinkMonitor::fd() const { return nl_ ? mnl_socket_get_fd(nl_) : -1; }

void LinkMonitor::on_message(const nlmsghdr* h, Changes& ch) {
    switch (h->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK: {
            LinkMessage m;
            if (!parse_link_message(h, m)) {
                // Malformed: what it was about is unknown, so everything is read again.
                ch.overrun = true;
                break;
            }
            if (m.bridge_family) {
                ch.bridge.push_back(std::move(m));
                break;
            }
            ch.links.push_back({m.ifindex, std::move(m.name), m.deleted, m.up, m.master});
            break;
        }
        case RTM_NEWADDR:
        case RTM_DELADDR: ch.addresses = true; break;
        default: break;
    }
}

namespace {
int on_notification(const nlmsghdr* h, void* data) {
    LinkMonitor::on_message(h, *static_cast<LinkMonitor::Changes*>(data));
    return MNL_CB_OK;
}
}  // namespace

LinkMonitor::Changes LinkMonitor::drain() {
    Changes ch;
    if (!nl_) return ch;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
        if (n < 0) {
            if (errno == ENOBUFS) {  // notifications were lost: the caller rereads everything
                ch.overrun = true;
                continue;
            }
            break;  // EAGAIN: drained
        }
        // Notifications carry sequence 0 and port id 0: check neither.
        mnl_cb_run(buf.data(), size_t(n), 0, 0, on_notification, &ch);
    }
    return ch;
}

}  // namespace regrelay::capture
