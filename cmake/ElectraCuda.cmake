# CUDA (optional): ELECTRA_WITH_CUDA compiles the CUDA code paths (device placement, CUDA
# autocast and RNG state, ...; `#if defined(ELECTRA_WITH_CUDA)` in the sources) and is ON by
# default when the LibTorch found is a CUDA build. ELECTRA_WITH_NCCL adds the NCCL
# communicator (distributed/nccl/); it needs the CUDA runtime and NCCL, looked for in
# $NCCL_HOME, in the nvidia-nccl wheel that a pip-installed CUDA PyTorch brings
# (site-packages/nvidia/nccl, which has only lib/libnccl.so.2), then next to the CUDA toolkit
# (/usr/local/cuda here). NCCL without MPI is a one-rank group (distributed/backend.h).
set(_electra_torch_cuda OFF)
if(TORCH_CUDA_LIBRARIES)
  set(_electra_torch_cuda ON)
endif()
option(ELECTRA_WITH_CUDA "Compile the CUDA code paths (needs a CUDA build of LibTorch)"
       ${_electra_torch_cuda})
if(ELECTRA_WITH_CUDA AND NOT _electra_torch_cuda)
  message(FATAL_ERROR "ELECTRA_WITH_CUDA=ON but the LibTorch found (${Torch_DIR}"
                      "${ELECTRA_TORCH_PYTHON_DIR}) is not a CUDA build. Point CMAKE_PREFIX_PATH "
                      "at a CUDA PyTorch's torch.utils.cmake_prefix_path, or set "
                      "ELECTRA_WITH_CUDA=OFF")
endif()

# The Python packages next to torch (pip wheels): site-packages/nvidia/...
set(_electra_wheels)
foreach(_t ${TORCH_INSTALL_PREFIX} ${ELECTRA_TORCH_PYTHON_DIR})
  if(EXISTS ${_t}/../nvidia)
    get_filename_component(_w ${_t}/../nvidia ABSOLUTE)
    list(APPEND _electra_wheels ${_w})
  endif()
endforeach()

find_package(CUDAToolkit QUIET)
# The CUDA runtime: the toolkit's, else the nvidia-cuda-runtime wheel's.
set(ELECTRA_CUDART)
if(TARGET CUDA::cudart)
  set(ELECTRA_CUDART CUDA::cudart)
elseif(_electra_wheels)
  set(_hints)
  foreach(_w ${_electra_wheels})
    file(GLOB _d ${_w}/cuda_runtime ${_w}/cu[0-9]*)
    list(APPEND _hints ${_d})
  endforeach()
  find_path(ELECTRA_CUDART_INCLUDE_DIR cuda_runtime_api.h HINTS ${_hints} PATH_SUFFIXES include)
  find_library(ELECTRA_CUDART_LIBRARY NAMES cudart libcudart.so.13 libcudart.so.12
               HINTS ${_hints} PATH_SUFFIXES lib lib64)
  if(ELECTRA_CUDART_INCLUDE_DIR AND ELECTRA_CUDART_LIBRARY)
    add_library(electra_cudart INTERFACE)
    target_include_directories(electra_cudart SYSTEM INTERFACE ${ELECTRA_CUDART_INCLUDE_DIR})
    target_link_libraries(electra_cudart INTERFACE ${ELECTRA_CUDART_LIBRARY})
    set(ELECTRA_CUDART electra_cudart)
  endif()
endif()

# The wheel's first: the libnccl.so.2 torch itself loads (one per process, by SONAME).
set(_nccl_hints $ENV{NCCL_HOME} ${NCCL_HOME})
foreach(_w ${_electra_wheels})
  list(APPEND _nccl_hints ${_w}/nccl)
endforeach()
list(APPEND _nccl_hints ${CUDAToolkit_LIBRARY_ROOT})
find_path(ELECTRA_NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS}
          PATH_SUFFIXES include PATHS /usr/local/cuda/include)
# The wheel has no unversioned libnccl.so: accept the SONAME file itself.
find_library(ELECTRA_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_hints}
             ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64
             PATHS /usr/local/cuda/lib64 /usr/local/cuda/lib)
set(_electra_nccl_found OFF)
if(ELECTRA_CUDART AND ELECTRA_NCCL_INCLUDE_DIR AND ELECTRA_NCCL_LIBRARY)
  set(_electra_nccl_found ON)
endif()
set(_electra_nccl_default OFF)
if(_electra_nccl_found AND ELECTRA_WITH_CUDA)
  set(_electra_nccl_default ON)
endif()
option(ELECTRA_WITH_NCCL
       "NCCL communicator for CUDA tensors (CUDA LibTorch + CUDA runtime + NCCL; MPI for >1 rank)"
       ${_electra_nccl_default})
if(ELECTRA_WITH_NCCL AND NOT (_electra_nccl_found AND ELECTRA_WITH_CUDA))
  message(FATAL_ERROR "ELECTRA_WITH_NCCL=ON needs ELECTRA_WITH_CUDA (a CUDA build of LibTorch; "
                      "now ${ELECTRA_WITH_CUDA}), the CUDA runtime (${ELECTRA_CUDART}) and NCCL "
                      "(header: ${ELECTRA_NCCL_INCLUDE_DIR}, library: ${ELECTRA_NCCL_LIBRARY}; "
                      "set NCCL_HOME)")
endif()
set(_electra_check_default OFF)
if(NOT ELECTRA_WITH_NCCL AND _electra_nccl_found)
  set(_electra_check_default ON)
endif()
option(ELECTRA_NCCL_COMPILE_CHECK
       "CPU-only LibTorch: still compile (and link-check) the NCCL communicator against the CUDA/NCCL headers"
       ${_electra_check_default})
if(ELECTRA_NCCL_COMPILE_CHECK AND NOT TARGET CUDA::cudart)
  message(FATAL_ERROR "ELECTRA_NCCL_COMPILE_CHECK=ON needs the CUDA toolkit (CUDA::cudart)")
endif()
message(STATUS "electra: CUDA ${ELECTRA_WITH_CUDA}, NCCL communicator ${ELECTRA_WITH_NCCL}, NCCL "
               "compile check ${ELECTRA_NCCL_COMPILE_CHECK} (CUDA LibTorch "
               "${_electra_torch_cuda}, NCCL ${_electra_nccl_found}: ${ELECTRA_NCCL_LIBRARY}), "
               "MPI ${ELECTRA_WITH_MPI}")

# Our own CUDA kernels (model/cuda/, e.g. the fused dropout + residual + LayerNorm): compiled by
# nvcc into electra_model when the build has CUDA and a CUDA compiler is found; without them the
# CUDA paths run ATen's ops. The runtime is the shared libcudart that LibTorch loads too, so
# that our launches and LibTorch's streams live in one runtime.
set(_electra_kernels_default OFF)
if(ELECTRA_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_electra_kernels_default ON)
  endif()
endif()
option(ELECTRA_CUDA_KERNELS "Compile the CUDA kernels of model/cuda/ (needs ELECTRA_WITH_CUDA and nvcc)"
       ${_electra_kernels_default})
if(ELECTRA_CUDA_KERNELS)
  if(NOT ELECTRA_WITH_CUDA)
    message(FATAL_ERROR "ELECTRA_CUDA_KERNELS=ON needs ELECTRA_WITH_CUDA (a CUDA build of LibTorch)")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # A100 and H100 machine code, plus PTX that newer GPUs compile at load time.
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
  enable_language(CUDA)
endif()
message(STATUS "electra: CUDA kernels ${ELECTRA_CUDA_KERNELS} (architectures "
               "${CMAKE_CUDA_ARCHITECTURES})")
