// Registration and resolution of the shared training flags (see train_flags.h).
#include "tools/dale/train_flags.h"

#include <unistd.h>

#include <cstdint>
#include <optional>

#include "framework/backend.h"
#include "framework/check.h"
#include "framework/parse_number.h"

namespace dale::cli {

// --exp.max_steps: `none` (no limit, the default: −1 in TrainConfig) or a step count ≥ 0.
static std::optional<int64_t> step_limit(const std::string& s) {
  if (s == "none") return -1;
  const auto v = parse_int(s);
  return v && *v >= 0 ? v : std::nullopt;
}
static std::string step_limit_check(const std::string& s) {
  return step_limit(s) ? std::string() : fmt::format("expected a whole number ≥ 0, or none (no limit), got '{}'", s);
}

TrainConfig TrainFlags::resolve() const {
  TrainConfig cfg = c;
  if (shuffle != 0 && shuffle != 1) throw InputError("--train.shuffle: expected 0 or 1");
  if (nesterov != 0 && nesterov != 1) throw InputError("--opt.nesterov: expected 0 or 1");
  if (cuda_graph != 0 && cuda_graph != 1) throw InputError("--exp.cuda_graph: expected 0 or 1");
  cfg.cuda_graph = cuda_graph == 1;
  cfg.shuffle = shuffle == 1;
  cfg.opt.nesterov = nesterov == 1;
  cfg.opt.algorithm = parse_algorithm(algorithm);
  if (gd_signs != "clamp" && gd_signs != "freeze")
    throw InputError(fmt::format("--opt.gd_signs: '{}' is not a rule; expected clamp or freeze", gd_signs));
  cfg.opt.gd_sign_freeze = gd_signs == "freeze";
  if (geometry != 0 && geometry != 1) throw InputError("--diag.geometry: expected 0 or 1");
  cfg.geometry = geometry == 1;
  if (clean_test != 0 && clean_test != 1) throw InputError("--data.clean_test: expected 0 or 1");
  cfg.brightness_factor_eval = float(eval_shift);
  cfg.clean_test = clean_test == 1;
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
  if (const std::string e = step_limit_check(max_steps); !e.empty()) throw InputError("--exp.max_steps: " + e);
  if (max_steps != "none") cfg.max_steps = *step_limit(max_steps);  // none keeps c's (−1: no limit)
  cfg.progress = !quiet && ::isatty(2);
  validate(cfg);
  return cfg;
}

// CLI11 2.1 reads integers with strtoll(…, base 0): "010" is octal 8 and "0x10" is 16, and an
// unsigned option takes "-1" (and any overflow) as 2^64 − 1. The integer flags accept plain
// decimal only; validate() then checks the range with a message naming the flag.
// Why `s` is no whole number of the kind `expected` describes ("expected a whole number ≥ 1").
static std::string not_whole(const std::string& s, const std::string& expected, bool allow_negative) {
  const bool negative = !s.empty() && s[0] == '-';
  const std::string digits = negative ? s.substr(1) : s;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || (negative && !allow_negative))
    return fmt::format("{}, got '{}'", expected, s);
  if (digits.size() > 1 && digits[0] == '0') return fmt::format("{} without leading zeros, got '{}'", expected, s);
  return fmt::format("{} is out of range", s);
}
static std::string signed_integer(const std::string& s) {
  return parse_int(s) ? std::string() : not_whole(s, "expected a whole number", true);
}
std::string unsigned_integer(const std::string& s) {
  return parse_uint(s) ? std::string() : not_whole(s, "expected a whole number ≥ 0", false);
}
std::function<std::string(const std::string&)> whole_number_at_least(int64_t min) {
  return [min](const std::string& s) {
    const std::string expected = fmt::format("expected a whole number ≥ {}", min);
    const auto v = parse_int(s);
    if (!v) return not_whole(s, expected, min < 0);
    return *v >= min ? std::string() : fmt::format("{}, got '{}'", expected, s);
  };
}
// CLI11 2.1 reads an empty value as 0 (`--opt.lr ''` would train with lr 0): every real-valued
// option must be a number (no empty text, no trailing junk); validate() then checks its range.
std::string real_number(const std::string& s) {
  return parse_double(s) ? std::string() : fmt::format("expected a number, got '{}'", s);
}

// A flag the command sets in every run: registered again under its name, hidden from --help,
// and refused when given (also from a config file, which expands into the same flags).
static void refuse_set_per_run(CLI::App* t, const SetPerRun& set) {
  for (const std::string& name : set.flags) {
    CLI::Option* o = t->get_option_no_throw(name);
    if (!o) continue;
    t->remove_option(o);
    t->add_option(name, [name, why = set.why](const CLI::results_t&) -> bool {
       throw InputError(fmt::format("{}: {}", name, why));
     })->group("");
  }
}

