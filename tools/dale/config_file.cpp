// The config-file reader of config_file.h. CLI11 2.1's own config support does not reach
// options of a subcommand and ignores unknown sections, so dale reads the (small) format itself.
#include "tools/dale/config_file.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "framework/check.h"
#include "framework/parse_number.h"

namespace dale::cli {

static std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::vector<std::string> config_to_args(const std::string& path, const CLI::App& sub) {
  // A directory opens as an empty stream on Linux: refuse it instead of reading no keys.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(fmt::format("--config: '{}' is a directory; expected a config file", path));
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("--config: cannot read '{}' ({})", path, std::strerror(errno)));
  std::vector<std::string> args;
  std::string line, section;
  int no = 1;
  for (; std::getline(in, line); ++no) {
    // A binary file: name the first control byte instead of echoing the garbage.
    for (size_t i = 0; i < line.size(); ++i) {
      const auto b = static_cast<unsigned char>(line[i]);
      if ((b < 0x20 && b != '\t' && b != '\r') || b == 0x7f)
        throw InputError(fmt::format("{}:{}: not a text config file (control byte 0x{:02x} at column {})",
                                     path, no, unsigned(b), i + 1));
    }
    std::string s = line;
    // A comment starts at # or ; outside quotes.
    bool quoted = false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '"') quoted = !quoted;
      if (!quoted && (s[i] == '#' || s[i] == ';')) { s.resize(i); break; }
    }
    s = trim(s);
    if (s.empty()) continue;
    if (s.front() == '[') {
      if (s.back() != ']' || s.size() < 3)
        throw InputError(fmt::format("{}:{}: '{}' is not a [section] header", path, no, trim(line)));
      section = trim(s.substr(1, s.size() - 2));
      continue;
    }
    const auto eq = s.find('=');
    if (eq == std::string::npos)
      throw InputError(fmt::format("{}:{}: expected 'key = value', got '{}'", path, no, trim(line)));
    const std::string key = (section.empty() ? "" : section + ".") + trim(s.substr(0, eq));
    std::string value = trim(s.substr(eq + 1));
    const bool quoted_value = value.size() >= 2 && value.front() == '"' && value.back() == '"';
    if (quoted_value) value = value.substr(1, value.size() - 2);
    else if (value == "true") value = "1";
    else if (value == "false") value = "0";
    if (value.empty()) throw InputError(fmt::format("{}:{}: key '{}' has no value", path, no, key));
    const CLI::Option* opt = key == "config" ? nullptr : sub.get_option_no_throw("--" + key);
    if (opt == nullptr)
      throw InputError(fmt::format("{}:{}: unknown key '{}': not an option of 'dale {}' (see dale {} --help)",
                                   path, no, key, sub.get_name(), sub.get_name()));
    const bool array = !quoted_value && value.front() == '[' && value.back() == ']';
    if (opt->get_expected_max() == 0) {  // a flag (--quiet): its value only with '='
      args.push_back("--" + key + "=" + value);
    } else if (opt->get_expected_min() > 1) {  // LO HI (--sweep.width_range): `100 499` or `[100, 499]`
      std::string items = array ? value.substr(1, value.size() - 2) : value;
      for (char& ch : items)
        if (ch == ',') ch = ' ';
      std::vector<std::string> words;
      for (size_t b = items.find_first_not_of(" \t"); b != std::string::npos; b = items.find_first_not_of(" \t", b)) {
        const size_t e = items.find_first_of(" \t", b);
        words.push_back(items.substr(b, e == std::string::npos ? std::string::npos : e - b));
        b = e;
      }
      // CLI11 would take surplus items as stray arguments, and items like "-e" or "++" as an
      // option or a subcommand terminator; every such pair of dale (the sweep ranges) is numeric.
      const auto n = size_t(opt->get_expected_min());
      if (words.size() != n)
        throw InputError(fmt::format("{}:{}: key '{}' takes {} values, got '{}'", path, no, key, n, value));
      for (const auto& w : words)
        if (!parse_double(w))
          throw InputError(fmt::format("{}:{}: key '{}': '{}' is not a number", path, no, key, w));
      args.push_back("--" + key);
      args.insert(args.end(), words.begin(), words.end());
    } else if (array && opt->get_items_expected_max() == 1) {
      throw InputError(fmt::format("{}:{}: key '{}' takes one value, not the list {}", path, no, key, value));
    } else {  // one argument, so that a value like "--x" is not read as an option
      // A list: `variants = ei,inorm+` or TOML's `variants = ["ei", "inorm+"]`, passed on as
      // "ei,inorm+"; an empty item would reach CLI11 as a missing value.
      if (const char d = opt->get_delimiter(); d != '\0') {
        const std::string items = array ? value.substr(1, value.size() - 2) : value;
        std::string joined;
        for (size_t b = 0;; ++b) {
          const size_t e = items.find(d, b);
          std::string item = trim(items.substr(b, e == std::string::npos ? std::string::npos : e - b));
          if (item.size() >= 2 && item.front() == '"' && item.back() == '"') item = item.substr(1, item.size() - 2);
          if (item.empty())
            throw InputError(fmt::format("{}:{}: key '{}': an empty item in the list {}", path, no, key, value));
          joined += (joined.empty() ? "" : std::string(1, d)) + item;
          if (e == std::string::npos) break;
          b = e;
        }
        value = joined;
      }
      args.push_back("--" + key + "=" + value);
    }
  }
  if (in.bad()) throw InputError(fmt::format("--config: error reading '{}' at line {}", path, no));
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
