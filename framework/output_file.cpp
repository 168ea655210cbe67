// Output files (see output_file.h).
#include "framework/output_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "framework/check.h"

namespace dale {

namespace fs = std::filesystem;

namespace {

std::string dir_of(const std::string& path) {
  const std::string d = fs::path(path).parent_path().string();
  return d.empty() ? "." : d;
}

// <path>.tmp.<pid>.<n>: never the name another process or another call of this one uses.
std::string temp_path_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
}

// What lstat says about an existing path that may not be replaced; "" when it may.
std::string why_not_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? "" : std::strerror(errno);
  if (S_ISREG(st.st_mode)) return "";
  if (S_ISLNK(st.st_mode)) return "is a symbolic link";
  if (S_ISDIR(st.st_mode)) return "is a directory";
  if (S_ISFIFO(st.st_mode)) return "is a FIFO";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "is a device node";
  if (S_ISSOCK(st.st_mode)) return "is a socket";
  return "is not a regular file";
}

[[noreturn]] void refuse_replace(const std::string& flag, const std::string& path, const std::string& why) {
  throw InputError(fmt::format("{}: '{}' {}; dale replaces only regular files (or writes a new path)", flag, path, why));
}

}  // namespace

bool write_all(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t put = ::write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) {
      if (put == 0) errno = EIO;
      return false;
    }
    p += put, n -= size_t(put);
  }
  return true;
}

void check_replaceable(const std::string& path, const std::string& flag) {
  if (path.empty()) return;
  const std::string dir = dir_of(path);
  if (!fs::is_directory(dir))
    throw InputError(fmt::format("{}: directory '{}' of {} does not exist", flag, dir, path));
  const std::string why = why_not_replaceable(path);
  if (!why.empty()) refuse_replace(flag, path, why);
}

void check_writable(const std::string& path, const std::string& flag, bool replaced) {
  if (path.empty()) return;
  // A probe written and synced beside the output: finds a read-only or full file system and a
  // directory without write permission (for root too, unlike access(2)). O_TMPFILE has no name,
  // so a kill during the probe leaves nothing; file systems without it get a named probe.
  const std::string dir = dir_of(path);
  std::string named;
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    named = temp_path_for(path);
    fd = ::open(named.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) throw InputError(fmt::format("{}: cannot write {} (directory '{}': {})", flag, path, dir, std::strerror(errno)));
  static const char block[4096] = {};
  const bool ok = write_all(fd, block, sizeof block) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!named.empty()) ::unlink(named.c_str());
  if (!ok) throw InputError(fmt::format("{}: cannot write {} (directory '{}': {})", flag, path, dir, std::strerror(err)));
  if (!replaced && fs::exists(path)) {  // appended to: the file itself must take writes
    const int f = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (f < 0) throw InputError(fmt::format("{}: cannot append to {} ({})", flag, path, std::strerror(errno)));
    ::close(f);
  }
}

