// main() for the fuzz harnesses in ordinary (non-libFuzzer) builds: feeds every file named on
// the command line, or found directly inside a directory named there, to
// LLVMFuzzerTestOneInput once. ctest runs each harness over its committed seed corpus this way,
// so an input that once crashed a parser (kept in the corpus as a regression seed) fails CI if
// the bug comes back. An escaping exception terminates the process: the test fails.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace stdfs = std::filesystem;
  std::vector<stdfs::path> files;
  for (int i = 1; i < argc; ++i) {
    const stdfs::path p(argv[i]);
    if (stdfs::is_directory(p)) {
      for (const auto& e : stdfs::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else {
      files.push_back(p);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...: no input files found\n", argv[0]);
    return 2;
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "%s (%zu bytes)\n", f.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%zu inputs, no crash\n", files.size());
  return 0;
}
