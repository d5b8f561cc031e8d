// What the kernel will do with a UDP GSO send toward a server: which interface the route leaves
// by (rtnetlink RTM_GETROUTE) and whether that interface segments UDP itself or lets the kernel
// cut the datagrams in software before it (ethtool features: tx-udp-segmentation, and the
// transmit checksum offload UDP GSO needs). relay/daemon.cpp decides from this per server.
#pragma once

#include <optional>
#include <string>

#include "dhcp6/wire.h"

namespace regrelay::capture {

// The interface (ifindex) the kernel's route toward `dst` leaves by; nullopt and `err` when
// there is no route or rtnetlink fails.
std::optional<unsigned> route_interface(const Ip6Addr& dst, std::string& err);

struct Offloads {
    bool udp_segmentation = false;  // tx-udp-segmentation active: the device gets one large datagram
    bool tx_checksum = false;       // tx-checksum-ipv6 or tx-checksum-ip-generic active
};
// The active features of interface `ifname` (SIOCETHTOOL: ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS,
// ETHTOOL_GFEATURES; no privilege needed). nullopt and `err` when they cannot be read.
std::optional<Offloads> read_offloads(const std::string& ifname, std::string& err);

enum class GsoMode { Auto, On, Off };
struct GsoChoice {
    bool on = false;
    std::string why;  // for the log line
};
// The rule (pure): Off never, On always (the operator knows that nothing captures between this
// host and the segmenting NIC, or does not mind), Auto only where the kernel cuts the datagrams
// in software before the interface and its taps: the interface's tx-udp-segmentation is off
// and it offloads the transmit checksum (UDP GSO needs it). A NIC or virtual link that does the
// segmentation itself (veth, bridge, VLAN devices by default) would hand one large datagram to
// tcpdump on this host, or, virtual, to the next namespace's taps and stack: no GSO there.
GsoChoice choose_gso(GsoMode mode, const std::string& ifname, const std::optional<Offloads>& features);

}  // namespace regrelay::capture
