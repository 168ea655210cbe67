// The tape: a vector of (output, closure) nodes and a plain reverse loop.
#include "framework/tape.h"
#include "framework/trace.h"

#include <vector>

#include "framework/backend.h"
#include "framework/check.h"

namespace dale {

namespace {
struct Node {
  std::shared_ptr<TensorImpl> out;
  BackwardFn fn;
  const char* name;  // the op's profiler range, so its backward shows under the same name
};
thread_local std::vector<Node> t_nodes;
thread_local bool t_grad_enabled = true;
thread_local uint64_t t_generation = 1;  // bumped by every backward (and reset)
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGrad::NoGrad() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGrad::~NoGrad() { t_grad_enabled = prev_; }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(Tensor& out, BackwardFn fn) {
  out.set_requires_grad(true);
  out.impl()->tape_generation = t_generation;
  t_nodes.push_back({out.shared(), std::move(fn), current_range()});
}

void backward(const Tensor& loss) {
  DALE_CHECK(loss.defined(), "backward: the loss is an undefined tensor");
  if (loss.numel() != 1)
    throw Error(fmt::format("backward: the loss must be a scalar (one element), got shape {}",
                            loss.shape().str()));
  if (!loss.requires_grad() || loss.impl()->tape_generation == 0)
    throw Error("backward: the loss does not depend on any tensor that requires a gradient");
  if (loss.impl()->tape_generation != t_generation)
    throw Error(
        "backward: the tape that produced this loss was already consumed by an earlier "
        "backward(); run the forward pass again");
  Tensor g = loss.grad_for_accumulation();
  backend(loss.device()).fill(1, 1.f, g.data());
  // Take the nodes first: a closure that throws must not leave a half-consumed tape behind.
  std::vector<Node> nodes;
  nodes.swap(t_nodes);
  ++t_generation;
  DALE_RANGE("backward");
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    if (!it->out->grad) continue;
    DALE_RANGE(it->name);
    it->fn(Tensor(it->out->grad));
  }
}

size_t tape_size() { return t_nodes.size(); }
void tape_reset() {
  t_nodes.clear();
  ++t_generation;
}

}  // namespace dale
