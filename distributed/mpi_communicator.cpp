// The MPI communicator: CPU tensors, in-place collectives issued as non-blocking MPI calls on
// the communication thread (collective_queue.h) and polled to completion with a deadline.
#if ELECTRA_HAVE_MPI

#include <ATen/ATen.h>

#include "common/error.h"
#include "common/log.h"
#include "distributed/chunks.h"
#include "distributed/collective_queue.h"
#include "distributed/mpi_detail.h"

namespace electra::dist {
namespace detail {

void mpi_failed(int rc, const char* call, int rank, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
    std::snprintf(text, sizeof text, "code %d", rc);
  throw std::runtime_error(cat("MPI call ", call, " failed on rank ",
                               rank >= 0 ? std::to_string(rank) : std::string("?"), " at ", file,
                               ":", line, ": ", text));
}

}  // namespace detail

namespace {

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kInt:
      return MPI_INT32_T;
    case at::kLong:
      return MPI_INT64_T;
    case at::kShort:
      return MPI_INT16_T;
    case at::kChar:
      return MPI_INT8_T;
    case at::kByte:
      return MPI_UINT8_T;
    default:
      throw std::runtime_error(
          cat("the MPI communicator cannot reduce ", c10::toString(t),
              " tensors (supported: float, double, bfloat16, half, int8/16/32/64, uint8)"));
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return MPI_SUM;  // kAvg divides afterwards
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_SUM;
}

// Outstanding requests of one op; test() completes when all have.
struct Requests {
  std::vector<MPI_Request> reqs;
  bool test(int rank) {
    int flag = 0;
    ELECTRA_MPI_CHECK(
        rank, MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &flag, MPI_STATUSES_IGNORE));
    return flag != 0;
  }
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, const ProcessInfo& info, const MpiOptions& o)
      : comm_(comm), info_(info), max_count_(o.max_count), ring_min_bytes_(o.ring_min_bytes) {
    const std::string who = cat("rank ", info_.rank, "/", info_.world);
    CollectiveQueue::FailureHandler on_failure;
    if (o.abort_on_failure)
      on_failure = [](const std::string& message) {
        log::error(message);
        mpi_abort(1);
      };
    queue_ = std::make_unique<CollectiveQueue>(who, o.timeout_s, on_failure);
  }

  ~MpiCommunicator() override {
    queue_.reset();  // runs what is queued, joins the communication thread
    MPI_Comm_free(&comm_);
  }

  const ProcessInfo& info() const override { return info_; }
  std::string backend() const override { return "mpi"; }
  void set_timeout(double seconds) override { queue_->set_timeout(seconds); }

  std::unique_ptr<Work> all_reduce_async(const at::Tensor& t, ReduceOp op) override {
    ELECTRA_CHECK(t.defined() && t.device().is_cpu(),
                  "the MPI communicator reduces CPU tensors only (got ",
                  t.defined() ? t.device().str() : "undefined", ")");
    const at::ScalarType st = t.scalar_type();
    // bf16/fp16 are summed in fp32: MPI has no such types, and summing thousands of ranks'
    // gradients in 8 mantissa bits would lose them.
    const bool widen = st == at::kBFloat16 || st == at::kHalf;
    const at::ScalarType wire = widen ? at::kFloat : st;
    const MPI_Datatype type = mpi_type(wire);
    ELECTRA_CHECK(op != ReduceOp::kAvg || at::isFloatingType(st),
                  "all_reduce avg of an integer tensor (", c10::toString(st), ")");
    auto buf = std::make_shared<at::Tensor>();
    const int rank = info_.rank;
    const bool ring =
        info_.world > 1 && t.numel() * static_cast<int64_t>(t.element_size()) >= ring_min_bytes_;
    CollectiveQueue::Op o;
    o.what = cat("all_reduce(", reduce_op_name(op), ", ", t.numel(), " x ", c10::toString(st), ")");
    if (ring) {
      auto r = std::make_shared<std::unique_ptr<detail::RingAllReduce>>();
      o.start = [this, t, buf, r, widen, wire, type, op, rank] {
        *buf = (widen || !t.is_contiguous()) ? t.to(wire).contiguous() : t;
        *r = std::make_unique<detail::RingAllReduce>(comm_, rank, info_.world, buf->view(-1), type,
                                                     op, max_count_);
        (*r)->start();
      };
      o.test = [r] { return (*r)->test(); };
    } else {
      auto reqs = std::make_shared<Requests>();
      o.start = [this, t, buf, reqs, widen, wire, type, op, rank] {
        *buf = (widen || !t.is_contiguous()) ? t.to(wire).contiguous() : t;
        char* base = static_cast<char*>(buf->data_ptr());
        const int64_t es = static_cast<int64_t>(buf->element_size());
        for (const Piece& p : split_count(buf->numel(), max_count_)) {
          reqs->reqs.emplace_back();
          ELECTRA_MPI_CHECK(
              rank, MPI_Iallreduce(MPI_IN_PLACE, base + p.offset * es, static_cast<int>(p.count),
                                   type, mpi_op(op), comm_, &reqs->reqs.back()));
        }
      };
      o.test = [reqs, rank] { return reqs->test(rank); };
    }
    o.finish = [this, t, buf, op] {
      if (op == ReduceOp::kAvg) buf->div_(static_cast<double>(info_.world));
      if (!buf->is_same(t)) t.copy_(*buf);
    };
    return queue_->submit(std::move(o));
  }

  void broadcast(const at::Tensor& t, int root) override {
    ELECTRA_CHECK(t.defined() && t.device().is_cpu(),
                  "the MPI communicator broadcasts CPU tensors only");
    ELECTRA_CHECK(root >= 0 && root < info_.world, "broadcast root ", root);
    auto buf = std::make_shared<at::Tensor>();
    auto reqs = std::make_shared<Requests>();
    const int rank = info_.rank;
    CollectiveQueue::Op o;
    o.what =
        cat("broadcast(", t.numel(), " x ", c10::toString(t.scalar_type()), ", root ", root, ")");
    // Sent as bytes: every dtype (bf16 included) travels unchanged.
    o.start = [this, t, buf, reqs, root, rank] {
      *buf = t.is_contiguous() ? t : t.contiguous();
      char* base = static_cast<char*>(buf->data_ptr());
      const int64_t bytes = buf->numel() * static_cast<int64_t>(buf->element_size());
      for (const Piece& p : split_count(bytes, max_count_)) {
        reqs->reqs.emplace_back();
        ELECTRA_MPI_CHECK(rank, MPI_Ibcast(base + p.offset, static_cast<int>(p.count), MPI_BYTE,
                                           root, comm_, &reqs->reqs.back()));
      }
    };
    o.test = [reqs, rank] { return reqs->test(rank); };
    o.finish = [t, buf] {
      if (!buf->is_same(t)) t.copy_(*buf);
    };
    queue_->run(std::move(o));
  }

  void barrier() override {
    auto reqs = std::make_shared<Requests>();
    const int rank = info_.rank;
    CollectiveQueue::Op o;
    o.what = "barrier";
    o.start = [this, reqs, rank] {
      reqs->reqs.emplace_back();
      ELECTRA_MPI_CHECK(rank, MPI_Ibarrier(comm_, &reqs->reqs.back()));
    };
    o.test = [reqs, rank] { return reqs->test(rank); };
    queue_->run(std::move(o));
  }

  std::vector<int64_t> all_gather(int64_t v) override { return gather_scalar(v, MPI_INT64_T); }
  std::vector<double> all_gather(double v) override { return gather_scalar(v, MPI_DOUBLE); }

  std::vector<std::string> all_gather(const std::string& v) override {
    // Two phases: the lengths, then the bytes.
    const int world = info_.world, rank = info_.rank;
    ELECTRA_CHECK(v.size() < static_cast<size_t>(INT_MAX / std::max(1, world)), "all_gather of a ",
                  v.size(), "-byte string");
    auto lens = std::make_shared<std::vector<int>>(world);
    auto displs = std::make_shared<std::vector<int>>(world);
    auto bytes = std::make_shared<std::string>();
    auto reqs = std::make_shared<Requests>();
    auto phase = std::make_shared<int>(0);
    auto mine = std::make_shared<std::string>(v);
    auto my_len = std::make_shared<int>(static_cast<int>(v.size()));
    CollectiveQueue::Op o;
    o.what = cat("all_gather(string of ", v.size(), " bytes)");
    o.start = [this, lens, reqs, my_len, rank] {
      reqs->reqs.emplace_back();
      ELECTRA_MPI_CHECK(rank, MPI_Iallgather(my_len.get(), 1, MPI_INT, lens->data(), 1, MPI_INT,
                                             comm_, &reqs->reqs.back()));
    };
    o.test = [this, lens, displs, bytes, reqs, phase, mine, rank] {
      if (!reqs->test(rank)) return false;
      if (*phase == 1) return true;
      *phase = 1;
      int total = 0;
      for (size_t i = 0; i < lens->size(); ++i) {
        (*displs)[i] = total;
        total += (*lens)[i];
      }
      bytes->assign(static_cast<size_t>(total), '\0');
      reqs->reqs.assign(1, MPI_REQUEST_NULL);
      ELECTRA_MPI_CHECK(rank, MPI_Iallgatherv(mine->data(), static_cast<int>(mine->size()),
                                              MPI_CHAR, bytes->data(), lens->data(), displs->data(),
                                              MPI_CHAR, comm_, &reqs->reqs[0]));
      return false;
    };
    queue_->run(std::move(o));
    std::vector<std::string> out(static_cast<size_t>(world));
    for (int i = 0; i < world; ++i)
      out[static_cast<size_t>(i)] =
          bytes->substr(static_cast<size_t>((*displs)[i]), static_cast<size_t>((*lens)[i]));
    return out;
  }

 private:
  template <class T>
  std::vector<T> gather_scalar(T v, MPI_Datatype type) {
    auto out = std::make_shared<std::vector<T>>(static_cast<size_t>(info_.world));
    auto in = std::make_shared<T>(v);
    auto reqs = std::make_shared<Requests>();
    const int rank = info_.rank;
    CollectiveQueue::Op o;
    o.what = "all_gather(scalar)";
    o.start = [this, out, in, reqs, type, rank] {
      reqs->reqs.emplace_back();
      ELECTRA_MPI_CHECK(
          rank, MPI_Iallgather(in.get(), 1, type, out->data(), 1, type, comm_, &reqs->reqs.back()));
    };
    o.test = [reqs, rank] { return reqs->test(rank); };
    queue_->run(std::move(o));
    return *out;
  }

  MPI_Comm comm_;
  ProcessInfo info_;
  int64_t max_count_;
  int64_t ring_min_bytes_;
  std::unique_ptr<CollectiveQueue> queue_;
};

}  // namespace

namespace detail {

std::unique_ptr<Communicator> make_mpi_comm_wrapper(MPI_Comm comm, const ProcessInfo& info,
                                                    const MpiOptions& options) {
  return std::make_unique<MpiCommunicator>(comm, info, options);
}

}  // namespace detail
}  // namespace electra::dist

#endif  // ELECTRA_HAVE_MPI
