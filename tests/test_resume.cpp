// Resumable training: a run stopped after any finished epoch and continued with --exp.resume
// ends with bit-identical parameters, optimizer state and records to the uninterrupted run.
#include <filesystem>
#include <fstream>

#include "framework/check.h"
#include "framework/safetensors.h"
#include "models/trainer.h"
#include "tests/synthetic_data.h"
#include "tests/testing.h"

using namespace dale;

namespace {

TrainConfig small(const std::string& variant, const std::string& dir) {
  TrainConfig c;
  c.model.variant = variant;
  c.model.width = 16;
  c.epochs = 3;
  c.brightness_factor = 0.5f;
  c.opt.momentum = 0.9f;  // optimizer state that must survive the restart
  c.opt.inhib_momentum = 0.5f;
  c.eval_batch = 100;
  c.out = dir + "/records.jsonl";
  c.ckpt = dir + "/ckpt.safetensors";
  c.run = "r";
  return c;
}

void expect_same_checkpoint(const std::string& a, const std::string& b) {
  const SafetensorsFile fa = read_safetensors(a), fb = read_safetensors(b);
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  int opt_tensors = 0;
  for (const NamedTensor& t : fa.tensors) {
    const NamedTensor* u = fb.find(t.name);
    REQUIRE_MESSAGE(u != nullptr, t.name);
    CHECK_MESSAGE(t.data == u->data, t.name << " differs");  // bit for bit
    opt_tensors += t.name.rfind("opt.", 0) == 0;
  }
  CHECK(opt_tensors > 0);
  CHECK(fa.metadata.at("step") == fb.metadata.at("step"));
}

// Records without what legitimately differs: wall time, and — because the interrupted run is
// simulated by a shorter run — its `final` flag and epoch count.
std::vector<nlohmann::json> comparable(std::vector<nlohmann::json> recs) {
  for (auto& r : recs) {
    r.erase("elapsed_s");
    r.erase("final");
    r["config"].erase("exp");
    r["config"]["train"].erase("epochs");
  }
  return recs;
}

}  // namespace

TEST_CASE("stop after each epoch, resume: identical to the uninterrupted run") {
  dale::test::TempDir tmp;
  const FashionMNIST data = dale::test::synthetic_dataset(tmp / "data");
  for (const char* variant : {"inorm+", "ei-ln+"}) {
    INFO(variant);
    std::filesystem::create_directories(tmp / (std::string("full-") + variant));
    const TrainConfig full = small(variant, tmp / (std::string("full-") + variant));
    train(full, data);
    for (int64_t stop : {1, 2}) {
      const std::string dir = tmp / (std::string("part-") + variant + std::to_string(stop));
      std::filesystem::create_directories(dir);
      TrainConfig part = small(variant, dir);
      part.epochs = stop;
      part.resume = true;
      CHECK(train(part, data).resumed_from == 0);  // no checkpoint yet: a fresh start
      TrainConfig rest = small(variant, dir);
      rest.resume = true;
      const TrainSummary s = train(rest, data);
      CHECK(s.resumed_from == stop);
      CHECK(s.epochs_done == 3);
      expect_same_checkpoint(full.ckpt, rest.ckpt);
      CHECK(comparable(read_records(full.out)) == comparable(read_records(rest.out)));
      // Resuming a finished run does nothing.
      CHECK(train(rest, data).resumed_from == 3);
      CHECK(read_records(rest.out).size() == 3);
    }
  }
}

TEST_CASE("resume refuses a checkpoint of another configuration or a mid-epoch one") {
  dale::test::TempDir tmp;
  const FashionMNIST data = dale::test::synthetic_dataset(tmp / "data");
  TrainConfig a = small("inorm+", tmp.str());
  a.epochs = 1;
  a.resume = true;
  train(a, data);
  TrainConfig b = a;
  b.epochs = 2;
  b.opt.lr = 0.01f;
  CHECK_THROWS_WITH_AS(train(b, data), doctest::Contains("opt.lr"), InputError);
  b = a;
  b.model.variant = "inorm-";
  CHECK_THROWS_WITH_AS(train(b, data), doctest::Contains("variant"), InputError);
  b = a;
  b.ckpt.clear();
  CHECK_THROWS_WITH_AS(train(b, data), doctest::Contains("--exp.ckpt"), InputError);
  TrainConfig m = small("ei", tmp / "mid");
  std::filesystem::create_directories(tmp / "mid");
  m.max_steps = 5;
  train(m, data);
  m.max_steps = -1;
  m.resume = true;
  CHECK_THROWS_WITH_AS(train(m, data), doctest::Contains("mid-epoch"), InputError);
}
