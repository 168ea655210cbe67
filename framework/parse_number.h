// Strict parsing of numbers written by a user (flags, config values, environment variables):
// the whole text must be one plain decimal number. std::stoll and strtod stop at the first bad
// character ("100x" is 100, "4.5" is 4), and CLI11 2.1 reads integers in base 0 ("010" is 8)
// and an empty value as 0; dale accepts none of these.
#pragma once
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dale {

// A whole number in int64 range: optional '-', decimal digits, no leading zeros ("0" is fine).
inline std::optional<int64_t> parse_int(std::string_view s) {
  const std::string_view digits = !s.empty() && s[0] == '-' ? s.substr(1) : s;
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A whole number in uint64 range: decimal digits, no sign, no leading zeros ("0" is fine).
inline std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s[0] == '-' || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A real number ("0.1", "-3", "1e-3", "inf", "nan"): the caller decides which values it allows.
// Out of double range ("1e999") is no number.
inline std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  if (s.empty() || s[0] == '+') return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace dale
