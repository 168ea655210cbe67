// tools/figures.py's geometry figures (fig8_weight_hist, fig9_rank_regime) on records written
// here, whose numbers are chosen so that every figure number is known in advance: two variants ×
// {SGD at two learning rates, EG} × initial ranks 1, 4 and full × three seeds × two epochs, plus
// groups that must stay apart (a sign-freezing SGD, an init gain of 2) and one group of broken
// geometry entries. The numbers figures.py writes next to the figures (<name>.json) must be the
// ones these records imply; they would differ if figures.py read the first epoch instead of the
// last, pooled runs of different configurations, or chose the learning rate wrongly:
//  - the final test accuracy prefers the other learning rate in epoch 1 and at ranks 1 and 4
//    than at the end of full-rank training, so only the right records pick the right lr;
//  - each epoch's histogram fills other bins, and per-seed values differ, so a sum, median,
//    mean or sd over the wrong runs or epochs is off.
// Records without geometry draw the study's seven figures only.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/testing.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> kVariants = {"ei", "inorm+"};
const std::vector<int> kSeeds = {1, 2, 3};
const std::vector<std::string> kMatrices = {"fc0", "fc1", "fc_output"};  // their Wex
constexpr int kBins = 110;
constexpr int64_t kN = 100;  // entries per matrix

// One configuration up to seed and rank: a group of fig9.
struct Group {
  int id;
  std::string variant, algorithm, gd_signs;  // gd_signs "" = key absent (default clamp)
  double lr, gain;                           // gain 1 = key absent
  std::vector<int> ranks;
  bool broken = false;  // its geometry entries are malformed (see records())
};

std::vector<Group> groups() {
  std::vector<Group> g;
  int id = 0;
  for (const auto& v : kVariants) {
    g.push_back({id++, v, "sgd", "", 0.01, 1.0, {1, 4, 0}});
    g.push_back({id++, v, "sgd", "clamp", 0.05, 1.0, {1, 4, 0}});
    g.push_back({id++, v, "eg", "", 0.01, 1.0, {1, 4, 0}});
  }
  g.push_back({id++, "ei", "sgd", "freeze", 0.01, 1.0, {0}});  // another rule: SGD (sign-freeze)
  g.push_back({id++, "ei", "sgd", "", 0.01, 2.0, {4}});        // another init gain: not pooled with group 0
  g.push_back({id++, "ei", "eg", "", 0.2, 1.0, {0}, true});    // broken entries, lower accuracy
  return g;
}

int variant_index(const Group& g) { return g.variant == "ei" ? 0 : 1; }

// Final test accuracy: seeds 82, 84, 86 (median 84) plus a bonus. At the end of full-rank
// training ei's SGD is best at lr 0.05 and inorm+'s at lr 0.01; in epoch 1 and at ranks 1 and 4
// the other lr wins by far.
double test_acc(const Group& g, int rank, int seed, int epoch) {
  double bonus = 0;
  if (g.algorithm == "sgd" && g.gd_signs != "freeze" && g.gain == 1.0) {
    const bool favoured = (g.variant == "ei") == (g.lr == 0.05);  // at the end, full rank
    if (epoch == 2 && rank == 0) bonus = favoured ? 5 : 1;
    else bonus = favoured ? 0 : 9;
  } else if (g.algorithm == "eg") {
    bonus = g.broken ? 0 : 3;
  } else {
    bonus = 2;
  }
  return 80 + 2 * seed + bonus - (epoch == 1 ? 10 : 0);
}
double rel_change(const Group& g, int rank, int seed, int epoch, int m) {
  return 0.1 * (g.id + 1) + 0.01 * rank + 0.003 * seed * seed + 0.2 * epoch + 0.05 * m + 0.07 * variant_index(g);
}
double cka(const Group& g, int rank, int seed, int epoch, int layer) {
  return 1 - (0.02 * (g.id + 1) + 0.001 * rank + 0.002 * seed * seed + 0.05 * epoch + 0.01 * layer);
}
double ks_lognormal(const Group& g, int seed, int epoch, int m) {
  return 0.1 * seed * seed + 0.01 * epoch + 0.001 * m + 0.0001 * g.id;  // seeds: 0.1, 0.4, 0.9 + …
}
double ks_lognormal_init(int seed, int m) { return 0.2 + 0.05 * seed * seed + 0.001 * m; }
double floor_frac(const Group& g, int epoch) { return g.gd_signs == "freeze" && epoch == 2 ? 0.25 : 0.0; }
// The histogram bins: `seed` counts in bin hist_bin(…), 10 in the next one; the rest below range.
int hist_bin(const Group& g, int epoch, int m) { return 40 + 10 * m + 3 * epoch + g.id % 3; }
int init_bin(int m) { return 20 + 10 * m; }

