// Copyright 2026 The dataloader Authors.
//
// ParseRequest: a request message from the raw bytes of a call, strictly. Protobuf's own
// parsing silently truncates an integer too large for its uint32 field (shard_count 2^32
// would read as 0, i.e. 1) and rejects a string that is not UTF-8 with an error that names
// nothing (after logging it to stderr). So the bytes are first walked field by field against
// the message's descriptor: an over-large uint32, a string that is not UTF-8 or bytes that do
// not form a message are refused with INVALID_ARGUMENT naming the field and what was wrong.
// Only then does protobuf parse them.
#ifndef SERVER_SERVICE_REQUEST_PARSER_H_
#define SERVER_SERVICE_REQUEST_PARSER_H_

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace dataloader::server {

// Fills `message` from `bytes`. InvalidArgument naming the message type and the field.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message& message);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_REQUEST_PARSER_H_
