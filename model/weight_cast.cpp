#include "model/weight_cast.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace electra::model {
namespace {

using Weak = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;

struct Source {
  Weak impl;
  int64_t version = 0;
  // Module::to() swaps a parameter's storage in place (set_data) without a version change.
  const void* data = nullptr;
};

struct Entry {
  std::vector<Source> sources;
  std::string tag;  // what the copy is: a dtype's name, or a derived_weight() caller's tag
  at::Tensor copy;
};

std::mutex g_mutex;
// Keyed by the first source's TensorImpl; the entry's weak references tell a live source from a
// new tensor at a reused address.
std::multimap<const c10::TensorImpl*, Entry> g_cache;

bool cacheable(const at::Tensor& w) {
  return !c10::GradMode::is_enabled() && w.defined() && w.numel() > 0 && !w.is_inference();
}

// The source's tensor if it lives and is as it was when copied, else null.
c10::intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl> unchanged(const Source& s) {
  auto alive = s.impl.lock();
  if (alive && alive->version_counter().current_version() == s.version && alive->data() == s.data)
    return alive;
  return {};
}

bool matches(const Entry& e, const std::vector<at::Tensor>& parts, const std::string& tag) {
  if (e.tag != tag || e.sources.size() != parts.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i)
    if (unchanged(e.sources[i]).get() != parts[i].unsafeGetTensorImpl()) return false;
  return true;
}

at::Tensor cached(const std::vector<at::Tensor>& parts, const std::string& tag,
                  const std::function<at::Tensor()>& make) {
  const c10::TensorImpl* key = parts.front().unsafeGetTensorImpl();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    const auto range = g_cache.equal_range(key);
    for (auto it = range.first; it != range.second; ++it)
      if (matches(it->second, parts, tag)) return it->second.copy;
  }
  // A miss. make() runs unlocked, so that it may itself take cached copies.
  Entry e;
  e.tag = tag;
  for (const at::Tensor& p : parts)
    e.sources.push_back({Weak(p.getIntrusivePtr()), p._version(), p.data_ptr()});
  {
    // Made in inference mode, the copy would be an inference tensor, which has no version
    // counter, so nothing derived from it could be kept: the joined Q/K/V matrix was packed for
    // oneDNN again on every call of `electra bench --inference` (72 reorders in 6 forwards).
    // An ordinary tensor, made without a gradient, serves inference mode just as well.
    const c10::InferenceMode normal_tensors(false);
    const at::NoGradGuard no_grad;
    e.copy = make();
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  // Drop what can no longer match (a source freed or changed), then add the copy.
  for (auto it = g_cache.begin(); it != g_cache.end();) {
    const auto& sources = it->second.sources;
    const bool stale =
        std::any_of(sources.begin(), sources.end(), [](const Source& s) { return !unchanged(s); });
    it = stale ? g_cache.erase(it) : std::next(it);
  }
  return g_cache.emplace(key, std::move(e))->second.copy;
}

}  // namespace

at::Tensor cast_weight(const at::Tensor& w, at::ScalarType dt) {
  if (!cacheable(w) || w.scalar_type() == dt) return w.to(dt);
  return cached({w}, c10::toString(dt), [&] { return w.to(dt); });
}

at::Tensor joined_weight(const std::vector<at::Tensor>& parts, at::ScalarType dt) {
  for (const at::Tensor& p : parts)
    if (!cacheable(p)) return at::cat(parts, 0).to(dt);
  return cached(parts, c10::toString(dt), [&] { return at::cat(parts, 0).to(dt); });
}

at::Tensor derived_weight(const at::Tensor& w, const std::string& tag,
                          const std::function<at::Tensor()>& make) {
  if (!cacheable(w)) return make();
  return cached({w}, tag, make);
}

size_t cached_weight_casts() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_cache.size();
}

}  // namespace electra::model
