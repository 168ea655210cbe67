// The optimizer of SPEC §8: parameter groups (wex, wix, wei, bix, bei, bias) with their own
// learning rate and momentum, the non-negativity clamp for sign-constrained groups, frozen
// parameters skipped. Algorithms (per-element rules in framework/optim_math.h):
//   SGD    the study's: momentum, Nesterov, decoupled decay after the step for wex and bias, clamp
//          (or, with gd_sign_freeze, the lab's sign-freezing: a crossing weight stays at 1e-18).
//   EG     linclab/EG_optimiser's, for the sign-constrained groups: wd·sign(p) added to the
//          gradient (wex only), then momentum / Nesterov, then p·exp(−lr·sign(p)·d); bix and
//          bias take the SGD step.
//   AdamW  the study's (HuggingFace's): eps added to √v, bias correction in the step size, then
//          p − lr·wd·p for every group, then the clamp; β = (0.9, 0.999), eps = 1e-6.
#pragma once
#include <string>
#include <vector>

#include "framework/backend.h"
#include "framework/safetensors.h"
#include "framework/tensor.h"

namespace dale {

enum class Algorithm { SGD, EG, AdamW };
Algorithm parse_algorithm(const std::string& s);  // "sgd" | "eg" | "adamw"; InputError otherwise
const char* algorithm_name(Algorithm a);

struct OptimConfig {
  Algorithm algorithm = Algorithm::SGD;
  float lr = 0.005f;      // wex and bias
  float lr_wix = 0.1f;    // wix and bix
  float lr_wei = 0.001f;  // wei and bei
  float momentum = 0.f, inhib_momentum = 0.f, wd = 0.f;
  bool nesterov = false;
  // --opt.gd_signs freeze: SGD and AdamW steps that would cross zero leave a sign-constrained
  // weight at kSignFreeze (the lab's freeze_gd_signs) instead of clamping it to 0.
  bool gd_sign_freeze = false;
};

bool is_inhibitory(Group g);       // wix, wei, bix, bei
bool is_sign_constrained(Group g);  // wex, wix, wei, bei
// The per-tensor arguments of one update for a parameter of group g (step is 1-based).
UpdateArgs update_args(const OptimConfig& c, Group g, int64_t step);

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, OptimConfig cfg);
  // One update of every trainable parameter that has a gradient, then every gradient is cleared.
  // One per-tensor kernel per parameter: the oracle of step_all, which does the same in one call.
  void step();
  void zero_grad();
  int64_t steps() const { return steps_; }
  // CUDA graphs (framework/step_graph.h) replay the update kernels with the arguments they were
  // recorded with. That is right for SGD and EG, whose arguments do not depend on the step
  // number, and wrong for AdamW, whose bias correction does: AdamW steps must stay eager.
  bool graph_safe() const { return cfg_.algorithm != Algorithm::AdamW; }
  // A replayed step ran the last step's updates on the device without calling step(): advance
  // the host counters (steps(), each parameter's update count) exactly as that step() did.
  void count_replayed_step();
  const OptimConfig& config() const { return cfg_; }
  // Optimizer state for checkpoints: tensors "opt.<param>.v" / "opt.<param>.m" and metadata
  // "opt.<param>.updates", "opt.steps". Loading checks names and shapes (InputError naming path).
  void save_state(SafetensorsFile& f) const;
  void load_state(const SafetensorsFile& f, const std::string& path);

 private:
  friend void step_all(const std::vector<Optimizer*>& opts);
  // The host side of one step (counters, state allocated on first use) and the updates it makes.
  void begin_step(std::vector<UpdateSlot>& out);

  struct Slot {
    Tensor p, v, m;  // momentum / second moment (v), first moment (m); allocated on demand
    int64_t updates = 0;  // this parameter's own step count (AdamW's bias correction)
    bool updated_last = false;  // whether the last step() updated it (it had a gradient)
  };
  std::vector<Slot> slots_;
  Device dev_ = Device::CPU;  // every parameter's device
  OptimConfig cfg_;
  int64_t steps_ = 0;
};

// opt->step() for every optimizer in opts — same updates, same counters, same numbers — as one
// Backend::update_multi call (one kernel launch on CUDA instead of one per parameter tensor).
// Every optimizer's parameters must be on one device.
void step_all(const std::vector<Optimizer*>& opts);

}  // namespace dale
