// The config-file reader of config_file.h. The TOML itself is read by toml++ (Debian's
// libtomlplusplus-dev): a maintained TOML 1.0 parser, which also refuses a key or a table given
// twice. CLI11 2.1's own config support does not reach options of a subcommand and ignores
// unknown sections, so dale maps the parsed tables onto the subcommand's dotted flags here.
// Before toml++ sees a byte, the file is checked to be a regular file within the size and line
// caps, and to be text.
#include "tools/dale/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

#include "framework/check.h"

// toml++ 3.3 asserts, before it reports them, on some invalid table headers ("[`a]", "[[[1]]]";
// marzer/tomlplusplus#301, fixed after 3.3). With NDEBUG (dale's Release build, Debian's shared
// library) the check is skipped and the header is refused as invalid TOML; where the header-only
// parser is compiled without NDEBUG (tools/fuzz), a failed check is refused too, not an abort.
namespace dale::cli {
struct TomlAssertion {
  const char* check;
};
[[noreturn]] inline void toml_assertion_failed(const char* check) { throw TomlAssertion{check}; }
}  // namespace dale::cli
#ifndef NDEBUG
#define TOML_ASSERT(expr) ((expr) ? static_cast<void>(0) : ::dale::cli::toml_assertion_failed(#expr))
#endif
#include <toml++/toml.h>

static_assert(TOML_EXCEPTIONS, "the config reader catches toml::parse_error");

namespace dale::cli {
namespace {

// No option of dale has a longer name: a longer key (a table nested thousands deep, say) is
// unknown without walking further into it.
constexpr size_t kMaxKeyChars = 256;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw InputError(fmt::format("--config {}: {}", path, what));
}
[[noreturn]] void fail_at(const std::string& path, const toml::source_position& at, const std::string& what) {
  throw InputError(fmt::format("--config {}:{}:{}: {}", path, at.line, at.column, what));
}

// Text of the file echoed in a message: control bytes escaped (the message stays one line) and
// cut after `max` characters.
std::string shown(std::string_view s, size_t max = 80) {
  std::string out;
  size_t chars = 0;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b & 0xC0) != 0x80 && chars++ == max) return out + "…";
    if (b < 0x20 || b == 0x7f) out += fmt::format("\\x{:02x}", unsigned(b));
    else out += c;
  }
  return out;
}

