// CLUE classification files as the CLUE 1.1 release ships them: JSON lines
// {train,dev,test}.json, labels.json for TNEWS and IFLYTEK. Fields per task (CLUE README):
//   AFQMC       sentence1, sentence2, label "0"/"1"
//   TNEWS       label, label_desc, sentence, keywords      (the sentence is classified)
//   IFLYTEK     label, label_des, sentence
//   CMNLI/OCNLI sentence1, sentence2, label; "-" marks rows without annotator agreement
//   CLUEWSC2020 text, target{span1_index, span1_text, span2_index, span2_text}, idx, label
//   CSL         id, abst, keyword[], label
// Test files carry an "id" (CLUEWSC2020 an "idx") and no label.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "finetune/dataset.h"

namespace electra::finetune {

using nlohmann::json;

namespace {

// Labels are strings in CLUE files ("102"), but some copies store numbers: accept both.
bool scalar_text(const json& v, std::string* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
    return true;
  }
  if (v.is_number_integer()) {
    *out = std::to_string(v.get<int64_t>());
    return true;
  }
  if (v.is_boolean()) {
    *out = v.get<bool>() ? "true" : "false";
    return true;
  }
  return false;
}

std::string string_field(const json& row, const std::string& key, const std::string& where) {
  auto it = row.find(key);
  ELECTRA_CHECK_USER(it != row.end(), where, ": no field '", key, "'");
  ELECTRA_CHECK_USER(it->is_string(), where, ": field '", key, "' must be a string, found ",
                     it->type_name());
  return it->get<std::string>();
}

// Byte offsets of each UTF-8 code point of `s`, plus s.size() at the end. CLUEWSC2020's span
// indices count characters, not bytes.
std::vector<size_t> char_offsets(const std::string& s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  out.push_back(s.size());
  return out;
}

// The CLUE baseline's input for CLUEWSC2020: the candidate noun (span1) between underscores and
// the pronoun (span2) in square brackets, so that one classifier input says which pair is asked.
std::string wsc_text(const json& row, const std::string& where) {
  const std::string text = string_field(row, "text", where);
  auto t = row.find("target");
  ELECTRA_CHECK_USER(t != row.end() && t->is_object(), where, ": no object field 'target'");
  struct Span {
    int64_t index;
    std::string text, open, close;
  };
  std::vector<Span> spans;
  for (auto [n, open, close] :
       {std::tuple<const char*, const char*, const char*>{"1", "_", "_"}, {"2", "[", "]"}}) {
    const std::string ik = std::string("span") + n + "_index",
                      tk = std::string("span") + n + "_text";
    auto idx = t->find(ik);
    ELECTRA_CHECK_USER(idx != t->end() && idx->is_number_integer(), where,
                       ": target has no integer '", ik, "'");
    spans.push_back({idx->get<int64_t>(), string_field(*t, tk, where + " target"), open, close});
  }
  const std::vector<size_t> off = char_offsets(text);
  const int64_t nchars = static_cast<int64_t>(off.size()) - 1;
  for (const auto& s : spans) {
    const int64_t len = static_cast<int64_t>(char_offsets(s.text).size()) - 1;
    ELECTRA_CHECK_USER(
        s.index >= 0 && s.index + len <= nchars &&
            text.compare(off[s.index], off[s.index + len] - off[s.index], s.text) == 0,
        where, ": the span '", s.text, "' is not at character ", s.index, " of the text");
  }
  // Insert from the back so that earlier offsets stay valid.
  std::vector<std::tuple<size_t, std::string>> inserts;
  for (const auto& s : spans) {
    const int64_t len = static_cast<int64_t>(char_offsets(s.text).size()) - 1;
    inserts.emplace_back(off[s.index + len], s.close);
    inserts.emplace_back(off[s.index], s.open);
  }
  std::stable_sort(inserts.begin(), inserts.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::string out = text;
  for (const auto& [at, mark] : inserts)
    out.insert(at, mark);
  return out;
}

}  // namespace

std::vector<std::string> read_clue_labels(const std::string& path) {
  const std::string text = fs::read_file(path, "CLUE labels.json");
  std::vector<std::string> labels;
  const auto lines = split(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) continue;
    const std::string where = cat(path, ":", i + 1);
    json j;
    try {
      j = json::parse(lines[i]);
    } catch (const json::exception& e) {
      throw_user(where, ": not valid JSON (", e.what(), ")");
    }
    std::string label;
    ELECTRA_CHECK_USER(j.is_object() && j.contains("label") && scalar_text(j["label"], &label),
                       where, ": expected {\"label\": \"...\", ...}");
    ELECTRA_CHECK_USER(std::find(labels.begin(), labels.end(), label) == labels.end(), where,
                       ": label '", label, "' is listed twice");
    labels.push_back(label);
  }
  ELECTRA_CHECK_USER(labels.size() >= 2, path, ": lists ", labels.size(),
                     " label(s); a classification task needs at least 2");
  return labels;
}

