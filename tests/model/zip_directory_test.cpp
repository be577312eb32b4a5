// Size fields of a torch.save zip archive are checked against the real file before LibTorch's
// zip reader allocates what they claim (model/zip_directory.h).
#include <gtest/gtest.h>

#include <cstring>

#include "common/fs.h"
#include "model/torch_bin.h"
#include "model/zip_directory.h"
#include "tests/support/temp_dir.h"
#include "tests/support/user_error.h"

namespace electra::model {
namespace {

using testing::TempDir;
using testing::user_error_of;

const std::string kBin = std::string(ELECTRA_TEST_DATA) + "/hf_io/bin-fp16/pytorch_model.bin";

// Offset of the central-directory entry of the record whose name ends with `suffix`.
size_t directory_entry(const std::string& zip, const std::string& suffix) {
  for (size_t at = zip.find("PK\x01\x02"); at != std::string::npos;
       at = zip.find("PK\x01\x02", at + 4)) {
    const size_t name_len = static_cast<uint8_t>(zip[at + 28]) | static_cast<uint8_t>(zip[at + 29])
                                                                     << 8;
    const std::string name = zip.substr(at + 46, name_len);
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return at;
  }
  ADD_FAILURE() << "no entry " << suffix;
  return 0;
}

void put32(std::string& s, size_t at, uint32_t v) {
  for (int k = 0; k < 4; ++k)
    s[at + k] = static_cast<char>(v >> (8 * k));
}

TEST(ZipDirectory, ReadsTheEntriesOfARealTorchSaveFile) {
  const auto entries = read_zip_directory(kBin);
  ASSERT_GE(entries.size(), 2u);
  bool pickle = false;
  for (const auto& e : entries) {
    EXPECT_EQ(e.method, 0) << e.name;  // torch.save stores records uncompressed
    EXPECT_EQ(e.compressed, e.uncompressed) << e.name;
    pickle = pickle || e.name.find("data.pkl") != std::string::npos;
  }
  EXPECT_TRUE(pickle);
}

TEST(ZipDirectory, ASizeLargerThanTheFileIsRefusedBeforeAnyAllocation) {
  TempDir tmp;
  const std::string good = fs::read_file(kBin, "t");
  // data.pkl claims 2 GiB (compressed and uncompressed alike, as a consistent stored entry).
  std::string bad = good;
  const size_t e = directory_entry(bad, "data.pkl");
  put32(bad, e + 20, 0x7FFFFFFF);
  put32(bad, e + 24, 0x7FFFFFFF);
  fs::write_file(tmp.file("huge.bin"), bad);
  std::string msg = user_error_of([&] { read_torch_bin(tmp.file("huge.bin")); });
  EXPECT_NE(msg.find("data.pkl': 2147483647 bytes at offset"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run past the end of the file"), std::string::npos) << msg;
  // A stored entry whose uncompressed size differs from its stored bytes.
  bad = good;
  put32(bad, e + 24, 0x40000000);
  fs::write_file(tmp.file("ratio.bin"), bad);
  msg = user_error_of([&] { read_torch_bin(tmp.file("ratio.bin")); });
  EXPECT_NE(msg.find("claims 1073741824 bytes"), std::string::npos) << msg;
  // A local header offset past the end.
  bad = good;
  put32(bad, e + 42, static_cast<uint32_t>(good.size()));
  fs::write_file(tmp.file("offset.bin"), bad);
  msg = user_error_of([&] { read_torch_bin(tmp.file("offset.bin")); });
  EXPECT_NE(msg.find("run past the end of the file"), std::string::npos) << msg;
}

TEST(ZipDirectory, DirectoryAndCountsMustFitTheFile) {
  TempDir tmp;
  const std::string good = fs::read_file(kBin, "t");
  const size_t end = good.rfind("PK\x05\x06");
  ASSERT_NE(end, std::string::npos);
  std::string bad = good;
  put32(bad, end + 16, static_cast<uint32_t>(good.size()));  // directory offset
  fs::write_file(tmp.file("dir.bin"), bad);
  std::string msg = user_error_of([&] { read_zip_directory(tmp.file("dir.bin")); });
  EXPECT_NE(msg.find("lies outside the file"), std::string::npos) << msg;
  bad = good;
  bad[end + 10] = '\xff';  // 32767 entries: more than the directory's bytes can hold
  bad[end + 11] = '\x7f';
  fs::write_file(tmp.file("count.bin"), bad);
  msg = user_error_of([&] { read_zip_directory(tmp.file("count.bin")); });
  EXPECT_NE(msg.find("entries in"), std::string::npos) << msg;
  fs::write_file(tmp.file("noend.bin"), good.substr(0, end));
  msg = user_error_of([&] { read_torch_bin(tmp.file("noend.bin")); });
  EXPECT_NE(msg.find("no end-of-directory record"), std::string::npos) << msg;
}

}  // namespace
}  // namespace electra::model
