// One training run of SPEC §9's protocol: epochs of jittered batches, the task loss plus every
// layer's local loss, one backward, one optimizer step; after each epoch an evaluation on the
// jittered train and test sets, one JSON Lines record and a checkpoint. Used by `dale train`
// and, later, by compare and sweep.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "datasets/device_dataset.h"
#include "datasets/fashion_mnist.h"
#include "datasets/jitter.h"
#include "framework/optimizer.h"
#include "models/network.h"

namespace dale {

struct TrainConfig {
  int64_t epochs = 50, batch_size = 32;
  uint64_t seed = 0;
  bool shuffle = true;                         // false: the files' order (the reference code)
  float brightness_factor = 0.f;               // ε_train
  // The study's --data.brightness_factor_eval: 0 (its default) tests on the test set jittered
  // like the training set; a non-zero value tests with the fixed shift δ = that value.
  float brightness_factor_eval = 0.f;
  bool clean_test = false;                     // dale only: test on the clean images (δ = 0)
  std::string data_dir = kDefaultFashionMnistDir;
  NetworkConfig model;
  OptimConfig opt;
  std::string out, ckpt, init, run;            // JSON Lines, checkpoint, initial state, run id
  int64_t max_steps = -1;                      // stop after this many steps (0: initial weights)
  int64_t eval_batch = 1000;                   // evaluation only: no gradients, bigger batches
  bool progress = false;                       // a live progress line on stderr
  bool diagnostics = true;                     // the study's measurements (models/diagnostics.h) in every record
  bool geometry = false;                       // --diag.geometry: synaptic geometry (models/geometry.h) too
  // Sweeps: a diverged run is a result (SPEC §9), recorded with diverged = true, not an error.
  bool record_divergence = false;
  std::optional<int64_t> config_id;            // sweep configuration shared across conditions
  // Continue from --exp.ckpt's last finished epoch (parameters, optimizer state, epoch, step) when
  // it exists; start fresh when it does not, so the same command starts and resumes a run.
  bool resume = false;
  // CUDA: record each epoch's step once as a CUDA graph and replay it (framework/step_graph.h);
  // the same numbers as eager launches. No effect on the CPU.
  bool cuda_graph = true;
  // Hold an exclusive lock on out and ckpt for the run (framework/output_file.h). compare and
  // sweep share one out among processes on purpose and lock each run themselves instead.
  bool lock_outputs = true;
};

// Checks every field; throws InputError naming the flag (--train.epochs …) and what is expected.
void validate(const TrainConfig& c);
nlohmann::json to_json(const TrainConfig& c);
std::string default_run_id(const TrainConfig& c);
// A run's identity: its configuration (to_json) without the paths it reads and writes, flattened
// to JSON pointers. Two records of one run id with different identities are different runs.
nlohmann::json run_identity(nlohmann::json config);
// The first difference of two flattened configurations, as "<key> is <there> there, <here> here"
// ("" when equal), with keys in the flags' dotted spelling.
std::string config_difference(const nlohmann::json& here, const nlohmann::json& there);

struct EvalResult {
  double acc = 0, loss = 0;  // accuracy in percent, mean loss
};
// How the test set is presented (SPEC §1): jittered like training, a fixed shift, or clean.
JitterSpec test_jitter(const TrainConfig& c);
EvalResult evaluate(Network& net, const DeviceDataset& d, const JitterSpec& j, uint64_t seed, uint32_t epoch,
                    int64_t batch);

struct TrainSummary {
  int64_t epochs_done = 0, steps = 0;
  double final_test_acc = 0;
  bool stopped_early = false;  // max_steps reached
  bool diverged = false;       // with record_divergence: the loss became NaN or infinite
  int64_t resumed_from = 0;    // the checkpoint's epoch when resuming, else 0
};

// One optimizer step on a batch: forward, cross-entropy (smoothing 0.1) plus the local losses,
// backward, update. Returns the task loss (on the device; reading it synchronizes).
Tensor train_step(Network& net, Optimizer& opt, const Batch& batch);

// Appends one JSON line to `path` crash-safely (one write; a torn last line is closed first).
void append_line(const std::string& path, const std::string& line);
// The records of JSON Lines files, in order; a torn (unparsable) last line of a file is skipped
// with a warning on stderr, any other bad line throws InputError naming file:line.
std::vector<nlohmann::json> read_records(const std::string& path);
// The records of `path` whose run id is in `runs`. Lines that do not name one of them are skipped
// without being parsed (a shared records file of a long sweep is scanned, not parsed), and so are
// lines that do not parse: what the resuming trainer needs, not a validation of the file.
std::vector<nlohmann::json> read_records_of(const std::string& path, const std::set<std::string>& runs);

// Runs the whole training. Throws InputError on bad input (before writing anything) and
// Error with code kExitDiverged when the loss becomes NaN or infinite.
// `on_record` sees each epoch's record after it is appended to c.out.
TrainSummary train(const TrainConfig& c, const FashionMNIST& data,
                   const std::function<void(const nlohmann::json&)>& on_record = {});

// K runs trained in lock step as one ensemble (models/ensemble.h): each config keeps its own
// seed, ε, rates, outputs and checkpoint; epochs, batch size, device, max_steps, resume and the
// network (variant, width, λ) must agree (InputError naming the flag otherwise). Each run's
// records and checkpoints are those it would write alone (elapsed_s aside: the ensemble's wall
// time), so a record does not depend on how runs were packed. A diverged run is recorded (record_divergence) and its
// companions go on. train() is the one-model case.
std::vector<TrainSummary> train_ensemble(const std::vector<TrainConfig>& cs, const FashionMNIST& data,
                                         const std::function<void(const nlohmann::json&)>& on_record = {});

}  // namespace dale
