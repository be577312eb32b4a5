#include "model/torch_bin.h"

#include <ATen/ATen.h>
#include <c10/core/Storage.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "model/zip_directory.h"

namespace electra::model {
namespace {

// A decoded Python value. Only what a state dict can hold; everything else is refused.
struct Value;
using ValuePtr = std::shared_ptr<Value>;

enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kTensor };

struct Value {
  Kind kind = Kind::kNone;
  int64_t i = 0;                                    // kBool, kInt
  double f = 0;                                     // kFloat
  std::string s;                                    // kString; kGlobal: "module.name"
  std::vector<ValuePtr> items;                      // kTuple, kList
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;  // kDict, in insertion order
  at::Tensor tensor;                                // kTensor
};

ValuePtr make(Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}
ValuePtr make_int(int64_t i) {
  auto v = make(Kind::kInt);
  v->i = i;
  return v;
}
ValuePtr make_string(std::string s, Kind k = Kind::kString) {
  auto v = make(k);
  v->s = std::move(s);
  return v;
}

// torch.<Name>Storage globals -> element type.
bool storage_dtype(const std::string& global, at::ScalarType* out) {
  static const std::pair<const char*, at::ScalarType> kTypes[] = {
      {"torch.FloatStorage", at::kFloat}, {"torch.DoubleStorage", at::kDouble},
      {"torch.HalfStorage", at::kHalf},   {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},   {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort}, {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},   {"torch.BoolStorage", at::kBool}};
  for (const auto& [name, dt] : kTypes) {
    if (global == name) {
      *out = dt;
      return true;
    }
  }
  return false;
}

class Unpickler {
 public:
  Unpickler(const std::string& pickle, caffe2::serialize::PyTorchStreamReader& zip,
            std::string origin)
      : p_(pickle), zip_(zip), origin_(std::move(origin)) {}

  ValuePtr run() {
    while (true) {
      const uint8_t op = u8();
      if (op == '.') break;  // STOP
      step(op);
    }
    if (stack_.size() != 1) corrupt("the pickle leaves ", stack_.size(), " values, not one");
    return stack_.back();
  }

 private:
  template <class... Args>
  [[noreturn]] void corrupt(const Args&... args) const {
    throw_user(origin_, ": not a readable torch.save state dict (", cat(args...),
               " at pickle byte ", pos_,
               "). Re-save it with torch.save(model.state_dict()) or "
               "convert it to model.safetensors");
  }

