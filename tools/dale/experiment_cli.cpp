// Shared execution and summary of compare and sweep (see experiment_cli.h).
#include "tools/dale/experiment_cli.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "datasets/fashion_mnist.h"
#include "framework/check.h"
#include "tools/dale/train_flags.h"

namespace dale::cli {

void add_condition_flags(CLI::App* c, std::vector<std::string>& variants, std::vector<float>& eps, int64_t& pack) {
  c->add_option("--exp.pack", pack,
                "train up to this many runs of one variant and width together, as one ensemble (1: one by one; "
                "0: 32 on CUDA, 1 on the CPU, where an ensemble step is no faster than its models' steps)")
      ->capture_default_str();
  c->add_option("--variants", variants, "comma-separated variants")->delimiter(',')->capture_default_str();
  c->add_option("--eps", eps, "comma-separated brightness factors ε")
      ->delimiter(',')
      ->check(real_number)  // each item: `--eps ''` would otherwise be the list {0}
      ->capture_default_str();
}

std::vector<float> checked_eps(const std::vector<float>& eps) {
  if (eps.empty()) throw InputError("--eps: expected at least one brightness factor");
  for (float e : eps)
    if (!(e >= 0.f && e <= 1.f)) throw InputError(fmt::format("--eps: {} is not in [0, 1]", e));
  return eps;
}

std::vector<std::string> checked_variants(const std::vector<std::string>& v) {
  if (v.empty()) throw InputError("--variants: expected at least one variant");
  for (const auto& name : v) {
    try {
      find_variant(name);
    } catch (const InputError&) {  // its message names --model.variant
      throw InputError(fmt::format("--variants: unknown variant '{}'; expected one of: {}", name, variant_names()));
    }
  }
  return v;
}

void run_experiment(const std::vector<PlannedRun>& runs, const TrainConfig& base, const std::string& out, int64_t pack) {
  if (out.empty()) throw InputError("--exp.out: an experiment needs an output file");
  if (pack < 0) throw InputError(fmt::format("--exp.pack: {} is not ≥ 0", pack));
  if (pack == 0) pack = base.model.device == Device::CUDA ? 32 : 1;
  if (runs.empty()) {  // a shard beyond the sweep's runs (a SLURM array larger than the sweep)
    std::fprintf(stderr, "dale: no runs in this shard; nothing to do\n");
    return;
  }
  const auto dir = std::filesystem::path(out).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw InputError(fmt::format("--exp.out: cannot create directory '{}' ({})", dir.string(), ec.message()));
  }
  for (const auto& r : runs) validate(r.cfg);
  const FashionMNIST data = load_fashion_mnist(base.data_dir);
  std::fprintf(stderr, "dale: %zu runs, %lld epochs each, records to %s\n", runs.size(),
               (long long)base.epochs, out.c_str());
  execute_runs(runs, data, out, [](const RunResult& r, size_t done, size_t total) {
    if (r.skipped)
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
