// Config files for `dale` subcommands: TOML (read by toml++) whose keys are the dotted flags.
//   [opt]                # a table is the flag's prefix; nested tables and dotted keys nest:
//   lr = 0.005           # ≡ --opt.lr 0.005
//   inhib_lrs.wix = 0.1  # ≡ --opt.inhib_lrs.wix 0.1, as is [opt.inhib_lrs] wix = 0.1
//   [model]
//   variant = "inorm+"   # strings in any TOML form ('…', "…", """…""", '''…''')
// Values: an integer or a float is passed as the text written (a float's digits exactly as typed,
// so it converts to the same float as on the command line; underscores and a leading '+' are
// dropped, an integer is written in decimal), true/false as 1/0, a string as it is. A list option
// (--variants, --eps) takes an array or a comma-separated string; a LO HI pair
// (--sweep.lr_range) an array of two numbers. Dates and arrays elsewhere are refused.
// Values given on the command line win over the file. Every key must be an option of the
// subcommand, given once (also across an option's aliases): an unknown or repeated key is an
// error naming the file, line and column, never silently ignored.
// The file must be a regular file of at most kMaxConfigBytes, with lines of at most
// kMaxConfigLineBytes, and is checked for both before it is read: a FIFO, /dev/zero or a huge
// file is refused, not read.
#pragma once
#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace dale::cli {

inline constexpr size_t kMaxConfigBytes = size_t(1) << 20;  // 1 MiB: dale's own files are < 1 KiB
inline constexpr size_t kMaxConfigLineBytes = 8192;         // a PATH_MAX (4096) path and its key fit

// "--section.key=value" (or "--key", LO, HI) arguments in file order. Throws InputError
// "--config <path>[:<line>:<column>]: …" (one line).
std::vector<std::string> config_to_args(const std::string& path, const CLI::App& sub);

// argv with the file of `--config FILE` (if any) expanded in place, for subcommand `sub`.
std::vector<std::string> expand_config(int argc, char** argv, const CLI::App& app);

}  // namespace dale::cli
