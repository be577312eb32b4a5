// Shared pieces of the fuzz harnesses (tests/fuzz/fuzz_*.cpp).
//
// Each harness feeds arbitrary bytes to one of the project's parsers of outside input. The
// contract under test: every input either parses or ends in an electra::UserError (the clear
// "what was wrong, where, what to do" path). Anything else -- a crash, a sanitizer report, an
// internal error, a std::bad_alloc from a size field believed without checking, a stray library
// exception -- escapes LLVMFuzzerTestOneInput and is reported as a bug: libFuzzer stops on the
// uncaught exception, and the corpus driver (driver_main.cpp) counts it as a failure.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/fs.h"

namespace electra::fuzz {

// A private directory for the files a harness must hand to path-based loaders; made once per
// process and removed at exit.
class Scratch {
 public:
  static Scratch& get() {
    static Scratch s;
    return s;
  }
  const std::string& dir() const { return dir_; }
  // Writes `bytes` to `name` inside the scratch directory and returns its path.
  std::string write(const std::string& name, std::string_view bytes) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  // Empties the directory (harnesses that build a directory tree per input).
  void clear() const {
    for (const auto& e : std::filesystem::directory_iterator(dir_))
      ::electra::fs::remove_all(e.path().string());
  }

 private:
  Scratch() {
    const char* tmp = getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/electra_fuzz_XXXXXX";
    if (!mkdtemp(templ.data())) abort();
    dir_ = templ;
  }
  ~Scratch() { ::electra::fs::remove_all(dir_); }
  std::string dir_;
};

// Runs `fn`; a UserError is the accepted way to refuse an input. With ELECTRA_FUZZ_PRINT set,
// its message is printed (to read what a user would see for each bad input of a corpus).
template <class Fn>
void accept_user_errors(Fn&& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    static const bool print = getenv("ELECTRA_FUZZ_PRINT") != nullptr;
    if (print) fprintf(stderr, "  UserError: %s\n", e.what());
  }
}

// Splits an input into a one-byte selector (which variant of the parser to drive) and the rest.
inline uint8_t take_selector(std::string_view* bytes) {
  if (bytes->empty()) return 0;
  const uint8_t s = static_cast<uint8_t>((*bytes)[0]);
  bytes->remove_prefix(1);
  return s;
}

// Splits an input in two at the first "\n--8<--\n" (the second part is empty without one), for
// formats made of two files (a TF index and its data shard).
inline std::pair<std::string_view, std::string_view> split_two(std::string_view bytes) {
  constexpr std::string_view kCut = "\n--8<--\n";
  const size_t at = bytes.find(kCut);
  if (at == std::string_view::npos) return {bytes, {}};
  return {bytes.substr(0, at), bytes.substr(at + kCut.size())};
}

}  // namespace electra::fuzz

#define ELECTRA_FUZZ_ENTRY                                                  \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);  \
  static void electra_fuzz_one(std::string_view bytes);                     \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    electra::fuzz::accept_user_errors([&] {                                 \
      electra_fuzz_one({reinterpret_cast<const char*>(data), size});        \
    });                                                                     \
    return 0;                                                               \
  }                                                                         \
  static void electra_fuzz_one(std::string_view bytes)
