// IDX reader and writer (see idx.h). The byte source below hides plain-vs-gzip; the readers parse
// the header, bound the declared size by what the file can hold, read the body incrementally and
// insist that the data ends exactly where the header says it does.
#include "datasets/idx.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "framework/check.h"

namespace dale {
namespace {

constexpr uint32_t kMagicImages = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kMagicLabels = 0x00000801;  // unsigned bytes, 1 dimension
constexpr size_t kReadChunk = size_t(16) << 20;

uint32_t get_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// ---------------------------------------------------------------------------------------------
// The bytes of a file, decompressed when it starts with the gzip magic 1f 8b. Inflate is driven
// by hand (not gzread) because gzread silently ignores bytes after the last gzip member, and we
// want those reported as trailing garbage.
class IdxSource {
 public:
  explicit IdxSource(const std::string& path) : path_(path) {
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) throw InputError(fmt::format("{}: cannot open ({})", path, std::strerror(errno)));
    struct stat st {};
    if (fstat(fileno(f_), &st) != 0 || !S_ISREG(st.st_mode)) {
      std::fclose(f_);
      throw InputError(fmt::format("{}: not a regular file; expected an IDX file", path));
    }
    file_bytes_ = uint64_t(st.st_size);
    uint8_t head[2] = {0, 0};
    const size_t got = std::fread(head, 1, 2, f_);
    std::rewind(f_);
    gzip_ = got == 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (gzip_) {
      in_.resize(size_t(1) << 16);
      if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {  // 16+: gzip wrapper only
        std::fclose(f_);
        throw Error(fmt::format("{}: zlib inflateInit2 failed", path));
      }
    }
  }
  ~IdxSource() {
    if (gzip_) inflateEnd(&z_);
    std::fclose(f_);
  }
  IdxSource(const IdxSource&) = delete;
  IdxSource& operator=(const IdxSource&) = delete;

