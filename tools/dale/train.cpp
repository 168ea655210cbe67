// `dale train`: one run. Flags are named like the study's training scripts, as dotted names
// that can also come from a TOML file (--config): `[opt] lr = 0.005` ≡ `--opt.lr 0.005`.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "datasets/fashion_mnist.h"
#include "framework/backend.h"
#include "framework/check.h"
#include "models/limits.h"
#include "models/trainer.h"
#include "tools/dale/commands.h"
#include "tools/dale/train_flags.h"

namespace dale::cli {

// "path/run.safetensors" → "path/run.model3.safetensors": each model of an ensemble its own file.
static std::string model_path(const std::string& path, int64_t k) {
  if (path.empty()) return path;
  const auto slash = path.rfind('/'), dot = path.rfind('.');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return has_ext ? path.substr(0, dot) + fmt::format(".model{}", k) + path.substr(dot) : path + fmt::format(".model{}", k);
}

// --train.models K: K copies of the run with seeds seed + k, their own run ids and checkpoints.
static std::vector<TrainConfig> ensemble_configs(const TrainConfig& cfg, int64_t K) {
  if (K < 1 || K > 4096) throw InputError(fmt::format("--train.models: {} is not in [1, 4096]", K));
  check_memory(cfg, K, "--train.models");  // K networks side by side
  if (K == 1) return {cfg};
  std::vector<TrainConfig> cs;
  for (int64_t k = 0; k < K; ++k) {
    TrainConfig c = cfg;
    c.seed = cfg.seed + uint64_t(k);
    c.run = cfg.run.empty() ? default_run_id(c) : fmt::format("{}-model{}", cfg.run, k);
    c.ckpt = model_path(cfg.ckpt, k);
    cs.push_back(c);
  }
  return cs;
}

static void add_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* t = app.add_subcommand("train", "train one network (or --train.models K in lock step) on FashionMNIST "
                                            "with brightness jitter");
  add_train_flags(t, f, /*with_run_flags=*/true);
  t->callback([f]() {
    const TrainConfig cfg = f->resolve();  // flags first, then the data: a typo costs no loading time
    const std::vector<TrainConfig> cs = ensemble_configs(cfg, f->models);
    // Allowed (a smoke test, a timing), but never silently: the accuracy printed at the end is
    // all that remains of such a run.
    if (cfg.out.empty() && cfg.ckpt.empty())
      std::fprintf(stderr, "dale: warning: neither --exp.out nor --exp.ckpt is given: no record or checkpoint of this "
                           "run will be saved\n");
    const FashionMNIST data = load_fashion_mnist(cfg.data_dir);
    const int64_t epochs = cfg.epochs;
    const auto summaries = train_ensemble(cs, data, [&](const nlohmann::json& r) {
      std::fprintf(stderr, "%sepoch %lld/%lld  train %.2f%% (loss %.4f)  test %.2f%% (loss %.4f)  local %.3g  %.1f s\n",
                   cs.size() > 1 ? (r["run"].get<std::string>() + "  ").c_str() : "",
                   (long long)r["epoch"].get<int64_t>(), (long long)epochs, r["train_acc"].get<double>(),
                   r["train_loss"].get<double>(), r["test_acc"].get<double>(), r["test_loss"].get<double>(),
                   r["local_loss"]["total"].get<double>(), r["elapsed_s"].get<double>());
    });
    for (size_t k = 0; k < cs.size(); ++k) {
      const TrainSummary& s = summaries[k];
      if (s.stopped_early)
        std::printf("stopped after %lld steps (--exp.max_steps)%s\n", (long long)s.steps,
                    cs[k].ckpt.empty() ? "" : fmt::format("; checkpoint {}", cs[k].ckpt).c_str());
      else
        std::printf("final: variant=%s eps=%g epochs=%lld test_acc=%.2f seed=%llu%s\n", cs[k].model.variant.c_str(),
                    cs[k].brightness_factor, (long long)s.epochs_done, s.final_test_acc,
                    (unsigned long long)cs[k].seed, s.diverged ? " (diverged)" : "");
    }
    set_exit_code(kExitOk);
  });
}
DALE_COMMAND(10, add_train);

static void add_variants(CLI::App& app) {
  CLI::App* v = app.add_subcommand("variants", "list the network variants of the study");
  v->callback([] {
    for (const auto& x : all_variants())
      std::printf("%-18s width %3lld  %s\n", x.name.c_str(), (long long)x.default_width, x.description.c_str());
  });
}

DALE_COMMAND(90, add_variants);

}  // namespace dale::cli