void write_file_atomically(const std::string& path, const std::function<bool(int fd)>& body,
                           const std::string& what) {
  const std::string tmp = temp_path_for(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  auto fail = [&](const char* step) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw WriteError(fmt::format("{}: cannot write ({}: {})", what, step, why), false);
  };
  if (fd < 0) fail("create a temporary file");
  if (!body(fd)) fail("write");
  if (::fsync(fd) != 0) fail("fsync");
  const int closing = fd;
  fd = -1;
  if (::close(closing) != 0) fail("close");
  // Checked again at the last moment: whatever appeared at path since the command started.
  const std::string why = why_not_replaceable(path);
  if (!why.empty()) {
    ::unlink(tmp.c_str());
    throw InputError(fmt::format("{}: {} now; dale replaces only regular files (or writes a new path)", what, why));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename");
  // The rename is durable only once the directory is synced.
  const int d = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = d >= 0 && (::fsync(d) == 0 || errno == EINVAL);
  if (d >= 0) ::close(d);
  if (!synced)
    throw WriteError(fmt::format("{}: written, but cannot sync its directory ({})", what, std::strerror(errno)), true);
}

void remove_stale_temps(const std::string& path) {
  const std::string base = fs::path(path).filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(dir_of(path), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // This writer's names, and the fixed "<path>.tmp" / "<path>.tmp<pid>" of earlier versions.
    if (name.rfind(base + ".tmp", 0) != 0) continue;
    // Exactly ".tmp.<pid>.<n>", or the legacy ".tmp" and ".tmp<pid>": never a user's file such as
    // "<ckpt>.tmp.jsonl".
    const std::string rest = name.substr(base.size() + 4);
    auto digits = [](const std::string& t) { return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos; };
    const size_t dot = rest.find('.', 1);
    const bool ours = rest.size() > 1 && rest[0] == '.' && dot != std::string::npos &&
                      digits(rest.substr(1, dot - 1)) && digits(rest.substr(dot + 1));
    if (!(rest.empty() || digits(rest) || ours)) continue;
    std::error_code rm;
    if (it->is_regular_file(rm)) fs::remove(it->path(), rm);
  }
}

// ---------------------------------------------------------------------------------------------
// Locks

std::optional<OutputLock> OutputLock::try_acquire(const std::string& path) {
  const std::string lock_path = path + ".lock";
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      throw InputError(fmt::format("{}: cannot create the lock file {} ({})", path, lock_path, std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return std::nullopt;
      throw InputError(fmt::format("{}: cannot lock {} ({})", path, lock_path, std::strerror(err)));
    }
    // The holder removes the lock file before releasing it: a file we opened before that removal
    // is no longer the lock. Locked the file that is at the path now?
    struct stat mine {}, there {};
    if (::fstat(fd, &mine) == 0 && ::stat(lock_path.c_str(), &there) == 0 && mine.st_ino == there.st_ino &&
        mine.st_dev == there.st_dev) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
        // The lock holds without the pid; only the refusal message of another writer is poorer.
      }
      return OutputLock(fd, lock_path);
    }
    ::close(fd);
  }
  throw InputError(fmt::format("{}: cannot lock {} (it keeps being replaced)", path, lock_path));
}

OutputLock OutputLock::acquire(const std::string& path, const std::string& flag) {
  if (std::optional<OutputLock> l = try_acquire(path)) return std::move(*l);
  const long pid = holder(path);
  throw InputError(fmt::format("{}: {} is being written by another process ({}); wait for it or choose another path",
                               flag, path, pid > 0 ? fmt::format("pid {}", pid) : "pid unknown"));
}

long OutputLock::holder(const std::string& path) {
  char buf[32] = {};
  const int fd = ::open((path + ".lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::strtol(buf, nullptr, 10) : 0;
}

void OutputLock::release() {
  if (fd_ < 0) return;
  ::unlink(lock_path_.c_str());  // while still holding it (see try_acquire)
  ::close(fd_);
  fd_ = -1;
}

OutputLock& OutputLock::operator=(OutputLock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    lock_path_ = std::move(o.lock_path_);
    o.fd_ = -1;
  }
  return *this;
}

OutputLock::~OutputLock() { release(); }

// ---------------------------------------------------------------------------------------------
// Paths against each other

void check_distinct_paths(const std::vector<PathUse>& uses) {
  auto resolved = [](const std::string& p) {
    std::error_code ec;
    const fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::absolute(p).lexically_normal() : r;
  };
  for (size_t j = 0; j < uses.size(); ++j)
    for (size_t i = 0; i < j; ++i) {
      const PathUse &a = uses[i], &b = uses[j];
      if (a.path.empty() || b.path.empty() || (!a.output && !b.output)) continue;
      std::error_code ec;
      const bool same = resolved(a.path) == resolved(b.path) || fs::equivalent(a.path, b.path, ec);
      if (!same) continue;
      const PathUse& out = b.output ? b : a;
      const PathUse& other = b.output ? a : b;
      throw InputError(fmt::format("{}: '{}' is the same file as {} ('{}'); {} needs a path of its own", out.flag,
                                   out.path, other.flag, other.path, other.output ? "every output" : "an output"));
    }
}

}  // namespace dale
