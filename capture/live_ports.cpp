#include "capture/live_ports.h"

#include <spdlog/spdlog.h>

#include "obs/log.h"

#include <unistd.h>

#include <algorithm>

namespace regrelay::capture {

namespace {
constexpr uint64_t kSecond = 1000000000;
}

void PortTracker::set_names(const std::vector<std::string>& names, uint64_t now_ns) {
    std::vector<LivePort> next;
    next.reserve(names.size());
    for (const auto& n : names) {
        auto it = std::find_if(ports_.begin(), ports_.end(), [&](const LivePort& p) { return p.name == n; });
        if (it != ports_.end()) {
            next.push_back(std::move(*it));
            ports_.erase(it);
        } else {
            LivePort p;
            p.name = n;
            next.push_back(std::move(p));
        }
    }
    for (auto& gone : ports_) close(gone);
    ports_ = std::move(next);
    sync_all(now_ns);
}

void PortTracker::close(LivePort& p) {
    p.src.reset();
    p.sink.reset();
    for (int fd : p.fds) ::close(fd);
    p.fds.clear();
}

void PortTracker::go_absent(LivePort& p) {
    close(p);
    p.ifindex = 0;
    p.itf.reset();
    if (p.state != LinkState::kAbsent) {
        obs::log_event(spdlog::level::warn, "interface_absent", {{"interface", p.name}},
                       fmt::format("interface {}: absent{}", p.name,
                                   p.state == LinkState::kUnknown ? ", waiting for it" : ""));
        ++p.events.absent;
    }
    p.state = LinkState::kAbsent;
}

void PortTracker::go_down(LivePort& p) {
    close(p);
    if (p.state != LinkState::kDown) {
        obs::log_event(spdlog::level::warn, "interface_down", {{"interface", p.name}},
                       fmt::format("interface {}: down", p.name));
        ++p.events.down;
    }
    p.state = LinkState::kDown;
}

void PortTracker::apply(const LinkMonitor::Changes& ch, uint64_t now_ns) {
    for (const auto& e : ch.links) {
        for (auto& p : ports_) {
            // An event names the interface by index (always) and by name (mostly).
            const bool ours = (p.ifindex && e.ifindex == p.ifindex) || (!e.name.empty() && e.name == p.name);
            if (!ours) continue;
            if (p.ifindex && e.ifindex != p.ifindex) continue;  // a new interface of our name: sync below
            if (e.deleted) go_absent(p);
            else if (!e.up) go_down(p);
        }
    }
    sync_all(now_ns);
}

void PortTracker::sync_all(uint64_t now_ns) {
    std::vector<Interface> all = list_interfaces();
    for (size_t i = 0; i < ports_.size(); ++i) {
        const Interface* itf = nullptr;
        for (const auto& x : all)
            if (x.name == ports_[i].name) itf = &x;
        sync(i, itf, now_ns);
    }
}

void PortTracker::sync(size_t i, const Interface* itf, uint64_t now_ns) {
    LivePort& p = ports_[i];
    if (!itf) return go_absent(p);
    if (p.ifindex && itf->index != p.ifindex) {
        close(p);
        obs::log_event(spdlog::level::info, "interface_recreated",
                       {{"interface", p.name}, {"old_ifindex", p.ifindex}, {"ifindex", itf->index}},
                       fmt::format("interface {}: recreated (ifindex {} -> {})", p.name, p.ifindex, itf->index));
        ++p.events.recreated;
        p.state = LinkState::kUnknown;
        p.failures = 0;
        p.retry_at_ns = 0;
    }
    if (p.ifindex == 0 && p.last_ifindex && itf->index != p.last_ifindex) {
        // Deleted and created again under the same name (hot-plug, a recreated veth or VLAN).
        obs::log_event(spdlog::level::info, "interface_recreated",
                       {{"interface", p.name}, {"old_ifindex", p.last_ifindex}, {"ifindex", itf->index}},
                       fmt::format("interface {}: recreated (ifindex {} -> {})", p.name, p.last_ifindex, itf->index));
        ++p.events.recreated;
        p.failures = 0;
        p.retry_at_ns = 0;
    }
    p.ifindex = p.last_ifindex = itf->index;
    p.itf = *itf;
    if (hooks_.facts) hooks_.facts(i, p, *itf);
    if (!itf->up) return go_down(p);
    if (p.open()) return;
    if (now_ns < p.retry_at_ns) return;
    std::string err;
    if (!hooks_.open(i, p, *itf, err)) {
        close(p);
        if (err != p.last_error)
            obs::log_event(spdlog::level::err, "capture_error", {{"interface", p.name}, {"error", err}},
                           fmt::format("interface {}: cannot {}: {} (retrying every second)", p.name,
                                       mode_ == "snoop" ? "snoop" : "capture", err));
        p.last_error = err;
        p.state = LinkState::kFailed;
        ++p.failures;
        p.retry_at_ns = now_ns + kSecond;
        return;
    }
    p.last_error.clear();
    p.state = LinkState::kUp;
    ++p.events.up;
    obs::log_event(spdlog::level::info, "interface_up", {{"interface", p.name}, {"ifindex", p.ifindex}},
                   fmt::format("interface {}: up (ifindex {}), capturing", p.name, p.ifindex));
}

void PortTracker::capture_failed(size_t i, const std::string& why, uint64_t now_ns) {
    LivePort& p = ports_[i];
    close(p);
    ++p.events.capture_errors;
    ++p.failures;
    obs::log_event(spdlog::level::warn, "capture_error", {{"interface", p.name}, {"error", why}},
                   fmt::format("interface {}: capture error: {}; reopening", p.name, why));
    p.state = LinkState::kFailed;
    // The first reopen is immediate (a flap); repeated failures back off to one a second, so
    // a broken capture can never spin.
    p.retry_at_ns = p.failures > 1 ? now_ns + kSecond : now_ns;
    sync_all(now_ns);
}

uint64_t PortTracker::next_retry_ns() const {
    uint64_t t = 0;
    for (const auto& p : ports_)
        if (!p.open() && p.retry_at_ns && p.state == LinkState::kFailed && (t == 0 || p.retry_at_ns < t))
            t = p.retry_at_ns;
    return t;
}

std::vector<unsigned> PortTracker::ifindexes() const {
    std::vector<unsigned> v;
    for (const auto& p : ports_)
        if (p.ifindex) v.push_back(p.ifindex);
    return v;
}

std::string PortTracker::report() const {
    std::string s;
    for (const auto& p : ports_) {
        const auto& e = p.events;
        s += "interface-events " + p.name + " up=" + std::to_string(e.up) + " down=" + std::to_string(e.down) +
             " absent=" + std::to_string(e.absent) + " recreated=" + std::to_string(e.recreated) +
             " readdressed=" + std::to_string(e.readdressed);
        if (e.capture_errors) s += " capture-errors=" + std::to_string(e.capture_errors);
        s += '\n';
    }
    return s;
}

}  // namespace regrelay::capture
