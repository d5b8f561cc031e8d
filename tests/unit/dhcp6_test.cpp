// Unit tests for the DHCPv6 codec (dhcp6/dhcp6.h) and its printers (dhcp6/print.h).
// Expected bytes are written out by hand from RFC 8415 (messages, relay messages, options),
// RFC 6939 (option 79), RFC 9686 (types 36/37, option 148), RFC 4704 (option 39) and
// RFC 4649 (option 37).

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "dhcp6/dhcp6.h"
#include "dhcp6/print.h"
#include "tests/unit/test_util.h"

// ---- allocation counter ----------------------------------------------------------------
// Global operator new/delete replacements that count allocations while a test asks them to.
// Outside a counting window they behave exactly like the defaults (malloc/free).

namespace {
std::atomic<bool> g_count_allocs{false};
std::atomic<long> g_allocs{0};

void* counted_alloc(std::size_t n) {
    if (g_count_allocs.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) n = 1;
    if (void* p = std::malloc(n)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace regrelay;
using namespace regrelay::dhcp6;
using regrelay::test::ByteVec;
using regrelay::test::be16;
using regrelay::test::be32;
using regrelay::test::cat;
using regrelay::test::hexb;
using regrelay::test::mkopt;
using regrelay::test::str_bytes;
using regrelay::test::to_hex;

// ---- hand-built messages ---------------------------------------------------------------

const ByteVec kLink = hexb("20010db8 00000000 00000000 00000001");   // 2001:db8::1
const ByteVec kPeer = hexb("fe800000 00000000 00000000 00000001");   // fe80::1
const ByteVec kLink2 = hexb("20010db8 00010000 00000000 00000001");  // 2001:db8:1::1
const ByteVec kPeer2 = hexb("fe800000 00000000 00000000 00000002");  // fe80::2
const ByteVec kAddr10 = hexb("20010db8 00000000 00000000 00000010");  // 2001:db8::10

// DUID-LLT: type 1, hardware type 1, time, MAC 02:00:00:00:00:01 (RFC 8415 §11.2).
const ByteVec kDuidLlt = hexb("0001 0001 2a3b4c5d 020000000001");
// DUID-LL: type 3, hardware type 1, MAC 02:00:00:00:00:99 (RFC 8415 §11.4).
const ByteVec kDuidLl = hexb("0003 0001 020000000099");
// Option 79 body: hardware type 1 (Ethernet) + MAC 02:00:00:00:00:01 (RFC 6939).
const ByteVec kLlBody = hexb("0001 020000000001");

// IA Address body: address, preferred 3600, valid 7200 (RFC 8415 §21.6).
ByteVec ia_addr_body(const ByteVec& addr = kAddr10) { return cat({addr, hexb("00000e10 00001c20")}); }

// Solicit (type 1, xid 0x123456): client-id, elapsed time 0, IA_NA(iaid 1, T1 3600, T2 7200)
// carrying one IA Address, ORO [23, 24].
ByteVec solicit() {
    return cat({hexb("01 123456"), mkopt(1, kDuidLlt), mkopt(8, hexb("0000")),
                mkopt(3, cat({hexb("00000001 00000e10 00001c20"), mkopt(5, ia_addr_body())})),
                mkopt(6, hexb("0017 0018"))});
}

// Reply (type 7) carried in a Relay-reply.
ByteVec reply() {
    return cat({hexb("07 123456"), mkopt(2, kDuidLl), mkopt(1, kDuidLlt),
                mkopt(3, cat({hexb("00000001 00000e10 00001c20"), mkopt(5, ia_addr_body())})),
                mkopt(13, cat({hexb("0000"), str_bytes("all good")}))});
}

// ADDR-REG-INFORM (RFC 9686 §4.2): client-id and one IA Address.
ByteVec addr_reg_inform() {
    return cat({hexb("24 00abcd"), mkopt(1, kDuidLlt), mkopt(5, ia_addr_body())});
}

// Relay-forward: hop 0, link 2001:db8::1, peer fe80::1, Interface-Id "eth0" before option 9,
// Client Link-Layer Address after it.
ByteVec relay_forw(const ByteVec& inner, uint8_t hop = 0) {
    return cat({ByteVec{0x0c, hop}, kLink, kPeer, mkopt(18, str_bytes("eth0")), mkopt(9, inner), mkopt(79, kLlBody)});
}

std::vector<uint16_t> codes(const OptionList& opts) {
    std::vector<uint16_t> c;
    for (const auto& o : opts) c.push_back(o.code);
    return c;
}
std::vector<size_t> offsets(const OptionList& opts) {
    std::vector<size_t> c;
    for (const auto& o : opts) c.push_back(o.offset);
    return c;
}
Ip6Addr ip(const ByteVec& sixteen) { return Ip6Addr::from(sixteen); }

// Decodes `buf`, requires success, and requires that encode() gives the same bytes back.
Message decode_roundtrip(const ByteVec& buf) {
    auto r = decode(buf);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
    if (!r.ok()) return {};
    EXPECT_EQ(to_hex(encode(*r)), to_hex(buf));
    return *r;
}

void expect_error(const ByteVec& buf, Errc code, size_t offset) {
    auto r = decode(buf);
    ASSERT_FALSE(r.ok()) << "decoded " << to_hex(buf);
    EXPECT_EQ(int(r.error().code), int(code)) << r.error().str();
    EXPECT_EQ(r.error().offset, offset) << r.error().str();
}

// One option placed at `base` in an imaginary buffer; the typed views take it from here.
struct OneOpt {
    OneOpt(uint16_t code, const ByteVec& body, size_t base = 0) : buf(mkopt(code, body)) {
        o.code = code;
        o.data = Bytes(buf).subspan(4);
        o.offset = base;
    }
    OneOpt(const OneOpt&) = delete;
    OneOpt& operator=(const OneOpt&) = delete;
    ByteVec buf;
    Option o;
};

template <class T>
void expect_err(const Result<T>& r, Errc code, size_t offset) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(int(r.error().code), int(code)) << r.error().str();
    EXPECT_EQ(r.error().offset, offset) << r.error().str();
}

// ---- names -----------------------------------------------------------------------------

TEST(Dhcp6Names, MessageTypeNames) {
    const std::pair<uint8_t, const char*> known[] = {
        {1, "SOLICIT"},  {2, "ADVERTISE"},  {3, "REQUEST"},    {4, "CONFIRM"},
        {5, "RENEW"},    {6, "REBIND"},     {7, "REPLY"},      {8, "RELEASE"},
        {9, "DECLINE"},  {10, "RECONFIGURE"}, {11, "INFORMATION-REQUEST"}, {12, "RELAY-FORW"},
        {13, "RELAY-REPL"}, {36, "ADDR-REG-INFORM"}, {37, "ADDR-REG-REPLY"},
    };
    for (auto [t, name] : known) {
        EXPECT_EQ(msg_type_name(t), name) << int(t);
        EXPECT_EQ(msg_type_label(t), name) << int(t);
    }
    for (uint8_t t : {0, 14, 35, 38, 200, 255}) {
        EXPECT_TRUE(msg_type_name(t).empty()) << int(t);
        EXPECT_EQ(msg_type_label(t), "UNKNOWN-" + std::to_string(t));
    }
    EXPECT_EQ(msg_type_label(200), "UNKNOWN-200");
}

TEST(Dhcp6Names, OptionNamesAndDirections) {
    EXPECT_EQ(option_name(1), "CLIENTID");
    EXPECT_EQ(option_name(9), "RELAY_MSG");
    EXPECT_EQ(option_name(79), "CLIENT_LINKLAYER_ADDR");
    EXPECT_EQ(option_name(148), "ADDR_REG_ENABLE");
    EXPECT_TRUE(option_name(65000).empty());
    EXPECT_TRUE(is_relay_type(12));
    EXPECT_TRUE(is_relay_type(13));
    EXPECT_FALSE(is_relay_type(1));
    for (uint8_t t : {2, 7, 10, 13, 37}) EXPECT_TRUE(is_server_to_client_type(t)) << int(t);
    for (uint8_t t : {1, 3, 4, 5, 6, 8, 9, 11, 12, 36, 200}) EXPECT_FALSE(is_server_to_client_type(t)) << int(t);
}

TEST(Dhcp6Names, ErrorString) {
    Error e{Errc::kOptionPastEnd, 12};
    EXPECT_EQ(e.str(), "option length past the end at offset 12");
    Error deep{Errc::kNestingTooDeep, 0}, missing{Errc::kMissingRelayMessage, 0};
    EXPECT_FALSE(deep.what().empty());
    EXPECT_NE(deep.what(), missing.what());
}

// ---- round trips -----------------------------------------------------------------------

TEST(Dhcp6RoundTrip, Solicit) {
    ByteVec buf = solicit();
    ASSERT_EQ(buf.size(), 80u);
    Message m = decode_roundtrip(buf);
    EXPECT_FALSE(m.is_relayed());
    EXPECT_EQ(m.inner.type, msg::kSolicit);
    EXPECT_EQ(m.inner.xid, 0x123456u);
    EXPECT_EQ(m.inner.offset, 0u);
    EXPECT_EQ(m.inner.raw.size(), buf.size());
    EXPECT_EQ(codes(m.inner.options), (std::vector<uint16_t>{1, 8, 3, 6}));
    EXPECT_EQ(offsets(m.inner.options), (std::vector<size_t>{4, 22, 28, 72}));
    // Option bodies and wire() are views into the decoded buffer.
    const Option& cid = m.inner.options[0];
    EXPECT_EQ(to_hex(cid.data), to_hex(kDuidLlt));
    EXPECT_EQ(cid.data.data(), buf.data() + 8);
    EXPECT_EQ(to_hex(cid.wire()), to_hex(mkopt(1, kDuidLlt)));

    auto ia = as_ia_na(m.inner.options[2]);
    ASSERT_TRUE(ia.ok());
    EXPECT_EQ(ia->iaid, 1u);
    EXPECT_EQ(ia->t1, 3600u);
    EXPECT_EQ(ia->t2, 7200u);
    ASSERT_EQ(ia->options.size(), 1u);
    EXPECT_EQ(ia->options[0].offset, 44u);
    auto a = as_ia_addr(ia->options[0]);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->addr.str(), "2001:db8::10");
    EXPECT_EQ(a->preferred, 3600u);
    EXPECT_EQ(a->valid, 7200u);
    auto oro = as_oro(m.inner.options[3]);
    ASSERT_TRUE(oro.ok());
    EXPECT_EQ(*oro, (std::vector<uint16_t>{23, 24}));
}

TEST(Dhcp6RoundTrip, InformationRequestWithOro148) {
    ByteVec buf = cat({hexb("0b abcdef"), mkopt(1, kDuidLlt), mkopt(6, hexb("0017 0018 0094"))});
    Message m = decode_roundtrip(buf);
    EXPECT_EQ(m.inner.type, msg::kInformationRequest);
    EXPECT_EQ(m.inner.xid, 0xabcdefu);
    ASSERT_EQ(codes(m.inner.options), (std::vector<uint16_t>{1, 6}));
    auto oro = as_oro(m.inner.options[1]);
    ASSERT_TRUE(oro.ok());
    EXPECT_EQ(*oro, (std::vector<uint16_t>{23, 24, 148}));
}

TEST(Dhcp6RoundTrip, AddrRegInform) {
    ByteVec buf = addr_reg_inform();
    Message m = decode_roundtrip(buf);
    EXPECT_EQ(m.inner.type, 36);
    EXPECT_EQ(m.inner.xid, 0x00abcdu);
    ASSERT_EQ(codes(m.inner.options), (std::vector<uint16_t>{1, 5}));
    EXPECT_EQ(m.inner.options[1].offset, 22u);
    auto a = as_ia_addr(m.inner.options[1]);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->addr, ip(kAddr10));
    EXPECT_TRUE(a->options.empty());
}

