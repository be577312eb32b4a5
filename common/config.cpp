#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace electra {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kInt:
      return "an integer";
    case ValueType::kFloat:
      return "a number";
    case ValueType::kBool:
      return "true or false";
    case ValueType::kString:
      return "a string";
    case ValueType::kStringList:
      return "a list of strings";
  }
  return "?";
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Shortest decimal form that reads back as the same double ("0.1", not "0.10000000000000001").
std::string shortest(double d) {
  for (int prec = 6; prec <= 17; ++prec) {
    std::ostringstream os;
    os.precision(prec);
    os << d;
    if (std::strtod(os.str().c_str(), nullptr) == d) return os.str();
  }
  std::ostringstream os;
  os.precision(17);
  os << d;
  return os.str();
}

bool is_null_text(const std::string& s) {
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Canonicalises a scalar for `type`; returns false when it does not parse.
bool canonical_scalar(ValueType type, const std::string& text, std::string* out) {
  switch (type) {
    case ValueType::kInt: {
      if (text.empty()) return false;
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (errno != 0 || *end != '\0') {
        // Allow integral floats written in scientific form, e.g. 1e6 steps.
        errno = 0;
        const double d = std::strtod(text.c_str(), &end);
        if (errno != 0 || *end != '\0' || !std::isfinite(d) || d != std::floor(d) ||
            std::fabs(d) > 9.0e18)
          return false;
        *out = std::to_string(static_cast<long long>(d));
        return true;
      }
      *out = std::to_string(v);
      return true;
    }
    case ValueType::kFloat: {
      if (text.empty()) return false;
      char* end = nullptr;
      errno = 0;
      const double d = std::strtod(text.c_str(), &end);
      if (errno != 0 || *end != '\0' || !std::isfinite(d)) return false;
      *out = shortest(d);
      return true;
    }
    case ValueType::kBool: {
      const std::string l = lower(text);
      if (l == "true" || l == "yes" || l == "on") {
        *out = "true";
        return true;
      }
      if (l == "false" || l == "no" || l == "off") {
        *out = "false";
        return true;
      }
      return false;
    }
    case ValueType::kString:
      *out = text;
      return true;
    case ValueType::kStringList:
      return false;
  }
  return false;
}

std::string where(const std::string& origin, const YAML::Node& node) {
  if (origin == "--set") return "--set";
  const YAML::Mark m = node.Mark();
  if (m.line >= 0) return cat(origin, ":", m.line + 1);
  return origin;
}

// Converts a YAML node into a validated ConfigValue for `spec`, or throws UserError.
ConfigValue convert(const KeySpec& spec, const YAML::Node& node, const std::string& at) {
  ConfigValue v;
  v.type = spec.type;
  v.source = at;
  auto type_error = [&](const std::string& got) {
    throw_user(at, ": key '", spec.path, "' must be ", value_type_name(spec.type), ", got ", got,
               spec.doc.empty() ? "" : cat(" (", spec.doc, ")"));
  };
  if (node.IsNull() || (node.IsScalar() && node.Tag() != "!" && is_null_text(node.Scalar()))) {
    if (!spec.nullable) type_error("null");
    v.is_null = true;
    return v;
  }
  if (spec.type == ValueType::kStringList) {
    if (node.IsScalar()) {
      v.list.push_back(node.Scalar());
    } else if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!item.IsScalar()) type_error("a nested structure inside the list");
        v.list.push_back(item.Scalar());
      }
    } else {
      type_error("a mapping");
    }
    return v;
  }
  if (!node.IsScalar()) type_error(node.IsSequence() ? "a list" : "a mapping");
  // A quoted "123" for an int key is still a number the user meant.
  if (!canonical_scalar(spec.type, node.Scalar(), &v.scalar))
    type_error(cat("'", node.Scalar(), "'"));
  if (!spec.choices.empty() &&
      std::find(spec.choices.begin(), spec.choices.end(), v.scalar) == spec.choices.end()) {
    throw_user(at, ": key '", spec.path, "' has value '", v.scalar, "', which is not one of {",
               join(spec.choices, ", "), "}; did you mean '", closest_match(v.scalar, spec.choices),
               "'?");
  }
  return v;
}

