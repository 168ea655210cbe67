// `dale report FILE...`: the study's tables (SPEC §9) from the JSON Lines records of `dale train`,
// `dale compare` and `dale sweep` — per condition (variant × ε) the final test accuracy over all
// runs and over the best k, and two-sided Mann–Whitney U tests between the conditions the study
// compares. Markdown by default, CSV with --csv; stdout, or --out written atomically.
//
// A run's result is its record with the highest epoch (the last epoch's test accuracy). A
// diverged run counts with its recorded accuracy and is counted as diverged. Records repeated in
// concatenated shard files count once, since a run is one `run` id.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "framework/check.h"
#include "models/trainer.h"
#include "tools/dale/commands.h"
#include "tools/dale/stats.h"
#include "framework/output_file.h"
#include "tools/dale/write_atomically.h"

namespace dale::cli {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Reading the records: one result per run

struct RunResult {
  std::string run, variant;
  float eps = 0;
  int64_t epoch = -1;
  double acc = 0;
  bool diverged = false;
  std::optional<bool> final;  // absent in older files
  std::string where;          // "file: record n", for messages
};

// One record's fields, with the fallbacks of older files; throws InputError naming the record.
RunResult parse_record(const json& r, const std::string& where) {
  auto bad = [&](const std::string& what) { return InputError(fmt::format("{}: {}", where, what)); };
  RunResult x;
  x.where = where;
  if (!r.contains("run") || !r["run"].is_string()) throw bad("no \"run\" id (a string)");
  x.run = r["run"].get<std::string>();
  const json* cfg = r.contains("config") && r["config"].is_object() ? &r["config"] : nullptr;
  if (r.contains("variant") && r["variant"].is_string())
    x.variant = r["variant"].get<std::string>();
  else if (cfg && cfg->contains("/model/variant"_json_pointer) && (*cfg)["/model/variant"_json_pointer].is_string())
    x.variant = (*cfg)["/model/variant"_json_pointer].get<std::string>();
  else
    throw bad("no \"variant\" (nor config.model.variant)");
  if (r.contains("eps") && r["eps"].is_number())
    x.eps = r["eps"].get<float>();
  else if (cfg && cfg->contains("/data/brightness_factor"_json_pointer) &&
           (*cfg)["/data/brightness_factor"_json_pointer].is_number())
    x.eps = (*cfg)["/data/brightness_factor"_json_pointer].get<float>();
  else
    throw bad("no \"eps\" (nor config.data.brightness_factor)");
  if (!r.contains("epoch") || !r["epoch"].is_number_integer()) throw bad("no \"epoch\" (an integer)");
  x.epoch = r["epoch"].get<int64_t>();
  if (!r.contains("test_acc") || !r["test_acc"].is_number()) throw bad("no \"test_acc\" (a number)");
  x.acc = r["test_acc"].get<double>();
  if (!std::isfinite(x.acc)) throw bad("\"test_acc\" is not finite");
  x.diverged = r.contains("diverged") && r["diverged"].is_boolean() && r["diverged"].get<bool>();
  if (r.contains("final") && r["final"].is_boolean()) x.final = r["final"].get<bool>();
  return x;
}

// Every run's result, by run id. A later record of the same (run, epoch) replaces an earlier one
// (a resumed run rewrites its epochs); one that disagrees on the accuracy is warned about.
std::map<std::string, RunResult> read_results(const std::vector<std::string>& files) {
  std::map<std::string, RunResult> runs;
  std::map<std::pair<std::string, int64_t>, std::pair<double, std::string>> seen;  // (run, epoch) → acc, where
  int conflicts = 0;
  for (const auto& path : files) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw InputError(fmt::format("{}: cannot read (no such file)", path));
    if (std::filesystem::is_directory(path, ec)) throw InputError(fmt::format("{}: cannot read (a directory)", path));
    if (::access(path.c_str(), R_OK) != 0)
      throw InputError(fmt::format("{}: cannot read ({})", path, std::strerror(errno)));
    const std::vector<json> records = read_records(path);  // skips a torn last line with a warning
    if (records.empty()) throw InputError(fmt::format("{}: no records (expected JSON Lines from dale train/compare/sweep)", path));
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string where = fmt::format("{}: record {}", path, i + 1);
      if (!records[i].is_object()) throw InputError(fmt::format("{}: not a JSON object", where));
      RunResult x = parse_record(records[i], where);
      auto [it, fresh] = seen.try_emplace({x.run, x.epoch}, x.acc, where);
      if (!fresh && it->second.first != x.acc && conflicts++ < 3)
        std::fprintf(stderr, "dale: warning: run '%s' epoch %lld recorded twice with different test accuracy "
                     "(%s: %.4g, %s: %.4g); the later counts — two runs with the same id?\n",
                     x.run.c_str(), (long long)x.epoch, it->second.second.c_str(), it->second.first, where.c_str(), x.acc);
      it->second = {x.acc, where};
      auto r = runs.find(x.run);
      if (r == runs.end()) {
        runs.emplace(x.run, std::move(x));
        continue;
      }
      if (r->second.variant != x.variant || r->second.eps != x.eps)
        throw InputError(fmt::format("{}: run '{}' is {} at ε = {} here but {} at ε = {} in {}; run ids must be unique",
                                     where, x.run, x.variant, x.eps, r->second.variant, r->second.eps, r->second.where));
      if (x.epoch >= r->second.epoch) r->second = std::move(x);
    }
  }
  if (conflicts > 3) std::fprintf(stderr, "dale: warning: %d more records conflict likewise\n", conflicts - 3);

  std::vector<std::string> unfinished;
  for (const auto& [id, x] : runs)
    if (x.final && !*x.final) unfinished.push_back(fmt::format("{} (epoch {})", id, x.epoch));
  if (!unfinished.empty()) {
    std::string names;
    for (size_t i = 0; i < unfinished.size() && i < 5; ++i) names += (i ? ", " : "") + unfinished[i];
    if (unfinished.size() > 5) names += fmt::format(", … {} more", unfinished.size() - 5);
    std::fprintf(stderr, "dale: warning: %zu run(s) have no final record yet and count at their last epoch: %s\n",
                 unfinished.size(), names.c_str());
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------
// The tables

using Condition = std::pair<std::string, float>;  // variant, ε — sorted by variant, then ε

struct ConditionRow {
  std::string variant;
  float eps;
  size_t runs, diverged;
  double mean, sd, median, best;
  size_t k;  // runs in the best-k sample (min(k, runs))
  double k_mean, k_sd, k_median;
};

struct TestRow {
  std::string a, b;
  float eps;
  std::string sample;  // "all" or "best k"
  size_t n_a, n_b;
  double u, p, median_a, median_b;
};

// The comparisons of SPEC §6/§9, in the order the study presents them. An error-normalization
// part is compared with `e-ln+` where that condition exists at the ε, else with `ei-ln+`.
std::vector<std::pair<std::string, std::string>> study_pairs(const std::map<Condition, std::vector<double>>& acc, float eps) {
  std::vector<std::pair<std::string, std::string>> p = {
      {"ei-ln+", "ei-ln-"}, {"inorm-", "ei-ln+"}, {"inorm+", "ei-ln+"}, {"e-ln+", "ei-ln+"}};
  const std::string ref = acc.count({"e-ln+", eps}) ? "e-ln+" : "ei-ln+";
  for (const char* part : {"inorm-center", "inorm-scale", "inorm-decorrelate", "inorm-fa"}) p.emplace_back(part, ref);
  return p;
}

struct Report {
  std::vector<ConditionRow> conditions;
  std::vector<TestRow> tests;
};

Report build_report(const std::map<std::string, RunResult>& runs, size_t k, stats::MwuMethod mwu) {
  std::map<Condition, std::vector<double>> acc;
  std::map<Condition, size_t> diverged;
  for (const auto& [id, x] : runs) {
    acc[{x.variant, x.eps}].push_back(x.acc);
    diverged[{x.variant, x.eps}] += x.diverged;
  }
  Report rep;
  std::set<float> all_eps;
  for (const auto& [c, v] : acc) {
    all_eps.insert(c.second);
    const std::vector<double> top = stats::best_k(v, k);
    rep.conditions.push_back({c.first, c.second, v.size(), diverged[c], stats::mean(v), stats::sd(v), stats::median(v),
                              top.front(), top.size(), stats::mean(top), stats::sd(top), stats::median(top)});
  }
  const std::string best_name = fmt::format("best {}", k);
  // Rows grouped by pair, then ε; the pairs' order is the same at every ε, their reference not.
  const size_t n_pairs = study_pairs(acc, 0.f).size();
  for (size_t i = 0; i < n_pairs; ++i)
    for (float eps : all_eps) {
      const auto [a, b] = study_pairs(acc, eps)[i];
      const auto ia = acc.find({a, eps}), ib = acc.find({b, eps});
      if (ia == acc.end() || ib == acc.end()) continue;
      for (const bool best : {false, true}) {
        const std::vector<double> xa = best ? stats::best_k(ia->second, k) : ia->second;
        const std::vector<double> xb = best ? stats::best_k(ib->second, k) : ib->second;
        const stats::MannWhitney t = stats::mann_whitney(xa, xb, mwu);
        rep.tests.push_back({a, b, eps, best ? best_name : "all", xa.size(), xb.size(), t.u, t.p, stats::median(xa),
                             stats::median(xb)});
      }
    }
  return rep;
}

std::string markdown(const Report& rep, size_t k, stats::MwuMethod mwu) {
  std::string s = "## Final test accuracy (%) per condition\n\n";
  s += fmt::format("| variant | ε | runs | diverged | mean ± sd | median | best run | best {0}: mean ± sd | best {0}: median |\n", k);
  s += "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& r : rep.conditions)
    s += fmt::format("| {} | {:g} | {} | {} | {:.2f} ± {:.2f} | {:.2f} | {:.2f} | {:.2f} ± {:.2f} | {:.2f} |\n", r.variant,
                     r.eps, r.runs, r.diverged, r.mean, r.sd, r.median, r.best, r.k_mean, r.k_sd, r.k_median);
  s += fmt::format("\n## Mann–Whitney U tests (two-sided, method {})\n\n", stats::mwu_method_name(mwu));
  if (rep.tests.empty()) {
    s += "No pair of the compared conditions (docs/study.md §6) is present at a common ε.\n";
    return s;
  }
  s += "| A | B | ε | runs | n_A | n_B | U | p | median A | median B |\n";
  s += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& t : rep.tests)
    s += fmt::format("| {} | {} | {:g} | {} | {} | {} | {:g} | {:.3g} | {:.2f} | {:.2f} |\n", t.a, t.b, t.eps, t.sample,
                     t.n_a, t.n_b, t.u, t.p, t.median_a, t.median_b);
  return s;
}

