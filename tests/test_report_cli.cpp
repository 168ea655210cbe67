// End-to-end tests of `dale report`: JSON Lines files written by hand (two compared conditions,
// several runs over two epochs, a diverged run, a record repeated in a second shard file, a torn
// last line, an older record without `eps` or `final`), run through the dale executable; the
// tables' counts, means and a Mann–Whitney p-value checked against numbers worked out by hand,
// the CSV mode, --out, --mwu (scipy's method "auto" by default, against scipy's numbers), and the
// error exits.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/testing.h"

namespace fs = std::filesystem;
using dale::test::read_text;
using dale::test::TempDir;
using dale::test::write_text;

namespace {

// One epoch record as `dale sweep` writes it (the fields the report reads, and some it ignores).
std::string record(const std::string& run, const std::string& variant, double eps, int epoch, double acc,
                   bool diverged = false, bool final = false, bool with_eps_and_final = true) {
  std::string r = fmt::format(
      R"({{"run": "{}", "variant": "{}", "epoch": {}, "step": {}, "train_acc": {}, "train_loss": 0.5, )"
      R"("test_acc": {}, "test_loss": 0.6, "local_loss": {{"fc0": 0.01, "total": 0.02}}, "mu": [0.0, 0.1], )"
      R"("var": [1.0, 0.9], "elapsed_s": 12.5, "diverged": {}, "config_id": 3, "seed": 3, )"
      R"("config": {{"train": {{"seed": 3}}, "data": {{"brightness_factor": {}}}, )"
      R"("model": {{"variant": "{}", "hidden_layer_width": 200}}, "opt": {{"lr": 0.005}}}})",
      run, variant, epoch, epoch * 1875, acc + 1, acc, diverged ? "true" : "false", eps, variant);
  if (with_eps_and_final) r += fmt::format(R"(, "eps": {}, "final": {})", eps, final ? "true" : "false");
  return r + "}\n";
}

struct Result {
  int status;
  std::string out, err;
};

// Runs `dale report ARGS`, capturing stdout and stderr; status is the exit code.
Result dale_report(const TempDir& t, const std::string& args) {
  const std::string out = t / "stdout.txt", err = t / "stderr.txt";
  const std::string cmd = fmt::format("{}/dale report {} > {} 2> {}", DALE_BINARY_DIR, args, out, err);
  const int raw = std::system(cmd.c_str());
  REQUIRE_MESSAGE(WIFEXITED(raw), cmd);
  return {WEXITSTATUS(raw), read_text(out), read_text(err)};
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// The comma-separated fields of a CSV line (the report quotes no field in these tests).
std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream row(line);
  for (std::string x; std::getline(row, x, ',');) f.push_back(x);
  return f;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

// The study's two headline EI conditions at ε = 0.5, plus one ei-ln+ run at ε = 0 with no partner:
//   ei-ln+ ε 0.5: a1…a4 end (epoch 2) at 88, 87, 86, 85 → mean 86.5, sd √(5/3) = 1.29, median 86.5
//   ei-ln- ε 0.5: b1…b3 end at 84, 83, 82; b4 diverged at epoch 1 with 10 (chance)
//                 → mean 64.75, sd 36.51 (Σ(x − x̄)² = 3998.75), median 82.5, 1 diverged
//   best 2: ei-ln+ 87.5 ± 0.71, ei-ln- 83.5 ± 0.71
//   Mann–Whitney, all runs: every A above every B → U = 16, exact p = 2 / C(8, 4) = 0.0286
//                 best 2:   U = 4, exact p = 2 / C(4, 2) = 0.333
// shard1.jsonl repeats a1's and b1's records (a concatenated shard) and ends with a torn line.
void write_study(const TempDir& t) {
  std::string s0;
  const double a_final[] = {88, 87, 86, 85}, b_final[] = {84, 83, 82};
  for (int i = 0; i < 4; ++i) {
    const std::string run = fmt::format("ei-ln+-eps0.5-cfg{}", i + 1);
    s0 += record(run, "ei-ln+", 0.5, 1, 50 + i);  // epoch 1: lower, must not count
    s0 += record(run, "ei-ln+", 0.5, 2, a_final[i], false, true);
  }
  for (int i = 0; i < 3; ++i) {
    const std::string run = fmt::format("ei-ln--eps0.5-cfg{}", i + 1);
    s0 += record(run, "ei-ln-", 0.5, 1, 60 + i);
    s0 += record(run, "ei-ln-", 0.5, 2, b_final[i], false, true);
  }
  s0 += record("ei-ln--eps0.5-cfg4", "ei-ln-", 0.5, 1, 10, /*diverged=*/true, /*final=*/true);
  // An older file's record: no "eps" (config.data.brightness_factor) and no "final".
  s0 += record("ei-ln+-eps0-seed0", "ei-ln+", 0.0, 1, 89.25, false, false, /*with_eps_and_final=*/false);
  write_text(t / "shard0.jsonl", s0);

  std::string s1 = record("ei-ln+-eps0.5-cfg1", "ei-ln+", 0.5, 2, 88, false, true);
  s1 += record("ei-ln--eps0.5-cfg1", "ei-ln-", 0.5, 1, 60);
  s1 += record("ei-ln--eps0.5-cfg1", "ei-ln-", 0.5, 2, 84, false, true);
  s1 += R"({"run": "ei-ln--eps0.5-cfg9", "variant": "ei-ln-", "epoch": 1, "test_a)";  // torn: no newline
  write_text(t / "shard1.jsonl", s1);
}

}  // namespace

