// `dale compare`: the variant comparison — variants × brightness values × seeds, one JSON Lines
// stream, a live line per finished run and a summary table. Resumes: finished runs are skipped.
#include <cstdio>

#include "framework/check.h"
#include "tools/dale/commands.h"
#include "tools/dale/experiment_cli.h"
#include "tools/dale/train_flags.h"

namespace dale::cli {

static void add_compare(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  auto variants = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"ei-ln+", "inorm-", "inorm+"});
  auto eps = std::make_shared<std::vector<float>>(std::vector<float>{0.f, 0.25f, 0.5f, 0.75f});
  auto seeds = std::make_shared<int64_t>(3);
  auto out = std::make_shared<std::string>("runs/compare.jsonl");
  CLI::App* c = app.add_subcommand("compare", "train several variants across brightness values and seeds");
  add_train_flags(c, f, /*with_run_flags=*/false);
  auto pack = std::make_shared<int64_t>(0);
  add_condition_flags(c, *variants, *eps, *pack);
  auto dry = std::make_shared<bool>(false);
  c->add_option("--seeds", *seeds, "seeds 0 … N−1 per condition")->check(whole_number_at_least(1))->capture_default_str();
  c->add_option("--exp.out", *out, "JSON Lines output (appended; finished runs are skipped)")->capture_default_str();
  c->add_flag("--dry-run", *dry, "list the planned runs, train nothing");
  c->callback([=]() {
    const TrainConfig base = f->resolve();
    if (*seeds < 1) throw InputError(fmt::format("--seeds: {} is not ≥ 1", *seeds));
    std::vector<uint64_t> s;
    for (int64_t i = 0; i < *seeds; ++i) s.push_back(uint64_t(i));
    const auto runs = plan_compare(base, checked_variants(*variants), checked_eps(*eps), s);
    if (*dry) {  // what would run, checked as a real run is; nothing trained or written
      check_plan(runs, base, *pack);
      std::fprintf(stderr, "dale: compare of %zu runs\n", runs.size());
      print_plan(runs);
      set_exit_code(kExitOk);
      return;
    }
    run_experiment(runs, base, *out, *pack);
    set_exit_code(kExitOk);
  });
}
DALE_COMMAND(20, add_compare);

}  // namespace dale::cli
