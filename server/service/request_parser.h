// Copyright 2026 The dataloader Authors.
//
// ParseRequest: a request message from the raw bytes of a call, strictly. Protobuf's own
// parsing silently truncates an integer too large for its uint32 field (shard_count 2^32
// would read as 0, i.e. 1) and rejects a string that is not UTF-8 with an error that names
// nothing (after logging it to stderr). So the bytes are first walked field by field against
// the message's descriptor: an over-large uint32, a string that is not UTF-8 or bytes that do
// not form a message are refused with INVALID_ARGUMENT naming the field and what was wrong.
// Only then does protobuf parse them.
//
// ValidateStreamRequest then checks a parsed StreamBatchesRequest against the pipeline it
// names, as the service does before it admits the stream: the shard fields, the resume token
// (resume_token.h), max_batches. It is what the service calls, so that the fuzzer of requests
// (tests/fuzz/stream_request_fuzzer.cc) reaches exactly the service's validation.
#ifndef SERVER_SERVICE_REQUEST_PARSER_H_
#define SERVER_SERVICE_REQUEST_PARSER_H_

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataloader/v1/data_loader.pb.h"
#include "google/protobuf/message.h"
#include "server/pipeline/pipeline_definition.h"
#include "server/pipeline/stream_pipeline.h"
#include "server/service/resume_token.h"

namespace dataloader::server {

// Fills `message` from `bytes`. InvalidArgument naming the message type and the field.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message& message);

// What a valid request asks of its pipeline.
struct ValidStreamRequest {
  StreamIdentity identity;  // What its resume tokens are bound to.
  StreamRequest request;    // For BuildStreamPipeline (from the token's batch on).
};

// `request` checked against `definition` (the pipeline it names): InvalidArgument naming the
// field for a shard_index not below shard_count (0 means 1) or a resume_token that is not one
// of this stream's or points past the end of its epoch. max_batches past 2^63 means "to the
// end", like 0.
absl::StatusOr<ValidStreamRequest> ValidateStreamRequest(const v1::StreamBatchesRequest& request,
                                                         const PipelineDefinition& definition);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_REQUEST_PARSER_H_