TEST(Dhcp6RoundTrip, AddrRegReply) {
    ByteVec buf = cat({hexb("25 00abcd"), mkopt(1, kDuidLlt), mkopt(2, kDuidLl), mkopt(5, ia_addr_body()),
                       mkopt(13, cat({hexb("0000"), str_bytes("registered")}))});
    Message m = decode_roundtrip(buf);
    EXPECT_EQ(m.inner.type, 37);
    EXPECT_EQ(codes(m.inner.options), (std::vector<uint16_t>{1, 2, 5, 13}));
    auto s = as_status_code(m.inner.options[3]);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->code, 0);
    EXPECT_EQ(s->message, "registered");
}

TEST(Dhcp6RoundTrip, DuplicateAndUnknownOptionsKeepOrder) {
    ByteVec buf = cat({hexb("01 000001"), mkopt(8, hexb("0000")), mkopt(65000, hexb("aabbcc")),
                       mkopt(8, hexb("0001")), mkopt(0x1234, {}), mkopt(1, kDuidLlt), mkopt(65000, hexb("dd"))});
    Message m = decode_roundtrip(buf);
    EXPECT_EQ(codes(m.inner.options), (std::vector<uint16_t>{8, 65000, 8, 0x1234, 1, 65000}));
    EXPECT_EQ(offsets(m.inner.options), (std::vector<size_t>{4, 10, 17, 23, 27, 45}));
    EXPECT_TRUE(m.inner.options[3].data.empty());
    // find_option gives the first of the duplicates.
    const Option* e = find_option(m.inner.options, 8);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->offset, 4u);
    EXPECT_EQ(to_hex(e->data), "0000");
    EXPECT_EQ(find_option(m.inner.options, 2), nullptr);
    // write_options re-emits them verbatim.
    std::vector<uint8_t> out;
    Writer w(out);
    write_options(w, m.inner.options);
    EXPECT_EQ(to_hex(out), to_hex(ByteVec(buf.begin() + 4, buf.end())));
}

TEST(Dhcp6RoundTrip, UnknownMessageTypeKept) {
    ByteVec buf = cat({hexb("c8 010203"), mkopt(1, kDuidLlt), mkopt(9999, hexb("01"))});
    Message m = decode_roundtrip(buf);
    EXPECT_FALSE(m.is_relayed());
    EXPECT_EQ(m.inner.type, 200);
    EXPECT_EQ(m.inner.xid, 0x010203u);
    EXPECT_EQ(msg_type_label(m.inner.type), "UNKNOWN-200");
    // A bare header with no options is a complete message.
    Message h = decode_roundtrip(hexb("c8 000000"));
    EXPECT_EQ(h.inner.type, 200);
    EXPECT_TRUE(h.inner.options.empty());
}

