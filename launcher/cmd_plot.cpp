// Draws the loss curves of a run to a PNG with gnuplot (Debian's gnuplot-nox).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "launcher/command.h"

namespace electra::launcher {
namespace {

int run(const std::vector<std::string>& args) {
  po::options_description desc("electra plot options");
  desc.add_options()("metrics", po::value<std::string>()->required(),
                     "metrics.jsonl, or a run's output.dir")(
      "out", po::value<std::string>()->required(), "PNG file to write")(
      "title", po::value<std::string>()->default_value("ELECTRA pretraining"), "plot title");
  po::variables_map vm;
  if (!parse_args(args, desc, &vm, "usage: electra plot --metrics RUN_DIR --out loss.png"))
    return 0;
  std::string path = vm["metrics"].as<std::string>();
  if (fs::is_dir(path)) path = fs::join(path, "metrics.jsonl");
  const std::string text = fs::read_file(path, "metrics");
  std::ostringstream dat;
  int rows = 0, line_no = 0;
  for (const auto& line : split(text, '\n')) {
    ++line_no;
    if (trim(line).empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
      dat << j.at("step").get<int64_t>() << ' ' << j.at("gen_loss").get<double>() << ' '
          << j.at("disc_loss").get<double>() << ' ' << j.at("disc_acc").get<double>() << ' '
          << j.value("gen_acc", 0.0) << '\n';
    } catch (const nlohmann::json::exception& e) {
      throw_user(path, ":", line_no, ": not a pretraining metrics record (", e.what(), ")");
    }
    ++rows;
  }
  ELECTRA_CHECK_USER(rows > 0, path, " holds no metrics records yet");
  const std::string out = vm["out"].as<std::string>();
  const std::string dat_path = out + ".dat.tmp";
  fs::write_file(dat_path, dat.str());
  std::ostringstream gp;
  gp << "set terminal pngcairo size 1000,700 noenhanced\n"
     << "set output '" << out << "'\n"
     << "set multiplot layout 2,1 title '" << vm["title"].as<std::string>() << "'\n"
     << "set grid\nset xlabel 'step'\nset ylabel 'generator MLM loss'\n"
     << "set y2label 'discriminator loss'\nset y2tics\nset ytics nomirror\n"
     << "plot '" << dat_path << "' using 1:2 with lines lw 2 title 'generator loss', '" << dat_path
     << "' using 1:3 axes x1y2 with lines lw 2 title 'discriminator loss'\n"
     << "unset y2label\nunset y2tics\nset ytics mirror\nset ylabel 'accuracy'\n"
     << "set yrange [0:1]\n"
     << "plot '" << dat_path << "' using 1:4 with lines lw 2 title 'discriminator accuracy', '"
     << dat_path << "' using 1:5 with lines lw 2 title 'generator accuracy (masked)'\n"
     << "unset multiplot\n";
  FILE* p = ::popen("gnuplot 2>&1", "w");
  ELECTRA_CHECK_USER(p != nullptr, "cannot run gnuplot: install it (apt-get install gnuplot-nox)");
  std::fputs(gp.str().c_str(), p);
  const int rc = ::pclose(p);
  fs::remove_all(dat_path);
  ELECTRA_CHECK_USER(rc == 0, "gnuplot failed (exit ", rc,
                     "); is gnuplot installed? (apt-get install gnuplot-nox)");
  log::info("wrote ", out, " (", rows, " points)");
  return 0;
}

Registrar reg({"plot", "draw a run's loss curves to a PNG (gnuplot)", run});

}  // namespace
}  // namespace electra::launcher
