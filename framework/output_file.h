// The rules every file dale writes follows (README, "Robustness"):
// - An output replaced by rename (a checkpoint, a report, benchmark JSON) may only be a regular
//   file or a new path: a FIFO, a device node, a directory or a symbolic link is refused before
//   any work, and again just before the rename.
// - Temporary files are unique to the writing process (<path>.tmp.<pid>.<n>), so two writers never
//   remove each other's; the holder of an output's lock removes those that killed writers left.
// - A training process holds an exclusive lock (flock on <path>.lock, which names its pid) on its
//   checkpoint and records for as long as it writes them; another writer is refused, naming that
//   pid. (Reports and benchmark JSON are written once, whole, and take no lock.)
// - No output is another output or an input, after resolving links and relative paths.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "framework/check.h"

namespace dale {

// InputError "<flag>: …" unless `path` is a new path in an existing directory or a regular file.
void check_replaceable(const std::string& path, const std::string& flag);

// InputError "<flag>: cannot write in …" unless a file can be created and renamed in path's
// directory (and path, if it exists, is writable). Creates nothing that outlives the call.
void check_writable(const std::string& path, const std::string& flag, bool replaced);

// A failed write_file_atomically. `replaced`: the new content is already at path (only the sync
// of its directory failed, so the rename may not survive a crash); otherwise path is as it was.
struct WriteError : InputError {
  WriteError(const std::string& msg, bool replaced_) : InputError(msg), replaced(replaced_) {}
  bool replaced;
};

// Writes path whole: `body(fd)` fills a unique temporary file beside it (false = a write failed,
// errno set), which is fsynced and renamed over path, then the directory is synced. A failure
// throws InputError "<what>: cannot write (…)" and leaves path as it was and no temporary file.
void write_file_atomically(const std::string& path, const std::function<bool(int fd)>& body,
                           const std::string& what);
// write(2) until done; false on an error (errno set).
bool write_all(int fd, const void* data, size_t n);

// Removes <path>.tmp.* left by killed writers. Call only while holding path's OutputLock.
void remove_stale_temps(const std::string& path);

// An exclusive lock on an output for this object's lifetime (flock on <path>.lock, removed on
// release). Move-only.
class OutputLock {
 public:
  // Throws InputError "<flag>: <path> is being written by another process (pid N)" when held.
  static OutputLock acquire(const std::string& path, const std::string& flag);
  // nullopt when another process holds it (sweep shards skip such runs).
  static std::optional<OutputLock> try_acquire(const std::string& path);
  OutputLock(OutputLock&& o) noexcept : fd_(o.fd_), lock_path_(std::move(o.lock_path_)) { o.fd_ = -1; }
  OutputLock& operator=(OutputLock&& o) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();
  // The pid named in <path>.lock, or 0 when it cannot be read.
  static long holder(const std::string& path);

 private:
  OutputLock(int fd, std::string lock_path) : fd_(fd), lock_path_(std::move(lock_path)) {}
  void release();
  int fd_ = -1;
  std::string lock_path_;
};

// One path a command reads or writes, with the flag that named it.
struct PathUse {
  std::string flag, path;
  bool output = true;
};
// InputError "<flag b>: <path> is also <flag a> …" when an output is the same file as another
// output or an input (after resolving symbolic links and relative paths; empty paths ignored).
void check_distinct_paths(const std::vector<PathUse>& uses);

}  // namespace dale
