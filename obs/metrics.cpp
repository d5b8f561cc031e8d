#include "obs/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "dhcp6/dhcp6.h"

namespace regrelay::obs {

std::optional<ListenAddress> parse_listen(std::string_view text, std::string& why) {
    ListenAddress a;
    a.text = std::string(text);
    std::string host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            why = "expected [IPV6]:PORT, e.g. [::1]:9547";
            return std::nullopt;
        }
        host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) {
            why = colon == std::string_view::npos ? "expected ADDR:PORT, e.g. 127.0.0.1:9547 or [::1]:9547"
                                                  : "an IPv6 address goes in brackets, e.g. [::1]:9547";
            return std::nullopt;
        }
        host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
    }
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) {
        // Built in a local string: `port` views the caller's text, which GCC 12 at -O3 cannot
        // tell apart from `why` (-Wrestrict).
        std::string m(1, '\'');
        m.append(port).append("': the port must be 1-65535");
        why = std::move(m);
        return std::nullopt;
    }
    if (text.front() == '[') {
        sockaddr_in6 s{};
        s.sin6_family = AF_INET6;
        s.sin6_port = htons(uint16_t(p));
        if (inet_pton(AF_INET6, host.c_str(), &s.sin6_addr) != 1) {
            std::string m(1, '\'');
            m.append(host).append("': not an IPv6 address");
            why = std::move(m);
            return std::nullopt;
        }
        std::memcpy(&a.addr, &s, sizeof s);
        a.len = sizeof s;
    } else {
        sockaddr_in s{};
        s.sin_family = AF_INET;
        s.sin_port = htons(uint16_t(p));
        if (inet_pton(AF_INET, host.c_str(), &s.sin_addr) != 1) {
            std::string m(1, '\'');
            m.append(host).append("': not an IPv4 address (an IPv6 address goes in brackets)");
            why = std::move(m);
            return std::nullopt;
        }
        std::memcpy(&a.addr, &s, sizeof s);
        a.len = sizeof s;
    }
    return a;
}

ProcessInfo process_info(std::string mode) {
    ProcessInfo p;
    p.version = REGRELAY_VERSION;
    p.mode = std::move(mode);
    p.start_time_seconds =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    return p;
}

std::string type_label(uint8_t type) {
    std::string_view n = dhcp6::msg_type_name(type);
    if (n.empty()) return std::to_string(type);
    std::string s;
    for (char c : n) s += c == '-' ? '_' : char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return s;
}

std::string escape_label(std::string_view v) {
    std::string s;
    for (char c : v) {
        if (c == '\\') s += "\\\\";
        else if (c == '"') s += "\\\"";
        else if (c == '\n') s += "\\n";
        else s += c;
    }
    return s;
}

namespace {

class Writer {
public:
    explicit Writer(std::string& out) : out_(out) {}

    void family(std::string_view name, std::string_view type, std::string_view help) {
        name_ = name;
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    // One sample of the current family with labels {k1="v1",...}.
    void sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, uint64_t v) {
        head(labels);
        out_ += std::to_string(v);
        out_ += '\n';
    }
    void sample_text(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, std::string_view v) {
        head(labels);
        out_ += v;
        out_ += '\n';
    }

private:
    void head(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
        out_ += name_;
        if (labels.size()) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += k;
                out_ += "=\"";
                out_ += escape_label(v);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
    }
    std::string& out_;
    std::string_view name_;
};

}  // namespace

