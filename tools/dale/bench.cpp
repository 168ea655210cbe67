// `dale bench`: training throughput of the study's networks in this process — steps per second
// at the given batch size (after warm-up; the data on the device, no I/O, no logging), and the
// time of one epoch with evaluation projected from it (60 000 / B steps + one measured pass over
// the jittered train and test sets). bench/peer.sh runs it beside bench/torch_peer.py.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "datasets/device_dataset.h"
#include "framework/check.h"
#include "datasets/batch_cursor.h"
#include "framework/ops.h"
#include "framework/step_graph.h"
#include "models/ensemble.h"
#include "models/trainer.h"
#include "tools/dale/commands.h"
#include "tools/dale/experiment_cli.h"
#include "tools/dale/train_flags.h"
#include "framework/output_file.h"
#include "tools/dale/write_atomically.h"

namespace dale::cli {

struct BenchRow {
  std::string variant, mode;
  int64_t width = 0, batch = 0, steps = 0, models = 1;
  double steps_per_s = 0, eval_s = 0, epoch_s = 0;
};

// K models of `variant` (seeds seed … seed + K − 1) trained in lock step (models/ensemble.h);
// K = 1 is the plain network. steps_per_s counts ensemble steps (model-steps = K × that);
// eval_s is one evaluation pass of every model; epoch_s one epoch of all K with evaluation.
static BenchRow bench_variant(TrainConfig c, const std::string& variant, int64_t K, bool graph,
                              const FashionMNIST& data, int64_t warmup, int64_t steps) {
  c.model.variant = variant;
  c.model.inputs = data.train.dim;
  std::vector<NetworkConfig> cfgs;
  for (int64_t k = 0; k < K; ++k) {
    cfgs.push_back(c.model);
    cfgs.back().seed = c.seed + uint64_t(k);
  }
  Ensemble ens(cfgs);
  std::vector<std::unique_ptr<Optimizer>> opts;
  std::vector<Optimizer*> opt_ptrs;
  for (int64_t k = 0; k < K; ++k) {
    opts.push_back(std::make_unique<Optimizer>(ens.model(size_t(k)).parameters(), c.opt));
    opt_ptrs.push_back(opts.back().get());
  }
  const Device dev = c.model.device;
  const DeviceDataset train_set(data.train, dev), test_set(data.test, dev);
  const int64_t n = data.train.n, B = c.batch_size;
  const auto order = train_set.upload_order(epoch_order(n, true, c.seed, 1));
  const JitterSpec jitter{c.brightness_factor, false, 0.f};
  // The trainer's step: each model's batch from its device cursor, one ensemble step, the task
  // losses summed on the device; recorded as a CUDA graph and replayed when `graph`.
  StepGraph step_graph(dev, graph, opt_ptrs);
  std::vector<std::unique_ptr<BatchCursor>> cursors;
  for (int64_t m = 0; m < K; ++m) cursors.push_back(std::make_unique<BatchCursor>(dev));
  std::vector<BatchSource> sources;
  for (int64_t m = 0; m < K; ++m) sources.push_back({order.get(), cursors[size_t(m)].get(), jitter, c.seed + uint64_t(m)});
  const Tensor loss_sum = Tensor::zeros({K}, dev);
  auto run = [&](int64_t from, int64_t count) {
    for (int64_t k = from; k < from + count; ++k) {
      if (k % (n / B) == 0)  // wrap around the epoch (a host write between steps; no new graph)
        for (auto& cur : cursors) cur->set(0);
      step_graph.run([&] {
        const Batch b = next_stacked_batch(train_set, sources, B, 1);
        const Tensor loss = ens.train_step(opt_ptrs, b.x, b.y);
        backend(dev).map(MapOp::Copy, K, loss.data(), nullptr, nullptr, 0.f, 1.f, loss_sum.data());
      });
    }
    const float v = sum(loss_sum).item();  // waits for the device
    if (!std::isfinite(v)) throw Error(fmt::format("dale bench: {} diverged (loss {})", variant, v), kExitDiverged);
  };
  using clock = std::chrono::steady_clock;
  run(0, warmup);
  const auto t0 = clock::now();
  run(warmup, steps);
  const auto t1 = clock::now();
  evaluate(ens.model(0), train_set, jitter, c.seed + 1, 1, c.eval_batch);
  evaluate(ens.model(0), test_set, jitter, c.seed + 2, 1, c.eval_batch);
  const auto t2 = clock::now();

  const std::string how = step_graph.uses_graphs() ? "graph" : "eager";
  BenchRow r{variant, K == 1 ? how : fmt::format("{} ensemble K={}", how, K),
             c.model.width > 0 ? c.model.width : find_variant(variant).default_width, B, steps, K};
  r.steps_per_s = double(steps) / std::chrono::duration<double>(t1 - t0).count();
  r.eval_s = double(K) * std::chrono::duration<double>(t2 - t1).count();  // each model evaluates alone
  r.epoch_s = double((n + B - 1) / B) / r.steps_per_s + r.eval_s;
  return r;
}

static void add_bench(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  auto variants = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"ei-ln+", "inorm-", "inorm+"});
  auto steps = std::make_shared<int64_t>(500);
  auto warmup = std::make_shared<int64_t>(50);
  auto json_out = std::make_shared<std::string>();
  auto models = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{1});
  auto modes = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"eager", "graph"});
  CLI::App* c = app.add_subcommand("bench", "training steps per second and epoch time of the study's networks");
  add_train_flags(c, f, /*with_run_flags=*/false);
  c->add_option("--variants", *variants, "comma-separated variants")->delimiter(',')->capture_default_str();
  c->add_option("--steps", *steps, "timed optimizer steps per variant")->check(CLI::PositiveNumber)->capture_default_str();
  c->add_option("--warmup", *warmup, "untimed steps first (allocator, caches)")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c->add_option("--models", *models,
                "comma-separated ensemble sizes K (1: the plain network; K > 1: K models in lock step)")
      ->delimiter(',')
      ->capture_default_str();
  c->add_option("--modes", *modes, "eager and/or graph (CUDA graphs; skipped on the CPU, where there are none)")
      ->delimiter(',')
      ->capture_default_str();
  c->add_option("--json", *json_out, "also write the rows as JSON here");
  c->callback([=]() {
    TrainConfig base = f->resolve();
    check_replaceable(*json_out, "--json");  // before any work
    base.brightness_factor = 0.75f;
    const auto names = checked_variants(*variants);
    const FashionMNIST data = load_fashion_mnist(base.data_dir);
    if (base.batch_size > data.train.n)
      throw InputError(fmt::format("--train.batch_size: {} is larger than the training set", base.batch_size));
    for (int64_t K : *models)
      if (K < 1 || K > 4096) throw InputError(fmt::format("--models: {} is not in [1, 4096]", K));
    std::vector<bool> graph_modes;
    for (const auto& m : *modes) {
      if (m != "eager" && m != "graph") throw InputError(fmt::format("--modes: '{}' is not eager or graph", m));
      if (m == "graph" && base.model.device == Device::CPU) {
        std::fprintf(stderr, "dale bench: --modes graph skipped: CUDA graphs exist only on --device cuda\n");
        continue;
      }
      graph_modes.push_back(m == "graph");
    }
    std::printf("| variant | width | batch | device | mode | steps/s | model-steps/s | µs/step | eval s | "
                "s/epoch with eval |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    nlohmann::json rows = nlohmann::json::array();
    std::vector<std::string> projections;
    for (const auto& v : names)
      for (bool graph : graph_modes)
        for (int64_t K : *models) {
          const BenchRow r = bench_variant(base, v, K, graph, data, *warmup, *steps);
          // SPEC §9's sweep: 4 ε × 8 conditions × 30 configurations = 960 runs of 50 epochs, each
          // epoch's training plus its evaluation, at this row's rate (all runs taken as this one).
          const double sweep_h = 960.0 * 50.0 * r.epoch_s / double(K) / 3600.0;
          projections.push_back(fmt::format("{} {}: the 960-run × 50-epoch sweep at this rate: {:.2f} h", r.variant,
                                            r.mode, sweep_h));
          std::printf("| %s | %lld | %lld | %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f |\n", r.variant.c_str(),
                      (long long)r.width, (long long)r.batch, device_name(base.model.device), r.mode.c_str(),
                      r.steps_per_s, r.steps_per_s * double(K), 1e6 / r.steps_per_s, r.eval_s, r.epoch_s);
          std::fflush(stdout);
          rows.push_back({{"side", "dale"}, {"variant", r.variant}, {"width", r.width}, {"batch", r.batch},
                          {"device", device_name(base.model.device)}, {"mode", r.mode}, {"models", K},
                          {"steps", r.steps}, {"steps_per_s", r.steps_per_s},
                          {"model_steps_per_s", r.steps_per_s * double(K)}, {"eval_s", r.eval_s},
                          {"epoch_s", r.epoch_s}, {"sweep_hours", sweep_h}});
        }
    for (const auto& line : projections) std::printf("\n%s", line.c_str());
    std::printf("\n");
    if (!json_out->empty()) write_atomically(*json_out, rows.dump(2) + "\n", "--json");
    set_exit_code(kExitOk);
  });
}
DALE_COMMAND(40, add_bench);

}  // namespace dale::cli
