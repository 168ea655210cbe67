// The bad-input catalogue of the `dale` executable: config files, flags, output paths, and the
// flags of `dale compare` / `dale sweep` (with SLURM's environment). Every case runs the real
// binary under `timeout 60` on a tiny synthetic dataset (tests/synthetic_data.h) and checks the
// README's contract for bad input: exit code 2 (not a crash, not a hang, not "internal error"),
// exactly one stderr line starting with "dale: " that names the flag or file and what was
// expected, and no output file left behind.
//
// Covered elsewhere, not repeated here: an unknown config key, a key in the wrong section and a
// missing config file, --opt.lr nan / -1, --train.epochs 0 / three, --exp.out into a missing
// directory (test_train_cli.cpp); damaged IDX files (test_datasets.cpp, test_train_cli.cpp);
// damaged safetensors files (test_safetensors.cpp).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "tests/synthetic_data.h"
#include "tests/cli_workspace.h"
#include "tests/testing.h"

namespace fs = std::filesystem;
using dale::test::read_text;
using dale::test::shell_quote;
using dale::test::write_text;
using dale::test::TempDir;

namespace {

const std::string kDale = std::string(DALE_BINARY_DIR) + "/dale";

struct Result {
  int rc = -1;  // the exit status; −1 when the process did not exit normally
  std::string out, err;
  std::vector<std::string> err_lines;
};

// data/ (the synthetic set), out/ (where every case points its outputs, and which must stay
// empty) and logs/ (captured stdout and stderr): tests/cli_workspace.h.
struct Workspace : dale::test::CliWorkspace {
  // Runs `env [assignments] dale <args>` under `timeout 60`, with SLURM's array variables
  // removed so that a CI job running inside SLURM sees the same as a laptop.
  Result run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    const int k = runs++;
    const std::string out = tmp / ("logs/" + std::to_string(k) + ".stdout");
    const std::string err = tmp / ("logs/" + std::to_string(k) + ".stderr");
    std::string cmd = "timeout 60 env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN";
    for (const auto& e : env) cmd += " " + shell_quote(e);
    cmd += " " + shell_quote(kDale);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
    const int status = std::system(cmd.c_str());
    Result r;
    r.rc = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
    r.out = read_text(out);
    r.err = read_text(err);
    std::stringstream ss(r.err);
    for (std::string l; std::getline(ss, l);) r.err_lines.push_back(l);
    return r;
  }

