// End-to-end tests of `dale train` (SPEC §1, §9, §12): the real executable on a tiny synthetic
// dataset (tests/synthetic_data.h) written into a fresh temp directory. Each case runs the binary
// through the shell with stdout and stderr captured to files, then checks the exit code
// (0 ok · 2 bad input · 3 diverged), the JSON Lines records, the safetensors checkpoint, and that
// bad input leaves no output behind. Every run is a few tens of milliseconds.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/device_dataset.h"
#include "framework/safetensors.h"
#include "models/diagnostics.h"
#include "tests/synthetic_data.h"
#include "tests/testing.h"

using namespace dale;
using json = nlohmann::json;
namespace fs = std::filesystem;
using dale::test::read_text;
using dale::test::shell_quote;
using dale::test::write_text;

namespace {

const std::string kDale = DALE_BINARY_DIR "/dale";

// The synthetic set: 600 training images in batches of 32 → 19 steps per epoch.
constexpr int64_t kTrain = 600, kTest = 200, kBatch = 32;
constexpr int64_t kStepsPerEpoch = (kTrain + kBatch - 1) / kBatch;
constexpr int64_t kWidth = 20;  // ni = floor(0.1 · 20) = 2 inhibitory units per hidden layer
constexpr int64_t kInputs = 64;  // 8 × 8 images

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}
// A fresh directory holding `data/` (the synthetic FashionMNIST), `out/` (where runs write) and
// `logs/` (captured stdout/stderr), removed with everything in it when the case ends.
struct Workspace {
  fs::path dir;
  int runs = 0;
  Workspace() {
    static std::atomic<int> counter{0};
    dir = fs::temp_directory_path() /
          ("dale-test-train-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::create_directories(dir / "out");
    fs::create_directories(dir / "logs");
    data = new_data_dir("data");
  }
  ~Workspace() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // A complete synthetic dataset in a new directory `name`, for cases that then damage one file.
  std::string new_data_dir(const std::string& name) const {
    const fs::path d = dir / name;
    fs::create_directories(d);
    test::write_synthetic_fashion_mnist(d.string(), kTrain, kTest);
    return d.string();
  }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
  std::string out(const std::string& name) const { return (dir / "out" / name).string(); }
  bool out_is_empty() const { return fs::is_empty(dir / "out"); }
  std::string data;
};

struct RunResult {
  int rc = -1;
  std::string out, err;
  std::vector<std::string> err_lines;
};

// Runs `dale <args>`; rc is the exit status (−1 if the process did not exit normally).
RunResult run_dale(Workspace& ws, const std::vector<std::string>& args) {
  const int k = ws.runs++;
  const std::string out = ws / ("logs/" + std::to_string(k) + ".stdout");
  const std::string err = ws / ("logs/" + std::to_string(k) + ".stderr");
  std::string cmd = shell_quote(kDale);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.rc = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  r.err_lines = lines_of(r.err);
  return r;
}

// `dale train` on the workspace's data: width 20, 3 epochs, a learning rate that learns the
// synthetic set in that time, plus `extra` (later flags win).
std::vector<std::string> train_args(const Workspace& ws, std::vector<std::string> extra) {
  std::vector<std::string> a = {"train", "--data.dir", ws.data, "--model.hidden_layer_width",
                                std::to_string(kWidth), "--train.epochs", "3", "--opt.lr", "0.1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

#define REQUIRE_RUN(r, code)                                                                 \
  do {                                                                                       \
    INFO("stderr: " << (r).err);                                                             \
    INFO("stdout: " << (r).out);                                                             \
    REQUIRE((r).rc == (code));                                                               \
  } while (0)

// Every line of a JSON Lines file, parsed; a line that does not parse fails the case.
std::vector<json> records_of(const std::string& path) {
  std::vector<json> out;
  int no = 0;
  for (const auto& l : lines_of(read_text(path))) {
    ++no;
    INFO(path << ":" << no << ": " << l);
    json r = json::parse(l, nullptr, /*allow_exceptions=*/false);
    REQUIRE_FALSE(r.is_discarded());
    REQUIRE(r.is_object());
    out.push_back(std::move(r));
  }
  return out;
}

// SPEC §12 names and shapes for a network of 64 inputs, hidden width 20 (ni = 2), 10 outputs.
std::map<std::string, std::vector<int64_t>> expected_shapes(bool inorm, int64_t width = kWidth) {
  const int64_t ni = std::max<int64_t>(1, width / 10);
  std::map<std::string, std::vector<int64_t>> s;
  auto layer = [&](const std::string& n, int64_t ne, int64_t in, int64_t ni_, bool with_b) {
    s[n + ".Wex"] = {ne, in};
    s[n + ".Wix"] = {ni_, in};
    s[n + ".Wei"] = {ne, ni_};
    s[n + ".bias"] = {ne, 1};
    if (with_b) {
      s[n + ".Bix"] = {ne, in};
      s[n + ".Bei"] = {ne, ne};
    }
  };
  layer("fc0", width, kInputs, ni, inorm);
  layer("fc1", width, width, ni, inorm);
  layer("fc_output", 10, width, 1, false);
  return s;
}

void check_checkpoint_layout(const SafetensorsFile& f, bool inorm) {
  std::map<std::string, std::vector<int64_t>> got;
  for (const auto& t : f.tensors) {
    CHECK_MESSAGE(!got.count(t.name), "tensor " << t.name << " appears twice");
    got[t.name] = t.shape;
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    CHECK_MESSAGE(int64_t(t.data.size()) == numel, t.name);
    for (float v : t.data) REQUIRE_MESSAGE(std::isfinite(v), t.name << " holds a non-finite value");
  }
  const auto want = expected_shapes(inorm);
  for (const auto& [name, shape] : want) {
    INFO("tensor " << name);
    REQUIRE(got.count(name) == 1);
    CHECK(got[name] == shape);
  }
  CHECK(got.size() == want.size());
  REQUIRE(!f.tensors.empty());
  CHECK(f.tensors.front().name == "fc0.Wex");
}

bool same_tensors(const SafetensorsFile& a, const SafetensorsFile& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i)
    if (a.tensors[i].name != b.tensors[i].name || a.tensors[i].shape != b.tensors[i].shape ||
        a.tensors[i].data != b.tensors[i].data)
      return false;
  return true;
}

// The contract of bad input: exit 2, exactly one stderr line "dale: …" naming `needle`, nothing
// written to out/.
void expect_bad_input(Workspace& ws, const std::vector<std::string>& args, const std::string& needle) {
  const RunResult r = run_dale(ws, args);
  INFO("stderr: " << r.err);
  CHECK(r.rc == 2);
  REQUIRE(r.err_lines.size() == 1);
  CHECK(r.err_lines[0].rfind("dale: ", 0) == 0);
  CHECK_MESSAGE(r.err_lines[0].find(needle) != std::string::npos, "expected the line to name " << needle);
  CHECK(!fs::exists(ws.out("r.jsonl")));
  CHECK(!fs::exists(ws.out("c.safetensors")));
  CHECK_MESSAGE(ws.out_is_empty(), "bad input left files in out/");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST_CASE("the dale executable is built") {
  REQUIRE_MESSAGE(fs::exists(kDale), kDale << " is missing: build the `dale` target first");
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("train: one record per epoch, a learnt network and a SPEC §12 checkpoint") {
  for (const std::string variant : {"inorm+", "ei-ln+"}) {
    CAPTURE(variant);
    Workspace ws;
    const bool inorm = variant == "inorm+";
    const std::string out = ws.out("r.jsonl"), ckpt = ws.out("c.safetensors");
    std::vector<std::string> extra = {"--model.variant", variant, "--exp.out", out, "--exp.ckpt", ckpt};
    if (!inorm) extra.insert(extra.end(), {"--exp.run", "my-run"});
    const RunResult r = run_dale(ws, train_args(ws, extra));
    REQUIRE_RUN(r, 0);

    const auto recs = records_of(out);
    REQUIRE(recs.size() == 3);
    double last_elapsed = -1;
    for (size_t i = 0; i < recs.size(); ++i) {
      const json& rec = recs[i];
      CAPTURE(rec.dump());
      for (const char* key : {"run", "epoch", "step", "train_acc", "train_loss", "test_acc", "test_loss",
                              "local_loss", "mu", "var", "elapsed_s", "config"})
        REQUIRE_MESSAGE(rec.contains(key), "record lacks " << key);
      CHECK(rec["run"].get<std::string>() == (inorm ? "inorm+-eps0-seed0" : "my-run"));
      CHECK(rec["epoch"].get<int64_t>() == int64_t(i) + 1);
      CHECK(rec["step"].get<int64_t>() == (int64_t(i) + 1) * kStepsPerEpoch);
      for (const char* acc : {"train_acc", "test_acc"}) {
        CHECK(rec[acc].get<double>() >= 0.0);
        CHECK(rec[acc].get<double>() <= 100.0);
      }
      for (const char* loss : {"train_loss", "test_loss"}) {
        CHECK(std::isfinite(rec[loss].get<double>()));
        CHECK(rec[loss].get<double>() > 0.0);
      }
      const json& local = rec["local_loss"];
      REQUIRE(local.is_object());
      for (const char* key : {"fc0", "fc1", "total"}) REQUIRE_MESSAGE(local.contains(key), key);
      const double l0 = local["fc0"].get<double>(), l1 = local["fc1"].get<double>();
      const double lt = local["total"].get<double>();
      if (inorm) {  // SPEC §3: the mean-and-variance loss is trained on every step
        CHECK(l0 > 0.0);
        CHECK(l1 > 0.0);
        CHECK(lt > 0.0);
      } else {
        CHECK(l0 == 0.0);
        CHECK(l1 == 0.0);
        CHECK(lt == 0.0);
      }
      CHECK(lt == doctest::Approx(l0 + l1).epsilon(1e-9));
      REQUIRE(rec["mu"].is_array());
      REQUIRE(rec["var"].is_array());
      CHECK(rec["mu"].size() == 2);
      CHECK(rec["var"].size() == 2);
      // The moments are of the layer's own output, before any explicit normalization: the
      // I-Norm layer normalizes itself (mean ≈ 0, variance ≈ 1; the study reports −0.003 / 0.99),
      // while LN+'s EI layer output is not normalized (an LN output would read exactly 0 and 1).
      for (size_t l = 0; l < 2; ++l) {
        const double mu = rec["mu"][l].get<double>(), var = rec["var"][l].get<double>();
        if (inorm) {
          CHECK(std::fabs(mu) < 0.1);
          CHECK(var > 0.8);
          CHECK(var < 1.3);
        } else {  // an LN output reads |mu| ~1e-8 and var = 1 − ε-ish
          CHECK((std::fabs(mu) > 1e-3 || std::fabs(var - 1.0) > 1e-3));
        }
      }
      const double elapsed = rec["elapsed_s"].get<double>();
      CHECK(elapsed > last_elapsed);
      last_elapsed = elapsed;
      CHECK(rec["config"]["model"]["variant"].get<std::string>() == variant);
      CHECK(rec["config"]["model"]["hidden_layer_width"].get<int64_t>() == kWidth);
      CHECK(rec["config"]["train"]["epochs"].get<int64_t>() == 3);
    }
    // Chance is 10%; the blocks are learnt in three epochs.
    CHECK(recs.back()["test_acc"].get<double>() > 80.0);
    CHECK(recs.back()["train_acc"].get<double>() > 80.0);
    CHECK(recs.back()["test_loss"].get<double>() < recs.front()["test_loss"].get<double>());

    // The final state, with SPEC §12 names and shapes.
    REQUIRE(fs::exists(ckpt));
    const SafetensorsFile f = read_safetensors(ckpt);
    check_checkpoint_layout(f, inorm);
    REQUIRE(f.metadata.count("epoch"));
    CHECK(f.metadata.at("epoch") == "3");
    REQUIRE(f.metadata.count("step"));
    CHECK(f.metadata.at("step") == std::to_string(3 * kStepsPerEpoch));
    // Dale's principle holds after training: every W… is non-negative.
    for (const auto& t : f.tensors)
      if (t.name.find(".W") != std::string::npos)
        for (float v : t.data) REQUIRE_MESSAGE(v >= 0.f, t.name << " has a negative weight");

    // The progress lines go to stderr, one per epoch; nothing else.
    CHECK(r.err_lines.size() == 3);
  }
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("train: the same command twice gives the same records and the same checkpoint bytes") {
  Workspace ws;
  const std::string out = ws.out("r.jsonl"), ckpt = ws.out("c.safetensors");
  const auto args = train_args(ws, {"--model.variant", "inorm+", "--train.epochs", "2",
                                    "--data.brightness_factor", "0.25", "--exp.out", out,
                                    "--exp.ckpt", ckpt});
  REQUIRE_RUN(run_dale(ws, args), 0);
  fs::rename(out, ws / "first.jsonl");
  fs::rename(ckpt, ws / "first.safetensors");
  REQUIRE_RUN(run_dale(ws, args), 0);

  auto a = records_of(ws / "first.jsonl"), b = records_of(out);
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i].erase("elapsed_s");
    b[i].erase("elapsed_s");
    CHECK_MESSAGE(a[i] == b[i], "record " << i << " differs:\n" << a[i].dump() << "\n" << b[i].dump());
  }
  const std::string ca = read_text(ws / "first.safetensors"), cb = read_text(ckpt);
  CHECK(ca.size() > 1000);
  CHECK_MESSAGE(ca == cb, "the two checkpoints differ");

  // And the seed matters: another seed gives other weights.
  REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "inorm+", "--train.epochs", "1",
                                           "--train.seed", "7", "--exp.ckpt", ws.out("seed7.safetensors")})),
              0);
  CHECK_FALSE(same_tensors(read_safetensors(ws.out("seed7.safetensors")), read_safetensors(ckpt)));
}

