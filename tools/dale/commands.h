// The subcommands of `dale`. Each lives in its own file and registers itself:
//   static void add_train(CLI::App& app) { … }
//   DALE_COMMAND(10, add_train);
// `order` sorts them in --help. The exit code of the command that ran goes to set_exit_code.
#pragma once
#include <CLI/CLI.hpp>

namespace dale::cli {

using AddCommand = void (*)(CLI::App& app);
int register_command(int order, AddCommand add);
void add_all_commands(CLI::App& app);
void set_exit_code(int code);
int exit_code();

}  // namespace dale::cli

#define DALE_COMMAND(order, fn) \
  [[maybe_unused]] static const int dale_command_registered_##fn = ::dale::cli::register_command(order, fn)
