// `dale`: one executable, one subcommand per job. Exit codes (documented in the README):
//   0 success · 1 internal error · 2 bad input (flag, file, config) · 3 training diverged.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "framework/check.h"
#include "framework/parse_number.h"
#include "tools/dale/commands.h"
#include "tools/dale/config_file.h"

namespace dale::cli {
namespace {
std::vector<std::pair<int, AddCommand>>& registry() {
  static std::vector<std::pair<int, AddCommand>> r;
  return r;
}
int g_exit = 0;
}  // namespace
int register_command(int order, AddCommand add) {
  registry().emplace_back(order, add);
  return order;
}
void add_all_commands(CLI::App& app) {
  std::sort(registry().begin(), registry().end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, add] : registry()) add(app);
}
void set_exit_code(int code) { g_exit = code; }
int exit_code() { return g_exit; }

// Optimal string alignment distance (edits, adjacent swaps counted once): "trian" → "train" is 1.
static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// dale's own options are --help and --version, so a first argument that is no option must be a
// command; CLI11 would only say "A subcommand is required". Name the word and the nearest command.
static void check_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return;
  const std::string word = argv[1];
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  if (std::find(names.begin(), names.end(), word) != names.end()) return;
  std::string nearest;
  size_t best = 3;  // at most two edits away
  for (const auto& n : names)
    if (const size_t e = edit_distance(word, n); e < best) best = e, nearest = n;
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  throw InputError(nearest.empty() ? fmt::format("'{}' is not a command; expected one of: {} (see dale --help)", word, all)
                                   : fmt::format("'{}' is not a command; did you mean '{}'? (see dale --help)", word,
                                                 nearest));
}

// CLI11 splits a list option's value (--variants, --eps: "a,b") at its delimiter and drops empty
// items, so "ei,,inorm+" or "0.5," would pass as a shorter list. Every item of every list option
// of the command must be there: refused here, on the raw text, naming the option and the item.
static void check_list_items(CLI::App& app, const std::vector<std::string>& args) {
  if (args.size() < 2) return;
  const CLI::App* sub = nullptr;
  for (const CLI::App* s : app.get_subcommands([](CLI::App*) { return true; }))
    if (s->get_name() == args[1]) sub = s;
  if (!sub) return;
  const CLI::Option* list = nullptr;  // the list option whose values the next arguments are
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    if (a.rfind("--", 0) == 0) {
      const size_t eq = a.find('=');
      const CLI::Option* o = sub->get_option_no_throw(a.substr(0, eq));
      list = o && o->get_delimiter() != '\0' ? o : nullptr;
      if (!list || eq == std::string::npos) continue;
      value = a.substr(eq + 1);
    } else if (list && (a.empty() || a[0] != '-' || parse_double(a))) {  // "-0" is a value of --eps
      value = a;
    } else {
      list = nullptr;
      continue;
    }
    const char d = list->get_delimiter();
    size_t item = 1;
    for (size_t b = 0;; ++item) {
      const size_t e = value.find(d, b);
      if ((e == std::string::npos ? value.size() : e) == b)
        throw InputError(fmt::format("{}: item {} of '{}' is empty; expected a '{}'-separated list", list->get_name(),
                                     item, value, d));
      if (e == std::string::npos) break;
      b = e + 1;
    }
  }
}
}  // namespace dale::cli

int main(int argc, char** argv) {
  CLI::App app{"dale — Dale's-principle networks with inhibitory normalization (see README.md)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dale 0.1");
  dale::cli::add_all_commands(app);
  try {
    dale::cli::check_command(app, argc, argv);
    // Expand --config FILE into flags, then hand CLI11 the arguments (it wants them reversed).
    std::vector<std::string> args = dale::cli::expand_config(argc, argv, app);
    dale::cli::check_list_items(app, args);
    args.erase(args.begin());
    std::reverse(args.begin(), args.end());
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dale: %s (see dale --help)\n", e.what());
    return dale::kExitInput;
  } catch (const dale::Error& e) {
    std::fprintf(stderr, "dale: %s\n", e.what());
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dale: internal error: %s\n", e.what());
    return dale::kExitInternal;
  }
  return dale::cli::exit_code();
}
