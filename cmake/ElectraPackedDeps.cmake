# The non-LibTorch dependencies from one folder packed by scripts/gpu_deps.sh
# (-DELECTRA_DEPS_PREFIX=<dir>), for a machine that has a CUDA PyTorch but none of the
# Debian -dev packages (the GPU machine). Defines the same targets the find_package() calls
# of ElectraDependencies.cmake define, from fixed paths in the prefix, and never looks
# anywhere else: a missing file is an error here, not a silent fallback to /usr.
#
# Libraries are static archives (no run-time path needed; the ICU data is linked in), except
# SentencePiece: its bridge is a dlmopen'ed module (data/spm_bridge), which finds the shared
# libraries through its build RPATH.

get_filename_component(_p "${ELECTRA_DEPS_PREFIX}" ABSOLUTE BASE_DIR "${PROJECT_SOURCE_DIR}")
set(_inc ${_p}/include)
set(_lib ${_p}/lib)
set(_missing)
foreach(_f include/yaml-cpp/yaml.h include/boost/program_options.hpp include/nlohmann/json.hpp
        include/unicode/uchar.h include/snappy.h include/gtest/gtest.h lib/libyaml-cpp.a
        lib/libboost_program_options.a lib/libicuuc.a lib/libicudata.a lib/libsnappy.a
        lib/libgtest.a)
  if(NOT EXISTS ${_p}/${_f})
    list(APPEND _missing ${_f})
  endif()
endforeach()
if(_missing)
  message(FATAL_ERROR "ELECTRA_DEPS_PREFIX=${ELECTRA_DEPS_PREFIX} lacks: ${_missing}. Re-create "
                      "it with scripts/gpu_deps.sh on a machine where scripts/setup.sh ran")
endif()

# One static library target: electra_packed_static(<target> <archive> [deps...]).
function(electra_packed_static name archive)
  add_library(${name} STATIC IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES IMPORTED_LOCATION ${_lib}/${archive}
                        INTERFACE_INCLUDE_DIRECTORIES ${_inc})
  if(ARGN)
    set_property(TARGET ${name} PROPERTY INTERFACE_LINK_LIBRARIES ${ARGN})
  endif()
endfunction()

electra_packed_static(yaml-cpp libyaml-cpp.a)
set(ELECTRA_YAML_TARGET yaml-cpp)
electra_packed_static(Boost::program_options libboost_program_options.a)
add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED GLOBAL)
set_target_properties(nlohmann_json::nlohmann_json PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${_inc})
# libicuuc.a needs the data archive after it, and dlopen (ICU's plugin/data loading code).
electra_packed_static(ICU::data libicudata.a)
electra_packed_static(ICU::uc libicuuc.a ICU::data ${CMAKE_DL_LIBS} Threads::Threads)
electra_packed_static(Snappy::snappy libsnappy.a)
electra_packed_static(GTest::gtest libgtest.a Threads::Threads)
set(GTest_FOUND ON)

# SentencePiece (optional in the pack): the shared libraries, referenced by their SONAME file.
set(ELECTRA_SPM_TARGETS)
if(EXISTS ${_lib}/libsentencepiece.so.0 AND EXISTS ${_lib}/libsentencepiece_train.so.0
   AND EXISTS ${_inc}/sentencepiece_processor.h)
  foreach(_n sentencepiece sentencepiece_train)
    add_library(electra_packed_${_n} SHARED IMPORTED GLOBAL)
    set_target_properties(electra_packed_${_n} PROPERTIES IMPORTED_LOCATION ${_lib}/lib${_n}.so.0
                          IMPORTED_SONAME lib${_n}.so.0 INTERFACE_INCLUDE_DIRECTORIES ${_inc})
    list(APPEND ELECTRA_SPM_TARGETS electra_packed_${_n})
  endforeach()
endif()
message(STATUS "electra: dependencies from ${_p} (SentencePiece: "
               "${ELECTRA_SPM_TARGETS})")
