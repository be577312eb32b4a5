// Runs a shell command (the `electra` binary in CLI tests) and captures its output.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace electra::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout only
  std::string err;  // stderr only
};

// `command` runs under /bin/sh; stderr goes to a temporary file so both streams are kept apart.
inline CommandResult run_command(const std::string& command, const std::string& stderr_file) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>" + stderr_file).c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* e = std::fopen(stderr_file.c_str(), "r")) {
    while ((n = std::fread(buf, 1, sizeof buf, e)) > 0)
      r.err.append(buf, n);
    std::fclose(e);
  }
  return r;
}

// Single-quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace electra::testing
