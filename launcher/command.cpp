#include "launcher/command.h"

#include <iostream>

#include "common/error.h"
#include "common/strings.h"

namespace electra::launcher {

std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> r;
  return r;
}

Registrar::Registrar(Command c) {
  const std::string name = c.name;
  registry()[name] = std::move(c);
}

bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                po::variables_map* vm, const std::string& usage,
                const po::positional_options_description* positional) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << usage << "\n\n" << desc << "\n";
      return false;
    }
  }
  try {
    po::command_line_parser parser(args);
    parser.options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), *vm);
    po::notify(*vm);
  } catch (const po::unknown_option& e) {
    std::vector<std::string> names;
    for (const auto& o : desc.options())
      names.push_back("--" + o->long_name());
    throw_user(e.what(), "; did you mean '", closest_match(e.get_option_name(), names),
               "'? (see --help)");
  } catch (const po::error& e) {
    throw_user(e.what(), " (see --help)");
  }
  return true;
}

void add_config_options(po::options_description& desc) {
  desc.add_options()("config,c", po::value<std::string>(), "experiment YAML file")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a config key: --set train.steps=1000 (repeatable; wins over the file)");
}

Config load_config(const po::variables_map& vm, const ConfigSchema& schema) {
  const std::string file = vm.count("config") ? vm["config"].as<std::string>() : "";
  std::vector<std::string> sets;
  if (vm.count("set")) sets = vm["set"].as<std::vector<std::string>>();
  return Config::resolve(schema, file, sets);
}

}  // namespace electra::launcher
