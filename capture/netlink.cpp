#include "capture/netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace regrelay::capture {

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
    if (mnl_socket_bind(nl_, RTMGRP_LINK | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID) < 0) {
        err = std::string("rtnetlink bind: ") + strerror(errno);
        mnl_socket_close(nl_);
        nl_ = nullptr;
        return false;
    }
    return true;
}

int LinkMonitor::fd() const { return nl_ ? mnl_socket_get_fd(nl_) : -1; }

namespace {

int on_message(const nlmsghdr* h, void* data) {
    auto* ch = static_cast<LinkMonitor::Changes*>(data);
    switch (h->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK: {
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) break;
            const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h));
            // A bridge's per-port messages (AF_BRIDGE: a port joining or leaving a bridge, its
            // VLANs) are not the interface itself coming or going.
            if (ifi->ifi_family == AF_BRIDGE) break;
            LinkMonitor::LinkEvent e;
            e.ifindex = unsigned(ifi->ifi_index);
            e.deleted = h->nlmsg_type == RTM_DELLINK;
            e.up = (ifi->ifi_flags & IFF_UP) != 0;
            // mnl_attr_for_each, without its C casts from void*.
            const size_t off = MNL_ALIGN(sizeof(ifinfomsg));
            const auto* a = reinterpret_cast<const nlattr*>(static_cast<const char*>(mnl_nlmsg_get_payload(h)) + off);
            const void* end = mnl_nlmsg_get_payload_tail(h);
            for (; mnl_attr_ok(a, int(static_cast<const char*>(end) - reinterpret_cast<const char*>(a)));
                 a = static_cast<const nlattr*>(mnl_attr_next(a))) {
                if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                    e.name = mnl_attr_get_str(a);
            }
            ch->links.push_back(std::move(e));
            break;
        }
        case RTM_NEWADDR:
        case RTM_DELADDR: ch->addresses = true; break;
        default: break;
    }
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
        mnl_cb_run(buf.data(), size_t(n), 0, 0, on_message, &ch);
    }
    return ch;
}

}  // namespace regrelay::capture
