// Daemon plumbing shared by relay and snoop modes: control signals as a pollable descriptor,
// and the wall clock for recorded frames.
#pragma once

#include <cstdint>
#include <string>

#include "capture/packet_io.h"

namespace regrelay::capture {

// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 and returns a nonblocking signalfd for them, so the poll
// loop takes signals as events and never runs handler code in the middle of a packet. Ignores
// SIGPIPE.
int control_signal_fd();

// What the signals since the last read ask for.
struct Controls {
    bool stop = false;        // SIGTERM or SIGINT
    std::string stop_signal;  // its name
    bool reload = false;      // SIGHUP: reread the configuration, reopen files
    bool report = false;      // SIGUSR1: log the counters
};
// Drains the signalfd.
Controls read_control(int fd);

Timestamp now();
// CLOCK_MONOTONIC in nanoseconds: the time the engines and timers run on.
uint64_t monotonic_ns();

}  // namespace regrelay::capture