// ---------------------------------------------------------------------------------------------
// --train.models K: K runs in lock step, each writing what it would alone (models/ensemble.h).
TEST_CASE("train: --train.models 3 gives each model the records and weights of its lone run") {
  Workspace ws;
  const std::string out = ws.out("ens.jsonl");
  const auto common = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"--model.variant", "inorm+", "--train.epochs", "2", "--data.brightness_factor",
                                  "0.5", "--opt.inhib_momentum", "0.5"};
    a.insert(a.end(), extra.begin(), extra.end());
    return train_args(ws, a);
  };
  const RunResult r = run_dale(ws, common({"--train.models", "3", "--train.seed", "5", "--exp.run", "e", "--exp.out",
                                           out, "--exp.ckpt", ws.out("ens.safetensors")}));
  REQUIRE_RUN(r, 0);
  CHECK(lines_of(r.out).size() == 3);  // one final line per model
  const auto recs = records_of(out);
  REQUIRE(recs.size() == 6);
  for (int k = 0; k < 3; ++k) {
    CAPTURE(k);
    const std::string lone_out = ws.out("lone" + std::to_string(k) + ".jsonl");
    const std::string lone_ckpt = ws.out("lone" + std::to_string(k) + ".safetensors");
    REQUIRE_RUN(run_dale(ws, common({"--train.seed", std::to_string(5 + k), "--exp.out", lone_out, "--exp.ckpt",
                                     lone_ckpt})),
                0);
    std::vector<json> mine;
    for (const json& rec : recs)
      if (rec["run"] == "e-model" + std::to_string(k)) mine.push_back(rec);
    auto lone = records_of(lone_out);
    REQUIRE(mine.size() == 2);
    REQUIRE(lone.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      CHECK(mine[i]["seed"] == 5 + k);
      for (json* rec : {&mine[i], &lone[i]})
        for (const char* key : {"elapsed_s", "run", "config"}) rec->erase(key);
      CHECK_MESSAGE(mine[i] == lone[i], "epoch " << i + 1 << ":\n" << mine[i].dump() << "\n" << lone[i].dump());
    }
    const std::string ckpt = ws.out("ens.model" + std::to_string(k) + ".safetensors");
    CHECK(same_tensors(read_safetensors(ckpt), read_safetensors(lone_ckpt)));
  }
  // The models are not copies of one another.
  CHECK_FALSE(same_tensors(read_safetensors(ws.out("ens.model0.safetensors")),
                           read_safetensors(ws.out("ens.model1.safetensors"))));
}

