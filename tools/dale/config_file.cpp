// The config-file reader of config_file.h. CLI11 2.1's own config support does not reach
// options of a subcommand and ignores unknown sections, so dale reads the (small) format itself.
#include "tools/dale/config_file.h"

#include <fstream>

#include "framework/check.h"

namespace dale::cli {

static std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::vector<std::string> config_to_args(const std::string& path, const CLI::App& sub) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("--config: cannot read '{}' ({})", path, std::strerror(errno)));
  std::vector<std::string> args;
  std::string line, section;
  for (int no = 1; std::getline(in, line); ++no) {
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
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    else if (value == "true") value = "1";
    else if (value == "false") value = "0";
    if (value.empty()) throw InputError(fmt::format("{}:{}: key '{}' has no value", path, no, key));
    if (key == "config" || sub.get_option_no_throw("--" + key) == nullptr)
      throw InputError(fmt::format("{}:{}: unknown key '{}': not an option of 'dale {}' (see dale {} --help)",
                                   path, no, key, sub.get_name(), sub.get_name()));
    args.push_back("--" + key);
    args.push_back(value);
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
        for (size_t j = i + 1; j < in.size(); ++j) {
          std::string file;
          if (in[j] == "--config" && j + 1 < in.size()) file = in[j + 1];
          else if (in[j].rfind("--config=", 0) == 0) file = in[j].substr(9);
          if (!file.empty())
            for (auto& a : config_to_args(file, *sub)) out.push_back(a);
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
