// The study's three commands end to end on a small synthetic dataset: `dale compare` (two
// variants × two ε × two seeds), `dale report`, and `tools/figures.py --smoke` — the files exist
// and hold the expected records, tables and figure count.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "models/trainer.h"
#include "tests/synthetic_data.h"
#include "tests/testing.h"

namespace fs = std::filesystem;

static int run(const std::string& cmd, std::string* out = nullptr) {
  const std::string file = fs::temp_directory_path() / ("dale-cmd-" + std::to_string(::getpid()) + ".txt");
  const int st = std::system((cmd + " >" + file + " 2>&1").c_str());
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  if (out) *out = ss.str();
  fs::remove(file);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_CASE("compare, report, figures: the whole path on tiny data") {
  const dale::test::TempDir tmp;
  const std::string dir = tmp.str();
  const std::string data = dir + "/data";
  fs::create_directories(data);
  dale::test::write_synthetic_fashion_mnist(data);
  const std::string dale_bin = std::string(DALE_BINARY_DIR) + "/dale";
  const std::string out = dir + "/runs/compare.jsonl";
  const std::string common = " --variants ei-ln+,inorm+ --eps 0,0.5 --seeds 2 --train.epochs 2"
                             " --model.hidden_layer_width 12 --train.eval_batch 100 --quiet --data.dir " + data +
                             " --exp.out " + out;
  std::string log;
  REQUIRE_MESSAGE(run(dale_bin + " compare" + common, &log) == 0, log);
  // The summary table: one row per condition.
  CHECK(log.find("| ei-ln+ | 0 | 2 | 0 |") != std::string::npos);
  CHECK(log.find("| inorm+ | 0.5 | 2 | 0 |") != std::string::npos);

  const auto recs = dale::read_records(out);
  CHECK(recs.size() == 16);  // 8 runs × 2 epochs
  std::map<std::string, int> finals;
  for (const auto& r : recs) {
    CHECK(r["config"]["model"]["hidden_layer_width"].get<int64_t>() == 12);
    CHECK(r.contains("grad_cos"));
    if (r["final"].get<bool>()) ++finals[r["variant"].get<std::string>()];
  }
  CHECK(finals["ei-ln+"] == 4);
  CHECK(finals["inorm+"] == 4);

  // Running it again trains nothing: every run is already finished.
  REQUIRE(run(dale_bin + " compare" + common, &log) == 0);
  CHECK(log.find("already finished, skipped") != std::string::npos);
  CHECK(dale::read_records(out).size() == 16);

  std::string report;
  REQUIRE_MESSAGE(run(dale_bin + " report " + out + " --best 2", &report) == 0, report);
  CHECK(report.find("| ei-ln+ | 0.5 | 2 | 0 |") != std::string::npos);
  CHECK(report.find("| inorm+ | ei-ln+ | 0 |") != std::string::npos);  // the study's comparison

  const std::string figs = dir + "/figures";
  const std::string figures_py = std::string(DALE_TEST_DATA) + "/../tools/figures.py";
  REQUIRE_MESSAGE(run(figures_py + " " + out + " --smoke --data " + std::string(DALE_TEST_DATA) +
                          "/figures/fashion-mnist-32 --out " + figs, &log) == 0, log);
  int png = 0, svg = 0;
  for (const auto& e : fs::directory_iterator(figs)) {
    png += e.path().extension() == ".png" && fs::file_size(e.path()) > 1000;
    svg += e.path().extension() == ".svg" && fs::file_size(e.path()) > 1000;
  }
  CHECK(png == 7);
  CHECK(svg == 7);
  CHECK(run(figures_py + " " + dir + "/missing.jsonl --smoke --out " + figs) == 2);
}