TEST(Dhcp6RoundTrip, RelayForwardOneLevel) {
    ByteVec inner = solicit();
    ByteVec buf = relay_forw(inner);
    ASSERT_EQ(buf.size(), 34u + 8 + 4 + inner.size() + 12);
    Message m = decode_roundtrip(buf);
    ASSERT_EQ(m.relays.size(), 1u);
    const RelayLevel& l = m.relays[0];
    EXPECT_EQ(l.type, msg::kRelayForw);
    EXPECT_EQ(l.hop_count, 0);
    EXPECT_EQ(l.link_address.str(), "2001:db8::1");
    EXPECT_EQ(l.peer_address.str(), "fe80::1");
    EXPECT_EQ(l.offset, 0u);
    EXPECT_EQ(l.raw.size(), buf.size());
    EXPECT_EQ(codes(l.options), (std::vector<uint16_t>{18, 9, 79}));
    EXPECT_EQ(offsets(l.options), (std::vector<size_t>{34, 42, 46 + inner.size()}));
    ASSERT_NE(l.relay_msg(), nullptr);
    EXPECT_EQ(l.relay_msg()->offset, 42u);

    EXPECT_EQ(m.inner.type, msg::kSolicit);
    EXPECT_EQ(m.inner.offset, 46u);
    EXPECT_EQ(to_hex(m.inner.raw), to_hex(inner));
    // Inner option offsets are relative to the whole payload.
    EXPECT_EQ(offsets(m.inner.options), (std::vector<size_t>{50, 68, 74, 118}));

    auto ifid = as_interface_id(l.options[0]);
    ASSERT_TRUE(ifid.ok());
    EXPECT_EQ(to_hex(*ifid), to_hex(str_bytes("eth0")));
    auto ll = as_client_link_layer(l.options[2]);
    ASSERT_TRUE(ll.ok());
    EXPECT_TRUE(ll->is_ethernet());
    EXPECT_EQ(MacAddr::from(ll->addr).str(), "02:00:00:00:00:01");
}

TEST(Dhcp6RoundTrip, RelayForwardTwoLevels) {
    ByteVec inner_relay = relay_forw(solicit(), 0);
    // Outer level: option 79 before option 9, option 18 after it.
    ByteVec buf = cat({hexb("0c 01"), kLink2, kPeer2, mkopt(79, hexb("0001 0200000000aa")), mkopt(9, inner_relay),
                       mkopt(18, str_bytes("port-7"))});
    Message m = decode_roundtrip(buf);
    ASSERT_EQ(m.relays.size(), 2u);
    const RelayLevel& o = m.relays[0];
    const RelayLevel& i = m.relays[1];
    EXPECT_EQ(o.hop_count, 1);
    EXPECT_EQ(o.link_address, ip(kLink2));
    EXPECT_EQ(o.peer_address, ip(kPeer2));
    EXPECT_EQ(codes(o.options), (std::vector<uint16_t>{79, 9, 18}));
    EXPECT_EQ(o.relay_msg()->offset, 46u);
    EXPECT_EQ(i.offset, 50u);
    EXPECT_EQ(i.hop_count, 0);
    EXPECT_EQ(i.link_address, ip(kLink));
    EXPECT_EQ(i.peer_address, ip(kPeer));
    EXPECT_EQ(codes(i.options), (std::vector<uint16_t>{18, 9, 79}));
    EXPECT_EQ(offsets(i.options), (std::vector<size_t>{84, 92, 96 + solicit().size()}));
    EXPECT_EQ(to_hex(i.raw), to_hex(inner_relay));
    EXPECT_EQ(m.inner.offset, 96u);
    EXPECT_EQ(m.inner.type, msg::kSolicit);
    EXPECT_EQ(m.inner.options[0].offset, 100u);
}

TEST(Dhcp6RoundTrip, RelayReply) {
    ByteVec inner = reply();
    ByteVec buf = cat({hexb("0d 00"), kLink, kPeer, mkopt(18, str_bytes("eth0")), mkopt(9, inner)});
    Message m = decode_roundtrip(buf);
    ASSERT_EQ(m.relays.size(), 1u);
    EXPECT_EQ(m.relays[0].type, msg::kRelayRepl);
    EXPECT_EQ(m.inner.type, msg::kReply);
    EXPECT_EQ(codes(m.inner.options), (std::vector<uint16_t>{2, 1, 3, 13}));
}

TEST(Dhcp6RoundTrip, RelayMessageOptionNotFirstAndDuplicated) {
    // Option 9 third, and a second option 9 later: the first carries the next level; the second
    // is kept as an opaque option.
    ByteVec inner = addr_reg_inform();
    ByteVec buf = cat({hexb("0c 03"), kLink, kPeer, mkopt(37, hexb("00000009 616263")),
                       mkopt(65001, hexb("0102")), mkopt(9, inner), mkopt(9, hexb("01 000001")),
                       mkopt(18, str_bytes("x"))});
    Message m = decode_roundtrip(buf);
    ASSERT_EQ(m.relays.size(), 1u);
    EXPECT_EQ(codes(m.relays[0].options), (std::vector<uint16_t>{37, 65001, 9, 9, 18}));
    EXPECT_EQ(m.relays[0].relay_msg()->offset, 34u + 11 + 6);
    EXPECT_EQ(m.inner.type, 36);
    EXPECT_EQ(m.inner.offset, 34u + 11 + 6 + 4);
}

TEST(Dhcp6Encode, EncodesFromFieldsAndPatchesRelayLengths) {
    ByteVec buf = relay_forw(solicit(), 2);
    auto r = decode(buf);
    ASSERT_TRUE(r.ok());
    Message m = *r;
    // Change fields and drop the inner ORO; option 9's length must shrink by 8.
    m.relays[0].hop_count = 3;
    m.relays[0].link_address = ip(kLink2);
    m.inner.xid = 0x0a0b0c;
    m.inner.options.pop_back();
    ByteVec inner = solicit();
    inner.resize(inner.size() - 8);
    inner[1] = 0x0a, inner[2] = 0x0b, inner[3] = 0x0c;
    ByteVec expected = cat({hexb("0c 03"), kLink2, kPeer, mkopt(18, str_bytes("eth0")), mkopt(9, inner),
                            mkopt(79, kLlBody)});
    EXPECT_EQ(to_hex(encode(m)), to_hex(expected));

    // encode_client and write_relay_header on their own.
    std::vector<uint8_t> out;
    Writer w(out);
    write_relay_header(w, 13, 7, ip(kLink), ip(kPeer));
    EXPECT_EQ(to_hex(out), to_hex(cat({hexb("0d 07"), kLink, kPeer})));
    out.clear();
    encode_client(w, m.inner);
    EXPECT_EQ(to_hex(out), to_hex(inner));
}

// ---- typed views -----------------------------------------------------------------------