// ---------------------------------------------------------------------------------------------
// --train.seed seeds the initialization (it once seeded only data order and jitter, so every
// seed of a comparison and every configuration of a sweep started from the same weights).
TEST_CASE("train: --train.seed seeds the initial weights") {
  Workspace ws;
  auto init = [&](const std::string& seed, const std::string& name) {
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "inorm+", "--exp.max_steps", "0", "--train.seed",
                                             seed, "--exp.ckpt", ws.out(name)})),
                0);
    return read_safetensors(ws.out(name));
  };
  const SafetensorsFile a = init("0", "a.safetensors"), b = init("1", "b.safetensors"),
                        a2 = init("0", "a2.safetensors");
  REQUIRE(a.find("fc0.Wex"));
  CHECK(a.find("fc0.Wex")->data != b.find("fc0.Wex")->data);
  CHECK(a.find("fc0.Wex")->data == a2.find("fc0.Wex")->data);
}

TEST_CASE("train: --exp.max_steps and --exp.init") {
  Workspace ws;
  const std::string init = ws.out("init.safetensors");

  // max_steps 0: the initial weights (SPEC §7), no record.
  REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "inorm+", "--exp.max_steps", "0",
                                           "--exp.out", ws.out("init.jsonl"), "--exp.ckpt", init})),
              0);
  REQUIRE(fs::exists(init));
  CHECK((!fs::exists(ws.out("init.jsonl")) || fs::file_size(ws.out("init.jsonl")) == 0));
  const SafetensorsFile f0 = read_safetensors(init);
  check_checkpoint_layout(f0, true);
  CHECK(f0.metadata.at("step") == "0");
  for (const std::string layer : {"fc0", "fc1", "fc_output"}) {
    CAPTURE(layer);
    const NamedTensor *wex = f0.find(layer + ".Wex"), *wix = f0.find(layer + ".Wix"),
                      *wei = f0.find(layer + ".Wei"), *bias = f0.find(layer + ".bias");
    REQUIRE((wex && wix && wei && bias));
    for (float v : bias->data) CHECK(v == 0.f);
    for (float v : wex->data) CHECK(v > 0.f);
    const int64_t ne = wex->shape[0], n = wex->shape[1], ni = wix->shape[0];
    for (int64_t k = 0; k < n; ++k) {  // every row of Wix = the mean over rows of Wex
      double mean = 0;
      for (int64_t j = 0; j < ne; ++j) mean += wex->data[size_t(j * n + k)];
      mean /= double(ne);
      for (int64_t i = 0; i < ni; ++i) CHECK(wix->data[size_t(i * n + k)] == doctest::Approx(mean).epsilon(1e-5));
    }
    for (int64_t j = 0; j < ne; ++j) {  // rows of Wei sum to 1
      double s = 0;
      for (int64_t i = 0; i < ni; ++i) s += wei->data[size_t(j * ni + i)];
      CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
    }
    if (const NamedTensor* bei = f0.find(layer + ".Bei"))
      for (float v : bei->data) CHECK(v == doctest::Approx(1.0 / double(ne)).epsilon(1e-6));
  }

  SUBCASE("max_steps 5 stops inside the first epoch: a changed checkpoint, no record") {
    const std::string c5 = ws.out("five.safetensors"), r5 = ws.out("five.jsonl");
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "inorm+", "--exp.max_steps", "5",
                                             "--exp.out", r5, "--exp.ckpt", c5})),
                0);
    REQUIRE(fs::exists(c5));
    CHECK((!fs::exists(r5) || fs::file_size(r5) == 0));
    const SafetensorsFile f5 = read_safetensors(c5);
    check_checkpoint_layout(f5, true);
    CHECK(f5.metadata.at("step") == "5");
    CHECK_FALSE(same_tensors(f5, f0));
    // The frozen tensors (SPEC §2.3: Wei and Bei of I-Norm layers) did not move; Wex did.
    for (const std::string name : {"fc0.Wei", "fc0.Bei", "fc1.Wei", "fc1.Bei"})
      CHECK_MESSAGE(f5.find(name)->data == f0.find(name)->data, name << " changed but is frozen");
    CHECK(f5.find("fc0.Wex")->data != f0.find("fc0.Wex")->data);
  }

  SUBCASE("--exp.init from the initial checkpoint equals a fresh start") {
    const std::string fresh = ws.out("fresh.safetensors"), from = ws.out("from.safetensors");
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "inorm+", "--train.epochs", "1",
                                             "--exp.ckpt", fresh})),
                0);
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "inorm+", "--train.epochs", "1",
                                             "--exp.init", init, "--exp.ckpt", from})),
                0);
    CHECK(same_tensors(read_safetensors(fresh), read_safetensors(from)));
    CHECK_FALSE(same_tensors(read_safetensors(from), f0));
  }

  SUBCASE("checkpoint, reload, continue: bit-identical to training straight through") {
    // File order and no jitter make every epoch draw the same batches, so 1 + 1 epochs from a
    // checkpoint must equal 2 epochs in one run, bit for bit.
    const std::vector<std::string> same = {"--model.variant", "inorm+", "--train.shuffle", "0",
                                           "--data.brightness_factor", "0"};
    auto with = [&](std::vector<std::string> extra) {
      std::vector<std::string> a = same;
      a.insert(a.end(), extra.begin(), extra.end());
      return train_args(ws, a);
    };
    const std::string two = ws.out("two.safetensors"), one = ws.out("one.safetensors"),
                      resumed = ws.out("resumed.safetensors"), resumed_log = ws.out("resumed.jsonl");
    REQUIRE_RUN(run_dale(ws, with({"--train.epochs", "2", "--exp.ckpt", two})), 0);
    REQUIRE_RUN(run_dale(ws, with({"--train.epochs", "1", "--exp.ckpt", one})), 0);
    REQUIRE_RUN(run_dale(ws, with({"--train.epochs", "1", "--exp.init", one, "--exp.ckpt", resumed,
                                   "--exp.out", resumed_log})),
                0);
    CHECK_FALSE(same_tensors(read_safetensors(one), read_safetensors(two)));
    CHECK(same_tensors(read_safetensors(resumed), read_safetensors(two)));
    const auto recs = records_of(resumed_log);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0]["config"]["exp"]["init"].get<std::string>() == one);
  }

  SUBCASE("a checkpoint of another variant or width is refused, naming the file") {
    const std::string ln = ws / "ln.safetensors";  // outside out/: out/ must stay untouched below
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "ei-ln+", "--exp.max_steps", "0",
                                             "--exp.ckpt", ln})),
                0);
    std::vector<fs::path> made;  // move the earlier outputs out of out/
    for (const auto& e : fs::directory_iterator(ws.dir / "out")) made.push_back(e.path());
    for (const auto& f : made) fs::rename(f, ws.dir / f.filename());
    REQUIRE(ws.out_is_empty());
    const std::string moved_init = ws / "init.safetensors";
    const std::vector<std::string> outputs = {"--exp.out", ws.out("r.jsonl"), "--exp.ckpt",
                                              ws.out("c.safetensors")};
    auto args = [&](std::vector<std::string> a) {
      a.insert(a.end(), outputs.begin(), outputs.end());
      return train_args(ws, a);
    };
    // ei-ln+ checkpoint into inorm+: no Bix/Bei.
    expect_bad_input(ws, args({"--model.variant", "inorm+", "--exp.init", ln}), ln);
    // inorm+ checkpoint into ei-ln+: Bix/Bei are not parameters there.
    expect_bad_input(ws, args({"--model.variant", "ei-ln+", "--exp.init", moved_init}), moved_init);
    // Same variant, another width.
    expect_bad_input(ws, args({"--model.variant", "inorm+", "--model.hidden_layer_width", "30",
                               "--exp.init", moved_init}),
                     moved_init);
    // A missing file and a file that is not a checkpoint.
    expect_bad_input(ws, args({"--model.variant", "inorm+", "--exp.init", ws / "nope.safetensors"}),
                     ws / "nope.safetensors");
    write_text(ws / "garbage.safetensors", "this is not a checkpoint");
    expect_bad_input(ws, args({"--model.variant", "inorm+", "--exp.init", ws / "garbage.safetensors"}),
                     ws / "garbage.safetensors");
  }
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("train: --config file, overridden by the command line") {
  Workspace ws;
  const std::string cfg = ws / "run.toml";
  write_text(cfg, "# a run\n[train]\nepochs = 1\n[model]\nvariant = \"ei\"\n");

  SUBCASE("the file is honoured") {
    const std::string out = ws.out("r.jsonl");
    const RunResult r = run_dale(ws, {"train", "--config", cfg, "--data.dir", ws.data,
                                      "--model.hidden_layer_width", "20", "--exp.out", out});
    REQUIRE_RUN(r, 0);
    const auto recs = records_of(out);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0]["config"]["model"]["variant"].get<std::string>() == "ei");
    CHECK(recs[0]["config"]["train"]["epochs"].get<int64_t>() == 1);
    // ei has no local loss; the I-Norm default (inorm+) would.
    CHECK(recs[0]["local_loss"]["total"].get<double>() == 0.0);
  }
  SUBCASE("the command line wins, before or after --config") {
    const std::string after = ws.out("after.jsonl"), before = ws.out("before.jsonl");
    REQUIRE_RUN(run_dale(ws, {"train", "--data.dir", ws.data, "--model.hidden_layer_width", "20",
                              "--config", cfg, "--model.variant", "ei-ln+", "--train.epochs", "2",
                              "--exp.out", after}),
                0);
    REQUIRE_RUN(run_dale(ws, {"train", "--data.dir", ws.data, "--model.hidden_layer_width", "20",
                              "--model.variant", "ei-ln+", "--config=" + cfg, "--exp.out", before}),
                0);
    const auto a = records_of(after), b = records_of(before);
    REQUIRE(a.size() == 2);
    for (const auto& r : a) CHECK(r["config"]["model"]["variant"].get<std::string>() == "ei-ln+");
    REQUIRE(b.size() == 1);  // epochs from the file, variant from the command line
    CHECK(b[0]["config"]["model"]["variant"].get<std::string>() == "ei-ln+");
  }
  SUBCASE("an unknown key is refused with file:line") {
    const std::string bad = ws / "bad.toml";
    write_text(bad, "[train]\nepochs = 1\n\n[model]\nvarient = \"ei\"\n");
    expect_bad_input(ws, {"train", "--config", bad, "--data.dir", ws.data, "--exp.out", ws.out("r.jsonl"),
                          "--exp.ckpt", ws.out("c.safetensors")},
                     bad + ":5");
    const std::string wrong_section = ws / "section.toml";
    write_text(wrong_section, "[opt]\nepochs = 1\n");
    expect_bad_input(ws, {"train", "--config", wrong_section, "--data.dir", ws.data, "--exp.out",
                          ws.out("r.jsonl"), "--exp.ckpt", ws.out("c.safetensors")},
                     wrong_section + ":2");
    expect_bad_input(ws, {"train", "--config", ws / "missing.toml", "--data.dir", ws.data, "--exp.out",
                          ws.out("r.jsonl"), "--exp.ckpt", ws.out("c.safetensors")},
                     ws / "missing.toml");
  }
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("train: bad input exits 2 with one line naming the flag or file, and writes nothing") {
  Workspace ws;
  const std::vector<std::string> outputs = {"--exp.out", ws.out("r.jsonl"), "--exp.ckpt",
                                            ws.out("c.safetensors")};
  auto args = [&](std::vector<std::string> a, const std::string& data_dir = "") {
    std::vector<std::string> all = train_args(ws, outputs);
    if (!data_dir.empty()) all.insert(all.end(), {"--data.dir", data_dir});
    all.insert(all.end(), a.begin(), a.end());
    return all;
  };

  SUBCASE("flags") {
    expect_bad_input(ws, args({"--model.variant", "inorm++"}), "--model.variant");
    expect_bad_input(ws, args({"--model.hidden_layer_width", "-3"}), "--model.hidden_layer_width");
    expect_bad_input(ws, args({"--train.batch_size", "0"}), "--train.batch_size");
    expect_bad_input(ws, args({"--train.models", "0"}), "--train.models");
    expect_bad_input(ws, args({"--train.models", "-2"}), "--train.models");
    expect_bad_input(ws, args({"--exp.cuda_graph", "2"}), "--exp.cuda_graph");
    expect_bad_input(ws, args({"--opt.lr", "-1"}), "--opt.lr");
    expect_bad_input(ws, args({"--opt.lr", "nan"}), "--opt.lr");
    expect_bad_input(ws, args({"--train.epochs", "0"}), "--train.epochs");
    expect_bad_input(ws, args({"--data.brightness_factor", "1.5"}), "--data.brightness_factor");
    expect_bad_input(ws, args({"--train.epoch", "3"}), "--train.epoch");  // unknown flag
    expect_bad_input(ws, args({"--train.epochs", "three"}), "--train.epochs");
  }
  SUBCASE("--device cuda without a GPU") {
    const RunResult r = run_dale(ws, args({"--device", "cuda"}));
    if (r.rc == 0) {
      MESSAGE("a CUDA device is present: --device cuda is valid here, nothing to test");
      return;
    }
    INFO("stderr: " << r.err);
    CHECK(r.rc == 2);
    REQUIRE(r.err_lines.size() == 1);
    CHECK(r.err_lines[0].rfind("dale: ", 0) == 0);
    CHECK(r.err_lines[0].find("cuda") != std::string::npos);
    CHECK(ws.out_is_empty());
  }
  SUBCASE("a missing --data.dir") {
    const std::string missing = ws / "no-such-dir";
    expect_bad_input(ws, args({}, missing), missing);
  }
  SUBCASE("a missing file") {
    const std::string d = ws.new_data_dir("no-test-labels");
    fs::remove(d + "/t10k-labels-idx1-ubyte.gz");
    expect_bad_input(ws, args({}, d), d + "/t10k-labels-idx1-ubyte");
  }
  SUBCASE("a truncated plain images file") {
    const std::string d = ws.new_data_dir("truncated");
    const std::string f = d + "/t10k-images-idx3-ubyte";
    fs::resize_file(f, fs::file_size(f) - 100);
    expect_bad_input(ws, args({}, d), f);
  }
  SUBCASE("a truncated gzip images file") {
    const std::string d = ws.new_data_dir("truncated-gz");
    const std::string f = d + "/train-images-idx3-ubyte.gz";
    fs::resize_file(f, fs::file_size(f) / 2);
    expect_bad_input(ws, args({}, d), f);
  }
  SUBCASE("wrong IDX magic") {
    const std::string d = ws.new_data_dir("magic");
    const std::string f = d + "/t10k-images-idx3-ubyte";
    std::string bytes = read_text(f);
    REQUIRE(bytes.substr(0, 4) == std::string("\0\0\x08\x03", 4));
    bytes[3] = '\x01';  // the labels' magic 0x801 on an images file
    write_text(f, bytes);
    expect_bad_input(ws, args({}, d), f);
  }
  SUBCASE("labels and images disagree in number") {
    const std::string d = ws.new_data_dir("count");
    const auto split = test::make_synthetic_split(kTrain - 1, 1);
    write_idx_labels(d + "/train-labels-idx1-ubyte", split.labels, false);
    expect_bad_input(ws, args({}, d), d + "/train-labels-idx1-ubyte");
  }
  SUBCASE("a label out of 0..9") {
    const std::string d = ws.new_data_dir("label");
    auto split = test::make_synthetic_split(kTrain, 1);
    split.labels[123] = 12;
    write_idx_labels(d + "/train-labels-idx1-ubyte", split.labels, false);
    expect_bad_input(ws, args({}, d), d + "/train-labels-idx1-ubyte");
    const RunResult r = run_dale(ws, args({}, d));
    CHECK(r.err.find("12") != std::string::npos);
  }
  SUBCASE("an output directory that does not exist") {
    std::vector<std::string> a = train_args(ws, {"--exp.out", ws / "nowhere/r.jsonl"});
    expect_bad_input(ws, a, "nowhere");
  }
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("train: a diverging run exits 3, names epoch and step, and leaves whole files") {
  Workspace ws;
  const std::string out = ws.out("r.jsonl"), ckpt = ws.out("c.safetensors");
  auto check_files_whole = [&] {
    if (fs::exists(ckpt)) CHECK_NOTHROW(read_safetensors(ckpt));
    if (fs::exists(out)) records_of(out);  // every line parses
    for (const auto& e : fs::directory_iterator(ws.dir / "out")) {
      const std::string name = e.path().filename().string();
      CHECK_MESSAGE((name == "r.jsonl" || name == "c.safetensors"), "stray file " << name);
    }
  };

  SUBCASE("from the start") {
    // An SGD step of 1e20 on the EI network overflows the weights to inf on the first step, so
    // the second step's loss is NaN.
    const RunResult r = run_dale(ws, train_args(ws, {"--model.variant", "ei", "--opt.lr", "1e20",
                                                     "--exp.out", out, "--exp.ckpt", ckpt}));
    INFO("stderr: " << r.err);
    CHECK(r.rc == 3);
    REQUIRE(!r.err_lines.empty());
    const std::string& last = r.err_lines.back();
    CHECK(last.rfind("dale: ", 0) == 0);
    CHECK(last.find("epoch 1") != std::string::npos);
    CHECK(last.find("step") != std::string::npos);
    check_files_whole();
  }
  SUBCASE("after a finished run: its records and checkpoint survive") {
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", "ei", "--train.epochs", "1",
                                             "--exp.out", out, "--exp.ckpt", ckpt})),
                0);
    const std::string init = ws / "init.safetensors";
    fs::copy_file(ckpt, init);
    const std::string ckpt_before = read_text(ckpt), out_before = read_text(out);
    const RunResult r = run_dale(ws, train_args(ws, {"--model.variant", "ei", "--opt.lr", "1e20",
                                                     "--exp.init", init, "--exp.out", out, "--exp.ckpt", ckpt}));
    INFO("stderr: " << r.err);
    CHECK(r.rc == 3);
    REQUIRE(!r.err_lines.empty());
    CHECK(r.err_lines.back().find("epoch 1") != std::string::npos);
    check_files_whole();
    CHECK(read_text(ckpt) == ckpt_before);
    CHECK(read_text(out) == out_before);
    CHECK(records_of(out).size() == 1);
  }
}

