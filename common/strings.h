// Small string utilities.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace electra {

std::vector<std::string> split(std::string_view s, char sep);
std::string_view trim(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` (ties: first); empty when candidates is empty.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// Checks that `s` is valid UTF-8; on failure returns the byte offset of the first bad byte.
bool is_valid_utf8(std::string_view s, size_t* bad_offset = nullptr);

// Parses space-separated integers; throws UserError naming `what` on a bad token.
std::vector<int64_t> parse_int_list(std::string_view s, const std::string& what);

std::string base64_encode(const std::string& bytes);
// Throws UserError naming `what` on malformed input.
std::string base64_decode(const std::string& text, const std::string& what);

// Human-friendly duration: "3m12s", "1h04m".
std::string format_duration(double seconds);

}  // namespace electra