  // --- byte stream -----------------------------------------------------------------------------
  const char* take(size_t n) {
    if (n > p_.size() - pos_) corrupt("unexpected end of the pickle");
    const char* at = p_.data() + pos_;
    pos_ += n;
    return at;
  }
  template <class T>
  T le() {  // little-endian integer (the pickle's byte order; this code runs on LE hosts)
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  uint8_t u8() { return le<uint8_t>(); }
  std::string line() {  // GLOBAL's newline-terminated arguments
    const size_t end = p_.find('\n', pos_);
    if (end == std::string::npos) corrupt("unterminated GLOBAL");
    std::string s = p_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  std::string bytes(uint64_t n) {
    if (n > p_.size() - pos_) corrupt("a string runs past the end of the pickle");
    return std::string(take(n), n);
  }

  // --- stack -----------------------------------------------------------------------------------
  ValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      corrupt("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty()) corrupt("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) corrupt("no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  ValuePtr tuple(std::vector<ValuePtr> items) {
    auto v = make(Kind::kTuple);
    v->items = std::move(items);
    return v;
  }
  void memo_put(uint64_t id) { memo_[id] = top(); }
  void memo_get(uint64_t id) {
    auto it = memo_.find(id);
    if (it == memo_.end()) corrupt("memo entry ", id, " is not defined");
    stack_.push_back(it->second);
  }
  void set_items(const ValuePtr& dict, std::vector<ValuePtr> kv) {
    if (dict->kind != Kind::kDict) corrupt("SETITEM(S) on something that is not a dict");
    if (kv.size() % 2) corrupt("SETITEMS with an odd number of values");
    for (size_t i = 0; i < kv.size(); i += 2) {
      bool replaced = false;
      for (auto& e : dict->dict) {
        if (e.first->kind == Kind::kString && kv[i]->kind == Kind::kString &&
            e.first->s == kv[i]->s) {
          e.second = kv[i + 1];
          replaced = true;
        }
      }
      if (!replaced) dict->dict.emplace_back(kv[i], kv[i + 1]);
    }
  }

  void step(uint8_t op) {
    switch (op) {
      case 0x80:
        u8();
        break;  // PROTO
      case 0x95:
        le<uint64_t>();
        break;  // FRAME (protocol 4): a length hint
      case '(':
        marks_.push_back(stack_.size());
        break;  // MARK
      case '0':
        pop();
        break;  // POP
      case '1':
        pop_to_mark();
        break;  // POP_MARK
      case '2':
        stack_.push_back(top());
        break;  // DUP
      case 'N':
        stack_.push_back(make(Kind::kNone));
        break;
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        auto v = make(Kind::kBool);
        v->i = op == 0x88;
        stack_.push_back(v);
      } break;
      case 'J':
        stack_.push_back(make_int(le<int32_t>()));
        break;  // BININT
      case 'K':
        stack_.push_back(make_int(le<uint8_t>()));
        break;  // BININT1
      case 'M':
        stack_.push_back(make_int(le<uint16_t>()));
        break;      // BININT2
      case 0x8a: {  // LONG1
        const uint8_t n = u8();
        if (n > 8) corrupt("integer wider than 64 bits");
        uint64_t u = 0;
        const char* b = take(n);
        for (int k = n - 1; k >= 0; --k)
          u = (u << 8) | static_cast<uint8_t>(b[k]);
        if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) u |= ~uint64_t{0} << (8 * n);
        stack_.push_back(make_int(static_cast<int64_t>(u)));
      } break;
      case 'G': {  // BINFLOAT: big-endian double
        const char* b = take(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k)
          u = (u << 8) | static_cast<uint8_t>(b[k]);
        auto v = make(Kind::kFloat);
        std::memcpy(&v->f, &u, 8);
        stack_.push_back(v);
      } break;
      case 'X':
        stack_.push_back(make_string(bytes(le<uint32_t>())));
        break;  // BINUNICODE
      case 0x8c:
        stack_.push_back(make_string(bytes(u8())));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        stack_.push_back(make_string(bytes(le<uint64_t>())));
        break;  // BINUNICODE8
      case 'T':
        stack_.push_back(make_string(bytes(le<uint32_t>())));
        break;  // BINSTRING
      case 'U':
        stack_.push_back(make_string(bytes(u8())));
        break;  // SHORT_BINSTRING
      case ')':
        stack_.push_back(tuple({}));
        break;  // EMPTY_TUPLE
      case 't':
        stack_.push_back(tuple(pop_to_mark()));
        break;    // TUPLE
      case 0x85:  // TUPLE1..3
      case 0x86:
      case 0x87: {
        std::vector<ValuePtr> items(op - 0x84);
        for (size_t k = items.size(); k-- > 0;)
          items[k] = pop();
        stack_.push_back(tuple(std::move(items)));
      } break;
      case ']':
        stack_.push_back(make(Kind::kList));
        break;     // EMPTY_LIST
      case 'l': {  // LIST
        auto v = make(Kind::kList);
        v->items = pop_to_mark();
        stack_.push_back(v);
      } break;
      case 'a': {  // APPEND
        ValuePtr x = pop();
        if (top()->kind != Kind::kList) corrupt("APPEND to something that is not a list");
        top()->items.push_back(x);
      } break;
      case 'e': {  // APPENDS
        auto items = pop_to_mark();
        if (top()->kind != Kind::kList) corrupt("APPENDS to something that is not a list");
        for (auto& x : items)
          top()->items.push_back(x);
      } break;
      case '}':
        stack_.push_back(make(Kind::kDict));
        break;     // EMPTY_DICT
      case 'd': {  // DICT
        auto v = make(Kind::kDict);
        set_items(v, pop_to_mark());
        stack_.push_back(v);
      } break;
      case 's': {  // SETITEM
        ValuePtr val = pop();
        ValuePtr key = pop();
        set_items(top(), {key, val});
      } break;
      case 'u': {  // SETITEMS
        auto kv = pop_to_mark();
        set_items(top(), std::move(kv));
      } break;
      case 'q':
        memo_put(u8());
        break;  // BINPUT
      case 'r':
        memo_put(le<uint32_t>());
        break;  // LONG_BINPUT
      case 0x94:
        memo_put(memo_.size());
        break;  // MEMOIZE
      case 'h':
        memo_get(u8());
        break;  // BINGET
      case 'j':
        memo_get(le<uint32_t>());
        break;     // LONG_BINGET
      case 'c': {  // GLOBAL
        std::string module = line();
        std::string name = line();
        stack_.push_back(global(module, name));
      } break;
      case 0x93: {  // STACK_GLOBAL
        ValuePtr name = pop();
        ValuePtr module = pop();
        if (name->kind != Kind::kString || module->kind != Kind::kString)
          corrupt("STACK_GLOBAL without strings");
        stack_.push_back(global(module->s, name->s));
      } break;
      case 'Q': {  // BINPERSID: ('storage', storage_type, key, location, numel)
        ValuePtr pid = pop();
        stack_.push_back(persistent(pid));
      } break;
      case 'R': {  // REDUCE
        ValuePtr args = pop();
        ValuePtr fn = pop();
        stack_.push_back(call(fn, args));
      } break;
      case 'b': {  // BUILD: sets attributes (OrderedDict._metadata, Parameter state): dropped
        pop();
        const Kind k = top()->kind;
        if (k != Kind::kDict && k != Kind::kTensor)
          corrupt("BUILD on a value that is not a dict or tensor");
      } break;
      default:
        corrupt("unsupported pickle opcode ", static_cast<int>(op),
                " (only containers, numbers, strings and tensors are read)");
    }
  }

