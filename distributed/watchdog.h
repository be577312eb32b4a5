// Bounds a blocking step that has no deadline of its own (MPI_Init_thread, MPI_Finalize):
// if the step is still running after `seconds`, `fire` is called on the watchdog's thread
// (production: print the message and end the process, so a job never hangs).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace electra::dist {

class Watchdog {
 public:
  Watchdog(std::string what, double seconds, std::function<void(const std::string&)> fire);
  ~Watchdog();  // the step finished: cancels the watchdog
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::thread thread_;
};

// The `fire` of production watchdogs: logs `message` and ends the process with status 1
// (the launcher then ends the other ranks).
[[noreturn]] void exit_on_hang(const std::string& message);

}  // namespace electra::dist
