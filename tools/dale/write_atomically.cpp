// Output files written whole (see write_atomically.h).
#include "tools/dale/write_atomically.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "framework/check.h"

namespace dale::cli {

void write_atomically(const std::string& path, const std::string& text, const char* flag) {
  const std::string tmp = fmt::format("{}.tmp{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(fmt::format("{}: cannot write {} ({})", flag, tmp, std::strerror(errno)));
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw InputError(fmt::format("{}: cannot write {}", flag, tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw InputError(fmt::format("{}: cannot write {} ({})", flag, path, std::strerror(err)));
  }
}

}  // namespace dale::cli
