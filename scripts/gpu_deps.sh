#!/usr/bin/env bash
# Packs, from this Debian 12 machine, what a build on a GPU machine needs and that machine
# lacks: every dependency but LibTorch (which comes with its CUDA PyTorch) and MPI (the GPU
# build is single-process, -DELECTRA_WITH_MPI=OFF). The result is a prefix that
# `cmake -DELECTRA_DEPS_PREFIX=<dir>` uses instead of the system (cmake/ElectraPackedDeps.cmake).
#
#   bash scripts/gpu_deps.sh            # -> .gpu-deps/ and .gpu-deps.tar.xz (what travels)
#   bash scripts/gpu_deps.sh verify     # configure + build electra and test_distributed from
#                                       # .gpu-deps alone, the system's copies hidden, MPI off
#   bash scripts/gpu_deps.sh sandbox CMD  # run CMD with the system's copies hidden (e.g. a
#                                         # rehearsal of bench/gpu_check.sh)
#
# What goes in (x86-64, C++11 ABI, built by Debian's GCC 12):
#   include/  yaml-cpp, nlohmann, ICU's unicode/, snappy, gtest, sentencepiece, and of Boost
#             only the headers the sources reach (the closure `g++ -M` computes, plus
#             boost/config, whose choice of headers depends on the compiler)
#   lib/      static archives (nothing to find at run time; the ICU data is linked in):
#             yaml-cpp, boost_program_options, icuuc + icudata, snappy, gtest; and the
#             SentencePiece shared libraries for the dlmopen'ed bridge (found through its RPATH)
#   MANIFEST  the Debian package versions and file sizes
# The tarball is xz-compressed: the ICU data (31 MB) shrinks to about 8 MB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEST=$(realpath -m "${GPU_DEPS_DIR:-.gpu-deps}")
TARBALL=$(realpath -m "${GPU_DEPS_TARBALL:-$DEST.tar.xz}")
LIBDIR=/usr/lib/x86_64-linux-gnu
INC=/usr/include
# Headers and libraries of the packages above, as the verify step hides them.
SYS_HEADERS=(yaml-cpp boost nlohmann unicode gtest gmock snappy.h snappy-c.h snappy-sinksource.h
  snappy-stubs-public.h sentencepiece_processor.h sentencepiece_trainer.h)
# Only the link-time names: the versioned run-time libraries stay (CMake itself loads ICU's).
SYS_LIB_GLOBS=(libyaml-cpp.so libyaml-cpp.a libboost_program_options.so libboost_program_options.a
  'libicu*.so' 'libicu*.a' libsnappy.so libsnappy.a 'libgtest*' 'libgmock*' libsentencepiece.so
  libsentencepiece_train.so 'libmpi*.so')

say() { printf '==> %s\n' "$*"; }

