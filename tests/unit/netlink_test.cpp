// Unit tests for the rtnetlink parsing of capture/netlink.h (links, bridge membership, the
// bridge's VLAN table) on messages built in memory with libmnl, and for the port selection of
// capture/live_ports.h (names, globs, a bridge's ports).

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "capture/live_ports.h"
#include "capture/netlink.h"

namespace {

using namespace regrelay::capture;

// An RTM_NEWLINK/RTM_DELLINK being built in a buffer of its own.
class Msg {
public:
    Msg(uint16_t type, uint8_t family, int ifindex, unsigned flags = IFF_UP) : buf_(MNL_SOCKET_BUFFER_SIZE) {
        h_ = mnl_nlmsg_put_header(buf_.data());
        h_->nlmsg_type = type;
        auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h_, sizeof(ifinfomsg)));
        ifi->ifi_family = family;
        ifi->ifi_index = ifindex;
        ifi->ifi_flags = flags;
    }
    Msg& name(const char* n) {
        mnl_attr_put_strz(h_, IFLA_IFNAME, n);
        return *this;
    }
    Msg& master(uint32_t m) {
        mnl_attr_put_u32(h_, IFLA_MASTER, m);
        return *this;
    }
    // IFLA_AF_SPEC with these IFLA_BRIDGE_VLAN_INFO entries (and an IFLA_BRIDGE_FLAGS first, as
    // the kernel may send).
    Msg& vlans(const std::vector<bridge_vlan_info>& v) {
        nlattr* nest = mnl_attr_nest_start(h_, IFLA_AF_SPEC);
        mnl_attr_put_u16(h_, IFLA_BRIDGE_FLAGS, 0);
        for (const auto& i : v) mnl_attr_put(h_, IFLA_BRIDGE_VLAN_INFO, sizeof i, &i);
        mnl_attr_nest_end(h_, nest);
        return *this;
    }
    nlmsghdr* h() { return h_; }

private:
    std::vector<char> buf_;
    nlmsghdr* h_;
};

bridge_vlan_info vi(uint16_t vid, uint16_t flags = 0) {
    bridge_vlan_info v{};
    v.vid = vid;
    v.flags = flags;
    return v;
}

TEST(NetlinkParse, LinkWithNameMasterAndState) {
    Msg m(RTM_NEWLINK, AF_UNSPEC, 7);
    m.name("p3").master(4);
    LinkMessage out;
    ASSERT_TRUE(parse_link_message(m.h(), out));
    EXPECT_FALSE(out.deleted);
    EXPECT_FALSE(out.bridge_family);
    EXPECT_EQ(out.ifindex, 7u);
    EXPECT_EQ(out.name, "p3");
    EXPECT_TRUE(out.up);
    ASSERT_TRUE(out.master.has_value());
    EXPECT_EQ(*out.master, 4u);
    EXPECT_FALSE(out.has_vlans);

    Msg d(RTM_DELLINK, AF_UNSPEC, 7, 0);
    d.name("p3");
    ASSERT_TRUE(parse_link_message(d.h(), out));
    EXPECT_TRUE(out.deleted);
    EXPECT_FALSE(out.up);
    EXPECT_FALSE(out.master.has_value());  // the message says nothing about a master
}

