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

namespace dale::cli {

static void add_train(CLI::App& app) {
  auto c = std::make_shared<TrainConfig>();
  auto device = std::make_shared<std::string>("cpu");
  auto algorithm = std::make_shared<std::string>("sgd");
  auto eval_shift = std::make_shared<double>(0.0);
  auto quiet = std::make_shared<bool>(false);
  auto shuffle = std::make_shared<int>(1);
  auto nesterov = std::make_shared<int>(0);

  CLI::App* t = app.add_subcommand("train", "train one network on FashionMNIST with brightness jitter");
  // An option given twice (config file, then command line) takes the last value.
  t->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  t->add_option("--config", "TOML/INI file of these dotted options ([train] epochs = 3); the command line wins");
  t->add_option("--train.epochs", c->epochs, "epochs")->capture_default_str();
  t->add_option("--train.batch_size", c->batch_size, "batch size")->capture_default_str();
  t->add_option("--train.seed", c->seed, "seed of initialization, shuffling and jitter")->capture_default_str();
  t->add_option("--train.shuffle", *shuffle, "1: seeded shuffle; 0: the files' order (the reference code)")
      ->capture_default_str();
  t->add_option("--train.eval_batch", c->eval_batch, "batch size of evaluation")->capture_default_str();
  t->add_option("--data.brightness_factor", c->brightness_factor, "ε of the brightness jitter")
      ->capture_default_str();
  auto* ev = t->add_option("--data.brightness_factor_eval", *eval_shift,
                           "test with the fixed shift δ = this instead of jitter");
  t->add_option("--data.dir", c->data_dir, "directory of the FashionMNIST IDX files")->capture_default_str();
  t->add_option("--model.variant", c->model.variant, "one of: " + variant_names())->capture_default_str();
  t->add_option("--model.hidden_layer_width", c->model.width, "hidden width (0: 500 for E/EI, 234 for I-Norm)")
      ->capture_default_str();
  t->add_option("--model.device", *device, "cpu or cuda")->capture_default_str();
  t->add_option("--device", *device, "same as --model.device");
  t->add_option("--opt.lr", c->opt.lr, "learning rate of Wex and biases")->capture_default_str();
  t->add_option("--opt.inhib_lrs.wix", c->opt.lr_wix, "learning rate of Wix and Bix")->capture_default_str();
  t->add_option("--opt.inhib_lrs.wei", c->opt.lr_wei, "learning rate of Wei and Bei")->capture_default_str();
  t->add_option("--opt.momentum", c->opt.momentum)->capture_default_str();
  t->add_option("--opt.inhib_momentum", c->opt.inhib_momentum)->capture_default_str();
  t->add_option("--opt.wd", c->opt.wd, "decoupled weight decay (not for inhibitory groups)")->capture_default_str();
  t->add_option("--opt.nesterov", *nesterov, "1: Nesterov momentum")->capture_default_str();
  t->add_option("--opt.algorithm", *algorithm, "sgd, eg (exponentiated gradient) or adamw")->capture_default_str();
  t->add_option("--opt.lambda_homeo", c->model.lambda_homeo, "λ of the I-Norm (sub) mean loss")
      ->capture_default_str();
  t->add_option("--opt.lambda_homeo_var", c->model.lambda_homeo_var, "λ_var of the I-Norm loss")
      ->capture_default_str();
  t->add_option("--exp.out", c->out, "append one JSON Lines record per epoch here");
  t->add_option("--exp.ckpt", c->ckpt, "safetensors checkpoint, written after each epoch and at the end");
  t->add_option("--exp.init", c->init, "start from this safetensors checkpoint");
  t->add_option("--exp.run", c->run, "run id in the records (default: variant-epsε-seedN)");
  t->add_option("--exp.max_steps", c->max_steps, "stop after N optimizer steps (0: write the initial weights)");
  t->add_flag("--quiet", *quiet, "no progress line");

  t->callback([=]() {
    TrainConfig cfg = *c;
    if (*shuffle != 0 && *shuffle != 1) throw InputError("--train.shuffle: expected 0 or 1");
    if (*nesterov != 0 && *nesterov != 1) throw InputError("--opt.nesterov: expected 0 or 1");
    cfg.shuffle = *shuffle == 1;
    cfg.opt.nesterov = *nesterov == 1;
    cfg.opt.algorithm = parse_algorithm(*algorithm);
    if (ev->count() > 0) cfg.brightness_factor_eval = float(*eval_shift);
    if (*device == "cpu") cfg.model.device = Device::CPU;
    else if (*device == "cuda") {
      if (!backend_available(Device::CUDA))
        throw InputError("--device cuda: no CUDA device is available (dale was built without CUDA, "
                         "or this machine has no GPU); use --device cpu");
      cfg.model.device = Device::CUDA;
    } else throw InputError(fmt::format("--device: '{}' is not a device; expected cpu or cuda", *device));
    cfg.progress = !*quiet && ::isatty(2);
    validate(cfg);  // flags first, then the data: a typo costs no loading time

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
