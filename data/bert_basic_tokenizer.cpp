// BERT BasicTokenizer (see the header for the steps).
//
// Unicode data comes from ICU (Debian libicu-dev, C API only) rather than tables of our own:
// BERT's Python code relies on three pieces of Unicode data -- general categories (controls,
// Zs, P*, Mn), full lower-case mapping with the final-sigma rule (str.lower()) and canonical
// decomposition with reordering (NFD) -- and ICU provides all three, versioned and
// maintained, where a hand-made table would need a generator, a few hundred KB of data and
// its own Unicode updates. Speed does not suffer: ASCII, the bulk of most corpora, never
// reaches ICU (a 128-entry class table handles it), and unified CJK ideographs skip
// normalisation (they have no case and no decomposition); only words holding other non-ASCII
// letters pay for the ICU round trip through UTF-16.
#include "data/bert_basic_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.h"

namespace electra::data {
namespace {

enum Class : uint8_t { kOther, kSpace, kDrop, kCjk };

// ASCII, as BERT sees it: \t \n \r and space separate words; the other C0 controls and DEL
// (category Cc) are dropped; 33-47, 58-64, 91-96 and 123-126 are punctuation even where
// Unicode says symbol ($ + < = > ^ ` | ~).
struct AsciiTables {
  std::array<uint8_t, 128> cls{};
  std::array<bool, 128> punct{};
  constexpr AsciiTables() {
    for (int c = 0; c < 128; ++c) {
      cls[c] = (c < 32 || c == 127) ? kDrop : kOther;
      punct[c] = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
                 (c >= 123 && c <= 126);
    }
    cls['\t'] = cls['\n'] = cls['\r'] = cls[' '] = kSpace;
  }
};
constexpr AsciiTables kAscii;

// Clean-up class of a non-ASCII code point (BERT's _clean_text and _tokenize_chinese_chars).
Class classify(char32_t c) {
  if (c == 0xFFFD) return kDrop;
  // Categories first: clean-up runs before CJK spacing, so the unassigned code points inside
  // the CJK blocks (U+FADA..U+FAFF, ...) are dropped, not made words.
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_SPACE_SEPARATOR:
      return kSpace;
    // Zl/Zp are not BERT whitespace, but they survive clean-up and Python's str.split() then
    // splits on them, so they separate words all the same.
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      return kSpace;
    // _is_control: every category starting with "C" (Cc Cf Cn Co Cs).
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return kDrop;
    default:
      return is_cjk_ideograph(c) ? kCjk : kOther;
  }
}

bool is_punct(char32_t c) {
  if (c < 128) return kAscii.punct[c];
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

bool is_space(char32_t c) {
  return c < 128 ? kAscii.cls[c] == kSpace : classify(c) == kSpace;
}

// Per-thread buffers: split() runs in the data pipeline's background thread(s) once per line.
struct Scratch {
  std::string raw;   // the current word after clean-up (valid UTF-8)
  std::string norm;  // the word after lower-casing + accent stripping
  std::vector<UChar> u16, lowered, nfd;
};

void check_icu(UErrorCode err, const char* what) {
  if (U_FAILURE(err)) throw std::runtime_error(cat("ICU ", what, " failed: ", u_errorName(err)));
}

// Runs an ICU string transform into `out`, growing it when ICU reports the size it needs.
template <class F>
void icu_transform(std::vector<UChar>& out, const char* what, F&& fn) {
  if (out.size() < 16) out.resize(16);
  UErrorCode err = U_ZERO_ERROR;
  int32_t n = fn(out.data(), static_cast<int32_t>(out.size()), &err);
  if (err == U_BUFFER_OVERFLOW_ERROR || n > static_cast<int32_t>(out.size())) {
    out.resize(static_cast<size_t>(n) + 1);
    err = U_ZERO_ERROR;
    n = fn(out.data(), static_cast<int32_t>(out.size()), &err);
  }
  check_icu(err, what);
  out.resize(static_cast<size_t>(n));
}

// str.lower(), then NFD, then drop Mn: BERT's lower-casing + _run_strip_accents. The root
// locale gives the language-neutral full mapping Python uses (final sigma included).
void lower_strip_accents(Scratch& s) {
  icu_transform(s.u16, "UTF-8 decoding", [&](UChar* d, int32_t cap, UErrorCode* e) {
    int32_t n = 0;
    u_strFromUTF8(d, cap, &n, s.raw.data(), static_cast<int32_t>(s.raw.size()), e);
    return n;
  });
  const int32_t n16 = static_cast<int32_t>(s.u16.size());
  icu_transform(s.lowered, "lower-casing", [&](UChar* d, int32_t cap, UErrorCode* e) {
    return u_strToLower(d, cap, s.u16.data(), n16, "", e);
  });
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfd = unorm2_getNFDInstance(&err);
  check_icu(err, "NFD instance");
  const int32_t nl = static_cast<int32_t>(s.lowered.size());
  icu_transform(s.nfd, "NFD", [&](UChar* d, int32_t cap, UErrorCode* e) {
    return unorm2_normalize(nfd, s.lowered.data(), nl, d, cap, e);
  });
  s.norm.clear();
  const int32_t n = static_cast<int32_t>(s.nfd.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U16_NEXT(s.nfd.data(), i, n, c);
    if (u_charType(c) == U_NON_SPACING_MARK) continue;
    append_utf8(s.norm, static_cast<char32_t>(c));
  }
}

// _run_split_on_punc over a valid UTF-8 word: runs of non-punctuation and single
// punctuation characters go to the sink.
void split_on_punct(std::string_view w, bool ascii_only, WordSink& sink) {
  size_t start = 0;
  for (size_t i = 0; i < w.size();) {
    const size_t at = i;
    char32_t c;
    if (ascii_only) {
      c = static_cast<unsigned char>(w[i++]);
    } else {
      c = next_code_point(w, i);
    }
    const bool space = !ascii_only && c >= 128 && is_space(c);
    if (!space && !is_punct(c)) continue;
    if (at > start) sink.word(w.substr(start, at - start));
    if (!space) sink.word(w.substr(at, i - at));
    start = i;
  }
  if (start < w.size()) sink.word(w.substr(start));
}

}  // namespace

char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len;
  char32_t c, min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool has_lower_case_form(char32_t c) {
  return u_tolower(static_cast<UChar32>(c)) != static_cast<UChar32>(c);
}

void BertBasicTokenizer::split(std::string_view text, WordSink& sink) const {
  thread_local Scratch s;
  s.raw.clear();
  bool non_ascii = false;

  auto flush = [&] {
    if (s.raw.empty()) return;
    if (!non_ascii) {
      if (lower_case_)
        for (char& ch : s.raw)
          if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
      split_on_punct(s.raw, true, sink);
    } else if (lower_case_) {
      lower_strip_accents(s);
      split_on_punct(s.norm, false, sink);
    } else {
      split_on_punct(s.raw, false, sink);
    }
    s.raw.clear();
    non_ascii = false;
  };

  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      const uint8_t cls = kAscii.cls[b];
      if (cls == kOther) {
        s.raw.push_back(static_cast<char>(b));
      } else if (cls == kSpace) {
        flush();
      }  // kDrop (NUL and the other controls): removed, the word goes on
      continue;
    }
    const size_t at = i;
    const char32_t c = next_code_point(text, i);
    switch (classify(c)) {
      case kOther:
        s.raw.append(text.data() + at, i - at);
        non_ascii = true;
        break;
      case kSpace:
        flush();
        break;
      case kDrop:
        break;
      case kCjk:
        flush();
        // Compatibility ideographs (U+F900.., U+2F800..) have canonical decompositions, so an
        // uncased tokenizer normalises them like any word; unified ideographs pass as they are.
        if (lower_case_ && ((c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F))) {
          s.raw.assign(text.data() + at, i - at);
          non_ascii = true;
          flush();
        } else {
          sink.word(text.substr(at, i - at));
        }
        break;
    }
  }
  flush();
}

}  // namespace electra::data