  // Only the globals torch.save writes for a state dict; anything else could run code in
  // Python's unpickler and is refused here.
  ValuePtr global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    at::ScalarType dt;
    static const char* kAllowed[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                     "torch._utils._rebuild_tensor",
                                     "torch._utils._rebuild_parameter",
                                     "torch._utils._rebuild_parameter_with_state"};
    bool ok = storage_dtype(full, &dt);
    for (const char* a : kAllowed)
      ok = ok || full == a;
    if (!ok)
      throw_user(origin_, ": refusing to load: the pickle references '", full,
                 "', which is not a tensor or container (this reader never runs code from a "
                 "file). If the file is trusted, convert it to model.safetensors with Python");
    return make_string(full, Kind::kGlobal);
  }

  ValuePtr persistent(const ValuePtr& pid) {
    if (pid->kind != Kind::kTuple || pid->items.size() < 5 ||
        pid->items[0]->kind != Kind::kString || pid->items[0]->s != "storage")
      corrupt("unknown persistent id (expected a ('storage', ...) tuple)");
    const auto& it = pid->items;
    at::ScalarType dt;
    if (it[1]->kind != Kind::kGlobal || !storage_dtype(it[1]->s, &dt))
      corrupt("unknown storage type");
    if (it[2]->kind != Kind::kString || it[4]->kind != Kind::kInt || it[4]->i < 0)
      corrupt("malformed storage reference");
    const std::string& key = it[2]->s;
    auto v = make(Kind::kTensor);
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      v->tensor = cached->second;
      return v;
    }
    const int64_t numel = it[4]->i;
    const size_t itemsize = c10::elementSize(dt);
    at::Tensor t;  // 1-d over the whole storage; _rebuild_tensor views it
    if (numel == 0) {
      t = at::empty({0}, at::TensorOptions().dtype(dt));
    } else {
      const std::string record = "data/" + key;
      if (!zip_.hasRecord(record)) corrupt("the archive has no record '", record, "'");
      auto rec = zip_.getRecord(record);
      const size_t nbytes = std::get<1>(rec);
      if (nbytes < static_cast<size_t>(numel) * itemsize)
        corrupt("record '", record, "' has ", nbytes, " bytes, its storage needs ",
                numel * static_cast<int64_t>(itemsize));
      c10::Storage storage(c10::Storage::use_byte_size_t(), static_cast<int64_t>(numel * itemsize),
                           std::move(std::get<0>(rec)), /*allocator=*/nullptr,
                           /*resizable=*/false);
      t = at::empty({0}, at::TensorOptions().dtype(dt)).set_(storage, 0, {numel}, {1});
    }
    storages_[key] = t;
    v->tensor = t;
    return v;
  }

  static std::vector<int64_t> ints(const ValuePtr& v, const char* what, Unpickler& self) {
    if (v->kind != Kind::kTuple && v->kind != Kind::kList) self.corrupt(what, " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : v->items) {
      if (x->kind != Kind::kInt || x->i < 0) self.corrupt(what, " holds a non-integer");
      out.push_back(x->i);
    }
    return out;
  }

  ValuePtr call(const ValuePtr& fn, const ValuePtr& args) {
    if (fn->kind != Kind::kGlobal || args->kind != Kind::kTuple)
      corrupt("REDUCE without a global and an argument tuple");
    const auto& a = args->items;
    const std::string& f = fn->s;
    if (f == "collections.OrderedDict") {
      auto d = make(Kind::kDict);
      if (!a.empty()) corrupt("OrderedDict with constructor arguments");
      return d;
    }
    if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor") {
      // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
      if (a.size() < 4 || a[0]->kind != Kind::kTensor || a[1]->kind != Kind::kInt)
        corrupt("malformed ", f, " call");
      const at::Tensor& storage = a[0]->tensor;
      const int64_t offset = a[1]->i;
      const auto size = ints(a[2], "tensor size", *this);
      const auto stride = ints(a[3], "tensor stride", *this);
      if (size.size() != stride.size()) corrupt("tensor size and stride differ in rank");
      // The view must lie inside its storage (set_ would read out of bounds otherwise).
      int64_t last = offset, numel = 1;
      for (size_t d = 0; d < size.size(); ++d) {
        numel *= size[d];
        if (size[d] > 0) last += (size[d] - 1) * stride[d];
      }
      if (offset < 0 || (numel > 0 && last >= storage.numel()))
        corrupt("a tensor view runs past its storage (", storage.numel(), " elements)");
      auto v = make(Kind::kTensor);
      v->tensor = at::empty({0}, storage.options()).set_(storage.storage(), offset, size, stride);
      return v;
    }
    if (f == "torch._utils._rebuild_parameter" ||
        f == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != Kind::kTensor) corrupt("malformed ", f, " call");
      return a[0];
    }
    corrupt("'", f, "' cannot be called");  // storage types are arguments, never called
  }

  const std::string& p_;
  size_t pos_ = 0;
  caffe2::serialize::PyTorchStreamReader& zip_;
  std::string origin_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::unordered_map<std::string, at::Tensor> storages_;  // storage key -> 1-d tensor
};