json stats(int64_t floor_count, int bin, int seed, double ks, double rc, double log10_mean) {
  json h = json::array();
  for (int b = 0; b < kBins; ++b) h.push_back(b == bin ? seed : b == bin + 1 ? 10 : 0);
  const int64_t positive = kN - floor_count;
  return {{"n", kN}, {"positive", positive}, {"mean", 0.01}, {"sd", 0.01},
          {"floor_frac", double(floor_count) / kN}, {"log_mean", log10_mean * std::log(10.0)},
          {"log_sd", 0.2 * std::log(10.0)}, {"log_skew", 0.1}, {"log_kurt", -0.2},
          {"ks_lognormal", ks}, {"ks_normal", 2 * ks + 0.05}, {"log10_hist", h},
          {"hist_below", positive - seed - 10}, {"hist_above", 0}, {"rel_change", rc}, {"erank", 5.0}};
}

json geometry(const Group& g, int rank, int seed, int epoch) {
  json geo = {{"hist", {{"lo", -10.0}, {"width", 0.1}, {"bins", kBins}}}};
  json init = json::object();
  for (int m = 0; m < 3; ++m) {
    const std::string layer = kMatrices[m];
    const int64_t floor_count = std::llround(floor_frac(g, epoch) * kN);
    json& L = geo[layer];
    L["Wex"] = stats(floor_count, hist_bin(g, epoch, m), seed, ks_lognormal(g, seed, epoch, m),
                     rel_change(g, rank, seed, epoch, m), -3 - 0.1 * seed - 0.5 * epoch);
    L["Wix"] = stats(0, 60, seed, 0.3, 0.5, -2);
    if (layer == "fc_output") L["Wei"] = stats(0, 60, seed, 0.3, 0.5, -2);
    else L["cka"] = cka(g, rank, seed, epoch, m);
    init[layer]["Wex"] = stats(0, init_bin(m), seed, ks_lognormal_init(seed, m), 0.0, -2.5);
    init[layer]["Wix"] = stats(0, 60, seed, 0.3, 0.0, -2);
  }
  if (epoch == 1) geo["init"] = init;
  if (g.broken && epoch == 2) {
    if (seed == 1) return "not an object";  // the whole entry
    if (seed == 2) {                        // parts: a layer that is a number, a histogram of the
      geo["fc0"] = 7;                       // wrong length, missing and non-numeric values
      geo["fc_output"]["Wex"]["log10_hist"] = {1, 2};
      geo["fc1"]["Wex"]["rel_change"] = nullptr;  // NaN as dale writes it
      geo["fc1"]["cka"] = "high";
      geo["fc1"]["Wex"].erase("ks_lognormal");
    }
    if (seed == 3) geo["fc1"]["Wex"]["rel_change"] = nullptr;
  }
  return geo;
}

// Named as `dale compare` names runs — variant and seed only — so one id recurs in every group
// and rank: figures.py must tell runs apart by their configuration, not by their id.
std::string run_name(const Group& g, int rank, int seed) {
  (void)rank;
  return "compare-" + g.variant + "-eps0-seed" + std::to_string(seed);
}

