// Command-line plumbing shared by the subcommands: one-line usage errors (exit 2), --config
// files with the same keys as the command line, and logging set-up.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace regrelay::limits {
struct Rate;
}

namespace regrelay::cli {

// A configuration error, one line. `msg` is "--OPT WHY" for a command-line value and
// "FILE:LINE: ..." for a line of the --config file; `opt` and `value` (when known) name the
// option and the value concerned, so locate() can find the file line of a value found bad later.
struct UsageError {
    explicit UsageError(std::string m, std::string o = {}, std::string v = {})
        : msg(std::move(m)), opt(std::move(o)), value(std::move(v)) {}
    std::string msg;
    std::string opt;
    std::string value;
};

// Throws UsageError "--OPT WHY". `value` names the offending value of a repeatable option (so
// locate() finds its line); single-valued options need not give it.
[[noreturn]] void fail(const std::string& opt, const std::string& why, const std::string& value = {});

// Where the values of a parse came from: each value read from the --config file, with its line.
class Origins {
public:
    void add(const std::string& key, const std::string& value, const std::string& file, size_t line);
    // "FILE:LINE" of the file line that gave `value` for `key` (the last such line; failing that,
    // the last whose value contains `value`; any line of `key` when `value` is empty), or "" when
    // the command line gave it or no file line did.
    std::string where(const std::string& key, const std::string& value = {}) const;
    void clear() { entries_.clear(); }

private:
    struct Entry {
        std::string key, value, file;
        size_t line = 0;
    };
    std::vector<Entry> entries_;
};

// Parses the command line, then the file named by its "config" option (when `desc` has one and it
// is given), into `vm`, and notifies `vm` (the variables bound in `desc` are set). Never prints,
// never exits: every error is thrown as one UsageError. It may be called again at run time (a
// SIGHUP reload) on a fresh variables_map and freshly bound variables; `origins` is cleared first.
//
// The rules:
// - A positional argument is an error ("--server A B": 'B' is not an option value).
// - A key given on the command line replaces the file's: the file's lines for that key are
//   ignored, repeatable keys (--server, --client-iface) included.
// - File lines are "key = value" with the long option names; '#' starts a comment; blank lines
//   are skipped. A switch (an option without a value) takes true/yes/on/1 or nothing to be set,
//   false/no/off/0 to stay unset. Errors name FILE:LINE: a line without '=', an unknown key, a
//   bad value, a single-valued key given twice, "config" or "help" in the file.
// - --config on a missing, unreadable or non-regular file fails with the reason (strerror).
void parse_command_and_file(int argc, char** argv, const boost::program_options::options_description& desc,
                            boost::program_options::variables_map& vm, Origins& origins);

// For start-up: parse_command_and_file, then --help prints `visible` (default `desc`: options
// left out of it are accepted but not shown) and returns false. Throws UsageError.
bool parse_args(int argc, char** argv, const boost::program_options::options_description& desc,
                boost::program_options::variables_map& vm, Origins& origins,
                const boost::program_options::options_description* visible = nullptr);

// The message of `e`, with "FILE:LINE: " in front when the value it is about came from a file
// line (errors found after parsing, e.g. by build_config, for values read from the file).
std::string locate(const UsageError& e, const Origins& origins);

// spdlog to stderr, UTC timestamps, at `level`; `format` "text" (the lines as always) or "json"
// (one JSON object per line, obs/log.h). Throws UsageError for an unknown level or format.
void setup_logging(const std::string& level, const std::string& format = "text");
// Throws UsageError unless `format` is "text" or "json" (--log-format).
void check_log_format(const std::string& format);

// A flood-limit option RATE[/BURST] (limits::parse_rate) into `r`; empty `text` leaves `r` (the
// default) as it is. Throws UsageError "--OPT 'TEXT': expected RATE or RATE/BURST (...)".
void rate_option(const char* opt, const std::string& text, limits::Rate& r);

}  // namespace regrelay::cli