SplitData read_clue_split(const TaskSpec& task, const std::string& path, const SplitFile& file,
                          bool labelled, const std::vector<std::string>& labels) {
  SplitData out;
  out.file = file;
  out.path = path;
  out.labelled = labelled;
  const std::string text = fs::read_file(path, "CLUE " + file.split + " file");
  std::map<std::string, int64_t> label_index;
  for (size_t i = 0; i < labels.size(); ++i)
    label_index[labels[i]] = static_cast<int64_t>(i);

  const auto lines = split(text, '\n');
  int64_t row_no = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view raw = lines[i];
    if (i == 0 && starts_with(raw, "\xEF\xBB\xBF")) raw.remove_prefix(3);
    if (trim(raw).empty()) continue;
    const std::string where = cat(path, ":", i + 1);
    json row;
    try {
      row = json::parse(raw);
    } catch (const json::exception& e) {
      throw_user(where, ": not valid JSON (", e.what(),
                 "); CLUE files hold one JSON object a line");
    }
    ELECTRA_CHECK_USER(row.is_object(), where, ": expected a JSON object");
    TextExample ex;
    ex.line = static_cast<int64_t>(i) + 1;
    switch (task.layout) {
      case ClueLayout::kFields:
        ex.text_a = string_field(row, task.field_a, where);
        if (!task.field_b.empty()) ex.text_b = string_field(row, task.field_b, where);
        break;
      case ClueLayout::kKeywords: {
        auto kw = row.find(task.field_a);
        ELECTRA_CHECK_USER(kw != row.end() && kw->is_array(), where, ": field '", task.field_a,
                           "' must be a list of keywords");
        std::vector<std::string> words;
        for (const auto& w : *kw) {
          ELECTRA_CHECK_USER(w.is_string(), where, ": keywords must be strings");
          words.push_back(w.get<std::string>());
        }
        ex.text_a = join(words, " ");
        ex.text_b = string_field(row, task.field_b, where);
        break;
      }
      case ClueLayout::kWscMarkers:
        ex.text_a = wsc_text(row, where);
        break;
    }
    // The id a submission echoes: "id", else CLUEWSC2020's "idx", else the row number.
    std::string id;
    if (!(row.contains("id") && scalar_text(row["id"], &id)) &&
        !(row.contains("idx") && scalar_text(row["idx"], &id)))
      id = std::to_string(row_no);
    ex.id = id;
    if (labelled) {
      auto it = row.find(task.field_label);
      std::string label;
      ELECTRA_CHECK_USER(it != row.end(), where, ": no field '", task.field_label, "' (a ",
                         file.split, " file must be labelled)");
      ELECTRA_CHECK_USER(scalar_text(*it, &label), where, ": field '", task.field_label,
                         "' must be a string");
      if (!task.drop_label.empty() && label == task.drop_label) {
        ++out.skipped;
        continue;
      }
      auto li = label_index.find(label);
      ELECTRA_CHECK_USER(li != label_index.end(), where, ": unknown label '", label, "' for task ",
                         task.name, " (expected one of: ", join(labels, ", "), ")");
      ex.label = li->second;
    }
    for (const std::string* s : {&ex.text_a, &ex.text_b}) {
      size_t bad = 0;
      ELECTRA_CHECK_USER(is_valid_utf8(*s, &bad), where, ": text is not valid UTF-8");
    }
    out.examples.push_back(std::move(ex));
    ++row_no;
  }
  if (out.skipped > 0)
    log::info(path, ": left out ", out.skipped, " row(s) labelled '", task.drop_label,
              "' (no annotator agreement), as CLUE does");
  ELECTRA_CHECK_USER(!out.examples.empty(), path, ": no examples (the file is empty)");
  return out;
}

}  // namespace electra::finetune
