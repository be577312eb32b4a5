#include "distributed/cpu_binding.h"

#include <ATen/Parallel.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/blas.h"
#include "common/error.h"

namespace electra::dist {

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  if (cpus.empty()) {  // no affinity support: assume every online CPU
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (int c = 0; c < std::max(1L, n); ++c)
      cpus.push_back(c);
  }
  return cpus;
}

std::vector<int> cpu_share(const std::vector<int>& cpus, int index, int count) {
  ELECTRA_CHECK(!cpus.empty() && count >= 1 && index >= 0 && index < count, "cpu_share(",
                cpus.size(), " cpus, ", index, " of ", count, ")");
  const int n = static_cast<int>(cpus.size());
  if (count >= n) return {cpus[static_cast<size_t>(index % n)]};
  // The first n % count members get one CPU more.
  const int base = n / count, extra = n % count;
  const int begin = index * base + std::min(index, extra);
  const int size = base + (index < extra ? 1 : 0);
  return std::vector<int>(cpus.begin() + begin, cpus.begin() + begin + size);
}

bool bind_process(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    CPU_SET(c, &set);
  // sched_setaffinity(0) changes the calling thread only; pools created before this point
  // (OpenBLAS starts its threads when the library loads) are moved one by one.
  bool ok = sched_setaffinity(0, sizeof set, &set) == 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const pid_t tid = static_cast<pid_t>(std::atol(e.path().filename().c_str()));
    if (tid > 0) sched_setaffinity(tid, sizeof set, &set);  // a thread may have exited
  }
  return ok;
}

void set_compute_threads(int n) {
  n = std::max(1, n);
  at::set_num_threads(n);
  blas::set_threads(n);
}

std::string cpu_list_string(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
      ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace electra::dist
