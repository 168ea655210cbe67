// `dale train`: one run. Flags are named like the study's training scripts, as dotted names
// that can also come from a TOML/INI file (--config): `[opt] lr = 0.005` ≡ `--opt.lr 0.005`.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "datasets/fashion_mnist.h"
#include "framework/backend.h"
#include "framework/check.h"
#include "models/trainer.h"
#include "tools/dale/commands.h"
#include "tools/dale/train_flags.h"

namespace dale::cli {

static void add_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* t = app.add_subcommand("train", "train one network on FashionMNIST with brightness jitter");
  add_train_flags(t, f, /*with_run_flags=*/true);
  t->callback([f]() {
    const TrainConfig cfg = f->resolve();  // flags first, then the data: a typo costs no loading time
    const FashionMNIST data = load_fashion_mnist(cfg.data_dir);
    const int64_t epochs = cfg.epochs;
    const TrainSummary s = train(cfg, data, [&](const nlohmann::json& r) {
      std::fprintf(stderr, "epoch %lld/%lld  train %.2f%% (loss %.4f)  test %.2f%% (loss %.4f)  local %.3g  %.1f s\n",
                   (long long)r["epoch"].get<int64_t>(), (long long)epochs, r["train_acc"].get<double>(),
                   r["train_loss"].get<double>(), r["test_acc"].get<double>(), r["test_loss"].get<double>(),
                   r["local_loss"]["total"].get<double>(), r["elapsed_s"].get<double>());
    });
    if (s.stopped_early)
      std::printf("stopped after %lld steps (--exp.max_steps)%s\n", (long long)s.steps,
                  cfg.ckpt.empty() ? "" : fmt::format("; checkpoint {}", cfg.ckpt).c_str());
    else
      std::printf("final: variant=%s eps=%g epochs=%lld test_acc=%.2f\n", cfg.model.variant.c_str(),
                  cfg.brightness_factor, (long long)s.epochs_done, s.final_test_acc);
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
