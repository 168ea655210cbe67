// What a training configuration may ask for, checked before any work (validate() calls
// check_limits): absolute caps on the integer settings, and the memory a run needs against the
// memory the machine has. A width, batch or ensemble too large for memory is refused in one line
// naming the flag, the estimate and the limit (exit 2), instead of failing an allocation later.
#pragma once
#include <cstdint>

#include "framework/tensor.h"
#include "models/network.h"

namespace dale {

struct TrainConfig;

// Absolute caps: far beyond any experiment of the study (50 epochs, widths 100–500, batch 32),
// they only stop a typo. Widths and batch sizes are GEMM dimensions, which the BLAS and cuBLAS
// take as 32-bit ints; the RNG keys jitter and shuffling by a 32-bit epoch.
inline constexpr int64_t kMaxEpochs = 1'000'000;
inline constexpr int64_t kMaxDimension = 2'147'483'647;  // INT32_MAX: width, batch, eval batch
inline constexpr int64_t kMaxHiddenLayers = 64;          // --model.num_layers (models/network.cpp checks it too)

// Parameters of the network `cfg` builds (Network's shapes, per variant; tests compare them with
// a built Network): trained ones (with a gradient and optimizer state) and frozen ones.
struct ParameterCount {
  double trained = 0, frozen = 0;
};
ParameterCount parameter_count(const NetworkConfig& cfg);

// Bytes one model of a run holds at its peak, counted from below (what the run cannot do
// without; the data set and scratch buffers are not counted), so a refused run could not have
// fitted: its parameters, their gradients and optimizer state (AdamW: two moments; SGD/EG: one
// momentum buffer when both momenta are > 0), plus the larger of a training batch's activations
// (each hidden layer's pre- and post-ReLU outputs, kept by the tape for the backward) and an
// evaluation batch's (input and two layer outputs at a time).
struct MemoryEstimate {
  double weights = 0, train_batch = 0, eval_batch = 0;
  double total() const { return weights + (train_batch > eval_batch ? train_batch : eval_batch); }
};
MemoryEstimate estimate_memory(const TrainConfig& c);

// The bytes a run may use on `d`: on the CPU the physical memory (sysconf), or the cgroup's
// memory limit when that is lower; 0 when unknown — on CUDA, where the backend table has no
// free-memory query yet, so only the absolute caps apply there.
double memory_limit(Device d);

// The absolute caps and one model's memory; InputError naming the flag otherwise.
void check_limits(const TrainConfig& c);
// `models` models of `c` trained together (--train.models, --exp.pack): InputError naming
// `models_flag` when they need more memory than the machine has (one model alone is
// check_limits' job).
void check_memory(const TrainConfig& c, int64_t models, const char* models_flag);

}  // namespace dale