TEST_CASE("dale report: the Markdown tables of a small study") {
  TempDir t;
  write_study(t);
  const Result r = dale_report(t, fmt::format("{} {} --best 2", t / "shard0.jsonl", t / "shard1.jsonl"));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.status == 0);
  // The torn last line of shard1 is skipped with a warning naming it.
  CHECK(r.err.find("shard1.jsonl:4") != std::string::npos);
  CHECK(r.err.find("torn") != std::string::npos);

  CHECK(has_line(r.out, "| variant | ε | runs | diverged | mean ± sd | median | best run | best 2: mean ± sd | best 2: median |"));
  // Sorted by variant, then ε; duplicates count once; the last epoch counts; the diverged run
  // counts with its 10% and as diverged.
  CHECK(has_line(r.out, "| ei-ln+ | 0 | 1 | 0 | 89.25 ± 0.00 | 89.25 | 89.25 | 89.25 ± 0.00 | 89.25 |"));
  CHECK(has_line(r.out, "| ei-ln+ | 0.5 | 4 | 0 | 86.50 ± 1.29 | 86.50 | 88.00 | 87.50 ± 0.71 | 87.50 |"));
  CHECK(has_line(r.out, "| ei-ln- | 0.5 | 4 | 1 | 64.75 ± 36.51 | 82.50 | 84.00 | 83.50 ± 0.71 | 83.50 |"));
  const auto lines = lines_of(r.out);
  size_t at0 = 0, at5 = 0, atm = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("| ei-ln+ | 0 |", 0) == 0) at0 = i;
    if (lines[i].rfind("| ei-ln+ | 0.5 |", 0) == 0) at5 = i;
    if (lines[i].rfind("| ei-ln- | 0.5 |", 0) == 0) atm = i;
  }
  CHECK(at0 < at5);
  CHECK(at5 < atm);

  // Mann–Whitney: only at ε = 0.5 (ei-ln- is missing at ε = 0); U of A = ei-ln+.
  CHECK(has_line(r.out, "| A | B | ε | runs | n_A | n_B | U | p | median A | median B |"));
  CHECK(has_line(r.out, "| ei-ln+ | ei-ln- | 0.5 | all | 4 | 4 | 16 | 0.0286 | 86.50 | 82.50 |"));
  CHECK(has_line(r.out, "| ei-ln+ | ei-ln- | 0.5 | best 2 | 2 | 2 | 4 | 0.333 | 87.50 | 83.50 |"));
  int test_rows = 0;
  for (const auto& l : lines) test_rows += l.rfind("| ei-ln+ | ei-ln- |", 0) == 0;
  CHECK(test_rows == 2);

  // --out writes the same text to a file, and nothing to stdout.
  const Result o = dale_report(t, fmt::format("{} {} --best 2 --out {}", t / "shard0.jsonl", t / "shard1.jsonl",
                                              t / "report.md"));
  CHECK(o.status == 0);
  CHECK(o.out.empty());
  CHECK(read_text(t / "report.md") == r.out);
  for (const auto& e : fs::directory_iterator(t.path))  // no temporary file left behind
    CHECK_MESSAGE(e.path().filename().string().find(".tmp") == std::string::npos, e.path());
}

