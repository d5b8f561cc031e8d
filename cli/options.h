// Command-line plumbing shared by the subcommands: one-line usage errors (exit 2), --config
// files with the same keys as the command line, and logging set-up.
#pragma once

#include <boost/program_options.hpp>
#include <string>

namespace regrelay::cli {

struct UsageError {
    std::string msg;
};

// Throws UsageError "--OPT WHY".
[[noreturn]] void fail(const std::string& opt, const std::string& why);

// Parses argv, then the file named by `config_path` (once the command line set it), into vm.
// Returns false after printing help when --help was given. Throws UsageError.
bool parse_args(int argc, char** argv, const boost::program_options::options_description& desc,
                boost::program_options::variables_map& vm, const std::string& config_path);

// spdlog to stderr, UTC timestamps, at `level`. Throws UsageError for an unknown level.
void setup_logging(const std::string& level);

}  // namespace regrelay::cli
