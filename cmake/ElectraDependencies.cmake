# Every dependency comes from Debian packages (scripts/setup.sh installs them).
find_package(Torch REQUIRED)
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(Boost REQUIRED COMPONENTS program_options)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(PkgConfig REQUIRED)

if(ELECTRA_WITH_MPI)
  find_package(MPI COMPONENTS CXX)
  if(NOT MPI_FOUND)
    message(FATAL_ERROR "ELECTRA_WITH_MPI=ON but no MPI was found: install libopenmpi-dev "
                        "(scripts/setup.sh does) or configure with -DELECTRA_WITH_MPI=OFF")
  endif()
endif()

# yaml-cpp 0.7 exports the target as 'yaml-cpp'; newer releases as 'yaml-cpp::yaml-cpp'.
if(TARGET yaml-cpp::yaml-cpp)
  set(ELECTRA_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(ELECTRA_YAML_TARGET yaml-cpp)
endif()

# Unicode categories, case mapping and NFD for the WordPiece tokenizer (Debian libicu-dev).
find_package(ICU 60 REQUIRED COMPONENTS uc)
# Snappy-compressed blocks of TensorFlow checkpoint indexes (Debian libsnappy-dev).
find_package(Snappy REQUIRED)

# CUDA + NCCL (optional): the NCCL communicator (distributed/nccl/). ON by default when the
# LibTorch found is a CUDA build and the CUDA toolkit and NCCL are installed. NCCL is looked
# for in $NCCL_HOME, then next to the CUDA toolkit (/usr/local/cuda here).
find_package(CUDAToolkit QUIET)
find_path(ELECTRA_NCCL_INCLUDE_DIR nccl.h
          HINTS $ENV{NCCL_HOME}/include ${CUDAToolkit_INCLUDE_DIRS} PATHS /usr/local/cuda/include)
find_library(ELECTRA_NCCL_LIBRARY nccl
             HINTS $ENV{NCCL_HOME}/lib ${CUDAToolkit_LIBRARY_DIR} PATHS /usr/local/cuda/lib64)
set(_electra_nccl_found OFF)
if(CUDAToolkit_FOUND AND ELECTRA_NCCL_INCLUDE_DIR AND ELECTRA_NCCL_LIBRARY)
  set(_electra_nccl_found ON)
endif()
set(_electra_torch_cuda OFF)
if(TORCH_CUDA_LIBRARIES)
  set(_electra_torch_cuda ON)
endif()
set(_electra_nccl_default OFF)
if(_electra_nccl_found AND _electra_torch_cuda AND ELECTRA_WITH_MPI)
  set(_electra_nccl_default ON)
endif()
option(ELECTRA_WITH_NCCL "NCCL communicator for CUDA tensors (CUDA LibTorch + CUDA toolkit + NCCL + MPI)"
       ${_electra_nccl_default})
if(ELECTRA_WITH_NCCL AND NOT (_electra_nccl_found AND _electra_torch_cuda AND ELECTRA_WITH_MPI))
  message(FATAL_ERROR "ELECTRA_WITH_NCCL=ON needs a CUDA build of LibTorch (found CUDA: "
                      "${_electra_torch_cuda}), the CUDA toolkit and NCCL (found: "
                      "${_electra_nccl_found}; set NCCL_HOME) and ELECTRA_WITH_MPI=ON (NCCL "
                      "bootstraps over MPI)")
endif()
set(_electra_check_default OFF)
if(NOT ELECTRA_WITH_NCCL AND _electra_nccl_found AND ELECTRA_WITH_MPI)
  set(_electra_check_default ON)
endif()
option(ELECTRA_NCCL_COMPILE_CHECK
       "CPU-only LibTorch: still compile (and link-check) the NCCL communicator against the CUDA/NCCL headers"
       ${_electra_check_default})
message(STATUS "electra: NCCL communicator ${ELECTRA_WITH_NCCL}, NCCL compile check "
               "${ELECTRA_NCCL_COMPILE_CHECK} (CUDA LibTorch ${_electra_torch_cuda}, NCCL "
               "${_electra_nccl_found})")
