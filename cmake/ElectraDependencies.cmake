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
