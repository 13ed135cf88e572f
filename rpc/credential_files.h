// Copyright 2026 The dataloader Authors.
//
// Reading the files gRPC credentials are made from (certificates, keys, tokens), for server
// and client alike, with errors that name the option and the file: gRPC itself would only
// report a failed handshake or a server that could not start.
#ifndef RPC_CREDENTIAL_FILES_H_
#define RPC_CREDENTIAL_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dataloader {

// The contents of `path`, or FailedPrecondition naming `what` (the flag or option), the path
// and the OS error.
absl::StatusOr<std::string> ReadCredentialFile(absl::string_view what, const std::string& path);

// ReadCredentialFile, plus a check that the file is PEM holding `marker` (e.g. "CERTIFICATE",
// "PRIVATE KEY").
absl::StatusOr<std::string> ReadPemFile(absl::string_view what, const std::string& path,
                                        absl::string_view marker);

}  // namespace dataloader

#endif  // RPC_CREDENTIAL_FILES_H_