const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// The whole file, refused before it is read unless it is a regular file of at most
// kMaxConfigBytes (a FIFO would block, /dev/zero never ends), and while it is read if it grows
// past that. Opened with O_NONBLOCK, so that not even a file swapped for a FIFO between the
// stat and the open can block.
std::string read_bounded(const std::string& path) {
  const auto limit = fmt::format("the limit for a config file is {} bytes (1 MiB)", kMaxConfigBytes);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, fmt::format("cannot read it ({})", std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    fail(path, fmt::format("{}, not a regular file; expected a config file", file_kind(st.st_mode)));
  if (uint64_t(st.st_size) > kMaxConfigBytes) fail(path, fmt::format("{} bytes is too large: {}", st.st_size, limit));
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fail(path, fmt::format("cannot read it ({})", std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    fail(path, fmt::format("{}, not a regular file; expected a config file", file_kind(st.st_mode)));
  std::string text;
  text.reserve(size_t(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, fmt::format("cannot read it ({})", std::strerror(errno)));
    if (n == 0) break;
    text.append(buf, size_t(n));
    if (text.size() > kMaxConfigBytes) fail(path, fmt::format("more than {} bytes is too large: {}", kMaxConfigBytes, limit));
  }
  return text;
}

// The byte offset where each line starts (after a UTF-8 byte order mark on line 1, which toml++
// skips too). Refuses, before the parser sees them, a line longer than kMaxConfigLineBytes and
// control bytes (which TOML allows nowhere but tab, and CR before LF): a binary file is named
// as such instead of as a TOML syntax error.
std::vector<size_t> line_starts(const std::string& path, const std::string& text) {
  const size_t bom = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  std::vector<size_t> starts{bom};
  uint32_t column = 0;  // of the current character, counted as toml++ does: in code points
  for (size_t i = bom; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b == '\n') {
      starts.push_back(i + 1);
      column = 0;
      continue;
    }
    if (i - starts.back() >= kMaxConfigLineBytes)
      throw InputError(fmt::format("--config {}:{}: line {} is too long: the limit for a line of a config file is {} bytes",
                                   path, starts.size(), starts.size(), kMaxConfigLineBytes));
    if ((b & 0xC0) != 0x80) ++column;
    if ((b < 0x20 && b != '\t' && b != '\r') || b == 0x7f)
      fail_at(path, {uint32_t(starts.size()), column},
              fmt::format("not a text config file (control byte 0x{:02x})", unsigned(b)));
  }
  return starts;
}

// One parsed file and what the values' texts need of it.
struct Doc {
  const std::string& path;
  const std::string& text;
  const std::vector<size_t>& starts;

  // A float exactly as written (underscores and a leading '+' dropped), so that it converts as
  // the same digits typed on the command line would: CLI11 and toml++ may round differently,
  // and dale's options are floats that CLI11 reads through long double. The written digits are
  // found from the value's position; the shortest text of toml++'s double if they cannot be.
  std::string float_text(const toml::value<double>& v) const {
    const toml::source_region& r = v.source();
    const double d = v.get();
    const std::string fallback = fmt::format("{}", d);
    if (r.begin.line == 0 || r.begin.line > starts.size() || r.end.line != r.begin.line || r.end.column <= r.begin.column)
      return fallback;
    size_t at = starts[r.begin.line - 1];
    for (uint32_t c = 1; c < r.begin.column && at < text.size(); ++c)  // code points to bytes
      for (++at; at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80;) ++at;
    const size_t len = r.end.column - r.begin.column;
    if (at + len > text.size()) return fallback;
    std::string digits;
    for (const char c : std::string_view(text).substr(at, len)) {
      if (!std::strchr("0123456789+-.eEinfa_", c)) return fallback;
      if (c != '_') digits += c;
    }
    if (!digits.empty() && digits[0] == '+') digits.erase(0, 1);
    double check = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), check);
    if (end != digits.data() + digits.size()) return fallback;
    // Out of range ("1e-400"): passed on as written, for the option to refuse as on the command line.
    if (ec == std::errc() && !(std::bit_cast<uint64_t>(check) == std::bit_cast<uint64_t>(d) ||
                              (std::isnan(check) && std::isnan(d))))
      return fallback;
    return digits;
  }

  // The flag text of a single value: integers in decimal, floats as written, true/false as 1/0
  // (what dale's 0/1 options and CLI11's flags both take), strings as they are (non-empty, one
  // line: what could be typed as one argument).
  std::string text_of(const std::string& key, const toml::node& v) const {
    if (const auto* s = v.as_string()) {
      const std::string& str = s->get();
      if (str.empty()) fail_at(path, v.source().begin, fmt::format("key '{}' has no value", shown(key)));
      for (const char c : str)
        if (const auto b = static_cast<unsigned char>(c); (b < 0x20 && b != '\t') || b == 0x7f)
          fail_at(path, v.source().begin,
                  fmt::format("key '{}': a control character (0x{:02x}) in the string; a value is one line",
                              shown(key), unsigned(b)));
      return str;
    }
    if (const auto* i = v.as_integer()) return fmt::format("{}", i->get());
    if (const auto* f = v.as_floating_point()) return float_text(*f);
    if (const auto* b = v.as_boolean()) return b->get() ? "1" : "0";
    const char* what = v.is_array() ? "a list" : v.is_table() ? "a table" : "a date or time";
    fail_at(path, v.source().begin,
            fmt::format("key '{}' is {}; expected a number, a string, true or false", shown(key), what));
  }
};

struct Leaf {
  std::string key;  // dotted: the option's name without "--"
  const toml::node* value;
  toml::source_position at;  // of the key
};

// Every key holding a value, with the dotted names of its tables, in file order. A table whose
// name is an option is a leaf too, to be refused as no value.
std::vector<Leaf> leaves_of(const toml::table& doc, const CLI::App& sub) {
  std::vector<Leaf> leaves;
  std::vector<std::pair<const toml::table*, std::string>> todo{{&doc, ""}};
  while (!todo.empty()) {
    const auto [table, prefix] = todo.back();
    todo.pop_back();
    for (auto&& [k, v] : *table) {
      std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      const toml::table* t = v.as_table();
      if (t && key.size() <= kMaxKeyChars && !sub.get_option_no_throw("--" + key))
        todo.emplace_back(t, std::move(key));
      else
        leaves.push_back({std::move(key), &v, k.source().begin});
    }
  }
  std::stable_sort(leaves.begin(), leaves.end(), [](const Leaf& a, const Leaf& b) {
    return std::pair(a.at.line, a.at.column) < std::pair(b.at.line, b.at.column);
  });
  return leaves;
}

}  // namespace

