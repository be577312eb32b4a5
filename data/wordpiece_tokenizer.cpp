// BERT WordPiece vocabularies (vocab.txt): BertBasicTokenizer splits the text into words, then
// each word is cut greedily into the longest vocabulary pieces, left to right, continuation
// pieces carrying the "##" prefix. A word with a piece that matches nothing, or longer than
// 100 characters, becomes [UNK] as a whole (BERT's WordpieceTokenizer).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <unordered_map>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "data/bert_basic_tokenizer.h"
#include "data/tokenizer.h"

namespace electra::data {
namespace {

constexpr size_t kMaxWordChars = 100;  // BERT's max_input_chars_per_word
constexpr const char* kSpecialNames[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

// Byte trie over vocabulary entries: the greedy longest match is one walk down the trie
// instead of a hash lookup per candidate length (BERT's loop is quadratic in the word).
class PieceTrie {
 public:
  void build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
    // Build with ordered child maps, then flatten into sorted edge arrays.
    std::vector<std::map<uint8_t, int32_t>> kids(1);
    std::vector<int32_t> ids(1, -1);
    for (const auto& [key, id] : entries) {
      int32_t node = 0;
      for (char ch : key) {
        const auto b = static_cast<uint8_t>(ch);
        auto it = kids[node].find(b);
        if (it == kids[node].end()) {
          kids.emplace_back();
          ids.push_back(-1);
          it = kids[node].emplace(b, static_cast<int32_t>(kids.size() - 1)).first;
        }
        node = it->second;
      }
      ids[node] = id;
    }
    id_ = std::move(ids);
    first_.assign(kids.size() + 1, 0);
    byte_.clear();
    child_.clear();
    for (size_t n = 0; n < kids.size(); ++n) {
      first_[n] = static_cast<uint32_t>(byte_.size());
      for (const auto& [b, c] : kids[n]) {
        byte_.push_back(b);
        child_.push_back(c);
      }
    }
    first_[kids.size()] = static_cast<uint32_t>(byte_.size());
    // Nodes with many children (the root, common prefixes) get a direct 256-entry table: a
    // binary search there costs more in mispredicted branches than the table costs in memory.
    dense_of_.assign(kids.size(), -1);
    dense_.clear();
    for (size_t n = 0; n < kids.size(); ++n) {
      if (n != 0 && kids[n].size() < kDenseFanout) continue;
      dense_of_[n] = static_cast<int32_t>(dense_.size());
      dense_.emplace_back();
      dense_.back().fill(-1);
      for (const auto& [b, c] : kids[n])
        dense_.back()[b] = c;
    }
  }

  // Byte length of the longest entry that is a prefix of `s` (0: none) and its id.
  size_t longest_prefix(std::string_view s, int32_t* id) const {
    size_t best = 0;
    if (s.empty()) return 0;
    int32_t node = dense_[0][static_cast<uint8_t>(s[0])];
    for (size_t i = 1; node >= 0; ++i) {
      if (id_[node] >= 0) {
        best = i;
        *id = id_[node];
      }
      if (i == s.size()) break;
      node = child(node, static_cast<uint8_t>(s[i]));
    }
    return best;
  }

 private:
  int32_t child(int32_t node, uint8_t b) const {
    if (dense_of_[node] >= 0) return dense_[dense_of_[node]][b];
    const uint8_t* lo = byte_.data() + first_[node];
    const uint8_t* hi = byte_.data() + first_[node + 1];
    const uint8_t* it = hi - lo <= 8 ? std::find(lo, hi, b) : std::lower_bound(lo, hi, b);
    return (it != hi && *it == b) ? child_[it - byte_.data()] : -1;
  }

  static constexpr size_t kDenseFanout = 16;
  std::vector<int32_t> dense_of_;                // node -> index into dense_, -1 for sparse nodes
  std::vector<std::array<int32_t, 256>> dense_;  // byte -> child; dense_[0] is the root's
  std::vector<uint32_t> first_;                  // node -> first edge; node + 1 -> end
  std::vector<uint8_t> byte_;                    // edge -> label, sorted within a node
  std::vector<int32_t> child_;                   // edge -> node
  std::vector<int32_t> id_;                      // node -> token id, -1 when no entry ends here
};

struct Vocab {
  std::vector<std::string> tokens;  // id -> token
  std::unordered_map<std::string, int32_t> ids;
};

// One token per line, id = line index. A final newline ends the last line (it does not add an
// empty token); CRLF line ends and a UTF-8 byte-order mark are accepted.
Vocab read_vocab(const std::string& path) {
  std::string text = fs::read_file(path, "WordPiece vocabulary");
  std::string_view rest(text);
  if (starts_with(rest, "\xEF\xBB\xBF")) rest.remove_prefix(3);
  ELECTRA_CHECK_USER(!rest.empty(), path,
                     ": the vocabulary is empty; a BERT vocab.txt holds one token per line");
  Vocab v;
  size_t line_no = 0;
  while (!rest.empty()) {
    ++line_no;
    const size_t nl = rest.find('\n');
    std::string_view tok = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!tok.empty() && tok.back() == '\r') tok.remove_suffix(1);
    const std::string where = cat(path, ":", line_no);
    ELECTRA_CHECK_USER(!tok.empty(), where,
                       ": empty line; a vocab.txt holds exactly one token per line (its line "
                       "index is the token id), so an empty line would shift every later id");
    size_t bad = 0;
    ELECTRA_CHECK_USER(is_valid_utf8(tok, &bad), where, ": the token is not valid UTF-8 (byte ",
                       bad + 1, "); vocab.txt must be UTF-8");
    const auto [it, fresh] = v.ids.emplace(std::string(tok), static_cast<int32_t>(v.tokens.size()));
    ELECTRA_CHECK_USER(fresh, where, ": token '", tok, "' already appears on line ", it->second + 1,
                       "; each token must appear once");
    v.tokens.emplace_back(tok);
  }
  return v;
}

// A vocabulary is cased when a normal token (not a bracketed marker like [unused0] or <S>)
// holds a letter with a lower-case form: bert-base-uncased has none (its 'ℝ' has no lower
// case), bert-base-cased has thousands.
bool guess_lower_case(const Vocab& v) {
  for (const auto& t : v.tokens) {
    if (t.size() >= 2 &&
        ((t.front() == '[' && t.back() == ']') || (t.front() == '<' && t.back() == '>')))
      continue;
    for (size_t i = 0; i < t.size();) {
      const char32_t c = next_code_point(t, i);
      if (c < 128 ? (c >= 'A' && c <= 'Z') : has_lower_case_form(c)) return false;
    }
  }
  return true;
}

class WordPieceTokenizer final : public Tokenizer {
 public:
  WordPieceTokenizer(const std::string& path, int do_lower_case)
      : path_(path),
        vocab_(read_vocab(path)),
        basic_(do_lower_case < 0 ? guess_lower_case(vocab_) : do_lower_case != 0) {
    int32_t* slots[] = {&special_.pad, &special_.unk, &special_.cls, &special_.sep, &special_.mask};
    for (size_t k = 0; k < 5; ++k) {
      auto it = vocab_.ids.find(kSpecialNames[k]);
      ELECTRA_CHECK_USER(it != vocab_.ids.end(), path, ": the vocabulary has no ", kSpecialNames[k],
                         " token. ELECTRA needs [PAD] [UNK] [CLS] [SEP] [MASK] "
                         "(BERT's vocab.txt files have them); add the missing line");
      *slots[k] = it->second;
    }
    std::vector<std::pair<std::string_view, int32_t>> initial, continuation;
    for (size_t id = 0; id < vocab_.tokens.size(); ++id) {
      const std::string_view t = vocab_.tokens[id];
      initial.emplace_back(t, static_cast<int32_t>(id));
      if (t.size() > 2 && starts_with(t, "##")) continuation.emplace_back(t.substr(2), id);
    }
    initial_.build(initial);
    continuation_.build(continuation);
  }

  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 4 + 4);
    IdSink sink(*this, ids);
    // Special tokens written in the text ("[SEP]", "[MASK]") stay single tokens, wherever they
    // are (HF's never_split + added-token split); the text between them is tokenized normally.
    size_t start = 0;
    for (size_t at = text.find('['); at != std::string_view::npos; at = text.find('[', at + 1)) {
      for (size_t k = 0; k < 5; ++k) {
        if (text.compare(at, std::strlen(kSpecialNames[k]), kSpecialNames[k]) != 0) continue;
        basic_.split(text.substr(start, at - start), sink);
        ids.push_back(special_ids()[k]);
        start = at + std::strlen(kSpecialNames[k]);
        at = start - 1;
        break;
      }
    }
    basic_.split(text.substr(start), sink);
    return ids;
  }

  std::vector<std::string> tokenize(std::string_view text) const override {
    std::vector<std::string> out;
    for (int32_t id : encode(text))
      out.push_back(vocab_.tokens[id]);
    return out;
  }
  std::string id_to_token(int32_t id) const override {
    if (id < 0 || id >= static_cast<int32_t>(vocab_.tokens.size()))
      return vocab_.tokens[special_.unk];
    return vocab_.tokens[id];
  }
  int32_t token_to_id(const std::string& token) const override {
    auto it = vocab_.ids.find(token);
    return it == vocab_.ids.end() ? -1 : it->second;
  }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.tokens.size()); }
  // HF's convert_tokens_to_string: tokens joined by spaces, "##" pieces glued to the previous
  // one. [PAD] is left out (SentencePiece's decode drops it too).
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    for (int32_t id : ids) {
      if (id == special_.pad) continue;
      const std::string& t = id_to_token(id);
      if (t.size() > 2 && starts_with(t, "##")) {
        out.append(t, 2, std::string::npos);
      } else {
        if (!out.empty()) out.push_back(' ');
        out += t;
      }
    }
    return out;
  }
  std::string kind() const override { return "wordpiece"; }
  std::vector<std::string> files() const override { return {path_}; }
  std::string canonical_name() const override { return "vocab.txt"; }
  std::string hf_tokenizer_config() const override {
    nlohmann::ordered_json j;
    j["tokenizer_class"] = "ElectraTokenizer";
    j["do_lower_case"] = basic_.lower_case();
    j["do_basic_tokenize"] = true;
    j["tokenize_chinese_chars"] = true;
    j["strip_accents"] = nullptr;  // HF: follow do_lower_case, as BERT does
    j["unk_token"] = "[UNK]";
    j["sep_token"] = "[SEP]";
    j["pad_token"] = "[PAD]";
    j["cls_token"] = "[CLS]";
    j["mask_token"] = "[MASK]";
    return j.dump(2) + "\n";
  }

 private:
  std::array<int32_t, 5> special_ids() const {
    return {special_.pad, special_.unk, special_.cls, special_.sep, special_.mask};
  }

  // Greedy longest-match-first over one word from the basic tokenizer.
  void wordpiece(std::string_view word, std::vector<int32_t>& out) const {
    size_t chars = 0;
    for (char ch : word)
      chars += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    if (chars > kMaxWordChars) {
      out.push_back(special_.unk);
      return;
    }
    const size_t mark = out.size();
    for (size_t start = 0; start < word.size();) {
      int32_t id = -1;
      const PieceTrie& trie = start == 0 ? initial_ : continuation_;
      const size_t len = trie.longest_prefix(word.substr(start), &id);
      if (len == 0) {  // no piece fits: the whole word is unknown
        out.resize(mark);
        out.push_back(special_.unk);
        return;
      }
      out.push_back(id);
      start += len;
    }
  }

  struct IdSink final : WordSink {
    IdSink(const WordPieceTokenizer& t, std::vector<int32_t>& ids) : tok(t), out(ids) {}
    void word(std::string_view w) override { tok.wordpiece(w, out); }
    const WordPieceTokenizer& tok;
    std::vector<int32_t>& out;
  };

  std::string path_;
  Vocab vocab_;
  BertBasicTokenizer basic_;
  PieceTrie initial_, continuation_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_wordpiece(const std::string& vocab_path, int do_lower_case) {
  return std::make_unique<WordPieceTokenizer>(vocab_path, do_lower_case);
}

}  // namespace electra::data