TEST_CASE("dale report --csv: two blocks with headers") {
  TempDir t;
  write_study(t);
  const Result r = dale_report(t, fmt::format("{} {} --best 2 --csv", t / "shard0.jsonl", t / "shard1.jsonl"));
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.status == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 8);  // header + 3 conditions, empty line, header + 2 tests
  CHECK(lines[0] == "variant,eps,runs,diverged,mean,sd,median,best,best2_n,best2_mean,best2_sd,best2_median");
  CHECK(lines[1].rfind("ei-ln+,0,1,0,89.25,0,89.25,89.25,1,89.25,0,89.25", 0) == 0);
  CHECK(lines[2].rfind("ei-ln+,0.5,4,0,86.5,", 0) == 0);
  CHECK(lines[3].rfind("ei-ln-,0.5,4,1,64.75,", 0) == 0);
  CHECK(lines[4].empty());
  CHECK(lines[5] == "a,b,eps,runs,n_a,n_b,u,p,median_a,median_b");
  CHECK(lines[6].rfind("ei-ln+,ei-ln-,0.5,all,4,4,16,", 0) == 0);
  CHECK(lines[7].rfind("ei-ln+,ei-ln-,0.5,best 2,2,2,4,", 0) == 0);
  // Full precision in CSV: the sd of ei-ln+ at ε = 0.5 and the exact p = 2/70.
  const std::vector<std::string> f = fields_of(lines[6]);
  REQUIRE(f.size() == 10);
  CHECK(std::fabs(std::stod(f[7]) - 2.0 / 70.0) < 1e-15);
  const std::vector<std::string> g = fields_of(lines[2]);
  REQUIRE(g.size() == 12);
  CHECK(std::fabs(std::stod(g[5]) - std::sqrt(5.0 / 3.0)) < 1e-12);
}

TEST_CASE("dale report: the study's pairs, the reference of the error-normalization parts") {
  TempDir t;
  std::string s;
  // At ε = 0: e-ln+ exists, so inorm-center is tested against it; at ε = 0.25 only ei-ln+.
  for (int i = 0; i < 3; ++i) {
    s += record(fmt::format("e{}", i), "e-ln+", 0.0, 1, 88 + 0.1 * i, false, true);
    s += record(fmt::format("c{}", i), "inorm-center", 0.0, 1, 87 + 0.1 * i, false, true);
    s += record(fmt::format("l{}", i), "ei-ln+", 0.25, 1, 86 + 0.1 * i, false, true);
    s += record(fmt::format("d{}", i), "inorm-center", 0.25, 1, 85 + 0.1 * i, false, true);
    s += record(fmt::format("n{}", i), "inorm-", 0.25, 1, 84 + 0.1 * i, /*diverged=*/i == 0, true);
  }
  write_text(t / "runs.jsonl", s);
  const Result r = dale_report(t, t / "runs.jsonl");
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  // 3 vs 3 fully separated: U = 0 (A below B), p = 2 / C(6, 3) = 0.1.
  CHECK(has_line(r.out, "| inorm-center | e-ln+ | 0 | all | 3 | 3 | 0 | 0.1 | 87.10 | 88.10 |"));
  CHECK(has_line(r.out, "| inorm-center | ei-ln+ | 0.25 | all | 3 | 3 | 0 | 0.1 | 85.10 | 86.10 |"));
  CHECK(has_line(r.out, "| inorm- | ei-ln+ | 0.25 | all | 3 | 3 | 0 | 0.1 | 84.10 | 86.10 |"));
  CHECK(has_line(r.out, "| inorm- | 0.25 | 3 | 1 | 84.10 ± 0.10 | 84.10 | 84.20 | 84.10 ± 0.10 | 84.10 |"));
  CHECK(r.out.find("| e-ln+ | ei-ln+ |") == std::string::npos);  // never at a common ε
  // Fewer than k runs: the best-k sample is all of them.
  CHECK(has_line(r.out, "| inorm- | ei-ln+ | 0.25 | best 10 | 3 | 3 | 0 | 0.1 | 84.10 | 86.10 |"));
}

