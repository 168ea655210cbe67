// The config-file reader (tools/dale/config_file.cpp, compiled into this test, with toml++
// header-only) on its own: the exact arguments a TOML file becomes, floats that convert exactly
// as the same digits typed on the command line, and the refusals with file:line:column, the
// size and line caps at their boundaries, and files that are not regular (a FIFO must not
// block). The `dale` executable's side of it is in test_bad_input.cpp.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "tests/testing.h"
#include "tools/dale/config_file.cpp"

using dale::cli::config_to_args;
using dale::cli::kMaxConfigBytes;
using dale::cli::kMaxConfigLineBytes;
using dale::test::TempDir;
using dale::test::write_text;

namespace {

using Args = std::vector<std::string>;

// A subcommand shaped like dale's: dotted options (a float, a double, integers, strings, one
// with an alias), a flag, a LO HI pair, a comma list, and --config itself.
struct Sub {
  CLI::App app{"test"};
  CLI::App* sub = app.add_subcommand("train");
  float lr = 0, wix = 0;
  double eps_value = 0;
  std::string epochs, variant, device, dir, run;
  bool quiet = false;
  std::vector<double> range;
  std::vector<std::string> variants;
  std::string config;
  Sub() {
    sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    sub->add_option("--config", config);
    sub->add_option("--opt.lr", lr);
    sub->add_option("--opt.inhib_lrs.wix", wix);
    sub->add_option("--data.brightness_factor", eps_value);
    sub->add_option("--train.epochs", epochs);
    sub->add_option("--model.variant", variant);
    sub->add_option("--model.device,--device", device);
    sub->add_option("--data.dir", dir);
    sub->add_option("--exp.run", run);
    sub->add_flag("--quiet", quiet);
    sub->add_option("--sweep.lr_range", range)->expected(2);
    sub->add_option("--variants", variants)->delimiter(',');
  }
  // Parses `args` after the subcommand, as main() does (CLI11 wants them reversed).
  void parse(Args args) {
    args.insert(args.begin(), "train");
    std::reverse(args.begin(), args.end());
    app.clear();
    app.parse(args);
  }
};

struct Files {
  TempDir tmp;
  int n = 0;
  std::string operator()(const std::string& text) {
    const std::string p = tmp / ("c" + std::to_string(n++) + ".toml");
    write_text(p, text);
    return p;
  }
};

Args args_of(const std::string& text) {
  static Files files;
  Sub s;
  return config_to_args(files(text), *s.sub);
}

// The message config_to_args throws for `path`, which must be an InputError.
std::string refusal(const std::string& path) {
  Sub s;
  try {
    config_to_args(path, *s.sub);
  } catch (const dale::InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

// Checks that `text` is refused with one line holding the file and each of `needles`; needles
// starting with ':' follow the file's name (":3:7" → "<file>:3:7").
void check_refused(const std::string& text, std::initializer_list<std::string> needles) {
  static Files files;
  const std::string path = files(text);
  const std::string msg = refusal(path);
  INFO("file:\n" << text.substr(0, 300) << "\nmessage: " << msg);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.rfind("--config " + path, 0) == 0);
  for (const std::string& n : needles) {
    const std::string want = n.rfind(":", 0) == 0 ? path + n : n;
    CHECK_MESSAGE(msg.find(want) != std::string::npos, "expected it to name " << want);
  }
}

}  // namespace

TEST_CASE("config file: tables, dotted keys and inline tables become the dotted flags, in file order") {
  CHECK(args_of("[train]\nepochs = 3\n") == Args{"--train.epochs=3"});
  CHECK(args_of("[opt.inhib_lrs]\nwix = 0.1\n[opt]\nlr = 0.005\n") ==
        Args{"--opt.inhib_lrs.wix=0.1", "--opt.lr=0.005"});
  CHECK(args_of("opt.inhib_lrs.wix = 0.1\nmodel = { variant = 'ei' }\n") ==
        Args{"--opt.inhib_lrs.wix=0.1", "--model.variant=ei"});
  CHECK(args_of("[opt]\ninhib_lrs = { wix = 2 }\n[model]\n\"variant\" = 'ei'\n") ==
        Args{"--opt.inhib_lrs.wix=2", "--model.variant=ei"});
  CHECK(args_of("device = \"cuda\"\n") == Args{"--device=cuda"});  // an alias
  CHECK(args_of("").empty());
  CHECK(args_of("# nothing but comments\n\n[train]  # an empty table\n").empty());
}

TEST_CASE("config file: strings in every TOML form, a byte order mark, CRLF, comments") {
  CHECK(args_of("[model]\nvariant = 'ei'\n") == Args{"--model.variant=ei"});
  CHECK(args_of("[data]\ndir = 'C:\\data \"x\"'\n") == Args{"--data.dir=C:\\data \"x\""});
  CHECK(args_of("[data]\ndir = \"a\\tb\\u00e9 # not a comment\"  # a comment\n") ==
        Args{"--data.dir=a\tb\xC3\xA9 # not a comment"});
  CHECK(args_of("[model]\nvariant = \"\"\"\ninorm+\"\"\"\n") == Args{"--model.variant=inorm+"});
  CHECK(args_of("[model]\nvariant = \"\"\"ei-\\\n   ln+\"\"\"\n") == Args{"--model.variant=ei-ln+"});
  CHECK(args_of("[exp]\nrun = '''\nr'1'''\n") == Args{"--exp.run=r'1"});
  CHECK(args_of("\xEF\xBB\xBF[train]\r\nepochs = 2\r\n") == Args{"--train.epochs=2"});
  CHECK(args_of("\xEF\xBB\xBFopt.lr = 1_5e-4\n") == Args{"--opt.lr=15e-4"});  // digits found past the mark
  CHECK(args_of("[data]\ndir = \"--x\"\n") == Args{"--data.dir=--x"});  // one argument, not an option
}

TEST_CASE("config file: integers in decimal, booleans as 1/0, floats as written") {
  CHECK(args_of("[train]\nepochs = 1_000\n") == Args{"--train.epochs=1000"});
  CHECK(args_of("[train]\nepochs = +7\n") == Args{"--train.epochs=7"});
  CHECK(args_of("[train]\nepochs = -4\n") == Args{"--train.epochs=-4"});
  CHECK(args_of("[train]\nepochs = 0x1F\n") == Args{"--train.epochs=31"});
  CHECK(args_of("[train]\nepochs = 0o17\n") == Args{"--train.epochs=15"});
  CHECK(args_of("[train]\nepochs = 0b101\n") == Args{"--train.epochs=5"});
  CHECK(args_of("quiet = true\n") == Args{"--quiet=1"});
  CHECK(args_of("quiet = false\n") == Args{"--quiet=0"});
  CHECK(args_of("[train]\nepochs = true\n") == Args{"--train.epochs=1"});  // dale's 0/1 options
  CHECK(args_of("[opt]\nlr = 0.0046948634644269184\n") == Args{"--opt.lr=0.0046948634644269184"});
  CHECK(args_of("[opt]\nlr = 1_0.5e-0_3\n") == Args{"--opt.lr=10.5e-03"});
  CHECK(args_of("[opt]\nlr = +1.5E3\n") == Args{"--opt.lr=1.5E3"});
  CHECK(args_of("[opt]\nlr = 1e-400\n") == Args{"--opt.lr=1e-400"});  // for the option to refuse
  CHECK(args_of("[opt]\nlr = nan\n") == Args{"--opt.lr=nan"});
  CHECK(args_of("[opt]\nlr = -inf\n") == Args{"--opt.lr=-inf"});
  CHECK(args_of("[opt]\nlr = +inf\n") == Args{"--opt.lr=inf"});
  // Digits found after non-ASCII text on the line (columns count code points) and in arrays.
  CHECK(args_of("data = { dir = \"\xC3\xA9\xC3\xA9\", brightness_factor = 2.5e-1 }\n"
                "sweep = { lr_range = [ 1.5, 3_0.0 ] }\n") ==
        Args{"--data.dir=\xC3\xA9\xC3\xA9", "--data.brightness_factor=2.5e-1", "--sweep.lr_range", "1.5", "30.0"});
}

TEST_CASE("config file: a float from a file is the float typed on the command line") {
  // Decimal texts of 17 to 21 digits near float and double rounding boundaries: CLI11 reads
  // them through long double into float, so only the digits as written convert the same.
  std::mt19937_64 rng(16);
  std::vector<std::string> texts = {"0.0046948634644269184", "0.1", "1e-3", "3.4028234e38",
                                    "1.40129846432481707092e-45", "0.30000000000000004", "7.038531e-26",
                                    // 2^-60 below the midpoint of 1.0f and the next float: as double
                                    // exactly the midpoint, whose shortest text 1.0000000596046448
                                    // reads as 1.00000012f, but typed it reads as 1.0f.
                                    "1.000000059604644774523263262"};
  for (int i = 0; i < 300; ++i) {
    const double d = std::ldexp(double(rng() >> 11) / double(1ull << 53), int(rng() % 40) - 30);
    texts.push_back(fmt::format("{:.{}e}", d, 16 + int(rng() % 5)));
  }
  for (const std::string& t : texts) {
    INFO("lr = " << t);
    Sub file, line;
    const Args args = args_of("[opt]\nlr = " + t + "\n[data]\nbrightness_factor = " + t + "\n");
    file.parse(args);
    line.parse({"--opt.lr", t, "--data.brightness_factor", t});
    CHECK(std::memcmp(&file.lr, &line.lr, sizeof(float)) == 0);
    CHECK(std::memcmp(&file.eps_value, &line.eps_value, sizeof(double)) == 0);
  }
}

TEST_CASE("config file: lists and pairs") {
  CHECK(args_of("variants = [\"ei\", 'inorm+']\n") == Args{"--variants=ei,inorm+"});
  CHECK(args_of("variants = [\"ei\", 'inorm+',]\n") == Args{"--variants=ei,inorm+"});  // TOML's trailing comma
  CHECK(args_of("variants = \"ei, inorm+\"\n") == Args{"--variants=ei,inorm+"});
  CHECK(args_of("variants = [0.25, 5e-1]\n") == Args{"--variants=0.25,5e-1"});
  CHECK(args_of("variants = 'ei'\n") == Args{"--variants=ei"});
  CHECK(args_of("[sweep]\nlr_range = [1e-3, 1_0]\n") == Args{"--sweep.lr_range", "1e-3", "10"});
  CHECK(args_of("[sweep]\nlr_range = [\n  -1e-3,  # lo\n  2.0,\n]\n") == Args{"--sweep.lr_range", "-1e-3", "2.0"});
  Sub s;
  s.parse(args_of("variants = ['ei', 'inorm+']\n[sweep]\nlr_range = [-1e-3, 2]\n"));
  CHECK(s.range == std::vector<double>{-1e-3, 2});
  CHECK(s.variants == std::vector<std::string>{"ei", "inorm+"});
}

TEST_CASE("config file: TOML's refusals (duplicates, syntax) name file, line and column") {
  check_refused("[opt]\nlr = 0.1\nlr = 0.2\n", {":3:", "not valid TOML", "'lr'"});
  check_refused("[opt]\nlr = 0.1\n[model]\n[opt]\n", {":4:1", "'opt'"});
  check_refused("[opt]\nlr = 0.1\n[opt.lr]\n", {":3:1", "lr"});
  check_refused("opt.lr = 0.1\n[opt]\nlr = 2\n", {":2:", "not valid TOML"});
  check_refused("[train]\nepochs = 3x\n", {":2:11", "not valid TOML"});
  check_refused("[train\nepochs = 1\n", {":1:", "[section] headers and key = value lines"});
  check_refused("[train]\nepochs\n", {":2:", "key = value"});
  check_refused("[model]\nvariant = ei ; INI comment\n", {":2:11", "not valid TOML"});
  check_refused("[model]\nvariant = \"\xff\"\n", {":2:", "not valid TOML"});
}

TEST_CASE("config file: keys and values dale cannot take") {
  check_refused("[train]\nepoch = 3\n", {":2:1", "unknown key 'train.epoch'", "dale train"});
  check_refused("model = { varient = 'ei' }\n", {":1:11", "unknown key 'model.varient'"});
  check_refused("[opt.inhib_lrs]\nwixx = 0.1\n", {":2:1", "unknown key 'opt.inhib_lrs.wixx'"});
  check_refused("config = 'other.toml'\n", {":1:1", "unknown key 'config'"});
  check_refused("help = false\n", {":1:1", "unknown key 'help'"});  // not CLI11's --help
  check_refused("\"a\\nb\" = 1\n", {":1:1", "unknown key 'a\\x0ab'"});  // one line, whatever the key
  check_refused("[[opt]]\nlr = 1\n", {":1:3", "unknown key 'opt'"});
  check_refused("[" + std::string(300, 'a') + "]\nb = 1\n", {":1:", "unknown key 'aaaa", "…"});
  check_refused("device = 'cpu'\n[model]\ndevice = 'cuda'\n", {":3:1", "'model.device'", "'device' (line 1)"});
  check_refused("[train.epochs]\n", {":1:1", "'train.epochs' is a table"});
  check_refused("[exp]\nrun = ['a', 'b']\n", {":2:7", "'exp.run'", "one value"});
  check_refused("[exp]\nrun = 2024-05-27\n", {":2:7", "'exp.run'", "date or time"});
  check_refused("[exp]\nrun = 07:32:00\n", {":2:7", "date or time"});
  check_refused("[exp]\nrun = \"\"\n", {":2:7", "'exp.run' has no value"});
  check_refused("[exp]\nrun = \"\"\"a\nb\"\"\"\n", {":2:7", "control character (0x0a)", "one line"});
  check_refused("[exp]\nrun = \"a\\u0000b\"\n", {":2:7", "control character (0x00)"});
  check_refused("quiet = [true]\n", {":1:9", "'quiet' is a flag"});
  check_refused("[sweep]\nlr_range = [1, 2, 3]\n", {":2:12", "takes 2 values", "got 3"});
  check_refused("[sweep]\nlr_range = 1\n", {":2:12", "takes 2 values", "got one"});
  check_refused("[sweep]\nlr_range = [1, '++']\n", {":2:16", "'++' is not a number"});
  check_refused("[sweep]\nlr_range = [1, true]\n", {":2:16", "not a number"});
  check_refused("variants = ['ei', '']\n", {":1:12", "an empty item"});
  check_refused("variants = 'ei,,inorm+'\n", {":1:12", "an empty item"});
  check_refused("variants = []\n", {":1:12", "an empty list"});
  check_refused("variants = ['ei,inorm+']\n", {":1:13", "separator ','"});
  check_refused("variants = [['ei']]\n", {":1:13", "not a string or a number"});
  check_refused("variants = \"[, ]\"\n", {":1:12", "'[' holds a bracket"});  // CLI11 would read no items
  check_refused("variants = ['[ei', 'x]']\n", {":1:12", "holds a bracket"});    // … or "ei" and "x"
}

TEST_CASE("config file: only a regular text file within the caps is read") {
  Files files;
  SUBCASE("control bytes: a binary file") {
    check_refused(std::string("[train]\nepochs = 1\x00\n", 20), {":2:11", "not a text config file", "0x00"});
  }
  SUBCASE("the size cap: 1 MiB is read, one byte more is not") {
    std::string text = "[train]\nepochs = 2\n";
    while (text.size() + 64 < kMaxConfigBytes) text += "# " + std::string(61, 'c') + "\n";
    text += "#" + std::string(kMaxConfigBytes - text.size() - 2, 'c') + "\n";
    REQUIRE(text.size() == kMaxConfigBytes);
    CHECK(args_of(text) == Args{"--train.epochs=2"});
    check_refused(text + "\n", {"1048577 bytes is too large", "1048576 bytes (1 MiB)"});
  }
  SUBCASE("the line cap: 8192 bytes are read, 8193 are not") {
    const std::string at_cap = "#" + std::string(kMaxConfigLineBytes - 1, 'x');
    CHECK(args_of(at_cap + "\n[train]\nepochs = 2") == Args{"--train.epochs=2"});
    check_refused("[train]\n" + at_cap + "x\n", {":2:", "line 2 is too long", "8192 bytes"});
  }
  SUBCASE("a directory, a FIFO, /dev/zero, a missing file") {
    const std::string dir = files.tmp / "dir.toml";
    REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
    CHECK(refusal(dir) == "--config " + dir + ": a directory, not a regular file; expected a config file");
    const std::string fifo = files.tmp / "fifo.toml";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    ::alarm(60);  // a reader that opened the FIFO would block: fail loudly instead of hanging
    CHECK(refusal(fifo) == "--config " + fifo + ": a FIFO, not a regular file; expected a config file");
    ::alarm(0);
    CHECK(refusal("/dev/zero") == "--config /dev/zero: a character device, not a regular file; expected a config file");
    const std::string missing = files.tmp / "missing.toml";
    CHECK(refusal(missing) == "--config " + missing + ": cannot read it (No such file or directory)");
  }
}