void render(const Snapshot& s, const ProcessInfo& p, std::string& out) {
    out.clear();
    Writer w(out);
    w.family("regrelay_build_info", "gauge", "Always 1; the labels name the version and the mode running.");
    w.sample({{"version", p.version}, {"mode", p.mode}}, 1);
    w.family("regrelay_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
    char t[32];
    std::snprintf(t, sizeof t, "%.3f", p.start_time_seconds);
    w.sample_text({}, t);

    w.family("regrelay_frames_received_total", "counter",
             "Frames (client side, snoop ports) or datagrams (relay server side) received, whatever became of them.");
    for (const auto& pm : s.ports) w.sample({{"port", pm.name}}, pm.frames);

    struct ByType {
        const char* name;
        const char* help;
        TypeCounts PortMetrics::*field;
    };
    static const ByType kByType[] = {
        {"regrelay_messages_received_total", "DHCPv6 messages received, by message type.", &PortMetrics::received},
        {"regrelay_messages_relayed_total",
         "Messages relayed toward the servers from this port (in a Relay-forward), by the relayed message's type.",
         &PortMetrics::relayed},
        {"regrelay_replies_relayed_total",
         "Messages from a Relay-reply delivered to a client on this port, by the delivered message's type.",
         &PortMetrics::replies},
    };
    for (const auto& bt : kByType) {
        w.family(bt.name, "counter", bt.help);
        for (const auto& pm : s.ports) {
            const TypeCounts& c = pm.*bt.field;
            for (size_t ty = 0; ty < c.size(); ++ty)
                if (c[ty]) w.sample({{"port", pm.name}, {"type", type_label(uint8_t(ty))}}, c[ty]);
        }
    }

    w.family("regrelay_drops_total", "counter",
             "Frames and messages not relayed, by port and reason (rate-limit-mac and rate-limit-port: flood limits).");
    for (const auto& pm : s.ports)
        for (size_t r = 0; r < s.drop_reasons.size() && r < pm.drops.size(); ++r)
            w.sample({{"port", pm.name}, {"reason", s.drop_reasons[r]}}, pm.drops[r]);

    w.family("regrelay_capture_kernel_drops_total", "counter",
             "Packets the kernel dropped before the capture read them (pcap ps_drop of the open capture; starts "
             "again from 0 when the capture is reopened).");
    for (const auto& pm : s.ports)
        if (pm.kernel_drops) w.sample({{"port", pm.name}}, *pm.kernel_drops);

    w.family("regrelay_interface_up", "gauge", "1 while the port's interface is up and captured, else 0.");
    for (const auto& pm : s.ports)
        if (pm.is_interface) w.sample({{"port", pm.name}}, pm.up ? 1 : 0);
    w.family("regrelay_interface_events_total", "counter",
             "Interface transitions seen through rtnetlink: up, down, absent, recreated, readdressed, capture_error.");
    for (const auto& pm : s.ports) {
        if (!pm.is_interface) continue;
        const InterfaceEvents& e = pm.events;
        const std::pair<std::string_view, uint64_t> ev[] = {{"up", e.up},
                                                            {"down", e.down},
                                                            {"absent", e.absent},
                                                            {"recreated", e.recreated},
                                                            {"readdressed", e.readdressed},
                                                            {"capture_error", e.capture_errors}};
        for (const auto& [k, v] : ev) w.sample({{"port", pm.name}, {"event", k}}, v);
    }

    bool any_client_send = false;
    for (const auto& pm : s.ports) any_client_send |= pm.send_errors.has_value();
    if (any_client_send) {
        w.family("regrelay_client_send_errors_total", "counter",
                 "Messages toward clients on this port that could not be sent.");
        for (const auto& pm : s.ports)
            if (pm.send_errors) w.sample({{"port", pm.name}}, *pm.send_errors);
    }
    if (!s.servers.empty()) {
        w.family("regrelay_server_sent_total", "counter", "Relay-forwards sent to the server (or multicast group).");
        for (const auto& sv : s.servers) w.sample({{"server", sv.address}}, sv.sent);
        w.family("regrelay_server_send_errors_total", "counter", "Relay-forwards to the server that could not be sent.");
        for (const auto& sv : s.servers) w.sample({{"server", sv.address}}, sv.send_errors);
        w.family("regrelay_server_icmp_errors_total", "counter",
                 "ICMPv6 errors (and other socket errors) reported for datagrams sent to the server.");
        for (const auto& sv : s.servers) w.sample({{"server", sv.address}}, sv.icmp_errors);
        w.family("regrelay_server_gso_sent_total", "counter",
                 "Relay-forwards to the server sent inside UDP GSO sends (several in one send call, cut apart "
                 "by the kernel); included in regrelay_server_sent_total.");
        for (const auto& sv : s.servers) w.sample({{"server", sv.address}}, sv.gso_sent);
        w.family("regrelay_server_gso", "gauge", "1 while Relay-forwards to the server may use UDP GSO (--udp-gso).");
        for (const auto& sv : s.servers) w.sample({{"server", sv.address}}, sv.gso ? 1 : 0);
    }
    if (s.inject_errors) {
        w.family("regrelay_inject_errors_total", "counter", "Frames that could not be injected on their port.");
        w.sample({}, *s.inject_errors);
    }
    w.family("regrelay_write_errors_total", "counter", "Frames --write could not record.");
    w.sample({}, s.write_errors);
    w.family("regrelay_flood_mac_table_capacity", "gauge", "Entries of the flood limits' per-MAC rate table.");
    w.sample({}, s.mac_table_capacity);
    w.family("regrelay_flood_mac_table_evictions_total", "counter",
             "Entries of the per-MAC rate table replaced while in use (the table was full).");
    w.sample({}, s.mac_table_evictions);
    for (const auto& f : s.extra) {
        w.family(f.name, f.type, f.help);
        for (const auto& [value, n] : f.samples) {
            if (f.label.empty()) w.sample({}, n);
            else w.sample({{f.label, value}}, n);
        }
    }
}

std::string render(const Snapshot& s, const ProcessInfo& p) {
    std::string out;
    render(s, p, out);
    return out;
}

// --- the HTTP server ---------------------------------------------------------------------------

struct Access {
    static MHD_Result call(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                           const char*, size_t* upload_size, void** state) {
        // The first call of a request only sets up its state; a body is never read.
        if (*state == nullptr) {
            static int marker;
            *state = &marker;
            return MHD_YES;
        }
        *upload_size = 0;
        return static_cast<MetricsServer*>(cls)->respond(c, url, method) ? MHD_YES : MHD_NO;
    }
};

namespace {

bool queue(MHD_Connection* c, unsigned status, const char* type, const std::string& body) {
    MHD_Response* r =
        MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (!r) return false;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    const MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok == MHD_YES;
}

}  // namespace

int MetricsServer::respond(MHD_Connection* c, const char* url, const char* method) {
    const std::string_view m = method, u = url;
    const bool get = m == MHD_HTTP_METHOD_GET || m == MHD_HTTP_METHOD_HEAD;
    if (get && u == "/metrics") {
        static const Snapshot kEmpty;
        const Snapshot* s = buf_.latest();
        render(s ? *s : kEmpty, info_, body_);
        return queue(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body_);
    }
    if (get && u == "/") {
        static const std::string kIndex =
            "<html><head><title>regrelay</title></head><body><a href=\"/metrics\">/metrics</a></body></html>\n";
        return queue(c, MHD_HTTP_OK, "text/html; charset=utf-8", kIndex);
    }
    static const std::string kNotFound = "not found: the metrics are at GET /metrics\n";
    return queue(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", kNotFound);
}

MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::bind(const ListenAddress& a, std::string& err) {
    const int fd = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        err = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a.addr.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0 || ::listen(fd, 16) != 0) {
        err = "cannot listen on " + a.text + ": " + std::strerror(errno);
        ::close(fd);
        return false;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return true;
}

uint16_t MetricsServer::port() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

bool MetricsServer::start(std::string& err) {
    if (fd_ < 0) {
        err = "not bound";
        return false;
    }
    // One internal thread for every connection (the only reader of the triple buffer), a few
    // connections at a time, idle ones closed after 10 s.
    mhd_ = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, nullptr, nullptr, &Access::call, this,
                            MHD_OPTION_LISTEN_SOCKET, fd_, MHD_OPTION_CONNECTION_LIMIT, 16u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!mhd_) {
        err = "cannot start the HTTP server (libmicrohttpd)";
        return false;
    }
    return true;
}

void MetricsServer::stop() {
    if (mhd_) {
        MHD_stop_daemon(mhd_);  // joins the thread; the listen socket stays ours
        mhd_ = nullptr;
    }
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace regrelay::obs
