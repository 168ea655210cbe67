// StepGraph and the optimizer's side of replayed steps, on the CPU: no graphs there, so run()
// calls the step every time; a replayed step's host bookkeeping (Optimizer::count_replayed_step)
// equals that of a real step; AdamW refuses replay. The GPU side is tests/cuda/test_graph.cpp.
#include <map>
#include <string>

#include "framework/optimizer.h"
#include "framework/step_graph.h"
#include "tests/testing.h"

using namespace dale;

namespace {

Tensor make_param(const std::string& name, Group g) {
  Tensor t = Tensor::from_vector({0.5f, 1.25f, 2.0f}, {3});
  t.as_parameter(name, g);
  return t;
}

// The optimizer's counters as its checkpoint metadata records them.
std::map<std::string, std::string> counters(const Optimizer& opt) {
  SafetensorsFile f;
  opt.save_state(f);
  return f.metadata;
}

}  // namespace

TEST_CASE("StepGraph on the CPU calls the step on every run and never records a graph") {
  const Tensor p = make_param("l.Wex", Group::Wex);
  Optimizer opt({p}, OptimConfig{});
  StepGraph graph(Device::CPU, /*enabled=*/true, opt);
  CHECK_FALSE(graph.uses_graphs());
  int calls = 0;
  for (int i = 0; i < 5; ++i) graph.run([&] { ++calls; });
  CHECK(calls == 5);
  CHECK_FALSE(graph.active());
  graph.reset();
  graph.run([&] { ++calls; });
  CHECK(calls == 6);
}

TEST_CASE("count_replayed_step advances the counters exactly as the step it replays") {
  // Two parameters get gradients every step, one never does (a parameter no loss reaches).
  auto make = [] {
    return std::vector<Tensor>{make_param("a.Wex", Group::Wex), make_param("a.Wix", Group::Wix),
                               make_param("a.bias", Group::Bias)};
  };
  std::vector<Tensor> pa = make(), pb = make();
  Optimizer a(pa, OptimConfig{}), b(pb, OptimConfig{});
  auto grads = [](std::vector<Tensor>& ps) {
    for (size_t i = 0; i < 2; ++i) ps[i].grad_for_accumulation().copy_from(std::vector<float>{0.1f, 0.2f, 0.3f});
  };
  for (int step = 0; step < 3; ++step) {
    grads(pa);
    a.step();
  }
  grads(pb);
  b.step();
  b.count_replayed_step();
  b.count_replayed_step();
  CHECK(b.steps() == a.steps());
  CHECK(counters(b) == counters(a));
  CHECK(counters(b).at("opt.a.bias.updates") == "0");
  CHECK(counters(b).at("opt.a.Wex.updates") == "3");
}

TEST_CASE("graph_safe: SGD and EG replay, AdamW (step-dependent bias correction) does not") {
  const Tensor p = make_param("l.Wex", Group::Wex);
  OptimConfig c;
  for (Algorithm alg : {Algorithm::SGD, Algorithm::EG, Algorithm::AdamW}) {
    c.algorithm = alg;
    CAPTURE(algorithm_name(alg));
    CHECK(Optimizer({p}, c).graph_safe() == (alg != Algorithm::AdamW));
  }
}