void add_train_flags(CLI::App* t, const std::shared_ptr<TrainFlags>& f, bool with_run_flags, const SetPerRun& set) {
  TrainConfig& c = f->c;
  // An option given twice (config file, then command line) takes the last value.
  t->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  t->add_option("--config", "TOML file of these dotted options ([train] epochs = 3); the command line wins");
  t->add_option("--train.epochs", c.epochs, "epochs")->check(signed_integer)->capture_default_str();
  t->add_option("--train.batch_size", c.batch_size, "batch size")->check(signed_integer)->capture_default_str();
  t->add_option("--train.shuffle", f->shuffle, "1: seeded shuffle; 0: the files' order (the reference code)")
      ->check(signed_integer)
      ->capture_default_str();
  t->add_option("--train.eval_batch", c.eval_batch, "batch size of evaluation")->check(signed_integer)->capture_default_str();
  t->add_option("--data.brightness_factor_eval", f->eval_shift,
                "as the study's flag: 0 tests on the test set jittered like training; non-zero tests with the fixed "
                "shift δ = this")
      ->check(real_number)
      ->capture_default_str();
  t->add_option("--data.clean_test", f->clean_test, "1: test on the clean images (no shift; not in the study)")
      ->check(signed_integer)
      ->capture_default_str();
  t->add_option("--data.dir", c.data_dir, "directory of the FashionMNIST IDX files")->capture_default_str();
  t->add_option("--model.hidden_layer_width", c.model.width, "hidden width (0: 500 for E/EI, 234 for I-Norm)")
      ->check(signed_integer)
      ->capture_default_str();
  t->add_option("--model.num_layers", c.model.num_layers, "hidden layers fc0 … fc{L−1} (the study's figures: 2)")
      ->check(signed_integer)
      ->capture_default_str();
  t->add_option("--model.device,--device", f->device, "cpu or cuda")->capture_default_str();
  t->add_option("--opt.lr", c.opt.lr, "learning rate of Wex and biases")->check(real_number)->capture_default_str();
  t->add_option("--opt.inhib_lrs.wix", c.opt.lr_wix, "learning rate of Wix and Bix")->check(real_number)->capture_default_str();
  t->add_option("--opt.inhib_lrs.wei", c.opt.lr_wei, "learning rate of Wei and Bei")->check(real_number)->capture_default_str();
  t->add_option("--opt.momentum", c.opt.momentum)->check(real_number)->capture_default_str();
  t->add_option("--opt.inhib_momentum", c.opt.inhib_momentum)->check(real_number)->capture_default_str();
  t->add_option("--opt.wd", c.opt.wd, "decoupled weight decay (not for inhibitory groups)")->check(real_number)->capture_default_str();
  t->add_option("--opt.nesterov", f->nesterov, "1: Nesterov momentum")->check(signed_integer)->capture_default_str();
  t->add_option("--opt.algorithm", f->algorithm, "sgd, eg (exponentiated gradient) or adamw")->capture_default_str();
  t->add_option("--opt.gd_signs", f->gd_signs,
                "a GD step (sgd, adamw) that would make a sign-constrained weight negative: clamp (to 0, the study's) "
                "or freeze (leave it at 1e-18, the lab's sign-freezing GD)")
      ->capture_default_str();
  t->add_option("--model.init_rank", c.model.init_rank,
                "rank of the hidden layers' initial Wex: 0 = full (SPEC §7); r ≥ 1 = non-negative rank-r factors with "
                "the same mean and variance")
      ->check(signed_integer)
      ->capture_default_str();
  t->add_option("--model.init_gain", c.model.init_gain, "scale of the hidden layers' initial Wex (sd and mean × gain)")
      ->check(real_number)
      ->capture_default_str();
  t->add_option("--diag.geometry", f->geometry,
                "1: record synaptic geometry each epoch (weight distributions, change from init, effective rank, "
                "CKA; docs/geometry/README.md)")
      ->check(signed_integer)
      ->capture_default_str();
  t->add_option("--opt.lambda_homeo", c.model.lambda_homeo, "λ of the I-Norm (sub) mean loss")->check(real_number)->capture_default_str();
  t->add_option("--opt.lambda_homeo_var", c.model.lambda_homeo_var, "λ_var of the I-Norm loss")->check(real_number)->capture_default_str();
  t->add_flag("--quiet", f->quiet, "no progress line");
  t->add_option("--exp.cuda_graph", f->cuda_graph, "1: on CUDA, replay each step as a recorded CUDA graph; 0: eager launches")
      ->check(signed_integer)
      ->capture_default_str();
  refuse_set_per_run(t, set);
  if (!with_run_flags) return;
  t->add_option("--train.seed", c.seed, "seed of initialization, shuffling and jitter")
      ->check(unsigned_integer)
      ->capture_default_str();
  t->add_option("--data.brightness_factor", c.brightness_factor, "ε of the brightness jitter")->check(real_number)->capture_default_str();
  t->add_option("--model.variant", c.model.variant, "one of: " + variant_names())->capture_default_str();
  t->add_option("--exp.out", c.out, "append one JSON Lines record per epoch here");
  t->add_option("--exp.ckpt", c.ckpt, "safetensors checkpoint, written after each epoch and at the end");
  t->add_option("--exp.init", c.init, "start from this safetensors checkpoint");
  t->add_option("--exp.run", c.run, "run id in the records (default: variant-epsε-seedN)");
  t->add_option("--exp.max_steps", f->max_steps, "stop after N optimizer steps (0: write the initial weights; none: no limit)")
      ->check(step_limit_check)
      ->capture_default_str();
  t->add_option("--train.models", f->models,
                "train K models in lock step as one ensemble: seeds seed … seed + K − 1, run ids and checkpoints "
                "suffixed -model<k>")
      ->check(signed_integer)
      ->capture_default_str();
  t->add_flag("--exp.resume", c.resume,
              "continue from --exp.ckpt's last finished epoch if it exists (else start): bit-identical to an uninterrupted run");
}

}  // namespace dale::cli
