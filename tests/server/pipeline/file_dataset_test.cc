// Copyright 2026 The dataloader Authors.
//
// FileDataset (image folder and list file) and the read_file op's confinement to the root.
#include "server/pipeline/file_dataset.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/cancellation.h"
#include "core/event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/ops/op_registry.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FileDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/file_dataset_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    root_ = dir_ + "/root";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& path, const std::string& content) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << content;
  }

  absl::StatusOr<Sample> Read(const FileDataset& dataset, int64_t index) {
    absl::StatusOr<std::unique_ptr<Op>> op =
        dataloader::testing::BuiltinOps().Create("read_file", {}, dataset.root());
    EXPECT_TRUE(op.ok()) << op.status();
    absl::StatusOr<Sample> sample = dataset.Load(index, 0);
    if (!sample.ok()) return sample;
    return (*op)->Run(*std::move(sample), TaskContext(token_, loop_, stage_));
  }

  std::string dir_, root_;
  CancellationToken token_;
  EventLoop loop_;
  std::string stage_ = "read";
};

TEST_F(FileDatasetTest, ImageFolderIsSortedLabeledAndFiltered) {
  Write(root_ + "/dog/b.jpg", "dog b");
  Write(root_ + "/dog/a.JPEG", "dog a");
  Write(root_ + "/dog/notes.txt", "not an image");
  Write(root_ + "/cat/sub/z.png", "cat z");
  Write(root_ + "/cat/y.jpg", "cat y");
  Write(root_ + "/ant/.keep", "");  // A class with no images keeps its label index.
  Write(root_ + "/MANIFEST", "files at the root are not samples");
  auto dataset = FileDataset::FromImageFolder(root_, FileDataset::DefaultExtensions());
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_THAT((*dataset)->classes(), ElementsAre("ant", "cat", "dog"));
  ASSERT_EQ((*dataset)->size(), 4);
  EXPECT_EQ((*dataset)->path(0), "cat/sub/z.png");
  EXPECT_EQ((*dataset)->path(1), "cat/y.jpg");
  EXPECT_EQ((*dataset)->path(2), "dog/a.JPEG");
  EXPECT_EQ((*dataset)->path(3), "dog/b.jpg");
  EXPECT_EQ((*dataset)->label(0), 1);
  EXPECT_EQ((*dataset)->label(3), 2);

  absl::StatusOr<Sample> sample = Read(**dataset, 2);
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(sample->path, "dog/a.JPEG");
  absl::StatusOr<Tensor*> encoded = sample->Find("encoded");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(std::string((*encoded)->data.begin(), (*encoded)->data.end()), "dog a");
  absl::StatusOr<Tensor*> label = sample->Find("label");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(*reinterpret_cast<const int64_t*>((*label)->data.data()), 2);

  // Same files, same listing fingerprint, also mounted elsewhere; one more file changes it.
  auto again = FileDataset::FromImageFolder(root_, FileDataset::DefaultExtensions());
  EXPECT_EQ((*again)->ContentFingerprint(), (*dataset)->ContentFingerprint());
  fs::copy(root_, dir_ + "/mounted_elsewhere", fs::copy_options::recursive);
  auto moved =
      FileDataset::FromImageFolder(dir_ + "/mounted_elsewhere", FileDataset::DefaultExtensions());
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ((*moved)->ContentFingerprint(), (*dataset)->ContentFingerprint());
  Write(root_ + "/ant/new.png", "x");
  auto changed = FileDataset::FromImageFolder(root_, FileDataset::DefaultExtensions());
  EXPECT_NE((*changed)->ContentFingerprint(), (*dataset)->ContentFingerprint());
}

TEST_F(FileDatasetTest, ImageFolderErrorsNameTheRoot) {
  auto missing = FileDataset::FromImageFolder(root_ + "/nope", {"jpg"});
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr("root '" + root_ + "/nope' does not exist"));
  Write(root_ + "/flat.jpg", "x");
  auto flat = FileDataset::FromImageFolder(root_, {"jpg"});
  EXPECT_THAT(flat.status().message(), HasSubstr("has no class folders"));
  Write(root_ + "/cls/a.bmp", "x");
  auto none = FileDataset::FromImageFolder(root_, {"jpg"});
  EXPECT_THAT(none.status().message(), HasSubstr("has no files with extension jpg"));
}

TEST_F(FileDatasetTest, ListFileParsesLabelsAndRefusesEscapes) {
  Write(root_ + "/a b.jpg", "spaced");
  Write(root_ + "/x/c.png", "c");
  Write(dir_ + "/list.txt", "# comment\n\na b.jpg 3\nx/c.png\n  x/c.png\t7  \n");
  auto dataset = FileDataset::FromListFile(root_, dir_ + "/list.txt");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ((*dataset)->size(), 3);
  EXPECT_EQ((*dataset)->path(0), "a b.jpg");
  EXPECT_EQ((*dataset)->label(0), 3);
  EXPECT_EQ((*dataset)->label(1), -1);
  EXPECT_EQ((*dataset)->label(2), 7);
  ASSERT_TRUE(Read(**dataset, 0).ok());

  Write(dir_ + "/up.txt", "ok.jpg\n../secret.jpg 1\n");
  auto up = FileDataset::FromListFile(root_, dir_ + "/up.txt");
  EXPECT_TRUE(absl::IsInvalidArgument(up.status()));
  EXPECT_THAT(up.status().message(),
              HasSubstr("up.txt' line 2: path '../secret.jpg' leaves the root"));
  Write(dir_ + "/abs.txt", "/etc/passwd\n");
  auto absolute = FileDataset::FromListFile(root_, dir_ + "/abs.txt");
  EXPECT_THAT(absolute.status().message(), HasSubstr("line 1: path '/etc/passwd' is absolute"));
  auto no_list = FileDataset::FromListFile(root_, dir_ + "/missing.txt");
  EXPECT_TRUE(absl::IsNotFound(no_list.status()));
  EXPECT_THAT(no_list.status().message(), HasSubstr("missing.txt"));
}

