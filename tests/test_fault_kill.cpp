// Fault injection: the real `dale` executable killed with SIGKILL — at random moments, right after
// it appends a record, while a checkpoint's temporary file is being written, and right after a
// checkpoint is renamed into place — then re-run with the same command until it exits 0. What
// --exp.resume and the sweep's resume promise is checked after every kill and at the end of every
// trial:
//   · after a kill: the checkpoint (if any) reads back, is an end-of-epoch one, and its epoch has a
//     record (records are appended before the checkpoint is renamed into place); every complete
//     ('\n'-terminated) line of the records file is a JSON object;
//   · at the end: the final checkpoint is byte-identical to an uninterrupted run's; the records,
//     folded to (run, epoch) → record without elapsed_s, equal the uninterrupted run's — no epoch
//     missing, a repeated epoch identical to its first record; a sweep has exactly one final
//     record per planned run and no checkpoint left in `<out>.ckpt/`;
//   · no temporary file (`*.tmp*`) is left behind anywhere.
// Each trial runs in its own directory with the same relative --exp.out/--exp.ckpt, so records
// and checkpoints (whose metadata hold the configuration, paths included) compare byte for byte.
// Kill delays come from a seeded RNG; the INFO lines name seed, trial and delays for a rerun.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "framework/safetensors.h"
#include "models/trainer.h"
#include "tests/synthetic_data.h"
#include "tests/testing.h"

using json = nlohmann::json;
namespace fs = std::filesystem;
using dale::test::read_text;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kDale = std::string(DALE_BINARY_DIR) + "/dale";
constexpr uint64_t kSeed = 20240611;  // of the kill delays

// ---------------------------------------------------------------------------------------------
// Processes: start `dale`, let it run until a condition holds, then SIGKILL it

// Starts `dale args…` in `cwd` with stdout and stderr to `log`, stdin from /dev/null.
pid_t spawn_dale(const std::vector<std::string>& args, const fs::path& cwd, const fs::path& log) {
  std::vector<std::string> all = {kDale};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string dir = cwd.string(), log_path = log.string();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child: async-signal-safe calls only
    const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0 || ::chdir(dir.c_str()) != 0) ::_exit(126);
    ::dup2(in, 0), ::dup2(out, 1), ::dup2(out, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

struct Outcome {
  bool killed = false;  // by our SIGKILL
  int rc = -1;          // the exit status when it exited by itself; −1 for any other signal
};

// Polls `pid` every 100 µs; SIGKILLs it as soon as `kill_now()` holds, unless it exited first.
Outcome wait_or_kill(pid_t pid, const std::function<bool()>& kill_now) {
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    REQUIRE(w >= 0);
    if (w == pid) break;
    if (kill_now()) {
      REQUIRE(::kill(pid, SIGKILL) == 0);
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      break;
    }
    const timespec ts{0, 100'000};
    ::nanosleep(&ts, nullptr);
  }
  Outcome o;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) o.killed = true;
  else if (WIFEXITED(status)) o.rc = WEXITSTATUS(status);
  return o;
}

Outcome run_to_end(pid_t pid) {
  return wait_or_kill(pid, [] { return false; });
}

// Kill conditions, each made just before its launch.
std::function<bool()> after_delay(double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  return [deadline] { return Clock::now() >= deadline; };
}

bool is_temp(const fs::path& p) { return p.filename().string().find(".tmp") != std::string::npos; }

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;  // files come and go while `dale` runs
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (is_temp(it->path())) out.push_back(it->path().string());
  return out;
}

// What a targeted kill waits for, seen as a file under the trial's directory being created or
// modified: a record appended to the .jsonl file (before that epoch's checkpoint is renamed into
// place), a checkpoint's temporary file written, or a checkpoint renamed into place.
enum class Event { kAppend, kTempWrite, kCheckpoint };

bool matches(Event e, const fs::path& p) {
  switch (e) {
    case Event::kAppend: return p.extension() == ".jsonl";
    case Event::kTempWrite: return is_temp(p);
    case Event::kCheckpoint: return p.extension() == ".safetensors" && !is_temp(p);
  }
  return false;
}