pack() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  rm -rf "$DEST"
  mkdir -p "$DEST/include" "$DEST/lib"

  say "headers"
  for d in yaml-cpp nlohmann unicode gtest; do
    cp -a "$INC/$d" "$DEST/include/"
  done
  cp -a "$INC"/snappy*.h "$INC"/sentencepiece_processor.h "$INC"/sentencepiece_trainer.h \
    "$DEST/include/"
  # Boost: the closure of every <boost/...> the sources include.
  grep -rhoE '#include <boost/[^>]+>' --include='*.h' --include='*.cpp' \
    common model data distributed pretrain finetune launcher tests bench | sort -u \
    >"$tmp/boost.cpp"
  say "boost headers reached from: $(tr '\n' ' ' <"$tmp/boost.cpp")"
  g++ -std=c++17 -M "$tmp/boost.cpp" | tr ' \\' '\n\n' | grep "^$INC/boost/" | sort -u \
    >"$tmp/boost.list"
  find "$INC/boost/config" -type f >>"$tmp/boost.list"
  (cd "$INC" && sed "s|^$INC/||" "$tmp/boost.list" | sort -u | xargs cp --parents -t \
    "$DEST/include")
  say "$(wc -l <"$tmp/boost.list") boost headers"

  say "libraries"
  for a in libyaml-cpp.a libboost_program_options.a libicuuc.a libicudata.a libsnappy.a \
    libgtest.a; do
    cp -L "$LIBDIR/$a" "$DEST/lib/"
  done
  for so in libsentencepiece.so.0 libsentencepiece_train.so.0; do
    cp -L "$LIBDIR/$so" "$DEST/lib/"
  done

  {
    echo "# scripts/gpu_deps.sh on $(hostname) $(date -u +%FT%TZ), $(g++ --version | head -1)"
    dpkg-query -W -f='${Package} ${Version}\n' libyaml-cpp-dev libboost-program-options1.74-dev \
      nlohmann-json3-dev libicu-dev libsnappy-dev libgtest-dev libsentencepiece-dev 2>/dev/null ||
      true
    (cd "$DEST" && find lib -type f -printf '%s %p\n' | sort -k2)
  } >"$DEST/MANIFEST"

  say "tarball $TARBALL"
  tar -C "$(dirname "$DEST")" -cf - "$(basename "$DEST")" | xz -T0 -6 >"$TARBALL.tmp"
  mv "$TARBALL.tmp" "$TARBALL"
  du -sh "$DEST" "$TARBALL"
}

# Runs a command where the system's copies of the packed packages are hidden (headers, CMake
# packages, link-time libraries) and MPI's headers too: overlay mounts in a private mount
# namespace (root only) in which they are deleted. A build inside can reach them only through
# $DEST, as on the GPU machine.
sandbox() {
  [ $# -gt 0 ] || set -- bash
  unshare -m --propagation private bash -euo pipefail -c '
    tmp=$(mktemp -d)
    for d in /usr/include "$LIBDIR" /usr/share/cmake; do
      n=$tmp/$(echo "$d" | tr / _)
      mkdir -p "$n/up" "$n/work"
      mount -t overlay overlay -o "lowerdir=$d,upperdir=$n/up,workdir=$n/work" "$d"
    done
    (cd /usr/include && rm -rf $HIDE_HEADERS)
    (cd "$LIBDIR" && rm -rf $HIDE_LIB_GLOBS cmake/yaml-cpp cmake/GTest cmake/Snappy cmake/Boost-* \
      cmake/boost_* openmpi/include)
    rm -rf /usr/share/cmake/nlohmann_json
    test ! -e /usr/include/boost/version.hpp && test ! -e "$LIBDIR/libyaml-cpp.so"
    cd "$WORKDIR"
    exec "$@"' sandbox "$@"
}
export HIDE_HEADERS="${SYS_HEADERS[*]}" HIDE_LIB_GLOBS="${SYS_LIB_GLOBS[*]}" LIBDIR WORKDIR=$PWD

# A fresh build from $DEST alone, configured as on the GPU machine (-DELECTRA_WITH_MPI=OFF).
verify() {
  local bdir=${1:-build-gpudeps}
  local targets=${VERIFY_TARGETS:-electra test_distributed}
  [ -f "$DEST/lib/libicudata.a" ] || {
    echo "no $DEST: run scripts/gpu_deps.sh first" >&2
    exit 1
  }
  rm -rf "$bdir"
  sandbox cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DELECTRA_WITH_MPI=OFF \
    "-DELECTRA_DEPS_PREFIX=$DEST"
  # shellcheck disable=SC2086
  sandbox ninja -C "$bdir" -j"${JOBS:-2}" $targets
  sandbox "$bdir/launcher/electra" --help | head -3
  echo "verify: configured and built $targets in $bdir from $DEST alone"
}

case "${1:-pack}" in
  pack) pack ;;
  verify) verify "${2:-}" ;;
  sandbox)
    shift
    sandbox "$@"
    ;;
  *)
    echo "usage: scripts/gpu_deps.sh [pack | verify [build-dir] | sandbox [command...]]" >&2
    exit 2
    ;;
esac
