// The wrapper over model/cuda/gelu_kernels.h (CUDA builds with ELECTRA_CUDA_KERNELS); elsewhere
// "not supported".
#include <ATen/ATen.h>

#include <stdexcept>

#include "common/env_switch.h"
#include "common/error.h"
#include "model/cuda_linear.h"
#include "model/feed_forward.h"

#if defined(ELECTRA_CUDA_KERNELS)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/gelu_kernels.h"
#include "model/cuda_kernel_args.h"
#endif

namespace electra::model {

bool cuda_keep_gelu_enabled() {
  static const bool on = env_switch_opted_in("ELECTRA_CUDA_KEEP_GELU");
  return on;
}

#if defined(ELECTRA_CUDA_KERNELS)

bool cuda_gelu_backward_supports(const at::Tensor& pre, const at::Tensor& d_act) {
  const auto t = pre.scalar_type();
  return pre.is_cuda() && d_act.is_cuda() && pre.device() == d_act.device() && cuda::has_elem(t) &&
         d_act.scalar_type() == t && pre.dim() == 2 && pre.sizes() == d_act.sizes() &&
         pre.size(1) % 4 == 0 && pre.size(0) <= cuda::gelu_backward_max_rows();
}

std::vector<at::Tensor> cuda_gelu_backward(const at::Tensor& pre, const at::Tensor& d_act,
                                           bool tanh_approx, bool with_act,
                                           at::ScalarType sums_dtype) {
  ELECTRA_CHECK(cuda_gelu_backward_supports(pre, d_act), "cuda_gelu_backward: unsupported pre ",
                pre.sizes(), " ", pre.scalar_type(), ", d_act ", d_act.sizes(), " ",
                d_act.scalar_type());
  const c10::cuda::CUDAGuard guard(pre.device());
  const at::Tensor x = pre.contiguous();                               // [n, F]
  at::Tensor d = d_act.is_contiguous() ? d_act : d_act.contiguous();   // [n, F], in place
  const at::Tensor act = with_act ? at::empty_like(x) : at::Tensor();  // [n, F]
  const int64_t rows = x.size(0), f = x.size(1);
  at::Tensor partial = at::empty({cuda::gelu_backward_blocks(rows), f},  // [blocks, F] fp32
                                 x.options().dtype(at::kFloat));
  cuda::GeluBackward a;
  a.pre = x.data_ptr();
  a.d = d.data_ptr();
  a.act = with_act ? act.data_ptr() : nullptr;
  a.elem = cuda::elem_of(x.scalar_type());
  a.tanh_approx = tanh_approx;
  a.rows = rows;
  a.f = f;
  a.partial = partial.data_ptr<float>();
  cuda::check_launch(cuda::gelu_backward(a, c10::cuda::getCurrentCUDAStream().stream()),
                     "gelu_backward");
  return {act, d, cuda_sum_rows(partial, sums_dtype)};
}

#else

bool cuda_gelu_backward_supports(const at::Tensor&, const at::Tensor&) {
  return false;
}

std::vector<at::Tensor> cuda_gelu_backward(const at::Tensor&, const at::Tensor&, bool, bool,
                                           at::ScalarType) {
  throw std::runtime_error("cuda_gelu_backward: this electra was built without the CUDA kernels");
}

#endif

}  // namespace electra::model
