// The training loop of SPEC §9 (see trainer.h).
#include "models/trainer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "datasets/jitter.h"
#include "framework/backend.h"
#include "framework/check.h"
#include "framework/ops.h"
#include "framework/output_file.h"
#include "framework/tape.h"
#include "framework/trace.h"
#include "models/diagnostics.h"
#include "models/geometry.h"
#include "datasets/batch_cursor.h"
#include "framework/step_graph.h"
#include "models/ensemble.h"
#include "models/limits.h"

namespace dale {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Configuration

static void require(bool ok, const char* flag, const std::string& what) {
  if (!ok) throw InputError(fmt::format("{}: {}", flag, what));
}
static bool finite_nonneg(float v) { return std::isfinite(v) && v >= 0.f; }

void validate(const TrainConfig& c) {
  require(c.epochs >= 1, "--train.epochs", fmt::format("{} is not ≥ 1", c.epochs));
  require(c.batch_size >= 1, "--train.batch_size", fmt::format("{} is not ≥ 1", c.batch_size));
  require(c.eval_batch >= 1, "--train.eval_batch", fmt::format("{} is not ≥ 1", c.eval_batch));
  require(std::isfinite(c.brightness_factor) && c.brightness_factor >= 0.f && c.brightness_factor <= 1.f,
          "--data.brightness_factor", fmt::format("{} is not in [0, 1]", c.brightness_factor));
  require(std::isfinite(c.brightness_factor_eval) && std::fabs(c.brightness_factor_eval) <= 1.f,
          "--data.brightness_factor_eval",
          fmt::format("{} is not in [-1, 1] (0: test jittered like training; else a fixed shift)", c.brightness_factor_eval));
  require(!(c.clean_test && c.brightness_factor_eval != 0.f), "--data.clean_test",
          "tests on clean images; it cannot be combined with a non-zero --data.brightness_factor_eval");
  find_variant(c.model.variant);
  require(c.model.width == 0 || c.model.width >= 2, "--model.hidden_layer_width",
          fmt::format("{} is not ≥ 2 (0 picks the variant's default)", c.model.width));
  require(finite_nonneg(c.model.lambda_homeo), "--opt.lambda_homeo",
          fmt::format("{} is not a finite value ≥ 0", c.model.lambda_homeo));
  require(finite_nonneg(c.model.lambda_homeo_var), "--opt.lambda_homeo_var",
          fmt::format("{} is not a finite value ≥ 0", c.model.lambda_homeo_var));
  require(finite_nonneg(c.opt.lr), "--opt.lr", fmt::format("{} is not a finite rate ≥ 0", c.opt.lr));
  require(finite_nonneg(c.opt.lr_wix), "--opt.inhib_lrs.wix",
          fmt::format("{} is not a finite rate ≥ 0", c.opt.lr_wix));
  require(finite_nonneg(c.opt.lr_wei), "--opt.inhib_lrs.wei",
          fmt::format("{} is not a finite rate ≥ 0", c.opt.lr_wei));
  require(finite_nonneg(c.opt.momentum) && c.opt.momentum < 1.f, "--opt.momentum",
          fmt::format("{} is not in [0, 1)", c.opt.momentum));
  require(finite_nonneg(c.opt.inhib_momentum) && c.opt.inhib_momentum < 1.f, "--opt.inhib_momentum",
          fmt::format("{} is not in [0, 1)", c.opt.inhib_momentum));
  require(finite_nonneg(c.opt.wd), "--opt.wd", fmt::format("{} is not a finite value ≥ 0", c.opt.wd));
  require(!(c.opt.gd_sign_freeze && c.opt.algorithm == Algorithm::EG), "--opt.gd_signs",
          "freeze changes gradient-descent steps (sgd, adamw); eg is multiplicative and never crosses zero");
  require(c.model.init_rank >= 0, "--model.init_rank",
          fmt::format("{} is not a rank; expected 0 (full rank, SPEC §7) or a rank ≥ 1", c.model.init_rank));
  require(std::isfinite(c.model.init_gain) && c.model.init_gain > 0.f, "--model.init_gain",
          fmt::format("{} is not a finite gain > 0", c.model.init_gain));
  // −1 is the API's "no limit" (the flag's `none`); the flag itself takes none or a count ≥ 0.
  require(c.max_steps >= -1, "--exp.max_steps", fmt::format("{} is not ≥ 0 (or none: no limit)", c.max_steps));
  check_limits(c);  // caps and memory (models/limits.h), once every value above is in range
}

// Settings added after records were first written appear only when they differ from their
// defaults, so a default run's config (and run identity, and resumability) is what it was.
static void add_non_default(json& j, const TrainConfig& c) {
  if (c.model.init_rank != 0) j["model"]["init_rank"] = c.model.init_rank;
  if (c.model.init_gain != 1.f) j["model"]["init_gain"] = c.model.init_gain;
  if (c.opt.gd_sign_freeze) j["opt"]["gd_signs"] = "freeze";
  if (c.geometry) j["diag"] = {{"geometry", true}};
}

json to_json(const TrainConfig& c) {
  json j = {
      {"train", {{"epochs", c.epochs}, {"batch_size", c.batch_size}, {"seed", c.seed}, {"shuffle", c.shuffle}}},
      {"data",
       {{"brightness_factor", c.brightness_factor},
        {"brightness_factor_eval", c.brightness_factor_eval},
        {"clean_test", c.clean_test},
        {"dir", c.data_dir}}},
      {"model",
       {{"variant", c.model.variant}, {"hidden_layer_width", c.model.width}, {"num_layers", c.model.num_layers},
        {"device", device_name(c.model.device)}}},
      {"opt",
       {{"algorithm", algorithm_name(c.opt.algorithm)}, {"lr", c.opt.lr},
        {"inhib_lrs", {{"wix", c.opt.lr_wix}, {"wei", c.opt.lr_wei}}}, {"momentum", c.opt.momentum},
        {"inhib_momentum", c.opt.inhib_momentum}, {"wd", c.opt.wd}, {"nesterov", c.opt.nesterov},
        {"lambda_homeo", c.model.lambda_homeo}, {"lambda_homeo_var", c.model.lambda_homeo_var}}},
      {"exp", {{"out", c.out}, {"ckpt", c.ckpt}, {"init", c.init}, {"run", c.run}, {"max_steps", c.max_steps}}},
  };
  add_non_default(j, c);
  return j;
}

std::string default_run_id(const TrainConfig& c) {
  return fmt::format("{}-eps{}-seed{}", c.model.variant, c.brightness_factor, c.seed);
}

// ---------------------------------------------------------------------------------------------
// Output: whole-line appends and atomic checkpoints

// Appends one line with a single write(2), so a crash leaves either the whole record or none.
// A torn last line left by an earlier crash is closed with a newline first, so it stays one
// (skippable) bad line instead of corrupting the new record.
void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(fmt::format("{}: cannot open for appending ({})", path, std::strerror(errno)));
  std::string l = line + "\n";
  struct stat st {};
  char last = '\n';
  if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
    l = "\n" + l;
  const ssize_t w = ::write(fd, l.data(), l.size());
  const int err = errno;
  ::fsync(fd);
  ::close(fd);
  if (w != ssize_t(l.size()))
    throw InputError(fmt::format("{}: cannot append a record ({})", path, std::strerror(err)));
}

