// Experiments (models/experiments.h): sweep configurations follow SPEC §9's ranges and are shared
// by all conditions, shards are disjoint and cover the plan, finished runs are skipped on resume,
// and a diverged run is a recorded result.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "datasets/fashion_mnist.h"
#include "framework/check.h"
#include "models/experiments.h"
#include "tests/synthetic_data.h"
#include "tests/testing.h"

using namespace dale;

TEST_CASE("sweep configurations: the study's own 30, as its random_configs.json 0-29 has them") {
  const auto& s = study_sweep_configs();
  REQUIRE(s.size() == 30);
  for (size_t i = 0; i < s.size(); ++i) {
    CAPTURE(i);
    CHECK(s[i].id == int64_t(i));
    // The study's generator's ranges: lr 10^U(−3,−2), lr_wei 10^U(−5,−2), lr_wix 10^U(−2,0).
    CHECK((s[i].lr >= 1e-3f && s[i].lr <= 1e-2f));
    CHECK((s[i].lr_wei >= 1e-5f && s[i].lr_wei <= 1e-2f));
    CHECK((s[i].lr_wix >= 1e-2f && s[i].lr_wix <= 1.f));
    CHECK((s[i].width >= 100 && s[i].width <= 499));
  }
  // First and last as the study's file writes them (a shifted or reordered table fails here).
  CHECK(s[0].lr == float(0.0046948634644269184));
  CHECK(s[0].lr_wei == float(0.0004979148010321483));
  CHECK(s[0].lr_wix == float(0.8313806603864143));
  CHECK(s[0].width == 178);
  CHECK(s[29].lr == float(0.002254274645984173));
  CHECK(s[29].lr_wei == float(0.006203181588475437));
  CHECK(s[29].lr_wix == float(0.0892953871038381));
  CHECK(s[29].width == 332);
  std::set<int64_t> widths;
  for (const auto& c : s) widths.insert(c.width);
  CHECK(widths.size() == 27);  // three widths occur twice (packs form across ε and variant)
}

TEST_CASE("sweep configurations: SPEC §9 ranges, deterministic, shared by conditions") {
  const auto a = draw_sweep_configs(200, 7, SweepRanges{});
  const auto b = draw_sweep_configs(200, 7, SweepRanges{});
  const auto c = draw_sweep_configs(200, 8, SweepRanges{});
  int differ = 0;
  double mean_log_lr = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].lr == b[i].lr);
    CHECK(a[i].width == b[i].width);
    differ += a[i].lr != c[i].lr;
    CHECK(a[i].lr >= 1e-3f);
    CHECK(a[i].lr <= 1e-2f);
    CHECK(a[i].lr_wei >= 1e-5f);
    CHECK(a[i].lr_wei <= 1e-2f);
    CHECK(a[i].lr_wix >= 1e-2f);
    CHECK(a[i].lr_wix <= 1.f);
    CHECK(a[i].width >= 100);
    CHECK(a[i].width <= 499);
    mean_log_lr += std::log10(a[i].lr) / double(a.size());
  }
  CHECK(differ > 190);
  // log-uniform: the mean of log10(lr) is −2.5 ± (1/√12)/√200 ≈ 0.02
  CHECK(std::fabs(mean_log_lr + 2.5) < 0.08);

  TrainConfig base;
  const auto runs = plan_sweep(base, draw_sweep_configs(3, 0, SweepRanges{}), {"inorm+", "ei-ln+"}, {0.f, 0.75f});
  REQUIRE(runs.size() == 12);
  std::map<int64_t, std::vector<const PlannedRun*>> by_cfg;
  for (const auto& r : runs) by_cfg[*r.cfg.config_id].push_back(&r);
  for (const auto& [id, rs] : by_cfg) {
    CHECK(rs.size() == 4);
    for (const auto* r : rs) {
      CHECK(r->cfg.opt.lr == rs[0]->cfg.opt.lr);
      CHECK(r->cfg.model.width == rs[0]->cfg.model.width);
      CHECK(r->cfg.seed == uint64_t(id));
    }
  }
}

