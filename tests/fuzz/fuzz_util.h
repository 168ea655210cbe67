// Helpers shared by the libFuzzer targets of tests/fuzz: the readers under test take a path, so
// each input is written to one scratch file per process (in /dev/shm when it exists, so that no
// iteration touches a disk), removed when the fuzzer exits.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace dale::fuzz {

// Paths handed out by scratch_path, removed at exit (never destroyed: atexit handlers use it).
inline std::vector<std::string>& scratch_paths() {
  static auto* paths = new std::vector<std::string>;
  return *paths;
}

// "/dev/shm/dale-fuzz-<pid>.<suffix>", or the same under /tmp; call once per suffix and keep it.
inline std::string scratch_path(const std::string& suffix) {
  if (scratch_paths().empty())
    std::atexit([] {
      for (const std::string& p : scratch_paths()) std::remove(p.c_str());
    });
  const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string p = std::string(dir) + "/dale-fuzz-" + std::to_string(::getpid()) + "." + suffix;
  scratch_paths().push_back(p);
  return p;
}

// Replaces the file at `path` with exactly these bytes; aborts (a harness bug) if it cannot.
inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

// A failed property: prints what broke and aborts, so libFuzzer saves the input as a crash.
[[noreturn]] inline void property_failed(const char* what) {
  std::fprintf(stderr, "dale fuzz: property failed: %s\n", what);
  std::abort();
}

}  // namespace dale::fuzz
