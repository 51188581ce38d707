// SMC-2019 layout: writer -> reader round trip and the reader's bad-input errors.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "io/hdf5/h5_handle.hpp"
#include "io/hdf5/h5_lock.hpp"
#include "io/hdf5/sample_source.hpp"
#include "io/hdf5/smc_file.hpp"
#include "tests/io/hdf5/test_helpers.hpp"

namespace cbednet::io {
namespace {

using testing::make_sample;
using testing::TempDir;

void expect_same(const SmcSample& a, const SmcSample& b) {
  EXPECT_EQ(a.group_name, b.group_name);
  EXPECT_EQ(a.space_group, b.space_group);
  EXPECT_EQ(a.size, b.size);
  ASSERT_EQ(a.cbed_stack.size(), b.cbed_stack.size());
  for (std::size_t j = 0; j < a.cbed_stack.size(); ++j) ASSERT_EQ(a.cbed_stack[j], b.cbed_stack[j]) << "pixel " << j;
  EXPECT_EQ(a.material, b.material);
  EXPECT_EQ(a.formula, b.formula);
  EXPECT_EQ(a.energy_keV, b.energy_keV);
  EXPECT_EQ(a.z_dirs, b.z_dirs);
  EXPECT_EQ(a.semi_angles_rad, b.semi_angles_rad);
  EXPECT_EQ(a.d_hkls_angstrom, b.d_hkls_angstrom);
  EXPECT_EQ(a.abc_angstrom, b.abc_angstrom);
  EXPECT_EQ(a.angles_degree, b.angles_degree);
}

class SmcRoundTrip : public ::testing::TestWithParam<bool> {};

TEST_P(SmcRoundTrip, PixelsLabelsAttributesIdenticalGroupsSortedNumerically) {
  TempDir dir("smc-rt");
  const std::string path = dir.file("batch_train_0.h5");
  // Written out of order, with gaps, and mixing samples with and without optional attributes.
  const std::vector<SmcSample> written = {make_sample(10, 0, 16), make_sample(1, 3, 16, false), make_sample(1, 0, 16),
                                          make_sample(2, 9, 16)};
  {
    SmcFileWriter writer(path);
    writer.set_fixed_length_strings(GetParam());
    for (const auto& s : written) writer.write(s);
    EXPECT_FALSE(std::filesystem::exists(path));  // only the temp file exists before commit
    writer.commit();
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  SmcFileReader reader(path);
  ASSERT_EQ(reader.size(), 4U);
  const std::vector<std::string> expected_order = {"sample_1_0", "sample_1_3", "sample_2_9", "sample_10_0"};
  EXPECT_EQ(reader.group_names(), expected_order);
  for (std::size_t i = 0; i < reader.size(); ++i) {
    const auto it = std::find_if(written.begin(), written.end(),
                                 [&](const SmcSample& s) { return s.group_name == reader.group_names()[i]; });
    ASSERT_NE(it, written.end());
    expect_same(*it, reader.read(i));
    EXPECT_EQ(reader.space_group(i), it->space_group);
    EXPECT_EQ(reader.material(i), it->material.value_or(""));
  }
  EXPECT_FALSE(reader.read(1).material.has_value());  // sample_1_3 was written without optional attributes
}

INSTANTIATE_TEST_SUITE_P(StringEncodings, SmcRoundTrip, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "FixedLength" : "VariableLength"; });

TEST(SmcFileWriter, WithoutCommitLeavesNoFile) {
  TempDir dir("smc-nocommit");
  const std::string path = dir.file("a.h5");
  std::string temp;
  {
    SmcFileWriter writer(path);
    temp = writer.temp_path();
    writer.write(make_sample(0, 0, 8));
    EXPECT_TRUE(std::filesystem::exists(temp));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(temp));
}

TEST(SmcFileWriter, RejectsBadSamples) {
  TempDir dir("smc-badw");
  SmcFileWriter writer(dir.file("a.h5"));
  auto s = make_sample(0, 0, 8);
  s.space_group = 231;
  EXPECT_THROW(writer.write(s), InvalidArgument);
  s = make_sample(0, 0, 8);
  s.cbed_stack.pop_back();
  EXPECT_THROW(writer.write(s), InvalidArgument);
  writer.write(make_sample(0, 0, 8));
  EXPECT_THROW(writer.write(make_sample(0, 0, 8)), InvalidArgument);  // duplicate group
}

// --- bad input: every error is an IoError naming the file (and the group when there is one).

template <typename F>
std::string io_error_of(F&& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("WRONG EXCEPTION TYPE: ") + e.what();
  }
  return "NO EXCEPTION";
}

// Writes one group by hand (bypassing the writer's checks) through `fill(group)`.
template <typename F>
void write_raw(const std::string& path, const std::string& group_name, F&& fill) {
  h5::silence_hdf5_errors();
  h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), h5::Kind::file);
  ASSERT_TRUE(file.valid());
  h5::Handle group(H5Gcreate2(file.get(), group_name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), h5::Kind::group);
  fill(group.get());
}