TEST(Dhcp6Views, DuidTypes) {
    struct Case {
        ByteVec body;
        uint16_t type;
    } cases[] = {
        {kDuidLlt, 1},
        {hexb("0002 00000009 0102030405"), 2},                    // DUID-EN: enterprise 9 + id
        {kDuidLl, 3},                                             // DUID-LL
        {hexb("0004 00112233445566778899aabbccddeeff"), 4},        // DUID-UUID
        {hexb("0005 01"), 5},                                     // unknown type, still a DUID
    };
    for (const auto& c : cases) {
        OneOpt o(1, c.body, 8);
        auto d = as_duid(o.o);
        ASSERT_TRUE(d.ok()) << to_hex(c.body);
        EXPECT_EQ(d->type, c.type);
        EXPECT_EQ(to_hex(d->raw), to_hex(c.body));
    }
}

TEST(Dhcp6Views, DuidLengthLimits) {
    // RFC 8415 §11.1: 2 octets of type and at most 128 octets of value.
    expect_err(as_duid(OneOpt(1, {}, 8).o), Errc::kBadOptionLength, 8);
    expect_err(as_duid(OneOpt(1, hexb("00"), 8).o), Errc::kBadOptionLength, 8);
    expect_err(as_duid(OneOpt(2, hexb("0001"), 8).o), Errc::kBadOptionLength, 8);
    ByteVec max = cat({hexb("0002"), ByteVec(128, 0x5a)});
    EXPECT_TRUE(as_duid(OneOpt(1, max).o).ok());
    ByteVec too_long = cat({hexb("0002"), ByteVec(129, 0x5a)});
    expect_err(as_duid(OneOpt(1, too_long, 30).o), Errc::kBadOptionLength, 30);
}

TEST(Dhcp6Views, IaNaWithoutSubOptions) {
    OneOpt o(3, hexb("deadbeef 00000064 000000c8"), 20);
    auto ia = as_ia_na(o.o);
    ASSERT_TRUE(ia.ok());
    EXPECT_EQ(ia->iaid, 0xdeadbeefu);
    EXPECT_EQ(ia->t1, 100u);
    EXPECT_EQ(ia->t2, 200u);
    EXPECT_TRUE(ia->options.empty());
}

TEST(Dhcp6Views, IaNaWithSubOptions) {
    ByteVec status = mkopt(13, cat({hexb("0002"), str_bytes("NoAddrsAvail")}));
    ByteVec addr = mkopt(5, cat({ia_addr_body(), status}));
    OneOpt o(3, cat({hexb("00000001 00000000 00000000"), addr, status}), 20);
    auto ia = as_ia_na(o.o);
    ASSERT_TRUE(ia.ok()) << ia.error().str();
    // IA_NA header at 20, body at 24, sub-options at 36.
    ASSERT_EQ(codes(ia->options), (std::vector<uint16_t>{5, 13}));
    EXPECT_EQ(offsets(ia->options), (std::vector<size_t>{36, 36 + addr.size()}));
    auto a = as_ia_addr(ia->options[0]);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a->options.size(), 1u);
    EXPECT_EQ(a->options[0].offset, 36u + 4 + 24);
    auto s = as_status_code(a->options[0]);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->code, 2);
    EXPECT_EQ(s->message, "NoAddrsAvail");
}

TEST(Dhcp6Views, IaNaMalformed) {
    expect_err(as_ia_na(OneOpt(3, hexb("00000001 00000000 000000"), 20).o), Errc::kBadOptionLength, 20);
    expect_err(as_ia_na(OneOpt(3, {}, 20).o), Errc::kBadOptionLength, 20);
    // Sub-option at 36 claims 24 bytes, has 4.
    expect_err(as_ia_na(OneOpt(3, hexb("00000001 00000000 00000000 0005 0018 00000000"), 20).o),
               Errc::kOptionPastEnd, 36);
    // Two trailing bytes where a sub-option header should be, after one good sub-option.
    expect_err(as_ia_na(OneOpt(3, hexb("00000001 00000000 00000000 000d 0002 0000 0005"), 20).o),
               Errc::kOptionHeaderTruncated, 42);
}

TEST(Dhcp6Views, IaAddr) {
    OneOpt ok(5, ia_addr_body(), 10);
    auto a = as_ia_addr(ok.o);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->addr, ip(kAddr10));
    EXPECT_EQ(a->preferred, 3600u);
    EXPECT_EQ(a->valid, 7200u);
    EXPECT_TRUE(a->options.empty());
    ByteVec short_body = ia_addr_body();
    short_body.pop_back();
    expect_err(as_ia_addr(OneOpt(5, short_body, 10).o), Errc::kBadOptionLength, 10);
    expect_err(as_ia_addr(OneOpt(5, hexb("20010db8"), 10).o), Errc::kBadOptionLength, 10);
    // Sub-option area starts at 10 + 4 + 24 = 38.
    expect_err(as_ia_addr(OneOpt(5, cat({ia_addr_body(), hexb("000d 0009 0000")}), 10).o), Errc::kOptionPastEnd, 38);
    expect_err(as_ia_addr(OneOpt(5, cat({ia_addr_body(), hexb("00")}), 10).o), Errc::kOptionHeaderTruncated, 38);
}

// RFC 8415 §21.5 (IA_TA: IAID, options), §21.21 (IA_PD: IAID, T1, T2, options), §21.22
// (IAPREFIX: preferred, valid, prefix-length, prefix, options).
TEST(Dhcp6Views, IaTaIaPdIaPrefix) {
    // The OneOpt buffers must outlive the views into them.
    OneOpt tao(4, cat({hexb("0000000a"), mkopt(5, ia_addr_body())}), 20);
    auto ta = as_ia_ta(tao.o);
    ASSERT_TRUE(ta.ok()) << ta.error().str();
    EXPECT_EQ(ta->iaid, 10u);
    ASSERT_EQ(codes(ta->options), (std::vector<uint16_t>{5}));
    EXPECT_EQ(ta->options[0].offset, 28u);
    expect_err(as_ia_ta(OneOpt(4, hexb("000000"), 20).o), Errc::kBadOptionLength, 20);

    // 2001:db8:100::/56, preferred 3600, valid 7200, with a status code inside.
    ByteVec prefix = cat({hexb("00000e10 00001c20 38 20010db8 01000000 00000000 00000000"),
                          mkopt(13, cat({hexb("0000"), str_bytes("ok")}))});
    ByteVec pd = cat({hexb("00000007 00000708 00000b40"), mkopt(26, prefix)});
    OneOpt pdo(25, pd, 20);
    auto ia = as_ia_pd(pdo.o);
    ASSERT_TRUE(ia.ok()) << ia.error().str();
    EXPECT_EQ(ia->iaid, 7u);
    EXPECT_EQ(ia->t1, 1800u);
    EXPECT_EQ(ia->t2, 2880u);
    ASSERT_EQ(codes(ia->options), (std::vector<uint16_t>{26}));
    EXPECT_EQ(ia->options[0].offset, 36u);
    auto p = as_ia_prefix(ia->options[0]);
    ASSERT_TRUE(p.ok()) << p.error().str();
    EXPECT_EQ(p->preferred, 3600u);
    EXPECT_EQ(p->valid, 7200u);
    EXPECT_EQ(p->prefix_len, 56);
    EXPECT_EQ(p->prefix.str(), "2001:db8:100::");
    ASSERT_EQ(codes(p->options), (std::vector<uint16_t>{13}));
    EXPECT_EQ(p->options[0].offset, 36u + 4 + 25);

    expect_err(as_ia_pd(OneOpt(25, hexb("00000007 00000708 000b"), 20).o), Errc::kBadOptionLength, 20);
    ByteVec short_prefix(prefix.begin(), prefix.begin() + 24);
    expect_err(as_ia_prefix(OneOpt(26, short_prefix, 8).o), Errc::kBadOptionLength, 8);
    ByteVec long_len = prefix;
    long_len[8] = 129;
    expect_err(as_ia_prefix(OneOpt(26, long_len, 8).o), Errc::kBadOptionValue, 8);
    // A sub-option running past the end of the IAPREFIX (sub-options start at 8 + 4 + 25).
    expect_err(as_ia_prefix(OneOpt(26, cat({ByteVec(prefix.begin(), prefix.begin() + 25), hexb("000d 0009 00")}), 8).o),
               Errc::kOptionPastEnd, 37);
}

