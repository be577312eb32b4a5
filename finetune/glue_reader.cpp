// GLUE TSV files as the official release ships them: tab-separated, no quoting (sentences hold
// quote characters verbatim), a header line except in CoLA's train/dev files, and for MRPC a
// UTF-8 byte-order mark before the header in some copies.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "finetune/dataset.h"

namespace electra::finetune {
namespace {

// Resolves a Column against the header (or checks its position) and returns its index.
int resolve(const Column& c, const std::vector<std::string>& header, bool has_header,
            const std::string& path, const std::string& role) {
  if (c.index >= 0) return c.index;
  ELECTRA_CHECK(has_header, "named column without a header");
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == c.name) return static_cast<int>(i);
  throw_user(path, ":1: the header has no column '", c.name, "' (the ", role,
             "); its columns are: ", join(header, ", "),
             ". Is this the GLUE file of the right task?");
}

std::string_view strip_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

}  // namespace

SplitData read_glue_split(const TaskSpec& task, const std::string& path, const SplitFile& file,
                          bool labelled, const std::vector<std::string>& labels) {
  SplitData out;
  out.file = file;
  out.path = path;
  out.labelled = labelled;
  std::string text = fs::read_file(path, "GLUE " + file.split + " file");
  // MRPC's files from some mirrors start with a UTF-8 BOM, which would otherwise glue itself
  // to the first header name.
  if (starts_with(text, "\xEF\xBB\xBF")) text.erase(0, 3);
  size_t bad = 0;
  if (!is_valid_utf8(text, &bad)) {
    const int64_t line = 1 + std::count(text.begin(), text.begin() + bad, '\n');
    throw_user(path, ":", line, ": not valid UTF-8 (byte offset ", bad,
               "); GLUE files are UTF-8 text");
  }
  const std::vector<std::string> lines = split(text, '\n');

  // Test files always have a header ("index\t..."); train/dev follow the task.
  const bool has_header = labelled ? task.header : true;
  std::vector<std::string> header;
  size_t first = 0;
  if (has_header) {
    while (first < lines.size() && trim(strip_cr(lines[first])).empty())
      ++first;
    ELECTRA_CHECK_USER(first < lines.size(), path,
                       ": the file is empty (expected a header line "
                       "and examples)");
    header = split(strip_cr(lines[first]), '\t');
    for (auto& h : header)
      h = std::string(trim(h));
    ++first;
  }
  struct Need {
    int index;
    std::string role;
  };
  std::vector<Need> needs;
  auto need = [&](const Column& c, const std::string& role) {
    if (c.empty()) return -1;
    const int i = resolve(c, header, has_header, path, role);
    needs.push_back({i, role});
    return i;
  };
  const int ia = need(labelled ? task.text_a : task.test_a, "first text");
  const int ib = need(labelled ? task.text_b : task.test_b, "second text");
  const int il = labelled ? need(task.label, task.regression ? "score" : "label") : -1;
  const int iid = labelled ? -1 : need(task.test_index, "example index");
  int width = 0;
  for (const auto& n : needs)
    width = std::max(width, n.index + 1);

  std::map<std::string, int64_t> label_index;
  for (size_t i = 0; i < labels.size(); ++i)
    label_index[labels[i]] = static_cast<int64_t>(i);

  std::vector<int64_t> malformed_lines;
  int64_t row = 0;
  for (size_t li = first; li < lines.size(); ++li) {
    const std::string_view raw = strip_cr(lines[li]);
    const int64_t line_no = static_cast<int64_t>(li) + 1;
    if (trim(raw).empty()) continue;  // trailing newline, blank separator
    const std::vector<std::string> cols = split(raw, '\t');
    const bool short_row = static_cast<int>(cols.size()) < width;
    const bool off_header = has_header && cols.size() != header.size();
    if (short_row || (task.skip_malformed && off_header)) {
      if (task.skip_malformed) {
        ++out.skipped;
        if (malformed_lines.size() < 5) malformed_lines.push_back(line_no);
        continue;
      }
      throw_user(path, ":", line_no, ": expected at least ", width, " tab-separated columns (",
                 has_header ? "header: " + join(header, ", ") : std::string("no header"),
                 "), found ", cols.size(), ". The file is truncated or not the ", task.display, " ",
                 file.split, " file");
    }
    TextExample ex;
    ex.line = line_no;
    ex.text_a = cols[ia];
    if (ib >= 0) ex.text_b = cols[ib];
    if (iid >= 0) {
      ex.id = std::string(trim(cols[iid]));
    } else {
      ex.id = std::to_string(row);
    }
    if (il >= 0) {
      const std::string value(trim(cols[il]));
      if (task.regression) {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        ELECTRA_CHECK_USER(!value.empty() && *end == '\0' && std::isfinite(v), path, ":", line_no,
                           ": the score '", value, "' is not a number");
        ex.target = static_cast<float>(v);
      } else {
        if (!task.drop_label.empty() && value == task.drop_label) {
          ++out.skipped;
          continue;
        }
        auto it = label_index.find(value);
        ELECTRA_CHECK_USER(it != label_index.end(), path, ":", line_no, ": unknown label '", value,
                           "' for task ", task.name, " (expected one of: ", join(labels, ", "),
                           ")");
        ex.label = it->second;
      }
    }
    out.examples.push_back(std::move(ex));
    ++row;
  }
  if (!malformed_lines.empty()) {
    std::vector<std::string> shown;
    for (auto l : malformed_lines)
      shown.push_back(std::to_string(l));
    log::warn(path, ": skipped ", out.skipped, " malformed row(s) without the ", header.size(),
              " columns of the header (lines ", join(shown, ", "), out.skipped > 5 ? ", ..." : "",
              "), as the GLUE reference readers do");
  }
  ELECTRA_CHECK_USER(!out.examples.empty(), path, ": no examples (the file is empty",
                     has_header ? " or holds only its header" : "", ")");
  return out;
}

}  // namespace electra::finetune