void write_stack(hid_t group, std::vector<hsize_t> dims, float value) {
  h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), h5::Kind::dataspace);
  h5::Handle dset(H5Dcreate2(group, "cbed_stack", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  h5::Kind::dataset);
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<float> data(n, 1.0F);
  data[n / 2] = value;
  H5Dwrite(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
}

TEST(SmcFileReaderErrors, MissingPath) {
  const auto msg = io_error_of([] { SmcFileReader r("/nonexistent/dir/batch_train_0.h5"); });
  EXPECT_NE(msg.find("file /nonexistent/dir/batch_train_0.h5"), std::string::npos) << msg;
}

TEST(SmcFileReaderErrors, NotHdf5) {
  TempDir dir("smc-nothdf5");
  const std::string path = dir.file("text.h5");
  std::ofstream(path) << "this is not an HDF5 file\n";
  const auto msg = io_error_of([&] { SmcFileReader r(path); });
  EXPECT_NE(msg.find("file " + path), std::string::npos) << msg;
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;
}

TEST(SmcFileReaderErrors, TruncatedFile) {
  TempDir dir("smc-trunc");
  const std::string path = dir.file("t.h5");
  {
    SmcFileWriter w(path);
    for (int i = 0; i < 4; ++i) w.write(make_sample(i, 0, 32));
    w.commit();
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  const auto msg = io_error_of([&] {
    SmcFileReader r(path);
    for (std::size_t i = 0; i < r.size(); ++i) r.read(i);
  });
  EXPECT_NE(msg.find("file " + path), std::string::npos) << msg;
}

TEST(SmcFileReaderErrors, EmptyFile) {
  TempDir dir("smc-empty");
  const std::string path = dir.file("e.h5");
  { h5::Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), h5::Kind::file); }
  const auto msg = io_error_of([&] { SmcFileReader r(path); });
  EXPECT_NE(msg.find("no sample_<i>_<k> groups"), std::string::npos) << msg;
  const std::string zero = dir.file("zero.h5");
  std::ofstream{zero};
  EXPECT_NE(io_error_of([&] { SmcFileReader r(zero); }).find("file " + zero), std::string::npos);
}

TEST(SmcFileReaderErrors, GroupWithoutStack) {
  TempDir dir("smc-nostack");
  const std::string path = dir.file("g.h5");
  write_raw(path, "sample_3_1", [](hid_t g) { h5::write_string_attribute(g, "space_group", "12", "test"); });
  SmcFileReader r(path);
  EXPECT_EQ(r.space_group(0), 12);
  const auto msg = io_error_of([&] { r.read(0); });
  EXPECT_NE(msg.find("file " + path + ", group sample_3_1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cbed_stack"), std::string::npos) << msg;
}

TEST(SmcFileReaderErrors, WrongShape) {
  TempDir dir("smc-shape");
  for (const auto& dims : {std::vector<hsize_t>{2, 8, 8}, std::vector<hsize_t>{3, 8, 6}, std::vector<hsize_t>{3, 64}}) {
    const std::string path = dir.file("s.h5");
    write_raw(path, "sample_0_0", [&](hid_t g) {
      h5::write_string_attribute(g, "space_group", "12", "test");
      write_stack(g, dims, 1.0F);
    });
    SmcFileReader r(path);
    const auto msg = io_error_of([&] { r.read(0); });
    EXPECT_NE(msg.find("file " + path + ", group sample_0_0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected (3, S, S)"), std::string::npos) << msg;
  }
}

