#include "capture/control.h"

#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

namespace regrelay::capture {

int control_signal_fd() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);  // reload (and reopen files), as logrotate and systemd expect
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    // A closed stdout/stderr pipe (a log shipper that went away) must not kill the daemon:
    // writes then fail with EPIPE instead.
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

Controls read_control(int fd) {
    Controls c;
    signalfd_siginfo si;
    while (::read(fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGUSR1) {
            c.report = true;
        } else if (si.ssi_signo == SIGHUP) {
            c.reload = true;
        } else {
            c.stop_signal = strsignal(int(si.ssi_signo));
            c.stop = true;
        }
    }
    return c;
}

uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

Timestamp now() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return {ts.tv_sec, uint32_t(ts.tv_nsec)};
}

}  // namespace regrelay::capture
