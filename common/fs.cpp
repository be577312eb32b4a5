#include "common/fs.h"

#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/error.h"

namespace electra::fs {
namespace stdfs = std::filesystem;

bool exists(const std::string& path) {
  std::error_code ec;
  return stdfs::exists(path, ec);
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return stdfs::is_directory(path, ec);
}

std::string read_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!stdfs::exists(path, ec)) throw_user(what, " file '", path, "' does not exist");
  if (stdfs::is_directory(path, ec))
    throw_user(what, " path '", path, "' is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_user("cannot open ", what, " file '", path, "': ", std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw_user("error reading ", what, " file '", path, "': ", std::strerror(errno));
  return data;
}

namespace {

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(cat("cannot write '", path, "': ", std::strerror(err),
                                   err == ENOSPC ? " (the disk is full: free space or choose "
                                                   "another output.dir)"
                                                 : ""));
    }
    off += static_cast<size_t>(n);
  }
}

void write_and_sync(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(cat("cannot create '", path, "': ", std::strerror(errno)));
  write_all(fd, data, path);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(cat("cannot fsync '", path, "': ", std::strerror(err)));
  }
  if (::close(fd) != 0)
    throw std::runtime_error(cat("cannot close '", path, "': ", std::strerror(errno)));
}

}  // namespace

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // best effort for paths that cannot be opened read-only
  ::fsync(fd);
  ::close(fd);
}

void write_file(const std::string& path, const std::string& data) {
  write_and_sync(path, data);
}

void write_file_atomic(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    write_and_sync(tmp, data);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(
        cat("cannot rename '", tmp, "' to '", path, "': ", std::strerror(err)));
  }
  const std::string parent = stdfs::path(path).parent_path().string();
  fsync_path(parent.empty() ? "." : parent);
}

void ensure_writable_dir(const std::string& path, const std::string& key) {
  ELECTRA_CHECK_USER(!path.empty(), key, " is empty: set it to a directory for the outputs");
  std::error_code ec;
  if (stdfs::exists(path, ec) && !stdfs::is_directory(path, ec))
    throw_user(key, " '", path, "' exists and is not a directory: choose another ", key);
  stdfs::create_directories(path, ec);
  if (ec)
    throw_user("cannot create ", key, " '", path, "': ", ec.message(), ". Choose a ", key,
               " you can write to");
  const std::string probe = join(path, ".write-probe-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw_user(key, " '", path, "' is not writable: ", std::strerror(errno), ". Choose a ", key,
               " you can write to");
  ::close(fd);
  ::unlink(probe.c_str());
}

namespace {

int remove_entry(const char* path, const struct stat* /*st*/, int type, struct FTW* /*ftw*/) {
  // FTW_DEPTH visits a directory (FTW_DP) after everything in it, so it is empty by then.
  const int rc = type == FTW_DP ? ::rmdir(path) : ::unlink(path);
  return rc == 0 || errno == ENOENT ? 0 : -1;
}

}  // namespace

void remove_all(const std::string& path) {
  // Not std::filesystem::remove_all: the libtorch.so of PyTorch 2.x wheels exports a copy of
  // it that binds ahead of libstdc++'s and crashes on a null call (seen with torch 2.11+cu130;
  // every checkpoint rotation and staged-directory clean-up went through it). nftw is POSIX.
  // Errors are ignored, as before: callers remove leftovers and then check what they need.
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    ::unlink(path.c_str());
    return;
  }
  ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(path, ec))
    names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::string basename(const std::string& path) {
  return stdfs::path(path).filename().string();
}

std::string join(const std::string& a, const std::string& b) {
  return (stdfs::path(a) / stdfs::path(b)).string();
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns,
                                       const std::string& key) {
  std::set<std::string> files;
  auto add_dir = [&](const std::string& dir) {
    std::error_code ec;
    for (auto it = stdfs::recursive_directory_iterator(
             dir, stdfs::directory_options::follow_directory_symlink, ec);
         it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.insert(it->path().string());
    }
  };
  for (const auto& pat : patterns) {
    if (pat.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      const int rc = ::glob(pat.c_str(), 0, nullptr, &g);
      size_t before = files.size();
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          const std::string p = g.gl_pathv[i];
          if (is_dir(p))
            add_dir(p);
          else
            files.insert(p);
        }
      }
      globfree(&g);
      ELECTRA_CHECK_USER(files.size() > before, key, ": the pattern '", pat,
                         "' matches no files. Check the path (relative paths are relative to "
                         "the working directory)");
    } else if (is_dir(pat)) {
      const size_t before = files.size();
      add_dir(pat);
      ELECTRA_CHECK_USER(files.size() > before, key, ": the directory '", pat,
                         "' contains no files");
    } else {
      ELECTRA_CHECK_USER(exists(pat), key, ": '", pat,
                         "' does not exist. Give files, directories or glob patterns "
                         "(relative paths are relative to the working directory)");
      files.insert(pat);
    }
  }
  return {files.begin(), files.end()};
}

void copy_file(const std::string& from, const std::string& to) {
  write_file(to, read_file(from, "source"));
}

StagedDir::StagedDir(std::string final_path, std::string tmp_suffix)
    : final_(std::move(final_path)) {
  while (!final_.empty() && final_.back() == '/')
    final_.pop_back();
  tmp_ = final_ + (tmp_suffix.empty() ? ".tmp-" + std::to_string(::getpid()) : tmp_suffix);
  remove_all(tmp_);
  std::error_code ec;
  stdfs::create_directories(tmp_, ec);
  if (ec)
    throw_user("cannot create '", tmp_, "': ", ec.message(),
               ". Choose an output location you can write to");
}

StagedDir::~StagedDir() {
  if (!committed_) remove_all(tmp_);
}

void StagedDir::commit() {
  ELECTRA_CHECK(!committed_, "StagedDir committed twice");
  std::error_code ec;
  for (const auto& e : stdfs::recursive_directory_iterator(tmp_, ec))
    fsync_path(e.path().string());
  fsync_path(tmp_);
  // rename() cannot replace a non-empty directory: move the old one aside first, so the
  // final name always holds a complete directory or nothing.
  std::string old;
  if (exists(final_)) {
    old = final_ + ".old-" + std::to_string(::getpid());
    remove_all(old);
    if (::rename(final_.c_str(), old.c_str()) != 0)
      throw std::runtime_error(cat("cannot move '", final_, "' aside: ", std::strerror(errno)));
  }
  if (::rename(tmp_.c_str(), final_.c_str()) != 0)
    throw std::runtime_error(
        cat("cannot rename '", tmp_, "' to '", final_, "': ", std::strerror(errno)));
  committed_ = true;
  const std::string parent = stdfs::path(final_).parent_path().string();
  fsync_path(parent.empty() ? "." : parent);
  if (!old.empty()) remove_all(old);
}

}  // namespace electra::fs
