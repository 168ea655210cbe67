// The autodiff tape (micrograd's idea, ggml's loop): every differentiable op that runs while
// autodiff is on appends one node — its output and a closure that, given the output's gradient,
// accumulates into its inputs' gradients. backward(loss) seeds d loss = 1 and runs the closures
// in reverse creation order, once; the tape is then empty and the loss cannot be backpropagated
// again (run the forward again). Gradients always accumulate; zero them explicitly.
#pragma once
#include <functional>
#include <initializer_list>

#include "framework/tensor.h"

namespace dale {

using BackwardFn = std::function<void(const Tensor& grad_out)>;

bool grad_enabled();

// RAII scope in which ops record nothing (evaluation, diagnostics, optimizer updates).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

// True when autodiff is on and some input requires a gradient: the op must then record.
bool needs_grad(std::initializer_list<Tensor> inputs);
// Marks `out` as produced by this tape pass and appends its backward closure.
void record(Tensor& out, BackwardFn fn);

void backward(const Tensor& loss);
size_t tape_size();
// Drops recorded nodes without running them (a forward whose loss is not backpropagated).
void tape_reset();

}  // namespace dale
