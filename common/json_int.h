// Integers read from JSON files, checked. nlohmann's get<int64_t>() on a number written as a
// float (1e30, 2.5) is a static_cast: undefined behaviour when the value is out of the target's
// range (found by tests/fuzz/fuzz_checkpoint_state) and a silent truncation otherwise. Every
// integer a file gives us goes through here instead, and a bad one is a UserError naming it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.h"

namespace electra {

// `v` as a T; `what` names the value for the message ("state.json: 'epoch'").
template <class T>
T json_int(const nlohmann::json& v, const std::string& what) {
  static_assert(std::is_integral_v<T>, "json_int reads integers");
  using L = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(L::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i >= 0 ? static_cast<uint64_t>(i) <= static_cast<uint64_t>(L::max())
               : std::is_signed_v<T> && i >= static_cast<int64_t>(L::min()))
      return static_cast<T>(i);
  }
  throw_user(what, " must be an integer in [", +L::min(), ", ", +L::max(), "], got ", v.dump());
}

// j[key] as a T (json::out_of_range when the key is missing, as j.at(key) would throw).
template <class T>
T json_int(const nlohmann::json& j, const char* key, const std::string& origin) {
  return json_int<T>(j.at(key), cat(origin, ": '", key, "'"));
}

// j[key] as a T, or `fallback` when the key is absent.
template <class T>
T json_int_or(const nlohmann::json& j, const char* key, T fallback, const std::string& origin) {
  return j.contains(key) ? json_int<T>(j, key, origin) : fallback;
}

// An array of integers.
template <class T>
std::vector<T> json_ints(const nlohmann::json& v, const std::string& what) {
  ELECTRA_CHECK_USER(v.is_array(), what, " must be a list of integers, got ", v.type_name());
  std::vector<T> out;
  out.reserve(v.size());
  for (const auto& e : v)
    out.push_back(json_int<T>(e, what));
  return out;
}

}  // namespace electra
