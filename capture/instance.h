// One daemon per interface: each daemon holds an abstract AF_UNIX socket named after its mode
// and interface ("regrelay/relay/eth1"). Abstract names belong to the network namespace and
// vanish with the process (no stale lock files after a crash); a second instance finds the
// name taken and can tell the operator which process holds it.
#pragma once

#include <string>
#include <vector>

namespace regrelay::capture {

class InstanceLocks {
public:
    InstanceLocks() = default;
    ~InstanceLocks();
    InstanceLocks(const InstanceLocks&) = delete;
    InstanceLocks& operator=(const InstanceLocks&) = delete;

    // Takes the name "regrelay/MODE/WHAT". False when another process holds it: `err` says
    // "WHAT is already served by another regrelay MODE (pid N)".
    bool acquire(const std::string& mode, const std::string& what, std::string& err);
    // Gives a name up (an interface removed from the configuration).
    void release(const std::string& mode, const std::string& what);
    bool holds(const std::string& mode, const std::string& what) const;

private:
    struct Held {
        std::string name;
        int fd;
    };
    std::vector<Held> held_;
};

}  // namespace regrelay::capture