// SPEC §6: inorm- "often diverges", and SPEC §9 makes a diverged run a result. An I-Norm network
// whose weights overflow must end like any other diverged run: exit 3, and no NaN in any file.
TEST_CASE("train: a diverging I-Norm network exits 3 and keeps the epochs it finished") {
  Workspace ws;
  const std::string out = ws.out("r.jsonl"), ckpt = ws.out("c.safetensors");
  struct Case {
    std::string variant, lr;
  };
  // inorm- at 1e2 and inorm+ at 1e20 blow up within the first steps of epoch 1; inorm+ at 1e2
  // finishes two epochs with huge but finite losses, then its local loss (which alone trains Bix)
  // overflows in epoch 3.
  for (const Case& k : {Case{"inorm-", "1e2"}, Case{"inorm+", "1e20"}, Case{"inorm+", "1e2"}}) {
    CAPTURE(k.variant);
    CAPTURE(k.lr);
    fs::remove(out);
    fs::remove(ckpt);
    const RunResult r = run_dale(ws, train_args(ws, {"--model.variant", k.variant, "--opt.lr", k.lr,
                                                     "--exp.out", out, "--exp.ckpt", ckpt}));
    INFO("stderr: " << r.err);
    CHECK(r.rc == 3);
    REQUIRE(!r.err_lines.empty());
    const std::string& last = r.err_lines.back();
    CHECK(last.rfind("dale: diverged", 0) == 0);
    // Whatever was written is whole and finite: records of finished epochs, their checkpoint.
    const std::vector<json> recs = fs::exists(out) ? records_of(out) : std::vector<json>{};
    for (const auto& rec : recs) {
      CAPTURE(rec.dump());
      for (const char* key : {"train_loss", "test_loss"}) {
        REQUIRE(rec[key].is_number());  // NaN would have been written as null
        CHECK(std::isfinite(rec[key].get<double>()));
      }
      REQUIRE(rec["local_loss"]["total"].is_number());
      CHECK(rec["diverged"] == false);
    }
    CHECK(last.find("epoch " + std::to_string(recs.size() + 1)) != std::string::npos);
    if (fs::exists(ckpt)) {
      const SafetensorsFile f = read_safetensors(ckpt);
      for (const auto& t : f.tensors)
        for (float v : t.data) REQUIRE_MESSAGE(std::isfinite(v), t.name << " holds a non-finite value");
      CHECK(f.metadata.at("epoch") == std::to_string(recs.size()));
    }
    if (k.variant == "inorm+" && k.lr == "1e2") {
      CHECK(recs.size() >= 1);
      CHECK(fs::exists(ckpt));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What the records measure, as the study does (docs/study.md, "Measurements").

TEST_CASE("train: a record's measurements are those of the epoch's last training batch") {
  // File order and ε = 0.5: the epoch's last batch is images 576..599 (24 of them), jittered
  // with the training key of epoch 1. Recomputing the measurements from the checkpoint on that
  // batch must give the record's numbers exactly (same code, same CPU); any other batch (the
  // first one, an evaluation batch) gives other numbers.
  for (const std::string variant : {"inorm-fa", "ei-ln+"}) {
    CAPTURE(variant);
    Workspace ws;
    const std::string out = ws.out("r.jsonl"), ckpt = ws.out("c.safetensors");
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", variant, "--train.epochs", "1", "--train.shuffle", "0",
                                             "--data.brightness_factor", "0.5", "--train.seed", "3", "--exp.out", out,
                                             "--exp.ckpt", ckpt})),
                0);
    const json rec = records_of(out).at(0);
    NetworkConfig nc;
    nc.variant = variant;
    nc.width = kWidth;
    nc.inputs = kInputs;
    Network net(nc);
    SafetensorsFile state;
    for (const NamedTensor& t : read_safetensors(ckpt).tensors)
      if (t.name.rfind("opt.", 0) != 0) state.tensors.push_back(t);
    net.load_state(state, ckpt);
    const FashionMNIST data = load_fashion_mnist(ws.data);
    const DeviceDataset train(data.train, Device::CPU);
    const JitterSpec jitter{0.5f, false, 0.f};
    const Batch last = train.batch(*train.identity(), 576, 24, jitter, 3, 1);
    const Diagnostics d = diagnose(net, last.x, last.y);
    auto same = [&](const char* key, const std::vector<double>& v) {
      REQUIRE(rec[key].size() == v.size());
      for (size_t l = 0; l < v.size(); ++l)
        CHECK_MESSAGE(rec[key][l].get<double>() == doctest::Approx(v[l]).epsilon(1e-12), key << " fc" << l);
    };
    same("mu", d.mu);
    same("var", d.var);
    same("out_cos", d.out_cos);
    same("grad_cos", d.grad_cos);
    same("err_eig", d.err_eig);
    const Batch first = train.batch(*train.identity(), 0, 32, jitter, 3, 1);
    CHECK(diagnose(net, first.x, first.y).err_eig[0] != doctest::Approx(d.err_eig[0]).epsilon(1e-6));
  }
}

