// File-system helpers with the error messages users need (what, which path, what to do),
// and the atomic-write primitives that keep a crash from leaving half-written output.
#pragma once

#include <string>
#include <vector>

namespace electra::fs {

bool exists(const std::string& path);
bool is_dir(const std::string& path);
// Reads a whole file; `what` names it in errors ("tokenizer", "config").
std::string read_file(const std::string& path, const std::string& what);
// Writes `data` to `path` via a temporary file + fsync + rename: readers see the old
// file or the new one, never a torn one.
void write_file_atomic(const std::string& path, const std::string& data);
// Plain write + fsync (for files inside a directory that is itself committed atomically).
void write_file(const std::string& path, const std::string& data);
void fsync_path(const std::string& path);
// mkdir -p, then proves the directory is writable by creating and removing a probe file.
// `key` is the config key or flag that named it, for the error message.
void ensure_writable_dir(const std::string& path, const std::string& key);
void remove_all(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);  // names, sorted
std::string basename(const std::string& path);
std::string join(const std::string& a, const std::string& b);
// Expands a list of files, directories (recursively, sorted) and glob patterns into a
// sorted, de-duplicated list of regular files. Hidden files are skipped in directories.
// Throws UserError naming `key` if a pattern matches nothing.
std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns,
                                       const std::string& key);
void copy_file(const std::string& from, const std::string& to);

// A directory that appears at its final name only when complete: files are written into
// "<final>.tmp-<pid>", commit() fsyncs them and renames the directory into place. If the
// object dies uncommitted (exception, early return) the temporary directory is removed.
class StagedDir {
 public:
  // `tmp_suffix`: name of the staging directory relative to the final one; the default is
  // ".tmp-<pid>". Ranks of one job that write into the same staging directory pass the same
  // suffix.
  explicit StagedDir(std::string final_path, std::string tmp_suffix = "");
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  const std::string& path() const { return tmp_; }  // write files here
  std::string file(const std::string& name) const { return join(tmp_, name); }
  // fsyncs every file (recursively), renames into place (replacing an existing directory of that
  // name), and fsyncs the parent.
  void commit();

 private:
  std::string final_;
  std::string tmp_;
  bool committed_ = false;
};

}  // namespace electra::fs
