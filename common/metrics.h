// Metric sinks: a JSON-lines file (one object per record: plotting tools and `electra plot`
// read it) and TensorBoard event files (TFRecord-framed Event protos, written by hand: no
// TensorFlow or protobuf dependency).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace electra {

// Encodes one TensorBoard Event with scalar summaries (exposed for tests).
std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars);
std::string encode_file_version_event(double wall_time);
// TFRecord framing: length, masked CRC32C of the length, data, masked CRC32C of the data.
std::string tfrecord_frame(const std::string& data);

class TensorBoardWriter {
 public:
  // Creates `dir/events.out.tfevents.<time>.<host>`; appends records with fflush after each.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  void scalars(int64_t step, const std::vector<std::pair<std::string, float>>& values);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FILE* f_ = nullptr;
};

class JsonlWriter {
 public:
  // Appends to `path` (a resumed run continues the same file).
  explicit JsonlWriter(const std::string& path);
  ~JsonlWriter();
  void write(const std::string& json_object_line);

 private:
  FILE* f_ = nullptr;
};

}  // namespace electra