std::string records() {
  std::string out;
  for (const auto& g : groups())
    for (int rank : g.ranks)
      for (int seed : kSeeds)
        for (int epoch : {1, 2}) {
          json model = {{"variant", g.variant}, {"hidden_layer_width", 12}, {"num_layers", 2}};
          if (rank != 0 || seed == 2) model["init_rank"] = rank;  // absent = 0 = full rank
          if (g.gain != 1.0) model["init_gain"] = g.gain;
          json opt = {{"algorithm", g.algorithm}, {"lr", g.lr}, {"momentum", 0.0}};
          if (!g.gd_signs.empty()) opt["gd_signs"] = g.gd_signs;
          else if (seed == 3) opt["gd_signs"] = "clamp";  // the default, written or not
          const std::string name = run_name(g, rank, seed);
          const json rec = {
              {"run", name}, {"variant", g.variant}, {"eps", 0.0}, {"seed", seed}, {"epoch", epoch},
              {"step", 10 * epoch}, {"final", epoch == 2}, {"test_acc", test_acc(g, rank, seed, epoch)},
              {"diverged", false}, {"geometry", geometry(g, rank, seed, epoch)},
              {"config",
               {{"train", {{"epochs", 2}, {"seed", seed}}},
                {"data", {{"brightness_factor", 0.0}, {"dir", "/data/" + name}}},
                {"model", model},
                {"opt", opt},
                {"exp", {{"out", "runs/" + name + ".jsonl"}, {"run", name}}}}}};
          out += rec.dump() + "\n";
        }
  return out;
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x.size() % 2 ? x[x.size() / 2] : 0.5 * (x[x.size() / 2 - 1] + x[x.size() / 2]);
}
double mean(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v;
  return s / double(x.size());
}
double sd(const std::vector<double>& x) {  // sample sd, as fig9's error bars
  const double m = mean(x);
  double s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return std::sqrt(s / double(x.size() - 1));
}

#define CHECK_NEAR(got, want) CHECK_MESSAGE(std::fabs(double(got) - double(want)) < 1e-9, (got) << " vs " << (want))

std::string figures_py() { return dale::test::shell_quote(std::string(DALE_TEST_DATA) + "/../tools/figures.py"); }

dale::test::CommandResult figures(const std::string& records, const std::string& out, const std::string& extra = "") {
  return dale::test::run_captured(
      figures_py() + " " + dale::test::shell_quote(records) + " --smoke --out " + dale::test::shell_quote(out) +
          " --data " + dale::test::shell_quote(std::string(DALE_TEST_DATA) + "/figures/fashion-mnist-32") + extra,
      out + "-log");
}