// Fires at the n-th event of kind `e` since the launch, so a launch killed at its 2nd event has
// finished at least one epoch's checkpoint: the trial always progresses. Polled: an event is a
// matching file that appeared or whose size or modification time changed (a very short-lived
// temporary file may be missed; the launch is then killed at a later event or completes).
std::function<bool()> at_event(const fs::path& dir, Event e, int n) {
  using Stamp = std::pair<fs::file_time_type, uintmax_t>;
  auto scan = [dir, e] {
    std::map<std::string, Stamp> m;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!matches(e, it->path())) continue;
      std::error_code ec2;
      const auto t = fs::last_write_time(it->path(), ec2);
      const auto size = fs::file_size(it->path(), ec2);
      if (!ec2) m[it->path().string()] = {t, size};
    }
    return m;
  };
  return [scan, n, last = scan(), seen = 0]() mutable {
    const auto now = scan();
    bool changed = false;
    for (const auto& [f, stamp] : now) {
      const auto it = last.find(f);
      changed |= it == last.end() || it->second != stamp;
    }
    seen += changed;
    last = now;
    return seen >= n;
  };
}

// Targeted kills: launch k waits for the 2nd append, the 2nd checkpoint rename, the 2nd temporary
// file write, in turn. A temporary file may live too briefly to be seen (or not exist, if the
// writer changes): that kind also fires at the 3rd checkpoint, so launches keep being killed.
std::vector<std::function<std::function<bool()>()>> targeted_kills(const fs::path& dir, int launches) {
  std::vector<std::function<std::function<bool()>()>> kills;
  for (int k = 0; k < launches; ++k)
    kills.push_back([dir, k]() -> std::function<bool()> {
      if (k % 3 == 0) return at_event(dir, Event::kAppend, 2);
      if (k % 3 == 1) return at_event(dir, Event::kCheckpoint, 2);
      return [temp = at_event(dir, Event::kTempWrite, 2), ckpt = at_event(dir, Event::kCheckpoint, 3)] {
        return temp() || ckpt();
      };
    });
  return kills;
}

// ---------------------------------------------------------------------------------------------
// Records and checkpoints

// Every complete ('\n'-terminated) line of `path` is a JSON object, except the torn appends of
// earlier kills (`torn_before` of them), which a later append closed with '\n' (a SIGKILL can cut
// a write(2) at a page boundary of the file). Returns whether the file ends in an incomplete line:
// a torn append of this kill.
bool check_complete_lines(const fs::path& path, int torn_before) {
  if (!fs::exists(path)) return false;
  const std::string text = read_text(path);
  size_t start = 0, no = 0;
  int bad = 0;
  std::string first_bad;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = text.substr(start, nl - start);
    ++no;
    const json r = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (r.is_discarded() || !r.is_object()) {
      if (bad++ == 0) first_bad = path.string() + ":" + std::to_string(no) + ": " + line;
    }
  }
  CHECK_MESSAGE(bad <= torn_before, bad << " complete lines are not JSON records, but only " << torn_before
                                        << " appends were torn; the first: " << first_bad);
  return start < text.size();
}

// Lines of `path` that are not JSON records (each a torn append closed by a later one).
int bad_lines(const fs::path& path) {
  std::stringstream ss(read_text(path));
  int bad = 0;
  for (std::string l; std::getline(ss, l);) {
    const json r = json::parse(l, nullptr, /*allow_exceptions=*/false);
    bad += r.is_discarded() || !r.is_object();
  }
  return bad;
}

// A checkpoint left by a kill: it reads back, ends a whole epoch, and that epoch (of its run) is
// already recorded — the record is appended before the checkpoint is renamed into place.
void check_checkpoint_after_kill(const fs::path& ckpt, const fs::path& records) {
  INFO("checkpoint " << ckpt.string());
  dale::SafetensorsFile f;
  REQUIRE_NOTHROW(f = dale::read_safetensors(ckpt.string()));
  CHECK(f.metadata["partial_epoch"] == "0");
  const int64_t epoch = std::stoll(f.metadata.at("epoch"));
  const std::string run = f.metadata.at("run");
  bool recorded = false;
  if (fs::exists(records))
    for (const json& r : dale::read_records(records.string()))
      recorded |= r.value("run", "") == run && r.value("epoch", int64_t(-1)) == epoch;
  CHECK_MESSAGE(recorded, "the checkpoint of " << run << " epoch " << epoch << " has no record");
}

using EpochRecords = std::map<std::pair<std::string, int64_t>, json>;  // (run, epoch) → record

