// Daemon plumbing shared by relay and snoop modes: control signals as a pollable descriptor,
// and the wall clock for recorded frames.
#pragma once

#include "capture/packet_io.h"

namespace regrelay::capture {

// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 and returns a nonblocking signalfd for them, so the poll
// loop takes signals as events and never runs handler code in the middle of a packet.
int control_signal_fd();

enum class Control { kNone, kReport, kStop };
// Drains the signalfd: kStop if SIGTERM, SIGINT or SIGHUP arrived (its name in `signal_name`),
// else kReport if SIGUSR1 did.
Control read_control(int fd, std::string& signal_name);

Timestamp now();

}  // namespace regrelay::capture