// Ten runs per condition, every ei-ln+ run above every ei-ln- run (no ties). scipy's default
// ("auto") uses the normal approximation here, since both samples have more than 8 values:
//   scipy.stats.mannwhitneyu(a, b)                    → U = 100, p = 0.00018267179110955002
//   scipy.stats.mannwhitneyu(a, b, method="exact")    → p = 2 / C(20, 10) = 1.082508822446903e-05
// (tests/fixtures/mannwhitney.json, case "separated 10 vs 10"; p depends only on the ranks).
// The best 5 of each: 5 vs 5, so auto is exact: p = 2 / C(10, 5) = 0.007936507936507936.
TEST_CASE("dale report --mwu: scipy's default method, exact and asymptotic on request") {
  TempDir t;
  std::string s;
  for (int i = 0; i < 10; ++i) {
    s += record(fmt::format("a{}", i), "ei-ln+", 0.0, 1, 88 + 0.1 * i, false, true);
    s += record(fmt::format("b{}", i), "ei-ln-", 0.0, 1, 80 + 0.1 * i, false, true);
  }
  write_text(t / "runs.jsonl", s);
  // The p-value (8th field) of the test rows of a CSV report: {all, best 5}.
  auto p_values = [&](const std::string& flags) {
    const Result r = dale_report(t, fmt::format("{} --best 5 --csv {}", t / "runs.jsonl", flags));
    INFO("dale report " << flags << "\nstdout:\n" << r.out << "stderr:\n" << r.err);
    REQUIRE(r.status == 0);
    std::vector<double> p;
    for (const auto& l : lines_of(r.out)) {
      if (l.rfind("ei-ln+,ei-ln-,0,", 0) != 0) continue;
      const std::vector<std::string> f = fields_of(l);
      REQUIRE(f.size() == 10);
      CHECK(f[6] == (p.empty() ? "100" : "25"));  // U
      p.push_back(std::stod(f[7]));
    }
    REQUIRE(p.size() == 2);
    return p;
  };
  auto close = [](double got, double want) { return std::fabs(got - want) <= 1e-9 * want; };
  const std::vector<double> dflt = p_values(""), autom = p_values("--mwu auto"), exact = p_values("--mwu exact"),
                            asym = p_values("--mwu asymptotic");
  CHECK(close(dflt[0], 0.00018267179110955002));  // all runs: asymptotic
  CHECK(close(dflt[1], 2.0 / 252.0));             // best 5: exact
  CHECK(autom == dflt);
  CHECK(close(exact[0], 1.082508822446903e-05));
  CHECK(close(exact[1], 2.0 / 252.0));
  CHECK(close(asym[0], 0.00018267179110955002));
  CHECK(close(asym[1], 0.012185780355344813));  // scipy, method="asymptotic", 5 vs 5 separated
  // The Markdown report names the method.
  const Result m = dale_report(t, fmt::format("{} --mwu exact", t / "runs.jsonl"));
  CHECK(has_line(m.out, "## Mann–Whitney U tests (two-sided, method exact)"));
  const Result d = dale_report(t, t / "runs.jsonl");
  CHECK(has_line(d.out, "## Mann–Whitney U tests (two-sided, method auto)"));
}

TEST_CASE("dale report: an unfinished run counts at its last epoch, with a warning") {
  TempDir t;
  write_text(t / "runs.jsonl", record("x", "ei-ln+", 0.0, 1, 70) + record("x", "ei-ln+", 0.0, 2, 75));
  const Result r = dale_report(t, t / "runs.jsonl");
  CHECK(r.status == 0);
  CHECK(has_line(r.out, "| ei-ln+ | 0 | 1 | 0 | 75.00 ± 0.00 | 75.00 | 75.00 | 75.00 ± 0.00 | 75.00 |"));
  CHECK(r.err.find("no final record") != std::string::npos);
  CHECK(has_line(r.out, "No pair of the compared conditions (docs/study.md §6) is present at a common ε."));
}

TEST_CASE("dale report: bad input exits 2 with one line naming the file or flag") {
  TempDir t;
  write_study(t);
  auto check_error = [&](const std::string& args, const std::string& names) {
    const Result r = dale_report(t, args);
    INFO("dale report " << args << "\nstderr: " << r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(lines_of(r.err).size() == 1);
    CHECK(r.err.rfind("dale: ", 0) == 0);
    CHECK(r.err.find(names) != std::string::npos);
  };
  check_error("", "FILE");
  check_error(t / "missing.jsonl", "missing.jsonl");
  write_text(t / "empty.jsonl", "\n\n");
  check_error(t / "empty.jsonl", "empty.jsonl: no records");
  check_error(t.str(), "a directory");
  // A garbled line that is not the last: an error naming file:line.
  write_text(t / "garbled.jsonl", record("a", "ei-ln+", 0, 1, 80, false, true) + "{\"run\": garbage}\n" +
                                      record("b", "ei-ln+", 0, 1, 81, false, true));
  check_error(t / "garbled.jsonl", "garbled.jsonl:2");
  write_text(t / "noacc.jsonl", R"({"run": "a", "variant": "ei", "eps": 0, "epoch": 1})" "\n");
  check_error(t / "noacc.jsonl", "test_acc");
  check_error(fmt::format("{} --best 0", t / "shard0.jsonl"), "--best");
  check_error(fmt::format("{} --mwu Exact", t / "shard0.jsonl"), "--mwu");
  check_error(fmt::format("{} --mwu ''", t / "shard0.jsonl"), "--mwu");
  check_error(fmt::format("{} --out {}", t / "shard0.jsonl", t / "no/such/dir/report.md"), "--out");
  // Good files before a bad one still fail the whole report.
  check_error(fmt::format("{} {}", t / "shard0.jsonl", t / "missing.jsonl"), "missing.jsonl");
}