// A record cut short by a kill mid-append: the beginning of a JSON object whose text ends before
// the object does (a later append closes such a line with '\n', so it may sit mid-file).
static bool truncated_object(const std::string& line) {
  const size_t first = line.find_first_not_of(" \t");
  if (first == std::string::npos || line[first] != '{') return false;
  try {
    (void)json::parse(line);
  } catch (const json::parse_error& e) {
    return e.byte > line.size();  // failed only past the last character: the text ran out
  }
  return false;
}

// Two processes append to one records file (sweep shards): if one is killed mid-append after the
// other checked the file's last byte, the other's record lands on the torn line. The record is
// the longest tail of the line, starting at a '{', that is a whole JSON object after a prefix
// that is a truncated one; null when the line is not that.
static json record_after_torn_prefix(const std::string& line) {
  for (size_t at = line.find('{', 1); at != std::string::npos; at = line.find('{', at + 1)) {
    json r = json::parse(line.substr(at), nullptr, /*allow_exceptions=*/false);
    if (r.is_object() && truncated_object(line.substr(0, at))) return r;
  }
  return nullptr;
}

std::vector<json> read_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read ({})", path, std::strerror(errno)));
  std::vector<std::string> lines;
  bool terminated = true;  // whether the last line ends with '\n'
  for (std::string l; std::getline(in, l);) {
    terminated = !in.eof();
    lines.push_back(std::move(l));
  }
  std::vector<json> out;
  std::vector<size_t> torn, garbage;  // 1-based line numbers
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t\r") == std::string::npos) continue;
    json r = json::parse(lines[i], nullptr, /*allow_exceptions=*/false);
    if (!r.is_discarded() && r.is_object()) {
      out.push_back(std::move(r));
      continue;
    }
    const bool last_unterminated = i + 1 == lines.size() && !terminated;
    if (json glued = record_after_torn_prefix(lines[i]); !glued.is_null()) {
      torn.push_back(i + 1);  // a writer killed mid-append, then another's record on its line
      out.push_back(std::move(glued));
      continue;
    }
    (last_unterminated || truncated_object(lines[i]) ? torn : garbage).push_back(i + 1);
  }
  if (!garbage.empty())
    throw InputError(fmt::format("{}:{}: not a JSON record{}", path, garbage[0],
                                 garbage.size() > 1 ? fmt::format(" ({} such lines in all)", garbage.size()) : ""));
  if (!torn.empty()) {  // one warning per file, however many
    std::string more;
    for (size_t k = 1; k < torn.size() && k < 6; ++k) more += (k > 1 ? ", " : "") + std::to_string(torn[k]);
    if (torn.size() > 6) more += ", …";
    std::fprintf(stderr, "dale: warning: %s:%zu: skipping %s (cut short by an interrupted write)%s\n", path.c_str(),
                 torn[0], torn.size() > 1 ? fmt::format("{} torn records", torn.size()).c_str() : "a torn record",
                 more.empty() ? "" : fmt::format("; also lines {}", more).c_str());
  }
  return out;
}

