// Subcommand registry of the `electra` binary. Each launcher/cmd_*.cpp registers itself, so a
// new subcommand needs no edit here or in main.cpp.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"

namespace electra::launcher {

namespace po = boost::program_options;

struct Command {
  std::string name;     // "pretrain", "config show"
  std::string summary;  // one line for `electra --help`
  std::function<int(const std::vector<std::string>& args)> run;
};

std::map<std::string, Command>& registry();

struct Registrar {
  explicit Registrar(Command c);
};

// Parses `args` against `desc`; prints help and returns false for --help. Unknown flags are
// errors naming the flag and the closest known one.
bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                po::variables_map* vm, const std::string& usage,
                const po::positional_options_description* positional = nullptr);

// --config FILE and repeatable --set key.path=value.
void add_config_options(po::options_description& desc);
Config load_config(const po::variables_map& vm, const ConfigSchema& schema);

}  // namespace electra::launcher
