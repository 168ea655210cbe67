// Experiments (models/experiments.h): sweep configurations follow SPEC §9's ranges and are shared
// by all conditions, shards are disjoint and cover the plan, finished runs are skipped on resume,
// and a diverged run is a recorded result.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "datasets/fashion_mnist.h"
#include "framework/check.h"
#include "models/experiments.h"
#include "tests/synthetic_data.h"
#include "tests/testing.h"

using namespace dale;

static FashionMNIST synthetic(const std::string& dir) {
  std::filesystem::create_directories(dir);
  dale::test::write_synthetic_fashion_mnist(dir);
  return load_fashion_mnist(dir);
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
  const FashionMNIST data = synthetic(dir + "/data");
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
  const FashionMNIST data = synthetic(dir + "/data");
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
