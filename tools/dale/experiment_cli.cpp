// Shared execution and summary of compare and sweep (see experiment_cli.h).
#include "tools/dale/experiment_cli.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "datasets/fashion_mnist.h"
#include "framework/check.h"
#include "models/limits.h"
#include "tools/dale/train_flags.h"

namespace dale::cli {

void add_condition_flags(CLI::App* c, std::vector<std::string>& variants, std::vector<float>& eps, int64_t& pack) {
  c->add_option("--exp.pack", pack,
                "train up to this many runs of one variant and width together, as one ensemble (1: one by one; "
                "0: 32 on CUDA, 1 on the CPU, where an ensemble step is no faster than its models' steps)")
      ->check(whole_number_at_least(0))
      ->capture_default_str();
  c->add_option("--variants", variants, "comma-separated variants")->delimiter(',')->capture_default_str();
  c->add_option("--eps", eps, "comma-separated brightness factors ε")
      ->delimiter(',')
      ->check(real_number)  // each item: `--eps ''` would otherwise be the list {0}
      ->capture_default_str();
}

// Each item once: a condition listed twice would plan two runs with one id (and −0 is 0: the
// same condition, not a second one named eps-0).
std::vector<float> checked_eps(const std::vector<float>& eps) {
  if (eps.empty()) throw InputError("--eps: expected at least one brightness factor");
  std::vector<float> out;
  for (float e : eps) {
    if (!(e >= 0.f && e <= 1.f)) throw InputError(fmt::format("--eps: {} is not in [0, 1]", e));
    if (e == 0.f) e = 0.f;  // −0 → 0
    if (std::find(out.begin(), out.end(), e) != out.end())
      throw InputError(fmt::format("--eps: {} is listed twice; expected each brightness factor once", e));
    out.push_back(e);
  }
  return out;
}

std::vector<std::string> checked_variants(const std::vector<std::string>& v) {
  if (v.empty()) throw InputError("--variants: expected at least one variant");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string& name = v[i];
    if (name.empty())
      throw InputError(fmt::format("--variants: item {} is empty; expected a comma-separated list of variants", i + 1));
    try {
      find_variant(name);
    } catch (const InputError&) {  // its message names --model.variant
      throw InputError(fmt::format("--variants: unknown variant '{}'; expected one of: {}", name, variant_names()));
    }
    if (std::find(v.begin(), v.begin() + long(i), name) != v.begin() + long(i))
      throw InputError(fmt::format("--variants: '{}' is listed twice; expected each variant once", name));
  }
  return v;
}

// --exp.pack: ≥ 0; 0 is the device's default (32 on CUDA, 1 on the CPU).
static int64_t resolved_pack(int64_t pack, const TrainConfig& base) {
  if (pack < 0) throw InputError(fmt::format("--exp.pack: {} is not ≥ 0", pack));
  return pack != 0 ? pack : base.model.device == Device::CUDA ? 32 : 1;
}

void check_plan(const std::vector<PlannedRun>& runs, const TrainConfig& base, int64_t pack) {
  pack = resolved_pack(pack, base);
  std::map<std::pair<std::string, int64_t>, int64_t> same_network;  // a pack: runs of one variant and width
  for (const auto& r : runs) ++same_network[{r.cfg.model.variant, r.cfg.model.width}];
  for (const auto& r : runs) {
    validate(r.cfg);
    check_memory(r.cfg, std::min(pack, same_network[{r.cfg.model.variant, r.cfg.model.width}]), "--exp.pack");
  }
}

void print_plan(const std::vector<PlannedRun>& runs) {
  for (const auto& p : runs) {
    const int64_t width = p.cfg.model.width != 0 ? p.cfg.model.width : find_variant(p.cfg.model.variant).default_width;
    std::printf("%s  width %lld  lr %.6g  lr_wix %.6g  lr_wei %.6g\n", p.run.c_str(), (long long)width, p.cfg.opt.lr,
                p.cfg.opt.lr_wix, p.cfg.opt.lr_wei);
  }
}

void run_experiment(const std::vector<PlannedRun>& runs, const TrainConfig& base, const std::string& out, int64_t pack) {
  if (out.empty()) throw InputError("--exp.out: an experiment needs an output file");
  pack = resolved_pack(pack, base);
  if (runs.empty()) {  // a shard beyond the sweep's runs (a SLURM array larger than the sweep)
    std::fprintf(stderr, "dale: no runs in this shard; nothing to do\n");
    return;
  }
  check_plan(runs, base, pack);  // before anything is written
  check_runs(runs, out);        // run identities against out's records, paths against each other
  const auto dir = std::filesystem::path(out).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw InputError(fmt::format("--exp.out: cannot create directory '{}' ({})", dir.string(), ec.message()));
  }
  const FashionMNIST data = load_fashion_mnist(base.data_dir);
  std::fprintf(stderr, "dale: %zu runs, %lld epochs each, records to %s\n", runs.size(),
               (long long)base.epochs, out.c_str());
  execute_runs(runs, data, out, [](const RunResult& r, size_t done, size_t total) {
    if (r.held)
      std::fprintf(stderr, "[%zu/%zu] %s: being trained by another process, skipped\n", done, total, r.run.c_str());
    else if (r.skipped)
      std::fprintf(stderr, "[%zu/%zu] %s: already finished, skipped\n", done, total, r.run.c_str());
    else
      std::fprintf(stderr, "[%zu/%zu] %s: test %.2f%%%s  %.1f s\n", done, total, r.run.c_str(), r.test_acc,
                   r.diverged ? " (diverged)" : "", r.seconds);
  }, pack);

  // The summary reads the output file, so runs finished by an earlier, killed invocation count.
  std::set<std::string> planned;
  for (const auto& r : runs) planned.insert(r.run);
  std::map<std::pair<std::string, float>, std::vector<double>> acc;
  std::map<std::pair<std::string, float>, int> diverged;
  for (const auto& rec : read_records(out)) {
    if (!rec.value("final", false) || !planned.count(rec.value("run", ""))) continue;
    planned.erase(rec.value("run", ""));  // a run counts once
    const auto key = std::make_pair(rec.value("variant", ""), rec.value("eps", 0.f));
    acc[key].push_back(rec.value("test_acc", 0.0));
    diverged[key] += rec.value("diverged", false) ? 1 : 0;
  }
  std::printf("| variant | ε | runs | diverged | test accuracy (%%), mean ± sd |\n| --- | --- | --- | --- | --- |\n");
  for (const auto& [key, v] : acc) {
    double m = 0, q = 0;
    for (double a : v) m += a;
    m /= double(v.size());
    for (double a : v) q += (a - m) * (a - m);
    const double sd = v.size() > 1 ? std::sqrt(q / double(v.size() - 1)) : 0.0;
    std::printf("| %s | %g | %zu | %d | %.2f ± %.2f |\n", key.first.c_str(), key.second, v.size(),
                diverged[key], m, sd);
  }
}

}  // namespace dale::cli
