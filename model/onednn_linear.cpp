#include "model/onednn_linear.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/env_switch.h"
#include "common/error.h"
#include "model/weight_cast.h"

#if defined(ELECTRA_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace electra::model {

namespace {

[[maybe_unused]] bool enabled_by_env() {
  static const bool on = env_switch_on("ELECTRA_ONEDNN_LINEAR");
  return on;
}

}  // namespace

#if defined(ELECTRA_ONEDNN) && DNNL_VERSION_MAJOR == 2

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct Primitive {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  std::string weights_tag;  // names pd.weights_desc() for the packed-weight cache
};

// (rows, in, out, epilogue, has bias, fp32 rather than bf16)
using Key = std::tuple<int64_t, int64_t, int64_t, int, bool, bool>;

std::mutex g_mutex;
std::map<Key, std::shared_ptr<const Primitive>> g_primitives;
// Evaluation with varying batch shapes (fine-tuning's padded batches) makes one primitive per row
// count; past this many the map starts again rather than growing without bound.
constexpr size_t kMaxPrimitives = 256;

// The packed layout's description, as a cache tag: two weights packed for one layout share it.
std::string layout_tag(const memory::desc& d) {
  const dnnl_memory_desc_t& m = d.data;
  std::ostringstream s;
  s << "onednn:" << m.ndims << ':' << m.data_type << ':' << m.format_kind << ':' << m.offset0;
  for (int i = 0; i < m.ndims; ++i)
    s << ',' << m.dims[i] << '/' << m.padded_dims[i];
  if (m.format_kind == dnnl_blocked) {
    const auto& b = m.format_desc.blocking;
    for (int i = 0; i < m.ndims; ++i)
      s << ";s" << b.strides[i];
    for (int i = 0; i < b.inner_nblks; ++i)
      s << ";b" << b.inner_blks[i] << 'x' << b.inner_idxs[i];
  }
  s << ";e" << m.extra.flags << ':' << m.extra.compensation_mask << ':' << m.extra.scale_adjust;
  return s.str();
}

std::shared_ptr<const Primitive> primitive(int64_t rows, int64_t in, int64_t out, Epilogue e,
                                           bool bias, bool fp32) {
  const Key key{rows, in, out, static_cast<int>(e), bias, fp32};
  std::lock_guard<std::mutex> lock(g_mutex);
  if (auto it = g_primitives.find(key); it != g_primitives.end()) return it->second;
  if (g_primitives.size() >= kMaxPrimitives) g_primitives.clear();
  const Dt dt = fp32 ? Dt::f32 : Dt::bf16;
  const memory::desc x({rows, in}, dt, Tag::ab);
  // Tag::any: the primitive picks the weight's layout (blocked for its kernels).
  const memory::desc w({in, out}, dt, Tag::any);
  const memory::desc b = bias ? memory::desc({1, out}, dt, Tag::ab) : memory::desc();
  const memory::desc y({rows, out}, dt, Tag::ab);
  dnnl::post_ops ops;
  if (e != Epilogue::kNone) {
    const auto alg = e == Epilogue::kGelu ? dnnl::algorithm::eltwise_gelu_erf
                                          : dnnl::algorithm::eltwise_gelu_tanh;
    ops.append_eltwise(/*scale=*/1.0f, alg, 0.0f, 0.0f);
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  auto p = std::make_shared<Primitive>();
  p->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(x, w, b, y), attr, engine());
  p->prim = dnnl::matmul(p->pd);
  p->weights_tag = layout_tag(p->pd.weights_desc());
  return g_primitives.emplace(key, std::move(p)).first->second;
}

// w [out, in] in dtype st and the layout p wants, as raw bytes: packed once per weight (and
// version).
at::Tensor packed_weight(const at::Tensor& w, at::ScalarType st, const Primitive& p) {
  return derived_weight(w, p.weights_tag, [&] {
    const at::Tensor wc = w.to(st).contiguous();  // [out, in]
    // [out, in] row-major is the [in, out] matrix the product wants, in column-major (ba).
    const memory::desc plain({w.size(1), w.size(0)}, st == at::kFloat ? Dt::f32 : Dt::bf16,
                             Tag::ba);
    const memory::desc& want = p.pd.weights_desc();
    at::Tensor bytes =
        at::empty({static_cast<int64_t>(want.get_size())}, w.options().dtype(at::kByte));
    memory src(plain, engine(), wc.data_ptr()), dst(want, engine(), bytes.data_ptr());
    dnnl::stream s(engine());
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();
    return bytes;
  });
}

}  // namespace

bool onednn_linear_enabled() {
  return enabled_by_env();
}

bool onednn_linear_supports(const at::Tensor& x, const at::Tensor& w) {
  return enabled_by_env() && !c10::GradMode::is_enabled() && x.defined() && w.defined() &&
         x.is_cpu() && w.is_cpu() && x.dim() >= 1 && w.dim() == 2 && x.size(-1) == w.size(1) &&
         x.numel() > 0 &&
         ((x.scalar_type() == at::kBFloat16 &&
           (w.scalar_type() == at::kFloat || w.scalar_type() == at::kBFloat16)) ||
          (x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat));
}

at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                         Epilogue epilogue) {
  ELECTRA_CHECK(onednn_linear_supports(x, w), "onednn_linear: unsupported x ", x.sizes(), " ",
                x.scalar_type(), ", w ", w.sizes(), " ", w.scalar_type());
  const bool bias = b.defined() && b.numel() > 0;
  const int64_t in = w.size(1), out = w.size(0);
  ELECTRA_CHECK(!bias || b.numel() == out, "onednn_linear: bias of ", b.numel(), " for ", out,
                " outputs");
  const at::Tensor x2 = x.reshape({-1, in}).contiguous();  // [n, in]
  const int64_t rows = x2.size(0);
  const at::ScalarType st = x.scalar_type();
  const auto p = primitive(rows, in, out, epilogue, bias, st == at::kFloat);
  const at::Tensor packed = packed_weight(w, st, *p);
  const at::Tensor bc = bias ? cast_weight(b, st).contiguous() : at::Tensor();  // [out] in st
  at::Tensor y = at::empty({rows, out}, x2.options());                          // [n, out]
  const memory xm(p->pd.src_desc(), engine(), x2.data_ptr());
  const memory wm(p->pd.weights_desc(), engine(), packed.data_ptr());
  const memory ym(p->pd.dst_desc(), engine(), y.data_ptr());
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
  if (bias) args.emplace(DNNL_ARG_BIAS, memory(p->pd.bias_desc(), engine(), bc.data_ptr()));
  dnnl::stream s(engine());
  p->prim.execute(s, args);
  s.wait();
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = out;
  return y.view(sizes);
}

size_t onednn_linear_primitives() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_primitives.size();
}

#else  // no oneDNN headers at build time

bool onednn_linear_enabled() {
  return false;
}

bool onednn_linear_supports(const at::Tensor&, const at::Tensor&) {
  return false;
}

at::Tensor onednn_linear(const at::Tensor&, const at::Tensor&, const at::Tensor&, Epilogue) {
  ELECTRA_CHECK(false, "onednn_linear: this build has no oneDNN (install libdnnl-dev)");
  return {};
}

size_t onednn_linear_primitives() {
  return 0;
}

#endif

}  // namespace electra::model
