// Output files written whole (see write_atomically.h).
#include "tools/dale/write_atomically.h"

#include "framework/check.h"
#include "framework/output_file.h"

namespace dale::cli {

void write_atomically(const std::string& path, const std::string& text, const char* flag) {
  write_file_atomically(path, [&](int fd) { return write_all(fd, text.data(), text.size()); },
                        fmt::format("{}: {}", flag, path));
}

}  // namespace dale::cli