std::vector<json> read_records_of(const std::string& path, const std::set<std::string>& runs) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read ({})", path, std::strerror(errno)));
  std::vector<std::string> quoted;
  for (const std::string& r : runs) quoted.push_back(json(r).dump());  // the id as JSON writes it
  std::vector<json> out;
  for (std::string l; std::getline(in, l);) {
    if (std::none_of(quoted.begin(), quoted.end(), [&](const std::string& q) { return l.find(q) != std::string::npos; }))
      continue;
    json r = json::parse(l, nullptr, /*allow_exceptions=*/false);
    if (!r.is_object()) r = record_after_torn_prefix(l);
    if (r.is_object() && r.contains("run") && r["run"].is_string() && runs.count(r["run"].get<std::string>()))
      out.push_back(std::move(r));
  }
  return out;
}

// The checkpoint: parameters (SPEC §12 names), optimizer state, and in the metadata the epoch
// and step it ends and the configuration — all that --exp.resume needs.
// (No wall time in it: the same run gives a byte-identical checkpoint.)
static void save(const Network& net, const Optimizer& opt, const TrainConfig& c, int64_t epoch,
                 int64_t step, bool partial) {
  if (c.ckpt.empty()) return;
  SafetensorsFile f = net.state();
  opt.save_state(f);
  f.metadata["epoch"] = std::to_string(epoch);
  f.metadata["step"] = std::to_string(step);
  f.metadata["partial_epoch"] = std::to_string(int(partial));
  f.metadata["run"] = c.run;
  f.metadata["config"] = to_json(c).dump();
  try {
    write_safetensors(c.ckpt, f);
  } catch (const WriteError& e) {  // a failed write leaves the old file as it was: say which it is
    // `epoch` is the last finished one; a partial (mid-epoch) save follows that epoch's own.
    const int64_t kept = partial ? epoch : epoch - 1;
    throw InputError(fmt::format("{}; {}", e.what(),
                                 e.replaced    ? fmt::format("{} holds epoch {}{}", c.ckpt, epoch, partial ? " (mid-epoch)" : "")
                                 : kept >= 1   ? fmt::format("the checkpoint of epoch {} in {} is intact", kept, c.ckpt)
                                               : std::string("no checkpoint of this run had been written")));
  }
}

// What must match for a checkpoint to continue this run: everything but the output paths and
// the number of epochs (a run may be extended).
static json resumable_part(json config) {
  config.erase("exp");
  if (config.contains("train")) config["train"].erase("epochs");
  if (config.contains("data")) config["data"].erase("dir");  // the data may move (as for run_identity)
  return config.flatten();
}

json run_identity(json config) {
  for (const char* k : {"out", "ckpt", "init"})
    if (config.contains("exp")) config["exp"].erase(k);
  if (config.contains("data")) config["data"].erase("dir");
  return config.flatten();
}

std::string config_difference(const json& here, const json& there) {
  auto flag = [](const std::string& pointer) {  // JSON pointer "/opt/lr" → flag name "opt.lr"
    std::string key = pointer.substr(1);
    std::replace(key.begin(), key.end(), '/', '.');
    return key;
  };
  for (auto it = here.begin(); it != here.end(); ++it)
    if (!there.contains(it.key()) || there[it.key()] != it.value())
      return fmt::format("{} is {} there, {} here", flag(it.key()),
                         there.contains(it.key()) ? there[it.key()].dump() : "missing", it.value().dump());
  for (auto it = there.begin(); it != there.end(); ++it)
    if (!here.contains(it.key())) return fmt::format("{} is {} there, missing here", flag(it.key()), it.value().dump());
  return "";
}

struct ResumePoint {
  int64_t epoch = 0, step = 0;
};

// What --exp.out already holds of a resumed run: the epochs recorded (a kill between a record's
// append and its checkpoint's rename — or before the first checkpoint — retrains those epochs,
// bit-identically, and must not record them again: one record per run and epoch) and each one's
// elapsed_s (the run's clock continues from its checkpoint's epoch).
struct RunRecords {
  std::map<int64_t, double> elapsed;  // epoch → elapsed_s
  json config;                        // its first record's config
};
static std::map<std::string, RunRecords> records_by_run(const std::string& out, const std::set<std::string>& runs) {
  std::map<std::string, RunRecords> m;
  if (out.empty() || !std::filesystem::is_regular_file(out)) return m;
  for (const json& rec : read_records_of(out, runs)) {
    RunRecords& r = m[rec["run"].get<std::string>()];
    if (r.elapsed.empty()) r.config = rec.value("config", json::object());
    r.elapsed[rec.value("epoch", int64_t(-1))] = rec.value("elapsed_s", 0.0);
  }
  return m;
}

