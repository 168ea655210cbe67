// The training flags shared by `dale train`, `dale compare` and `dale sweep`: registered once,
// resolved into a TrainConfig once, so the three commands accept exactly the same options.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "models/trainer.h"

namespace dale::cli {

struct TrainFlags {
  TrainConfig c;
  std::string device = "cpu", algorithm = "sgd";
  double eval_shift = 0;
  int shuffle = 1, nesterov = 0, cuda_graph = 1, clean_test = 0;
  int64_t models = 1;  // --train.models (dale train only)
  bool quiet = false;
  // The validated configuration (device checked, strings parsed). Throws InputError.
  TrainConfig resolve() const;
};

// CLI11 validators ("" when the text is acceptable, else what was expected): a number written
// whole, with nothing after it and not empty (CLI11 2.1 reads '' as 0).
std::string real_number(const std::string& s);

// Registers every training flag on `cmd` (values land in *f). `with_run_flags` adds the flags
// that only make sense for one run (--model.variant, --data.brightness_factor, --exp.*).
void add_train_flags(CLI::App* cmd, const std::shared_ptr<TrainFlags>& f, bool with_run_flags);

}  // namespace dale::cli
