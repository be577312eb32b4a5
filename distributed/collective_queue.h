// The engine behind the MPI communicator: one communication thread that runs collectives one
// at a time, in submission order, each as non-blocking calls polled to completion.
//
// Why a thread: Open MPI progresses a non-blocking collective only inside MPI calls, so a
// reduction started during backward would sit idle until the next MPI call on the compute
// thread; a thread that polls gives real overlap. Why polling (with a growing sleep) instead
// of blocking calls: a blocking MPI call waits forever for a peer that died or hangs, and MPI
// implementations busy-wait inside it, taking a core from the compute threads. A polled
// collective has a deadline (dist.timeout_s): past it, the job is ended with a message that
// names the collective and the rank.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "distributed/communicator.h"

namespace electra::dist {

class CollectiveQueue {
 public:
  struct Op {
    std::string what;              // for messages: "all_reduce(avg, 1234 x float)"
    std::function<void()> start;   // issues the non-blocking calls
    std::function<bool()> test;    // non-blocking: true once complete (may start more calls)
    std::function<void()> finish;  // runs after completion (copy back, divide); may be empty
  };
  // Called on the communication thread when an op fails or exceeds the timeout, with a message
  // naming the op; production handlers end the job (MPI_Abort). After a failure every pending
  // and later op fails with the same message.
  using FailureHandler = std::function<void(const std::string& message)>;

  CollectiveQueue(std::string who, double timeout_s, FailureHandler on_failure);
  // Runs the ops still queued (each within its deadline), then stops the thread.
  ~CollectiveQueue();
  CollectiveQueue(const CollectiveQueue&) = delete;
  CollectiveQueue& operator=(const CollectiveQueue&) = delete;

  std::unique_ptr<Work> submit(Op op);
  void run(Op op) { submit(std::move(op))->wait(); }
  void set_timeout(double seconds);
  double timeout() const;

 private:
  struct Item;
  void loop();
  void execute(Item& item);

  std::string who_;  // "rank 3/8", for messages
  FailureHandler on_failure_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Item>> queue_;
  double timeout_s_;
  bool stop_ = false;
  std::string failure_;  // non-empty once an op failed
  std::thread thread_;
};

}  // namespace electra::dist
