// K networks of one variant and width trained in lock step (issue 7): each model keeps its own
// seed, rates and ε, but one step runs all K at once — every layer's products as one batched
// GEMM over a model stack [K, B, ·] (framework/tensor.h) instead of K small ones.
//
// The K models are ordinary Networks (evaluation, diagnostics, checkpoints, optimizers work on
// them unchanged); their parameters are views into the stacked parameters of one more Network,
// `stack()`, whose tensors are [K, rows, cols]. An update through a model's view is therefore
// seen by the stack's next forward, and nothing is copied per step.
//
// Each model's loss is its own mean (framework/ops.h), and the models share no parameter, so
// the gradient of Σ_k loss_k with respect to model k's parameters is exactly model k's own
// gradient: a model of an ensemble trains as it would alone (tests/test_ensemble.cpp checks it
// against lone runs).
#pragma once
#include <memory>
#include <vector>

#include "datasets/batch_cursor.h"
#include "datasets/device_dataset.h"
#include "framework/optimizer.h"
#include "models/network.h"

namespace dale {

class Ensemble {
 public:
  // One config per model: same variant, width, inputs, classes, λ and device; seeds may differ.
  // Throws InputError naming what differs. With K = 1 there is no stack: stack() is model(0).
  explicit Ensemble(const std::vector<NetworkConfig>& models);
  size_t size() const { return models_.size(); }
  Network& model(size_t k) { return *models_[k]; }
  Network& stack() { return stack_ ? *stack_ : *models_[0]; }

  // One optimizer step of every model on a batch x ([K, B, inputs]; [B, inputs] when K = 1)
  // with labels y (K·B): forward, each model's cross-entropy (smoothing 0.1) plus its local
  // losses, one backward, then opts[k] updates model k. Returns the task losses [K] (device).
  Tensor train_step(const std::vector<Optimizer*>& opts, const Tensor& x, const Tensor& y);
  // After a model's parameters were replaced (a checkpoint loaded through its view): refreshes
  // what the stack caches about values (I-Norm's uniform-Bei check).
  void values_changed();

 private:
  std::vector<std::unique_ptr<Network>> models_;
  std::unique_ptr<Network> stack_;
  std::vector<Tensor> stack_params_;                    // the stack's parameters, in order
  std::vector<std::vector<Tensor>> model_params_;       // per model, the same order
};

// Where one model of an ensemble draws its batches: its epoch order, cursor, jitter and seed.
struct BatchSource {
  const DeviceBytes* order;
  BatchCursor* cursor;
  JitterSpec jitter;
  uint64_t seed;
};
// Each model's next B samples from its own source, gathered straight into one stack:
// x [K, B, dim], y [K·B] ([B, dim] and [B] when K = 1).
Batch next_stacked_batch(const DeviceDataset& d, const std::vector<BatchSource>& sources, int64_t B, uint32_t epoch);

}  // namespace dale