static ResumePoint load_for_resume(const std::string& path, const TrainConfig& c, Network& net, Optimizer& opt) {
  const SafetensorsFile f = read_safetensors(path);
  auto meta = [&](const char* key) -> std::string {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end())
      throw InputError(fmt::format("--exp.resume: {} has no '{}' metadata (not a checkpoint written by dale train)", path, key));
    return it->second;
  };
  if (meta("partial_epoch") == "1")
    throw InputError(fmt::format("--exp.resume: {} was written mid-epoch (--exp.max_steps); resuming needs an end-of-epoch checkpoint", path));
  const json saved = json::parse(meta("config"), nullptr, false);
  if (saved.is_discarded()) throw InputError(fmt::format("--exp.resume: {}: its config metadata is not JSON", path));
  const std::string differs = config_difference(resumable_part(to_json(c)), resumable_part(saved));
  if (!differs.empty())
    throw InputError(fmt::format("--exp.resume: {} belongs to another configuration: {}", path, differs));
  net.load_state(f, path);  // the weights; it also checks the optimizer's tensors are finite
  opt.load_state(f, path);
  ResumePoint r;
  try {
    r.epoch = std::stoll(meta("epoch"));
    r.step = std::stoll(meta("step"));
  } catch (const std::invalid_argument&) {
    throw InputError(fmt::format("--exp.resume: {}: epoch/step metadata are not numbers", path));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

JitterSpec test_jitter(const TrainConfig& c) {
  if (c.clean_test) return JitterSpec{0.f, true, 0.f};
  if (c.brightness_factor_eval != 0.f) return JitterSpec{0.f, true, c.brightness_factor_eval};
  return JitterSpec{c.brightness_factor, false, 0.f};  // the study's default: jittered like training
}

EvalResult evaluate(Network& net, const DeviceDataset& d, const JitterSpec& j, uint64_t seed, uint32_t epoch,
                    int64_t batch) {
  NoGrad ng;
  DALE_RANGE("evaluate");
  EvalResult r;
  double correct = 0, loss = 0;
  const int64_t n = d.size();
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t B = std::min(batch, n - start);
    const Batch b = d.batch(*d.identity(), start, B, j, seed, epoch);
    Tensor logits = net.forward(b.x, false);
    correct += count_correct(logits, b.y).item();
    loss += double(cross_entropy(logits, b.y, 0.1f).item()) * double(B);
  }
  r.acc = 100.0 * correct / double(n);
  r.loss = loss / double(n);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Training

Tensor train_step(Network& net, Optimizer& opt, const Batch& batch) {
  Tensor logits = net.forward(batch.x, true);
  Tensor task = cross_entropy(logits, batch.y, 0.1f);
  Tensor local = net.local_loss();
  backward(local.defined() ? add(task, local) : task);
  step_all({&opt});  // one multi-tensor update of every parameter
  return task;
}

// One model of a (possibly one-model) ensemble run: its configuration, optimizer, evaluation
// keys, the epoch's loss sums on the device, and its summary.
struct Member {
  TrainConfig c;
  json config;
  Network* net = nullptr;
  std::unique_ptr<Optimizer> opt;
  TrainSummary s;
  double elapsed0 = 0;
  std::set<int64_t> recorded;  // epochs already in c.out (resumed runs): not appended again
  uint64_t eval_train_seed = 0, eval_test_seed = 0;
  JitterSpec train_jitter, test_jitter;
  std::shared_ptr<const DeviceBytes> order;   // this epoch's sample order
  Tensor task_acc;                            // Σ task loss since the epoch began (device)
  std::vector<Tensor> local_acc;              // Σ local loss per hidden layer (device)
  std::vector<double> local_sum;
  double loss_sum = 0;
  bool done = false;  // diverged and recorded: still stepped (lock step), no longer reported
  std::unique_ptr<GeometryProbe> geometry;    // --diag.geometry: the run's initial state
};

// The fields that must agree for models to share a step: everything that shapes the step
// sequence. Seeds, ε, rates, momenta, outputs may differ.
static void check_lock_step(const std::vector<TrainConfig>& cs) {
  const TrainConfig& a = cs.front();
  for (size_t k = 1; k < cs.size(); ++k) {
    const TrainConfig& b = cs[k];
    auto same = [&](const char* flag, bool ok) {
      if (!ok) throw InputError(fmt::format("{}: every model of an ensemble needs the same value (model {} differs)", flag, k));
    };
    same("--train.epochs", a.epochs == b.epochs);
    same("--train.batch_size", a.batch_size == b.batch_size);
    same("--exp.max_steps", a.max_steps == b.max_steps);
    same("--train.eval_batch", a.eval_batch == b.eval_batch);
    same("--model.device", a.model.device == b.model.device);
    same("--exp.resume", a.resume == b.resume);
    if (a.ckpt.empty() != b.ckpt.empty() || (!a.ckpt.empty() && a.ckpt == b.ckpt))
      throw InputError(fmt::format("--exp.ckpt: every model of an ensemble needs its own checkpoint path, or none "
                                   "(model {} differs)", k));
  }
}

// The first bytes of a regular file ("" if it is not one or is empty).
static std::string file_head(const std::string& path, size_t n) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return "";
  std::ifstream in(path, std::ios::binary);
  std::string head(n, '\0');
  in.read(head.data(), std::streamsize(n));
  head.resize(size_t(in.gcount()));
  return head;
}

