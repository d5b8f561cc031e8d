#include "snoop/filters.h"

#include <nftables/libnftables.h>

namespace regrelay::snoop {

namespace {

// The template, kept in one place with deploy/snoop-filters.nft (a test compares the two).
constexpr const char* kTemplate = R"(table bridge regrelay_snoop {
	set client_ports {
		type ifname
		elements = { @CLIENT_PORTS@ }
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname @client_ports ip6 daddr ff02::1:2 udp dport 547 counter drop
		iifname @client_ports vlan type ip6 ip6 daddr ff02::1:2 udp dport 547 counter drop
		iifname @client_ports udp dport 547 @th,64,8 { 12, 13 } counter drop
		iifname @client_ports vlan type ip6 udp dport 547 @th,64,8 { 12, 13 } counter drop
		iifname @client_ports udp sport 547 counter drop
		iifname @client_ports vlan type ip6 udp sport 547 counter drop
		oifname @client_ports udp sport 547 counter drop
		oifname @client_ports vlan type ip6 udp sport 547 counter drop
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

}  // namespace

std::string filter_ruleset(const std::vector<std::string>& client_ports) {
    std::string names;
    for (const auto& p : client_ports) names += (names.empty() ? "\"" : ", \"") + p + "\"";
    std::string s = kTemplate;
    s.replace(s.find("@CLIENT_PORTS@"), 14, names);
    return s;
}

bool install_filters(const std::vector<std::string>& client_ports, std::string& err) {
    // One transaction: create-if-missing, delete, then add the fresh table.
    std::string cmds = std::string("add table bridge ") + kFilterTable + "\ndelete table bridge " + kFilterTable + "\n" +
                       filter_ruleset(client_ports);
    return run(cmds, err);
}

bool remove_filters(std::string& err) {
    return run(std::string("add table bridge ") + kFilterTable + "\ndelete table bridge " + kFilterTable + "\n", err);
}

}  // namespace regrelay::snoop
