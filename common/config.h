// Typed experiment configuration: a schema of known keys, resolved from
//   defaults  <  YAML file  <  --set key.path=value overrides
// Every key a user writes is checked against the schema when it is read: an unknown key or a
// value of the wrong type is a UserError naming the file, the line, the key path and the
// closest valid key. Subsystems read typed values out of the resolved Config into their own
// structs (see pretrain/pretrain_config.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace electra {

enum class ValueType { kInt, kFloat, kBool, kString, kStringList };

const char* value_type_name(ValueType t);

// A value held by the config: stored in its canonical text form (YAML scalar syntax).
struct ConfigValue {
  ValueType type = ValueType::kString;
  bool is_null = false;
  std::string scalar;              // kInt/kFloat/kBool/kString
  std::vector<std::string> list;   // kStringList
  std::string source = "default";  // "default", "FILE:LINE", "--set"
};

struct KeySpec {
  std::string path;  // "train.steps"
  ValueType type = ValueType::kString;
  ConfigValue default_value;
  std::string doc;
  std::vector<std::string> choices;  // allowed values for strings (empty: any)
  bool nullable = false;             // null means "derive it" (e.g. vocab_size from tokenizer)
};

class ConfigSchema {
 public:
  ConfigSchema& add_int(const std::string& path, std::optional<int64_t> def,
                        const std::string& doc);
  ConfigSchema& add_float(const std::string& path, std::optional<double> def,
                          const std::string& doc);
  ConfigSchema& add_bool(const std::string& path, bool def, const std::string& doc);
  ConfigSchema& add_string(const std::string& path, std::optional<std::string> def,
                           const std::string& doc, std::vector<std::string> choices = {});
  ConfigSchema& add_string_list(const std::string& path, std::vector<std::string> def,
                                const std::string& doc);

  const KeySpec* find(const std::string& path) const;
  bool is_section(const std::string& path) const;  // some key starts with "path."
  std::vector<std::string> paths() const;
  const std::vector<KeySpec>& keys() const { return keys_; }

 private:
  KeySpec& add(const std::string& path, ValueType type, const std::string& doc);
  std::vector<KeySpec> keys_;
  std::map<std::string, size_t> index_;
};

class Config {
 public:
  Config() = default;
  explicit Config(const ConfigSchema& schema);  // defaults only

  // defaults < yaml_file (may be empty) < overrides ("key.path=value", value in YAML syntax).
  static Config resolve(const ConfigSchema& schema, const std::string& yaml_file,
                        const std::vector<std::string>& overrides);
  // Parses a YAML document (e.g. a checkpoint's stored config) over the defaults.
  static Config from_yaml_string(const ConfigSchema& schema, const std::string& yaml,
                                 const std::string& origin);

  bool is_null(const std::string& path) const;
  int64_t get_int(const std::string& path) const;
  double get_float(const std::string& path) const;
  bool get_bool(const std::string& path) const;
  std::string get_string(const std::string& path) const;
  std::vector<std::string> get_strings(const std::string& path) const;
  std::optional<int64_t> get_opt_int(const std::string& path) const;
  std::string source(const std::string& path) const;

  // Programmatic override (e.g. a value derived at run time), validated like --set.
  void set(const std::string& path, const std::string& yaml_value, const std::string& source);
  // Applies one "key.path=value" override.
  void apply_override(const std::string& assignment);

  // Nested YAML of every key in schema order, with its doc as a comment when `with_docs`.
  std::string to_yaml(bool with_docs = false) const;

 private:
  const KeySpec& spec(const std::string& path, ValueType expected) const;
  const ConfigValue& value(const std::string& path) const;
  void load_yaml(const std::string& text, const std::string& origin);

  const ConfigSchema* schema_ = nullptr;
  std::map<std::string, ConfigValue> values_;
};

}  // namespace electra