// Records are appended: any path but a directory, in an existing directory; an existing regular
// file must be JSON Lines (appending records to a checkpoint, say, would ruin it).
static void check_appendable(const std::string& path, const char* flag) {
  if (path.empty()) return;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir))
    throw InputError(fmt::format("{}: directory '{}' of {} does not exist", flag, dir.string(), path));
  if (std::filesystem::is_directory(path)) throw InputError(fmt::format("{}: '{}' is a directory; expected a file", flag, path));
  const std::string head = file_head(path, 64);
  const size_t first = head.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && head[first] != '{')
    throw InputError(fmt::format("{}: {} exists and is not a JSON Lines file of records; dale appends only to those "
                                 "(is it another output, e.g. a checkpoint?)",
                                 flag, path));
}

// A checkpoint replaces only a checkpoint: an existing non-empty file must begin like a
// safetensors file (8-byte header length, then '{'), so records or an input given as --exp.ckpt
// are never overwritten.
static void check_checkpoint_target(const std::string& path, const char* flag) {
  if (path.empty()) return;
  check_replaceable(path, flag);
  const std::string head = file_head(path, 9);
  if (!head.empty() && (head.size() < 9 || head[8] != '{'))
    throw InputError(fmt::format("{}: {} exists and is not a safetensors checkpoint; dale replaces only those (is it "
                                 "another output, e.g. the records?)",
                                 flag, path));
}

// Before any work: no output is another output or an input; every output can be written (a
// read-only or full location is found now, not after an epoch); and, with lock_outputs, this
// process holds each output's lock (a second writer is refused, naming this one's pid).
static std::vector<OutputLock> claim_outputs(const std::vector<TrainConfig>& cs) {
  std::vector<PathUse> uses;
  std::set<std::string> outs;
  for (const TrainConfig& c : cs) {
    if (outs.insert(c.out).second) uses.push_back({"--exp.out", c.out, true});  // shared by an ensemble
    uses.push_back({"--exp.ckpt", c.ckpt, true});
    uses.push_back({"--exp.init", c.init, false});
  }
  check_distinct_paths(uses);
  std::vector<OutputLock> locks;
  auto regular_or_new = [](const std::string& p) {
    std::error_code ec;
    return !std::filesystem::exists(p, ec) || std::filesystem::is_regular_file(p, ec);
  };
  for (const TrainConfig& c : cs) {
    if (!c.ckpt.empty()) {
      check_writable(c.ckpt, "--exp.ckpt", true);
      if (c.lock_outputs) {
        locks.push_back(OutputLock::acquire(c.ckpt, "--exp.ckpt"));
        remove_stale_temps(c.ckpt);  // only the lock's holder may: no live writer owns them
      }
    }
    if (!c.out.empty() && outs.erase(c.out) && regular_or_new(c.out)) {
      check_writable(c.out, "--exp.out", false);
      if (c.lock_outputs) locks.push_back(OutputLock::acquire(c.out, "--exp.out"));
    }
  }
  return locks;
}

