// `dale`: one executable, one subcommand per job. Exit codes (documented in the README):
//   0 success · 1 internal error · 2 bad input (flag, file, config) · 3 training diverged.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "framework/check.h"
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
}  // namespace dale::cli

int main(int argc, char** argv) {
  CLI::App app{"dale — Dale's-principle networks with inhibitory normalization (see README.md)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dale 0.1");
  dale::cli::add_all_commands(app);
  try {
    // Expand --config FILE into flags, then hand CLI11 the arguments (it wants them reversed).
    std::vector<std::string> args = dale::cli::expand_config(argc, argv, app);
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
