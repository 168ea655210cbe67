// The captured training step (framework/step_graph.h) against eager steps on the GPU: from the
// same initial weights and the same batches, every parameter, every optimizer buffer and the
// accumulated losses must be bit-identical after 30 steps — the graph replays the very kernels
// the eager step launches, so not one bit may differ. Also across a new epoch (reset, new order,
// new jitter epoch, a short last batch), and the graph's private memory pool: never handed to
// other allocations while the graph exists, all of it back in the cache when it is destroyed.
// Without a GPU the suite exits 77, which ctest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda/kernels.h"
#include "datasets/batch_cursor.h"
#include "datasets/device_dataset.h"
#include "framework/step_graph.h"
#include "models/trainer.h"
#include "tests/cuda/suite_main.h"
#include "tests/synthetic_data.h"

using namespace dale;

namespace {

constexpr int64_t kB = 32, kSteps = 30;

Dataset synthetic_dataset(int64_t n) {
  const test::SyntheticSplit s = test::make_synthetic_split(n, 3, 28);
  return Dataset{n, 28 * 28, s.images.pixels, s.labels};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One training run on the GPU: a network, its optimizer, the loss sums kept on the device (added
// to in place, inside the step, as the trainer must when the step is a graph).
struct Run {
  Network net;
  Optimizer opt;
  StepGraph graph;
  Tensor task_sum, local_sum;
  int host_steps = 0;  // how often the step's host code ran

  Run(const NetworkConfig& nc, const OptimConfig& oc, bool graphs)
      : net(nc), opt(net.parameters(), oc), graph(Device::CUDA, graphs, opt),
        task_sum(Tensor::zeros({1}, Device::CUDA)), local_sum(Tensor::zeros({1}, Device::CUDA)) {}

  void add_losses(const Tensor& task) {
    const Backend& be = backend(Device::CUDA);
    be.map(MapOp::Copy, 1, task.data(), nullptr, nullptr, 0.f, 1.f, task_sum.data());
    for (const Tensor& l : net.local_losses())
      if (l.defined()) be.map(MapOp::Copy, 1, l.data(), nullptr, nullptr, 0.f, 1.f, local_sum.data());
  }
};

struct Epoch {
  const DeviceDataset& data;
  std::shared_ptr<const DeviceBytes> order;
  uint32_t number;
  int64_t steps, last_batch;  // full batches, then one of last_batch rows (0: none)
};
const uint64_t kSeed = 9;

JitterSpec jitter() {
  JitterSpec j;
  j.eps = 0.75f;
  return j;
}

// The reference: plain eager steps on batches chosen by a host start (DeviceDataset::batch).
void train_eager(Run& r, const Epoch& e) {
  for (int64_t k = 0; k <= e.steps; ++k) {
    const int64_t B = k < e.steps ? kB : e.last_batch;
    if (B == 0) break;
    const Batch b = e.data.batch(*e.order, k * kB, B, jitter(), kSeed, e.number);
    r.add_losses(train_step(r.net, r.opt, b));
    ++r.host_steps;
  }
}

// The trainer's loop with graphs: the step fetches its batch through the device cursor; reset
// at the epoch's start and before the short last batch.
void train_graphed(Run& r, BatchCursor& cursor, const Epoch& e) {
  r.graph.reset();
  cursor.set(0);
  for (int64_t k = 0; k <= e.steps; ++k) {
    const int64_t B = k < e.steps ? kB : e.last_batch;
    if (B == 0) break;
    if (k == e.steps) r.graph.reset();
    r.graph.run([&] {
      const Batch b = e.data.next_batch(*e.order, cursor, B, jitter(), kSeed, e.number);
      r.add_losses(train_step(r.net, r.opt, b));
      ++r.host_steps;
    });
  }
}

void check_same(const Run& graphed, const Run& eager) {
  const SafetensorsFile g = graphed.net.state(), e = eager.net.state();
  REQUIRE(g.tensors.size() == e.tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    INFO("parameter " << e.tensors[i].name);
    CHECK(same_bits(g.tensors[i].data, e.tensors[i].data));
  }
  SafetensorsFile go, eo;  // momentum buffers and the step counters
  graphed.opt.save_state(go);
  eager.opt.save_state(eo);
  CHECK(go.metadata == eo.metadata);
  REQUIRE(go.tensors.size() == eo.tensors.size());
  for (size_t i = 0; i < go.tensors.size(); ++i) {
    INFO("optimizer state " << eo.tensors[i].name);
    CHECK(same_bits(go.tensors[i].data, eo.tensors[i].data));
  }
  CHECK(same_bits(graphed.task_sum.to_vector(), eager.task_sum.to_vector()));
  CHECK(same_bits(graphed.local_sum.to_vector(), eager.local_sum.to_vector()));
  CHECK(std::isfinite(eager.task_sum.item()));
}

NetworkConfig network(const std::string& variant) {
  NetworkConfig nc;
  nc.variant = variant;
  nc.width = 50;
  nc.seed = 21;
  nc.device = Device::CUDA;
  return nc;
}

OptimConfig optimizer(Algorithm alg) {
  OptimConfig oc;  // momentum and decay, so the optimizer's state buffers are replayed too
  oc.algorithm = alg;
  oc.momentum = 0.9f;
  oc.inhib_momentum = 0.5f;
  oc.wd = 1e-3f;
  return oc;
}

void check_graph_matches_eager(const std::string& variant, Algorithm alg) {
  INFO("variant " << variant << ", " << algorithm_name(alg));
  const DeviceDataset data(synthetic_dataset(kSteps * kB), Device::CUDA);
  const Epoch e{data, data.upload_order(epoch_order(data.size(), true, kSeed, 1)), 1, kSteps, 0};
  Run eager(network(variant), optimizer(alg), false), graphed(network(variant), optimizer(alg), true);
  REQUIRE(graphed.graph.uses_graphs());
  BatchCursor cursor(Device::CUDA);
  train_eager(eager, e);
  train_graphed(graphed, cursor, e);
  CHECK(graphed.graph.active());
  // The warm-up steps and the recorded one ran the host code; the other steps were replays.
  CHECK(graphed.host_steps == StepGraph::kWarmupSteps + 1);
  CHECK(eager.host_steps == kSteps);
  check_same(graphed, eager);
}

}  // namespace

TEST_CASE("30 steps of inorm+ (SGD) through a CUDA graph equal 30 eager steps bit for bit") {
  check_graph_matches_eager("inorm+", Algorithm::SGD);
}
TEST_CASE("30 steps of ei-ln+ (EG) through a CUDA graph equal 30 eager steps bit for bit") {
  check_graph_matches_eager("ei-ln+", Algorithm::EG);
}

TEST_CASE("next_batch on the GPU gives DeviceDataset::batch's batches, bit for bit") {
  const DeviceDataset data(synthetic_dataset(100), Device::CUDA);
  const auto order = data.upload_order(epoch_order(100, true, 4, 2));
  BatchCursor cursor(Device::CUDA, 5);
  for (int64_t start = 5; start + 19 <= 100; start += 19) {
    CAPTURE(start);
    const Batch got = data.next_batch(*order, cursor, 19, jitter(), 4, 2);
    const Batch want = data.batch(*order, start, 19, jitter(), 4, 2);
    CHECK(same_bits(got.x.to_vector(), want.x.to_vector()));
    CHECK(same_bits(got.y.to_vector(), want.y.to_vector()));
  }
}

TEST_CASE("after reset, a new epoch (new order, jitter epoch, short last batch) still matches eager") {
  const int64_t n = kSteps * kB + 10;
  const DeviceDataset data(synthetic_dataset(n), Device::CUDA);
  Run eager(network("inorm+"), optimizer(Algorithm::SGD), false),
      graphed(network("inorm+"), optimizer(Algorithm::SGD), true);
  BatchCursor cursor(Device::CUDA);
  for (uint32_t epoch = 1; epoch <= 2; ++epoch) {
    CAPTURE(epoch);
    const Epoch e{data, data.upload_order(epoch_order(n, true, kSeed, epoch)), epoch, kSteps, 10};
    train_eager(eager, e);
    train_graphed(graphed, cursor, e);
    check_same(graphed, eager);
  }
  // Per epoch: warm-up, the recorded step, and the short last batch (eager after its reset).
  CHECK(graphed.host_steps == 2 * (StepGraph::kWarmupSteps + 2));
}

// A run of the trainer's loop on one epoch's order, with graphs, stepped one call at a time.
struct PoolFixture {
  DeviceDataset data{synthetic_dataset(kSteps * kB), Device::CUDA};
  std::shared_ptr<const DeviceBytes> order = data.upload_order(epoch_order(data.size(), true, kSeed, 1));
  Run eager{network("inorm+"), optimizer(Algorithm::SGD), false};
  Run graphed{network("inorm+"), optimizer(Algorithm::SGD), true};
  BatchCursor cursor{Device::CUDA};
  int64_t steps = 0;

  void step() {
    graphed.graph.run([&] {
      const Batch b = data.next_batch(*order, cursor, kB, jitter(), kSeed, 1);
      graphed.add_losses(train_step(graphed.net, graphed.opt, b));
    });
    ++steps;
  }
  void warm_up() {
    for (int i = 0; i < StepGraph::kWarmupSteps; ++i) step();
    REQUIRE_FALSE(graphed.graph.active());
  }
  void check_against_eager() {  // the same number of steps, eagerly, from the same start
    REQUIRE(eager.host_steps == 0);
    train_eager(eager, Epoch{data, order, 1, steps, 0});
    check_same(graphed, eager);
  }
};

TEST_CASE("the graph's memory pool is reserved while it exists and all back in the cache after") {
  PoolFixture f;
  const int64_t pools_before = cuda::graph_pool_bytes();  // 0 unless another graph is alive
  f.warm_up();
  const int64_t cached_before = cuda::cached_bytes();
  f.step();  // recorded and launched
  REQUIRE(f.graphed.graph.active());
  CHECK(cuda::graph_pool_bytes() > pools_before);
  CHECK(cuda::cached_bytes() < cached_before);  // the step's buffers are the graph's now
  for (int i = 0; i < 4; ++i) f.step();
  f.graphed.graph.reset();
  // Exactly what the cache held before the recording: what a step keeps from one call to the
  // next (the layers' last z and local losses) was freed into the pool and retaken in the same
  // sizes; everything else the step used went back.
  CHECK(cuda::graph_pool_bytes() == pools_before);
  CHECK(cuda::cached_bytes() == cached_before);
  f.check_against_eager();
}

TEST_CASE("buffers allocated while a graph exists are never the graph's") {
  PoolFixture f;
  f.warm_up();
  f.step();
  REQUIRE(f.graphed.graph.active());
  // In the sizes a step uses, filled with a sentinel: a replay writing any of them would mean the
  // cache handed out one of the graph's buffers.
  const int64_t w = f.graphed.net.width;
  std::vector<Tensor> foreign;
  for (int64_t n : {int64_t(1), kB, kB * 10, kB * w, kB * 784, w, w * w, w * 784, w * 10})
    for (int copy = 0; copy < 6; ++copy) foreign.push_back(Tensor::full({n}, 12345.f, Device::CUDA));
  for (int i = 0; i < 5; ++i) f.step();
  for (const Tensor& t : foreign) {
    const std::vector<float> v = t.to_vector();
    CHECK(std::all_of(v.begin(), v.end(), [](float x) { return x == 12345.f; }));
  }
  f.check_against_eager();  // and the replays were not disturbed by them
}

TEST_CASE("AdamW is never recorded: its update depends on the step number") {
  const DeviceDataset data(synthetic_dataset(8 * kB), Device::CUDA);
  const auto order = data.upload_order(epoch_order(data.size(), true, kSeed, 1));
  Run r(network("inorm+"), optimizer(Algorithm::AdamW), true);
  CHECK_FALSE(r.graph.uses_graphs());
  BatchCursor cursor(Device::CUDA);
  for (int i = 0; i < 8; ++i)
    r.graph.run([&] {
      r.add_losses(train_step(r.net, r.opt, data.next_batch(*order, cursor, kB, jitter(), kSeed, 1)));
      ++r.host_steps;
    });
  CHECK_FALSE(r.graph.active());
  CHECK(r.host_steps == 8);

  // An ensemble's optimizers: one AdamW among them keeps the whole step eager.
  Run sgd(network("inorm+"), optimizer(Algorithm::SGD), true);
  CHECK(StepGraph(Device::CUDA, true, {&sgd.opt, &sgd.opt}).uses_graphs());
  CHECK_FALSE(StepGraph(Device::CUDA, true, {&sgd.opt, &r.opt}).uses_graphs());
}

int main(int argc, char** argv) { return dale::test::run_cuda_suite("cuda_graph", argc, argv); }
