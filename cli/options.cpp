#include "cli/options.h"

#include "limits/limits.h"
#include "obs/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>

namespace po = boost::program_options;

namespace regrelay::cli {

void fail(const std::string& opt, const std::string& why, const std::string& value) {
    throw UsageError{"--" + opt + " " + why, opt, value};
}

void rate_option(const char* opt, const std::string& text, limits::Rate& r) {
    if (text.empty()) return;
    auto v = limits::parse_rate(text);
    if (!v) fail(opt, "'" + text + "': expected RATE or RATE/BURST (RATE 0-10000000, BURST 1-100000000)");
    r = *v;
}

void Origins::add(const std::string& key, const std::string& value, const std::string& file, size_t line) {
    entries_.push_back({key, value, file, line});
}

std::string Origins::where(const std::string& key, const std::string& value) const {
    // The line with exactly this value, else one whose value contains it ("ADDR" of "IF=ADDR").
    for (int pass = 0; pass < 2; ++pass)
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
            if (it->key == key && (value.empty() || (pass == 0 ? it->value == value
                                                               : it->value.find(value) != std::string::npos)))
                return it->file + ":" + std::to_string(it->line);
    return {};
}

std::string locate(const UsageError& e, const Origins& origins) {
    if (e.opt.empty()) return e.msg;
    std::string at = origins.where(e.opt, e.value);
    return at.empty() ? e.msg : at + ": " + e.msg;
}

namespace {

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n\f\v";
    size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The switch value of a file line: 1 set, 0 unset, -1 not a truth value.
int switch_value(const std::string& v) {
    static const char* yes[] = {"", "true", "yes", "on", "1"};
    static const char* no[] = {"false", "no", "off", "0"};
    for (const char* y : yes)
        if (v == y) return 1;
    for (const char* n : no)
        if (v == n) return 0;
    return -1;
}

struct FileLine {
    size_t line;
    std::string key, value;
};

// Reads FILE into "key = value" lines; throws UsageError naming FILE:LINE for a malformed line.
std::vector<FileLine> read_config_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fail("config", path + ": cannot open: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail("config", path + ": is a directory");
    if (!S_ISREG(st.st_mode)) fail("config", path + ": not a regular file");
    errno = 0;
    std::ifstream f(path);
    if (!f) fail("config", path + ": cannot open: " + std::strerror(errno ? errno : EACCES));
    std::vector<FileLine> out;
    std::string text;
    size_t n = 0;
    while (std::getline(f, text)) {
        ++n;
        if (auto hash = text.find('#'); hash != std::string::npos) text.erase(hash);
        std::string line = trim(text);
        if (line.empty()) continue;
        const std::string at = path + ":" + std::to_string(n) + ": ";
        size_t eq = line.find('=');
        if (eq == std::string::npos || eq == 0 || trim(line.substr(0, eq)).empty())
            throw UsageError{at + "'" + line + "': expected key = value"};
        out.push_back({n, trim(line.substr(0, eq)), trim(line.substr(eq + 1))});
    }
    if (f.bad()) fail("config", path + ": read error: " + std::strerror(errno));
    return out;
}

// Stores one option occurrence into vm the way a parser would.
void store_one(const po::options_description& desc, po::variables_map& vm, const std::string& key,
               std::vector<std::string> values) {
    po::parsed_options p(&desc);
    po::option o;
    o.string_key = key;
    o.value = values;
    o.original_tokens = {key};
    for (auto& v : values) o.original_tokens.push_back(v);
    p.options.push_back(std::move(o));
    po::store(p, vm);
}

}  // namespace

void parse_command_and_file(int argc, char** argv, const po::options_description& desc, po::variables_map& vm,
                            Origins& origins) {
    origins.clear();
    std::set<std::string> on_command_line;
    try {
        po::parsed_options parsed = po::command_line_parser(argc, argv).options(desc).run();
        for (const auto& o : parsed.options) {
            // Tokens that belong to no option (command_line_parser keeps them with position_key >= 0).
            if (o.position_key >= 0 || o.string_key.empty()) {
                std::string tok = o.original_tokens.empty() ? std::string() : o.original_tokens.front();
                throw UsageError{"'" + tok + "': unexpected argument (each option takes one value: repeat the option "
                                 "for more, e.g. --server A --server B)"};
            }
            on_command_line.insert(o.string_key);
        }
        po::store(parsed, vm);
    } catch (const po::error& e) {
        throw UsageError{e.what()};
    }

    std::string path;
    if (desc.find_nothrow("config", false) && vm.count("config")) path = vm["config"].as<std::string>();
    if (!path.empty()) {
        std::vector<FileLine> lines = read_config_file(path);
        std::set<std::string> seen;
        for (const auto& l : lines) {
            const std::string at = path + ":" + std::to_string(l.line) + ": ";
            const po::option_description* d = desc.find_nothrow(l.key, false);
            if (!d || l.key == "config" || l.key == "help") {
                throw UsageError{at + (d ? "'" + l.key + "' is not allowed in a configuration file"
                                         : "unknown key '" + l.key + "'")};
            }
            const std::string& name = d->long_name();
            if (on_command_line.count(name)) continue;  // the command line replaces the file's values
            const bool is_switch = d->semantic()->max_tokens() == 0;
            const bool repeatable = d->semantic()->is_composing();
            if (!repeatable && !seen.insert(name).second)
                throw UsageError{at + name + ": given twice (first on line " +
                                 origins.where(name).substr(path.size() + 1) + ")"};
            try {
                if (is_switch) {
                    int v = switch_value(l.value);
                    if (v < 0) throw UsageError{at + name + " '" + l.value + "': expected true or false"};
                    origins.add(name, l.value, path, l.line);
                    if (v == 1) store_one(desc, vm, name, {});
                } else {
                    if (l.value.empty()) throw UsageError{at + name + ": needs a value"};
                    origins.add(name, l.value, path, l.line);
                    store_one(desc, vm, name, {l.value});
                }
            } catch (const po::error& e) {
                throw UsageError{at + e.what()};
            }
        }
    }
    try {
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError{e.what()};
    }
}

bool parse_args(int argc, char** argv, const po::options_description& desc, po::variables_map& vm, Origins& origins,
                const po::options_description* visible) {
    parse_command_and_file(argc, argv, desc, vm, origins);
    if (vm.count("help")) {
        std::cout << (visible ? *visible : desc) << "\n";
        return false;
    }
    return true;
}

void check_log_format(const std::string& format) {
    if (!obs::parse_log_format(format)) fail("log-format", "'" + format + "': expected text or json");
}

void setup_logging(const std::string& level, const std::string& format) {
    auto lvl = spdlog::level::from_str(level);
    if (lvl == spdlog::level::off && level != "off") fail("log-level", "'" + level + "': not a level");
    check_log_format(format);
    auto logger = spdlog::stderr_color_mt("regrelay");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
    // json: one object per line (obs/log.h); the pattern above stays the text format.
    obs::set_log_format(*obs::parse_log_format(format));
    if (obs::log_format() == obs::LogFormat::kJson) spdlog::set_formatter(std::make_unique<obs::JsonFormatter>());
    spdlog::set_level(lvl);
}

}  // namespace regrelay::cli
