// Copyright 2026 The dataloader Authors.
//
// EncodeBatch: a CollatedBatch as the bytes of a dataloader.v1.Batch message, without copying
// the tensor payloads. Each tensor's data buffer becomes a gRPC slice of its own (given back
// to its BatchBufferPool when gRPC is done sending it); only the small headers around it are
// serialized by protobuf. The result parses as the same Batch a protobuf-built message would
// (protobuf accepts fields in any order), so clients see no difference; the server saves one full
// copy of every batch against serializing a v1::Batch, which is what a plain gRPC stream pays.
#ifndef SERVER_SERVICE_WIRE_BATCH_H_
#define SERVER_SERVICE_WIRE_BATCH_H_

#include <grpcpp/support/byte_buffer.h>

#include <string>

#include "server/pipeline/stream_pipeline.h"

namespace dataloader::server {

// Consumes `batch` (its tensor buffers move into the slices).
grpc::ByteBuffer EncodeBatch(CollatedBatch&& batch, const std::string& resume_token);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_WIRE_BATCH_H_
