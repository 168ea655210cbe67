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
  CLI::Option* eval_shift_opt = nullptr;
  int shuffle = 1, nesterov = 0;
  bool quiet = false;
  // The validated configuration (device checked, strings parsed). Throws InputError.
  TrainConfig resolve() const;
};

// Registers every training flag on `cmd` (values land in *f). `with_run_flags` adds the flags
// that only make sense for one run (--model.variant, --data.brightness_factor, --exp.*).
void add_train_flags(CLI::App* cmd, const std::shared_ptr<TrainFlags>& f, bool with_run_flags);

}  // namespace dale::cli
