#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/metrics.h"
#include "common/rng.h"
#include "common/strings.h"

namespace electra {
namespace {

TEST(Crc32c, KnownAnswers) {
  // RFC 3720 (iSCSI) check value and test vectors.
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  // Incremental == one shot, across the 8-byte fast path boundary.
  const std::string s = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(crc32c_extend(crc32c(s.data(), 13), s.data() + 13, s.size() - 13), crc32c(s));
  EXPECT_EQ(crc32c_unmask(crc32c_mask(0x12345678u)), 0x12345678u);
}

TEST(Strings, EditDistanceAndClosest) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_match("train.setps", {"train.steps", "train.seed", "data.files"}),
            "train.steps");
  EXPECT_EQ(closest_match("stesp", {"optimizer.lr", "train.steps"}), "train.steps");
}

TEST(Strings, Utf8Validation) {
  size_t bad = 0;
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("ab\xff", &bad));
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf", &bad));      // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80", &bad));  // UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("x\xe4\xb8", &bad));     // truncated sequence
  EXPECT_EQ(bad, 1u);
}

TEST(Strings, Base64RoundTripAndKnownAnswer) {
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes.push_back(static_cast<char>(i));
  EXPECT_EQ(base64_decode(base64_encode(bytes), "t"), bytes);
  EXPECT_THROW(base64_decode("Zm9v!mFy", "t"), UserError);
}

TEST(Strings, ParseIntList) {
  EXPECT_EQ(parse_int_list(" 101 5,6  102 ", "ids"), (std::vector<int64_t>{101, 5, 6, 102}));
  EXPECT_THROW(parse_int_list("1 x 3", "ids"), UserError);
}

TEST(Rng, DeterministicAndSerialisable) {
  Rng a(7), b(7);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(a.next_u64(), b.next_u64());
  const std::string st = a.state();
  const uint64_t next = a.next_u64();
  Rng c(0);
  c.set_state(st);
  EXPECT_EQ(c.next_u64(), next);
  // uniform_int stays in range and hits both ends.
  bool lo = false, hi = false;
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = a.uniform_int(3, 5);
    ASSERT_GE(v, 3);
    ASSERT_LE(v, 5);
    lo |= v == 3;
    hi |= v == 5;
  }
  EXPECT_TRUE(lo && hi);
  EXPECT_NE(mix_seed({1, 2}), mix_seed({2, 1}));
}

TEST(Fs, RemoveAllTakesTreesAndFilesButNeverFollowsLinks) {
  namespace sfs = std::filesystem;
  const std::string root = (sfs::temp_directory_path() / "electra_remove_all").string();
  const std::string outside = root + "-outside.txt";
  fs::remove_all(root);
  sfs::create_directories(root + "/a/b/c");
  fs::write_file(root + "/a/b/c/deep.txt", "x");
  fs::write_file(root + "/a/top.txt", "y");
  fs::write_file(outside, "keep me");
  sfs::create_symlink(outside, root + "/a/link-to-file");
  sfs::create_directory_symlink(sfs::temp_directory_path(), root + "/a/link-to-dir");
  fs::remove_all(root);
  EXPECT_FALSE(sfs::exists(sfs::symlink_status(root)));
  EXPECT_EQ(fs::read_file(outside, "t"), "keep me");  // the link went, its target stayed
  EXPECT_TRUE(sfs::is_directory(sfs::temp_directory_path()));
  fs::remove_all(outside);  // a plain file
  EXPECT_FALSE(sfs::exists(outside));
  fs::remove_all(root + "/never-existed");  // nothing there: no error
}

TEST(Fs, StagedDirIsAllOrNothing) {
  const std::string root = (std::filesystem::temp_directory_path() / "electra_staged").string();
  fs::remove_all(root);
  const std::string final_dir = root + "/ckpt";
  {
    fs::StagedDir d(final_dir);
    fs::write_file(d.file("a.txt"), "half");
    // destroyed without commit: nothing appears, the staging directory is gone
  }
  EXPECT_FALSE(fs::exists(final_dir));
  EXPECT_TRUE(fs::list_dir(root).empty());
  {
    fs::StagedDir d(final_dir);
    fs::write_file(d.file("a.txt"), "v1");
    d.commit();
  }
  EXPECT_EQ(fs::read_file(final_dir + "/a.txt", "t"), "v1");
  {
    fs::StagedDir d(final_dir);  // replacing a complete directory
    fs::write_file(d.file("a.txt"), "v2");
    d.commit();
  }
  EXPECT_EQ(fs::read_file(final_dir + "/a.txt", "t"), "v2");
  EXPECT_EQ(fs::list_dir(root), std::vector<std::string>{"ckpt"});
}

TEST(Fs, ExpandInputsFilesDirsGlobs) {
  namespace stdfs = std::filesystem;
  const std::string root = (stdfs::temp_directory_path() / "electra_expand").string();
  fs::remove_all(root);
  stdfs::create_directories(root + "/d/sub");
  for (const char* f : {"/a.txt", "/b.txt", "/d/c.txt", "/d/sub/e.txt", "/d/.hidden"})
    std::ofstream(root + f) << "x";
  const auto files =
      fs::expand_inputs({root + "/*.txt", root + "/d", root + "/a.txt"}, "data.files");
  EXPECT_EQ(files, (std::vector<std::string>{root + "/a.txt", root + "/b.txt", root + "/d/c.txt",
                                             root + "/d/sub/e.txt"}));
  EXPECT_THROW(fs::expand_inputs({root + "/*.nothing"}, "data.files"), UserError);
  EXPECT_THROW(fs::expand_inputs({root + "/missing.txt"}, "data.files"), UserError);
}

TEST(Fs, UncreatableDirectoryIsAUserError) {
  // A directory below a regular file cannot be created, even by root.
  const std::string f = (std::filesystem::temp_directory_path() / "electra_plainfile").string();
  std::ofstream(f) << "x";
  try {
    fs::ensure_writable_dir(f + "/run", "output.dir");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create output.dir"), std::string::npos)
        << e.what();
  }
}

TEST(Fs, ExistingFileInsteadOfDirectory) {
  const std::string f = (std::filesystem::temp_directory_path() / "electra_notadir").string();
  std::ofstream(f) << "x";
  try {
    fs::ensure_writable_dir(f, "output.dir");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a directory"), std::string::npos);
  }
}

TEST(TensorBoard, EventEncodingMatchesHandAssembledBytes) {
  // Event{wall_time=1.5, step=3, summary{value{tag="a", simple_value=2.0}}}
  const std::string ev = encode_scalar_event(1.5, 3, {{"a", 2.0f}});
  const std::string expected =
      std::string("\x09\x00\x00\x00\x00\x00\x00\xf8\x3f", 9) +  // field 1, fixed64 1.5
      std::string("\x10\x03", 2) +                              // field 2, varint 3
      std::string(
          "\x2a\x0a\x0a\x08\x0a\x01"
          "a"
          "\x15\x00\x00\x00\x40",
          12);
  EXPECT_EQ(ev, expected);
  // TFRecord framing: u64 length, masked crc of the length, data, masked crc of the data.
  const std::string rec = tfrecord_frame("abc");
  ASSERT_EQ(rec.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(rec.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  uint32_t crc_len, crc_data;
  std::memcpy(&crc_len, rec.data() + 8, 4);
  std::memcpy(&crc_data, rec.data() + 15, 4);
  EXPECT_EQ(crc32c_unmask(crc_len), crc32c(rec.data(), 8));
  EXPECT_EQ(crc32c_unmask(crc_data), crc32c("abc"));
}

}  // namespace
}  // namespace electra
