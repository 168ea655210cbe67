// The training flags shared by `dale train`, `dale compare` and `dale sweep`: registered once,
// resolved into a TrainConfig once, so the three commands accept exactly the same options.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/trainer.h"

namespace dale::cli {

struct TrainFlags {
  TrainConfig c;
  std::string device = "cpu", algorithm = "sgd", gd_signs = "clamp";
  double eval_shift = 0;
  int shuffle = 1, nesterov = 0, cuda_graph = 1, clean_test = 0, geometry = 0;
  int64_t models = 1;  // --train.models (dale train only)
  std::string max_steps = "none";  // --exp.max_steps: none (no limit) or a step count ≥ 0
  bool quiet = false;
  // The validated configuration (device checked, strings parsed). Throws InputError.
  TrainConfig resolve() const;
};

// CLI11 validators ("" when the text is acceptable, else what was expected): a number written
// whole, with nothing after it and not empty (CLI11 2.1 reads '' as 0).
std::string real_number(const std::string& s);
// A whole number in uint64 range (seeds): "-1" is refused, not wrapped to 2^64 − 1.
std::string unsigned_integer(const std::string& s);
// A whole number ≥ min in int64 range; else "expected a whole number ≥ min, got '…'".
std::function<std::string(const std::string&)> whole_number_at_least(int64_t min);

// Training flags a command sets itself in every run it plans (dale sweep: each configuration's
// rates and width). They are not listed in the command's --help, and giving one — on the
// command line or in a config file — is refused with one line: "<flag>: <why>".
struct SetPerRun {
  std::vector<std::string> flags;
  std::string why;
};

// Registers every training flag on `cmd` (values land in *f). `with_run_flags` adds the flags
// that only make sense for one run (--model.variant, --data.brightness_factor, --exp.*).
void add_train_flags(CLI::App* cmd, const std::shared_ptr<TrainFlags>& f, bool with_run_flags,
                     const SetPerRun& set_per_run = {});

}  // namespace dale::cli
