#include "common/metrics.h"

#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/fs.h"

namespace electra {
namespace {

// Minimal protobuf wire encoding.
void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void put_tag(std::string* out, int field, int wire) {
  put_varint(out, (field << 3) | wire);
}
void put_fixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_fixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_bytes(std::string* out, int field, const std::string& b) {
  put_tag(out, field, 2);
  put_varint(out, b.size());
  out->append(b);
}
void put_double(std::string* out, int field, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  put_tag(out, field, 1);
  put_fixed64(out, bits);
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars) {
  // Event { double wall_time = 1; int64 step = 2; Summary summary = 5; }
  // Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
  std::string summary;
  for (const auto& [tag, v] : scalars) {
    std::string value;
    put_bytes(&value, 1, tag);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    put_tag(&value, 2, 5);
    put_fixed32(&value, bits);
    put_bytes(&summary, 1, value);
  }
  std::string ev;
  put_double(&ev, 1, wall_time);
  put_tag(&ev, 2, 0);
  put_varint(&ev, static_cast<uint64_t>(step));
  put_bytes(&ev, 5, summary);
  return ev;
}

std::string encode_file_version_event(double wall_time) {
  std::string ev;
  put_double(&ev, 1, wall_time);
  put_bytes(&ev, 3, "brain.Event:2");  // Event.file_version
  return ev;
}

std::string tfrecord_frame(const std::string& data) {
  std::string out, len;
  put_fixed64(&len, data.size());
  out += len;
  put_fixed32(&out, crc32c_mask(crc32c(len)));
  out += data;
  put_fixed32(&out, crc32c_mask(crc32c(data)));
  return out;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  fs::ensure_writable_dir(dir, "output.dir");
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  const double t = now_seconds();
  path_ = fs::join(
      dir, cat("events.out.tfevents.", static_cast<int64_t>(t), ".", host, ".", ::getpid()));
  f_ = std::fopen(path_.c_str(), "ab");
  if (!f_) throw std::runtime_error(cat("cannot create TensorBoard file '", path_, "'"));
  const std::string rec = tfrecord_frame(encode_file_version_event(t));
  std::fwrite(rec.data(), 1, rec.size(), f_);
  std::fflush(f_);
}

TensorBoardWriter::~TensorBoardWriter() {
  if (f_) std::fclose(f_);
}

void TensorBoardWriter::scalars(int64_t step,
                                const std::vector<std::pair<std::string, float>>& values) {
  const std::string rec = tfrecord_frame(encode_scalar_event(now_seconds(), step, values));
  std::fwrite(rec.data(), 1, rec.size(), f_);
  std::fflush(f_);
}

JsonlWriter::JsonlWriter(const std::string& path) {
  f_ = std::fopen(path.c_str(), "ab");
  if (!f_) throw_user("cannot open metrics file '", path, "' for writing: ", std::strerror(errno));
}

JsonlWriter::~JsonlWriter() {
  if (f_) std::fclose(f_);
}

void JsonlWriter::write(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fputc('\n', f_);
  std::fflush(f_);
}

}  // namespace electra