TEST(SmcFileReaderErrors, BadSpaceGroup) {
  TempDir dir("smc-sg");
  for (const std::string text : {"abc", "0", "231", "12x", ""}) {
    const std::string path = dir.file("sg.h5");
    write_raw(path, "sample_5_2", [&](hid_t g) {
      h5::write_string_attribute(g, "space_group", text, "test");
      write_stack(g, {3, 4, 4}, 1.0F);
    });
    SmcFileReader r(path);
    const auto msg = io_error_of([&] { r.space_group(0); });
    EXPECT_NE(msg.find("file " + path + ", group sample_5_2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("space_group"), std::string::npos) << msg;
  }
  const std::string path = dir.file("nosg.h5");
  write_raw(path, "sample_5_2", [&](hid_t g) { write_stack(g, {3, 4, 4}, 1.0F); });
  EXPECT_NE(io_error_of([&] { SmcFileReader(path).space_group(0); }).find("no space_group (attribute or dataset)"),
            std::string::npos);
  EXPECT_FALSE(SmcFileReader(path).space_group_if_labelled(0).has_value());
}

// `space_group` in every form writers of this layout produce: an attribute or a dataset (scalar or [1]), holding a
// variable- or fixed-length string (NULLPAD or NULLTERM, padded with blanks or not) or an integer of any width.
enum class Holder { attribute, scalar_dataset, one_element_dataset };

void write_space_group(hid_t group, Holder holder, hid_t file_type, hid_t memory_type, const void* value) {
  const hsize_t one = 1;
  h5::Handle space(holder == Holder::one_element_dataset ? H5Screate_simple(1, &one, nullptr) : H5Screate(H5S_SCALAR),
                   h5::Kind::dataspace);
  if (holder == Holder::attribute) {
    h5::Handle a(H5Acreate2(group, "space_group", file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                 h5::Kind::attribute);
    ASSERT_GE(H5Awrite(a.get(), memory_type, value), 0);
  } else {
    h5::Handle d(H5Dcreate2(group, "space_group", file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 h5::Kind::dataset);
    ASSERT_GE(H5Dwrite(d.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value), 0);
  }
}

TEST(SmcFileReader, SpaceGroupInEveryLayoutVariant) {
  TempDir dir("smc-sg-variants");
  int variants = 0;
  for (const Holder holder : {Holder::attribute, Holder::scalar_dataset, Holder::one_element_dataset}) {
    const auto check = [&](const std::string& what, hid_t file_type, hid_t memory_type, const void* value) {
      const std::string path = dir.file("v" + std::to_string(variants++) + ".h5");
      write_raw(path, "sample_1_0", [&](hid_t g) {
        write_space_group(g, holder, file_type, memory_type, value);
        write_stack(g, {3, 4, 4}, 1.0F);
      });
      const SmcFileReader reader(path);
      EXPECT_EQ(reader.space_group(0), 166) << what << ", holder " << static_cast<int>(holder);
      EXPECT_EQ(reader.read(0).space_group, 166) << what;
    };
    for (const H5T_str_t pad : {H5T_STR_NULLPAD, H5T_STR_NULLTERM, H5T_STR_SPACEPAD}) {
      h5::Handle fixed(H5Tcopy(H5T_C_S1), h5::Kind::datatype);
      H5Tset_size(fixed.get(), 6);
      H5Tset_strpad(fixed.get(), pad);
      const char text[7] = "166\0\0\0";
      check("fixed-length string, pad " + std::to_string(pad), fixed.get(), fixed.get(), text);
    }
    h5::Handle variable(H5Tcopy(H5T_C_S1), h5::Kind::datatype);
    H5Tset_size(variable.get(), H5T_VARIABLE);
    const char* text = " 166 ";
    check("variable-length string", variable.get(), variable.get(), &text);
    const std::int16_t i16 = 166;
    check("int16", H5T_STD_I16LE, H5T_NATIVE_INT16, &i16);
    const std::int64_t i64 = 166;
    check("int64 big-endian", H5T_STD_I64BE, H5T_NATIVE_INT64, &i64);
    const std::uint8_t u8 = 166;
    check("uint8", H5T_STD_U8LE, H5T_NATIVE_UINT8, &u8);
  }
  EXPECT_EQ(variants, 21);
  // A float is neither: a clear error naming the group.
  const std::string path = dir.file("float.h5");
  write_raw(path, "sample_1_0", [&](hid_t g) {
    const double value = 166;
    write_space_group(g, Holder::scalar_dataset, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
    write_stack(g, {3, 4, 4}, 1.0F);
  });
  const auto msg = io_error_of([&] { SmcFileReader(path).space_group(0); });
  EXPECT_NE(msg.find("group sample_1_0, dataset 'space_group': neither a string nor an integer"), std::string::npos)
      << msg;
}

TEST(SmcFileReaderErrors, NonFinitePixels) {
  TempDir dir("smc-nan");
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const std::string path = dir.file("n.h5");
    write_raw(path, "sample_0_7", [&](hid_t g) {
      h5::write_string_attribute(g, "space_group", "225", "test");
      write_stack(g, {3, 4, 4}, bad);
    });
    SmcFileReader r(path);
    const auto msg = io_error_of([&] { r.read(0); });
    EXPECT_NE(msg.find("file " + path + ", group sample_0_7"), std::string::npos) << msg;
    EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
  }
}

TEST(SmcFileReader, UnreadableFloatAttributesAreIgnored) {
  TempDir dir("smc-f128");
  const std::string path = dir.file("f.h5");
  write_raw(path, "sample_0_0", [&](hid_t g) {
    h5::write_string_attribute(g, "space_group", "2", "test");
    write_stack(g, {3, 4, 4}, 1.0F);
    // A 2-element abc (wrong count) and a string where numbers belong: neither may fail the read.
    const double two[2] = {1.0, 2.0};
    const hsize_t dims[1] = {2};
    h5::write_double_attribute(g, "abc_angstrom", two, dims, 1, "test");
    h5::write_string_attribute(g, "angles_degree", "garbage", "test");
  });
  const auto s = SmcFileReader(path).read(0);
  EXPECT_EQ(s.space_group, 2);
  EXPECT_FALSE(s.abc_angstrom.has_value());
  EXPECT_FALSE(s.angles_degree.has_value());
}

}  // namespace
// The Debian HDF5 is not thread-safe, so closing a handle must take the library lock like every other call: a
// handle can die outside the scope that locked for its use (a class member, a file evicted from a cache).
TEST(Hdf5Handles, CloseWaitsForTheLibraryLock) {
  TempDir dir("h5-close-lock");
  const std::string path = dir.file("batch_train_0.h5");
  {
    SmcFileWriter writer(path);
    writer.write(make_sample(0, 0, 8));
    writer.commit();
  }
  auto reader = std::make_unique<SmcFileReader>(path);
  std::atomic<bool> closed{false};
  std::unique_lock lock(h5::library_mutex());
  std::thread closer([&] {
    reader.reset();  // H5Fclose
    closed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(closed.load()) << "a handle was closed while another thread held the HDF5 library lock";
  lock.unlock();
  closer.join();
  EXPECT_TRUE(closed.load());
}

// More files than the SMC source keeps open, read on one thread (files are closed as they leave the cache) while
// another thread writes files: every read returns the written pixels, and nothing corrupts the library's heap
// (run under ASan in CI).
TEST(SmcSource, ReadsWhileAnotherThreadWritesHdf5) {
  TempDir dir("smc-threads");
  constexpr int files = 12, S = 8;
  for (int f = 0; f < files; ++f) {
    SmcFileWriter writer(dir.file("batch_train_" + std::to_string(f) + ".h5"));
    writer.write(make_sample(f, 0, S));
    writer.commit();
  }
  const auto source =
      open_source(dir.path().string(), SourceOptions{.split = "train", .preprocess = {}, .skip_bad = false});
  ASSERT_EQ(source->size(), static_cast<std::size_t>(files));
  std::vector<std::vector<float>> first(files, std::vector<float>(3 * S * S));
  for (int i = 0; i < files; ++i) source->read(static_cast<std::size_t>(i), first[i].data());

  std::atomic<bool> done{false};
  std::thread writer_thread([&] {
    for (int round = 0; !done.load(); ++round) {
      SmcFileWriter writer(dir.file("other_" + std::to_string(round % 3) + ".h5"));
      writer.write(make_sample(round, 1, S));
      writer.commit();
    }
  });
  std::vector<float> pixels(3 * S * S);
  for (int pass = 0; pass < 20; ++pass)
    for (int i = 0; i < files; ++i) {
      source->read(static_cast<std::size_t>(i), pixels.data());
      ASSERT_EQ(pixels, first[i]) << "sample " << i << ", pass " << pass;
    }
  done = true;
  writer_thread.join();
}

}  // namespace cbednet::io