// The first bytes say which torch.save format this is.
void check_zip_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ELECTRA_CHECK_USER(in.good(), "cannot open '", path, "'");
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  if (std::memcmp(magic, "PK\x03\x04", 4) == 0) return;
  if (static_cast<uint8_t>(magic[0]) == 0x80)
    throw_user(path,
               ": this is the legacy (torch < 1.6) torch.save format, which is not "
               "supported. Load it in Python and save it again with torch >= 1.6, or convert "
               "it to model.safetensors");
  throw_user(path, ": not a torch.save file (no zip archive)");
}

}  // namespace

TensorMap read_torch_bin(const std::string& path) {
  ELECTRA_CHECK_USER(fs::exists(path), "'", path, "' does not exist");
  check_zip_magic(path);
  // Before LibTorch's zip reader allocates what an entry claims.
  (void)read_zip_directory(path);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  std::string pickle;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
    if (zip->hasRecord("byteorder")) {
      auto rec = zip->getRecord("byteorder");
      const std::string order(static_cast<const char*>(std::get<0>(rec).get()), std::get<1>(rec));
      ELECTRA_CHECK_USER(order == "little", path, ": tensors are stored ", order,
                         "-endian; only little-endian files are supported");
    }
    ELECTRA_CHECK_USER(zip->hasRecord("data.pkl"), path,
                       ": the archive has no data.pkl: it was not written by torch.save");
    auto rec = zip->getRecord("data.pkl");
    pickle.assign(static_cast<const char*>(std::get<0>(rec).get()), std::get<1>(rec));
  } catch (const c10::Error& e) {
    throw_user(path, ": cannot read the torch.save archive: ", e.what_without_backtrace());
  }
  ValuePtr root;
  try {
    root = Unpickler(pickle, *zip, path).run();
  } catch (const c10::Error& e) {
    throw_user(path, ": cannot read a tensor record: ", e.what_without_backtrace());
  }
  ELECTRA_CHECK_USER(root->kind == Kind::kDict, path,
                     ": expected a state dict ({name: tensor}) at the top level");
  TensorMap out;
  for (const auto& [k, v] : root->dict) {
    ELECTRA_CHECK_USER(k->kind == Kind::kString, path, ": a state-dict key is not a string");
    ELECTRA_CHECK_USER(v->kind == Kind::kTensor, path, ": the entry '", k->s,
                       "' is not a tensor; expected a flat {name: tensor} state dict");
    out[k->s] = v->tensor;
  }
  return out;
}

}  // namespace electra::model
