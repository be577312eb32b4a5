#include "model/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <limits>
#include <vector>

#include "common/error.h"
#include "common/fs.h"

namespace electra::model {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  size_t size;
};

const DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8},    {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8},  {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},     {"I8", at::kChar, 1},   {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& n) {
  for (const auto& d : kDtypes)
    if (n == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (t == d.type) return &d;
  return nullptr;
}

}  // namespace

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& origin) {
  auto bad = [&](const auto&... what) {
    throw_user(origin, ": not a valid safetensors file: ", what...);
  };
  if (bytes.size() < 8)
    bad("it is ", bytes.size(), " bytes long, shorter than the 8-byte header length");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i)
    hlen = (hlen << 8) | static_cast<unsigned char>(bytes[i]);
  if (hlen > kMaxHeader || hlen > bytes.size() - 8)
    bad("header length ", hlen, " exceeds the file size ", bytes.size(),
        " (truncated or not safetensors)");
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(hlen));
  } catch (const json::exception& e) {
    bad("the header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) bad("the header is not a JSON object");
  const char* data = bytes.data() + 8 + hlen;
  const uint64_t data_size = bytes.size() - 8 - hlen;

  SafetensorsFile out;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) bad("__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) bad("__metadata__ value for '", m.key(), "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const json& e = it.value();
    const std::string& name = it.key();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
        !e.contains("data_offsets"))
      bad("entry '", name, "' needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) bad("entry '", name, "': dtype is not a string");
    const DtypeInfo* dt = dtype_by_name(e["dtype"].get<std::string>());
    if (!dt) bad("entry '", name, "': unsupported dtype '", e["dtype"].get<std::string>(), "'");
    if (!e["shape"].is_array()) bad("entry '", name, "': shape is not a list");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned())
        bad("entry '", name, "': shape has a non-integer or negative dimension");
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v))
        bad("entry '", name, "': shape overflows");
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      bad("entry '", name, "': data_offsets must be two non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size)
      bad("entry '", name, "': data_offsets [", b, ", ", en, "] fall outside the ", data_size,
          "-byte data section (truncated file?)");
    if (numel > std::numeric_limits<uint64_t>::max() / dt->size || en - b != numel * dt->size)
      bad("entry '", name, "': ", en - b, " bytes of data for shape ", e["shape"].dump(), " of ",
          dt->name);
    spans.emplace_back(b, en);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt->type));
    if (numel) std::memcpy(t.data_ptr(), data + b, en - b);
    out.tensors[name] = t;
  }
  std::sort(spans.begin(), spans.end());
  uint64_t pos = 0;
  for (const auto& [b, en] : spans) {
    if (b != pos) bad("tensor data overlaps or leaves a gap at byte ", b, " (expected ", pos, ")");
    pos = en;
  }
  if (pos != data_size) bad("the data section is ", data_size, " bytes but tensors cover ", pos);
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  return parse_safetensors(fs::read_file(path, "safetensors"), path);
}

std::string serialize_safetensors(const TensorMap& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  header["__metadata__"] = metadata.empty() ? json{{"format", "pt"}} : json(metadata);
  std::vector<at::Tensor> contiguous;
  uint64_t off = 0;
  for (const auto& [name, t0] : tensors) {
    at::Tensor t = t0.detach().to(at::kCPU).contiguous();
    const DtypeInfo* dt = dtype_by_type(t.scalar_type());
    ELECTRA_CHECK(dt != nullptr, "cannot store dtype ", t.scalar_type(), " of '", name, "'");
    const uint64_t n = static_cast<uint64_t>(t.numel()) * dt->size;
    header[name] = {
        {"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {off, off + n}}};
    off += n;
    contiguous.push_back(t);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  std::string out;
  out.reserve(8 + h.size() + off);
  uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((hl >> (8 * i)) & 0xFF));
  out += h;
  for (const auto& t : contiguous)
    out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  fs::write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace electra::model