TEST_CASE("train: --data.brightness_factor_eval means what the study's flag means") {
  Workspace ws;
  auto test_acc = [&](std::vector<std::string> flags) {
    const std::string out = ws.out("r" + std::to_string(ws.runs) + ".jsonl");
    flags.insert(flags.end(), {"--model.variant", "ei-ln+", "--train.epochs", "1", "--data.brightness_factor", "0.75",
                               "--exp.out", out});
    const RunResult r = run_dale(ws, train_args(ws, flags));
    REQUIRE_RUN(r, 0);
    const json rec = records_of(out).at(0);
    return std::make_pair(rec["test_acc"].get<double>(), rec["config"]["data"]);
  };
  const auto [jittered, cfg0] = test_acc({});
  const auto [explicit0, cfg1] = test_acc({"--data.brightness_factor_eval", "0"});
  const auto [clean, cfg2] = test_acc({"--data.clean_test", "1"});
  const auto [shifted, cfg3] = test_acc({"--data.brightness_factor_eval", "0.4"});
  // 0 (the default, and the study's) is the jittered test set, not a shift of 0.
  CHECK(explicit0 == jittered);
  CHECK(cfg0["brightness_factor_eval"].get<double>() == 0.0);
  CHECK(cfg0["clean_test"].get<bool>() == false);
  CHECK(clean != jittered);
  CHECK(cfg2["clean_test"].get<bool>() == true);
  CHECK(shifted != jittered);
  CHECK(shifted != clean);
  // The two spellings of "what the test set is" cannot contradict each other.
  const RunResult bad = run_dale(ws, train_args(ws, {"--data.clean_test", "1", "--data.brightness_factor_eval", "0.2"}));
  CHECK(bad.rc == 2);
  REQUIRE(bad.err_lines.size() == 1);
  CHECK(bad.err_lines[0].find("--data.clean_test") != std::string::npos);
}

