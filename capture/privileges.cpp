#include "capture/privileges.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace regrelay::capture {

std::string capability_name(int cap) {
    const char* n = capng_capability_to_name(unsigned(cap));
    std::string s = "CAP_";
    if (!n) return s + std::to_string(cap);
    for (const char* p = n; *p; ++p) s += char(std::toupper(static_cast<unsigned char>(*p)));
    return s;
}

bool have_capability(int cap) {
    capng_get_caps_process();
    return capng_have_capability(CAPNG_EFFECTIVE, unsigned(cap)) != 0;
}

int missing_capability(const std::vector<int>& needed) {
    capng_get_caps_process();
    for (int c : needed)
        if (!capng_have_capability(CAPNG_EFFECTIVE, unsigned(c))) return c;
    return -1;
}

namespace {

bool lookup_user(const std::string& name, DropResult& out, std::string& err) {
    std::vector<std::string> candidates;
    if (name.empty()) candidates = {"regrelay", "nobody"};
    else candidates = {name};
    for (const auto& n : candidates) {
        std::vector<char> buf(16384);
        passwd pw{}, *res = nullptr;
        if (getpwnam_r(n.c_str(), &pw, buf.data(), buf.size(), &res) == 0 && res) {
            out.user = n;
            out.uid = pw.pw_uid;
            out.gid = pw.pw_gid;
            return true;
        }
    }
    err = name.empty() ? "neither user regrelay nor user nobody exists" : "no such user: " + name;
    return false;
}

// Sets effective, permitted and (when `bounds`) bounding sets to exactly `keep`.
bool apply_caps(const std::vector<int>& keep, bool bounds, std::string& err) {
    capng_clear(bounds ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
    for (int c : keep) {
        capng_update(CAPNG_ADD, capng_type_t(CAPNG_EFFECTIVE | CAPNG_PERMITTED), unsigned(c));
        if (bounds) capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET, unsigned(c));
    }
    int rc = capng_apply(bounds ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
    if (rc != 0) {
        err = "cannot set capabilities (capng_apply " + std::to_string(rc) + "): " + strerror(errno);
        return false;
    }
    return true;
}

}  // namespace

bool drop_privileges(const std::string& user, const std::vector<int>& keep, DropResult& out, std::string& err) {
    out = {};
    if (geteuid() != 0) {
        // Unprivileged with file or ambient capabilities: keep only what is needed.
        capng_get_caps_process();
        std::vector<int> held;
        for (int c : keep)
            if (capng_have_capability(CAPNG_PERMITTED, unsigned(c))) held.push_back(c);
        if (!apply_caps(held, false, err)) return false;
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        return true;
    }
    if (!lookup_user(user, out, err)) return false;
    if (out.uid == 0) {
        err = "--user " + out.user + ": refusing to run as uid 0";
        return false;
    }
    // While still root: the bounding set first (needs CAP_SETPCAP), then the ids, keeping the
    // permitted set across setresuid, then the final effective and permitted sets.
    capng_get_caps_process();
    capng_clear(CAPNG_SELECT_BOUNDS);
    for (int c : keep) capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET, unsigned(c));
    if (capng_apply(CAPNG_SELECT_BOUNDS) != 0) {
        err = std::string("cannot limit the capability bounding set: ") + strerror(errno);
        return false;
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
        err = std::string("prctl(PR_SET_KEEPCAPS): ") + strerror(errno);
        return false;
    }
    if (setgroups(0, nullptr) != 0) {
        err = std::string("setgroups: ") + strerror(errno);
        return false;
    }
    if (setresgid(out.gid, out.gid, out.gid) != 0) {
        err = "setresgid " + std::to_string(out.gid) + ": " + strerror(errno);
        return false;
    }
    if (setresuid(out.uid, out.uid, out.uid) != 0) {
        err = "setresuid " + std::to_string(out.uid) + ": " + strerror(errno);
        return false;
    }
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    if (!apply_caps(keep, false, err)) return false;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        err = std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + strerror(errno);
        return false;
    }
    // Ambient capabilities are cleared by the uid change already; inheritable by apply_caps.
    out.dropped = true;
    return true;
}

}  // namespace regrelay::capture