TEST(Dhcp6Print, TreeShowsInsideIaPdAndIaTa) {
    // A Reply with an IA_PD holding two IAPREFIXes (one with a status code) and an IA_TA holding
    // an IA Address, the way IA_NA and its IA Addresses are shown.
    ByteVec status = mkopt(13, cat({hexb("0000"), str_bytes("ok")}));
    ByteVec p1 = mkopt(26, cat({hexb("00000e10 00001c20 38 20010db8 01000000 00000000 00000000"), status}));
    ByteVec p2 = mkopt(26, hexb("00000000 00000000 40 20010db8 02000000 00000000 00000000"));
    ByteVec buf = cat({hexb("07 abcdef"), mkopt(25, cat({hexb("00000007 00000708 00000b40"), p1, p2})),
                       mkopt(4, cat({hexb("0000000a"), mkopt(5, ia_addr_body())}))});
    auto m = decode(buf);
    ASSERT_TRUE(m.ok()) << m.error().str();
    std::string t;
    append_tree(t, *m, 0);
    EXPECT_EQ(t,
              "REPLY xid 0xabcdef\n"
              "  IA_PD (25) len 78 iaid 7 t1 1800 t2 2880\n"
              "    IAPREFIX (26) len 33 2001:db8:100::/56 pref 3600 valid 7200\n"
              "      STATUS_CODE (13) len 4 0 \"ok\"\n"
              "    IAPREFIX (26) len 25 2001:db8:200::/64 pref 0 valid 0\n"
              "  IA_TA (4) len 32 iaid 10\n"
              "    IAADDR (5) len 24 2001:db8::10 pref 3600 valid 7200\n");
    // A malformed IAPREFIX is shown as such, inside its IA_PD.
    ByteVec bad = cat({hexb("07 abcdef"), mkopt(25, cat({hexb("00000007 00000708 00000b40"),
                                                         mkopt(26, hexb("00000e10 00001c20 81 20010db8 01000000 00000000 00000000"))}))});
    auto mb = decode(bad);
    ASSERT_TRUE(mb.ok());
    t.clear();
    append_tree(t, *mb, 0);
    EXPECT_NE(t.find("    IAPREFIX (26) len 25 [malformed: bad option value at offset 20]\n"), std::string::npos) << t;
}

TEST(Dhcp6Views, Oro) {
    OneOpt e_opt(6, {});
    auto e = as_oro(e_opt.o);
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(e->empty());
    OneOpt l_opt(6, hexb("0017 0094 ffff"));
    auto l = as_oro(l_opt.o);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(*l, (std::vector<uint16_t>{23, 148, 65535}));
    expect_err(as_oro(OneOpt(6, hexb("0017 00"), 12).o), Errc::kBadOptionLength, 12);
    expect_err(as_oro(OneOpt(6, hexb("00"), 12).o), Errc::kBadOptionLength, 12);
}

TEST(Dhcp6Views, RelayMsg) {
    OneOpt o(9, hexb("01 000001"), 34);
    auto r = as_relay_msg(o.o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->data(), o.buf.data() + 4);
    EXPECT_EQ(r->size(), 4u);
    expect_err(as_relay_msg(OneOpt(9, {}, 34).o), Errc::kBadOptionLength, 34);
}

TEST(Dhcp6Views, StatusCode) {
    OneOpt s_opt(13, cat({hexb("0005"), str_bytes("Use multicast")}));
    auto s = as_status_code(s_opt.o);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->code, 5);
    EXPECT_EQ(s->message, "Use multicast");
    OneOpt bare_opt(13, hexb("0001"));
    auto bare = as_status_code(bare_opt.o);
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare->code, 1);
    EXPECT_TRUE(bare->message.empty());
    expect_err(as_status_code(OneOpt(13, hexb("00"), 7).o), Errc::kBadOptionLength, 7);
    expect_err(as_status_code(OneOpt(13, {}, 7).o), Errc::kBadOptionLength, 7);
}

TEST(Dhcp6Views, InterfaceId) {
    OneOpt id_opt(18, hexb("00 01 ff"));
    auto id = as_interface_id(id_opt.o);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(to_hex(*id), "0001ff");
    expect_err(as_interface_id(OneOpt(18, {}, 40).o), Errc::kBadOptionLength, 40);
}

TEST(Dhcp6Views, RemoteId) {
    // RFC 4649: enterprise-number (32 bits) then the remote-id.
    OneOpt r_opt(37, hexb("00000d e9 0a0b0c"));
    auto r = as_remote_id(r_opt.o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->enterprise, 3561u);
    EXPECT_EQ(to_hex(r->id), "0a0b0c");
    expect_err(as_remote_id(OneOpt(37, hexb("00000de9"), 3).o), Errc::kBadOptionLength, 3);
    expect_err(as_remote_id(OneOpt(37, hexb("000de9"), 3).o), Errc::kBadOptionLength, 3);
    expect_err(as_remote_id(OneOpt(37, {}, 3).o), Errc::kBadOptionLength, 3);
}

TEST(Dhcp6Views, ClientFqdnNames) {
    // RFC 4704 §4: flags octet then a DNS wire-format name; partial names lack the root label.
    OneOpt full_opt(39, cat({hexb("01 03"), str_bytes("www"), hexb("07"), str_bytes("example"),
                                                  hexb("03"), str_bytes("com"), hexb("00")}));
    auto full = as_client_fqdn(full_opt.o);
    ASSERT_TRUE(full.ok()) << full.error().str();
    EXPECT_EQ(full->flags, 1);
    EXPECT_EQ(full->name, "www.example.com.");

    OneOpt partial_opt(39, cat({hexb("00 04"), str_bytes("host")}));
    auto partial = as_client_fqdn(partial_opt.o);
    ASSERT_TRUE(partial.ok());
    EXPECT_EQ(partial->flags, 0);
    EXPECT_EQ(partial->name, "host");

    OneOpt two_opt(39, cat({hexb("04 04"), str_bytes("host"), hexb("03"), str_bytes("lan")}));
    auto two = as_client_fqdn(two_opt.o);
    ASSERT_TRUE(two.ok());
    EXPECT_EQ(two->flags, 4);
    EXPECT_EQ(two->name, "host.lan");

    OneOpt flags_only_opt(39, hexb("02"));
    auto flags_only = as_client_fqdn(flags_only_opt.o);
    ASSERT_TRUE(flags_only.ok());
    EXPECT_EQ(flags_only->flags, 2);
    EXPECT_EQ(flags_only->name, "");

    ByteVec l63(63, 'a');
    OneOpt max_label_opt(39, cat({hexb("00 3f"), l63, hexb("00")}));
    auto max_label = as_client_fqdn(max_label_opt.o);
    ASSERT_TRUE(max_label.ok());
    EXPECT_EQ(max_label->name, std::string(63, 'a') + ".");
}