TEST(NetlinkParse, BridgeVlanTableAccessAndTrunk) {
    // An access port: VLAN 10 PVID and untagged; plus tagged 20 and the range 30-32.
    Msg m(RTM_NEWLINK, AF_BRIDGE, 9);
    m.name("p1").master(3).vlans({vi(10, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED), vi(20),
                                  vi(30, BRIDGE_VLAN_INFO_RANGE_BEGIN), vi(32, BRIDGE_VLAN_INFO_RANGE_END)});
    LinkMessage out;
    ASSERT_TRUE(parse_link_message(m.h(), out));
    EXPECT_TRUE(out.bridge_family);
    EXPECT_TRUE(out.has_vlans);
    EXPECT_EQ(*out.master, 3u);
    ASSERT_EQ(out.vlans.size(), 5u);
    EXPECT_EQ(out.vlans[0], (BridgeVlan{10, true, true}));
    EXPECT_EQ(out.vlans[1], (BridgeVlan{20, false, false}));
    EXPECT_EQ(out.vlans[2], (BridgeVlan{30, false, false}));
    EXPECT_EQ(out.vlans[3], (BridgeVlan{31, false, false}));
    EXPECT_EQ(out.vlans[4], (BridgeVlan{32, false, false}));

    const PortVlanTable t = summarize_vlans(out.vlans);
    EXPECT_EQ(t.pvid, 10);
    EXPECT_TRUE(t.pvid_untagged);
    EXPECT_EQ(t.tagged, (std::vector<uint16_t>{20, 30, 31, 32}));
    EXPECT_EQ(describe_vlans(out.vlans), "pvid 10 untagged, tagged 20,30,31,32");
    EXPECT_EQ(describe_vlans({}), "no VLANs");
}

TEST(NetlinkParse, RangeFlagsComeFromItsBegin) {
    // A range of untagged PVID-less VLANs: members that leave untagged, not tagged VLANs.
    Msg m(RTM_NEWLINK, AF_BRIDGE, 9);
    m.name("p1").master(3).vlans({vi(5, BRIDGE_VLAN_INFO_RANGE_BEGIN | BRIDGE_VLAN_INFO_UNTAGGED),
                                  vi(6, BRIDGE_VLAN_INFO_RANGE_END | BRIDGE_VLAN_INFO_UNTAGGED)});
    LinkMessage out;
    ASSERT_TRUE(parse_link_message(m.h(), out));
    ASSERT_EQ(out.vlans.size(), 2u);
    EXPECT_TRUE(out.vlans[0].untagged);
    EXPECT_TRUE(out.vlans[1].untagged);
    EXPECT_TRUE(summarize_vlans(out.vlans).tagged.empty());
    EXPECT_EQ(summarize_vlans(out.vlans).pvid, 0);
}

TEST(NetlinkParse, PlainBridgePortHasNoVlans) {
    // A bridge without VLAN filtering sends its ports' AF_BRIDGE messages without IFLA_AF_SPEC.
    Msg m(RTM_NEWLINK, AF_BRIDGE, 9);
    m.name("p1").master(3);
    LinkMessage out;
    ASSERT_TRUE(parse_link_message(m.h(), out));
    EXPECT_TRUE(out.bridge_family);
    EXPECT_FALSE(out.has_vlans);
    EXPECT_TRUE(out.vlans.empty());
}