std::vector<std::string> config_to_args(const std::string& path, const CLI::App& sub) {
  const std::string text = read_bounded(path);
  const std::vector<size_t> starts = line_starts(path, text);
  toml::table table;
  try {
    table = toml::parse(std::string_view(text), std::string_view(path));
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    if (what.rfind("Error while", 0) == 0) what[0] = 'e';
    fail_at(path, e.source().begin,
            fmt::format("not valid TOML: {} (a config file holds [section] headers and key = value lines)",
                        shown(what, 200)));
  } catch (const TomlAssertion& a) {
    fail(path, fmt::format("not valid TOML: the parser's check '{}' failed", shown(a.check, 200)));
  }
  const Doc doc{path, text, starts};
  std::vector<std::string> args;
  std::map<const CLI::Option*, const Leaf*> given;
  const std::vector<Leaf> leaves = leaves_of(table, sub);
  for (const Leaf& leaf : leaves) {
    const std::string& key = leaf.key;
    const toml::node& v = *leaf.value;
    const CLI::Option* opt =
        key == "config" || key.size() > kMaxKeyChars ? nullptr : sub.get_option_no_throw("--" + key);
    if (opt != nullptr && (opt == sub.get_help_ptr() || opt == sub.get_help_all_ptr() || opt == sub.get_version_ptr()))
      opt = nullptr;  // `help = false` would be CLI11's --help
    if (opt == nullptr)
      fail_at(path, leaf.at,
              fmt::format("unknown key '{}': not an option of 'dale {}' (see dale {} --help)", shown(key),
                          sub.get_name(), sub.get_name()));
    // Two names of one option (an alias: `device` and `[model] device`): TOML sees two keys.
    if (const auto [it, fresh] = given.emplace(opt, &leaf); !fresh)
      fail_at(path, leaf.at,
              fmt::format("key '{}' sets the same option as '{}' (line {}); give it once", shown(key),
                          shown(it->second->key), it->second->at.line));
    if (v.is_table())
      fail_at(path, v.source().begin, fmt::format("key '{}' is a table; expected a value", shown(key)));
    const toml::array* array = v.as_array();
    if (opt->get_expected_max() == 0) {  // a flag (--quiet): its value only with '='
      if (array) fail_at(path, v.source().begin, fmt::format("key '{}' is a flag: true or false, not a list", shown(key)));
      args.push_back("--" + key + "=" + doc.text_of(key, v));
    } else if (opt->get_expected_min() > 1) {  // LO HI (--sweep.width_range): [100, 499]
      // CLI11 would take surplus items as stray arguments, and items like "-e" or "++" as an
      // option or a subcommand terminator; every such pair of dale (the sweep ranges) is numeric.
      const auto n = size_t(opt->get_expected_min());
      if (!array || array->size() != n)
        fail_at(path, v.source().begin,
                fmt::format("key '{}' takes {} values, as [{}], got {}", shown(key), n, n == 2 ? "LO, HI" : "…",
                            array ? fmt::format("{}", array->size()) : std::string("one")));
      args.push_back("--" + key);
      for (const toml::node& item : *array) {
        if (const auto* s = item.as_string())
          fail_at(path, item.source().begin, fmt::format("key '{}': '{}' is not a number", shown(key), shown(s->get())));
        if (!item.is_number())
          fail_at(path, item.source().begin, fmt::format("key '{}': an item that is not a number", shown(key)));
        args.push_back(doc.text_of(key, item));
      }
    } else if (const char d = opt->get_delimiter(); d != '\0') {
      // A list (--variants, --eps): `variants = ["ei", "inorm+"]` or `variants = "ei,inorm+"`,
      // passed on as one argument "ei,inorm+"; an empty item would reach CLI11 as a missing value.
      auto trim = [](const std::string& s) {
        const auto b = s.find_first_not_of(" \t");
        return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t") - b + 1);
      };
      std::vector<std::string> items;
      if (array) {
        for (const toml::node& item : *array) {
          if (!item.is_string() && !item.is_number())
            fail_at(path, item.source().begin,
                    fmt::format("key '{}': an item of the list that is not a string or a number", shown(key)));
          if (item.is_string() && item.as_string()->get().empty()) {
            items.emplace_back();
            continue;
          }
          items.push_back(trim(doc.text_of(key, item)));
          if (items.back().find(d) != std::string::npos)
            fail_at(path, item.source().begin,
                    fmt::format("key '{}': the item '{}' holds the separator '{}'; give each item alone",
                                shown(key), shown(items.back()), d));
        }
      } else if (v.is_string()) {
        const std::string s = doc.text_of(key, v);
        for (size_t b = 0;; ++b) {
          const size_t e = s.find(d, b);
          items.push_back(trim(s.substr(b, e == std::string::npos ? std::string::npos : e - b)));
          if (e == std::string::npos) break;
          b = e;
        }
      } else {
        items.push_back(doc.text_of(key, v));
      }
      if (items.empty()) fail_at(path, v.source().begin, fmt::format("key '{}': an empty list", shown(key)));
      // CLI11 reads a list option's "[a,b]" as the items a and b, dropping empty ones: no item of
      // dale's lists (names, numbers) holds a bracket.
      std::string joined;
      for (const std::string& item : items) {
        if (item.empty()) fail_at(path, v.source().begin, fmt::format("key '{}': an empty item in the list", shown(key)));
        if (item.find_first_of("[]") != std::string::npos)
          fail_at(path, v.source().begin,
                  fmt::format("key '{}': the item '{}' holds a bracket; a list is [\"a\", \"b\"] or \"a,b\"",
                              shown(key), shown(item)));
        joined += (joined.empty() ? "" : std::string(1, d)) + item;
      }
      args.push_back("--" + key + "=" + joined);
    } else {  // one argument, so that a value like "--x" is not read as an option
      if (array) fail_at(path, v.source().begin, fmt::format("key '{}' takes one value, not a list", shown(key)));
      args.push_back("--" + key + "=" + doc.text_of(key, v));
    }
  }
  return args;
}

