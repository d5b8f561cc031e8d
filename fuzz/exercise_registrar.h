// What the registrar fuzz target (fuzz/fuzz_registrar.cpp) runs on one input, shared with
// tests/unit/fuzz_regressions_test.cpp: the input is a sequence of datagrams handed to one
// registrar engine (registrar/engine.h) configured with links (prefixes, listen interfaces,
// Interface-IDs, a Remote-ID) and tight flood limits. Each record is
//
//   control (1 byte)  bits 0-2 the arrival interface index (0 eth0, 1 eth1, 2 eth2 (on no link),
//                     3 past the end, none, -5, 1000, INT_MAX); bits 3-4 the source (0 2001:db8:1::10, 1 the relay
//                     2001:db8:ff::1, 2 fe80::1, 3 the next 16 bytes); bit 5: advance the wall
//                     clock by the next byte squared seconds first; bits 6-7 the monotonic clock
//                     step (none, 1 ms, 1 s, 100 s)
//   length (2 bytes, big-endian), then the datagram (cut at the end of the input)
//
// Properties: no crash or sanitizer report; every datagram is counted once as ignored, discarded
// (one reason) or replied; a reply decodes as an ADDR-REG-REPLY with the request's xid inside as
// many Relay-reply levels as the request had, goes to the relay (port 547) or to the registered
// address (port 546) out of the arrival interface; an answered new registration makes one event
// and the binding table follows it; expiry events are due; log texts are printable, the relay
// chain is valid JSON, summaries and reports are one line each.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/exercise.h"
#include "registrar/engine.h"