// Folds records by (run, epoch), without elapsed_s (wall time differs between runs). A kill
// between a record's append and its checkpoint's rename leaves the previous epoch's checkpoint,
// so the resumed run trains that epoch again — bit-identically — and must not append its record
// a second time: exactly one record per (run, epoch). `repeats` counts duplicates (asserted 0).
EpochRecords by_epoch(const std::vector<json>& records, int* repeats = nullptr) {
  EpochRecords m;
  for (json r : records) {
    r.erase("elapsed_s");
    const auto key = std::make_pair(r.value("run", ""), r.value("epoch", int64_t(-1)));
    const auto [it, fresh] = m.emplace(key, r);
    if (!fresh) {
      CHECK_MESSAGE(it->second == r, key.first << " epoch " << key.second << " recorded twice with different values:\n"
                                               << it->second.dump() << "\n" << r.dump());
      if (repeats) ++*repeats;
    }
  }
  return m;
}

void check_same_records(const EpochRecords& got, const EpochRecords& want) {
  for (const auto& [key, rec] : want) {
    INFO(key.first << " epoch " << key.second);
    const auto it = got.find(key);
    CHECK_MESSAGE(it != got.end(), "missing from the interrupted run's records");
    if (it != got.end())
      CHECK_MESSAGE(it->second == rec,
                    "differs from the uninterrupted run's:\n" << it->second.dump() << "\n" << rec.dump());
  }
  for (const auto& [key, rec] : got)
    CHECK_MESSAGE(want.count(key),
                  key.first << " epoch " << key.second << " is not in the uninterrupted run's records");
}

// Sums over the trials of one case, reported at its end (not asserted where timing decides).
struct Tally {
  int launches = 0, kills = 0, kills_during_write = 0, torn = 0, repeats = 0;
};

// Re-runs `args` in `dir` until it exits 0: launch i (i < kills.size()) is killed when the
// condition kills[i]() — made just before the launch — holds, unless it finishes first; later
// launches run to the end. After each kill, the files left behind are checked by `after_kill`.
void run_until_done(const std::vector<std::string>& args, const fs::path& dir, const fs::path& logs,
                    const std::vector<std::function<std::function<bool()>()>>& kills,
                    const std::function<void()>& after_kill, Tally& tally) {
  for (size_t launch = 0;; ++launch) {
    REQUIRE_MESSAGE(launch <= kills.size(), "still not finished after " << launch << " launches");
    const fs::path log = logs / (dir.filename().string() + "-" + std::to_string(launch) + ".log");
    const auto kill_now = launch < kills.size() ? kills[launch]() : std::function<bool()>([] { return false; });
    const size_t temps_before = temp_files(dir).size();
    const Outcome o = wait_or_kill(spawn_dale(args, dir, log), kill_now);
    ++tally.launches;
    INFO("launch " << launch << " in " << dir.string() << "; its output:\n" << read_text(log));
    if (!o.killed) {
      REQUIRE(o.rc == 0);
      return;
    }
    ++tally.kills;
    tally.kills_during_write += temp_files(dir).size() > temps_before;
    after_kill();
  }
}

// ---------------------------------------------------------------------------------------------
// `dale train`

// 30 000 synthetic images: 938 steps of 32 per epoch, about 0.2 s on one CPU core at width 16.
std::vector<std::string> train_args(const std::string& data) {
  return {"train", "--data.dir", data, "--model.variant", "inorm+", "--model.hidden_layer_width", "16",
          "--train.epochs", "8", "--train.eval_batch", "100", "--opt.momentum", "0.9", "--quiet",
          "--exp.out", "R.jsonl", "--exp.ckpt", "C.safetensors", "--exp.resume"};
}

struct TrainReference {
  double seconds = 0;
  std::string ckpt;  // bytes
  EpochRecords records;
};