TEST_CASE("shards are disjoint and together cover the plan") {
  TrainConfig base;
  const auto runs = plan_compare(base, {"ei", "ei-ln+", "inorm+"}, {0.f, 0.5f}, {0, 1, 2});
  REQUIRE(runs.size() == 18);
  std::map<std::string, int> seen;
  for (int64_t i = 0; i < 4; ++i)
    for (const auto& r : select_shard(runs, parse_shard(fmt::format("{}/4", i)))) ++seen[r.run];
  CHECK(seen.size() == 18);
  for (const auto& [run, n] : seen) CHECK_MESSAGE(n == 1, run);
  CHECK_THROWS_AS(parse_shard("4/4"), InputError);
  CHECK_THROWS_AS(parse_shard("1-4"), InputError);
  CHECK_THROWS_AS(parse_shard("a/4"), InputError);
  ::setenv("SLURM_ARRAY_TASK_ID", "3", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  const Shard s = resolve_shard("");
  CHECK(s.index == 2);
  CHECK(s.count == 4);
  CHECK(resolve_shard("0/2").count == 2);  // the flag wins over the environment
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  CHECK(resolve_shard("").count == 1);
}

TEST_CASE("an experiment resumes: finished runs are skipped, none repeated or missing") {
  const dale::test::TempDir tmp;
  const std::string dir = tmp.str();
  const FashionMNIST data = dale::test::synthetic_dataset(dir + "/data");
  TrainConfig base;
  base.epochs = 2;
  base.model.width = 12;
  base.eval_batch = 64;
  const auto runs = plan_compare(base, {"ei-ln+", "inorm+"}, {0.5f}, {0, 1});
  const std::string out = dir + "/out.jsonl";

  // "Killed" after two runs: execute the first two only.
  auto first = execute_runs({runs[0], runs[1]}, data, out, {});
  CHECK(first.size() == 2);
  CHECK(finished_runs(out).size() == 2);
  // A crash mid-append leaves a torn line; the resumed experiment must survive it.
  { std::ofstream(out, std::ios::app) << "{\"run\": \"torn"; }
  auto all = execute_runs(runs, data, out, {});
  int skipped = 0;
  for (const auto& r : all) skipped += r.skipped;
  CHECK(skipped == 2);
  const auto recs = read_records(out);
  std::map<std::string, int> per_run;
  for (const auto& r : recs) ++per_run[r["run"].get<std::string>()];
  CHECK(per_run.size() == 4);
  for (const auto& [run, n] : per_run) CHECK_MESSAGE(n == 2, run << " has " << n << " records");
  CHECK(finished_runs(out).size() == 4);
}

TEST_CASE("a diverged run is recorded as a result, with chance-level accuracy") {
  const dale::test::TempDir tmp;
  const std::string dir = tmp.str();
  const FashionMNIST data = dale::test::synthetic_dataset(dir + "/data");
  TrainConfig base;
  base.epochs = 2;
  base.model.width = 12;
  base.opt.lr = 1e20f;  // SGD at this rate overflows within the first steps
  auto runs = plan_compare(base, {"ei"}, {0.f}, {0});
  const std::string out = dir + "/out.jsonl";
  const auto res = execute_runs(runs, data, out, {});
  REQUIRE(res.size() == 1);
  CHECK(res[0].diverged);
  const auto recs = read_records(out);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0]["diverged"].get<bool>());
  CHECK(recs[0]["final"].get<bool>());
  CHECK(recs[0]["test_acc"].get<double>() < 30.0);
  // Resuming does not train it again.
  CHECK(execute_runs(runs, data, out, {})[0].skipped);
}

// Packing (execute_runs' `pack`): runs of one variant and width train as one ensemble, and every
// run's records are those it writes unpacked — also when one member diverges, and when members
// resume from different epochs (they then go into different packs).
TEST_CASE("packed runs write the records of unpacked runs") {
  const dale::test::TempDir tmp;
  const std::string dir = tmp.str();
  const FashionMNIST data = dale::test::synthetic_dataset(dir + "/data");
  TrainConfig base;
  base.epochs = 2;
  base.model.width = 12;
  base.eval_batch = 64;
  auto runs = plan_compare(base, {"inorm+", "ei"}, {0.f, 0.5f}, {0, 1, 2});
  runs[2].cfg.opt.lr = 1e20f;  // one member of ei's first pack diverges (as in the case above)
  auto by_run = [](const std::string& path) {
    std::map<std::string, std::vector<nlohmann::json>> m;
    for (auto r : read_records(path)) {
      for (const char* key : {"elapsed_s", "config"}) r.erase(key);  // config: output paths
      m[r["run"].get<std::string>()].push_back(r);
    }
    return m;
  };
  const std::string alone = dir + "/alone.jsonl", packed = dir + "/packed.jsonl";
  const auto a = execute_runs(runs, data, alone, {}, 1);
  const auto p = execute_runs(runs, data, packed, {}, 4);
  REQUIRE(p.size() == runs.size());
  int diverged = 0;
  for (const auto& r : p) diverged += r.diverged;
  CHECK(diverged == 1);
  const auto ra = by_run(alone), rp = by_run(packed);
  REQUIRE(ra.size() == runs.size());
  auto same = [&](const std::map<std::string, std::vector<nlohmann::json>>& x) {
    for (const auto& [run, recs] : ra) CHECK_MESSAGE((x.count(run) && x.at(run) == recs), run << " differs");
  };
  same(rp);
  // It really packed: the 3 seeds × 2 ε of a variant (pack 4: 4 + 2) share their wall times.
  std::set<double> times;
  for (const auto& r : p) times.insert(r.seconds);
  CHECK(times.size() == 4);

  // Interrupted states: runs[0] finished epoch 1 (a checkpoint), runs[1] none. Packing must not
  // put them in one ensemble (they resume from different epochs), and the result is unchanged.
  const std::string resumed = dir + "/resumed.jsonl";
  std::filesystem::create_directories(resumed + ".ckpt");
  // Train runs[0] for its first epoch under the resumed experiment's names.
  TrainConfig c1 = runs[0].cfg;
  c1.epochs = 1;
  c1.out = resumed;
  c1.ckpt = resumed + ".ckpt/" + runs[0].run + ".safetensors";
  train(c1, data);
  // Its epoch-1 record was final for a 1-epoch run; rewrite it as the 2-epoch run's (not final).
  auto recs = read_records(resumed);
  REQUIRE(recs.size() == 1);
  std::filesystem::remove(resumed);
  recs[0]["final"] = false;
  recs[0]["config"]["train"]["epochs"] = 2;
  append_line(resumed, recs[0].dump());
  const auto r2 = execute_runs(runs, data, resumed, {}, 4);
  same(by_run(resumed));
}
