// Output files of the dale commands (reports, benchmark JSON): written beside the path and
// renamed over it, so a reader never sees half a file and a failure leaves none; only a regular
// file (or a new path) is replaced (framework/output_file.h). Commands check their output with
// check_replaceable before any work.
#pragma once
#include <string>

namespace dale::cli {

// Throws InputError "<flag>: <path>: cannot write (reason)"; the temporary file is removed.
void write_atomically(const std::string& path, const std::string& text, const char* flag);

}  // namespace dale::cli