TrainReference train_reference(const dale::test::TempDir& tmp, const std::string& data) {
  const fs::path dir = tmp / "reference";
  fs::create_directories(dir);
  const auto t0 = Clock::now();
  const Outcome o = run_to_end(spawn_dale(train_args(data), dir, tmp / "logs/reference.log"));
  TrainReference ref;
  ref.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  INFO(read_text(tmp / "logs/reference.log"));
  REQUIRE(o.rc == 0);
  ref.ckpt = read_text(dir / "C.safetensors");
  const auto recs = dale::read_records((dir / "R.jsonl").string());
  ref.records = by_epoch(recs);
  // The uninterrupted run: epochs 1..8 once each, only the last final.
  REQUIRE(recs.size() == 8);
  REQUIRE(ref.records.size() == 8);
  for (int64_t e = 1; e <= 8; ++e) {
    REQUIRE(ref.records.count({"inorm+-eps0-seed0", e}));
    CHECK(ref.records.at({"inorm+-eps0-seed0", e}).value("final", false) == (e == 8));
  }
  return ref;
}

// One trial of `dale train`: killed per `kills`, re-run to the end, then compared with `ref`.
void train_trial(const dale::test::TempDir& tmp, const std::string& data, const TrainReference& ref,
                 const std::string& name, const std::vector<std::function<std::function<bool()>()>>& kills,
                 Tally& tally) {
  const fs::path dir = tmp / name;
  fs::create_directories(dir);
  const fs::path records = dir / "R.jsonl", ckpt = dir / "C.safetensors";
  int torn = 0;
  run_until_done(train_args(data), dir, tmp / "logs", kills, [&] {
    torn += check_complete_lines(records, torn);
    if (fs::exists(ckpt)) check_checkpoint_after_kill(ckpt, records);
  }, tally);
  tally.torn += torn;
  CHECK_MESSAGE(read_text(ckpt) == ref.ckpt, "the final checkpoint differs from the uninterrupted run's");
  int repeats = 0;
  check_same_records(by_epoch(dale::read_records(records.string()), &repeats), ref.records);
  tally.repeats += repeats;
  // The only lines that are not records are torn appends a kill left (closed by a later append).
  CHECK(bad_lines(records) <= torn);
}

}  // namespace

TEST_CASE("dale train killed with SIGKILL at random moments resumes to the uninterrupted result") {
  dale::test::TempDir tmp;
  fs::create_directories(tmp / "logs");
  fs::create_directories(tmp / "data");
  dale::test::write_synthetic_fashion_mnist(tmp / "data", 30000, 1000);
  const TrainReference ref = train_reference(tmp, tmp / "data");
  MESSAGE("uninterrupted dale train: " << ref.seconds << " s");

  std::mt19937_64 rng(kSeed);
  Tally tally;
  for (int trial = 0; trial < 8; ++trial) {
    // 1 to 3 kills, each at a moment uniform over what is left of the run: a fraction u of the
    // uninterrupted run's time, scaled by the epochs its checkpoint has still to do.
    const int n = 1 + int(rng() % 3);
    const fs::path ckpt = tmp.path / ("trial" + std::to_string(trial)) / "C.safetensors";
    std::vector<std::function<std::function<bool()>()>> kills;
    std::string delays;  // INFO prints it as it is when a check fails
    for (int k = 0; k < n; ++k) {
      const double u = std::uniform_real_distribution<double>(0.0, 0.95)(rng);
      kills.push_back([u, &ref, ckpt, &delays] {
        const int64_t done =
            fs::exists(ckpt) ? std::stoll(dale::read_safetensors(ckpt.string()).metadata.at("epoch")) : 0;
        const double d = u * ref.seconds * double(8 - done) / 8.0;
        delays += std::to_string(d) + " s ";
        return after_delay(d);
      });
    }
    INFO("seed " << kSeed << " trial " << trial << " kill delays " << delays);
    train_trial(tmp, tmp / "data", ref, "trial" + std::to_string(trial), kills, tally);
  }
  MESSAGE(tally.launches << " launches, " << tally.kills << " killed (" << tally.kills_during_write
                         << " leaving a new temporary file), " << tally.torn << " torn records, "
                         << tally.repeats << " epochs recorded twice");
  CHECK(tally.repeats == 0);
  // The delays fall within the run, so most launches are killed mid-way (about 15 of 22 here);
  // at least half of the 8 trials must have been, or the test is vacuous. (A margin for machines
  // whose load changes between the reference run and the trials.)
  CHECK(tally.kills >= 4);
  for (int trial = 0; trial < 8; ++trial) {
    const auto left = temp_files(tmp / ("trial" + std::to_string(trial)));
    CHECK_MESSAGE(left.empty(), "temporary files left behind, e.g. " << (left.empty() ? "" : left[0]));
  }
}