TEST_CASE("train: --model.num_layers sets the depth, named fc0 … fc{L−1}, fc_output") {
  Workspace ws;
  for (const std::string variant : {"inorm+", "ei-ln+"}) {
    CAPTURE(variant);
    const std::string out = ws.out(variant + ".jsonl"), ckpt = ws.out(variant + ".safetensors");
    REQUIRE_RUN(run_dale(ws, train_args(ws, {"--model.variant", variant, "--model.num_layers", "3", "--train.epochs", "1",
                                             "--exp.out", out, "--exp.ckpt", ckpt})),
                0);
    const json rec = records_of(out).at(0);
    for (const char* key : {"mu", "var", "out_cos", "grad_cos", "err_eig", "local_ln_mse"}) CHECK(rec[key].size() == 3);
    for (const char* key : {"fc0", "fc1", "fc2", "total"}) CHECK(rec["local_loss"].contains(key));
    CHECK(rec["config"]["model"]["num_layers"].get<int64_t>() == 3);
    const SafetensorsFile f = read_safetensors(ckpt);
    for (const char* name : {"fc0.Wex", "fc1.Wex", "fc2.Wex", "fc_output.Wex"}) CHECK_MESSAGE(f.find(name), name);
    CHECK_FALSE(f.find("fc3.Wex"));
    CHECK(f.find("fc2.Wex")->shape == std::vector<int64_t>{kWidth, kWidth});
    CHECK(f.metadata.at("num_layers") == "3");
    // A checkpoint of depth 3 does not resume or initialize a network of depth 2.
    const RunResult r = run_dale(ws, train_args(ws, {"--model.variant", variant, "--exp.init", ckpt, "--train.epochs", "1"}));
    CHECK(r.rc == 2);
  }
  for (const std::string bad : {"0", "-1", "65"}) {
    const RunResult r = run_dale(ws, train_args(ws, {"--model.num_layers", bad}));
    CHECK(r.rc == 2);
    REQUIRE(r.err_lines.size() == 1);
    CHECK(r.err_lines[0].find("--model.num_layers") != std::string::npos);
  }
}