TEST(NetlinkParse, MalformedVlanInfoIsRefused) {
    LinkMessage out;
    {
        Msg m(RTM_NEWLINK, AF_BRIDGE, 9);  // a range that never ends
        m.vlans({vi(30, BRIDGE_VLAN_INFO_RANGE_BEGIN), vi(40)});
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        Msg m(RTM_NEWLINK, AF_BRIDGE, 9);  // an end without a begin
        m.vlans({vi(40, BRIDGE_VLAN_INFO_RANGE_END)});
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        Msg m(RTM_NEWLINK, AF_BRIDGE, 9);  // a backwards range
        m.vlans({vi(40, BRIDGE_VLAN_INFO_RANGE_BEGIN), vi(30, BRIDGE_VLAN_INFO_RANGE_END)});
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        Msg m(RTM_NEWLINK, AF_BRIDGE, 9);  // VLAN 0 and 4095 do not exist
        m.vlans({vi(0)});
        EXPECT_FALSE(parse_link_message(m.h(), out));
        Msg n(RTM_NEWLINK, AF_BRIDGE, 9);
        n.vlans({vi(4095)});
        EXPECT_FALSE(parse_link_message(n.h(), out));
    }
    {
        // A VLAN info attribute shorter than struct bridge_vlan_info.
        Msg m(RTM_NEWLINK, AF_BRIDGE, 9);
        nlattr* nest = mnl_attr_nest_start(m.h(), IFLA_AF_SPEC);
        mnl_attr_put_u16(m.h(), IFLA_BRIDGE_VLAN_INFO, 10);
        mnl_attr_nest_end(m.h(), nest);
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
}

TEST(NetlinkParse, MalformedHeaderAndAttributesAreRefused) {
    LinkMessage out;
    {
        Msg m(RTM_NEWLINK, AF_UNSPEC, 7);
        m.h()->nlmsg_len = NLMSG_LENGTH(4);  // shorter than ifinfomsg
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        Msg m(RTM_NEWLINK, AF_UNSPEC, 7);  // IFLA_MASTER of 2 bytes
        mnl_attr_put_u16(m.h(), IFLA_MASTER, 3);
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        Msg m(RTM_NEWLINK, AF_UNSPEC, 7);  // a name without its NUL
        mnl_attr_put(m.h(), IFLA_IFNAME, 2, "p1");
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        Msg m(RTM_NEWLINK, AF_UNSPEC, 0);  // no interface
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        Msg m(RTM_NEWADDR, AF_UNSPEC, 7);  // not a link message
        EXPECT_FALSE(parse_link_message(m.h(), out));
    }
    {
        // An attribute whose length runs past the message: it and what follows are not read.
        Msg m(RTM_NEWLINK, AF_UNSPEC, 7);
        m.name("p1").master(5);
        m.h()->nlmsg_len -= 4;  // cuts IFLA_MASTER's value
        ASSERT_TRUE(parse_link_message(m.h(), out));
        EXPECT_EQ(out.name, "p1");
        EXPECT_FALSE(out.master.has_value());
    }
}

TEST(LinkMonitorMessages, BridgeMessagesAreNotLinkEvents) {
    LinkMonitor::Changes ch;
    Msg link(RTM_NEWLINK, AF_UNSPEC, 7);
    link.name("p3").master(4);
    Msg br(RTM_NEWLINK, AF_BRIDGE, 7);
    br.name("p3").master(4).vlans({vi(10, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED)});
    Msg left(RTM_DELLINK, AF_BRIDGE, 7);
    left.name("p3").master(4);
    LinkMonitor::on_message(link.h(), ch);
    LinkMonitor::on_message(br.h(), ch);
    LinkMonitor::on_message(left.h(), ch);
    ASSERT_EQ(ch.links.size(), 1u);  // the interface itself did not go anywhere
    EXPECT_EQ(ch.links[0].name, "p3");
    EXPECT_EQ(ch.links[0].master, 4u);
    EXPECT_FALSE(ch.links[0].deleted);
    ASSERT_EQ(ch.bridge.size(), 2u);
    EXPECT_TRUE(ch.bridge[0].has_vlans);
    EXPECT_EQ(ch.bridge[0].vlans.size(), 1u);
    EXPECT_TRUE(ch.bridge[1].deleted);
    EXPECT_FALSE(ch.overrun);
    EXPECT_TRUE(ch.any());

    // A message that does not parse: what it was about is unknown, so everything is reread.
    LinkMonitor::Changes bad;
    Msg m(RTM_NEWLINK, AF_BRIDGE, 9);
    m.vlans({vi(40, BRIDGE_VLAN_INFO_RANGE_END)});
    LinkMonitor::on_message(m.h(), bad);
    EXPECT_TRUE(bad.overrun);
    EXPECT_TRUE(bad.links.empty());
    EXPECT_TRUE(bad.bridge.empty());
}

TEST(NetlinkRequest, BridgeDumpAsksForTheVlanTable) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    const size_t len = build_bridge_dump_request(buf.data(), buf.size(), 42);
    ASSERT_GT(len, NLMSG_LENGTH(sizeof(ifinfomsg)));
    const auto* h = reinterpret_cast<const nlmsghdr*>(buf.data());
    EXPECT_EQ(h->nlmsg_len, len);
    EXPECT_EQ(h->nlmsg_type, RTM_GETLINK);
    EXPECT_EQ(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    EXPECT_EQ(h->nlmsg_seq, 42u);
    const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h));
    EXPECT_EQ(ifi->ifi_family, AF_BRIDGE);
    const auto* a = reinterpret_cast<const nlattr*>(buf.data() + NLMSG_HDRLEN + MNL_ALIGN(sizeof(ifinfomsg)));
    EXPECT_EQ(mnl_attr_get_type(a), IFLA_EXT_MASK);
    EXPECT_EQ(mnl_attr_get_u32(a), uint32_t(RTEXT_FILTER_BRVLAN));
    EXPECT_EQ(build_bridge_dump_request(buf.data(), 16, 1), 0u);  // no room
}