const json* find_rule(const json& fig8, const std::string& variant, const std::string& rule) {
  for (const auto& row : fig8.at("rows"))
    if (row.at("variant") == variant)
      for (const auto& r : row.at("rules"))
        if (r.at("rule") == rule) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("geometry figures: fig8's final-epoch histograms and lr choice, fig9's groups by rank") {
  const dale::test::TempDir tmp;
  const std::string recs = tmp / "geometry.jsonl";
  dale::test::write_text(recs, records());
  const std::string out = tmp / "figures";
  const auto r = figures(recs, out);
  REQUIRE_MESSAGE(r.rc == 0, r.out << r.err);
  for (const std::string name : {"fig8_weight_hist", "fig9_rank_regime"})
    for (const std::string ext : {".png", ".svg", ".json"}) {
      const std::string p = out + "/" + name + ext;
      CHECK_MESSAGE(fs::exists(p), p << " not written\n" << r.out);
      if (fs::exists(p) && ext != ".json") CHECK(fs::file_size(p) > 1000);
    }
  for (const std::string name : {"fig1_samples", "fig2_ln_detach", "fig7_lateral"})  // the study's still drawn
    CHECK(fs::exists(out + "/" + name + ".png"));
  REQUIRE(fs::exists(out + "/fig8_weight_hist.json"));
  REQUIRE(fs::exists(out + "/fig9_rank_regime.json"));
  const json fig8 = json::parse(dale::test::read_text(out + "/fig8_weight_hist.json"));
  const json fig9 = json::parse(dale::test::read_text(out + "/fig9_rank_regime.json"));
  const auto all = groups();

  SUBCASE("fig8: the lr of the best median final accuracy (full rank), final-epoch histograms summed over seeds") {
    // (variant, rule) → the group drawn: the lr these records imply.
    const std::vector<std::tuple<std::string, std::string, int, double>> want = {
        {"ei", "sgd", 1, 0.05},     {"ei", "eg", 2, 0.01},     {"ei", "sgd-freeze", 6, 0.01},
        {"inorm+", "sgd", 3, 0.01}, {"inorm+", "eg", 5, 0.01}};
    REQUIRE(fig8.at("rows").size() == 2);
    CHECK(fig8.at("rows")[0].at("rules").size() == 3);  // ei: SGD, SGD (sign-freeze), EG
    CHECK(fig8.at("rows")[1].at("rules").size() == 2);
    for (const auto& [variant, rule, gid, lr] : want) {
      INFO(variant << " " << rule);
      const json* rj = find_rule(fig8, variant, rule);
      REQUIRE(rj != nullptr);
      const Group& g = all[size_t(gid)];
      CHECK_NEAR(rj->at("lr").get<double>(), lr);
      CHECK(rj->at("rank") == 0);
      CHECK(rj->at("runs") == 3);
      std::vector<double> acc;
      for (int s : kSeeds) acc.push_back(test_acc(g, 0, s, 2));
      CHECK_NEAR(rj->at("median_test_acc").get<double>(), median(acc));
      if (rule == "sgd") CHECK(rj->at("candidates").size() == 2);  // lr 0.01 and 0.05 at full rank
      if (variant == "ei" && rule == "eg") CHECK(rj->at("candidates").size() == 2);  // and the broken lr 0.2
      CHECK(rj->at("label") == (rule == "sgd" ? "SGD" : rule == "eg" ? "EG" : "SGD (sign-freeze)"));
      for (int m = 0; m < 3; ++m) {
        const std::string mat = kMatrices[m] + ".Wex";
        INFO(mat);
        const json& mj = rj->at("matrices").at(mat);
        CHECK(mj.at("runs") == 3);
        CHECK_NEAR(mj.at("entries").get<double>(), 3 * kN);
        const auto counts = mj.at("hist_counts").get<std::vector<double>>();
        REQUIRE(counts.size() == size_t(kBins));
        std::vector<double> expect(kBins, 0.0);
        expect[size_t(hist_bin(g, 2, m))] = 1 + 2 + 3;  // the seeds' counts of the final epoch
        expect[size_t(hist_bin(g, 2, m) + 1)] = 30;
        CHECK(counts == expect);
        CHECK_NEAR(mj.at("floor_frac").get<double>(), floor_frac(g, 2));
        CHECK_NEAR(mj.at("positive_frac").get<double>(), 1 - floor_frac(g, 2));
        std::vector<double> ks, ks0, mu;
        for (int s : kSeeds) {
          ks.push_back(ks_lognormal(g, s, 2, m));
          ks0.push_back(ks_lognormal_init(s, m));
          mu.push_back(-3 - 0.1 * s - 1.0);
        }
        CHECK_NEAR(mj.at("ks_lognormal_median").get<double>(), median(ks));
        CHECK_NEAR(mj.at("ks_normal_median").get<double>(), 2 * median(ks) + 0.05);
        CHECK_NEAR(mj.at("init").at("ks_lognormal_median").get<double>(), median(ks0));
        CHECK_NEAR(mj.at("init").at("ks_normal_median").get<double>(), 2 * median(ks0) + 0.05);
        CHECK(mj.at("init").at("runs") == 3);
        CHECK(mj.at("fit_runs") == 3);
        CHECK_NEAR(mj.at("fit_log10_mean").get<double>(), mean(mu));
        CHECK_NEAR(mj.at("fit_log10_sd").get<double>(), 0.2);
      }
    }
  }

  SUBCASE("fig9: one group per configuration up to seed and rank; mean and sd over seeds per rank") {
    REQUIRE(fig9.at("group").size() == all.size());
    for (const auto& g : all) {
      INFO("group " << g.id << " " << g.variant << " " << g.algorithm << " lr " << g.lr << " gain " << g.gain);
      const json* gj = nullptr;
      for (const auto& x : fig9.at("group"))
        if (x.at("variant") == g.variant && x.at("algorithm") == g.algorithm &&
            x.at("gd_signs") == (g.gd_signs.empty() ? "clamp" : g.gd_signs) &&
            std::fabs(x.at("lr").get<double>() - g.lr) < 1e-12 &&
            std::fabs(x.at("init_gain").get<double>() - g.gain) < 1e-12)
          gj = &x;
      REQUIRE(gj != nullptr);
      CHECK(gj->at("runs") == g.ranks.size() * kSeeds.size());
      REQUIRE(gj->at("ranks").size() == g.ranks.size());
      for (const auto& e : gj->at("ranks")) {
        const int rank = e.at("rank").get<int>();
        INFO("rank " << rank);
        CHECK(std::count(g.ranks.begin(), g.ranks.end(), rank) == 1);
        CHECK(e.at("runs") == 3);
        std::vector<double> acc;
        for (int s : kSeeds) acc.push_back(test_acc(g, rank, s, 2));
        CHECK_NEAR(e.at("test_acc").at("mean").get<double>(), mean(acc));
        CHECK_NEAR(e.at("test_acc").at("sd").get<double>(), sd(acc));
        for (int layer = 0; layer < 2; ++layer) {
          const std::string L = kMatrices[size_t(layer)];
          INFO(L);
          const json& rc = e.at("rel_change").at(L + ".Wex");
          const json& ck = e.at("one_minus_cka").at(L);
          std::vector<int> seeds = kSeeds;
          if (g.broken) seeds = layer == 0 ? std::vector<int>{3} : std::vector<int>{};  // the readable ones
          std::vector<double> want_rc, want_ck;
          for (int s : seeds) want_rc.push_back(rel_change(g, rank, s, 2, layer));
          if (g.broken) seeds = std::vector<int>{3};  // cka: seed 1 has no geometry, seed 2's is "high"
          for (int s : seeds) want_ck.push_back(1 - cka(g, rank, s, 2, layer));
          CHECK(rc.at("n") == want_rc.size());
          CHECK(ck.at("n") == want_ck.size());
          if (want_rc.empty()) {
            CHECK(rc.at("mean").is_null());
          } else {
            CHECK_NEAR(rc.at("mean").get<double>(), mean(want_rc));
            CHECK_NEAR(rc.at("sd").get<double>(), want_rc.size() > 1 ? sd(want_rc) : 0.0);
          }
          CHECK_NEAR(ck.at("mean").get<double>(), mean(want_ck));
          CHECK_NEAR(ck.at("sd").get<double>(), want_ck.size() > 1 ? sd(want_ck) : 0.0);
        }
      }
    }
  }
}

TEST_CASE("geometry figures: --geometry-lr picks one lr for every rule") {
  const dale::test::TempDir tmp;
  const std::string recs = tmp / "geometry.jsonl";
  dale::test::write_text(recs, records());
  const std::string out = tmp / "figures";
  const auto r = figures(recs, out, " --geometry-lr 0.01");
  REQUIRE_MESSAGE(r.rc == 0, r.out << r.err);
  const json fig8 = json::parse(dale::test::read_text(out + "/fig8_weight_hist.json"));
  for (const std::string v : {"ei", "inorm+"}) {
    const json* rj = find_rule(fig8, v, "sgd");
    REQUIRE(rj != nullptr);
    CHECK_NEAR(rj->at("lr").get<double>(), 0.01);
    const Group g = groups()[v == "ei" ? 0 : 3];
    const json& mj = rj->at("matrices").at("fc0.Wex");
    CHECK(mj.at("hist_counts")[size_t(hist_bin(g, 2, 0))] == 6.0);
  }

  // At lr 0.2 only ei's EG has runs: the broken group. Each matrix counts the runs whose final
  // entry for it is readable; SGD has none at that lr and is listed with none.
  const auto r2 = figures(recs, out, " --geometry-lr 0.2");
  REQUIRE_MESSAGE(r2.rc == 0, r2.out << r2.err);
  const json broken = json::parse(dale::test::read_text(out + "/fig8_weight_hist.json"));
  const json* eg = find_rule(broken, "ei", "eg");
  REQUIRE(eg != nullptr);
  CHECK_NEAR(eg->at("lr").get<double>(), 0.2);
  const Group g = groups()[8];
  const json& m = eg->at("matrices");
  CHECK(m.at("fc0.Wex").at("runs") == 1);        // seed 1: no object; seed 2: fc0 is a number
  CHECK(m.at("fc1.Wex").at("runs") == 2);        // seeds 2 and 3
  CHECK(m.at("fc_output.Wex").at("runs") == 1);  // seed 2's histogram has 2 bins
  CHECK(m.at("fc1.Wex").at("ks_runs") == 1);     // seed 2 has no ks_lognormal
  CHECK_NEAR(m.at("fc1.Wex").at("ks_lognormal_median").get<double>(), ks_lognormal(g, 3, 2, 1));
  CHECK(m.at("fc1.Wex").at("hist_counts")[size_t(hist_bin(g, 2, 1))] == 5.0);  // seeds 2 + 3
  const json* sgd = find_rule(broken, "ei", "sgd");
  REQUIRE(sgd != nullptr);
  CHECK(sgd->at("lr").is_null());
  CHECK(sgd->at("runs") == 0);
  CHECK(r2.out.find("ei SGD at lr 0.2") != std::string::npos);  // listed under "missing"

  CHECK(figures(recs, out, " --geometry-lr -1").rc == 2);
}

TEST_CASE("geometry figures: records without geometry draw the study's seven figures only") {
  const dale::test::TempDir tmp;
  std::string recs;
  for (int seed : kSeeds)
    for (int epoch : {1, 2})
      recs += json({{"run", "ei-seed" + std::to_string(seed)}, {"variant", "ei"}, {"eps", 0.0}, {"seed", seed},
                    {"epoch", epoch}, {"final", epoch == 2}, {"test_acc", 80.0 + seed}, {"diverged", false},
                    {"config", {{"model", {{"variant", "ei"}}}, {"opt", {{"algorithm", "sgd"}, {"lr", 0.01}}}}}})
                  .dump() +
              "\n";
  const std::string path = tmp / "plain.jsonl";
  dale::test::write_text(path, recs);
  const std::string out = tmp / "figures";
  const auto r = figures(path, out);
  REQUIRE_MESSAGE(r.rc == 0, r.out << r.err);
  CHECK(r.out.find("fig8_weight_hist, fig9_rank_regime: skipped") != std::string::npos);
  int png = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string f = e.path().filename().string();
    CHECK_MESSAGE(f.rfind("fig8", 0) != 0, f);
    CHECK_MESSAGE(f.rfind("fig9", 0) != 0, f);
    png += e.path().extension() == ".png";
  }
  CHECK(png == 7);
}

