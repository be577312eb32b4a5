// A second CUDA stream for the part of a training step that does not depend on the rest: the
// generator. An RTD step is a chain (generator, samples, discriminator) in the forward pass, but
// its backward pass is two independent branches that meet only at the tied embeddings and the
// one-pass cast's gradient node. Autograd runs each backward node on the stream its forward ran
// on, so a generator whose forward ran here has its backward run here too, beside the
// discriminator's; replayed from a CUDA graph, the two branches run concurrently. ELECTRA-Base's
// generator (hidden 256) has small products that fill few of a GPU's multiprocessors on their own.
//
// Everything here compiles against a CPU-only LibTorch; on the CPU, or in a build without CUDA,
// a SideStream is inert and work stays where it was queued.
#pragma once

#include <c10/core/Device.h>

#include <memory>

namespace at {
class Tensor;
}
#if defined(ELECTRA_WITH_CUDA)
namespace c10::cuda {
class CUDAStream;
}
#endif

namespace electra::pretrain {

// Whether training steps may put the generator on a side stream: the environment variable
// ELECTRA_CUDA_GEN_STREAM is "1" (opt-in until measured on a GPU; read once).
bool generator_stream_enabled();

#if defined(ELECTRA_WITH_CUDA)
// Work queued on `waiter` from now on starts after everything queued so far on `done`: an
// event recorded on one and waited for by the other (capturable in a CUDA graph).
void follow_stream(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& done);
#endif

class SideStream {
 public:
  // A stream of its own on `device` when `enabled`, the device is CUDA and the build has CUDA;
  // else inert.
  SideStream(const at::Device& device, bool enabled);
  ~SideStream();
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;

  bool active() const { return impl_ != nullptr; }

  // While the returned guard lives, this thread queues its work for the device on the side
  // stream, after everything queued so far on the stream that was current. Inert: nothing.
  class Scope {
   public:
    Scope();
    Scope(Scope&&) noexcept;
    ~Scope();

   private:
    friend class SideStream;
    struct Guard;
    std::unique_ptr<Guard> guard_;
  };
  Scope enter();

  // Work queued on the current stream from now on starts after everything queued so far on the
  // side stream.
  void join();

  // The memory of `t` (made on the side stream and used on the current one, or the other way
  // round) is not handed to another tensor before both streams' work queued so far is done.
  void share(const at::Tensor& t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace electra::pretrain
