#include "launcher/runtime.h"

#include <cstdlib>

#include "common/error.h"
#include "common/log.h"

namespace electra::launcher {
namespace {

std::unique_ptr<dist::Communicator>& holder() {
  static std::unique_ptr<dist::Communicator> c;
  return c;
}

}  // namespace

dist::Communicator& communicator() {
  auto& c = holder();
  if (!c) {
    c = dist::make_single_process_communicator();
    if (c->world_size() > 1) log::set_prefix(cat("[rank ", c->rank(), "/", c->world_size(), "] "));
  }
  return *c;
}

void abort_job(int exit_code) {
  std::exit(exit_code);
}

}  // namespace electra::launcher