TEST(Dhcp6Views, ClientFqdnMalformed) {
    // Option header at 10, body (flags) at 14, first length octet at 15.
    expect_err(as_client_fqdn(OneOpt(39, {}, 10).o), Errc::kBadOptionLength, 10);
    expect_err(as_client_fqdn(OneOpt(39, hexb("08 00"), 10).o), Errc::kBadOptionValue, 10);
    expect_err(as_client_fqdn(OneOpt(39, hexb("80"), 10).o), Errc::kBadOptionValue, 10);
    // Label running past the end of the option.
    expect_err(as_client_fqdn(OneOpt(39, hexb("00 05 6162"), 10).o), Errc::kOptionPastEnd, 15);
    expect_err(as_client_fqdn(OneOpt(39, cat({hexb("00 03"), str_bytes("www"), hexb("09 6162")}), 10).o),
               Errc::kOptionPastEnd, 19);
    // Label longer than 63 octets (also a compression pointer, 0xc0, is rejected this way).
    expect_err(as_client_fqdn(OneOpt(39, cat({hexb("00 40"), ByteVec(64, 'a')}), 10).o), Errc::kBadOptionValue, 15);
    expect_err(as_client_fqdn(OneOpt(39, cat({hexb("00 03"), str_bytes("www"), hexb("c0 0c")}), 10).o),
               Errc::kBadOptionValue, 19);
    // Data after the root label.
    expect_err(as_client_fqdn(OneOpt(39, cat({hexb("00 03"), str_bytes("www"), hexb("00 03"), str_bytes("com")}), 10).o),
               Errc::kBadOptionValue, 20);
}

TEST(Dhcp6Views, ClientLinkLayer) {
    OneOpt eth_opt(79, kLlBody);
    auto eth = as_client_link_layer(eth_opt.o);
    ASSERT_TRUE(eth.ok());
    EXPECT_EQ(eth->hw_type, 1);
    EXPECT_TRUE(eth->is_ethernet());
    EXPECT_EQ(to_hex(eth->addr), "020000000001");

    // Non-Ethernet hardware type (32, InfiniBand, 20-octet address) is kept as-is.
    ByteVec ib = cat({hexb("0020"), ByteVec(20, 0x11)});
    OneOpt other_opt(79, ib);
    auto other = as_client_link_layer(other_opt.o);
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(other->hw_type, 32);
    EXPECT_FALSE(other->is_ethernet());
    EXPECT_EQ(other->addr.size(), 20u);
    // Hardware type 6 (IEEE 802) with a 6-octet address is not "Ethernet" (type 1).
    OneOpt ieee_opt(79, hexb("0006 020000000001"));
    auto ieee = as_client_link_layer(ieee_opt.o);
    ASSERT_TRUE(ieee.ok());
    EXPECT_FALSE(ieee->is_ethernet());

    expect_err(as_client_link_layer(OneOpt(79, hexb("0001 0200000001"), 50).o), Errc::kBadOptionLength, 50);
    expect_err(as_client_link_layer(OneOpt(79, hexb("0001 02000000000102"), 50).o), Errc::kBadOptionLength, 50);
    expect_err(as_client_link_layer(OneOpt(79, hexb("0001"), 50).o), Errc::kBadOptionLength, 50);
    expect_err(as_client_link_layer(OneOpt(79, hexb("00"), 50).o), Errc::kBadOptionLength, 50);
    expect_err(as_client_link_layer(OneOpt(79, {}, 50).o), Errc::kBadOptionLength, 50);
}

TEST(Dhcp6Views, AddrRegEnable) {
    OneOpt e_opt(148, {});
    auto e = as_addr_reg_enable(e_opt.o);
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(*e);
    expect_err(as_addr_reg_enable(OneOpt(148, hexb("00"), 16).o), Errc::kBadOptionLength, 16);
}

TEST(Dhcp6Writers, ExactBytes) {
    std::vector<uint8_t> out{0xff};  // writers append
    Writer w(out);
    write_client_link_layer(w, *MacAddr::parse("02:00:00:00:00:01"));
    EXPECT_EQ(to_hex(out), "ff" "004f" "0008" "0001" "020000000001");

    out.clear();
    write_interface_id(w, str_bytes("eth0"));
    EXPECT_EQ(to_hex(out), "0012" "0004" "65746830");

    out.clear();
    write_remote_id(w, 3561, hexb("0a0b0c"));
    EXPECT_EQ(to_hex(out), "0025" "0007" "00000de9" "0a0b0c");

    // What the writers produce decodes back with the views.
    out.clear();
    write_remote_id(w, 0x01020304, str_bytes("circuit-1"));
    auto opts = parse_options(out);
    ASSERT_TRUE(opts.ok());
    ASSERT_EQ(opts->size(), 1u);
    auto rid = as_remote_id((*opts)[0]);
    ASSERT_TRUE(rid.ok());
    EXPECT_EQ(rid->enterprise, 0x01020304u);
    EXPECT_EQ(to_hex(rid->id), to_hex(str_bytes("circuit-1")));
}

// ---- malformed input -------------------------------------------------------------------

TEST(Dhcp6Malformed, EmptyAndShortHeaders) {
    expect_error({}, Errc::kTruncatedHeader, 0);
    expect_error(hexb("01"), Errc::kTruncatedHeader, 0);
    expect_error(hexb("01 00"), Errc::kTruncatedHeader, 0);
    expect_error(hexb("01 0000"), Errc::kTruncatedHeader, 0);
    auto c = decode_client(hexb("0b 00"), 0);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(int(c.error().code), int(Errc::kTruncatedHeader));
    auto c2 = decode_client(ByteVec{}, 17);
    ASSERT_FALSE(c2.ok());
    EXPECT_EQ(c2.error().offset, 17u);
}

TEST(Dhcp6Malformed, OptionHeaderTruncated) {
    expect_error(hexb("01 000001 00"), Errc::kOptionHeaderTruncated, 4);
    expect_error(hexb("01 000001 0001"), Errc::kOptionHeaderTruncated, 4);
    expect_error(hexb("01 000001 000100"), Errc::kOptionHeaderTruncated, 4);
    expect_error(hexb("01 000001 0008 0002 0000 0006 00"), Errc::kOptionHeaderTruncated, 10);
}

TEST(Dhcp6Malformed, OptionPastEndTopLevel) {
    expect_error(hexb("01 000001 0008 0003 0000"), Errc::kOptionPastEnd, 4);
    expect_error(hexb("01 000001 0008 0002 0000 0001 ffff 00"), Errc::kOptionPastEnd, 10);
    // IA_NA (at 4) itself past the end.
    expect_error(hexb("01 000001 0003 000d 00000001 00000000 00000000"), Errc::kOptionPastEnd, 4);
}

TEST(Dhcp6Malformed, OptionPastEndInsideIaNa) {
    // The message is well-formed at the top level; the IA_NA's sub-option is not.
    ByteVec buf = cat({hexb("01 000001"), mkopt(1, kDuidLlt),
                       mkopt(3, hexb("00000001 00000000 00000000 0005 0018 20010db8"))});
    auto m = decode(buf);
    ASSERT_TRUE(m.ok());
    // IA_NA at 22, body 26, sub-option at 38.
    expect_err(as_ia_na(m->inner.options[1]), Errc::kOptionPastEnd, 38);
}