TEST_F(FileDatasetTest, ReadFileRefusesSymlinksOutOfTheRootAndNamesMissingFiles) {
  Write(dir_ + "/secret.jpg", "secret");
  Write(root_ + "/cls/real.jpg", "real");
  fs::create_directories(root_ + "/cls");
  fs::create_symlink(dir_ + "/secret.jpg", root_ + "/cls/link.jpg");
  auto dataset = FileDataset::FromImageFolder(root_, {"jpg"});
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ((*dataset)->size(), 2);
  ASSERT_EQ((*dataset)->path(0), "cls/link.jpg");
  absl::StatusOr<Sample> escaped = Read(**dataset, 0);
  EXPECT_TRUE(absl::IsPermissionDenied(escaped.status())) << escaped.status();
  EXPECT_THAT(escaped.status().message(),
              HasSubstr("file 'cls/link.jpg': read_file: 'cls/link.jpg' leads outside the "
                        "dataset root"));

  fs::remove(root_ + "/cls/real.jpg");
  absl::StatusOr<Sample> gone = Read(**dataset, 1);
  EXPECT_TRUE(absl::IsNotFound(gone.status()));
  EXPECT_THAT(gone.status().message(), HasSubstr("file 'cls/real.jpg': read_file: cannot open"));
}

// A list names whatever is on disk when a sample is read: a FIFO (which would block a pool
// thread forever on open or read), a directory, a device behind a symlink inside the root.
TEST_F(FileDatasetTest, ReadFileFailsNonRegularFilesAtOnceWithoutBlocking) {
  Write(root_ + "/cls/good.jpg", "good");
  ASSERT_EQ(mkfifo((root_ + "/cls/pipe.jpg").c_str(), 0600), 0);
  fs::create_directories(root_ + "/cls/dir.jpg");
  Write(root_ + "/list.txt", "cls/pipe.jpg 0\ncls/dir.jpg 0\ncls/good.jpg 0\ncls/inside.jpg 0\n");
  fs::create_symlink("good.jpg", root_ + "/cls/inside.jpg");  // Relative, stays inside.
  auto dataset = FileDataset::FromListFile(root_, root_ + "/list.txt");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  absl::StatusOr<Sample> fifo = Read(**dataset, 0);
  EXPECT_TRUE(absl::IsInvalidArgument(fifo.status())) << fifo.status();
  EXPECT_THAT(fifo.status().message(), HasSubstr("file 'cls/pipe.jpg': read_file: not a regular "
                                                 "file (a FIFO)"));
  absl::StatusOr<Sample> dir = Read(**dataset, 1);
  EXPECT_THAT(dir.status().message(), HasSubstr("not a regular file (a directory)"));
  absl::StatusOr<Sample> good = Read(**dataset, 2);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->tensors.back().data.size(), 4u);
  absl::StatusOr<Sample> inside = Read(**dataset, 3);
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_EQ(inside->tensors.back().data, good->tensors.back().data);
}

TEST_F(FileDatasetTest, ReadFileCapsTheFileSize) {
  Write(root_ + "/cls/big.jpg", std::string(1000, 'x'));
  auto dataset = FileDataset::FromImageFolder(root_, {"jpg"});
  ASSERT_TRUE(dataset.ok());
  absl::StatusOr<std::unique_ptr<Op>> op = dataloader::testing::BuiltinOps().Create(
      "read_file", {{"max_bytes", "999"}}, (*dataset)->root());
  ASSERT_TRUE(op.ok()) << op.status();
  absl::StatusOr<Sample> read =
      (*op)->Run(*(*dataset)->Load(0, 0), TaskContext(token_, loop_, stage_));
  EXPECT_THAT(read.status().message(), HasSubstr("file is 1000 bytes, over max_bytes 999"));
}

TEST_F(FileDatasetTest, TheFilesystemRootIsNotADatasetRoot) {
  auto dataset = FileDataset::FromListFile("/", "/dev/null");
  EXPECT_TRUE(absl::IsInvalidArgument(dataset.status()));
  EXPECT_THAT(dataset.status().message(), HasSubstr("is the filesystem's root"));
  absl::StatusOr<std::unique_ptr<Op>> op =
      dataloader::testing::BuiltinOps().Create("read_file", {}, "/");
  EXPECT_THAT(op.status().message(), HasSubstr("the dataset root must not be '/'"));
}

TEST_F(FileDatasetTest, ReadFileNeedsAFileSource) {
  absl::StatusOr<std::unique_ptr<Op>> op =
      dataloader::testing::BuiltinOps().Create("read_file", {});
  EXPECT_TRUE(absl::IsInvalidArgument(op.status()));
  EXPECT_THAT(op.status().message(), HasSubstr("needs a pipeline whose source is files"));
}

}  // namespace
}  // namespace dataloader::server