// tools/geometry_tables.py, the tables of docs/geometry/README.md, on the same records: the
// final epoch, pooled over seeds, one run per (id, configuration) — ids repeat across groups, as
// dale compare's do — and the gain-2 runs a row of their own.
TEST_CASE("geometry_tables.py: rules and rank tables from the final records, runs told apart by configuration") {
  const dale::test::TempDir tmp;
  const std::string recs = tmp / "geometry.jsonl";
  dale::test::write_text(recs, records());
  const std::string script = dale::test::shell_quote(std::string(DALE_TEST_DATA) + "/../tools/geometry_tables.py");
  const auto r = dale::test::run_captured(script + " " + dale::test::shell_quote(recs), tmp / "tables");
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  // ei, SGD at lr 0.01, full rank: final accuracies 83, 85, 87 (test_acc, bonus 1).
  CHECK_MESSAGE(r.out.find("| ei | SGD | 0.01 | 3 | 85.00 (83.00–87.00) | 0 | fc0.Wex |") != std::string::npos, r.out);
  // Rank 4 of group 0: rel_change 0.543, 0.552, 0.567 (seeds 1–3, epoch 2) → 0.554 ± 0.012.
  CHECK_MESSAGE(r.out.find("| ei | SGD | 0.01 | 4 | 1 | 3 | 0 | 0.554 ± 0.012 |") != std::string::npos, r.out);
  CHECK_MESSAGE(r.out.find("| ei | SGD | 0.01 | 4 | 2 | 3 | 0 |") != std::string::npos, r.out);  // gain 2 apart
  const std::string plain = tmp / "plain.jsonl";
  dale::test::write_text(plain, json({{"run", "a"}, {"variant", "ei"}, {"epoch", 1}, {"final", true}}).dump() + "\n");
  const auto bad = dale::test::run_captured(script + " " + dale::test::shell_quote(plain), tmp / "plain");
  CHECK(bad.rc == 2);
  CHECK(bad.err.find("no record carries geometry") != std::string::npos);
}

