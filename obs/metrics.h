// Prometheus metrics (`--metrics-listen ADDR:PORT`): GET /metrics in the text exposition format
// 0.0.4, served by libmicrohttpd from its own thread, off the packet path.
//
// The packet thread owns every counter (the engines' PortCounters, the port tracker's events, the
// daemons' per-server and per-port I/O counters) and never shares them. At most every 250 ms it
// copies them into a Snapshot (a plain struct, no strings rendered) and publishes it through a
// TripleBuffer; the HTTP thread takes the newest snapshot and renders it (render(), pure) only
// when it is scraped. Nothing on the per-packet path is atomic or locked.
//
// Why a triple buffer and not a seqlock or std::atomic<std::shared_ptr>: it is wait-free on both
// sides (the writer never waits for a slow scrape, the reader never retries), it allocates
// nothing once the three snapshots have grown to size (the writer refills its own buffer in
// place), and every byte is handed over by one acquire/release exchange of an index, so it is
// data-race free by construction (a seqlock copies shared bytes while they may be written, which
// is a data race in C++ unless every byte is an atomic; libstdc++'s atomic<shared_ptr> is not
// lock-free and allocates a control block per publish). It is single-producer single-consumer:
// libmicrohttpd's internal polling thread (MHD_USE_INTERNAL_POLLING_THREAD, no thread per
// connection) is the only reader.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct MHD_Daemon;
struct MHD_Connection;

namespace regrelay::obs {

// --- the listen address ---------------------------------------------------------------------

struct ListenAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;
    std::string text;  // as given: "[::1]:9547", "127.0.0.1:9547"
};

// "[IPV6]:PORT" or "IPV4:PORT", PORT 1-65535 (required). nullopt and `why` when invalid.
std::optional<ListenAddress> parse_listen(std::string_view text, std::string& why);

// --- the snapshot -----------------------------------------------------------------------------

inline constexpr size_t kMessageTypes = 256;
using TypeCounts = std::array<uint64_t, kMessageTypes>;  // indexed by the DHCPv6 message type

// Interface transitions (capture::PortEvents, copied).
struct InterfaceEvents {
    uint64_t up = 0, down = 0, absent = 0, recreated = 0, readdressed = 0, capture_errors = 0;
};

struct PortMetrics {
    std::string name;           // the port label: an interface, or "upstream" (relay server side)
    uint64_t frames = 0;        // every frame or datagram the engine was given on the port
    TypeCounts received{};      // DHCPv6 messages received, by type
    TypeCounts relayed{};       // relayed toward servers from this port, by the relayed message's type
    TypeCounts replies{};       // replies delivered to clients on this port, by the inner message's type
    std::vector<uint64_t> drops;  // parallel to Snapshot::drop_reasons
    bool is_interface = true;   // false: the relay's server side (no interface metrics)
    bool up = false;            // captured now (the interface is up)
    InterfaceEvents events;
    std::optional<uint64_t> kernel_drops;  // the open capture's kernel drop count
    std::optional<uint64_t> send_errors;   // relay: datagrams to clients on this port that failed
};

struct ServerMetrics {
    std::string address;
    uint64_t sent = 0, send_errors = 0, icmp_errors = 0;
    uint64_t gso_sent = 0;  // of `sent`: inside UDP GSO sends
    bool gso = false;       // UDP GSO in use toward this server now
};

// A further family a daemon adds (the registrar's DNS view): its samples, each with one label
// (`label`="value") or none (`label` empty). Every string_view has static storage.
struct ExtraFamily {
    std::string_view name, type, help, label;
    std::vector<std::pair<std::string_view, uint64_t>> samples;
};

struct Snapshot {
    std::vector<std::string_view> drop_reasons;  // drop_name() strings (static storage)
    std::vector<PortMetrics> ports;
    std::vector<ServerMetrics> servers;          // relay only
    std::optional<uint64_t> inject_errors;       // snoop only
    uint64_t write_errors = 0;                   // frames --write could not record
    uint64_t mac_table_capacity = 0, mac_table_evictions = 0;  // flood limits' per-MAC table
    std::vector<ExtraFamily> extra;              // rendered last, in this order
};

// What does not change while the process runs.
struct ProcessInfo {
    std::string version;
    std::string mode;              // "relay", "snoop"
    double start_time_seconds = 0;  // Unix time
};
// This build's version, `mode`, and now as the start time.
ProcessInfo process_info(std::string mode);

// How often the daemons publish a snapshot (at most; at the wake-up after a quiet second).
inline constexpr uint64_t kPublishIntervalNs = 250'000'000;

// The exposition text (format 0.0.4): HELP and TYPE for every family, families in a fixed
// order, per-type counters only for the types seen (a counter appears at its first message).
std::string render(const Snapshot& s, const ProcessInfo& p);
void render(const Snapshot& s, const ProcessInfo& p, std::string& out);  // reuses out's capacity

// "solicit", "information_request", "addr_reg_inform", ...; the number for an unnamed type.
std::string type_label(uint8_t type);
// A label value escaped for the text format (backslash, double quote, newline).
std::string escape_label(std::string_view v);

// --- the hand-over ----------------------------------------------------------------------------

// Single producer, single consumer. The writer fills back() and publish()es it; the reader's
// latest() is the newest published value (nullptr before the first), valid until its next call.
template <class T>
class TripleBuffer {
public:
    T& back() { return buf_[back_]; }
    void publish() { back_ = uint8_t(mid_.exchange(uint8_t(back_ | kFresh), std::memory_order_acq_rel) & kIndex); }
    const T* latest() {
        if (mid_.load(std::memory_order_relaxed) & kFresh) {
            front_ = uint8_t(mid_.exchange(front_, std::memory_order_acq_rel) & kIndex);
            have_ = true;
        }
        return have_ ? &buf_[front_] : nullptr;
    }

private:
    static constexpr uint8_t kIndex = 3, kFresh = 4;
    std::array<T, 3> buf_{};
    std::atomic<uint8_t> mid_{1};  // the middle buffer's index, kFresh when it is newer than front
    uint8_t back_ = 0;             // the writer's
    uint8_t front_ = 2;            // the reader's
    bool have_ = false;            // the reader's
};

// --- the server -------------------------------------------------------------------------------

class MetricsServer {
public:
    explicit MetricsServer(ProcessInfo info) : info_(std::move(info)) {}
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Binds and listens (the daemons do it before dropping privileges). False and `err`.
    bool bind(const ListenAddress& a, std::string& err);
    // Starts the HTTP thread on the bound socket (after the privilege drop, so the thread has
    // the dropped credentials). False and `err`.
    bool start(std::string& err);
    void stop();
    // The bound port (for tests that bind port 0).
    uint16_t port() const;

    // Packet thread: fill next() completely, then publish().
    Snapshot& next() { return buf_.back(); }
    void publish() { buf_.publish(); }

private:
    friend struct Access;  // libmicrohttpd's callback (metrics.cpp)
    int respond(MHD_Connection* c, const char* url, const char* method);

    ProcessInfo info_;
    TripleBuffer<Snapshot> buf_;
    std::string body_;  // the HTTP thread's
    int fd_ = -1;
    MHD_Daemon* mhd_ = nullptr;
};

}  // namespace regrelay::obs
