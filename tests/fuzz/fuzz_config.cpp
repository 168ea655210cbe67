// libFuzzer target: the config-file reader of `dale` (tools/dale/config_file.h) on hostile files.
//
// Each input is written to a scratch file and handed to config_to_args with a subcommand whose
// options are named and shaped like `dale train`'s and `dale sweep`'s (dotted single values, an
// alias, a flag, a LO HI pair, a comma list, --config); dale::InputError is the only acceptable
// failure. On success the arguments must be what main() can use: CLI11 parses them into this
// subcommand (its options hold strings, so any value converts), and the only parse errors
// allowed is the user's own: a non-boolean flag value (CLI11 takes a pair's or a list's items
// whatever they look like, so config_to_args must check their number itself).
// The same file then goes through expand_config as `dale train --config FILE --opt.lr cmdline`:
// the expansion must parse the same way and the command line's --opt.lr must win.
// Usage: tools/fuzz [SECONDS] config
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/check.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/dale/config_file.h"

using dale::fuzz::property_failed;

namespace {

std::string g_lr;  // --opt.lr after a parse

// The app, with subcommand "train" holding the stand-in options; built once, cleared per parse.
CLI::App& app() {
  static CLI::App* a = [] {
    auto* root = new CLI::App("dale fuzz");
    CLI::App* t = root->add_subcommand("train", "train one network");
    t->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // as dale's
    static std::string s[8];
    static std::vector<std::string> pair, list;
    static bool quiet = false;
    t->add_option("--config", s[0]);
    t->add_option("--train.epochs", s[1]);
    t->add_option("--train.batch_size", s[2]);
    t->add_option("--model.variant", s[3]);
    t->add_option("--model.device,--device", s[4]);
    t->add_option("--opt.lr", g_lr);
    t->add_option("--opt.inhib_lrs.wix", s[5]);
    t->add_option("--data.brightness_factor", s[6]);
    t->add_option("--data.dir", s[7]);
    t->add_option("--sweep.lr_range", pair)->expected(2);
    t->add_option("--variants", list)->delimiter(',');
    t->add_flag("--quiet", quiet);
    return root;
  }();
  return *a;
}

// Parses `args` (those after the subcommand) as main() does: reversed, after "train". False for
// the user's own errors; a failed property for any other parse error.
bool parse_or_die(const std::vector<std::string>& args, const char* who) {
  std::vector<std::string> argv{"train"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::reverse(argv.begin(), argv.end());
  app().clear();
  try {
    app().parse(argv);
    return true;
  } catch (const CLI::ConversionError&) {  // quiet = maybe
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dale fuzz: CLI11 rejects the arguments of %s: %s: %s\n", who, e.get_name().c_str(),
                 e.what());
    property_failed("arguments from a config file do not parse");
  }
  return false;
}

const std::string& input_path() {
  static const std::string p = dale::fuzz::scratch_path("toml");
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dale::fuzz::write_file(input_path(), data, size);
  CLI::App& root = app();
  const CLI::App& sub = *root.get_subcommand("train");
  std::vector<std::string> args;
  try {
    args = dale::cli::config_to_args(input_path(), sub);
  } catch (const dale::InputError&) {
    return 0;
  }
  if (!args.empty() && args[0].rfind("--", 0) != 0) property_failed("config_to_args: no --key first");
  for (const std::string& a : args)
    if (a.empty()) property_failed("config_to_args: an empty argument");
  parse_or_die(args, "config_to_args");

  // The whole path of main(): --config expanded in place, then a command-line value that wins.
  const std::string lr = "cmdline";
  std::vector<std::string> cmd{"dale", "train", "--config", input_path(), "--opt.lr", lr};
  std::vector<char*> argv;
  for (std::string& c : cmd) argv.push_back(c.data());
  std::vector<std::string> expanded;
  try {
    expanded = dale::cli::expand_config(int(argv.size()), argv.data(), root);
  } catch (const dale::InputError&) {
    property_failed("expand_config throws on a file config_to_args accepted");
  }
  if (expanded.size() < 2 || expanded[0] != "dale" || expanded[1] != "train")
    property_failed("expand_config: does not start with the program and the subcommand");
  expanded.erase(expanded.begin(), expanded.begin() + 2);
  if (parse_or_die(expanded, "expand_config") && g_lr != lr)
    property_failed("expand_config: the command line's --opt.lr does not win over the file");
  return 0;
}
