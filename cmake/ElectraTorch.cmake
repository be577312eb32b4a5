# LibTorch, two ways:
#  - find_package(Torch): Debian's LibTorch 1.13 here; on a GPU machine the LibTorch inside
#    the CUDA PyTorch wheel, through
#      -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
#    (its TorchConfig.cmake enables CMake's CUDA language: it needs nvcc and the toolkit);
#  - -DELECTRA_TORCH_PYTHON_DIR=<the torch package directory>: the same libraries and headers
#    used directly, without TorchConfig.cmake (no nvcc needed; the CUDA runtime headers come
#    from the CUDA toolkit or the nvidia-* wheels). The fallback bench/gpu_check.sh uses when
#    the first way fails to configure.
# Both set TORCH_LIBRARIES, and TORCH_CUDA_LIBRARIES when the LibTorch is a CUDA build.

set(ELECTRA_TORCH_PYTHON_DIR "" CACHE PATH
    "Use the LibTorch of this Python torch package directly (no TorchConfig.cmake)")

if(NOT ELECTRA_TORCH_PYTHON_DIR)
  find_package(Torch REQUIRED)
  return()
endif()

set(_tp ${ELECTRA_TORCH_PYTHON_DIR})
foreach(_l torch torch_cpu c10)
  if(NOT EXISTS ${_tp}/lib/lib${_l}.so)
    message(FATAL_ERROR "ELECTRA_TORCH_PYTHON_DIR=${_tp}: no lib/lib${_l}.so there (expected "
                        "the directory printed by python3 -c 'import torch,os;"
                        "print(os.path.dirname(torch.__file__))')")
  endif()
endforeach()

# The C++ ABI the wheel was built with: everything linked with it must match.
find_program(ELECTRA_PYTHON3 NAMES python3 python)
set(_abi 1)
if(ELECTRA_PYTHON3)
  execute_process(COMMAND ${ELECTRA_PYTHON3} -c
                          "import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"
                  OUTPUT_VARIABLE _abi_out OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc
                  ERROR_QUIET)
  if(_rc EQUAL 0 AND _abi_out MATCHES "^[01]$")
    set(_abi ${_abi_out})
  endif()
endif()

add_library(electra_torch INTERFACE)
target_include_directories(electra_torch SYSTEM INTERFACE ${_tp}/include
                           ${_tp}/include/torch/csrc/api/include)
target_compile_definitions(electra_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${_abi})
target_link_libraries(electra_torch INTERFACE ${_tp}/lib/libtorch.so ${_tp}/lib/libtorch_cpu.so
                      ${_tp}/lib/libc10.so Threads::Threads)
set(TORCH_CUDA_LIBRARIES)
if(EXISTS ${_tp}/lib/libtorch_cuda.so)
  # Nothing references libtorch_cuda's symbols directly, but loading it registers the CUDA
  # kernels and allocator: keep it even under --as-needed (as TorchConfig.cmake does).
  find_package(CUDAToolkit)
  set(_cuda_inc ${CUDAToolkit_INCLUDE_DIRS})
  if(NOT CUDAToolkit_FOUND)
    # The headers of the wheels torch depends on (nvidia-cuda-runtime, -cublas, ...; CUDA 13
    # wheels put them all in nvidia/cu13/include): ATen/cuda includes cuBLAS and cuSPARSE.
    file(GLOB _cuda_inc ${_tp}/../nvidia/*/include)
  endif()
  target_include_directories(electra_torch SYSTEM INTERFACE ${_cuda_inc})
  target_link_libraries(electra_torch INTERFACE "-Wl,--no-as-needed,${_tp}/lib/libtorch_cuda.so"
                        -Wl,--as-needed ${_tp}/lib/libc10_cuda.so)
  set(TORCH_CUDA_LIBRARIES ${_tp}/lib/libtorch_cuda.so ${_tp}/lib/libc10_cuda.so)
endif()
set(TORCH_LIBRARIES electra_torch)
message(STATUS "electra: LibTorch from ${_tp} (C++11 ABI ${_abi}, CUDA libraries: "
               "${TORCH_CUDA_LIBRARIES})")
