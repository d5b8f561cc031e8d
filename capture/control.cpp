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
    sigaddset(&mask, SIGHUP);  // a closed terminal: stop cleanly (filters removed), do not die
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

Control read_control(int fd, std::string& signal_name) {
    Control c = Control::kNone;
    signalfd_siginfo si;
    while (::read(fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGUSR1) {
            if (c == Control::kNone) c = Control::kReport;
        } else {
            signal_name = strsignal(int(si.ssi_signo));
            c = Control::kStop;
        }
    }
    return c;
}

Timestamp now() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return {ts.tv_sec, uint32_t(ts.tv_nsec)};
}

}  // namespace regrelay::capture
