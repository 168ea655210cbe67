// What `dale compare` and `dale sweep` share on the command line: loading the data once,
// running a plan with a live line per finished run, and the closing summary table.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "models/experiments.h"

namespace dale::cli {

// Executes `runs` (skipping finished ones), printing "[k/N] run … test_acc" per run, then a
// Markdown table variant × ε: mean ± sd of final test accuracy (and diverged counts) over every
// planned run found finished in `out`.
void run_experiment(const std::vector<PlannedRun>& runs, const TrainConfig& base, const std::string& out, int64_t pack);

// Registers --variants and --eps ("a,b,c" lists; every item must be a number for --eps) and
// --exp.pack (runs per ensemble, models/experiments.h).
void add_condition_flags(CLI::App* cmd, std::vector<std::string>& variants, std::vector<float>& eps, int64_t& pack);
// The lists parsed by CLI11 into these, validated here: in range, no empty or repeated item;
// −0 in --eps is 0.
std::vector<float> checked_eps(const std::vector<float>& eps);
std::vector<std::string> checked_variants(const std::vector<std::string>& v);

// Every run's configuration (validate) and that each pack of `pack` runs fits in memory
// (models/limits.h): what run_experiment checks before it writes anything, for --dry-run too.
void check_plan(const std::vector<PlannedRun>& runs, const TrainConfig& base, int64_t pack);
// --dry-run: one line per run on stdout (id, width, lr, Wix and Wei rates).
void print_plan(const std::vector<PlannedRun>& runs);

}  // namespace dale::cli
