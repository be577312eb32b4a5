#include "common/signals.h"

#include <atomic>
#include <csignal>
#include <initializer_list>

namespace electra::signals {
namespace {

std::atomic<int> g_signal{0};  // async-signal-safe: a lock-free atomic only

void handler(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  if (sig == SIGINT) std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

}  // namespace

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGUSR1})
    sigaction(sig, &sa, nullptr);
}

int pending() {
  return g_signal.load();
}
void raise_flag(int sig) {
  g_signal.store(sig);
}
void reset() {
  g_signal.store(0);
}

}  // namespace electra::signals
