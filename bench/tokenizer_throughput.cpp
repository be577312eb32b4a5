// Single-thread tokenizer throughput: MB of raw text per second through Tokenizer::encode().
//
//   bench_tokenizer --corpus DIR [--format wikiextractor] [--mb 20] [--repeats 5] TOKENIZER...
//
// The corpus lines are read once (data::CorpusStream, unshuffled) into memory, so the timing
// covers tokenization only. Each repeat runs every tokenizer once, in turn, and the medians
// are printed side by side: MB/s by wall clock and by the thread's CPU time (the CPU figure is
// the steadier one on a shared machine).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "data/corpus.h"
#include "data/tokenizer.h"

namespace {

using namespace electra;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run(int argc, char** argv) {
  std::string corpus, format = "wikiextractor";
  double mb = 20;
  int repeats = 5;
  std::vector<std::string> tokenizers;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      ELECTRA_CHECK_USER(i + 1 < argc, a, " needs a value");
      return argv[++i];
    };
    if (a == "--corpus") {
      corpus = value();
    } else if (a == "--format") {
      format = value();
    } else if (a == "--mb") {
      mb = std::stod(value());
    } else if (a == "--repeats") {
      repeats = std::stoi(value());
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: bench_tokenizer --corpus DIR [--format wikiextractor] [--mb 20] "
                   "[--repeats 5] TOKENIZER...\n";
      return 0;
    } else {
      tokenizers.push_back(a);
    }
  }
  ELECTRA_CHECK_USER(!corpus.empty() && !tokenizers.empty(),
                     "give --corpus DIR and at least one tokenizer file (see --help)");

  data::CorpusOptions co;
  co.files = fs::expand_inputs({corpus}, "--corpus");
  co.format = data::parse_corpus_format(format, "--format");
  co.shuffle = false;
  data::CorpusStream stream(co, data::ShardSpec{});
  std::vector<std::string> lines;
  size_t bytes = 0;
  data::TextLine line;
  while (bytes < mb * 1e6 && stream.next_in_epoch(&line)) {
    bytes += line.text.size();
    lines.push_back(std::move(line.text));
  }
  std::printf("corpus: %zu lines, %.1f MB of text from %s (%s)\n", lines.size(), bytes / 1e6,
              corpus.c_str(), format.c_str());

  std::vector<std::unique_ptr<data::Tokenizer>> toks;
  for (const auto& t : tokenizers)
    toks.push_back(data::load_tokenizer(t, "tokenizer"));
  std::vector<std::vector<double>> mbps(toks.size()), cpu_mbps(toks.size());
  std::vector<size_t> tokens(toks.size());
  for (int r = 0; r < repeats; ++r) {
    for (size_t k = 0; k < toks.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      size_t n = 0;
      for (const auto& l : lines)
        n += toks[k]->encode(l).size();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      mbps[k].push_back(bytes / 1e6 / s);
      cpu_mbps[k].push_back(bytes / 1e6 / (cpu_seconds() - c0));
      tokens[k] = n;
    }
  }
  std::printf("%-14s %10s %10s %12s %10s  %s\n", "kind", "MB/s wall", "MB/s cpu", "tokens",
              "tokens/KB", "file");
  for (size_t k = 0; k < toks.size(); ++k)
    std::printf("%-14s %10.2f %10.2f %12zu %10.1f  %s\n", toks[k]->kind().c_str(), median(mbps[k]),
                median(cpu_mbps[k]), tokens[k], tokens[k] / (bytes / 1e3), tokenizers[k].c_str());
  std::printf("(median of %d repeats, one thread)\n", repeats);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
