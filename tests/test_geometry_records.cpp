// Synaptic geometry in the training records (--diag.geometry, models/geometry.h) and the
// initialization and learning-rule options measured with it: off by default and then invisible
// (records and checkpoints as before), on without changing what is trained, measured against the
// run's own initial weights across a resume, and every new setting in the config only when it
// is not the default.
#include <filesystem>

#include "framework/check.h"
#include "framework/safetensors.h"
#include "framework/spectral.h"
#include "models/geometry.h"
#include "models/trainer.h"
#include "tests/synthetic_data.h"
#include "tests/testing.h"

using namespace dale;
using json = nlohmann::json;

namespace {

TrainConfig small(const std::string& variant, const std::string& dir) {
  std::filesystem::create_directories(dir);
  TrainConfig c;
  c.model.variant = variant;
  c.model.width = 16;
  c.epochs = 2;
  c.opt.lr = 0.05f;
  c.eval_batch = 100;
  c.out = dir + "/records.jsonl";
  c.ckpt = dir + "/ckpt.safetensors";
  c.run = "r";
  return c;
}

// What may differ between two runs of one training: wall time, the geometry flag and its output.
std::vector<json> without_geometry(std::vector<json> recs) {
  for (json& r : recs) {
    r.erase("elapsed_s");
    r.erase("geometry");
    r["config"].erase("diag");
    r["config"].erase("exp");
  }
  return recs;
}

std::vector<float> tensor_of(const std::string& ckpt, const std::string& name) {
  const SafetensorsFile f = read_safetensors(ckpt);
  const NamedTensor* t = f.find(name);
  REQUIRE_MESSAGE(t != nullptr, name);
  return t->data;
}

}  // namespace

TEST_CASE("geometry off: no geometry, no new config keys; on: the same training, bit for bit") {
  dale::test::TempDir tmp;
  const FashionMNIST data = dale::test::synthetic_dataset(tmp / "data");
  for (const char* variant : {"inorm+", "ei"}) {
    INFO(variant);
    const TrainConfig off = small(variant, tmp / (std::string("off-") + variant));
    TrainConfig on = small(variant, tmp / (std::string("on-") + variant));
    on.geometry = true;
    train(off, data);
    train(on, data);
    const std::vector<json> a = read_records(off.out), b = read_records(on.out);
    REQUIRE(a.size() == 2);
    for (const json& r : a) {
      CHECK_FALSE(r.contains("geometry"));
      CHECK_FALSE(r["config"].contains("diag"));
      CHECK_FALSE(r["config"]["model"].contains("init_rank"));
      CHECK_FALSE(r["config"]["model"].contains("init_gain"));
      CHECK_FALSE(r["config"]["opt"].contains("gd_signs"));
    }
    CHECK(b[0]["config"]["diag"]["geometry"] == true);
    CHECK(b[0]["geometry"].contains("init"));  // epoch 1 carries the initial weights' statistics
    CHECK_FALSE(b[1]["geometry"].contains("init"));
    CHECK(without_geometry(a) == without_geometry(b));
    const SafetensorsFile fa = read_safetensors(off.ckpt), fb = read_safetensors(on.ckpt);
    REQUIRE(fa.tensors.size() == fb.tensors.size());
    for (const NamedTensor& t : fa.tensors) CHECK_MESSAGE(fb.find(t.name)->data == t.data, t.name);
    // A run with the measurements is not the same run as one without (no result reused).
    CHECK(config_difference(run_identity(a[0]["config"]), run_identity(b[0]["config"])) != "");
  }
}