  bool gzip() const { return gzip_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // Most data bytes the file could yield: deflate expands at most ~1032:1, so a small .gz that
  // declares a large body is known to be truncated before anything is allocated.
  uint64_t capacity() const { return gzip_ ? file_bytes_ * 1032 + 1024 : file_bytes_; }

  // Reads up to n bytes; fewer only at the end of the data. Throws on I/O or gzip errors.
  size_t read(uint8_t* dst, size_t n) {
    if (!gzip_) {
      const size_t got = std::fread(dst, 1, n, f_);
      if (got < n && std::ferror(f_))
        throw InputError(fmt::format("{}: read error ({})", path_, std::strerror(errno)));
      return got;
    }
    return read_gzip(dst, n);
  }

 private:
  size_t read_gzip(uint8_t* dst, size_t n) {
    z_.next_out = dst;
    z_.avail_out = uInt(n);
    while (z_.avail_out > 0 && !done_) {
      if (z_.avail_in == 0) {
        const size_t got = std::fread(in_.data(), 1, in_.size(), f_);
        if (got == 0) {
          if (std::ferror(f_))
            throw InputError(fmt::format("{}: read error ({})", path_, std::strerror(errno)));
          if (in_member_)
            throw InputError(fmt::format(
                "{}: truncated: the gzip stream ends before its end-of-stream marker", path_));
          done_ = true;
          break;
        }
        z_.next_in = in_.data();
        z_.avail_in = uInt(got);
      }
      in_member_ = true;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {  // a member ended; another may follow (concatenated gzip)
        ++members_done_;
        in_member_ = false;
        inflateReset(&z_);
      } else if (rc == Z_DATA_ERROR) {
        if (members_done_ > 0 && z_.total_out == 0)
          throw InputError(fmt::format(
              "{}: trailing garbage after the gzip stream; expected the file to end there", path_));
        throw InputError(fmt::format("{}: corrupt gzip data ({}); expected a valid .gz file",
                                     path_, z_.msg ? z_.msg : "data error"));
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw Error(fmt::format("{}: zlib inflate failed with code {}", path_, rc));
      }
    }
    return n - z_.avail_out;
  }

  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t file_bytes_ = 0;
  bool gzip_ = false;
  z_stream z_{};
  std::vector<uint8_t> in_;
  int members_done_ = 0;
  bool in_member_ = false;  // inflate has consumed part of a member: end of file here = truncated
  bool done_ = false;
};

// Reads the magic and the dimensions; `kind` names the file type in messages.
std::vector<uint32_t> read_header(IdxSource& src, const std::string& path, uint32_t magic,
                                  int ndims, const char* kind) {
  const size_t bytes = 4 + 4 * size_t(ndims);
  uint8_t head[16];
  const size_t got = src.read(head, bytes);
  if (got < 4 || get_be32(head) != magic) {
    const std::string seen = got < 4 ? fmt::format("only {} bytes", got)
                                     : fmt::format("magic 0x{:08x}", get_be32(head));
    throw InputError(fmt::format("{}: not an IDX {} file: {}; expected magic 0x{:08x}", path,
                                 kind, seen, magic));
  }
  if (got < bytes)
    throw InputError(fmt::format("{}: truncated: {} header bytes; expected a {}-byte IDX {} header",
                                 path, got, bytes, kind));
  std::vector<uint32_t> dims(static_cast<size_t>(ndims));
  for (int d = 0; d < ndims; ++d) dims[size_t(d)] = get_be32(head + 4 + 4 * d);
  return dims;
}

// Reads exactly `declared` body bytes, growing the buffer only as data arrives, then requires the
// end of the data. `what` describes the header's claim for messages.
std::vector<uint8_t> read_body(IdxSource& src, const std::string& path, uint64_t header_bytes,
                               uint64_t declared, const std::string& what) {
  if (declared > src.capacity() - std::min(src.capacity(), header_bytes)) {
    if (src.gzip())
      throw InputError(fmt::format(
          "{}: truncated: header declares {} but a gzip file of {} bytes cannot hold that much",
          path, what, src.file_bytes()));
    throw InputError(fmt::format("{}: truncated: header declares {} but the file holds {} bytes",
                                 path, what, src.file_bytes() - header_bytes));
  }
  std::vector<uint8_t> body;
  uint64_t have = 0;
  while (have < declared) {
    const size_t want = size_t(std::min<uint64_t>(kReadChunk, declared - have));
    body.resize(size_t(have) + want);
    const size_t got = src.read(body.data() + have, want);
    have += got;
    if (got < want)
      throw InputError(fmt::format("{}: truncated: header declares {} but the file holds {} bytes",
                                   path, what, have));
  }
  uint8_t extra = 0;
  if (src.read(&extra, 1) != 0) {
    const std::string count =
        src.gzip() ? std::string("more bytes")
                   : fmt::format("{} more bytes", src.file_bytes() - header_bytes - declared);
    throw InputError(fmt::format("{}: trailing data: header declares {} but the file holds {}",
                                 path, what, count));
  }
  return body;
}

// Writes header + body to `path` through a temporary file in the same directory.
void write_idx(const std::string& path, const std::vector<uint8_t>& header,
               const std::vector<uint8_t>& body, bool gzip) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  bool ok = true;
  if (gzip) {
    gzFile g = gzopen(tmp.c_str(), "wb");
    if (!g) throw InputError(fmt::format("{}: cannot write ({})", tmp, std::strerror(errno)));
    ok = gzwrite(g, header.data(), unsigned(header.size())) == int(header.size());
    for (size_t at = 0; ok && at < body.size(); at += kReadChunk) {
      const unsigned len = unsigned(std::min(kReadChunk, body.size() - at));
      ok = gzwrite(g, body.data() + at, len) == int(len);
    }
    ok = (gzclose(g) == Z_OK) && ok;
  } else {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw InputError(fmt::format("{}: cannot write ({})", tmp, std::strerror(errno)));
    ok = std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
         std::fwrite(body.data(), 1, body.size(), f) == body.size();
    ok = (std::fclose(f) == 0) && ok;
  }
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    throw InputError(fmt::format("{}: cannot write the IDX file", path));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
IdxImages read_idx_images(const std::string& path) {
  IdxSource src(path);
  const auto dims = read_header(src, path, kMagicImages, 3, "image");
  IdxImages out;
  out.n = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  if (out.n < 1 || out.n > kIdxMaxCount || out.rows < 1 || out.rows > kIdxMaxSide ||
      out.cols < 1 || out.cols > kIdxMaxSide)
    throw InputError(fmt::format(
        "{}: header declares {} images of {}x{}; expected 1..{} images of at most {}x{} pixels",
        path, out.n, out.rows, out.cols, kIdxMaxCount, kIdxMaxSide, kIdxMaxSide));
  const uint64_t bytes = uint64_t(out.n) * uint64_t(out.rows) * uint64_t(out.cols);
  const std::string what =
      fmt::format("{} images of {}x{} ({} bytes)", out.n, out.rows, out.cols, bytes);
  out.pixels = read_body(src, path, 16, bytes, what);
  return out;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  IdxSource src(path);
  const auto dims = read_header(src, path, kMagicLabels, 1, "label");
  const int64_t n = dims[0];
  if (n < 1 || n > kIdxMaxCount)
    throw InputError(fmt::format("{}: header declares {} labels; expected 1..{}", path, n,
                                 kIdxMaxCount));
  return read_body(src, path, 8, uint64_t(n), fmt::format("{} labels", n));
}

void write_idx_images(const std::string& path, const IdxImages& images, bool gzip) {
  DALE_CHECK(images.n >= 1 && images.n <= kIdxMaxCount && images.rows >= 1 &&
                 images.rows <= kIdxMaxSide && images.cols >= 1 && images.cols <= kIdxMaxSide,
             "write_idx_images({}): bad shape {}x{}x{}", path, images.n, images.rows, images.cols);
  DALE_CHECK(images.pixels.size() == size_t(images.n * images.rows * images.cols),
             "write_idx_images({}): {} pixels for shape {}x{}x{}", path, images.pixels.size(),
             images.n, images.rows, images.cols);
  std::vector<uint8_t> header(16);
  put_be32(&header[0], kMagicImages);
  put_be32(&header[4], uint32_t(images.n));
  put_be32(&header[8], uint32_t(images.rows));
  put_be32(&header[12], uint32_t(images.cols));
  write_idx(path, header, images.pixels, gzip);
}

void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels, bool gzip) {
  DALE_CHECK(!labels.empty() && int64_t(labels.size()) <= kIdxMaxCount,
             "write_idx_labels({}): {} labels", path, labels.size());
  std::vector<uint8_t> header(8);
  put_be32(&header[0], kMagicLabels);
  put_be32(&header[4], uint32_t(labels.size()));
  write_idx(path, header, labels, gzip);
}

}  // namespace dale
