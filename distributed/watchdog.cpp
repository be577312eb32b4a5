#include "distributed/watchdog.h"

#include <chrono>
#include <cstdlib>

#include "common/error.h"
#include "common/log.h"

namespace electra::dist {

Watchdog::Watchdog(std::string what, double seconds, std::function<void(const std::string&)> fire) {
  thread_ = std::thread([this, what = std::move(what), seconds, fire = std::move(fire)] {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return finished_; }))
      return;
    lock.unlock();
    fire(cat(what, " did not finish within ", seconds,
             " s: a peer process died or hangs, or the launcher/network is misconfigured"));
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void exit_on_hang(const std::string& message) {
  log::error(message);
  std::_Exit(1);
}

}  // namespace electra::dist
