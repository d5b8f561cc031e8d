// Privileges of the daemons (OpenBSD dhcrelay6's model): open what needs root, then run as an
// unprivileged user holding only the capabilities still needed at run time.
#pragma once

#include <string>
#include <vector>

namespace regrelay::capture {

// Linux capability numbers (linux/capability.h), named here so callers need no kernel header.
inline constexpr int kCapNetAdmin = 12;
inline constexpr int kCapNetRaw = 13;
inline constexpr int kCapNetBindService = 10;

// "CAP_NET_RAW" for 13.
std::string capability_name(int cap);

// Whether this process may use `cap` now: root with the capability in its effective set, or
// any user holding it (file or ambient capabilities).
bool have_capability(int cap);

// The first capability of `needed` this process lacks, or -1.
int missing_capability(const std::vector<int>& needed);

struct DropResult {
    bool dropped = false;  // switched user (false when not started as root)
    std::string user;      // the user switched to
    unsigned uid = 0, gid = 0;
};

// Started as root: switches to `user` (empty: "regrelay" if that user exists, else "nobody"),
// its primary group and no supplementary groups, keeping exactly `keep` as the effective,
// permitted and bounding sets (ambient and inheritable cleared), and sets no_new_privs.
// Started as another user: only reduces the capability sets to `keep` (what it holds of it).
// False and `err` naming the step that failed.
bool drop_privileges(const std::string& user, const std::vector<int>& keep, DropResult& out, std::string& err);

}  // namespace regrelay::capture
