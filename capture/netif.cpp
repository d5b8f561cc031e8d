#include "capture/netif.h"

#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>

namespace regrelay::capture {

std::optional<Ip6Addr> Interface::routable_address() const {
    for (const auto& a : addresses)
        if (a.is_routable_unicast()) return a;
    return std::nullopt;
}

std::optional<Ip6Addr> Interface::link_local() const {
    for (const auto& a : addresses)
        if (a.is_link_local()) return a;
    return std::nullopt;
}

std::optional<Interface> find_interface(const std::string& name) {
    unsigned index = if_nametoindex(name.c_str());
    if (index == 0) return std::nullopt;
    Interface it;
    it.name = name;
    it.index = index;
    struct ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return it;
    for (struct ifaddrs* a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr || name != a->ifa_name) continue;
        if (a->ifa_addr->sa_family == AF_INET6) {
            auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
            it.addresses.push_back(Ip6Addr::from({sin6->sin6_addr.s6_addr, 16}));
        } else if (a->ifa_addr->sa_family == AF_PACKET) {
            auto* ll = reinterpret_cast<const sockaddr_ll*>(a->ifa_addr);
            if (ll->sll_halen == 6) it.mac = MacAddr::from({ll->sll_addr, 6});
        }
    }
    freeifaddrs(list);
    return it;
}

std::vector<Ip6Addr> host_addresses() {
    std::vector<Ip6Addr> out;
    struct ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (struct ifaddrs* a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET6) continue;
        auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
        out.push_back(Ip6Addr::from({sin6->sin6_addr.s6_addr, 16}));
    }
    freeifaddrs(list);
    return out;
}

}  // namespace regrelay::capture
