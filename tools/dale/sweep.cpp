// `dale sweep`: the study's protocol (docs/study.md) — its own 30 configurations (or new random
// ones) shared by every condition (variant × ε), 50 epochs, the training set in file order. `--shard i/n` (or a SLURM
// job array's environment) runs a disjoint slice; outputs merge by concatenation; a killed
// sweep resumes where it stopped.
#include <cmath>
#include <cstdio>
#include <type_traits>

#include "framework/check.h"
#include "framework/parse_number.h"
#include "tools/dale/commands.h"
#include "tools/dale/experiment_cli.h"
#include "tools/dale/train_flags.h"

namespace dale::cli {

static void add_sweep(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  f->shuffle = 0;  // SPEC §9: the training set in file order
  auto variants = std::make_shared<std::vector<std::string>>(std::vector<std::string>{
      "e-ln+", "ei-ln+", "ei-ln-", "inorm-", "inorm+", "inorm-center", "inorm-scale", "inorm-decorrelate", "inorm-fa"});
  auto eps = std::make_shared<std::vector<float>>(std::vector<float>{0.f, 0.25f, 0.5f, 0.75f});
  auto configs = std::make_shared<int64_t>(30);
  auto source = std::make_shared<std::string>("study");
  auto seed = std::make_shared<uint64_t>(0);
  auto shard = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("runs/sweep.jsonl");
  auto dry = std::make_shared<bool>(false);
  auto ranges = std::make_shared<SweepRanges>();
  CLI::App* c = app.add_subcommand("sweep", "the study's sweep: its 30 configurations × conditions, resumable and shardable");
  // Each configuration sets the rates and the width of its runs: those flags would be ignored.
  add_train_flags(c, f, /*with_run_flags=*/false,
                  {{"--opt.lr", "--opt.inhib_lrs.wix", "--opt.inhib_lrs.wei", "--model.hidden_layer_width"},
                   "not a flag of dale sweep: its configurations set lr, the Wix and Wei rates and the width of "
                   "every run (see --sweep.source)"});
  auto pack = std::make_shared<int64_t>(0);
  add_condition_flags(c, *variants, *eps, *pack);
  c->add_option("--sweep.source", *source,
                "study: the study's own 30 configurations (lr, lr_wei, lr_wix, width; its random_configs.json "
                "0-29); random: new ones drawn from --sweep.seed and the --sweep.*_range flags")
      ->capture_default_str();
  c->add_option("--sweep.configs", *configs,
                "number of configurations (the replicates): the first N of the study's 30, or N random ones")
      ->check(whole_number_at_least(1))
      ->capture_default_str();
  auto* seed_opt = c->add_option("--sweep.seed", *seed, "seed of random configurations (--sweep.source random)")
                       ->check(unsigned_integer)
                       ->capture_default_str();
  // A LO HI pair of finite numbers (integers for the width), parsed whole: "100x" or "1e50" (beyond
  // float) is refused here, naming the flag, rather than read as 100 or inf.
  auto range = [c](const std::string& name, auto& lo, auto& hi, const std::string& help) {
    return c->add_option(name, [name, &lo, &hi](const CLI::results_t& r) {
      using T = std::remove_reference_t<decltype(lo)>;
      if (r.size() != 2) throw InputError(fmt::format("{}: expected two values, LO HI", name));
      T v[2];
      for (int k = 0; k < 2; ++k) {
        const auto d = parse_double(r[size_t(k)]);
        const bool whole = std::is_integral_v<T> ? bool(parse_int(r[size_t(k)])) : true;
        if (!d || !whole || !std::isfinite(T(*d)))
          throw InputError(fmt::format("{}: '{}' is not a finite {}", name, r[size_t(k)],
                                       std::is_integral_v<T> ? "whole number" : "number"));
        v[k] = T(*d);
      }
      lo = v[0], hi = v[1];
      return true;
    }, help)->expected(2);
  };
  std::vector<CLI::Option*> random_only = {
      seed_opt,
      range("--sweep.lr_range", ranges->lr_lo, ranges->lr_hi, "random: log-uniform range of lr (default 1e-3 1e-2)"),
      range("--sweep.wei_range", ranges->wei_lo, ranges->wei_hi,
            "random: log-uniform range of the Wei rate (default 1e-5 1e-2)"),
      range("--sweep.wix_range", ranges->wix_lo, ranges->wix_hi,
            "random: log-uniform range of the Wix rate (default 1e-2 1)"),
      range("--sweep.width_range", ranges->width_lo, ranges->width_hi,
            "random: uniform integer range of the hidden width (default 100 499)")};
  c->add_option("--shard", *shard, "run slice i of n (i/n, 0-based); default: SLURM_ARRAY_TASK_ID/COUNT, else all")
      ->check([](const std::string& s) {  // given, it must be a shard: '' is refused, not "all"
        parse_shard(s);  // throws InputError naming --shard
        return std::string();
      });
  c->add_option("--exp.out", *out, "JSON Lines output (appended; finished runs are skipped)")->capture_default_str();
  c->add_flag("--dry-run", *dry, "list this shard's runs and configurations, train nothing");
  c->callback([=]() {
    const TrainConfig base = f->resolve();
    if (*configs < 1) throw InputError(fmt::format("--sweep.configs: {} is not ≥ 1", *configs));
    if (*source != "study" && *source != "random")
      throw InputError(fmt::format("--sweep.source: '{}' is not a source; expected study or random", *source));
    const bool study = *source == "study";
    const auto& table = study_sweep_configs();
    if (study && size_t(*configs) > table.size())
      throw InputError(fmt::format("--sweep.configs: the study has {} configurations, not {}; use --sweep.source "
                                   "random for more",
                                   table.size(), *configs));
    if (study)
      for (const CLI::Option* o : random_only)
        if (o->count() > 0)
          throw InputError(fmt::format("{}: applies to --sweep.source random only (the study's configurations are "
                                       "fixed)",
                                       o->get_name()));
    const SweepRanges& r = *ranges;
    if (!(r.lr_lo > 0 && r.lr_lo <= r.lr_hi && r.wei_lo > 0 && r.wei_lo <= r.wei_hi && r.wix_lo > 0 && r.wix_lo <= r.wix_hi))
      throw InputError("--sweep.*_range: rate ranges need 0 < lo ≤ hi");
    if (!(r.width_lo >= 2 && r.width_lo <= r.width_hi))
      throw InputError("--sweep.width_range: needs 2 ≤ lo ≤ hi");
    const Shard sh = resolve_shard(*shard);
    const std::vector<SweepConfig> cfgs = study ? std::vector<SweepConfig>(table.begin(), table.begin() + *configs)
                                                : draw_sweep_configs(*configs, *seed, r);
    const auto all = plan_sweep(base, cfgs, checked_variants(*variants), checked_eps(*eps));
    const auto mine = select_shard(all, sh);
    check_plan(mine, base, *pack);  // before the first line: bad input gets one line only
    std::fprintf(stderr, "dale: sweep of %zu runs; shard %lld/%lld runs %zu\n", all.size(), (long long)sh.index,
                 (long long)sh.count, mine.size());
    if (*dry) {
      print_plan(mine);
      return;
    }
    run_experiment(mine, base, *out, *pack);
    set_exit_code(kExitOk);
  });
}
DALE_COMMAND(30, add_sweep);

}  // namespace dale::cli
