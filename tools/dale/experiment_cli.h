// What `dale compare` and `dale sweep` share on the command line: loading the data once,
// running a plan with a live line per finished run, and the closing summary table.
#pragma once
#include <string>
#include <vector>

#include "models/experiments.h"

namespace dale::cli {

// Executes `runs` (skipping finished ones), printing "[k/N] run … test_acc" per run, then a
// Markdown table variant × ε: mean ± sd of final test accuracy (and diverged counts) over every
// planned run found finished in `out`.
void run_experiment(const std::vector<PlannedRun>& runs, const TrainConfig& base, const std::string& out);

// "a,b,c" lists parsed by CLI11 into these, validated here.
std::vector<float> checked_eps(const std::vector<float>& eps);
std::vector<std::string> checked_variants(const std::vector<std::string>& v);

}  // namespace dale::cli