TEST_CASE("geometry: measured against the run's initial weights, also after a resume") {
  dale::test::TempDir tmp;
  const FashionMNIST data = dale::test::synthetic_dataset(tmp / "data");
  TrainConfig full = small("inorm+", tmp / "full");
  full.geometry = true;
  full.epochs = 3;
  train(full, data);
  TrainConfig part = small("inorm+", tmp / "part");
  part.geometry = part.resume = true;
  part.epochs = 1;
  train(part, data);
  part.epochs = 3;
  CHECK(train(part, data).resumed_from == 1);
  const std::vector<json> a = read_records(full.out), b = read_records(part.out);
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  for (size_t e = 0; e < 3; ++e) CHECK_MESSAGE(a[e]["geometry"] == b[e]["geometry"], "epoch " << e + 1);

  // The statistics of epoch 1's "init" are those of a fresh network of the same seed; the
  // relative change of Wex is ‖W − W₀‖/‖W₀‖ against it, and the activity has changed.
  NetworkConfig nc = full.model;
  nc.inputs = data.train.dim;
  nc.seed = full.seed;
  Network fresh(nc);
  const std::vector<float> w0 = fresh.hidden()[0]->parameters()[0].to_vector();  // fc0.Wex
  const json init = a[0]["geometry"]["init"]["fc0"]["Wex"];
  CHECK(init["mean"].get<double>() == doctest::Approx(weight_stats(w0, 16, data.train.dim, {}).mean).epsilon(1e-12));
  CHECK(init["erank"].get<double>() ==
        doctest::Approx(effective_rank(singular_values(w0.data(), 16, data.train.dim))).epsilon(1e-12));
  // The last record's rel_change, recomputed from the final checkpoint and W₀.
  const std::vector<float> w = tensor_of(full.ckpt, "fc0.Wex");
  double diff = 0, ref = 0;
  for (size_t i = 0; i < w.size(); ++i) diff += (double(w[i]) - w0[i]) * (double(w[i]) - w0[i]), ref += double(w0[i]) * w0[i];
  const double rel = a[2]["geometry"]["fc0"]["Wex"]["rel_change"].get<double>();
  CHECK(rel == doctest::Approx(std::sqrt(diff / ref)).epsilon(1e-9));
  CHECK(rel > 0);
  // I-Norm's frozen Wei is not measured; its trained Wix is.
  CHECK_FALSE(a[2]["geometry"]["fc0"].contains("Wei"));
  CHECK(a[2]["geometry"]["fc0"].contains("Wix"));
  const double cka = a[2]["geometry"]["fc0"]["cka"].get<double>();
  CHECK(cka < 1.0);
  CHECK(cka > 0.0);
}

TEST_CASE("geometry: W₀ is the --exp.init state, not the seed's draw") {
  dale::test::TempDir tmp;
  const FashionMNIST data = dale::test::synthetic_dataset(tmp / "data");
  TrainConfig donor = small("ei", tmp / "donor");
  donor.seed = 7;
  donor.epochs = 1;
  train(donor, data);
  TrainConfig c = small("ei", tmp / "run");
  c.geometry = true;
  c.epochs = 1;
  c.init = donor.ckpt;
  train(c, data);
  const json rec = read_records(c.out).at(0);
  const std::vector<float> w0 = tensor_of(donor.ckpt, "fc0.Wex");
  CHECK(rec["geometry"]["init"]["fc0"]["Wex"]["mean"].get<double>() ==
        doctest::Approx(weight_stats(w0, 16, data.train.dim, {}).mean).epsilon(1e-12));
}

TEST_CASE("init_rank and init_gain through the network: hidden Wex of that rank, output untouched") {
  NetworkConfig nc;
  nc.variant = "inorm+";
  nc.width = 40;
  nc.inputs = 64;
  nc.init_rank = 3;
  Network low(nc);
  nc.init_rank = 0;
  Network full(nc);
  nc.init_gain = 2.f;
  Network gained(nc);
  for (size_t l = 0; l < 2; ++l) {
    const Tensor wex = low.hidden()[l]->parameters()[0];
    const std::vector<double> s = singular_values(wex.to_vector().data(), wex.rows(), wex.cols());
    CHECK(s[3] / s[0] < 1e-5);
    CHECK(s[2] / s[0] > 1e-3);
    const std::vector<float> a = full.hidden()[l]->parameters()[0].to_vector(),
                             b = gained.hidden()[l]->parameters()[0].to_vector();
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(b[i] == float(double(a[i]) * 2.0));
  }
  // The output layer keeps SPEC §7's draw (the same values: its stream position is unchanged).
  CHECK(low.output().parameters()[0].to_vector() == full.output().parameters()[0].to_vector());
  nc.init_gain = 1.f;
  nc.init_rank = 41;  // > min(64, 40)
  CHECK_THROWS_WITH_AS(Network{nc}, doctest::Contains("--model.init_rank"), InputError);
}

TEST_CASE("new settings: validated with the flag's name, and in the config only when not default") {
  TrainConfig c;
  c.model.init_rank = -1;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("--model.init_rank"), InputError);
  c.model.init_rank = 4;
  c.model.init_gain = 0.f;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("--model.init_gain"), InputError);
  c.model.init_gain = 0.5f;
  c.opt.gd_sign_freeze = true;
  c.opt.algorithm = Algorithm::EG;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("--opt.gd_signs"), InputError);
  c.opt.algorithm = Algorithm::SGD;
  c.geometry = true;
  validate(c);
  const json j = to_json(c);
  CHECK(j["model"]["init_rank"] == 4);
  CHECK(j["model"]["init_gain"] == 0.5);
  CHECK(j["opt"]["gd_signs"] == "freeze");
  CHECK(j["diag"]["geometry"] == true);
  CHECK(config_difference(run_identity(j), run_identity(to_json(TrainConfig{}))) != "");
}
