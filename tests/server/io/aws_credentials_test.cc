// Copyright 2026 The dataloader Authors.

#include "server/io/aws_credentials.h"

#include <stdlib.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dataloader::server::io {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class AwsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                             "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"}) {
      unsetenv(name);
    }
  }
  void TearDown() override { SetUp(); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

constexpr char kFile[] = R"(# comment
[default]
aws_access_key_id = DEFAULTKEY
aws_secret_access_key = defaultSecret/+=

[profile loader]
aws_access_key_id=LOADERKEY
aws_secret_access_key=loaderSecret
aws_session_token = loaderToken
)";

TEST_F(AwsCredentialsTest, EnvironmentVariables) {
  setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
  setenv("AWS_SESSION_TOKEN", "envToken", 1);
  absl::StatusOr<AwsCredentials> credentials = LoadAwsCredentials({});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "ENVKEY");
  EXPECT_EQ(credentials->secret_access_key, "envSecret");
  EXPECT_EQ(credentials->session_token, "envToken");
  EXPECT_THAT(credentials->source, HasSubstr("environment"));
}

TEST_F(AwsCredentialsTest, HalfOfTheEnvironmentIsAnError) {
  setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
  absl::StatusOr<AwsCredentials> credentials = LoadAwsCredentials({});
  EXPECT_TRUE(absl::IsInvalidArgument(credentials.status()));
  EXPECT_THAT(credentials.status().message(), HasSubstr("AWS_SECRET_ACCESS_KEY"));
}

TEST_F(AwsCredentialsTest, FileProfileDefaultAndNamed) {
  const std::string path = WriteFile("credentials", kFile);
  absl::StatusOr<AwsCredentials> credentials = LoadAwsCredentials({.credentials_file = path});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "DEFAULTKEY");
  EXPECT_EQ(credentials->secret_access_key, "defaultSecret/+=");
  EXPECT_EQ(credentials->session_token, "");
  credentials = LoadAwsCredentials({.credentials_file = path, .profile = "loader"});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "LOADERKEY");
  EXPECT_EQ(credentials->session_token, "loaderToken");
  setenv("AWS_PROFILE", "loader", 1);
  credentials = LoadAwsCredentials({.credentials_file = path});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "LOADERKEY");
}

TEST_F(AwsCredentialsTest, ConfiguredFileWinsOverTheEnvironment) {
  setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
  const std::string path = WriteFile("credentials", kFile);
  absl::StatusOr<AwsCredentials> credentials = LoadAwsCredentials({.credentials_file = path});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "DEFAULTKEY");
}

TEST_F(AwsCredentialsTest, SharedCredentialsFileVariableIsTheLastResort) {
  setenv("AWS_SHARED_CREDENTIALS_FILE", WriteFile("shared", kFile).c_str(), 1);
  absl::StatusOr<AwsCredentials> credentials = LoadAwsCredentials({});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key_id, "DEFAULTKEY");
}

TEST_F(AwsCredentialsTest, NothingConfiguredSaysHowToGiveCredentials) {
  absl::StatusOr<AwsCredentials> credentials = LoadAwsCredentials({});
  EXPECT_TRUE(absl::IsNotFound(credentials.status()));
  EXPECT_THAT(credentials.status().message(), HasSubstr("AWS_ACCESS_KEY_ID"));
  EXPECT_THAT(credentials.status().message(), HasSubstr("credentials_file"));
}

TEST_F(AwsCredentialsTest, FileErrorsNameFileLineAndProfileButNoSecret) {
  const std::string path =
      WriteFile("broken", "[default]\naws_access_key_id = K\naws_secret_access_key s3cr3tValue\n");
  absl::StatusOr<AwsCredentials> credentials = LoadAwsCredentials({.credentials_file = path});
  EXPECT_TRUE(absl::IsInvalidArgument(credentials.status()));
  EXPECT_THAT(credentials.status().message(), HasSubstr(path));
  EXPECT_THAT(credentials.status().message(), HasSubstr("line 3"));
  EXPECT_THAT(credentials.status().message(), Not(HasSubstr("s3cr3tValue")));

  credentials = LoadAwsCredentials(
      {.credentials_file = WriteFile("credentials", kFile), .profile = "nobody"});
  EXPECT_THAT(credentials.status().message(), HasSubstr("no profile 'nobody'"));
  credentials = LoadAwsCredentials(
      {.credentials_file = WriteFile("partial", "[default]\naws_access_key_id = K\n")});
  EXPECT_THAT(credentials.status().message(), HasSubstr("lacks"));
  credentials = LoadAwsCredentials({.credentials_file = "/nonexistent/credentials"});
  EXPECT_THAT(credentials.status().message(), HasSubstr("/nonexistent/credentials"));
}

}  // namespace
}  // namespace dataloader::server::io
