#include "common/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace electra {
namespace {

ConfigSchema make_schema() {
  ConfigSchema s;
  s.add_int("train.steps", 100, "steps")
      .add_float("optimizer.lr", 5e-4, "lr")
      .add_bool("output.tensorboard", true, "tb")
      .add_string("train.precision", "fp32", "precision", {"fp32", "bf16"})
      .add_string_list("data.files", {"a.txt"}, "files")
      .add_int("model.vocab_size", std::nullopt, "vocab");
  return s;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

// Returns the UserError message of `fn`, or fails the test.
template <class F>
std::string user_error(F fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UserError";
  return "";
}

TEST(Config, DefaultsFileAndSetPrecedence) {
  const ConfigSchema schema = make_schema();
  const std::string f = write_temp("cfg_prec.yaml", "train:\n  steps: 7\noptimizer:\n  lr: 1e-3\n");
  Config c = Config::resolve(schema, f, {"train.steps=9"});
  EXPECT_EQ(c.get_int("train.steps"), 9);               // --set wins over the file
  EXPECT_DOUBLE_EQ(c.get_float("optimizer.lr"), 1e-3);  // file wins over the default
  EXPECT_TRUE(c.get_bool("output.tensorboard"));        // default
  EXPECT_EQ(c.source("train.steps"), "--set");
  EXPECT_EQ(c.source("optimizer.lr"), f + ":4");
  EXPECT_EQ(c.source("output.tensorboard"), "default");
}

TEST(Config, UnknownKeyNamesFileLineAndClosestKey) {
  const ConfigSchema schema = make_schema();
  const std::string f = write_temp("cfg_unknown.yaml", "train:\n  steps: 7\n  setps: 3\n");
  const std::string msg = user_error([&] { Config::resolve(schema, f, {}); });
  EXPECT_NE(msg.find(f + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'train.setps'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'train.steps'"), std::string::npos) << msg;
}

TEST(Config, UnknownSectionAndSetKey) {
  const ConfigSchema schema = make_schema();
  const std::string f = write_temp("cfg_section.yaml", "trian:\n  steps: 7\n");
  EXPECT_NE(user_error([&] { Config::resolve(schema, f, {}); }).find("'trian'"), std::string::npos);
  const std::string msg = user_error([&] { Config::resolve(schema, "", {"optimizer.rl=1"}); });
  EXPECT_NE(msg.find("did you mean 'optimizer.lr'"), std::string::npos) << msg;
}

TEST(Config, WrongTypesAreErrors) {
  const ConfigSchema schema = make_schema();
  const std::string f = write_temp("cfg_type.yaml", "train:\n  steps: lots\n");
  const std::string msg = user_error([&] { Config::resolve(schema, f, {}); });
  EXPECT_NE(msg.find(f + ":2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'train.steps' must be an integer"), std::string::npos) << msg;
  EXPECT_NE(user_error([&] { Config::resolve(schema, "", {"train.steps=1.5"}); }).find("integer"),
            std::string::npos);
  EXPECT_NE(user_error([&] {
              Config::resolve(schema, "", {"output.tensorboard=maybe"});
            }).find("true or false"),
            std::string::npos);
  EXPECT_NE(user_error([&] { Config::resolve(schema, "", {"train.steps=[1, 2]"}); }).find("a list"),
            std::string::npos);
  EXPECT_NE(user_error([&] { Config::resolve(schema, "", {"train.steps=null"}); }).find("null"),
            std::string::npos);
  // A section given a scalar.
  const std::string f2 = write_temp("cfg_type2.yaml", "train: 5\n");
  EXPECT_NE(user_error([&] { Config::resolve(schema, f2, {}); }).find("is a section"),
            std::string::npos);
}

TEST(Config, ChoicesSuggestTheClosestValue) {
  const ConfigSchema schema = make_schema();
  const std::string msg =
      user_error([&] { Config::resolve(schema, "", {"train.precision=bf61"}); });
  EXPECT_NE(msg.find("did you mean 'bf16'"), std::string::npos) << msg;
}

TEST(Config, ValuesParseAndRoundTripThroughYaml) {
  const ConfigSchema schema = make_schema();
  Config c = Config::resolve(schema, "",
                             {"data.files=[x.txt, 'dir/*.txt']", "train.steps=1e6",
                              "model.vocab_size=8000", "optimizer.lr=0.0001"});
  EXPECT_EQ(c.get_strings("data.files"), (std::vector<std::string>{"x.txt", "dir/*.txt"}));
  EXPECT_EQ(c.get_int("train.steps"), 1000000);
  EXPECT_EQ(c.get_opt_int("model.vocab_size"), 8000);
  const std::string yaml = c.to_yaml();
  EXPECT_NE(yaml.find("lr: 0.0001"), std::string::npos)
      << yaml;  // shortest form, not 1.0000000000000000e-04
  Config back = Config::from_yaml_string(schema, yaml, "round-trip");
  EXPECT_EQ(back.to_yaml(), yaml);
  EXPECT_EQ(back.get_strings("data.files"), c.get_strings("data.files"));
}

TEST(Config, NullableKeysAndScalarListPromotion) {
  const ConfigSchema schema = make_schema();
  Config c(schema);
  EXPECT_TRUE(c.is_null("model.vocab_size"));
  EXPECT_FALSE(c.get_opt_int("model.vocab_size").has_value());
  c.apply_override("data.files=one.txt");
  EXPECT_EQ(c.get_strings("data.files"), std::vector<std::string>{"one.txt"});
  EXPECT_NE(user_error([&] { c.apply_override("no-equals-sign"); }).find("key.path=value"),
            std::string::npos);
}

TEST(Config, InvalidYamlAndMissingFile) {
  const ConfigSchema schema = make_schema();
  const std::string f = write_temp("cfg_bad.yaml", "train:\n  steps: [1, 2\n");
  EXPECT_NE(user_error([&] { Config::resolve(schema, f, {}); }).find("not valid YAML"),
            std::string::npos);
  EXPECT_NE(user_error([&] {
              Config::resolve(schema, "/nonexistent/x.yaml", {});
            }).find("does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace electra