TEST_CASE("sweep: by default the study's own 30 configurations; random ones by option") {
  Workspace ws;
  auto dry = [&](std::vector<std::string> flags) {
    std::vector<std::string> a = {"sweep", "--data.dir", ws.data, "--dry-run"};
    a.insert(a.end(), flags.begin(), flags.end());
    return run_dale(ws, a);
  };
  const RunResult r = dry({});
  REQUIRE_RUN(r, 0);
  const auto lines = lines_of(r.out);
  CHECK(lines.size() == 30 * 9 * 4);  // configurations × the study's 9 conditions × 4 ε
  std::map<int64_t, std::set<std::string>> widths;  // configuration → widths listed for it
  for (const auto& l : lines) {
    const auto cfg = std::stoll(l.substr(l.find("cfg") + 3));
    widths[cfg].insert(l.substr(l.find("width ") + 6, l.find("  lr") - l.find("width ") - 6));
  }
  REQUIRE(widths.size() == 30);
  CHECK(*widths[0].begin() == "178");   // random_configs.json[0]
  CHECK(*widths[29].begin() == "332");  // random_configs.json[29]
  for (const auto& [cfg, w] : widths) CHECK_MESSAGE(w.size() == 1, "configuration " << cfg << " has one width");
  CHECK(lines[0].find("lr 0.00469486") != std::string::npos);

  const RunResult random = dry({"--sweep.source", "random", "--sweep.configs", "5", "--sweep.seed", "4"});
  REQUIRE_RUN(random, 0);
  CHECK(lines_of(random.out).size() == 5 * 9 * 4);
  CHECK(random.out != r.out.substr(0, random.out.size()));
  for (const std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--sweep.seed", "3"}, {"--sweep.width_range", "100", "200"}, {"--sweep.configs", "31"},
           {"--sweep.source", "grid"}}) {
    const RunResult b = dry(bad);
    CHECK(b.rc == 2);
    REQUIRE(b.err_lines.size() == 1);
    CHECK_MESSAGE(b.err_lines[0].find(bad[0]) != std::string::npos, b.err_lines[0]);
  }
}