std::vector<TrainSummary> train_ensemble(const std::vector<TrainConfig>& configs, const FashionMNIST& data,
                                         const std::function<void(const json&)>& on_record) {
  DALE_CHECK(!configs.empty(), "train_ensemble: no models");
  std::vector<TrainConfig> cs = configs;
  for (TrainConfig& c : cs) {
    if (c.run.empty()) c.run = default_run_id(c);
    validate(c);
    check_appendable(c.out, "--exp.out");    // appended to: a FIFO or /dev/stdout is fine
    check_checkpoint_target(c.ckpt, "--exp.ckpt");  // renamed over: a new path or a checkpoint only
    c.model.inputs = data.train.dim;
    c.model.seed = c.seed;  // --train.seed seeds the initialization too, not only data order and jitter
  }
  check_lock_step(cs);
  const TrainConfig& c0 = cs.front();
  if (data.train.n == 0 || data.test.n == 0) throw InputError("dataset: the train or test set is empty");
  if (c0.batch_size > data.train.n)
    throw InputError(fmt::format("--train.batch_size: {} is larger than the training set ({} images)", c0.batch_size,
                                 data.train.n));

  const std::vector<OutputLock> locks = claim_outputs(cs);  // held until the run ends

  std::vector<NetworkConfig> net_cfgs;
  for (const TrainConfig& c : cs) net_cfgs.push_back(c.model);
  Ensemble ens(net_cfgs);
  const size_t K = ens.size();
  const Device dev = c0.model.device;
  // The data on the training device, copied once.
  const DeviceDataset train_set(data.train, dev), test_set(data.test, dev);
  std::vector<Member> ms(K);
  std::vector<Optimizer*> opts;
  for (size_t k = 0; k < K; ++k) {
    Member& m = ms[k];
    m.c = cs[k];
    m.net = &ens.model(k);
    if (!m.c.init.empty()) m.net->load_state(read_safetensors(m.c.init), m.c.init);
    if (m.c.geometry) {  // before a resumed checkpoint replaces the initial weights
      const int64_t nx = std::min<int64_t>(kCkaSamples, test_set.size());
      const Batch fixed = test_set.batch(*test_set.identity(), 0, nx, JitterSpec{0.f, true, 0.f}, 0, 0);
      m.geometry = std::make_unique<GeometryProbe>(*m.net, fixed.x);
    }
    m.opt = std::make_unique<Optimizer>(m.net->parameters(), m.c.opt);
    opts.push_back(m.opt.get());
    m.config = to_json(m.c);
  }
  auto summaries = [&] {
    std::vector<TrainSummary> out;
    for (Member& m : ms) out.push_back(m.s);
    return out;
  };

  int64_t first_epoch = 1, steps = 0;
  if (c0.resume) {
    std::set<std::string> ids;
    for (const Member& m : ms) ids.insert(m.c.run);
    const std::map<std::string, RunRecords> recorded = records_by_run(c0.out, ids);  // one scan for every model
    for (Member& m : ms)
      if (const auto it = recorded.find(m.c.run); it != recorded.end() && m.c.out == c0.out) {
        // As for the checkpoint: the same run, perhaps extended by more epochs.
        const std::string diff = config_difference(resumable_part(m.config), resumable_part(it->second.config));
        if (!diff.empty())
          throw InputError(fmt::format("--exp.resume: {} holds run {} of another configuration ({}); give another "
                                       "--exp.run or --exp.out",
                                       m.c.out, m.c.run, diff));
        for (const auto& [e, elapsed] : it->second.elapsed) m.recorded.insert(e);
      }
    if (c0.ckpt.empty()) throw InputError("--exp.resume: needs --exp.ckpt, the checkpoint to continue from and to keep writing");
    for (size_t k = 0; k < K; ++k) {
      Member& m = ms[k];
      int64_t epoch = 0, step = 0;
      if (std::filesystem::exists(m.c.ckpt)) {
        const ResumePoint r = load_for_resume(m.c.ckpt, m.c, *m.net, *m.opt);
        epoch = r.epoch, step = r.step;
        if (const auto it = recorded.find(m.c.run); it != recorded.end() && it->second.elapsed.count(epoch))
          m.elapsed0 = it->second.elapsed.at(epoch);
        m.s.epochs_done = m.s.resumed_from = r.epoch;
      }
      if (k == 0) first_epoch = epoch + 1, steps = step;
      if (epoch + 1 != first_epoch || step != steps)
        throw InputError(fmt::format("--exp.resume: {} ends at epoch {} but {} at epoch {}; models of an ensemble "
                                     "resume together (train them separately)",
                                     m.c.ckpt, epoch, ms[0].c.ckpt, first_epoch - 1));
    }
    for (Member& m : ms) m.s.steps = steps;
    if (first_epoch > c0.epochs) return summaries();  // already finished: nothing to do
  }
  ens.values_changed();  // checkpoints and --exp.init were loaded through the models' views
  if (c0.max_steps == 0) {  // the initial weights, for parity checks
    for (Member& m : ms) {
      save(*m.net, *m.opt, m.c, 0, 0, false);
      m.s.stopped_early = true;
    }
    return summaries();
  }

  const auto t0 = std::chrono::steady_clock::now();
  const auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const size_t L = ens.stack().hidden().size();
  for (Member& m : ms) {
    // Evaluation draws its own jitter: the train set under another key than training used, the
    // test set under a third, or a fixed shift when --data.brightness_factor_eval is given.
    m.eval_train_seed = m.c.seed + 0x9E3779B97F4A7C15ULL;
    m.eval_test_seed = m.c.seed + 2 * 0x9E3779B97F4A7C15ULL;
    m.train_jitter = JitterSpec{m.c.brightness_factor, false, 0.f};
    m.test_jitter = test_jitter(m.c);
    m.local_acc.assign(L, Tensor());
    m.local_sum.assign(L, 0.0);
  }

  // `what` says what became non-finite and where ("… at epoch 3, step 20").
  auto diverged_error = [&](const Member& m, const std::string& what, int64_t epoch) {
    // Only what this run writes is named as intact.
    const std::string kept = !m.c.out.empty() && !m.c.ckpt.empty() ? "the records and checkpoint"
                             : !m.c.out.empty()                    ? "the records"
                             : !m.c.ckpt.empty()                   ? "the checkpoint"
                                                                   : "";
    return Error(fmt::format("diverged: {}{} (global step {}); {}", K > 1 ? m.c.run + ": " : "", what, m.s.steps,
                             epoch <= 1    ? std::string("no epoch had finished")
                             : kept.empty() ? fmt::format("epoch {} had finished (nothing was saved: no --exp.out or --exp.ckpt)", epoch - 1)
                                            : fmt::format("{} of epoch {} are intact", kept, epoch - 1)),
                 kExitDiverged);
  };
  // One record per finished epoch (or per divergence, in sweeps); `final` marks a run's last.
  // Returns whether the run diverged (non-finite evaluation losses count too: the last update of
  // an epoch can break the weights after the step's loss was checked).
  const int64_t B = c0.batch_size, n = data.train.n;
  auto emit = [&](Member& m, int64_t epoch, int64_t steps_this_epoch, bool diverged, bool final) {
    const TrainConfig& c = m.c;
    Network& net = *m.net;
    const EvalResult tr = evaluate(net, train_set, m.train_jitter, m.eval_train_seed, uint32_t(epoch), c.eval_batch);
    const EvalResult te = evaluate(net, test_set, m.test_jitter, m.eval_test_seed, uint32_t(epoch), c.eval_batch);
    if (!diverged && !(std::isfinite(tr.loss) && std::isfinite(te.loss))) {
      if (!c.record_divergence)
        throw diverged_error(m, fmt::format("the evaluation loss became non-finite after the updates of epoch {}", epoch),
                             epoch);
      diverged = final = true;
    }
    json local = json::object();
    double local_total = 0;
    for (size_t l = 0; l < m.local_sum.size(); ++l) {
      const double v = m.local_sum[l] / double(std::max<int64_t>(1, steps_this_epoch));
      local[net.hidden()[l]->name()] = v;
      local_total += v;
    }
    local["total"] = local_total;
    json rec = {{"run", c.run},
                {"variant", c.model.variant},
                {"eps", c.brightness_factor},
                {"width", net.width},
                {"seed", c.seed},
                {"config_id", c.config_id ? json(*c.config_id) : json(nullptr)},
                {"epoch", epoch},
                {"step", m.s.steps},
                {"train_acc", tr.acc},
                {"train_loss", tr.loss},
                {"test_acc", te.acc},
                {"test_loss", te.loss},
                {"local_loss", local},
                {"task_loss_running", m.loss_sum / double(std::max<int64_t>(1, steps_this_epoch))},
                {"elapsed_s", m.elapsed0 + wall()},
                {"diverged", diverged},
                {"final", final}};
    if (c.diagnostics && !diverged) {
      // The study's measurements are read off its last training batch of the epoch (after the
      // epoch's updates): the same images and jitter this model just trained on.
      const int64_t start = (steps_this_epoch - 1) * B;
      const Batch last = train_set.batch(*m.order, start, std::min(B, n - start), m.train_jitter, c.seed, uint32_t(epoch));
      const Diagnostics d = diagnose(net, last.x, last.y);
      rec["mu"] = d.mu;
      rec["var"] = d.var;
      rec["out_cos"] = d.out_cos;
      rec["grad_cos"] = d.grad_cos;
      rec["err_eig"] = d.err_eig;
      rec["local_ln_mse"] = d.local_ln_mse;
    }
    if (m.geometry && !diverged) rec["geometry"] = m.geometry->measure(net, epoch == 1);
    rec["config"] = m.config;
    if (!c.out.empty() && !m.recorded.count(epoch)) {
      try {
        append_line(c.out, rec.dump(-1, ' ', false, json::error_handler_t::replace));
      } catch (const InputError& e) {
        throw InputError(fmt::format("{}; the records of the epochs before {} are intact{}", e.what(), epoch,
                                     c.ckpt.empty() ? "" : fmt::format(", and so is the checkpoint {}", c.ckpt)));
      }
    }
    if (!diverged) save(net, *m.opt, c, epoch, m.s.steps, false);
    m.s.final_test_acc = te.acc;
    if (on_record) on_record(rec);
    return diverged;
  };
  auto all_done = [&] { return std::all_of(ms.begin(), ms.end(), [](const Member& m) { return m.done; }); };

  const int64_t steps_per_epoch = (n + B - 1) / B;
  const Backend& be = backend(dev);
  // acc += v[i] in place: no op, no allocation (the sums are allocated at each epoch's start, so a
  // recorded step adds into them rather than creating them).
  auto accumulate = [&](Tensor& acc, const Tensor& v, size_t i) {
    be.map(MapOp::Copy, 1, v.data() + i, nullptr, nullptr, 0.f, 1.f, acc.data());
  };
  // On CUDA the step is recorded once per epoch as a graph and replayed (framework/step_graph.h);
  // each model's batch comes from its device cursor, so a replay fetches the next one.
  StepGraph graph(dev, c0.cuda_graph, opts);
  std::vector<std::unique_ptr<BatchCursor>> cursors;
  for (size_t j = 0; j < K; ++j) cursors.push_back(std::make_unique<BatchCursor>(dev));

  for (int64_t epoch = first_epoch; epoch <= c0.epochs; ++epoch) {
    graph.reset();  // before the buffers it recorded (order, loss sums) are replaced
    for (auto& cursor : cursors) cursor->set(0);
    for (Member& m : ms) {
      m.order = train_set.upload_order(epoch_order(n, m.c.shuffle, m.c.seed, uint32_t(epoch)));
      m.loss_sum = 0;
      m.task_acc = Tensor::zeros({1}, dev);
      m.local_acc.clear();
      for (size_t l = 0; l < L; ++l) m.local_acc.push_back(Tensor::zeros({1}, dev));
      m.local_sum.assign(L, 0.0);
    }
    std::vector<BatchSource> sources;  // each model's own batches: its order, jitter and seed
    for (size_t j = 0; j < K; ++j)
      sources.push_back({ms[j].order.get(), cursors[j].get(), ms[j].train_jitter, ms[j].c.seed});
    double last_progress = wall();
    const double epoch_t0 = last_progress;
    // The epoch's loss sums stay on the device and are read only at the logging interval (every
    // kReadEvery steps, for the progress line, and at the epoch's end): reading a GPU scalar
    // waits for every queued kernel, so a read per step would serialize host and device.
    constexpr int64_t kReadEvery = 100;
    int64_t steps_this_epoch = 0, last_read = 0;
    for (int64_t k = 0; k < steps_per_epoch; ++k) {
      DALE_RANGE("step");
      const int64_t Bk = std::min(B, n - k * B);
      if (Bk != B) graph.reset();  // the epoch's short last batch: other shapes, run eagerly
      graph.run([&] {
        const Batch batch = next_stacked_batch(train_set, sources, Bk, uint32_t(epoch));
        const Tensor task = ens.train_step(opts, batch.x, batch.y);
        const auto locals = ens.stack().local_losses();
        for (size_t j = 0; j < K; ++j) {
          accumulate(ms[j].task_acc, task, j);
          for (size_t l = 0; l < L; ++l)
            if (locals[l].defined()) accumulate(ms[j].local_acc[l], locals[l], j);
        }
      });
      ++steps_this_epoch;
      for (Member& m : ms) ++m.s.steps;

      const int64_t step_no = ms[0].s.steps;
      const bool stop = c0.max_steps > 0 && step_no >= c0.max_steps;
      const bool show = c0.progress && wall() - last_progress > 0.5;
      if (!(show || stop || (k + 1) % kReadEvery == 0 || k + 1 == steps_per_epoch)) continue;

      // The task loss, and every local loss (they alone train Wix and Bix), must stay finite;
      // a NaN or infinity in any step since the last read shows in the sum.
      for (Member& m : ms) {
        if (m.done) continue;
        m.loss_sum = m.task_acc.item();
        std::string what = std::isfinite(m.loss_sum) ? "" : "the task loss";
        for (size_t l = 0; l < L; ++l) {
          m.local_sum[l] = m.local_acc[l].item();
          if (!std::isfinite(m.local_sum[l]) && what.empty()) what = "the local loss of " + m.net->hidden()[l]->name();
        }
        if (what.empty()) continue;
        if (!m.c.record_divergence)
          throw diverged_error(m, fmt::format("{} became non-finite at epoch {}, between steps {} and {}", what, epoch,
                                              last_read + 1, k + 1),
                               epoch);
        emit(m, epoch, steps_this_epoch, true, true);
        m.s.diverged = m.done = true;
      }
      if (all_done()) return summaries();
      last_read = k + 1;

      if (show) {
        last_progress = wall();
        std::fprintf(stderr, "\r[%s%s] epoch %lld/%lld  step %lld/%lld  %.0f samples/s  loss %.4f   ",
                     c0.model.variant.c_str(), K > 1 ? fmt::format(" ×{}", K).c_str() : "", (long long)epoch,
                     (long long)c0.epochs, (long long)(k + 1), (long long)steps_per_epoch,
                     double((k + 1) * B * int64_t(K)) / (last_progress - epoch_t0),
                     ms[0].loss_sum / double(k + 1));
        std::fflush(stderr);
      }
      if (stop) break;
    }
    if (c0.progress) std::fprintf(stderr, "\r%100s\r", "");
    const int64_t step_no = ms[0].s.steps;
    if (c0.max_steps > 0 && step_no >= c0.max_steps && steps_this_epoch < steps_per_epoch) {
      for (Member& m : ms) {  // a partial epoch: checkpoint, no record
        if (!m.done) save(*m.net, *m.opt, m.c, epoch - 1, m.s.steps, true);
        m.s.stopped_early = true;
      }
      return summaries();
    }

    const bool last = epoch == c0.epochs || (c0.max_steps > 0 && step_no >= c0.max_steps);
    for (Member& m : ms) {
      if (m.done) continue;
      if (emit(m, epoch, steps_this_epoch, false, last)) {
        m.s.diverged = m.done = true;
        continue;
      }
      m.s.epochs_done = epoch;
      if (c0.max_steps > 0 && step_no >= c0.max_steps) m.s.stopped_early = epoch < c0.epochs;
    }
    if (all_done() || (c0.max_steps > 0 && step_no >= c0.max_steps)) return summaries();
  }
  return summaries();
}

TrainSummary train(const TrainConfig& c, const FashionMNIST& data, const std::function<void(const json&)>& on_record) {
  return train_ensemble({c}, data, on_record)[0];
}

}  // namespace dale
