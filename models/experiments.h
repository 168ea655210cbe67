// Experiments are lists of independent training runs (DESIGN: "a sweep is a list of independent
// runs"): `dale compare` plans variants × ε × seeds, `dale sweep` plans SPEC §9's random
// configurations × conditions. Both execute the same way: runs already finished in the output
// file are skipped (so a killed experiment resumes), every other run appends its epoch records,
// and a diverged run is recorded as a result. A shard i/n runs every n-th run, so SLURM job
// arrays split an experiment and the outputs merge by concatenation.
#pragma once
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "models/trainer.h"

namespace dale {

struct PlannedRun {
  std::string run;  // unique id within the experiment
  TrainConfig cfg;
};

std::vector<PlannedRun> plan_compare(const TrainConfig& base, const std::vector<std::string>& variants,
                                     const std::vector<float>& eps, const std::vector<uint64_t>& seeds);

struct SweepRanges {  // SPEC §9: log-uniform rates, uniform integer width
  float lr_lo = 1e-3f, lr_hi = 1e-2f, wei_lo = 1e-5f, wei_hi = 1e-2f, wix_lo = 1e-2f, wix_hi = 1.f;
  int64_t width_lo = 100, width_hi = 499;
};
struct SweepConfig {
  int64_t id;
  float lr, lr_wei, lr_wix;
  int64_t width;
};
// The study's own 30 configurations (models/study_sweep_configs.inc, ids 0–29): what its sweep
// trained for every condition, and what `dale sweep` trains by default.
const std::vector<SweepConfig>& study_sweep_configs();
// `n` new configurations from RngStream(seed, kStreamSweep): the same for every condition.
std::vector<SweepConfig> draw_sweep_configs(int64_t n, uint64_t seed, const SweepRanges& r);
// Runs ordered configuration-major; run seed = configuration id (one seed per run, SPEC §9).
std::vector<PlannedRun> plan_sweep(const TrainConfig& base, const std::vector<SweepConfig>& configs,
                                   const std::vector<std::string>& variants, const std::vector<float>& eps);

struct Shard {
  int64_t index = 0, count = 1;  // this process runs runs j with j % count == index
};
Shard parse_shard(const std::string& s);  // "i/n", 0 ≤ i < n; InputError otherwise
// --shard if given, else SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (relative to
// SLURM_ARRAY_TASK_MIN when set), else 0/1.
Shard resolve_shard(const std::string& flag);
std::vector<PlannedRun> select_shard(const std::vector<PlannedRun>& runs, const Shard& s);

// Run ids with a final record (finished or diverged) in `path`; empty if it does not exist.
std::set<std::string> finished_runs(const std::string& path);

struct RunResult {
  std::string run, variant;
  float eps = 0;
  double test_acc = 0;
  bool diverged = false, skipped = false;
  double seconds = 0;
  bool held = false;  // skipped because another process is training it
};
// Runs every planned run not yet finished in `out`, in order; a run interrupted mid-way resumes
// from its checkpoint in `<out>.ckpt/` (removed when the run finishes). `on_run` sees each result.
// A run id is its configuration: a record in `out` of a planned id with another configuration is
// refused (InputError naming the first differing key) before any work. Each run is locked while
// it trains (framework/output_file.h), so processes sharing `out` — SLURM shards, or a second
// sweep by mistake — never train one run twice: a run another process holds is skipped.
// Up to `pack` runs that can share a step — same variant and width, and resuming from the same
// epoch — train together as one ensemble (train_ensemble): the same records and checkpoints as
// one by one, in fewer, larger kernels.
// The checks execute_runs makes before any work (run identity against `out`'s records, output
// paths against each other and the inputs), for callers that print or load before it.
void check_runs(const std::vector<PlannedRun>& runs, const std::string& out);
std::vector<RunResult> execute_runs(const std::vector<PlannedRun>& runs, const FashionMNIST& data,
                                    const std::string& out,
                                    const std::function<void(const RunResult&, size_t done, size_t total)>& on_run,
                                    int64_t pack = 1);

}  // namespace dale
