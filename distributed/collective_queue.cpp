#include "distributed/collective_queue.h"

#include <chrono>
#include <exception>

#include "common/error.h"

namespace electra::dist {

using Clock = std::chrono::steady_clock;

namespace {

// Completion of one op, shared by the queue and the Work handed to the caller.
struct Completion {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::string error;
};

class QueuedWork : public Work {
 public:
  explicit QueuedWork(std::shared_ptr<Completion> c) : c_(std::move(c)) {}
  void wait() override {
    std::unique_lock<std::mutex> lock(c_->mu);
    c_->cv.wait(lock, [&] { return c_->done; });
    if (!c_->error.empty()) throw std::runtime_error(c_->error);
  }
  bool done() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    return c_->done;
  }

 private:
  std::shared_ptr<Completion> c_;
};

}  // namespace

struct CollectiveQueue::Item {
  Op op;
  std::shared_ptr<Completion> completion = std::make_shared<Completion>();
};

CollectiveQueue::CollectiveQueue(std::string who, double timeout_s, FailureHandler on_failure)
    : who_(std::move(who)), on_failure_(std::move(on_failure)), timeout_s_(timeout_s) {
  thread_ = std::thread([this] { loop(); });
}

CollectiveQueue::~CollectiveQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CollectiveQueue::set_timeout(double seconds) {
  ELECTRA_CHECK(seconds > 0, "timeout ", seconds);
  std::lock_guard<std::mutex> lock(mu_);
  timeout_s_ = seconds;
}

double CollectiveQueue::timeout() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeout_s_;
}

std::unique_ptr<Work> CollectiveQueue::submit(Op op) {
  auto item = std::make_shared<Item>();
  item->op = std::move(op);
  auto work = std::make_unique<QueuedWork>(item->completion);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ELECTRA_CHECK(!stop_, "collective submitted to a stopped queue");
    queue_.push_back(item);
  }
  cv_.notify_all();
  return work;
}

void CollectiveQueue::loop() {
  while (true) {
    std::shared_ptr<Item> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop requested and drained
      item = queue_.front();
      queue_.pop_front();
    }
    execute(*item);
  }
}

void CollectiveQueue::execute(Item& item) {
  std::string error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.empty())
      error = cat(item.op.what, " not run: an earlier collective failed: ", failure_);
  }
  if (error.empty()) {
    const double limit = timeout();
    try {
      const auto start = Clock::now();
      const auto deadline =
          start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit));
      item.op.start();
      // Spin briefly (small collectives finish in microseconds), then sleep with a growing
      // interval capped at 1 ms so a waiting rank leaves its core to the compute threads.
      int spins = 0;
      auto nap = std::chrono::microseconds(20);
      while (!item.op.test()) {
        if (Clock::now() > deadline) {
          error = cat(item.op.what, " on ", who_, " did not complete within ", limit,
                      " s (dist.timeout_s): another rank died, hangs, or is much slower. "
                      "Ending the job");
          break;
        }
        if (++spins < 64) {
          std::this_thread::yield();
        } else {
          std::this_thread::sleep_for(nap);
          nap = std::min(nap * 2, std::chrono::microseconds(1000));
        }
      }
      if (error.empty() && item.op.finish) item.op.finish();
    } catch (const std::exception& e) {
      error = cat(item.op.what, " failed on ", who_, ": ", e.what());
    }
    if (!error.empty()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        failure_ = error;
      }
      if (on_failure_) on_failure_(error);
    }
  }
  Completion& c = *item.completion;
  std::lock_guard<std::mutex> lock(c.mu);
  c.error = error;
  c.done = true;
  c.cv.notify_all();
}

}  // namespace electra::dist