std::vector<std::string> expand_config(int argc, char** argv, const CLI::App& app) {
  std::vector<std::string> in(argv, argv + argc), out;
  const CLI::App* sub = nullptr;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!sub && i > 0) {
      for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; }))
        if (s->get_name() == in[i]) sub = s;
      if (sub) {  // the file's values go first, right after the subcommand: the command line wins
        out.push_back(in[i]);
        // The option an argument "--name" or "--name=value" names, if any.
        auto option_of = [&](const std::string& a) -> const CLI::Option* {
          if (a.rfind("--", 0) != 0) return nullptr;
          return sub->get_option_no_throw(a.substr(0, a.find('=')));
        };
        // Options the command line gives are dropped from the file rather than given twice:
        // a list option (--eps, --variants) would otherwise get the file's items and the
        // command line's, since CLI11 appends the values of a repeated list option.
        std::set<const CLI::Option*> on_command_line;
        for (size_t j = i + 1; j < in.size(); ++j)
          if (const CLI::Option* o = option_of(in[j])) on_command_line.insert(o);
        for (size_t j = i + 1; j < in.size(); ++j) {
          std::string file;
          const bool given = in[j] == "--config" || in[j].rfind("--config=", 0) == 0;
          if (in[j] == "--config" && j + 1 < in.size()) file = in[j + 1];
          else if (in[j].rfind("--config=", 0) == 0) file = in[j].substr(9);
          if (given && file.empty()) throw InputError("--config: expected a file name");
          if (given) {
            bool keep = true;  // of the current key and its values
            for (auto& a : config_to_args(file, *sub)) {
              if (const CLI::Option* o = option_of(a)) keep = on_command_line.count(o) == 0;
              if (keep) out.push_back(a);
            }
          }
          if (in[j] == "--config") ++j;  // its value is a file name, not another --config
        }
        continue;
      }
    }
    if (sub && (in[i] == "--config")) { ++i; continue; }
    if (sub && in[i].rfind("--config=", 0) == 0) continue;
    out.push_back(in[i]);
  }
  return out;
}

}  // namespace dale::cli
