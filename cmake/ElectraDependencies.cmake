# Where the dependencies come from:
#  - LibTorch: cmake/ElectraTorch.cmake (find_package(Torch), or a Python torch package used
#    directly with -DELECTRA_TORCH_PYTHON_DIR);
#  - everything else: Debian packages (scripts/setup.sh installs them), or, with
#    -DELECTRA_DEPS_PREFIX=<dir>, only the folder scripts/gpu_deps.sh packs
#    (cmake/ElectraPackedDeps.cmake), for a GPU machine that has a CUDA PyTorch but none of
#    the -dev packages.
set(ELECTRA_DEPS_PREFIX "" CACHE PATH
    "Take every dependency but LibTorch from this folder (made by scripts/gpu_deps.sh)")
option(ELECTRA_WITH_SPM "Build the SentencePiece bridge (data/spm_bridge; needs libsentencepiece)" ON)

find_package(Threads REQUIRED)
include(ElectraTorch)

# ATen's at::parallel_for is a header template: in a file compiled without -fopenmp it runs the
# whole range on the calling thread (Parallel-inl.h falls back when _OPENMP is undefined). Our
# own CPU kernels (dropout masks, Gumbel sampling, AdamW, the fused attention) use it, so
# every target compiles with OpenMP, as LibTorch itself does. (Measured before this: those
# kernels ran on one of the machine's two cores.)
option(ELECTRA_OPENMP "Compile with OpenMP so that at::parallel_for in our code is parallel" ON)
if(ELECTRA_OPENMP)
  find_package(OpenMP COMPONENTS CXX)
endif()
if(OpenMP_CXX_FOUND)
  list(APPEND TORCH_LIBRARIES OpenMP::OpenMP_CXX)
elseif(ELECTRA_OPENMP)
  message(WARNING "No OpenMP for ${CMAKE_CXX_COMPILER_ID}: electra's own CPU kernels will run "
                  "on one thread (install libomp-dev for clang)")
endif()

if(ELECTRA_WITH_MPI)
  find_package(MPI COMPONENTS CXX)
  if(NOT MPI_FOUND)
    message(FATAL_ERROR "ELECTRA_WITH_MPI=ON but no MPI was found: install libopenmpi-dev "
                        "(scripts/setup.sh does) or configure with -DELECTRA_WITH_MPI=OFF "
                        "(one process per job; world size 1)")
  endif()
endif()

if(ELECTRA_DEPS_PREFIX)
  include(ElectraPackedDeps)
else()
  find_package(yaml-cpp REQUIRED)
  find_package(Boost REQUIRED COMPONENTS program_options)
  find_package(nlohmann_json 3.9 REQUIRED)
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
  # SentencePiece (Debian libsentencepiece-dev), for the bridge module only.
  set(ELECTRA_SPM_TARGETS)
  if(ELECTRA_WITH_SPM)
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
    find_library(SENTENCEPIECE_TRAIN_LIB sentencepiece_train REQUIRED)
    set(ELECTRA_SPM_TARGETS PkgConfig::SENTENCEPIECE ${SENTENCEPIECE_TRAIN_LIB})
  endif()
endif()
if(ELECTRA_WITH_SPM AND NOT ELECTRA_SPM_TARGETS)
  message(FATAL_ERROR "ELECTRA_WITH_SPM=ON but ${ELECTRA_DEPS_PREFIX} holds no SentencePiece: "
                      "re-pack it with scripts/gpu_deps.sh, or configure with "
                      "-DELECTRA_WITH_SPM=OFF (SentencePiece .model tokenizers then fail to load)")
endif()

# oneDNN 2.x's headers (Debian libdnnl-dev), for model/onednn_linear.h: CPU forward products
# (bf16 and fp32; evaluation, and training's forward without grad mode) on its matmul primitive,
# against the libdnnl.so.2 that Debian's LibTorch links. A LibTorch that bundles and hides its
# own oneDNN (pip's) gets none: those products stay ATen's.
option(ELECTRA_ONEDNN "Run CPU forward products on oneDNN's matmul when its headers are found" ON)
set(ELECTRA_ONEDNN_FOUND OFF)
if(ELECTRA_ONEDNN AND NOT ELECTRA_DEPS_PREFIX)
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(DNNL_LIBRARY dnnl)
  if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
    # The code uses 2.x's API (oneDNN 3 changed the primitive descriptors' constructors).
    file(STRINGS ${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h _dnnl_major
         REGEX "#define DNNL_VERSION_MAJOR ")
    if(_dnnl_major MATCHES "DNNL_VERSION_MAJOR 2$")
      set(ELECTRA_ONEDNN_FOUND ON)
    else()
      message(STATUS "oneDNN headers in ${DNNL_INCLUDE_DIR} are not 2.x (${_dnnl_major}): unused")
    endif()
  endif()
endif()
message(STATUS "oneDNN matmul for CPU forward products: ${ELECTRA_ONEDNN_FOUND}")

include(ElectraCuda)
