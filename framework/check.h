// Errors and checks. Two kinds of failure, two exit codes:
//   InputError  (exit 2) — the user gave something wrong: a file, a flag, a shape through the API.
//   Error       (exit 1) — dale itself or its caller broke an invariant.
// Both carry one line that says what was expected; `dale` prints it and exits with `code`.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace dale {

enum ExitCode : int { kExitOk = 0, kExitInternal = 1, kExitInput = 2, kExitDiverged = 3 };

struct Error : std::runtime_error {
  int code;
  explicit Error(const std::string& msg, int code_ = kExitInternal) : std::runtime_error(msg), code(code_) {}
};
struct InputError : Error {
  explicit InputError(const std::string& msg) : Error(msg, kExitInput) {}
};

}  // namespace dale

// DALE_CHECK(cond, "fmt", args...): throws dale::Error naming the expression, file and line.
#define DALE_CHECK(cond, ...)                                                                   \
  do {                                                                                         \
    if (!(cond))                                                                               \
      throw ::dale::Error(::fmt::format("{}:{}: check `{}` failed: {}", __FILE__, __LINE__,    \
                                        #cond, ::fmt::format(__VA_ARGS__)));                   \
  } while (0)