  // `dale train` on the synthetic data, one epoch of a small network, outputs into out/.
  std::vector<std::string> train(std::initializer_list<std::string> extra) const {
    std::vector<std::string> a = {"train", "--data.dir", data, "--model.hidden_layer_width", "8",
                                  "--train.epochs", "1", "--quiet", "--exp.out", out("r.jsonl"),
                                  "--exp.ckpt", out("c.safetensors")};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // `dale compare|sweep` on the synthetic data: one epoch per run, records into out/.
  std::vector<std::string> experiment(const std::string& cmd, std::initializer_list<std::string> extra) const {
    std::vector<std::string> a = {cmd, "--data.dir", data, "--train.epochs", "1", "--quiet", "--exp.out", out("x.jsonl")};
    // compare takes the width; a sweep's configurations set it: random ones of width 8 here.
    if (cmd == "compare") a.insert(a.end(), {"--model.hidden_layer_width", "8"});
    if (cmd == "sweep")
      a.insert(a.end(), {"--sweep.source", "random", "--sweep.configs", "1", "--variants", "ei", "--eps", "0"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // A config file in the workspace (not in out/).
  std::string config(const std::string& name, const std::string& text) const {
    write_text(tmp / name, text);
    return tmp / name;
  }
};

// The bad-input contract: exit 2, one stderr line "dale: …" holding every needle (the flag or file,
// and what was expected), nothing under out/.
void expect_bad_input(Workspace& ws, const std::vector<std::string>& args, std::initializer_list<std::string> needles,
                      const std::vector<std::string>& env = {}) {
  for (const auto& f : ws.outputs()) fs::remove_all(f);  // what earlier (good) runs wrote
  const Result r = ws.run(args, env);
  std::string cmd;
  for (const auto& a : args) cmd += " " + a;
  INFO("dale" << cmd);
  INFO("exit code " << r.rc << "; stderr:\n" << r.err);
  CHECK(r.rc == 2);
  CHECK(r.err_lines.size() == 1);
  if (!r.err_lines.empty()) {
    CHECK(r.err_lines[0].rfind("dale: ", 0) == 0);
    for (const auto& n : needles) CHECK_MESSAGE(r.err_lines[0].find(n) != std::string::npos, "expected it to name " << n);
  }
  const auto left = ws.outputs();
  CHECK_MESSAGE(left.empty(), "bad input left " << left.size() << " file(s), the first " << (left.empty() ? "" : left[0]));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST_CASE("bad input: the dale executable and the synthetic data work") {
  REQUIRE_MESSAGE(fs::exists(kDale), kDale << " is missing: build the `dale` target first");
  Workspace ws;
  const Result r = ws.run(ws.train({}));
  INFO("stderr: " << r.err);
  REQUIRE(r.rc == 0);
  CHECK(fs::exists(ws.out("r.jsonl")));
  CHECK(fs::exists(ws.out("c.safetensors")));
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("bad input: config files") {
  Workspace ws;
  auto with = [&](const std::string& cfg) { return ws.train({"--config", cfg}); };
  // The base arguments give --train.epochs 1, and the command line wins over the file: the
  // cases about epochs leave it out.
  auto without_epochs = [&](const std::string& cfg) {
    return std::vector<std::string>{"train",     "--data.dir", ws.data,         "--model.hidden_layer_width",
                                    "8",         "--quiet",    "--exp.out",     ws.out("r.jsonl"),
                                    "--exp.ckpt", ws.out("c.safetensors"), "--config", cfg};
  };

  SUBCASE("type errors") {
    expect_bad_input(ws, without_epochs(ws.config("a.toml", "[train]\nepochs = \"three\"\n")),
                     {"--train.epochs", "whole number", "three"});
    const std::string list = ws.config("b.toml", "[opt]\nlr = [1, 2]\n");
    expect_bad_input(ws, with(list), {list + ":2", "opt.lr", "one value"});
  }
  SUBCASE("a value with trailing junk") {
    // Bare `3x` is no TOML (refused as such, with line and column); as a string the flag refuses it.
    const std::string bare = ws.config("c0.toml", "[train]\nepochs = 3x\n");
    expect_bad_input(ws, without_epochs(bare), {bare + ":2:11", "not valid TOML"});
    expect_bad_input(ws, without_epochs(ws.config("c.toml", "[train]\nepochs = \"3x\"\n")),
                     {"--train.epochs", "whole number", "3x"});
    expect_bad_input(ws, with(ws.config("d.toml", "[opt]\nlr = \"0.1x\"\n")), {"--opt.lr", "0.1x"});
  }
  SUBCASE("NaN, infinity and negative values where they are not allowed") {
    expect_bad_input(ws, with(ws.config("e.toml", "[opt]\nlr = nan\n")), {"--opt.lr", "finite"});
    expect_bad_input(ws, with(ws.config("f.toml", "[opt]\nlr = inf\n")), {"--opt.lr", "finite"});
    expect_bad_input(ws, with(ws.config("g.toml", "[train]\nbatch_size = -4\n")), {"--train.batch_size", "≥ 1"});
    expect_bad_input(ws, with(ws.config("h.toml", "[data]\nbrightness_factor = 2\n")),
                     {"--data.brightness_factor", "[0, 1]"});
  }
  SUBCASE("'config' is not a key of the file") {
    const std::string inner = ws.config("inner.toml", "[train]\nepochs = 1\n");
    const std::string outer = ws.config("outer.toml", "config = \"" + inner + "\"\n");
    expect_bad_input(ws, with(outer), {outer + ":1", "unknown key 'config'"});
  }
  SUBCASE("a key of another subcommand: compare has no --model.variant") {
    const std::string cfg = ws.config("compare.toml", "[model]\nvariant = \"ei\"\n");
    expect_bad_input(ws, ws.experiment("compare", {"--config", cfg}), {cfg + ":2", "model.variant", "dale compare"});
  }
  SUBCASE("a line without '='") {
    const std::string cfg = ws.config("i.toml", "[train]\nbatch_size = 8\nepochs\n");
    expect_bad_input(ws, with(cfg), {cfg + ":3", "key = value"});
  }
  SUBCASE("an unterminated section header") {
    const std::string cfg = ws.config("j.toml", "# runs\n[train\nepochs = 1\n");
    expect_bad_input(ws, with(cfg), {cfg + ":2", "[section]"});
  }
  SUBCASE("a binary file") {
    std::string bytes;
    uint64_t s = 12345;  // LCG garbage: NULs, control bytes, newlines, high bytes
    for (int i = 0; i < 4096; ++i) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      bytes += char(s >> 56);
    }
    bytes[3] = '\0';
    const std::string cfg = ws.config("k.toml", bytes);
    expect_bad_input(ws, with(cfg), {cfg + ":1", "not a text config file"});
  }
  SUBCASE("a directory") {
    const std::string dir = ws / "confdir";
    fs::create_directories(dir);
    expect_bad_input(ws, with(dir), {"--config", dir, "directory"});
  }
  SUBCASE("--config without a file name") {
    expect_bad_input(ws, ws.train({"--config"}), {"--config", "file name"});
    expect_bad_input(ws, ws.train({"--config", ""}), {"--config", "file name"});
  }
  SUBCASE("an empty file is accepted") {
    const std::string cfg = ws.config("empty.toml", "");
    const Result r = ws.run(ws.train({"--config", cfg, "--exp.max_steps", "0"}));
    INFO("stderr: " << r.err);
    CHECK(r.rc == 0);
    CHECK(fs::exists(ws.out("c.safetensors")));  // the initial weights
  }
  SUBCASE("the command line replaces a list of the file, not extends it") {
    const std::string cfg = ws.config("eps.toml", "eps = 0.5\n");
    const Result r = ws.run(ws.experiment("sweep", {"--config", cfg, "--eps", "0.25", "--dry-run"}));
    INFO("stderr: " << r.err);
    CHECK(r.rc == 0);
    CHECK(r.out.find("eps0.25") != std::string::npos);
    CHECK(r.out.find("eps0.5") == std::string::npos);
  }
  SUBCASE("lists and pairs: TOML arrays are read, empty items and non-numbers refused") {
    const std::string good = ws.config("lists.toml", "eps = [0.25, 0.5]\nvariants = [\"ei\", \"inorm+\"]\n");
    const Result s = ws.run({"sweep", "--data.dir", ws.data, "--config", good, "--sweep.configs", "1", "--dry-run"});
    INFO("stderr: " << s.err);
    CHECK(s.rc == 0);
    for (const char* run : {"ei-eps0.25", "ei-eps0.5", "inorm+-eps0.25", "inorm+-eps0.5"})
      CHECK_MESSAGE(s.out.find(std::string("-") + run) != std::string::npos, "the dry run lists " << run);
    CHECK(s.out.find("eps0.75") == std::string::npos);  // the file's list replaced the default
    const std::string empty_item = ws.config("empty-item.toml", "eps = [0.5, \"\"]\n");  // [0.5, ] is TOML's trailing comma
    expect_bad_input(ws, ws.experiment("sweep", {"--config", empty_item}), {empty_item + ":1", "empty item"});
    const std::string plus = ws.config("plus.toml", "[sweep]\nwidth_range = [100, \"++\"]\n");
    expect_bad_input(ws, ws.experiment("sweep", {"--config", plus}), {plus + ":2", "'++' is not a number"});
    const std::string three = ws.config("three.toml", "[sweep]\nlr_range = [1e-3, 1e-2, 1e-1]\n");
    expect_bad_input(ws, ws.experiment("sweep", {"--config", three}), {three + ":2", "takes 2 values"});
  }
  SUBCASE("a flag in a file: quiet = true / false") {
    for (const char* v : {"true", "false"}) {
      const std::string cfg = ws.config("quiet.toml", std::string("quiet = ") + v + "\n");
      const Result r = ws.run(ws.train({"--config", cfg, "--exp.max_steps", "0"}));
      INFO("quiet = " << v << "; stderr: " << r.err);
      CHECK(r.rc == 0);
    }
    // Without --quiet on the command line, which would win over the file's value.
    const std::string bad = ws.config("quiet-bad.toml", "quiet = \"maybe\"\n");
    std::vector<std::string> args = with(bad);
    std::erase(args, std::string("--quiet"));
    expect_bad_input(ws, args, {"--quiet", "maybe"});
  }
}

// ---------------------------------------------------------------------------------------------
// Config files are TOML read by toml++, within size limits (issue 16, items 7 and 12). Valid TOML
// that the old hand-written reader refused or misread must give the configuration the same flags
// give on the command line; a key or table given twice, a value that is no flag's text, invalid
// TOML the old reader took, and a file that is not a small regular text file are refused before
// anything is read into memory or trained.
namespace {
// The "config" object of the first record of `jsonl` (the configuration as dale read it).
std::string config_of_record(const std::string& jsonl) {
  const std::string text = read_text(jsonl);
  const size_t b = text.find("\"config\":{");
  if (b == std::string::npos) return "";
  int depth = 0;
  for (size_t i = b + 9; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return text.substr(b, i + 1 - b);
  }
  return "";
}
}  // namespace

TEST_CASE("bad input: config files are TOML, refused whole when too large or not a file (issue 16)") {
  Workspace ws;
  // One epoch with the file, then one with `flags` instead: both must succeed with the same
  // configuration in their records (the same output paths, emptied in between).
  auto same_as_flags = [&](const std::string& name, const std::string& toml, std::vector<std::string> flags) {
    const std::string cfg = ws.config(name, toml);
    for (const auto& f : ws.outputs()) fs::remove_all(f);
    const Result a = ws.run(ws.train({"--config", cfg}));
    const std::string from_file = config_of_record(ws.out("r.jsonl"));
    for (const auto& f : ws.outputs()) fs::remove_all(f);
    std::vector<std::string> args = ws.train({});
    args.insert(args.end(), flags.begin(), flags.end());
    const Result b = ws.run(args);
    const std::string from_flags = config_of_record(ws.out("r.jsonl"));
    INFO(name << ":\n" << toml << "\nstderr (file): " << a.err << "\nstderr (flags): " << b.err);
    CHECK(a.rc == 0);
    REQUIRE(b.rc == 0);
    REQUIRE(!from_flags.empty());
    CHECK(from_file == from_flags);
  };
  auto bad = [&](const std::string& name, const std::string& toml, std::vector<std::string> needles) {
    const std::string cfg = ws.config(name, toml);
    for (auto& n : needles)
      if (n.rfind(":", 0) == 0) n = cfg + n;  // ":2:7" → "<file>:2:7"
    INFO(name << ":\n" << toml.substr(0, 200));
    std::vector<std::string> args = ws.train({"--config", cfg});
    const Result r = ws.run(args);  // expect_bad_input takes an initializer list: check here
    for (const auto& f : ws.outputs()) fs::remove_all(f);
    INFO("exit code " << r.rc << "; stderr:\n" << r.err);
    CHECK(r.rc == 2);
    REQUIRE(r.err_lines.size() == 1);
    CHECK(r.err_lines[0].rfind("dale: --config ", 0) == 0);
    for (const auto& n : needles) CHECK_MESSAGE(r.err_lines[0].find(n) != std::string::npos, "expected it to name " << n);
    CHECK(ws.outputs().empty());
  };

  SUBCASE("single-quoted (literal) strings") {
    same_as_flags("single.toml", "[model]\nvariant = 'ei-ln+'\n[exp]\nrun = 'a\\b \"c\"'\n",
                  {"--model.variant", "ei-ln+", "--exp.run", "a\\b \"c\""});
  }
  SUBCASE("multi-line strings") {
    same_as_flags("multi.toml", "[model]\nvariant = \"\"\"\nei-\\\n    ln+\"\"\"\n[exp]\nrun = '''\nrun-1'''\n",
                  {"--model.variant", "ei-ln+", "--exp.run", "run-1"});
  }
  SUBCASE("a UTF-8 byte order mark") {
    same_as_flags("bom.toml", "\xEF\xBB\xBF[model]\nvariant = \"ei\"\n", {"--model.variant", "ei"});
  }
  SUBCASE("inline tables, dotted keys and nested tables; a float converts as typed") {
    same_as_flags("inline.toml",
                  "model = { variant = \"ei\" }\ndata.brightness_factor = 0.5\n"
                  "[opt]\nlr = 0.0046948634644269184\n[opt.inhib_lrs]\nwix = 0.25\nwei = 1_0e-4\n",
                  {"--opt.lr", "0.0046948634644269184", "--opt.inhib_lrs.wix", "0.25", "--model.variant", "ei",
                   "--data.brightness_factor", "0.5", "--opt.inhib_lrs.wei", "10e-4"});
  }
  SUBCASE("comments, and '#' and escaped quotes inside strings") {
    same_as_flags("comments.toml",
                  "# a run\n[opt] # the optimizer\nnesterov = true # a boolean is 1\n\n  # indented\n"
                  "[exp]\nrun = \"say \\\"#1\\\" ok\" # \"quoted\" # twice\n[model]\nvariant = 'ei' #\n",
                  {"--opt.nesterov", "1", "--exp.run", "say \"#1\" ok", "--model.variant", "ei"});
  }
  SUBCASE("a key given twice") {
    bad("dup-key.toml", "[opt]\nlr = 0.1\nlr = 0.2\n", {":3:", "'lr'", "not valid TOML"});
  }
  SUBCASE("a table given twice") {
    bad("dup-table.toml", "[opt]\nlr = 0.1\n[model]\nvariant = 'ei'\n[opt]\nwd = 0\n", {":5:1", "'opt'"});
  }
  SUBCASE("one option under two names (an alias)") {
    bad("alias.toml", "device = 'cpu'\n[model]\ndevice = 'cpu'\n", {":3:1", "'model.device'", "'device'"});
  }
  SUBCASE("an array where one value is expected") {
    bad("array.toml", "[exp]\nrun = ['a', 'b']\n", {":2:7", "'exp.run'", "one value"});
  }
  SUBCASE("a date, an array of tables") {
    bad("date.toml", "[exp]\nrun = 2024-05-27\n", {":2:7", "'exp.run'", "date"});
    bad("tables.toml", "[[opt]]\nlr = 0.1\n", {":1:3", "unknown key 'opt'"});
  }
  SUBCASE("unknown keys in an inline table and a nested table") {
    bad("inline-unknown.toml", "model = { varient = 'ei' }\n", {":1:11", "unknown key 'model.varient'"});
    bad("nested-unknown.toml", "[opt.inhib_lrs]\nwixx = 0.1\n", {":2:1", "unknown key 'opt.inhib_lrs.wixx'"});
  }
  SUBCASE("a string of two lines") {
    bad("two-lines.toml", "[exp]\nrun = \"\"\"a\nb\"\"\"\n", {":2:7", "'exp.run'", "one line"});
  }
  SUBCASE("not TOML, though the old reader took it: ';' comments, bare words") {
    bad("ini.toml", "[model]\nvariant = ei ; a comment\n", {":2:11", "not valid TOML"});
  }
  SUBCASE("a FIFO is refused, not opened (which would block)") {
    const std::string fifo = ws / "fifo.toml";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    expect_bad_input(ws, ws.train({"--config", fifo}), {"--config " + fifo, "a FIFO", "not a regular file"});
  }
  SUBCASE("/dev/zero is refused, not read") {
    expect_bad_input(ws, ws.train({"--config", "/dev/zero"}),
                     {"--config /dev/zero", "a character device", "not a regular file"});
  }
  SUBCASE("a file over 1 MiB") {
    std::string big;
    while (big.size() <= (size_t(1) << 20)) big += "# a comment line, repeated until the file is over one MiB\n";
    bad("big.toml", big, {"too large", "1048576 bytes"});
  }
  SUBCASE("a line over 8192 bytes") {
    bad("long.toml", "[exp]\nrun = 'r'\n# " + std::string(9000, 'x') + "\n", {":3:", "line 3 is too long", "8192 bytes"});
  }
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("bad input: flags of dale train") {
  Workspace ws;
  expect_bad_input(ws, ws.train({"--opt.lr", "inf"}), {"--opt.lr", "finite"});
  expect_bad_input(ws, ws.train({"--opt.lr", "1e40"}), {"--opt.lr", "finite"});  // overflows float
  expect_bad_input(ws, ws.train({"--opt.momentum", "1"}), {"--opt.momentum", "[0, 1)"});
  expect_bad_input(ws, ws.train({"--opt.inhib_momentum", "-0.5"}), {"--opt.inhib_momentum", "[0, 1)"});
  expect_bad_input(ws, ws.train({"--train.epochs", "1e3"}), {"--train.epochs", "whole number", "1e3"});
  expect_bad_input(ws, ws.train({"--train.epochs", "2.5"}), {"--train.epochs", "whole number"});
  expect_bad_input(ws, ws.train({"--model.variant", ""}), {"--model.variant", "expected one of"});
  expect_bad_input(ws, ws.train({"--data.brightness_factor_eval", "5"}), {"--data.brightness_factor_eval", "[-1, 1]"});
  expect_bad_input(ws, ws.train({"--train.seed", "-1"}), {"--train.seed", "≥ 0", "-1"});
  // strtoull would read 2^64 as 2^64 − 1, and CLI11 reads integers with base 0: 010 = 8.
  expect_bad_input(ws, ws.train({"--train.seed", "18446744073709551616"}), {"--train.seed", "out of range"});
  expect_bad_input(ws, ws.train({"--train.epochs", "010"}), {"--train.epochs", "leading zeros"});
  expect_bad_input(ws, ws.train({"--train.batch_size", "0x10"}), {"--train.batch_size", "whole number"});
  expect_bad_input(ws, ws.train({"--train.shuffle", "2"}), {"--train.shuffle", "0 or 1"});
  expect_bad_input(ws, ws.train({"--exp.max_steps", "-5"}), {"--exp.max_steps", "≥ 0"});
}

// CLI11 2.1 turns an empty value into 0: `--opt.lr ''` would train with lr 0.
TEST_CASE("bad input: an empty number") {
  Workspace ws;
  expect_bad_input(ws, ws.train({"--opt.lr", ""}), {"--opt.lr"});
}

// A batch larger than the training set (once "internal error: std::bad_alloc").
TEST_CASE("bad input: a batch larger than memory") {
  Workspace ws;
  expect_bad_input(ws, ws.train({"--train.batch_size", "1000000000000"}), {"--train.batch_size"});
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("bad input: output paths") {
  Workspace ws;
  SUBCASE("--exp.out /dev/full: the write fails") {
    expect_bad_input(ws, ws.train({"--exp.out", "/dev/full"}), {"/dev/full"});
  }
  SUBCASE("--exp.ckpt into a directory that does not exist") {
    const std::string ckpt = ws / "nowhere/c.safetensors";
    expect_bad_input(ws, ws.train({"--exp.ckpt", ckpt}), {"--exp.ckpt", "nowhere", "does not exist"});
  }
  SUBCASE("--exp.out into a read-only directory") {
    const std::string ro = ws / "read-only";
    fs::create_directories(ro);
    REQUIRE(::chmod(ro.c_str(), 0555) == 0);
    const std::string probe = ro + "/probe";
    if (std::ofstream(probe).good()) {  // root: permission bits do not stop writes, but /proc's do
      fs::remove(probe);
      expect_bad_input(ws, ws.train({"--exp.out", "/proc/r.jsonl"}), {"/proc/r.jsonl"});
    } else {
      expect_bad_input(ws, ws.train({"--exp.out", ro + "/r.jsonl"}), {ro + "/r.jsonl"});
      CHECK(fs::is_empty(ro));
    }
    ::chmod(ro.c_str(), 0755);
  }
}

// An --exp.ckpt that is a directory was found only when the first checkpoint was written, after
// a whole epoch and a record in --exp.out; it is refused before training.
TEST_CASE("bad input: --exp.ckpt is an existing directory") {
  Workspace ws;
  const std::string dir = ws / "ckpt-dir";
  fs::create_directories(dir);
  expect_bad_input(ws, ws.train({"--exp.ckpt", dir}), {"--exp.ckpt", dir});
  CHECK(fs::is_empty(dir));
}

// The checkpoint's write-and-rename replaces whatever the path names (`--exp.ckpt /dev/full` as
// root once replaced the device node with a regular file); a FIFO here stands in for a device.
TEST_CASE("bad input: --exp.ckpt is not a regular file") {
  Workspace ws;
  const std::string fifo = ws / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  expect_bad_input(ws, ws.train({"--exp.ckpt", fifo}), {"--exp.ckpt", fifo});
  CHECK(fs::is_fifo(fifo));
}

// ---------------------------------------------------------------------------------------------
TEST_CASE("bad input: dale compare and dale sweep") {
  Workspace ws;
  for (const std::string cmd : {"compare", "sweep"}) {
    CAPTURE(cmd);
    expect_bad_input(ws, ws.experiment(cmd, {"--eps", "2"}), {"--eps", "[0, 1]"});
    expect_bad_input(ws, ws.experiment(cmd, {"--eps", "nan"}), {"--eps", "[0, 1]"});
    expect_bad_input(ws, ws.experiment(cmd, {"--eps", "0.5,x"}), {"--eps", "'x'"});
    expect_bad_input(ws, ws.experiment(cmd, {"--variants", "nope"}), {"nope", "expected one of"});
  }
  expect_bad_input(ws, ws.experiment("compare", {"--seeds", "0"}), {"--seeds", "≥ 1"});
  expect_bad_input(ws, ws.experiment("sweep", {"--shard", "2/2"}), {"--shard", "2/2", "0 ≤ i < n"});
  expect_bad_input(ws, ws.experiment("sweep", {"--shard", "1/0"}), {"--shard", "0 ≤ i < n"});
  expect_bad_input(ws, ws.experiment("sweep", {"--shard", "half"}), {"--shard", "i/n"});
  expect_bad_input(ws, ws.experiment("sweep", {"--sweep.configs", "0"}), {"--sweep.configs", "≥ 1"});
  expect_bad_input(ws, ws.experiment("compare", {"--exp.pack", "-1"}), {"--exp.pack", "≥ 0"});
  expect_bad_input(ws, ws.experiment("sweep", {"--sweep.width_range", "500", "100"}),
                   {"--sweep.width_range", "lo ≤ hi"});
  expect_bad_input(ws, ws.experiment("sweep", {"--sweep.lr_range", "0", "1e-2"}), {"--sweep.*_range", "0 < lo ≤ hi"});
  // The ranges also come from a config file: `width_range = [500, 100]` is LO HI.
  const std::string cfg = ws.config("sweep.toml", "[sweep]\nwidth_range = [500, 100]\n");
  expect_bad_input(ws, ws.experiment("sweep", {"--config", cfg}), {"--sweep.width_range", "lo ≤ hi"});
}

TEST_CASE("bad input: SLURM array variables that are not integers") {
  Workspace ws;
  const auto sweep = ws.experiment("sweep", {});
  expect_bad_input(ws, sweep, {"SLURM_ARRAY_TASK_ID=abc", "not integers"},
                   {"SLURM_ARRAY_TASK_ID=abc", "SLURM_ARRAY_TASK_COUNT=4"});
  expect_bad_input(ws, sweep, {"SLURM_ARRAY_TASK_COUNT=four", "not integers"},
                   {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=four"});
  expect_bad_input(ws, sweep, {"SLURM_ARRAY_TASK_ID=", "not integers"},
                   {"SLURM_ARRAY_TASK_ID=", "SLURM_ARRAY_TASK_COUNT=4"});
}

// std::stoll stops at the first non-digit: 0x and 4.5 were read as 0 and 4 and the sweep ran.
TEST_CASE("bad input: SLURM array variables with trailing junk") {
  Workspace ws;
  expect_bad_input(ws, ws.experiment("sweep", {}), {"SLURM_ARRAY_TASK_ID=0x"},
                   {"SLURM_ARRAY_TASK_ID=0x", "SLURM_ARRAY_TASK_COUNT=4"});
}
TEST_CASE("bad input: a SLURM array count with a fraction") {
  Workspace ws;
  expect_bad_input(ws, ws.experiment("sweep", {}), {"SLURM_ARRAY_TASK_COUNT=4.5"},
                   {"SLURM_ARRAY_TASK_ID=0", "SLURM_ARRAY_TASK_COUNT=4.5"});
}

// Not bad input: a shard with no runs (a SLURM array larger than the sweep) has nothing to do and
// succeeds (it once failed reading the --exp.out that nothing had created).
TEST_CASE("an empty shard succeeds") {
  Workspace ws;
  const Result r = ws.run(ws.experiment("sweep", {"--shard", "3/4"}));
  INFO("stderr: " << r.err);
  CHECK(r.rc == 0);
}

// --sweep.*_range values that are not numbers, out of float range, or one value only (once
// "internal error: stoll"); `100x` was read as 100 (std::stoll ignores the rest); an infinite
// upper rate passed the `lo ≤ hi` check and failed later, naming --opt.lr.
TEST_CASE("bad input: --sweep.*_range values") {
  Workspace ws;
  struct Case {
    std::vector<std::string> args;
    std::string named;  // besides the flag
  };
  const std::vector<Case> cases = {{{"--sweep.width_range", "abc", "100"}, "abc"},
                                   {{"--sweep.width_range", "100x", "200"}, "100x"},
                                   {{"--sweep.width_range", "100", "2.5"}, "2.5"},
                                   {{"--sweep.width_range", "100"}, "two values"},
                                   {{"--sweep.lr_range", "1e-3", "1e50"}, "1e50"},
                                   {{"--sweep.lr_range", "1e-3", "inf"}, "inf"}};
  for (const auto& c : cases) {
    auto args = ws.experiment("sweep", {});
    args.insert(args.end(), c.args.begin(), c.args.end());
    expect_bad_input(ws, args, {c.args[0], c.named});
  }
}

// The message once named --model.variant, a flag compare does not have.
TEST_CASE("bad input: --variants nope names --variants") {
  Workspace ws;
  expect_bad_input(ws, ws.experiment("compare", {"--variants", "nope"}), {"--variants"});
}

// CLI11 turns '' into the one-element list {0}: `--eps ''` would run every variant at ε = 0.
TEST_CASE("bad input: an empty --eps list") {
  Workspace ws;
  expect_bad_input(ws, ws.experiment("compare", {"--eps", "", "--seeds", "1", "--variants", "ei"}), {"--eps"});
}

TEST_CASE("bad input: dale bench and dale bench-gemm") {
  Workspace ws;
  expect_bad_input(ws, {"bench-gemm", "--device", "gpu"}, {"--device", "'gpu'"});
  expect_bad_input(ws, {"bench-gemm", "--models", "0"}, {"--models", "[1, 4096]"});
  expect_bad_input(ws, {"bench-gemm", "--batch", "0"}, {"--batch", "[1, 4096]"});
  expect_bad_input(ws, {"bench-gemm", "--variants", "nope"}, {"nope", "expected one of"});
  expect_bad_input(ws, {"bench", "--data.dir", ws.data, "--models", "0"}, {"--models", "[1, 4096]"});
  expect_bad_input(ws, {"bench", "--data.dir", ws.data, "--modes", "fast"}, {"--modes", "'fast'"});
}