TEST(Dhcp6Malformed, OptionPastEndInsideRelay) {
    // In the relay level's own options (option area starts at 34).
    expect_error(cat({hexb("0c 00"), kLink, kPeer, hexb("0009 0010 01000001")}), Errc::kOptionPastEnd, 34);
    expect_error(cat({hexb("0c 00"), kLink, kPeer, mkopt(18, str_bytes("eth0")), hexb("0009 0010 01000001")}),
                 Errc::kOptionPastEnd, 42);
    // In the relayed message: relay header 34, option 18 (8), option 9 header at 42, client at
    // 46, its first option at 50.
    ByteVec bad_inner = hexb("01 000001 0008 0009 0000");
    expect_error(relay_forw(bad_inner), Errc::kOptionPastEnd, 50);
    // Two levels down: inner relay at 50, its client at 96, the bad option at 100.
    expect_error(cat({hexb("0c 01"), kLink2, kPeer2, mkopt(79, kLlBody), mkopt(9, relay_forw(bad_inner))}),
                 Errc::kOptionPastEnd, 34 + 12 + 4 + 50);
    // Option header truncated inside the relayed message.
    expect_error(relay_forw(hexb("01 000001 00")), Errc::kOptionHeaderTruncated, 50);
}

TEST(Dhcp6Malformed, RelayMessageTooShort) {
    expect_error(hexb("0c"), Errc::kRelayMessageTooShort, 0);
    expect_error(cat({hexb("0c 00"), kLink}), Errc::kRelayMessageTooShort, 0);
    ByteVec b33 = cat({hexb("0d 00"), kLink, kPeer});
    b33.pop_back();
    expect_error(b33, Errc::kRelayMessageTooShort, 0);
    // A nested relay level of 20 bytes, carried at offset 46.
    expect_error(relay_forw(cat({hexb("0c 00"), ByteVec(18, 0)})), Errc::kRelayMessageTooShort, 46);
    // decode_relay on its own reports the base offset.
    auto r = decode_relay(hexb("0c 00 0000"), 100);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(int(r.error().code), int(Errc::kRelayMessageTooShort));
    EXPECT_EQ(r.error().offset, 100u);
}

TEST(Dhcp6Malformed, RelayWithoutOption9) {
    expect_error(cat({hexb("0c 00"), kLink, kPeer}), Errc::kMissingRelayMessage, 0);
    expect_error(cat({hexb("0c 00"), kLink, kPeer, mkopt(18, str_bytes("eth0")), mkopt(79, kLlBody)}),
                 Errc::kMissingRelayMessage, 0);
    // The second level lacks option 9: reported at that level's offset (46).
    expect_error(relay_forw(cat({hexb("0c 00"), kLink, kPeer, mkopt(18, str_bytes("x"))})),
                 Errc::kMissingRelayMessage, 46);
    // decode_relay alone accepts a level without option 9; relay_msg() is null.
    auto l = decode_relay(cat({hexb("0c 00"), kLink, kPeer}), 0);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->relay_msg(), nullptr);
}

TEST(Dhcp6Malformed, EmptyOrShortOption9) {
    // An empty relayed message has no header: truncated header at the option 9 body (38).
    expect_error(cat({hexb("0c 00"), kLink, kPeer, hexb("0009 0000")}), Errc::kTruncatedHeader, 38);
    expect_error(cat({hexb("0c 00"), kLink, kPeer, hexb("0009 0000"), mkopt(18, str_bytes("e"))}),
                 Errc::kTruncatedHeader, 38);
    // A 2-byte client message inside option 9.
    expect_error(cat({hexb("0c 00"), kLink, kPeer, hexb("0009 0002 0100")}), Errc::kTruncatedHeader, 38);
}

ByteVec nested_relays(size_t levels, const ByteVec& inner) {
    ByteVec p = inner;
    for (size_t i = 0; i < levels; ++i) p = cat({ByteVec{0x0c, uint8_t(i)}, kLink, kPeer, mkopt(9, p)});
    return p;
}

TEST(Dhcp6Malformed, NestingDepth) {
    ASSERT_EQ(kMaxRelayDepth, 32u);
    const ByteVec inner = hexb("01 000001");
    // 32 levels: the documented maximum, decodes.
    ByteVec b32 = nested_relays(32, inner);
    auto m = decode(b32);
    ASSERT_TRUE(m.ok()) << m.error().str();
    ASSERT_EQ(m->relays.size(), 32u);
    EXPECT_EQ(m->relays.front().hop_count, 31);
    EXPECT_EQ(m->relays.back().hop_count, 0);
    for (size_t i = 0; i < 32; ++i) EXPECT_EQ(m->relays[i].offset, i * 38);
    EXPECT_EQ(m->inner.offset, 32u * 38);
    EXPECT_EQ(to_hex(encode(*m)), to_hex(b32));
    // 33 levels: the 33rd level (at 32 * 38) is too deep.
    expect_error(nested_relays(33, inner), Errc::kNestingTooDeep, 32 * 38);
    // A smaller limit.
    auto lim = decode(nested_relays(3, inner), 2);
    ASSERT_FALSE(lim.ok());
    EXPECT_EQ(int(lim.error().code), int(Errc::kNestingTooDeep));
    EXPECT_EQ(lim.error().offset, 76u);
    EXPECT_TRUE(decode(nested_relays(2, inner), 2).ok());
    EXPECT_TRUE(decode(inner, 0).ok());
    auto zero = decode(nested_relays(1, inner), 0);
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(int(zero.error().code), int(Errc::kNestingTooDeep));
    EXPECT_EQ(zero.error().offset, 0u);
}

// ---- OptionIter ------------------------------------------------------------------------

TEST(Dhcp6OptionIter, WalksInOrderWithOffsets) {
    ByteVec area = cat({mkopt(1, hexb("aabb")), mkopt(8, hexb("0000")), mkopt(148, {})});
    OptionIter it(area, 100);
    Option o;
    ASSERT_TRUE(it.next(o));
    EXPECT_EQ(o.code, 1);
    EXPECT_EQ(o.offset, 100u);
    EXPECT_EQ(o.data.data(), area.data() + 4);
    EXPECT_EQ(o.data.size(), 2u);
    ASSERT_TRUE(it.next(o));
    EXPECT_EQ(o.code, 8);
    EXPECT_EQ(o.offset, 106u);
    ASSERT_TRUE(it.next(o));
    EXPECT_EQ(o.code, 148);
    EXPECT_EQ(o.offset, 112u);
    EXPECT_TRUE(o.data.empty());
    EXPECT_FALSE(it.next(o));
    EXPECT_FALSE(it.failed());
    EXPECT_FALSE(it.next(o));

    OptionIter empty{Bytes{}};
    EXPECT_FALSE(empty.next(o));
    EXPECT_FALSE(empty.failed());
}