// fig9's (a) and (b) leave out a network whose last hidden layer fell silent (dale writes its
// undefined CKA as null): it learned nothing. Its accuracy still counts in (c).
TEST_CASE("geometry figures: fig9 leaves silent networks out of the weight and representation changes") {
  const dale::test::TempDir tmp;
  const Group g = groups()[0];  // ei, SGD lr 0.01, ranks 1, 4, full
  std::string recs;
  for (int rank : g.ranks)
    for (int seed : kSeeds)
      for (int epoch : {1, 2}) {
        json geo = geometry(g, rank, seed, epoch);
        if (rank == 1 && seed == 3 && epoch == 2) geo["fc1"]["cka"] = nullptr;  // silent
        json model = {{"variant", g.variant}};
        if (rank != 0) model["init_rank"] = rank;
        recs += json({{"run", run_name(g, rank, seed)}, {"variant", g.variant}, {"eps", 0.0}, {"seed", seed},
                      {"epoch", epoch}, {"final", epoch == 2}, {"test_acc", test_acc(g, rank, seed, epoch)},
                      {"diverged", false}, {"geometry", geo},
                      {"config", {{"model", model}, {"opt", {{"algorithm", "sgd"}, {"lr", g.lr}}}}}})
                    .dump() +
                "\n";
      }
  const std::string path = tmp / "silent.jsonl";
  dale::test::write_text(path, recs);
  const std::string out = tmp / "figures";
  const auto r = figures(path, out);
  REQUIRE_MESSAGE(r.rc == 0, r.out << r.err);
  const json fig9 = json::parse(dale::test::read_text(out + "/fig9_rank_regime.json"));
  REQUIRE(fig9.at("group").size() == 1);
  for (const auto& e : fig9.at("group")[0].at("ranks")) {
    const int rank = e.at("rank").get<int>();
    INFO("rank " << rank);
    const std::vector<int> live = rank == 1 ? std::vector<int>{1, 2} : kSeeds;
    CHECK(e.at("silent_or_diverged") == (rank == 1 ? 1 : 0));
    std::vector<double> rc;
    for (int s : live) rc.push_back(rel_change(g, rank, s, 2, 0));
    CHECK(e.at("rel_change").at("fc0.Wex").at("n") == live.size());
    CHECK_NEAR(e.at("rel_change").at("fc0.Wex").at("mean").get<double>(), mean(rc));
    CHECK(e.at("one_minus_cka").at("fc0").at("n") == live.size());
    CHECK(e.at("test_acc").at("n") == 3);
  }
}
