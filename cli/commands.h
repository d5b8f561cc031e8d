#pragma once

namespace regrelay::cli {

// Each subcommand takes the arguments after its name (argv[0] is the subcommand name) and
// returns the process exit status: 0 success, 1 runtime failure, 2 bad usage or configuration.
int decode_main(int argc, char** argv);
int relay_main(int argc, char** argv);
int replay_main(int argc, char** argv);
int snoop_main(int argc, char** argv);
int trail_main(int argc, char** argv);
int dns_view_main(int argc, char** argv);
int registrar_main(int argc, char** argv);
int who_had_main(int argc, char** argv);
int history_main(int argc, char** argv);

}  // namespace regrelay::cli