TEST(Dhcp6OptionIter, DoesNotAllocate) {
    ByteVec area;
    for (int i = 0; i < 200; ++i) area = cat({area, mkopt(uint16_t(i), ByteVec(size_t(i % 7), uint8_t(i)))});
    size_t n = 0, total = 0;
    g_allocs = 0;
    g_count_allocs = true;
    {
        OptionIter it(area);
        Option o;
        while (it.next(o)) {
            ++n;
            total += o.data.size();
        }
    }
    g_count_allocs = false;
    EXPECT_EQ(g_allocs.load(), 0);
    EXPECT_EQ(n, 200u);
    EXPECT_EQ(total + 200 * 4, area.size());
    // Sanity check that the counter counts: parse_options builds a vector.
    g_allocs = 0;
    g_count_allocs = true;
    auto l = parse_options(area);
    g_count_allocs = false;
    EXPECT_GT(g_allocs.load(), 0);
    EXPECT_EQ(l->size(), 200u);
}

TEST(Dhcp6OptionIter, StopsOnMalformedInput) {
    Option o;
    {
        ByteVec area = cat({mkopt(1, hexb("aabb")), hexb("00")});
        OptionIter it(area, 10);
        ASSERT_TRUE(it.next(o));
        EXPECT_FALSE(it.next(o));
        ASSERT_TRUE(it.failed());
        EXPECT_EQ(int(it.error().code), int(Errc::kOptionHeaderTruncated));
        EXPECT_EQ(it.error().offset, 16u);
        EXPECT_FALSE(it.next(o));  // stays stopped
        EXPECT_TRUE(it.failed());
    }
    {
        ByteVec area = hexb("0001 0020 aabb 0008 0002 0000");
        OptionIter it(area, 10);
        EXPECT_FALSE(it.next(o));
        ASSERT_TRUE(it.failed());
        EXPECT_EQ(int(it.error().code), int(Errc::kOptionPastEnd));
        EXPECT_EQ(it.error().offset, 10u);
    }
    auto r = parse_options(hexb("0001 0000 0002 0001"), 4);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(int(r.error().code), int(Errc::kOptionPastEnd));
    EXPECT_EQ(r.error().offset, 8u);
}

// ---- print -----------------------------------------------------------------------------

TEST(Dhcp6Print, SummaryOfAddrRegInform) {
    ByteVec buf = addr_reg_inform();
    auto m = decode(buf);
    ASSERT_TRUE(m.ok());
    std::string s;
    append_summary(s, *m);
    EXPECT_NE(s.find("ADDR-REG-INFORM"), std::string::npos) << s;
    EXPECT_NE(s.find("xid 0x00abcd"), std::string::npos) << s;
    EXPECT_NE(s.find("addr 2001:db8::10 pref 3600 valid 7200"), std::string::npos) << s;
    EXPECT_NE(s.find("opts [1,5]"), std::string::npos) << s;
    EXPECT_EQ(s.find('|'), std::string::npos) << s;
}

TEST(Dhcp6Print, SummaryOfRelayLevel) {
    ByteVec buf = relay_forw(addr_reg_inform(), 1);
    auto m = decode(buf);
    ASSERT_TRUE(m.ok());
    std::string s;
    append_summary(s, *m);
    EXPECT_NE(s.find("RELAY-FORW hop 1 link 2001:db8::1 peer fe80::1"), std::string::npos) << s;
    EXPECT_NE(s.find("ifid \"eth0\""), std::string::npos) << s;
    EXPECT_NE(s.find("lladdr 02:00:00:00:00:01"), std::string::npos) << s;
    EXPECT_NE(s.find("opts [18,9,79]"), std::string::npos) << s;
    // The relay level comes first, then the inner message with its address.
    size_t bar = s.find(" | ");
    ASSERT_NE(bar, std::string::npos) << s;
    EXPECT_LT(s.find("RELAY-FORW"), bar);
    EXPECT_GT(s.find("ADDR-REG-INFORM"), bar);
    EXPECT_GT(s.find("addr 2001:db8::10"), bar);

    // A non-printable interface-id is shown in hex; a malformed option 79 is flagged.
    ByteVec odd = cat({hexb("0c 00"), kLink, kPeer, mkopt(18, hexb("0001ff")), mkopt(9, hexb("01 000001")),
                       mkopt(79, hexb("0001 0203"))});
    auto m2 = decode(odd);
    ASSERT_TRUE(m2.ok());
    std::string s2;
    append_summary(s2, *m2);
    EXPECT_NE(s2.find("ifid 0x0001ff"), std::string::npos) << s2;
    EXPECT_NE(s2.find("lladdr [malformed]"), std::string::npos) << s2;
}

TEST(Dhcp6Print, Json) {
    ByteVec buf = relay_forw(addr_reg_inform(), 2);
    auto m = decode(buf);
    ASSERT_TRUE(m.ok());
    std::string j;
    append_json(j, *m);
    ASSERT_FALSE(j.empty());
    EXPECT_EQ(j.front(), '{');
    EXPECT_EQ(j.back(), '}');
    for (const char* want : {
             "\"relays\":[{\"type\":12,\"name\":\"RELAY-FORW\",\"hop_count\":2",
             "\"link_address\":\"2001:db8::1\"",
             "\"peer_address\":\"fe80::1\"",
             "\"options\":[18,9,79]",
             "\"interface_id\":\"65746830\"",
             "\"client_link_layer\":\"02:00:00:00:00:01\"",
             "\"message\":{\"type\":36,\"name\":\"ADDR-REG-INFORM\"",
             "\"xid\":43981",
             "\"options\":[1,5]",
             "\"ia_addr\":\"2001:db8::10\"",
         })
        EXPECT_NE(j.find(want), std::string::npos) << want << "\n" << j;

    std::string u;
    ByteVec unknown = hexb("c8 000001");
    auto un = decode(unknown);
    ASSERT_TRUE(un.ok());
    append_json(u, *un);
    EXPECT_NE(u.find("\"relays\":[]"), std::string::npos) << u;
    EXPECT_NE(u.find("\"name\":\"UNKNOWN-200\""), std::string::npos) << u;

    std::string esc;
    append_json_string(esc, std::string("a\"b\\c\n", 6));
    EXPECT_EQ(esc, "\"a\\\"b\\\\c\\u000a\"");
}

TEST(Dhcp6Print, TreeAndOptionValue) {
    ByteVec buf = relay_forw(solicit());
    auto m = decode(buf);
    ASSERT_TRUE(m.ok());
    std::string t;
    append_tree(t, *m, 0);
    EXPECT_NE(t.find("RELAY-FORW hop-count 0 link-address 2001:db8::1 peer-address fe80::1"), std::string::npos) << t;
    EXPECT_NE(t.find("SOLICIT xid 0x123456"), std::string::npos) << t;
    EXPECT_NE(t.find("IAADDR (5) len 24 2001:db8::10 pref 3600 valid 7200"), std::string::npos) << t;
    EXPECT_NE(t.find("CLIENT_LINKLAYER_ADDR (79) len 8 hwtype 1 02:00:00:00:00:01"), std::string::npos) << t;

    EXPECT_EQ(option_value(OneOpt(6, hexb("0017 0094")).o), "[23,148]");
    EXPECT_EQ(option_value(OneOpt(37, hexb("00000009 0a0b")).o), "enterprise 9 id 0x0a0b");
    EXPECT_NE(option_value(OneOpt(6, hexb("00"), 12).o).find("malformed"), std::string::npos);
}

}  // namespace
