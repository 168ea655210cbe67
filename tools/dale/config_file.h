// Config files for `dale` subcommands: a TOML/INI subset whose keys are the dotted flags.
//   [opt]              # a section is the flag's prefix
//   lr = 0.005         # ≡ --opt.lr 0.005
//   variant = "inorm+" # strings may be quoted
// Values given on the command line win over the file. Every key must be an option of the
// subcommand: an unknown key is an error naming the file and line, never silently ignored.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace dale::cli {

// "--section.key", "value" pairs in file order. Throws InputError "<path>:<line>: …".
std::vector<std::string> config_to_args(const std::string& path, const CLI::App& sub);

// argv with the file of `--config FILE` (if any) expanded in place, for subcommand `sub`.
std::vector<std::string> expand_config(int argc, char** argv, const CLI::App& app);

}  // namespace dale::cli
