// The daemons' side of systemd's service notification protocol (sd_notify(3), libsystemd):
// READY=1 once ports are open and privileges dropped, WATCHDOG=1 from the event loop,
// RELOADING=1/READY=1 around a SIGHUP reload, STOPPING=1 at shutdown. Every call is a no-op
// when NOTIFY_SOCKET is unset (not started by systemd with Type=notify).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace regrelay::capture {

class Notifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (sd_watchdog_enabled) from the
    // environment; leaves them set.
    Notifier();

    // Whether NOTIFY_SOCKET is set.
    bool enabled() const { return enabled_; }
    // The watchdog interval systemd expects pings within (WatchdogSec=), in microseconds; 0: none.
    uint64_t watchdog_interval_us() const { return watchdog_us_; }

    // READY=1, with STATUS=`status` when not empty.
    void ready(std::string_view status = {});
    // RELOADING=1 and MONOTONIC_USEC=now (what Type=notify-reload, systemd 253, wants).
    void reloading();
    // STOPPING=1.
    void stopping();
    // STATUS=`text`.
    void status(std::string_view text);
    // WATCHDOG=1 now.
    void ping();

    // From the event loop on every wake-up, `now_ns` on CLOCK_MONOTONIC: pings when half the
    // watchdog interval has passed since the last ping, so a loop that stops turning stops
    // pinging and systemd restarts the service.
    void tick(uint64_t now_ns);
    // The longest the loop may sleep in poll (ms) so that tick() runs in time: `max_ms` without
    // a watchdog.
    int poll_timeout_ms(uint64_t now_ns, int max_ms) const;

    // The last error of a notification (sd_notify's negative errno), for the log; empty: none.
    const std::string& last_error() const { return last_error_; }

private:
    void send(const std::string& msg);

    bool enabled_ = false;
    uint64_t watchdog_us_ = 0;
    uint64_t last_ping_ns_ = 0;
    std::string last_error_;
};

}  // namespace regrelay::capture
