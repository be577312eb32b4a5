// electra: the command-line front end. Parses, validates, dispatches; the work happens in the
// libraries. Every error ends here as one line (with the rank under MPI) and a non-zero exit.
#include <c10/util/Exception.h>

#include <iostream>

#include "common/blas.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"
#include "launcher/command.h"
#include "launcher/runtime.h"

namespace {

void usage() {
  std::cout << "usage: electra <command> [options]   (electra <command> --help for details)\n\n"
               "commands:\n";
  for (const auto& [name, c] : electra::launcher::registry())
    std::cout << "  " << name << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ')
              << c.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace electra;
  // Before anything else: fp32 matmuls need the right OpenBLAS kernels (see common/blas.h).
  blas::maybe_reexec_for_fast_kernels(argc, argv);
  if (const std::string bad = blas::sgemm_env_error(); !bad.empty()) {
    std::cerr << "error: " << bad << "\n";
    return 2;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage();
    return args.empty() ? 2 : 0;
  }
  auto& reg = launcher::registry();
  // Two-word commands ("config show") take precedence over one-word ones.
  std::string name = args[0];
  size_t consumed = 1;
  if (args.size() >= 2 && reg.count(args[0] + " " + args[1])) {
    name = args[0] + " " + args[1];
    consumed = 2;
  }
  auto it = reg.find(name);
  if (it == reg.end()) {
    std::vector<std::string> names;
    for (const auto& [n, c] : reg)
      names.push_back(n);
    std::cerr << "error: unknown command '" << args[0] << "'; did you mean '"
              << closest_match(args[0], names) << "'? (electra --help lists them)\n";
    return 2;
  }
  std::vector<std::string> rest(args.begin() + consumed, args.end());
  try {
    const int rc = it->second.run(rest);
    launcher::finish_job();
    return rc;
  } catch (const UserError& e) {
    log::error(e.what());
    launcher::abort_job(2);
  } catch (const c10::Error& e) {
    log::error("LibTorch: ", e.what_without_backtrace());
    launcher::abort_job(1);
  } catch (const std::exception& e) {
    log::error(e.what());
    launcher::abort_job(1);
  }
}
