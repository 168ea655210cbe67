// Planning, sharding and resumable execution of experiments (see experiments.h).
#include "models/experiments.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <map>

#include "framework/check.h"
#include "framework/output_file.h"
#include "framework/parse_number.h"
#include "framework/rng.h"

namespace dale {

static std::string eps_str(float e) { return fmt::format("{}", e); }

std::vector<PlannedRun> plan_compare(const TrainConfig& base, const std::vector<std::string>& variants,
                                     const std::vector<float>& eps, const std::vector<uint64_t>& seeds) {
  std::vector<PlannedRun> runs;
  for (uint64_t seed : seeds)
    for (const auto& v : variants)
      for (float e : eps) {
        PlannedRun r{fmt::format("compare-{}-eps{}-seed{}", v, eps_str(e), seed), base};
        r.cfg.model.variant = v;
        r.cfg.brightness_factor = e;
        r.cfg.seed = seed;
        r.cfg.run = r.run;
        runs.push_back(std::move(r));
      }
  return runs;
}

const std::vector<SweepConfig>& study_sweep_configs() {
  struct Row {
    int64_t id;
    double lr, lr_wei, lr_wix;
    int64_t width;
  };
  static const Row rows[] = {
#include "models/study_sweep_configs.inc"
  };
  static const std::vector<SweepConfig> configs = [] {
    std::vector<SweepConfig> v;
    for (const Row& r : rows) v.push_back({r.id, float(r.lr), float(r.lr_wei), float(r.lr_wix), r.width});
    return v;
  }();
  return configs;
}

std::vector<SweepConfig> draw_sweep_configs(int64_t n, uint64_t seed, const SweepRanges& r) {
  RngStream rng(seed, kStreamSweep);
  auto log_uniform = [&](float lo, float hi) {
    return float(std::pow(10.0, std::log10(lo) + rng.uniform() * (std::log10(hi) - std::log10(lo))));
  };
  std::vector<SweepConfig> out;
  for (int64_t k = 0; k < n; ++k) {
    SweepConfig c{k, 0, 0, 0, 0};
    c.lr = log_uniform(r.lr_lo, r.lr_hi);
    c.lr_wei = log_uniform(r.wei_lo, r.wei_hi);
    c.lr_wix = log_uniform(r.wix_lo, r.wix_hi);
    c.width = r.width_lo + int64_t(rng.below(uint64_t(r.width_hi - r.width_lo + 1)));
    out.push_back(c);
  }
  return out;
}

std::vector<PlannedRun> plan_sweep(const TrainConfig& base, const std::vector<SweepConfig>& configs,
                                   const std::vector<std::string>& variants, const std::vector<float>& eps) {
  std::vector<PlannedRun> runs;
  for (const SweepConfig& c : configs)
    for (const auto& v : variants)
      for (float e : eps) {
        PlannedRun r{fmt::format("sweep-cfg{}-{}-eps{}", c.id, v, eps_str(e)), base};
        r.cfg.model.variant = v;
        r.cfg.model.width = c.width;
        r.cfg.opt.lr = c.lr;
        r.cfg.opt.lr_wei = c.lr_wei;
        r.cfg.opt.lr_wix = c.lr_wix;
        r.cfg.brightness_factor = e;
        r.cfg.seed = uint64_t(c.id);
        r.cfg.config_id = c.id;
        r.cfg.run = r.run;
        runs.push_back(std::move(r));
      }
  return runs;
}

Shard parse_shard(const std::string& s) {
  if (s.empty())  // `--shard "$TASK"` with TASK unset must not mean every run
    throw InputError("--shard: '' is empty; expected i/n (e.g. 0/4), 0 ≤ i < n (an unset shell variable?)");
  const auto slash = s.find('/');
  const auto i = parse_int(std::string_view(s).substr(0, slash));
  const auto n = slash == std::string::npos ? std::nullopt : parse_int(std::string_view(s).substr(slash + 1));
  if (!i || !n) throw InputError(fmt::format("--shard: '{}' is not i/n (e.g. 0/4)", s));
  const Shard sh{*i, *n};
  if (sh.count < 1 || sh.index < 0 || sh.index >= sh.count)
    throw InputError(fmt::format("--shard: '{}' needs 0 ≤ i < n", s));
  return sh;
}

Shard resolve_shard(const std::string& flag) {
  if (!flag.empty()) return parse_shard(flag);
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
  if (!id && !count) return {};
  // One without the other is no shard: running everything would run the whole experiment in
  // every array task.
  if (!id || !count)
    throw InputError(fmt::format("{}={} is set but {} is not: dale cannot tell its shard; give --shard i/n",
                                 id ? "SLURM_ARRAY_TASK_ID" : "SLURM_ARRAY_TASK_COUNT", id ? id : count,
                                 id ? "SLURM_ARRAY_TASK_COUNT" : "SLURM_ARRAY_TASK_ID"));
  const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
  const auto i = parse_int(id), n = parse_int(count), m = parse_int(min ? min : "0");
  if (!i || !n || !m)
    throw InputError(fmt::format("SLURM_ARRAY_TASK_ID={} / SLURM_ARRAY_TASK_COUNT={}{}: not integers", id, count,
                                 min ? fmt::format(" / SLURM_ARRAY_TASK_MIN={}", min) : ""));
  return parse_shard(fmt::format("{}/{}", *i - *m, *n));
}

std::vector<PlannedRun> select_shard(const std::vector<PlannedRun>& runs, const Shard& s) {
  std::vector<PlannedRun> out;
  for (size_t j = 0; j < runs.size(); ++j)
    if (int64_t(j) % s.count == s.index) out.push_back(runs[j]);
  return out;
}

std::set<std::string> finished_runs(const std::string& path) {
  std::set<std::string> done;
  if (path.empty() || !std::filesystem::exists(path)) return done;
  for (const auto& r : read_records(path))
    if (r.value("final", false) && r.contains("run") && r["run"].is_string()) done.insert(r["run"].get<std::string>());
  return done;
}

// The epoch a run's checkpoint ends at (0 when there is none, or it cannot be read: the run then
// starts or fails on its own, as it would unpacked).
static int64_t checkpoint_epoch(const std::string& ckpt) {
  if (!std::filesystem::exists(ckpt)) return 0;
  try {
    const SafetensorsFile f = read_safetensors(ckpt);
    const auto it = f.metadata.find("epoch");
    return it == f.metadata.end() ? -1 : parse_int(it->second).value_or(-1);
  } catch (const std::exception&) {
    return -1;
  }
}

// Per run id in `out`: the identity of its first record and whether it has its final one.
struct Recorded {
  nlohmann::json identity;
  bool final = false;
};
static std::map<std::string, Recorded> recorded_runs(const std::string& out) {
  std::map<std::string, Recorded> m;
  if (out.empty() || !std::filesystem::exists(out)) return m;
  for (const auto& r : read_records(out)) {
    if (!r.contains("run") || !r["run"].is_string()) continue;
    auto [it, fresh] = m.try_emplace(r["run"].get<std::string>());
    if (fresh) it->second.identity = run_identity(r.value("config", nlohmann::json::object()));
    it->second.final |= r.value("final", false);
  }
  return m;
}

// Each run as it is trained: its records in `out` (shared with other runs and other processes,
// so each run takes its own lock rather than `out`'s), its checkpoint in `<out>.ckpt/`.
static std::string checkpoint_of(const std::string& out, const PlannedRun& p) {
  return (std::filesystem::path(out + ".ckpt") / (p.run + ".safetensors")).string();
}
static std::vector<TrainConfig> as_trained(const std::vector<PlannedRun>& runs, const std::string& out) {
  std::vector<TrainConfig> cfgs;
  for (const PlannedRun& p : runs) {
    TrainConfig cfg = p.cfg;
    cfg.out = out;
    cfg.record_divergence = true;
    cfg.ckpt = checkpoint_of(out, p);
    cfg.resume = true;
    cfg.lock_outputs = false;
    cfgs.push_back(cfg);
  }
  return cfgs;
}

// A run id is its configuration: a record in `out` of a planned id with another configuration
// (another width, rate, epoch count, seed …) is refused, never reused.
static void check_runs(const std::vector<PlannedRun>& runs, const std::vector<TrainConfig>& cfgs, const std::string& out,
                       const std::map<std::string, Recorded>& seen) {
  for (size_t i = 0; i < runs.size(); ++i)
    if (const auto it = seen.find(runs[i].run); it != seen.end()) {
      const std::string diff = config_difference(run_identity(to_json(cfgs[i])), it->second.identity);
      if (!diff.empty())
        throw InputError(fmt::format("--exp.out: {} already holds run {} of another configuration ({}); write to "
                                     "another --exp.out",
                                     out, runs[i].run, diff));
    }
  std::vector<PathUse> uses = {{"--exp.out", out, true}, {"--exp.out (its checkpoint directory)", out + ".ckpt", true}};
  for (const TrainConfig& c : cfgs) uses.push_back({"--exp.init", c.init, false});
  check_distinct_paths(uses);
}

void check_runs(const std::vector<PlannedRun>& runs, const std::string& out) {
  check_runs(runs, as_trained(runs, out), out, recorded_runs(out));
}

std::vector<RunResult> execute_runs(const std::vector<PlannedRun>& runs, const FashionMNIST& data,
                                    const std::string& out,
                                    const std::function<void(const RunResult&, size_t, size_t)>& on_run,
                                    int64_t pack) {
  if (pack < 1) throw InputError(fmt::format("--exp.pack: {} is not ≥ 1", pack));
  // A per-run checkpoint next to the output lets a killed run continue from its last finished
  // epoch; it is removed once the run has its final record (also when an earlier, killed
  // invocation wrote that record but did not get to remove it).
  const std::filesystem::path ckpt_dir = out + ".ckpt";
  auto ckpt_of = [&](const PlannedRun& p) { return checkpoint_of(out, p); };
  const std::vector<TrainConfig> cfgs = as_trained(runs, out);
  std::map<std::string, Recorded> seen = recorded_runs(out);
  check_runs(runs, cfgs, out, seen);

  auto remove_checkpoint = [&](const PlannedRun& p) {
    std::error_code ec;
    std::filesystem::remove(ckpt_of(p), ec);
  };
  std::vector<RunResult> results;
  auto report = [&](RunResult r) {
    results.push_back(r);
    if (on_run) on_run(r, results.size(), runs.size());
  };
  auto finished = [&](size_t i) {
    const auto it = seen.find(runs[i].run);
    return it != seen.end() && it->second.final;
  };
  auto skip = [&](size_t i, bool held) {
    const PlannedRun& p = runs[i];
    report({p.run, p.cfg.model.variant, p.cfg.brightness_factor, 0, false, true, 0, held});
  };
  std::vector<bool> taken(runs.size(), false);
  std::vector<int64_t> resume_epoch(runs.size(), 0);
  for (size_t i = 0; i < runs.size(); ++i)
    if (!finished(i)) resume_epoch[i] = checkpoint_epoch(ckpt_of(runs[i]));
  for (size_t i = 0; i < runs.size(); ++i) {
    if (taken[i]) continue;
    taken[i] = true;
    if (finished(i)) {
      // Its checkpoint (if a kill came between the final record and the removal) goes now.
      if (std::filesystem::is_directory(ckpt_dir))
        if (auto lock = OutputLock::try_acquire(ckpt_of(runs[i]))) {
          remove_checkpoint(runs[i]);
          remove_stale_temps(ckpt_of(runs[i]));
        }
      skip(i, false);
      continue;
    }
    // This run and the next unfinished ones that can share its step — each locked first: a run
    // another process holds (a shard, a second sweep on the same output) is skipped, not trained
    // twice; one that process finished before we got its lock is skipped too.
    std::filesystem::create_directories(ckpt_dir);
    std::optional<OutputLock> lead = OutputLock::try_acquire(ckpt_of(runs[i]));
    if (!lead) {
      skip(i, true);
      continue;
    }
    resume_epoch[i] = checkpoint_epoch(ckpt_of(runs[i]));
    std::vector<OutputLock> locks;
    locks.push_back(std::move(*lead));
    std::vector<size_t> members = {i};
    for (size_t j = i + 1; j < runs.size() && int64_t(members.size()) < pack; ++j) {
      const TrainConfig &a = runs[i].cfg, &b = runs[j].cfg;
      if (taken[j] || finished(j) || resume_epoch[j] != resume_epoch[i] || a.model.variant != b.model.variant ||
          a.model.width != b.model.width)
        continue;
      std::optional<OutputLock> l = OutputLock::try_acquire(ckpt_of(runs[j]));
      if (!l) continue;  // held elsewhere: met again as a leader, and skipped then
      if (checkpoint_epoch(ckpt_of(runs[j])) != resume_epoch[i]) continue;  // moved on meanwhile
      taken[j] = true;
      locks.push_back(std::move(*l));
      members.push_back(j);
    }
    // What other processes recorded of these runs until we held their locks: only their lines
    // are parsed (a long sweep's records file is scanned once per pack, not parsed).
    std::set<std::string> ids;
    for (size_t j : members) ids.insert(runs[j].run);
    if (std::filesystem::is_regular_file(out))
      for (const auto& r : read_records_of(out, ids)) seen[r["run"].get<std::string>()].final |= r.value("final", false);
    std::vector<size_t> unfinished;
    std::vector<OutputLock> kept;
    for (size_t m = 0; m < members.size(); ++m) {
      const size_t j = members[m];
      if (!finished(j)) {
        unfinished.push_back(j);
        kept.push_back(std::move(locks[m]));
        continue;
      }
      remove_checkpoint(runs[j]);
      remove_stale_temps(ckpt_of(runs[j]));
      skip(j, false);
    }
    members = std::move(unfinished);
    locks = std::move(kept);
    if (members.empty()) continue;
    std::vector<TrainConfig> pack_cfgs;
    for (size_t j : members) {
      remove_stale_temps(cfgs[j].ckpt);  // this process holds the lock: no live writer owns them
      pack_cfgs.push_back(cfgs[j]);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<TrainSummary> ss = train_ensemble(pack_cfgs, data);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t m = 0; m < members.size(); ++m) {
      const PlannedRun& q = runs[members[m]];
      remove_checkpoint(q);
      report({q.run, q.cfg.model.variant, q.cfg.brightness_factor, ss[m].final_test_acc, ss[m].diverged, false,
              seconds});
    }
  }
  return results;
}

}  // namespace dale
