# Helpers that give every target the same flags, so one precompiled LibTorch header
# serves them all (a TU that parses torch/torch.h costs ~18 s on 2 cores, ~7 s with the PCH).

function(electra_common_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  # A sanitizer report must fail the test or fuzz run, not scroll past: no recovery.
  if(ELECTRA_SANITIZE OR ELECTRA_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined
                           -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(ELECTRA_FUZZ)
    # Coverage feedback for libFuzzer in every library, not only in the harness.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
  if(ELECTRA_SANITIZE_THREAD)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  endif()
endfunction()

# The PCH owner: a tiny object library whose precompiled header the others reuse.
add_library(electra_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch_anchor.cpp)
target_link_libraries(electra_pch PUBLIC ${TORCH_LIBRARIES})
# Instrumented builds give it their users' flags: clang refuses a PCH built without the
# sanitizers of the TU that includes it (plain builds need nothing here).
if(ELECTRA_SANITIZE OR ELECTRA_FUZZ OR ELECTRA_SANITIZE_THREAD)
  electra_common_flags(electra_pch)
endif()
if(ELECTRA_USE_PCH)
  target_precompile_headers(electra_pch PRIVATE <torch/torch.h> <string> <vector>
                            <unordered_map> <memory>)
endif()

function(electra_use_pch target)
  if(ELECTRA_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM electra_pch)
  endif()
endfunction()

# electra_library(<name> DEPS <targets...>): one library per folder, sources globbed
# so that adding a file needs no CMake edit.
function(electra_library name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(${name} STATIC ${_srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} ${TORCH_LIBRARIES})
  electra_common_flags(${name})
  electra_use_pch(${name})
endfunction()
