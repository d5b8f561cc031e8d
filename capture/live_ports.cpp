#include "capture/live_ports.h"

#include <spdlog/spdlog.h>

#include "obs/log.h"

#include <unistd.h>

#include <fnmatch.h>

#include <algorithm>

namespace regrelay::capture {

namespace {
constexpr uint64_t kSecond = 1000000000;
}

bool is_glob(const std::string& pattern) { return pattern.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> select_ports(const PortSelection& sel, const std::vector<Interface>& present,
                                      const std::vector<BridgePort>& ports) {
    std::vector<std::string> out = sel.names;
    auto taken = [&](const std::string& n) {
        return std::find(sel.names.begin(), sel.names.end(), n) != sel.names.end() ||
               std::find(sel.exclude.begin(), sel.exclude.end(), n) != sel.exclude.end();
    };
    std::vector<std::string> more;
    for (const auto& itf : present) {
        if (taken(itf.name)) continue;
        for (const auto& g : sel.globs)
            if (::fnmatch(g.c_str(), itf.name.c_str(), 0) == 0) {
                more.push_back(itf.name);
                break;
            }
    }
    if (!sel.bridge.empty()) {
        unsigned br = 0;
        for (const auto& itf : present)
            if (itf.name == sel.bridge) br = itf.index;
        if (br)
            for (const auto& p : ports)
                if (p.master == br && p.ifindex != br && !p.name.empty() && !taken(p.name)) more.push_back(p.name);
    }
    std::sort(more.begin(), more.end());
    more.erase(std::unique(more.begin(), more.end()), more.end());
    out.insert(out.end(), more.begin(), more.end());
    return out;
}

PortDiff diff_ports(const std::vector<std::string>& before, const std::vector<std::string>& after) {
    PortDiff d;
    for (const auto& a : after)
        if (std::find(before.begin(), before.end(), a) == before.end()) d.added.push_back(a);
    for (const auto& b : before)
        if (std::find(after.begin(), after.end(), b) == after.end()) d.removed.push_back(b);
    return d;
}

void log_port_diff(const std::string& mode, const PortSelection& sel, const PortDiff& d) {
    auto glob_of = [&](const std::string& n) {
        for (const auto& g : sel.globs)
            if (::fnmatch(g.c_str(), n.c_str(), 0) == 0) return g;
        return std::string();
    };
    auto named = [&](const std::string& n) { return std::find(sel.names.begin(), sel.names.end(), n) != sel.names.end(); };
    const char* what = mode == "snoop" ? "port" : "interface";
    for (const auto& n : d.added) {
        if (named(n))  // named in the configuration (a reload added it)
            obs::log_event(spdlog::level::info, mode == "snoop" ? "port_added" : "interface_added", {{"interface", n}},
                           fmt::format("{} {}: added", what, n));
        else if (mode == "snoop")
            obs::log_event(spdlog::level::info, "port_added", {{"interface", n}, {"bridge", sel.bridge}},
                           fmt::format("port {}: on bridge {}, added as client port", n, sel.bridge));
        else
            obs::log_event(spdlog::level::info, "interface_added", {{"interface", n}, {"pattern", glob_of(n)}},
                           fmt::format("interface {}: matches '{}', added", n, glob_of(n)));
    }
    for (const auto& n : d.removed) {
        if (mode == "snoop" && !sel.bridge.empty())
            obs::log_event(spdlog::level::info, "port_removed", {{"interface", n}, {"bridge", sel.bridge}},
                           fmt::format("port {}: no longer on bridge {}, removed", n, sel.bridge));
        else if (mode != "snoop" && !glob_of(n).empty())
            obs::log_event(spdlog::level::info, "interface_removed", {{"interface", n}},
                           fmt::format("interface {}: gone, removed", n));
        else
            obs::log_event(spdlog::level::info, mode == "snoop" ? "port_removed" : "interface_removed",
                           {{"interface", n}}, fmt::format("{} {}: removed", what, n));
    }
}

void PortTracker::set_names(const std::vector<std::string>& names, uint64_t now_ns, const std::vector<Interface>* all) {
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
    sync_all(now_ns, all);
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

void PortTracker::apply(const LinkMonitor::Changes& ch, uint64_t now_ns, const std::vector<Interface>* all) {
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
    sync_all(now_ns, all);
}

void PortTracker::sync_all(uint64_t now_ns, const std::vector<Interface>* given) {
    std::vector<Interface> read;
    if (!given) read = list_interfaces();
    const std::vector<Interface>& all = given ? *given : read;
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
