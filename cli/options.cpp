#include "cli/options.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

namespace po = boost::program_options;

namespace regrelay::cli {

void fail(const std::string& opt, const std::string& why) { throw UsageError{"--" + opt + " " + why}; }

bool parse_args(int argc, char** argv, const po::options_description& desc, po::variables_map& vm,
                const std::string& config_path) {
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        po::notify(vm);
        if (!config_path.empty()) {
            std::ifstream f(config_path);
            if (!f) fail("config", config_path + ": cannot open");
            po::store(po::parse_config_file(f, desc), vm);
            po::notify(vm);
        }
    } catch (const po::error& e) {
        throw UsageError{e.what()};
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return false;
    }
    return true;
}

void setup_logging(const std::string& level) {
    auto lvl = spdlog::level::from_str(level);
    if (lvl == spdlog::level::off && level != "off") fail("log-level", "'" + level + "': not a level");
    auto logger = spdlog::stderr_color_mt("regrelay");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
    spdlog::set_level(lvl);
}

}  // namespace regrelay::cli
