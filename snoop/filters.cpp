#include "snoop/filters.h"

#include <nftables/libnftables.h>

#include <string_view>

namespace regrelay::snoop {

namespace {

// The template, kept in one place with deploy/snoop-filters.nft (a test compares the two).
constexpr const char* kTemplate = R"(table bridge regrelay_snoop {
	set client_ports {
		type ifname
		elements = { @CLIENT_PORTS@ }
	}
	set client_facing_ports {
		type ifname
		elements = { @CLIENT_FACING_PORTS@ }
	}
	set network_port {
		type ifname
		elements = { @NETWORK_PORT@ }
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname @client_facing_ports ip6 daddr ff02::1:2 udp dport 547 counter drop
		iifname @client_facing_ports vlan type ip6 ip6 daddr ff02::1:2 udp dport 547 counter drop
		iifname @client_ports udp dport 547 @th,64,8 { 12, 13 } counter drop
		iifname @client_ports vlan type ip6 udp dport 547 @th,64,8 { 12, 13 } counter drop
		iifname @client_ports udp sport 547 counter drop
		iifname @client_ports vlan type ip6 udp sport 547 counter drop
		oifname @client_ports udp sport 547 counter drop
		oifname @client_ports vlan type ip6 udp sport 547 counter drop
		iifname @network_port ip6 saddr fe80::/10 ip6 daddr fe80::/10 udp dport 547 counter drop
		iifname @network_port vlan type ip6 ip6 saddr fe80::/10 ip6 daddr fe80::/10 udp dport 547 counter drop
		iifname @network_port ip6 saddr fe80::/10 ip6 daddr & ff0f:: == ff02:: udp dport 547 counter drop
		iifname @network_port vlan type ip6 ip6 saddr fe80::/10 ip6 daddr & ff0f:: == ff02:: udp dport 547 counter drop
		ether type { 8021q, 8021ad } @ll,128,16 { 0x8100, 0x88a8 } @ll,160,16 0x86dd @ll,224,8 17 jump qinq
	}
	chain qinq {
		iifname @client_facing_ports @ll,368,128 0xff020000000000000000000000010002 @ll,512,16 547 counter drop
		iifname @client_ports @ll,512,16 547 @ll,560,8 { 12, 13 } counter drop
		iifname @client_ports @ll,496,16 547 counter drop
		oifname @client_ports @ll,496,16 547 counter drop
		iifname @network_port @ll,240,16 & 0xffc0 == 0xfe80 @ll,368,16 & 0xffc0 == 0xfe80 @ll,512,16 547 counter drop
		iifname @network_port @ll,240,16 & 0xffc0 == 0xfe80 @ll,368,16 & 0xff0f == 0xff02 @ll,512,16 547 counter drop
	}
}
)";

bool run(const std::string& cmds, std::string& err) {
    struct nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        err = "cannot create an nftables context";
        return false;
    }
    nft_ctx_buffer_error(ctx);
    int rc = nft_run_cmd_from_buffer(ctx, cmds.c_str());
    if (rc != 0) {
        err = nft_ctx_get_error_buffer(ctx);
        while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
        if (err.empty()) err = "nftables refused the rules";
    }
    nft_ctx_free(ctx);
    return rc == 0;
}

std::string quoted(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "\"" : ", \"") + n + "\"";
    return s;
}

void fill(std::string& s, std::string_view mark, const std::string& with) {
    const size_t at = s.find(mark);
    if (at != std::string::npos) s.replace(at, mark.size(), with);
}

}  // namespace

FilterPorts FilterPorts::of(const Config& cfg) {
    FilterPorts fp;
    for (const auto& p : cfg.ports) {
        if (p.role == Role::kClient) fp.client.push_back(p.name);
        else if (p.role == Role::kTrusted) fp.trusted.push_back(p.name);
        else fp.uplink = p.name;
    }
    return fp;
}

std::string filter_ruleset(const FilterPorts& ports) {
    std::vector<std::string> facing = ports.client;
    facing.insert(facing.end(), ports.trusted.begin(), ports.trusted.end());
    std::string s = kTemplate;
    fill(s, "@CLIENT_PORTS@", quoted(ports.client));
    fill(s, "@CLIENT_FACING_PORTS@", quoted(facing));
    fill(s, "@NETWORK_PORT@", quoted({ports.uplink}));
    return s;
}

bool install_filters(const FilterPorts& ports, std::string& err) {
    // One transaction: create-if-missing, delete, then add the fresh table.
    std::string cmds = std::string("add table bridge ") + kFilterTable + "\ndelete table bridge " + kFilterTable + "\n" +
                       filter_ruleset(ports);
    return run(cmds, err);
}

bool remove_filters(std::string& err) {
    return run(std::string("add table bridge ") + kFilterTable + "\ndelete table bridge " + kFilterTable + "\n", err);
}

}  // namespace regrelay::snoop
