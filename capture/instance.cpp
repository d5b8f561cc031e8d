#include "capture/instance.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace regrelay::capture {

namespace {

socklen_t abstract_address(const std::string& name, sockaddr_un& sa) {
    sa = {};
    sa.sun_family = AF_UNIX;
    const size_t n = std::min(name.size(), sizeof sa.sun_path - 1);
    std::memcpy(sa.sun_path + 1, name.data(), n);  // sun_path[0] = 0: the abstract namespace
    return socklen_t(offsetof(sockaddr_un, sun_path) + 1 + n);
}

// The pid of the process listening on the abstract name, or 0 when it cannot be told.
pid_t holder_pid(const sockaddr_un& sa, socklen_t len) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return 0;
    pid_t pid = 0;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) == 0 || errno == EINPROGRESS) {
        ucred cr{};
        socklen_t cl = sizeof cr;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) pid = cr.pid;
    }
    ::close(fd);
    return pid;
}

}  // namespace

InstanceLocks::~InstanceLocks() {
    for (const auto& h : held_) ::close(h.fd);
}

bool InstanceLocks::acquire(const std::string& mode, const std::string& what, std::string& err) {
    const std::string name = "regrelay/" + mode + "/" + what;
    if (holds(mode, what)) return true;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        err = std::string("instance lock socket: ") + strerror(errno);
        return false;
    }
    sockaddr_un sa;
    socklen_t len = abstract_address(name, sa);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
        const int e = errno;
        ::close(fd);
        if (e == EADDRINUSE) {
            pid_t pid = holder_pid(sa, len);
            err = what + " is already served by another regrelay " + mode +
                  (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string());
        } else {
            err = "instance lock " + name + ": " + strerror(e);
        }
        return false;
    }
    // Listening lets a second instance ask who holds the name (SO_PEERCRED); nothing is accepted.
    ::listen(fd, 16);
    held_.push_back({name, fd});
    return true;
}

void InstanceLocks::release(const std::string& mode, const std::string& what) {
    const std::string name = "regrelay/" + mode + "/" + what;
    for (size_t i = 0; i < held_.size(); ++i)
        if (held_[i].name == name) {
            ::close(held_[i].fd);
            held_.erase(held_.begin() + long(i));
            return;
        }
}

bool InstanceLocks::holds(const std::string& mode, const std::string& what) const {
    const std::string name = "regrelay/" + mode + "/" + what;
    for (const auto& h : held_)
        if (h.name == name) return true;
    return false;
}

}  // namespace regrelay::capture
