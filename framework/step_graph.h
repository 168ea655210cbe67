// A training step captured once as a CUDA graph and replayed (DESIGN.md, "Performance rules"):
// one graph launch instead of some hundred kernel launches per step. On the CPU, when disabled,
// or with an optimizer whose updates cannot be replayed (AdamW, Optimizer::graph_safe), run()
// just calls the step, so the caller's loop is the same either way — and so are the numbers.
//
// On CUDA, run(step): the first kWarmupSteps calls run step() eagerly; the next call records it
// as a graph and launches that once; every later call only launches the graph — step() is NOT
// called, so whatever it does on the host does not happen (the optimizers' counters are advanced
// here by Optimizer::count_replayed_step). What step() must be, to replay right:
//   - the same work every call: same shapes, same buffers. Its batch comes from a device cursor
//     (DeviceDataset::next_batch), not from a host start; results it keeps (loss sums) are added
//     into device buffers allocated before the first run(), never read on the host inside it.
//   - state carried from step to step is updated in place (parameters, momentum): a tensor
//     replaced by a new one each step would be read from the recorded, old buffer on replay.
//   - no host synchronization or host read, and no device allocation the cache cannot serve
//     (each throws while recording). Known ones, all outside a steady step: Tensor::item and
//     to_vector (to_host waits), Tensor::from_vector, copy_from(vector), upload_order and
//     BatchCursor::set (from_host waits); INormLayer::bei_is_uniform reads Bei only after its
//     version changed (copy_from), i.e. in the first step after building or loading; Optimizer::step
//     allocates momentum buffers in its first step only. The warm-up steps run all of these.
// Why two warm-up steps: the first also allocates what only a first step does, and it starts
// with nothing held from a previous step; the second starts like every later step, so once it
// has run, the allocator's cache holds every buffer a step needs (cuda/graph_pool.h).
//
// reset() drops the graph; the next calls warm up and record again. Call it before anything the
// graph reads or writes is freed or replaced, or a recorded argument changes: at each epoch (a
// new sample order, a new jitter epoch; setting the cursor back alone needs none), before a batch
// of another size (an epoch's short last batch), and before parameters or optimizer state are
// replaced by new tensors.
#pragma once
#include <functional>
#include <vector>

#include "framework/backend.h"
#include "framework/optimizer.h"

namespace dale {

class StepGraph {
 public:
  static constexpr int kWarmupSteps = 2;

  // `opts`: the optimizers step() updates (one per model of an ensemble), all of which must be
  // graph_safe() for graphs to be used; each counts every replay as a step.
  StepGraph(Device dev, bool enabled, std::vector<Optimizer*> opts);
  StepGraph(Device dev, bool enabled, Optimizer& opt) : StepGraph(dev, enabled, std::vector<Optimizer*>{&opt}) {}
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // One training step: step() itself, or a replay of its graph (see above). If recording fails
  // (step() or the capture throws), the error is rethrown and the step has not run on the device.
  void run(const std::function<void()>& step);
  void reset();
  bool uses_graphs() const { return be_ != nullptr; }  // CUDA, enabled, and a graph-safe optimizer
  bool active() const { return graph_ != nullptr; }    // a graph is recorded: run() replays it

 private:
  const Backend* be_ = nullptr;  // null: always eager
  std::vector<Optimizer*> opts_;
  void* graph_ = nullptr;
  int eager_runs_ = 0;  // since the last reset
};

}  // namespace dale