TEST_CASE("dale train killed right after a record append, mid checkpoint write, right after its rename") {
  dale::test::TempDir tmp;
  fs::create_directories(tmp / "logs");
  fs::create_directories(tmp / "data");
  dale::test::write_synthetic_fashion_mnist(tmp / "data", 30000, 1000);
  const TrainReference ref = train_reference(tmp, tmp / "data");

  // Every launch is killed at its 2nd event, in turn: a record appended (the kill lands before
  // that epoch's checkpoint is renamed into place, so the epoch is trained and recorded again), a
  // checkpoint half-written, a checkpoint just renamed into place. 12 launches cover 8 epochs.
  const fs::path dir = tmp.path / "targeted";
  Tally tally;
  train_trial(tmp, tmp / "data", ref, "targeted", targeted_kills(dir, 12), tally);
  MESSAGE(tally.launches << " launches, " << tally.kills << " killed (" << tally.kills_during_write
                         << " leaving a new temporary file), " << tally.repeats << " epochs recorded twice");
  // Appends are seen for sure (the file only grows): at least 3 kills after an append landed.
  CHECK(tally.kills >= 3);
  CHECK(tally.repeats == 0);  // those kills retrain an epoch; its record stays one
  const auto left = temp_files(dir);
  CHECK_MESSAGE(left.empty(), "temporary files left behind, e.g. " << (left.empty() ? "" : left[0]));
}

// ---------------------------------------------------------------------------------------------
// `dale sweep`

namespace {

// 2 configurations × 2 variants × 2 ε = 8 runs of 3 epochs on 3000 images (94 steps per epoch),
// packed 4 to an ensemble (one width): a kill leaves a pack's runs at different epochs, and the
// resumed sweep must repack them by epoch and still write each run's records once, unchanged.
std::vector<std::string> sweep_args(const std::string& data) {
  return {"sweep", "--data.dir", data, "--sweep.source", "random", "--sweep.configs", "2", "--variants", "ei-ln+,inorm+", "--eps", "0,0.5",
          "--train.epochs", "3", "--sweep.width_range", "16", "16", "--train.eval_batch", "100", "--quiet",
          "--exp.pack", "4", "--exp.out", "S.jsonl"};
}

struct SweepReference {
  double seconds = 0;
  std::set<std::string> runs;  // planned, from --dry-run
  EpochRecords records;
};

SweepReference sweep_reference(const dale::test::TempDir& tmp, const std::string& data) {
  SweepReference ref;
  const fs::path dir = tmp / "reference";
  fs::create_directories(dir);
  auto dry = sweep_args(data);
  dry.push_back("--dry-run");
  REQUIRE(run_to_end(spawn_dale(dry, dir, tmp / "logs/dry-run.log")).rc == 0);
  const std::string listing = read_text(tmp / "logs/dry-run.log");
  std::stringstream ss(listing);
  for (std::string l; std::getline(ss, l);)
    if (l.rfind("sweep-", 0) == 0) ref.runs.insert(l.substr(0, l.find(' ')));
  INFO(listing);
  REQUIRE(ref.runs.size() == 8);
  CHECK(fs::is_empty(dir));  // a dry run writes nothing

  const auto t0 = Clock::now();
  const Outcome o = run_to_end(spawn_dale(sweep_args(data), dir, tmp / "logs/reference.log"));
  ref.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  INFO(read_text(tmp / "logs/reference.log"));
  REQUIRE(o.rc == 0);
  const auto recs = dale::read_records((dir / "S.jsonl").string());
  ref.records = by_epoch(recs);
  REQUIRE(recs.size() == 8 * 3);
  REQUIRE(ref.records.size() == 8 * 3);
  for (const auto& run : ref.runs)
    for (int64_t e = 1; e <= 3; ++e) REQUIRE(ref.records.count({run, e}));
  return ref;
}

void sweep_trial(const dale::test::TempDir& tmp, const std::string& data, const SweepReference& ref,
                 const std::string& name, const std::vector<std::function<std::function<bool()>()>>& kills,
                 Tally& tally) {
  const fs::path dir = tmp / name;
  fs::create_directories(dir);
  const fs::path records = dir / "S.jsonl", ckpts = dir / "S.jsonl.ckpt";
  int torn = 0;
  run_until_done(sweep_args(data), dir, tmp / "logs", kills, [&] {
    torn += check_complete_lines(records, torn);
    if (fs::exists(ckpts))
      for (const auto& e : fs::directory_iterator(ckpts))
        if (e.path().extension() == ".safetensors") check_checkpoint_after_kill(e.path(), records);
  }, tally);
  tally.torn += torn;

  const auto recs = dale::read_records(records.string());
  std::map<std::string, int> finals;
  for (const json& r : recs)
    if (r.value("final", false)) ++finals[r.value("run", "")];
  for (const auto& run : ref.runs) CHECK_MESSAGE(finals[run] == 1, run << " has " << finals[run] << " final records");
  for (const auto& [run, n] : finals) CHECK_MESSAGE(ref.runs.count(run), run << " was not planned");
  int repeats = 0;
  const EpochRecords got = by_epoch(recs, &repeats);
  tally.repeats += repeats;
  check_same_records(got, ref.records);  // every epoch of every run, identical
  for (const auto& run : ref.runs) {     // so the final accuracy too; said once more plainly
    const auto it = got.find({run, 3});
    if (it != got.end())
      CHECK_MESSAGE(it->second.at("test_acc") == ref.records.at({run, 3}).at("test_acc"), run << ": final test_acc");
  }
  CHECK(bad_lines(records) <= torn);  // as for train
  // Every run finished, so no checkpoint may remain (temporary files are checked at the end).
  std::string left;
  if (fs::exists(ckpts))
    for (const auto& e : fs::directory_iterator(ckpts))
      if (e.path().extension() == ".safetensors") left += " " + e.path().filename().string();
  CHECK_MESSAGE(left.empty(), "checkpoints of finished runs left in " << ckpts.string() << ":" << left);
}

}  // namespace