TEST(NetlinkDump, BridgePortsOfThisNamespace) {
    // Whatever bridges exist here: the dump itself must work (no root needed to read).
    std::vector<BridgePort> ports;
    std::string err;
    EXPECT_TRUE(dump_bridge_ports(ports, err)) << err;
    for (const auto& p : ports) {
        EXPECT_NE(p.master, 0u);
        EXPECT_NE(p.master, p.ifindex);
    }
}

Interface itf(const char* name, unsigned index) {
    Interface i;
    i.name = name;
    i.index = index;
    return i;
}

TEST(PortSelect, NamesThenGlobMatchesSorted) {
    PortSelection sel;
    sel.names = {"eth9", "eth1"};
    sel.globs = {"vc*", "eth0.*"};
    const std::vector<Interface> present = {itf("lo", 1), itf("vc10", 2), itf("eth0.100", 3), itf("vc2", 4),
                                            itf("eth1", 5), itf("eth0", 6), itf("vcx", 7)};
    EXPECT_TRUE(sel.dynamic());
    EXPECT_EQ(select_ports(sel, present, {}),
              (std::vector<std::string>{"eth9", "eth1", "eth0.100", "vc10", "vc2", "vcx"}));
    sel.exclude = {"vcx"};
    EXPECT_EQ(select_ports(sel, present, {}), (std::vector<std::string>{"eth9", "eth1", "eth0.100", "vc10", "vc2"}));
    // Bracket patterns are fnmatch's too.
    sel.globs = {"vc[0-9]"};
    EXPECT_EQ(select_ports(sel, present, {}), (std::vector<std::string>{"eth9", "eth1", "vc2"}));

    PortSelection plain;
    plain.names = {"a", "b"};
    EXPECT_FALSE(plain.dynamic());
    EXPECT_EQ(select_ports(plain, present, {}), (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(is_glob("eth0.*"));
    EXPECT_TRUE(is_glob("vc?"));
    EXPECT_TRUE(is_glob("p[12]"));
    EXPECT_FALSE(is_glob("eth0.100"));
}

TEST(PortSelect, EveryOtherPortOfTheBridge) {
    PortSelection sel;
    sel.bridge = "br0";
    sel.exclude = {"up0", "tr0"};
    sel.names = {"p9"};
    const std::vector<Interface> present = {itf("br0", 3), itf("br1", 4), itf("p1", 10), itf("p2", 11)};
    const std::vector<BridgePort> ports = {{10, "p1", 3, false, {}}, {11, "p2", 3, false, {}}, {12, "up0", 3, false, {}},
                                           {13, "tr0", 3, false, {}}, {14, "q1", 4, false, {}},  // another bridge
                                           {15, "p9", 3, false, {}}};
    EXPECT_EQ(select_ports(sel, present, ports), (std::vector<std::string>{"p9", "p1", "p2"}));
    // The bridge absent: only the named ports.
    EXPECT_EQ(select_ports(sel, {itf("p1", 10)}, ports), (std::vector<std::string>{"p9"}));
}

TEST(PortSelect, Diff) {
    const PortDiff d = diff_ports({"a", "b", "c"}, {"b", "d", "c", "e"});
    EXPECT_EQ(d.added, (std::vector<std::string>{"d", "e"}));
    EXPECT_EQ(d.removed, (std::vector<std::string>{"a"}));
    EXPECT_TRUE(diff_ports({"a"}, {"a"}).empty());
}

}  // namespace
