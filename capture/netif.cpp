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

std::vector<Interface> list_interfaces() {
    std::vector<Interface> out;
    struct ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    auto entry = [&](const char* name) -> Interface& {
        for (auto& i : out)
            if (i.name == name) return i;
        out.push_back({});
        out.back().name = name;
        out.back().index = if_nametoindex(name);
        return out.back();
    };
    for (struct ifaddrs* a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr || !a->ifa_name) continue;
        if (a->ifa_addr->sa_family == AF_INET6) {
            auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
            entry(a->ifa_name).addresses.push_back(Ip6Addr::from({sin6->sin6_addr.s6_addr, 16}));
        } else if (a->ifa_addr->sa_family == AF_PACKET) {
            Interface& it = entry(a->ifa_name);
            it.up = (a->ifa_flags & IFF_UP) != 0;
            it.running = (a->ifa_flags & IFF_RUNNING) != 0;
            auto* ll = reinterpret_cast<const sockaddr_ll*>(a->ifa_addr);
            it.index = unsigned(ll->sll_ifindex);
            if (ll->sll_halen == 6) it.mac = MacAddr::from({ll->sll_addr, 6});
        }
    }
    freeifaddrs(list);
    // An interface that vanished between getifaddrs and if_nametoindex has index 0: leave it out.
    std::erase_if(out, [](const Interface& i) { return i.index == 0; });
    return out;
}

std::optional<Interface> find_interface(const std::string& name) {
    for (auto& i : list_interfaces())
        if (i.name == name) return i;
    return std::nullopt;
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