namespace regrelay::fuzz {

inline registrar::Config fuzz_registrar_config() {
    using registrar::Prefix;
    registrar::Config c;
    c.interfaces = {"eth0", "eth1", "eth2"};
    c.server_duid = {0, 3, 0, 1, 2, 0, 0, 0, 0x53, 0xff};
    registrar::LinkConfig l1;
    l1.name = "lan1";
    l1.prefixes = {*Prefix::parse("2001:db8:1::/64"), *Prefix::parse("2001:db8:1:1::/64")};
    l1.interfaces = {"eth0"};
    l1.interface_ids = {{'e', 't', 'h', '0'}};
    registrar::LinkConfig l2;
    l2.name = "lan2";
    l2.prefixes = {*Prefix::parse("2001:db8:2::/48")};
    l2.interfaces = {"eth1"};
    l2.interface_ids = {{'p', 'o', 'r', 't', '2'}};
    l2.remote_id = registrar::RemoteIdMatch{9, {1, 2}};
    registrar::LinkConfig l3;
    l3.name = "all";
    l3.prefixes = {*Prefix::parse("2000::/3")};
    c.links = {l1, l2, l3};
    c.limits.per_source = {5, 10};
    c.limits.per_relay = {50, 100};
    c.limits.per_link = {100, 200};
    c.limits.table_size = 64;
    c.limits.seed = 0x5eed;
    return c;
}

inline bool is_one_printable_line(const std::string& s) {
    return !s.empty() && is_terminal_safe(s, false);
}

inline size_t exercise_registrar(Bytes in) {
    using namespace registrar;
    Engine e(fuzz_registrar_config());
    const int kIfaces[8] = {0, 1, 2, 3, kNoInterface, -5, 1000, INT_MAX};
    Ip6Addr fixed[3];
    fixed[0] = *Ip6Addr::parse("2001:db8:1::10");
    fixed[1] = *Ip6Addr::parse("2001:db8:ff::1");
    fixed[2] = *Ip6Addr::parse("fe80::1");
    int64_t wall = 1'700'000'000;
    uint64_t mono = 1'000'000'000;
    std::vector<Event> events;
    Actions out;
    size_t pos = 0, total = 0;
    uint64_t handled = 0;
    e.advance(wall, events);
    while (pos < in.size()) {
        const uint8_t c = in[pos++];
        Input msg;
        msg.iface = kIfaces[c & 7];
        const unsigned src = (c >> 3) & 3;
        if (src == 3) {
            if (in.size() - pos < 16) break;
            std::copy(in.begin() + long(pos), in.begin() + long(pos) + 16, msg.src.b.begin());
            pos += 16;
        } else {
            msg.src = fixed[src];
        }
        if (c & 0x20) {
            if (pos >= in.size()) break;
            const int64_t step = int64_t(in[pos]) * int64_t(in[pos]);
            ++pos;
            wall += step;
            events.clear();
            e.advance(wall, events);
            for (const Event& ev : events) {
                REGRELAY_FUZZ_CHECK(ev.kind == EventKind::kExpired);
                REGRELAY_FUZZ_CHECK(ev.b.expires <= wall);
                REGRELAY_FUZZ_CHECK(e.find(ev.b.address) == nullptr);
                REGRELAY_FUZZ_CHECK(is_one_printable_line(describe(ev)));
            }
        }
        static constexpr uint64_t kSteps[4] = {0, 1'000'000, 1'000'000'000, 100'000'000'000};
        mono += kSteps[c >> 6];
        msg.now_ns = mono;
        if (in.size() - pos < 2) break;
        size_t len = size_t(in[pos]) << 8 | in[pos + 1];
        pos += 2;
        len = std::min(len, in.size() - pos);
        msg.payload = in.subspan(pos, len);
        pos += len;
        msg.sport = src == 1 ? dhcp6::kPortServer : dhcp6::kPortClient;

        const size_t bindings_before = e.binding_count();
        out.events.clear();
        e.handle(msg, out);
        ++handled;
        const Counters& k = e.counters();
        uint64_t discards = 0;
        for (uint64_t d : k.discards) discards += d;
        REGRELAY_FUZZ_CHECK(k.received == handled);
        REGRELAY_FUZZ_CHECK(k.ignored + discards + k.replied == k.received);
        REGRELAY_FUZZ_CHECK((out.outcome == Actions::Outcome::kDiscarded) == (out.discard != Discard::kNone));
        if (out.outcome == Actions::Outcome::kDiscarded) {
            REGRELAY_FUZZ_CHECK(out.discard < Discard::kCount_);
            REGRELAY_FUZZ_CHECK(is_terminal_safe(out.why, false));
        }
        REGRELAY_FUZZ_CHECK((out.outcome == Actions::Outcome::kReplied) == out.reply.has_value());
        if (out.outcome != Actions::Outcome::kReplied || out.retransmission) {
            REGRELAY_FUZZ_CHECK(out.events.empty());
            REGRELAY_FUZZ_CHECK(e.binding_count() == bindings_before);
        }
        if (out.reply) {
            const Reply& r = *out.reply;
            total += r.payload.size();
            REGRELAY_FUZZ_CHECK(r.iface == msg.iface);
            auto dec = dhcp6::decode(r.payload);
            if (REGRELAY_FUZZ_CHECK(bool(dec))) {
                REGRELAY_FUZZ_CHECK(dec->inner.type == dhcp6::msg::kAddrRegReply);
                REGRELAY_FUZZ_CHECK(dec->inner.xid == out.xid);
                REGRELAY_FUZZ_CHECK(dec->relays.size() == out.relay_levels);
                for (const auto& l : dec->relays) REGRELAY_FUZZ_CHECK(l.type == dhcp6::msg::kRelayRepl);
            }
            if (out.relay_levels) {
                REGRELAY_FUZZ_CHECK(r.dst == msg.src && r.dport == dhcp6::kPortServer);
            } else {
                REGRELAY_FUZZ_CHECK(r.dst == msg.src && r.dport == dhcp6::kPortClient);
            }
            if (!out.retransmission) {
                if (REGRELAY_FUZZ_CHECK(out.events.size() == 1)) {
                    const Event& ev = out.events[0];
                    REGRELAY_FUZZ_CHECK(is_valid_json(ev.b.relay_chain));
                    REGRELAY_FUZZ_CHECK(is_one_printable_line(describe(ev)));
                    REGRELAY_FUZZ_CHECK(ev.b.address.is_routable_unicast());
                    const Binding* b = e.find(ev.b.address);
                    if (ev.kind == EventKind::kReleased) {
                        REGRELAY_FUZZ_CHECK(b == nullptr);
                    } else if (REGRELAY_FUZZ_CHECK(b != nullptr)) {
                        REGRELAY_FUZZ_CHECK(b->duid == ev.b.duid && !b->duid.empty());
                        REGRELAY_FUZZ_CHECK(b->expires > wall);
                    }
                }
            }
        }
        for (const std::string& line : e.flood_report(mono)) REGRELAY_FUZZ_CHECK(is_one_printable_line(line));
    }
    for (const std::string& line : e.flood_report(mono, true)) REGRELAY_FUZZ_CHECK(is_one_printable_line(line));
    REGRELAY_FUZZ_CHECK(is_one_printable_line(e.counters_report()));
    // A reload: a new engine takes the bindings, counters and flood state.
    Engine e2(fuzz_registrar_config());
    e2.adopt(e);
    REGRELAY_FUZZ_CHECK(e2.counters().received == handled);
    events.clear();
    const size_t live = e2.binding_count();
    e2.advance(wall + (int64_t(1) << 32), events);  // past every finite lifetime
    REGRELAY_FUZZ_CHECK(events.size() + e2.binding_count() == live);
    for (const Event& ev : events) REGRELAY_FUZZ_CHECK(ev.kind == EventKind::kExpired && ev.b.expires != kNever);
    return total + handled;
}

}  // namespace regrelay::fuzz
