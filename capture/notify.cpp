#include "capture/notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace regrelay::capture {

namespace {

uint64_t monotonic_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}

// One line of a notification: no newline inside a value.
std::string one_line(std::string_view s) {
    std::string r(s);
    std::replace(r.begin(), r.end(), '\n', ' ');
    return r;
}

}  // namespace

Notifier::Notifier() {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    enabled_ = sock && *sock;
    uint64_t usec = 0;
    // > 0: WATCHDOG_USEC set (and WATCHDOG_PID, if set, is this process).
    if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_us_ = usec;
}

void Notifier::send(const std::string& msg) {
    if (!enabled_) return;
    const int rc = sd_notify(0, msg.c_str());
    if (rc < 0) {
        if (last_error_.empty())
            spdlog::warn("sd_notify to {}: {} (further failures not logged)", std::getenv("NOTIFY_SOCKET"),
                         strerror(-rc));
        last_error_ = strerror(-rc);
    }
}

void Notifier::ready(std::string_view status) {
    std::string m = "READY=1";
    if (!status.empty()) m += "\nSTATUS=" + one_line(status);
    send(m);
}

void Notifier::reloading() { send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_us())); }

void Notifier::stopping() { send("STOPPING=1"); }

void Notifier::status(std::string_view text) { send("STATUS=" + one_line(text)); }

void Notifier::ping() { send("WATCHDOG=1"); }

void Notifier::tick(uint64_t now_ns) {
    if (!watchdog_us_) return;
    if (last_ping_ns_ && now_ns - last_ping_ns_ < watchdog_us_ * 1000 / 2) return;
    last_ping_ns_ = now_ns;
    ping();
}

int Notifier::poll_timeout_ms(uint64_t now_ns, int max_ms) const {
    if (!watchdog_us_) return max_ms;
    const uint64_t due = last_ping_ns_ + watchdog_us_ * 1000 / 2;
    if (!last_ping_ns_ || due <= now_ns) return 0;
    return int(std::min<uint64_t>((due - now_ns) / 1000000 + 1, uint64_t(std::max(max_ms, 0))));
}

}  // namespace regrelay::capture