TEST_CASE("dale sweep killed with SIGKILL resumes: every run once, identical, no checkpoint left") {
  dale::test::TempDir tmp;
  fs::create_directories(tmp / "logs");
  fs::create_directories(tmp / "data");
  dale::test::write_synthetic_fashion_mnist(tmp / "data", 3000, 200);
  const SweepReference ref = sweep_reference(tmp, tmp / "data");
  MESSAGE("uninterrupted dale sweep: " << ref.seconds << " s");

  std::mt19937_64 rng(kSeed + 1);
  Tally tally;
  std::vector<std::string> trials;
  for (int trial = 0; trial < 5; ++trial) {
    // As for train: 1 to 3 kills, a fraction u of the time the unfinished runs still need.
    const int n = 1 + int(rng() % 3);
    trials.push_back("trial" + std::to_string(trial));
    const fs::path records = tmp.path / trials.back() / "S.jsonl";
    std::vector<std::function<std::function<bool()>()>> kills;
    std::string delays;
    for (int k = 0; k < n; ++k) {
      const double u = std::uniform_real_distribution<double>(0.0, 0.95)(rng);
      kills.push_back([u, &ref, records, &delays] {
        int64_t done = 0;
        if (fs::exists(records))
          for (const json& r : dale::read_records(records.string())) done += r.value("final", false);
        const double d = u * ref.seconds * double(8 - done) / 8.0;
        delays += std::to_string(d) + " s ";
        return after_delay(d);
      });
    }
    INFO("seed " << kSeed + 1 << " trial " << trial << " kill delays " << delays);
    sweep_trial(tmp, tmp / "data", ref, trials.back(), kills, tally);
  }
  {
    // Targeted, as for train: kills land between a run's final record and the removal of its
    // checkpoint, and in the middle of checkpoint writes.
    trials.push_back("targeted");
    sweep_trial(tmp, tmp / "data", ref, trials.back(), targeted_kills(tmp.path / "targeted", 24), tally);
  }
  MESSAGE(tally.launches << " launches, " << tally.kills << " killed (" << tally.kills_during_write
                         << " leaving a new temporary file), " << tally.torn << " torn records, "
                         << tally.repeats << " epochs recorded twice");
  CHECK(tally.kills >= 8);  // the targeted trial alone kills about 15 launches
  CHECK(tally.repeats == 0);
  for (const auto& t : trials) {
    const auto left = temp_files(tmp / t);
    CHECK_MESSAGE(left.empty(), t << ": temporary files left behind, e.g. " << (left.empty() ? "" : left[0]));
  }
}
