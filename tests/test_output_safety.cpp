// Nothing lost, never a stale result (README, "Robustness"): what an output may replace, that a run
// id is its whole configuration, outputs checked against each other and against inputs, one writer
// per output (real processes), writability found before any work, and records read back as
// written. Each case runs the real `dale` binary on the small synthetic dataset.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "models/trainer.h"
#include "tests/cli_workspace.h"
#include "tests/testing.h"

using json = nlohmann::json;
namespace fs = std::filesystem;
using dale::test::read_text;
using dale::test::shell_quote;
using dale::test::write_text;

namespace {

const std::string kDale = DALE_BINARY_DIR "/dale";

using Result = dale::test::CommandResult;

struct Space : dale::test::CliWorkspace {
  Space() : CliWorkspace(600, 200) {}
  // `dale <args>` with `prefix` shell words before it (e.g. "ulimit -f 16;"); stderr captured.
  Result run(const std::vector<std::string>& args, const std::string& prefix = "") {
    std::string cmd = prefix + " " + shell_quote(kDale);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    return dale::test::run_captured("bash -c " + shell_quote(cmd), tmp / ("logs/" + std::to_string(runs++)));
  }
  std::vector<std::string> train(std::vector<std::string> extra) const {
    std::vector<std::string> a = {"train", "--data.dir", data, "--model.hidden_layer_width", "8", "--train.epochs", "1",
                                  "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::vector<std::string> compare(std::vector<std::string> extra) const {
    std::vector<std::string> a = {"compare", "--data.dir", data, "--model.hidden_layer_width", "8", "--train.epochs",
                                  "1", "--variants", "ei", "--eps", "0", "--seeds", "1", "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// Exit 2 with one line that names `what`.
void expect_refused(const Result& r, const std::string& what) {
  INFO("stderr: " << r.err);
  CHECK(r.rc == 2);
  REQUIRE(r.err_lines.size() == 1);
  CHECK(r.err_lines[0].rfind("dale: ", 0) == 0);
  CHECK_MESSAGE(r.err_lines[0].find(what) != std::string::npos, "the line names " << what);
}

std::map<std::pair<std::string, int64_t>, int> count_records(const std::string& path) {
  std::map<std::pair<std::string, int64_t>, int> n;
  for (const json& r : dale::read_records(path)) ++n[{r.value("run", ""), r.value("epoch", int64_t(-1))}];
  return n;
}

}  // namespace

TEST_CASE("outputs replace only regular files or new paths, refused before any work") {
  Space s;
  const std::string records = s / "r.jsonl";
  REQUIRE(s.run(s.train({"--exp.out", records})).rc == 0);
  const std::string fifo = s / "fifo", dir = s / "adir", link = s / "link", target = s / "target.md";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  fs::create_directories(dir);
  write_text(target, "keep me\n");
  fs::create_symlink(target, link);
  for (const std::string& bad : {fifo, dir, link}) {
    CAPTURE(bad);
    expect_refused(s.run({"report", records, "--out", bad}), "--out");
    expect_refused(s.run(s.train({"--exp.ckpt", bad})), "--exp.ckpt");
    expect_refused(s.run({"bench", "--data.dir", s.data, "--steps", "1", "--json", bad}), "--json");
  }
  CHECK(fs::is_fifo(fifo));
  CHECK(fs::is_directory(dir));
  CHECK(fs::is_symlink(link));
  CHECK(read_text(target) == "keep me\n");
  // A regular file is replaced whole, and no temporary file is left beside it.
  const std::string report = s / "report.md";
  write_text(report, "old\n");
  REQUIRE(s.run({"report", records, "--out", report}).rc == 0);
  CHECK(read_text(report).find("Final test accuracy") != std::string::npos);
  for (const auto& e : fs::directory_iterator(s.tmp.path))
    CHECK_MESSAGE(e.path().filename().string().find(".tmp") == std::string::npos, e.path());
}

TEST_CASE("a run id is its whole configuration: another configuration is refused, never reused") {
  Space s;
  const std::string out = s / "c.jsonl";
  REQUIRE(s.run(s.compare({"--exp.out", out})).rc == 0);
  const auto before = read_text(out);
  // The same command again: finished, skipped, nothing appended.
  const Result again = s.run(s.compare({"--exp.out", out}));
  REQUIRE(again.rc == 0);
  CHECK(again.err.find("already finished, skipped") != std::string::npos);
  CHECK(read_text(out) == before);
  // Another width, epoch count or rate into the same file: one line naming the first differing key.
  expect_refused(s.run(s.compare({"--exp.out", out, "--model.hidden_layer_width", "10"})), "model.hidden_layer_width");
  expect_refused(s.run(s.compare({"--exp.out", out, "--train.epochs", "2"})), "train.epochs");
  expect_refused(s.run(s.compare({"--exp.out", out, "--opt.lr", "0.01"})), "opt.lr");
  CHECK(read_text(out) == before);
  // A random sweep of another seed plans the same run ids with other rates.
  const std::string sw = s / "s.jsonl";
  const std::vector<std::string> sweep = {"sweep", "--data.dir", s.data, "--sweep.source", "random", "--sweep.configs",
                                          "1", "--sweep.width_range", "8", "8", "--variants", "ei", "--eps", "0",
                                          "--train.epochs", "1", "--quiet", "--exp.out", sw};
  REQUIRE(s.run(sweep).rc == 0);
  std::vector<std::string> other = sweep;
  other.insert(other.end(), {"--sweep.seed", "5"});
  const Result r = s.run(other);  // after sweep's plan line, one error line
  CHECK(r.rc == 2);
  REQUIRE(!r.err_lines.empty());
  CHECK(r.err_lines.back().find("another configuration (opt.") != std::string::npos);
}

TEST_CASE("no output is another output or an input, after links and relative paths") {
  Space s;
  const std::string out = s / "r.jsonl", ckpt = s / "c.safetensors";
  REQUIRE(s.run(s.train({"--exp.out", out, "--exp.ckpt", ckpt})).rc == 0);
  const std::string records = read_text(out), weights = read_text(ckpt);
  expect_refused(s.run(s.train({"--exp.out", s / "x", "--exp.ckpt", s / "x"})), "--exp.");
  CHECK_FALSE(fs::exists(s / "x"));
  // The same file by another spelling: ./x/../name, and a symbolic link to it.
  const std::string odd = s.tmp.str() + "/./data/../c.safetensors";
  expect_refused(s.run(s.train({"--exp.out", odd, "--exp.init", ckpt})), "--exp.out");
  fs::create_symlink(ckpt, s / "alias.safetensors");
  expect_refused(s.run(s.train({"--exp.ckpt", s / "alias.safetensors", "--exp.init", ckpt})), "--exp.ckpt");
  // Swapped: records given as the checkpoint, the checkpoint as records.
  expect_refused(s.run(s.train({"--exp.out", ckpt, "--exp.ckpt", out})), "--exp.");
  CHECK(read_text(out) == records);
  CHECK(read_text(ckpt) == weights);
  // report's --out is none of its inputs.
  expect_refused(s.run({"report", out, "--out", out}), "--out");
  CHECK(read_text(out) == records);
}

TEST_CASE("one writer per output: a second process is refused, naming the first one's pid") {
  Space s;
  const std::string ckpt = s / "c.safetensors";
  // A long run in the background: it holds the checkpoint's (and the records') lock.
  const std::string pidfile = s / "pid";
  const std::string cmd = shell_quote(kDale) + " train --data.dir " + shell_quote(s.data) +
                          " --model.hidden_layer_width 8 --train.epochs 100000 --quiet --exp.ckpt " + shell_quote(ckpt) +
                          " --exp.out " + shell_quote(s / "r.jsonl") + " >/dev/null 2>&1 & echo $! > " + shell_quote(pidfile);
  REQUIRE(std::system(("bash -c " + shell_quote(cmd)).c_str()) == 0);
  const std::string pid = read_text(pidfile).substr(0, read_text(pidfile).find('\n'));
  struct Reaper {  // the background run never outlives the case, whatever fails
    std::string pid;
    ~Reaper() { std::system(("kill -9 " + pid + " 2>/dev/null").c_str()); }
  } reaper{pid};
  for (int i = 0; i < 200 && !fs::exists(ckpt + ".lock"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(fs::exists(ckpt + ".lock"));
  const Result second = s.run(s.train({"--exp.ckpt", ckpt}));
  expect_refused(second, "pid " + pid);
  const Result third = s.run(s.train({"--exp.out", s / "r.jsonl"}));
  expect_refused(third, "--exp.out");
  std::system(("kill -9 " + pid).c_str());
  for (int i = 0; i < 200 && ::kill(std::stoi(pid), 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // The holder is gone (killed: its lock file stays, unlocked): the next writer gets the lock.
  CHECK(s.run(s.train({"--exp.ckpt", ckpt})).rc == 0);
  CHECK_FALSE(fs::exists(ckpt + ".lock"));  // released and removed at the end
}

TEST_CASE("two sweeps on one --exp.out train every run once") {
  Space s;
  const std::string out = s / "s.jsonl";
  std::vector<std::string> args = {"sweep", "--data.dir", s.data, "--sweep.source", "random", "--sweep.configs", "3",
                                   "--sweep.width_range", "8", "8", "--variants", "ei,inorm+", "--eps", "0,0.5",
                                   "--train.epochs", "2", "--quiet", "--exp.out", out};
  std::string cmd;
  for (int k = 0; k < 2; ++k) {
    cmd += shell_quote(kDale);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >/dev/null 2>" + shell_quote(s / ("sweep" + std::to_string(k) + ".log")) + " & ";
  }
  cmd += "wait";
  REQUIRE(std::system(("bash -c " + shell_quote(cmd)).c_str()) == 0);
  const auto n = count_records(out);
  CHECK(n.size() == 3 * 2 * 2 * 2);  // runs × epochs
  for (const auto& [key, count] : n) CHECK_MESSAGE(count == 1, key.first << " epoch " << key.second << ": " << count);
  const std::string logs = read_text(s / "sweep0.log") + read_text(s / "sweep1.log");
  CHECK(logs.find("by another process") != std::string::npos);
}

TEST_CASE("an unwritable checkpoint location is found before training; a failed write says what is intact") {
  Space s;
  const std::string out = s / "r.jsonl";
  // /proc takes no new files: refused before any epoch, no record appended.
  expect_refused(s.run(s.train({"--exp.out", out, "--exp.ckpt", "/proc/dale-test.safetensors"})), "--exp.ckpt");
  CHECK_FALSE(fs::exists(out));
  // A file-size limit that the records fit in and the checkpoint does not: the epoch's record is
  // appended, its checkpoint write fails, and the message says no checkpoint was written.
  // (width 16: the checkpoint is about 14 KB, a record 2 KB, the writability probe 4 KB)
  const Result r = s.run(s.train({"--exp.out", out, "--exp.ckpt", s / "c.safetensors", "--model.hidden_layer_width", "16"}),
                         "trap '' XFSZ; ulimit -f 8;");
  INFO(r.err);
  CHECK(r.rc == 2);
  REQUIRE(!r.err_lines.empty());
  CHECK(r.err_lines.back().find("c.safetensors") != std::string::npos);
  CHECK(r.err_lines.back().find("no checkpoint of this run had been written") != std::string::npos);
  CHECK_FALSE(fs::exists(s / "c.safetensors"));
  for (const auto& e : fs::directory_iterator(s.tmp.path))
    CHECK_MESSAGE(e.path().filename().string().find(".tmp") == std::string::npos, e.path());
}

TEST_CASE("records read back: a torn last line is skipped with one warning, anything else refused with a count") {
  Space s;
  const std::string good = R"({"run": "a", "variant": "ei", "eps": 0, "epoch": 1, "final": true, "test_acc": 80})";
  const std::string torn = s / "torn.jsonl", closed = s / "closed.jsonl", bad = s / "bad.jsonl";
  write_text(torn, good + "\n" + R"({"run": "b", "epo)");
  write_text(closed, std::string(R"({"run": "b", "ep)") + "\n" + good + "\n" + R"({"run": "c)" + "\n" + good + "\n");
  write_text(bad, good + "\nhello\n" + good + "\n[1, 2]\nnot json either\n");
  const Result t = s.run({"report", torn});
  CHECK(t.rc == 0);
  CHECK(t.err.find("torn.jsonl:2: skipping a torn record") != std::string::npos);
  const Result c = s.run({"report", closed});
  CHECK(c.rc == 0);
  int warnings = 0;
  for (const auto& l : c.err_lines) warnings += l.find("torn") != std::string::npos;
  CHECK(warnings == 1);  // once, with a count
  CHECK(c.err.find("closed.jsonl:1: skipping 2 torn records") != std::string::npos);
  const Result b = s.run({"report", bad});
  expect_refused(b, "bad.jsonl:2: not a JSON record (3 such lines in all)");
  CHECK(b.err.find("torn") == std::string::npos);
  // A whole object with junk after its last brace is not a torn record.
  const std::string junk = s / "junk.jsonl";
  write_text(junk, good + "\n" + good + "}\n");
  expect_refused(s.run({"report", junk}), "junk.jsonl:2: not a JSON record");
  // Two appenders, one killed mid-write after the other checked the last byte: the other's record
  // lands on the torn line. It is read (and counts), the torn prefix warned about once.
  const std::string glued = s / "glued.jsonl";
  const std::string other = R"({"run": "z", "variant": "ei", "eps": 0, "epoch": 1, "final": true, "test_acc": 70})";
  write_text(glued, good + "\n" + R"({"run": "b", "epo)" + other + "\n");
  const Result g = s.run({"report", glued});
  CHECK(g.rc == 0);
  CHECK(g.err.find("glued.jsonl:2: skipping a torn record") != std::string::npos);
  const std::vector<json> recs = dale::read_records(glued);
  REQUIRE(recs.size() == 2);
  CHECK(recs[1]["run"] == "z");
}

TEST_CASE("only dale's own temporary files are cleaned up, never a user's file that looks alike") {
  Space s;
  const std::string ckpt = s / "m.safetensors";
  write_text(ckpt + ".tmp.jsonl", "mine\n");         // a user's file
  write_text(ckpt + ".tmp.4242.7", "left by a kill");  // a killed writer's temporary file
  write_text(ckpt + ".tmp", "left by an old dale");
  REQUIRE(s.run(s.train({"--exp.ckpt", ckpt})).rc == 0);
  CHECK(read_text(ckpt + ".tmp.jsonl") == "mine\n");
  CHECK_FALSE(fs::exists(ckpt + ".tmp.4242.7"));
  CHECK_FALSE(fs::exists(ckpt + ".tmp"));
}
