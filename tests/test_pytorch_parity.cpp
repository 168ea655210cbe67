// Whole-network parity with the independent PyTorch reference (tools/make_fixtures.py): one
// forward, one backward of task + local losses, one SGD step, compared tensor by tensor with
// ‖dale − torch‖ / ‖torch‖ < 1e-4. The fixtures were computed in float64 from the same weights
// (dale's own SPEC §7 init, perturbed so the local losses are not ~0; see tests/fixtures/README.md).
#include <string>

#include "framework/optimizer.h"
#include "framework/safetensors.h"
#include "models/network.h"
#include "tests/testing.h"

using namespace dale;

namespace {

constexpr double kTol = 1e-4;

const NamedTensor& need(const SafetensorsFile& f, const std::string& name) {
  const NamedTensor* t = f.find(name);
  REQUIRE_MESSAGE(t != nullptr, "fixture has no tensor " << name);
  return *t;
}

void compare(const std::string& what, const std::vector<float>& got, const NamedTensor& want) {
  REQUIRE_MESSAGE(got.size() == want.data.size(), what << ": size " << got.size() << " vs " << want.data.size());
  const double e = dale::test::rel_error(got, want.data);
  CHECK_MESSAGE(e < kTol, what << ": relative error " << e);
}

void check_variant(const std::string& variant) {
  INFO("variant " << variant);
  const std::string path = std::string(DALE_TEST_DATA) + "/fixtures/" + variant + "_step.safetensors";
  const SafetensorsFile fx = read_safetensors(path);
  const NamedTensor& x = need(fx, "x");
  const int64_t width = need(fx, "before.fc0.Wex").shape[0];
  const int64_t B = x.shape[0];

  NetworkConfig cfg;
  cfg.variant = variant;
  cfg.width = width;
  cfg.inputs = x.shape[1];
  Network net(cfg);
  // The fixture's starting state is its before.* tensors.
  SafetensorsFile start;
  for (const NamedTensor& t : fx.tensors)
    if (t.name.rfind("before.", 0) == 0) start.tensors.push_back({t.name.substr(7), t.shape, t.data});
  net.load_state(start, path);

  Tensor xt = Tensor::from_vector(x.data, {B, x.shape[1]});
  Tensor yt = Tensor::from_vector(need(fx, "y").data, {B});
  Tensor logits = net.forward(xt, true);
  compare("logits", logits.to_vector(), need(fx, "logits"));
  for (size_t l = 0; l < net.hidden().size(); ++l)
    compare("z." + net.hidden()[l]->name(), net.hidden_z()[l].to_vector(), need(fx, "z." + net.hidden()[l]->name()));
  Tensor task = cross_entropy(logits, yt, 0.1f);
  compare("task_loss", task.to_vector(), need(fx, "task_loss"));
  Tensor total = task;
  for (auto& layer : net.hidden())
    if (layer->local_loss().defined()) {
      compare("local_loss." + layer->name(), layer->local_loss().to_vector(), need(fx, "local_loss." + layer->name()));
      total = add(total, layer->local_loss());
    }
  backward(total);

  int grads = 0;
  for (const Tensor& p : net.parameters()) {
    const NamedTensor* g = fx.find("grad." + p.name());
    if (p.frozen()) {
      CHECK_MESSAGE(g == nullptr, p.name() << " is frozen in dale but trained in the reference");
      continue;
    }
    REQUIRE_MESSAGE(g != nullptr, "fixture has no gradient for " << p.name());
    REQUIRE_MESSAGE(p.grad().defined(), p.name() << " received no gradient");
    compare("grad." + p.name(), p.grad().to_vector(), *g);
    ++grads;
  }
  CHECK(grads >= 10);

  OptimConfig oc;  // the fixture's step: SGD, lr 0.005 (wex, bias), 0.1 (wix, bix), 0.001 (wei, bei)
  oc.lr = 0.005f;
  oc.lr_wix = 0.1f;
  oc.lr_wei = 0.001f;
  Optimizer opt(net.parameters(), oc);
  opt.step();
  for (const Tensor& p : net.parameters()) compare("after." + p.name(), p.to_vector(), need(fx, "after." + p.name()));
}

}  // namespace

TEST_CASE("inorm+ matches the PyTorch reference for one training step") { check_variant("inorm+"); }
TEST_CASE("inorm- matches the PyTorch reference for one training step") { check_variant("inorm-"); }
TEST_CASE("ei-ln+ matches the PyTorch reference for one training step") { check_variant("ei-ln+"); }
