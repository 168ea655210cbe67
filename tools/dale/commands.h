// The subcommands of `dale`, each registered on the CLI11 app by one function.
#pragma once
#include <CLI/CLI.hpp>

namespace dale::cli {

void add_train(CLI::App& app);     // dale train
void add_variants(CLI::App& app);  // dale variants
int exit_code();                   // set by the command that ran

}  // namespace dale::cli
