// A training step as a replayed CUDA graph (see step_graph.h).
#include "framework/step_graph.h"

#include <utility>

namespace dale {

StepGraph::StepGraph(Device dev, bool enabled, std::vector<Optimizer*> opts) : opts_(std::move(opts)) {
  bool safe = true;
  for (const Optimizer* o : opts_) safe = safe && o->graph_safe();
  if (enabled && safe && dev == Device::CUDA && backend(dev).graph_begin) be_ = &backend(dev);
}

StepGraph::~StepGraph() {
  try {
    reset();
  } catch (...) {  // a destructor must not throw; the graph is gone either way
  }
}

void StepGraph::reset() {
  void* g = graph_;
  graph_ = nullptr;
  eager_runs_ = 0;
  if (g) be_->graph_destroy(g);
}

void StepGraph::run(const std::function<void()>& step) {
  if (!be_) return step();
  if (graph_) {
    be_->graph_launch(graph_);
    for (Optimizer* o : opts_) o->count_replayed_step();
    return;
  }
  if (eager_runs_ < kWarmupSteps) {
    step();
    ++eager_runs_;
    return;
  }
  be_->graph_begin();
  try {
    step();
  } catch (...) {
    try {  // end the capture and free what it held; the step's own error is the one to report
      be_->graph_destroy(be_->graph_end());
    } catch (...) {
    }
    throw;
  }
  graph_ = be_->graph_end();
  be_->graph_launch(graph_);  // recording ran nothing: this launch is the step
}

}  // namespace dale
