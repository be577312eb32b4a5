// CPU placement of the ranks of one node. Several ranks on one node must not each start a
// thread per core (LibTorch's OpenMP pool, OpenBLAS's pthread pool): they would oversubscribe
// the cores and every rank would slow down. The launcher may already have bound each rank to
// its own cores (mpirun --bind-to core, srun --cpu-bind=cores); when it has not, the ranks
// that share an affinity mask split it between them.
#pragma once

#include <string>
#include <vector>

namespace electra::dist {

// CPUs this process may run on (its affinity mask), ascending.
std::vector<int> allowed_cpus();

// Member `index` of `count` processes sharing `cpus`: a contiguous slice, sizes differing by
// at most one. With more processes than CPUs, processes share CPUs round-robin (never empty).
std::vector<int> cpu_share(const std::vector<int>& cpus, int index, int count);

// Restricts every existing thread of this process (and so the threads created later) to
// `cpus`. Returns false, leaving the mask as it was, when the kernel refuses.
bool bind_process(const std::vector<int>& cpus);

// Compute threads of this process: LibTorch's intra-op pool and, when the BLAS loaded into
// the process is OpenBLAS, its own thread pool (which at::set_num_threads does not reach).
void set_compute_threads(int n);

// "0-3,8" style list for logs.
std::string cpu_list_string(const std::vector<int>& cpus);

}  // namespace electra::dist
