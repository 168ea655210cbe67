// Registration and resolution of the shared training flags (see train_flags.h).
#include "tools/dale/train_flags.h"

#include <unistd.h>

#include "framework/backend.h"
#include "framework/check.h"

namespace dale::cli {

TrainConfig TrainFlags::resolve() const {
  TrainConfig cfg = c;
  if (shuffle != 0 && shuffle != 1) throw InputError("--train.shuffle: expected 0 or 1");
  if (nesterov != 0 && nesterov != 1) throw InputError("--opt.nesterov: expected 0 or 1");
  cfg.shuffle = shuffle == 1;
  cfg.opt.nesterov = nesterov == 1;
  cfg.opt.algorithm = parse_algorithm(algorithm);
  if (eval_shift_opt && eval_shift_opt->count() > 0) cfg.brightness_factor_eval = float(eval_shift);
  if (device == "cpu") {
    cfg.model.device = Device::CPU;
  } else if (device == "cuda") {
    if (!backend_available(Device::CUDA))
      throw InputError("--device cuda: no CUDA device is available (dale was built without CUDA, "
                       "or this machine has no GPU); use --device cpu");
    cfg.model.device = Device::CUDA;
  } else {
    throw InputError(fmt::format("--device: '{}' is not a device; expected cpu or cuda", device));
  }
  cfg.progress = !quiet && ::isatty(2);
  validate(cfg);
  return cfg;
}

void add_train_flags(CLI::App* t, const std::shared_ptr<TrainFlags>& f, bool with_run_flags) {
  TrainConfig& c = f->c;
  // An option given twice (config file, then command line) takes the last value.
  t->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  t->add_option("--config", "TOML/INI file of these dotted options ([train] epochs = 3); the command line wins");
  t->add_option("--train.epochs", c.epochs, "epochs")->capture_default_str();
  t->add_option("--train.batch_size", c.batch_size, "batch size")->capture_default_str();
  t->add_option("--train.shuffle", f->shuffle, "1: seeded shuffle; 0: the files' order (the reference code)")
      ->capture_default_str();
  t->add_option("--train.eval_batch", c.eval_batch, "batch size of evaluation")->capture_default_str();
  f->eval_shift_opt = t->add_option("--data.brightness_factor_eval", f->eval_shift,
                                    "test with the fixed shift δ = this instead of jitter");
  t->add_option("--data.dir", c.data_dir, "directory of the FashionMNIST IDX files")->capture_default_str();
  t->add_option("--model.hidden_layer_width", c.model.width, "hidden width (0: 500 for E/EI, 234 for I-Norm)")
      ->capture_default_str();
  t->add_option("--model.device,--device", f->device, "cpu or cuda")->capture_default_str();
  t->add_option("--opt.lr", c.opt.lr, "learning rate of Wex and biases")->capture_default_str();
  t->add_option("--opt.inhib_lrs.wix", c.opt.lr_wix, "learning rate of Wix and Bix")->capture_default_str();
  t->add_option("--opt.inhib_lrs.wei", c.opt.lr_wei, "learning rate of Wei and Bei")->capture_default_str();
  t->add_option("--opt.momentum", c.opt.momentum)->capture_default_str();
  t->add_option("--opt.inhib_momentum", c.opt.inhib_momentum)->capture_default_str();
  t->add_option("--opt.wd", c.opt.wd, "decoupled weight decay (not for inhibitory groups)")->capture_default_str();
  t->add_option("--opt.nesterov", f->nesterov, "1: Nesterov momentum")->capture_default_str();
  t->add_option("--opt.algorithm", f->algorithm, "sgd, eg (exponentiated gradient) or adamw")->capture_default_str();
  t->add_option("--opt.lambda_homeo", c.model.lambda_homeo, "λ of the I-Norm (sub) mean loss")->capture_default_str();
  t->add_option("--opt.lambda_homeo_var", c.model.lambda_homeo_var, "λ_var of the I-Norm loss")->capture_default_str();
  t->add_flag("--quiet", f->quiet, "no progress line");
  if (!with_run_flags) return;
  t->add_option("--train.seed", c.seed, "seed of initialization, shuffling and jitter")->capture_default_str();
  t->add_option("--data.brightness_factor", c.brightness_factor, "ε of the brightness jitter")->capture_default_str();
  t->add_option("--model.variant", c.model.variant, "one of: " + variant_names())->capture_default_str();
  t->add_option("--exp.out", c.out, "append one JSON Lines record per epoch here");
  t->add_option("--exp.ckpt", c.ckpt, "safetensors checkpoint, written after each epoch and at the end");
  t->add_option("--exp.init", c.init, "start from this safetensors checkpoint");
  t->add_option("--exp.run", c.run, "run id in the records (default: variant-epsε-seedN)");
  t->add_option("--exp.max_steps", c.max_steps, "stop after N optimizer steps (0: write the initial weights)");
  t->add_flag("--exp.resume", c.resume,
              "continue from --exp.ckpt's last finished epoch if it exists (else start): bit-identical to an uninterrupted run");
}

}  // namespace dale::cli
