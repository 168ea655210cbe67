// Bad input that dale once accepted or reported as something else (issue 16, items 8, 9, 10, 13):
// a width or batch beyond memory (once "check p != nullptr failed", exit 1); checkpoints with
// negative sign-constrained weights (accepted: Dale's principle broken) or NaN (reported as
// "diverged", exit 3); `--shard ''` (all shards); flags `dale sweep` ignores; −1 step limits and
// seeds; repeated, empty and −0 list items; an unknown command. Each case runs the real `dale`
// (DALE_TEST_EXE overrides which, to check a case against an older build) on the synthetic data
// and checks the README's contract: exit 2, one stderr line "dale: …" naming the flag or file and
// what was expected, nothing written.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "framework/check.h"
#include "framework/optimizer.h"
#include "framework/safetensors.h"
#include "models/limits.h"
#include "models/network.h"
#include "models/trainer.h"
#include "tests/synthetic_data.h"
#include "tests/cli_workspace.h"
#include "tests/testing.h"

namespace fs = std::filesystem;
using dale::test::read_text;
using dale::test::shell_quote;
using dale::test::TempDir;

namespace {

std::string dale_exe() {
  const char* e = std::getenv("DALE_TEST_EXE");
  return e && *e ? e : std::string(DALE_BINARY_DIR) + "/dale";
}

using Result = dale::test::CommandResult;

// data/ (synthetic, 8 × 8 images), out/ (every output; must stay empty on bad input), logs/.
struct Space : dale::test::CliWorkspace {
  void clear_outputs() const {
    for (const auto& f : outputs()) fs::remove_all(f);
  }
  // `dale <args>` under `timeout 120`, SLURM's array variables removed unless `env` sets them.
  Result run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::string cmd = "timeout 120 env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN";
    for (const auto& v : env) cmd += " " + shell_quote(v);
    cmd += " " + shell_quote(dale_exe());
    for (const auto& a : args) cmd += " " + shell_quote(a);
    return dale::test::run_captured(cmd, tmp / ("logs/" + std::to_string(runs++)));
  }
  // One epoch of a width-8 network on the synthetic data, outputs into out/.
  std::vector<std::string> train(std::initializer_list<std::string> extra) const {
    std::vector<std::string> a = {"train", "--data.dir", data, "--model.hidden_layer_width", "8", "--train.epochs", "1",
                                  "--quiet", "--exp.out", out("r.jsonl"), "--exp.ckpt", out("c.safetensors")};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::vector<std::string> compare(std::initializer_list<std::string> extra) const {
    std::vector<std::string> a = {"compare", "--data.dir", data, "--model.hidden_layer_width", "8", "--train.epochs",
                                  "1", "--quiet", "--exp.out", out("x.jsonl")};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // The sweep's configurations set the width and rates: none given here. (A list option given
  // twice appends, as CLI11 does: --variants and --eps only when `extra` has none.)
  std::vector<std::string> sweep(std::initializer_list<std::string> extra) const {
    std::vector<std::string> a = {"sweep", "--data.dir", data, "--train.epochs", "1", "--quiet", "--exp.out",
                                  out("x.jsonl"), "--sweep.configs", "1"};
    for (const char* list : {"--variants", "--eps"})
      if (std::find(extra.begin(), extra.end(), list) == extra.end())
        a.insert(a.end(), {list, std::string(list) == "--eps" ? "0" : "ei"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

std::string joined(const std::vector<std::string>& args) {
  std::string s = "dale";
  for (const auto& a : args) s += " " + a;
  return s;
}

// The bad-input contract: exit 2, one line "dale: …" holding every needle, nothing under out/.
void expect_bad(Space& s, const std::vector<std::string>& args, std::initializer_list<std::string> needles,
                const std::vector<std::string>& env = {}) {
  s.clear_outputs();
  const Result r = s.run(args, env);
  INFO(joined(args));
  INFO("exit code " << r.rc << "; stderr:\n" << r.err);
  CHECK(r.rc == 2);
  REQUIRE(r.err_lines.size() == 1);
  CHECK(r.err_lines[0].rfind("dale: ", 0) == 0);
  for (const auto& n : needles) CHECK_MESSAGE(r.err_lines[0].find(n) != std::string::npos, "expected it to name " << n);
  const auto left = s.outputs();
  CHECK_MESSAGE(left.empty(), "bad input left " << (left.empty() ? "" : left[0]));
}

Result expect_ok(Space& s, const std::vector<std::string>& args) {
  const Result r = s.run(args);
  INFO(joined(args));
  INFO("stderr:\n" << r.err);
  CHECK(r.rc == 0);
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) v.push_back(l);
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Item 8: sizes beyond memory are refused before any work, naming the flag, estimate and limit.

TEST_CASE("limits: parameter_count is the parameters a Network builds, for every variant") {
  for (const auto& v : dale::all_variants())
    for (int64_t layers : {1, 3})
      for (int64_t width : {8, 23}) {
        dale::NetworkConfig cfg;
        cfg.variant = v.name;
        cfg.width = width;
        cfg.num_layers = layers;
        cfg.inputs = 64;
        const dale::Network net(cfg);
        double trained = 0, frozen = 0;
        for (const dale::Tensor& p : net.parameters()) (p.frozen() ? frozen : trained) += double(p.numel());
        const dale::ParameterCount c = dale::parameter_count(cfg);
        CAPTURE(v.name);
        CAPTURE(layers);
        CAPTURE(width);
        CHECK(c.trained == trained);
        CHECK(c.frozen == frozen);
      }
}

TEST_CASE("limits: the estimate grows with width, batch and optimizer state, and is refused beyond memory") {
  dale::TrainConfig c;
  c.model.variant = "ei";
  c.model.width = 100000;  // the issue's case: fc1's Wex alone is 10^10 floats
  const dale::MemoryEstimate m = dale::estimate_memory(c);
  CHECK(m.weights >= 2 * 4.0 * 1e10);  // fc1.Wex and its gradient
  c.opt.algorithm = dale::Algorithm::AdamW;
  CHECK(dale::estimate_memory(c).weights >= 4 * 4.0 * 1e10);  // and its two moments
  dale::TrainConfig b;
  b.batch_size = 1000;
  const double small = dale::estimate_memory(b).train_batch;
  b.batch_size = 2000;
  CHECK(dale::estimate_memory(b).train_batch == doctest::Approx(2 * small));

  const double limit = dale::memory_limit(dale::Device::CPU);
  REQUIRE(limit > 0);  // sysconf on Linux
  dale::TrainConfig huge;
  huge.model.width = 1000000;  // 4 TB for fc1.Wex alone: beyond any test machine
  CHECK(dale::estimate_memory(huge).total() > limit);
  CHECK_THROWS_AS(dale::validate(huge), dale::InputError);
  dale::TrainConfig fine;  // the study's network
  CHECK_NOTHROW(dale::validate(fine));
  CHECK(dale::estimate_memory(fine).total() < 1e9);
}

TEST_CASE("input checks: widths, batches and ensembles beyond memory, and absolute caps (item 8)") {
  Space s;
  // A data directory that does not exist: a refusal that names the flag was made before loading.
  const std::string nodata = s / "no-data";
  auto train = [&](std::initializer_list<std::string> extra) {
    std::vector<std::string> a = {"train", "--data.dir", nodata, "--quiet", "--exp.out", s.out("r.jsonl"),
                                  "--exp.ckpt", s.out("c.safetensors")};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect_bad(s, train({"--model.hidden_layer_width", "1000000"}),
             {"--model.hidden_layer_width", "1000000", "needs at least", "memory"});
  // The issue's width, on any machine with less memory than its estimate.
  dale::TrainConfig issue;
  issue.model.width = 100000;
  if (dale::estimate_memory(issue).total() > dale::memory_limit(dale::Device::CPU))
    expect_bad(s, train({"--model.hidden_layer_width", "100000"}), {"--model.hidden_layer_width", "100000", "memory"});
  expect_bad(s, train({"--train.batch_size", "1000000000"}), {"--train.batch_size", "needs at least", "memory"});
  expect_bad(s, train({"--train.eval_batch", "1000000000"}), {"--train.eval_batch", "needs at least", "memory"});
  expect_bad(s, train({"--train.batch_size", "3000000000"}), {"--train.batch_size", "2147483647"});
  // One model of width 5000 fits any machine; 4096 of them (≈ 3 TB) none.
  expect_bad(s, train({"--model.hidden_layer_width", "5000", "--train.models", "4096"}),
             {"--train.models", "4096", "models of", "memory"});
  expect_bad(s, train({"--train.epochs", "1000001"}), {"--train.epochs", "1000000"});
  expect_bad(s, train({"--model.num_layers", "65"}), {"--model.num_layers", "1 … 64"});
  // An experiment: a pack of runs trains side by side (checked by --dry-run too).
  expect_bad(s, {"compare", "--data.dir", nodata, "--exp.out", s.out("x.jsonl"), "--model.hidden_layer_width", "5000",
                 "--variants", "ei", "--eps", "0", "--seeds", "4096", "--exp.pack", "4096", "--dry-run"},
             {"--exp.pack", "4096", "memory"});
  expect_bad(s, {"sweep", "--data.dir", nodata, "--exp.out", s.out("x.jsonl"), "--sweep.source", "random",
                 "--sweep.configs", "1", "--sweep.width_range", "1000000", "1000000", "--variants", "ei", "--eps", "0"},
             {"1000000", "memory"});
}

// ---------------------------------------------------------------------------------------------
// Item 9: a checkpoint's values are checked at load, before any is used.

namespace {
// A checkpoint of `variant` (width 8) at its initial weights, outside out/.
std::string initial_checkpoint(Space& s, const std::string& variant, const std::string& name) {
  const std::string path = s / name;
  const Result r = s.run({"train", "--data.dir", s.data, "--model.variant", variant, "--model.hidden_layer_width", "8",
                          "--quiet", "--exp.max_steps", "0", "--exp.ckpt", path});
  INFO("stderr: " << r.err);
  REQUIRE(r.rc == 0);
  return path;
}
// `path` with tensor `tensor`'s element `i` set to `v`, written to `to`.
std::string with_value(const std::string& path, const std::string& tensor, size_t i, float v, const std::string& to) {
  dale::SafetensorsFile f = dale::read_safetensors(path);
  bool found = false;
  for (auto& t : f.tensors)
    if (t.name == tensor) {
      REQUIRE(i < t.data.size());
      t.data[i] = v, found = true;
    }
  REQUIRE_MESSAGE(found, path << " has no " << tensor);
  dale::write_safetensors(to, f);
  return to;
}
}  // namespace

TEST_CASE("input checks: --exp.init with a negative sign-constrained weight or a non-finite value (item 9)") {
  Space s;
  const std::string inorm = initial_checkpoint(s, "inorm+", "inorm.safetensors");
  const std::string ei = initial_checkpoint(s, "ei", "ei.safetensors");
  auto init = [&](const std::string& variant, const std::string& file) {
    return s.train({"--model.variant", variant, "--exp.init", file});
  };
  // Frozen in I-Norm layers (never clamped by the optimizer): Wei and Bei.
  const std::string wei = with_value(inorm, "fc0.Wei", 3, -0.5f, s / "wei.safetensors");
  expect_bad(s, init("inorm+", wei), {wei, "fc0.Wei", "-0.5", "element 3", "≥ 0", "Dale"});
  const std::string bei = with_value(inorm, "fc1.Bei", 9, -1e-3f, s / "bei.safetensors");
  expect_bad(s, init("inorm+", bei), {bei, "fc1.Bei", "[1, 1] (element 9)", "≥ 0"});
  const std::string wex = with_value(ei, "fc_output.Wex", 0, -2.f, s / "wex.safetensors");
  expect_bad(s, init("ei", wex), {wex, "fc_output.Wex", "-2", "element 0", "≥ 0"});
  const std::string wix = with_value(ei, "fc1.Wix", 5, -0.25f, s / "wix.safetensors");
  expect_bad(s, init("ei", wix), {wix, "fc1.Wix", "-0.25", "≥ 0"});
  // --exp.max_steps 0 writes the loaded weights unchanged: it must not write a negative Wei.
  expect_bad(s, s.train({"--model.variant", "inorm+", "--exp.init", wei, "--exp.max_steps", "0"}), {wei, "fc0.Wei"});
  // Non-finite values in any tensor, sign-constrained or not: a bad file (2), not "diverged" (3).
  const std::string nan_bias = with_value(ei, "fc0.bias", 1, std::nanf(""), s / "nan.safetensors");
  expect_bad(s, init("ei", nan_bias), {nan_bias, "fc0.bias", "nan", "finite"});
  const std::string inf_bix = with_value(inorm, "fc0.Bix", 2, -INFINITY, s / "inf.safetensors");
  expect_bad(s, init("inorm+", inf_bix), {inf_bix, "fc0.Bix", "-inf", "finite"});
  // Negative values where the sign is free are fine: Bix and the biases.
  s.clear_outputs();
  expect_ok(s, init("inorm+", with_value(inorm, "fc0.Bix", 0, -0.5f, s / "bix.safetensors")));
  expect_ok(s, init("ei", with_value(ei, "fc0.bias", 0, -0.5f, s / "bias.safetensors")));
}

TEST_CASE("input checks: resuming from a checkpoint with NaN weights is a bad file, not a divergence (item 9)") {
  Space s;
  auto args = [&](const std::string& epochs) {
    return std::vector<std::string>{"train", "--data.dir", s.data, "--model.variant", "ei", "--model.hidden_layer_width",
                                    "8", "--train.epochs", epochs, "--quiet", "--exp.ckpt", s / "run.safetensors",
                                    "--exp.resume"};
  };
  REQUIRE(s.run(args("1")).rc == 0);
  const std::string ckpt = s / "run.safetensors";
  with_value(ckpt, "fc0.Wex", 7, std::nanf(""), ckpt);
  const Result r = s.run(args("2"));
  INFO("stderr:\n" << r.err);
  CHECK(r.rc == 2);
  REQUIRE(r.err_lines.size() == 1);
  CHECK(r.err_lines[0].find(ckpt) != std::string::npos);
  CHECK(r.err_lines[0].find("fc0.Wex") != std::string::npos);
  CHECK(r.err_lines[0].find("intact") == std::string::npos);  // it once called this file intact
  CHECK(r.err_lines[0].find("diverged") == std::string::npos);
}

// A checkpoint trained with momentum holds the optimizer's state (opt.*): --exp.init takes its
// weights (it was refused as "a checkpoint of another variant?"), and a NaN there is still a bad file.
TEST_CASE("input checks: --exp.init from a checkpoint with optimizer state (item 9)") {
  Space s;
  const std::string trained = s / "momentum.safetensors";
  const Result r = s.run({"train", "--data.dir", s.data, "--model.variant", "ei", "--model.hidden_layer_width", "8",
                          "--train.epochs", "1", "--quiet", "--opt.momentum", "0.9", "--opt.inhib_momentum", "0.9",
                          "--exp.ckpt", trained});
  REQUIRE(r.rc == 0);
  bool has_state = false;
  for (const auto& t : dale::read_safetensors(trained).tensors) has_state |= t.name.rfind("opt.", 0) == 0;
  REQUIRE(has_state);
  s.clear_outputs();
  expect_ok(s, s.train({"--model.variant", "ei", "--exp.init", trained}));
  const std::string bad = with_value(trained, "opt.fc0.Wex.v", 4, std::nanf(""), s / "bad-state.safetensors");
  expect_bad(s, s.train({"--model.variant", "ei", "--exp.init", bad}), {bad, "opt.fc0.Wex.v", "nan"});
}

TEST_CASE("input checks: Network::load_state refuses bad values and changes nothing") {
  dale::NetworkConfig cfg;
  cfg.variant = "inorm+";
  cfg.width = 8;
  cfg.inputs = 64;
  dale::Network net(cfg);
  dale::SafetensorsFile f = net.state();
  const auto before = net.parameters().front().to_vector();
  for (auto& t : f.tensors) {
    for (float& v : t.data) v = 0.5f;  // every tensor changed, so a partial load would show
    if (t.name == "fc1.Wei") t.data[2] = -1.f;
  }
  CHECK_THROWS_WITH_AS(net.load_state(f, "x.safetensors"), doctest::Contains("fc1.Wei"), dale::InputError);
  CHECK(net.parameters().front().to_vector() == before);
  for (auto& t : f.tensors)
    if (t.name == "fc1.Wei") t.data[2] = 0.5f;
  CHECK_NOTHROW(net.load_state(f, "x.safetensors"));
  CHECK(net.parameters().front().to_vector()[0] == 0.5f);
}

// ---------------------------------------------------------------------------------------------
// Item 10: shards, and the flags a sweep's configurations set.

TEST_CASE("input checks: --shard '' and half a SLURM array environment (item 10)") {
  Space s;
  expect_bad(s, s.sweep({"--shard", ""}), {"--shard", "''", "i/n"});
  expect_bad(s, s.sweep({"--shard="}), {"--shard"});
  expect_bad(s, s.sweep({}), {"SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_TASK_COUNT", "--shard"}, {"SLURM_ARRAY_TASK_ID=3"});
  expect_bad(s, s.sweep({}), {"SLURM_ARRAY_TASK_COUNT=4", "SLURM_ARRAY_TASK_ID"}, {"SLURM_ARRAY_TASK_COUNT=4"});
  // Both set: the shard they name.
  const Result r = expect_ok(s, s.sweep({"--dry-run", "--variants", "ei,inorm+", "--eps", "0,0.5"}));
  CHECK(lines_of(r.out).size() == 4);
  const Result one = s.run(s.sweep({"--dry-run", "--variants", "ei,inorm+", "--eps", "0,0.5"}),
                           {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=4"});
  CHECK(one.rc == 0);
  CHECK(lines_of(one.out).size() == 1);
}

TEST_CASE("input checks: dale sweep refuses the flags its configurations set, and does not list them (item 10)") {
  Space s;
  for (const std::string flag : {"--opt.lr", "--opt.inhib_lrs.wix", "--opt.inhib_lrs.wei", "--model.hidden_layer_width"}) {
    CAPTURE(flag);
    expect_bad(s, s.sweep({flag, "8"}), {flag, "dale sweep", "configurations set"});
  }
  // From a config file too.
  const std::string cfg = s / "sweep.toml";
  dale::test::write_text(cfg, "[opt]\nlr = 0.1\n");
  expect_bad(s, s.sweep({"--config", cfg}), {"--opt.lr", "configurations set"});

  const Result help = expect_ok(s, {"sweep", "--help"});
  for (const char* flag : {"--opt.lr ", "--opt.inhib_lrs.wix", "--opt.inhib_lrs.wei", "--model.hidden_layer_width"})
    CHECK_MESSAGE(help.out.find(flag) == std::string::npos, "dale sweep --help lists " << flag);
  CHECK(help.out.find("--opt.momentum") != std::string::npos);  // the flags it does use stay
  // dale train and dale compare use them.
  for (const char* cmd : {"train", "compare"}) {
    const Result h = expect_ok(s, {cmd, "--help"});
    CHECK(h.out.find("--opt.lr ") != std::string::npos);
    CHECK(h.out.find("--model.hidden_layer_width") != std::string::npos);
  }
  // compare sets the variant, ε and seed of each run: those flags are not compare's.
  const Result ch = expect_ok(s, {"compare", "--help"});
  for (const char* flag : {"--model.variant", "--data.brightness_factor ", "--train.seed"})
    CHECK_MESSAGE(ch.out.find(flag) == std::string::npos, "dale compare --help lists " << flag);
  s.clear_outputs();
  const Result r = s.run(s.compare({"--model.variant", "ei", "--dry-run"}));
  CHECK(r.rc == 2);
}

// ---------------------------------------------------------------------------------------------
// Item 13: the small ones.

TEST_CASE("input checks: --exp.max_steps takes a count ≥ 0 or none (item 13)") {
  Space s;
  expect_bad(s, s.train({"--exp.max_steps", "-1"}), {"--exp.max_steps", "≥ 0", "none", "'-1'"});
  expect_bad(s, s.train({"--exp.max_steps", "many"}), {"--exp.max_steps", "'many'"});
  s.clear_outputs();
  expect_ok(s, s.train({"--exp.max_steps", "none"}));
  CHECK(fs::exists(s.out("r.jsonl")));  // the whole epoch, with its record
  const Result help = expect_ok(s, {"train", "--help"});
  CHECK(help.out.find("--exp.max_steps TEXT=none") != std::string::npos);
}

TEST_CASE("input checks: seeds and counts are whole numbers in range (item 13)") {
  Space s;
  expect_bad(s, s.sweep({"--sweep.source", "random", "--sweep.seed", "-1"}), {"--sweep.seed", "≥ 0", "'-1'"});
  expect_bad(s, s.compare({"--seeds", "3.5"}), {"--seeds", "expected a whole number ≥ 1", "'3.5'"});
  expect_bad(s, s.compare({"--seeds", "0"}), {"--seeds", "≥ 1"});
  expect_bad(s, s.compare({"--exp.pack", "two"}), {"--exp.pack", "whole number ≥ 0", "'two'"});
  expect_bad(s, s.sweep({"--sweep.configs", "1.5"}), {"--sweep.configs", "whole number ≥ 1"});
}

TEST_CASE("input checks: repeated, empty and −0 items of --variants and --eps (item 13)") {
  Space s;
  for (const char* cmd : {"compare", "sweep"}) {
    CAPTURE(cmd);
    auto args = [&](std::initializer_list<std::string> extra) {
      return std::string(cmd) == "compare" ? s.compare(extra) : s.sweep(extra);
    };
    expect_bad(s, args({"--variants", "ei,inorm+,ei"}), {"--variants", "'ei'", "twice"});
    expect_bad(s, args({"--variants", "ei,,inorm+"}), {"--variants", "item 2", "empty"});
    expect_bad(s, args({"--variants", "ei,"}), {"--variants", "item 2", "empty"});
    expect_bad(s, args({"--variants", ""}), {"--variants", "item 1", "empty"});
    expect_bad(s, args({"--eps", "0.5,0.25,0.5"}), {"--eps", "0.5", "twice"});
    expect_bad(s, args({"--eps", "0.5,,0.25"}), {"--eps", "item 2", "empty"});
    expect_bad(s, args({"--eps", "0,-0"}), {"--eps", "0", "twice"});
    // −0 is ε = 0, one condition named eps0.
    const Result r = expect_ok(s, args({"--variants", "ei", "--eps", "-0", "--dry-run"}));
    CHECK(r.out.find("eps0") != std::string::npos);
    CHECK(r.out.find("eps-0") == std::string::npos);
  }
}

TEST_CASE("input checks: an unknown command is named, with the nearest one (item 13)") {
  Space s;
  expect_bad(s, {"trian", "--train.epochs", "1"}, {"'trian' is not a command", "did you mean 'train'?"});
  expect_bad(s, {"sweeep"}, {"'sweeep'", "'sweep'"});
  expect_bad(s, {"frobnicate"}, {"'frobnicate' is not a command", "train", "compare", "sweep"});
}

TEST_CASE("input checks: dale compare --dry-run lists the runs and trains and writes nothing (item 13)") {
  Space s;
  s.clear_outputs();
  const Result r = expect_ok(s, s.compare({"--variants", "ei,inorm+", "--eps", "0,0.5", "--seeds", "2", "--dry-run"}));
  const auto lines = lines_of(r.out);
  CHECK(lines.size() == 2 * 2 * 2);
  for (const char* run : {"compare-ei-eps0-seed0", "compare-ei-eps0.5-seed1", "compare-inorm+-eps0.5-seed0"})
    CHECK_MESSAGE(r.out.find(std::string(run) + "  width 8") != std::string::npos, "lists " << run);
  CHECK(s.outputs().empty());
  // Without a width: each variant's default.
  const Result d = expect_ok(s, s.compare({"--variants", "inorm+", "--eps", "0", "--seeds", "1", "--dry-run",
                                           "--model.hidden_layer_width", "0"}));
  CHECK(d.out.find("width 234") != std::string::npos);
  // Bad input is refused as a real run refuses it.
  expect_bad(s, s.compare({"--dry-run", "--train.batch_size", "0"}), {"--train.batch_size", "≥ 1"});
}

TEST_CASE("input checks: dale train that saves nothing says so (item 13)") {
  Space s;
  const Result r = s.run({"train", "--data.dir", s.data, "--model.hidden_layer_width", "8", "--train.epochs", "1",
                          "--quiet"});
  INFO("stderr:\n" << r.err);
  CHECK(r.rc == 0);  // allowed: a timing or a smoke test
  int warnings = 0;
  for (const auto& l : r.err_lines)
    warnings += l.find("warning") != std::string::npos && l.find("--exp.out") != std::string::npos &&
                l.find("--exp.ckpt") != std::string::npos;
  CHECK(warnings == 1);
  CHECK(r.out.find("final:") != std::string::npos);
  // With either output there is no such warning.
  const Result saved = expect_ok(s, s.train({}));
  CHECK(saved.err.find("warning") == std::string::npos);
}