[[noreturn]] void unknown_key(const ConfigSchema& schema, const std::string& path,
                              const std::string& at) {
  throw_user(at, ": unknown config key '", path, "'; did you mean '",
             closest_match(path, schema.paths()), "'? (`electra config show` lists every key)");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ConfigSchema

KeySpec& ConfigSchema::add(const std::string& path, ValueType type, const std::string& doc) {
  ELECTRA_CHECK(index_.count(path) == 0, "duplicate config key ", path);
  index_[path] = keys_.size();
  keys_.emplace_back();
  KeySpec& k = keys_.back();
  k.path = path;
  k.type = type;
  k.doc = doc;
  k.default_value.type = type;
  return k;
}

ConfigSchema& ConfigSchema::add_int(const std::string& path, std::optional<int64_t> def,
                                    const std::string& doc) {
  KeySpec& k = add(path, ValueType::kInt, doc);
  k.nullable = !def.has_value();
  k.default_value.is_null = !def.has_value();
  if (def) k.default_value.scalar = std::to_string(*def);
  return *this;
}

ConfigSchema& ConfigSchema::add_float(const std::string& path, std::optional<double> def,
                                      const std::string& doc) {
  KeySpec& k = add(path, ValueType::kFloat, doc);
  k.nullable = !def.has_value();
  k.default_value.is_null = !def.has_value();
  if (def) k.default_value.scalar = shortest(*def);
  return *this;
}

ConfigSchema& ConfigSchema::add_bool(const std::string& path, bool def, const std::string& doc) {
  KeySpec& k = add(path, ValueType::kBool, doc);
  k.default_value.scalar = def ? "true" : "false";
  return *this;
}

ConfigSchema& ConfigSchema::add_string(const std::string& path, std::optional<std::string> def,
                                       const std::string& doc, std::vector<std::string> choices) {
  KeySpec& k = add(path, ValueType::kString, doc);
  k.nullable = !def.has_value();
  k.default_value.is_null = !def.has_value();
  if (def) k.default_value.scalar = *def;
  k.choices = std::move(choices);
  return *this;
}

ConfigSchema& ConfigSchema::add_string_list(const std::string& path, std::vector<std::string> def,
                                            const std::string& doc) {
  KeySpec& k = add(path, ValueType::kStringList, doc);
  k.default_value.list = std::move(def);
  return *this;
}

const KeySpec* ConfigSchema::find(const std::string& path) const {
  auto it = index_.find(path);
  return it == index_.end() ? nullptr : &keys_[it->second];
}

bool ConfigSchema::is_section(const std::string& path) const {
  const std::string prefix = path + ".";
  auto it = index_.lower_bound(prefix);
  return it != index_.end() && starts_with(it->first, prefix);
}

std::vector<std::string> ConfigSchema::paths() const {
  std::vector<std::string> out;
  for (const auto& k : keys_)
    out.push_back(k.path);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Config

Config::Config(const ConfigSchema& schema) : schema_(&schema) {
  for (const auto& k : schema.keys())
    values_[k.path] = k.default_value;
}

Config Config::resolve(const ConfigSchema& schema, const std::string& yaml_file,
                       const std::vector<std::string>& overrides) {
  Config cfg(schema);
  if (!yaml_file.empty()) cfg.load_yaml(fs::read_file(yaml_file, "config"), yaml_file);
  for (const auto& o : overrides)
    cfg.apply_override(o);
  return cfg;
}

Config Config::from_yaml_string(const ConfigSchema& schema, const std::string& yaml,
                                const std::string& origin) {
  Config cfg(schema);
  cfg.load_yaml(yaml, origin);
  return cfg;
}

void Config::load_yaml(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_user(origin, ":", e.mark.line + 1, ":", e.mark.column + 1,
               ": this is not valid YAML: ", e.msg);
  }
  if (root.IsNull()) return;  // an empty file is a valid "all defaults" experiment
  ELECTRA_CHECK_USER(root.IsMap(), origin,
                     ": the top level must be a mapping of sections (model:, data:, train:, ...)");
  // Depth-first walk; a mapping is a section only if the schema has keys under it.
  std::vector<std::pair<std::string, YAML::Node>> stack{{"", root}};
  while (!stack.empty()) {
    auto [prefix, node] = stack.back();
    stack.pop_back();
    for (auto it = node.begin(); it != node.end(); ++it) {
      ELECTRA_CHECK_USER(it->first.IsScalar(), where(origin, it->first),
                         ": a key must be a plain name");
      const std::string path =
          prefix.empty() ? it->first.Scalar() : prefix + "." + it->first.Scalar();
      const std::string at = where(origin, it->first);
      if (const KeySpec* spec = schema_->find(path)) {
        values_[path] = convert(*spec, it->second, at);
      } else if (schema_->is_section(path)) {
        if (it->second.IsNull()) continue;  // "train:" with nothing under it
        ELECTRA_CHECK_USER(it->second.IsMap(), at, ": '", path,
                           "' is a section; it needs keys under it, e.g. ",
                           closest_match(path + ".", schema_->paths()));
        stack.emplace_back(path, it->second);
      } else {
        unknown_key(*schema_, path, at);
      }
    }
  }
}

void Config::apply_override(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  ELECTRA_CHECK_USER(eq != std::string::npos && eq > 0, "--set '", assignment,
                     "' must have the form key.path=value, e.g. --set train.steps=1000");
  set(std::string(trim(assignment.substr(0, eq))), assignment.substr(eq + 1), "--set");
}

void Config::set(const std::string& path, const std::string& yaml_value,
                 const std::string& source) {
  const KeySpec* spec = schema_->find(path);
  if (!spec) {
    if (schema_->is_section(path))
      throw_user(source, ": '", path, "' is a section, not a key; set one of its keys, e.g. ",
                 closest_match(path + ".", schema_->paths()));
    unknown_key(*schema_, path, source);
  }
  YAML::Node node;
  try {
    node = YAML::Load(yaml_value);
  } catch (const YAML::Exception& e) {
    throw_user(source, ": the value of '", path, "' is not valid YAML: ", e.msg);
  }
  // An empty string after '=' is an empty string for string keys, not null.
  if (yaml_value.empty() && spec->type == ValueType::kString) node = YAML::Node(std::string());
  ConfigValue v = convert(*spec, node, source);
  values_[path] = v;
}

const KeySpec& Config::spec(const std::string& path, ValueType expected) const {
  ELECTRA_CHECK(schema_ != nullptr, "Config used without a schema");
  const KeySpec* s = schema_->find(path);
  ELECTRA_CHECK(s != nullptr, "no config key '", path, "' in the schema");
  ELECTRA_CHECK(s->type == expected, "config key '", path, "' read as the wrong type");
  return *s;
}

const ConfigValue& Config::value(const std::string& path) const {
  auto it = values_.find(path);
  ELECTRA_CHECK(it != values_.end(), "no value for config key ", path);
  return it->second;
}

bool Config::is_null(const std::string& path) const {
  return value(path).is_null;
}

int64_t Config::get_int(const std::string& path) const {
  spec(path, ValueType::kInt);
  const auto& v = value(path);
  ELECTRA_CHECK_USER(!v.is_null, "config key '", path, "' is null but a value is needed here");
  return std::stoll(v.scalar);
}

std::optional<int64_t> Config::get_opt_int(const std::string& path) const {
  spec(path, ValueType::kInt);
  const auto& v = value(path);
  if (v.is_null) return std::nullopt;
  return std::stoll(v.scalar);
}

double Config::get_float(const std::string& path) const {
  spec(path, ValueType::kFloat);
  const auto& v = value(path);
  ELECTRA_CHECK_USER(!v.is_null, "config key '", path, "' is null but a value is needed here");
  return std::strtod(v.scalar.c_str(), nullptr);
}

bool Config::get_bool(const std::string& path) const {
  spec(path, ValueType::kBool);
  return value(path).scalar == "true";
}

std::string Config::get_string(const std::string& path) const {
  spec(path, ValueType::kString);
  const auto& v = value(path);
  return v.is_null ? std::string() : v.scalar;
}

std::vector<std::string> Config::get_strings(const std::string& path) const {
  spec(path, ValueType::kStringList);
  return value(path).list;
}

std::string Config::source(const std::string& path) const {
  return value(path).source;
}

std::string Config::to_yaml(bool with_docs) const {
  // Emit nested sections in schema order. Keys of one section may be interleaved with
  // other sections in the schema; group by first appearance of each section.
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;  // currently open section path components
  auto close_to = [&](size_t depth) {
    while (open.size() > depth) {
      out << YAML::EndMap;
      open.pop_back();
    }
  };
  // Stable grouping: sort keys by (first index of each prefix chain).
  std::map<std::string, size_t> first_seen;
  for (size_t i = 0; i < schema_->keys().size(); ++i) {
    const auto parts = split(schema_->keys()[i].path, '.');
    std::string pre;
    for (size_t d = 0; d + 1 < parts.size(); ++d) {
      pre += (d ? "." : "") + parts[d];
      first_seen.emplace(pre, i);
    }
  }
  std::vector<const KeySpec*> ordered;
  for (const auto& k : schema_->keys())
    ordered.push_back(&k);
  std::stable_sort(ordered.begin(), ordered.end(), [&](const KeySpec* a, const KeySpec* b) {
    const auto pa = split(a->path, '.'), pb = split(b->path, '.');
    std::string sa, sb;
    for (size_t d = 0; d + 1 < std::min(pa.size(), pb.size()); ++d) {
      sa += (d ? "." : "") + pa[d];
      sb += (d ? "." : "") + pb[d];
      if (sa != sb) return first_seen[sa] < first_seen[sb];
    }
    return false;
  });
  for (const KeySpec* k : ordered) {
    const auto parts = split(k->path, '.');
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common])
      ++common;
    close_to(common);
    for (size_t d = open.size(); d + 1 < parts.size(); ++d) {
      out << YAML::Key << parts[d] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[d]);
    }
    const ConfigValue& v = value(k->path);
    out << YAML::Key << parts.back() << YAML::Value;
    if (v.is_null) {
      out << YAML::Null;
    } else if (k->type == ValueType::kStringList) {
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& s : v.list)
        out << s;
      out << YAML::EndSeq;
    } else if (k->type == ValueType::kString) {
      out << YAML::DoubleQuoted << v.scalar;
    } else {
      out << v.scalar;
    }
    if (with_docs && !k->doc.empty()) out << YAML::Comment(k->doc);
  }
  close_to(0);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace electra