std::string csv_field(const std::string& f) {
  if (f.find_first_of(",\"\n") == std::string::npos) return f;
  std::string q = "\"";
  for (char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Numbers in their shortest exact form, for programs that read the CSV.
std::string csv(const Report& rep, size_t k) {
  std::string s = fmt::format(
      "variant,eps,runs,diverged,mean,sd,median,best,best{0}_n,best{0}_mean,best{0}_sd,best{0}_median\n", k);
  for (const auto& r : rep.conditions)
    s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(r.variant), r.eps, r.runs, r.diverged, r.mean,
                     r.sd, r.median, r.best, r.k, r.k_mean, r.k_sd, r.k_median);
  s += "\na,b,eps,runs,n_a,n_b,u,p,median_a,median_b\n";
  for (const auto& t : rep.tests)
    s += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", csv_field(t.a), csv_field(t.b), t.eps, csv_field(t.sample),
                     t.n_a, t.n_b, t.u, t.p, t.median_a, t.median_b);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The command

static void add_report(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto best = std::make_shared<int64_t>(10);
  auto as_csv = std::make_shared<bool>(false);
  auto out = std::make_shared<std::string>();
  auto mwu = std::make_shared<std::string>("auto");
  CLI::App* c = app.add_subcommand("report", "tables and Mann–Whitney tests of finished runs (docs/study.md §9)");
  c->add_option("FILE", *files, "JSON Lines records of dale train / compare / sweep (shards may be given together)");
  c->add_option("--best", *best, "size k of the best-runs statistics")->capture_default_str();
  c->add_flag("--csv", *as_csv, "CSV instead of Markdown: two blocks, conditions then tests");
  c->add_option("--out", *out, "write the report to this file (atomically) instead of stdout");
  c->add_option("--mwu", *mwu,
                "p-values of the Mann–Whitney U tests, as scipy.stats.mannwhitneyu's `method`: auto (scipy's "
                "default, what the study's notebooks print) = exact when a sample has at most 8 runs and no two "
                "accuracies are equal, else asymptotic; exact = the exact null distribution of U (no tie "
                "correction); asymptotic = normal approximation with tie and continuity corrections")
      ->capture_default_str();
  c->callback([=]() {
    if (files->empty()) throw InputError("report: expected one or more JSON Lines files (dale report FILE...)");
    if (*best < 1) throw InputError(fmt::format("--best: {} is not ≥ 1", *best));
    const std::optional<stats::MwuMethod> method = stats::parse_mwu_method(*mwu);
    if (!method) throw InputError(fmt::format("--mwu: '{}' is not one of auto, exact, asymptotic", *mwu));
    if (!out->empty()) {  // before any work: what --out may replace, and never an input
      check_replaceable(*out, "--out");
      std::vector<PathUse> uses;
      for (const std::string& f : *files) uses.push_back({"FILE", f, false});
      uses.push_back({"--out", *out, true});
      check_distinct_paths(uses);
    }
    const auto runs = read_results(*files);
    const size_t k = size_t(*best);
    const Report rep = build_report(runs, k, *method);
    const std::string text = *as_csv ? csv(rep, k) : markdown(rep, k, *method);
    if (out->empty())
      std::fwrite(text.data(), 1, text.size(), stdout);
    else
      write_atomically(*out, text, "--out");
    set_exit_code(kExitOk);
  });
}
DALE_COMMAND(40, add_report);

}  // namespace dale::cli
