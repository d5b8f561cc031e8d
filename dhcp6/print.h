// Human and machine renderings of decoded DHCPv6 messages, for `regrelay decode` and logs.
#pragma once

#include <string>

#include "dhcp6/dhcp6.h"

namespace regrelay::dhcp6 {

// One line, tcpdump style: relay levels outermost first, then the inner message, e.g.
// RELAY-FORW hop 0 link 2001:db8::1 peer fe80::1 ifid "eth0" lladdr 02:00:00:00:00:01 |
// ADDR-REG-INFORM xid 0x00abcd addr 2001:db8::10 pref 3600 valid 7200 opts [1,5]
// Without `with_inner` only the relay levels are shown (a capture cut before the inner message).
void append_summary(std::string& out, const Message& m, bool with_inner = true);
// The whole option tree, one option per line, indented by `indent` spaces.
void append_tree(std::string& out, const Message& m, int indent);
// A JSON object (no trailing newline) with the fields the cross-check compares.
void append_json(std::string& out, const Message& m);

// One option's value rendered as text ("2001:db8::1 pref 3600 valid 7200"); `nested` tells
// whether the option carries sub-options that append_tree shows below it.
std::string option_value(const Option& o, bool* nested = nullptr);

void append_json_string(std::string& out, std::string_view s);

// The IA Address options (5) of a message's option list, for the ADDR-REG-INFORM log line:
// "address A" or "address A,B" (all of them, in order; "[malformed]" for one that does not
// parse), or "no IA Address".
std::string registered_addresses(const OptionList& opts);

}  // namespace regrelay::dhcp6
