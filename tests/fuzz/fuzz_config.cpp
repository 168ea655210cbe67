// libFuzzer target: the config-file reader of `dale` (tools/dale/config_file.h) on hostile files.
//
// Each input is written to a scratch file and handed to config_to_args with a subcommand whose
// options are named like `dale train`'s; dale::InputError is the only acceptable failure. On
// success the result must be "--key", "value" pairs, each key an option of the subcommand (never
// --config) and each value non-empty.
// Usage: tools/fuzz [SECONDS] config
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "framework/check.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/dale/config_file.h"

using dale::fuzz::property_failed;

namespace {

// A stand-in for `dale train`: dotted options of each section, an alias, a flag and --config.
const CLI::App& subcommand() {
  static CLI::App* app = [] {
    auto* a = new CLI::App("dale fuzz");
    CLI::App* t = a->add_subcommand("train", "train one network");
    static int64_t epochs = 0, batch = 0;
    static double lr = 0, wix = 0, eps = 0;
    static std::string variant, device, dir, config;
    static bool quiet = false;
    t->add_option("--config", config);
    t->add_option("--train.epochs", epochs);
    t->add_option("--train.batch_size", batch);
    t->add_option("--model.variant", variant);
    t->add_option("--model.device,--device", device);
    t->add_option("--opt.lr", lr);
    t->add_option("--opt.inhib_lrs.wix", wix);
    t->add_option("--data.brightness_factor", eps);
    t->add_option("--data.dir", dir);
    t->add_flag("--quiet", quiet);
    return t;
  }();
  return *app;
}

const std::string& input_path() {
  static const std::string p = dale::fuzz::scratch_path("toml");
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dale::fuzz::write_file(input_path(), data, size);
  const CLI::App& sub = subcommand();
  std::vector<std::string> args;
  try {
    args = dale::cli::config_to_args(input_path(), sub);
  } catch (const dale::InputError&) {
    return 0;
  }
  if (args.size() % 2 != 0) property_failed("config_to_args: an odd number of arguments");
  for (size_t i = 0; i < args.size(); i += 2) {
    const std::string& key = args[i];
    if (key.rfind("--", 0) != 0) property_failed("config_to_args: a key without its --");
    if (sub.get_option_no_throw(key) == nullptr) property_failed("config_to_args: an unknown key");
    if (key == "--config") property_failed("config_to_args: a config file sets --config");
    if (args[i + 1].empty()) property_failed("config_to_args: an empty value");
  }
  return 0;
}
