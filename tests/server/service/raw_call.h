// Copyright 2026 The dataloader Authors.
//
// Calls with hand-made request bytes, for tests of requests no generated stub can send (a
// uint32 field past 2^32, a string that is not UTF-8, garbage): the generic stub sends the
// bytes as they are and hands back the raw responses.
//
//   RawCallResult result = RawCall(target, "/dataloader.v1.DataLoader/StreamBatches", bytes);
#ifndef TESTS_SERVER_SERVICE_RAW_CALL_H_
#define TESTS_SERVER_SERVICE_RAW_CALL_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace dataloader::testing {

struct RawCallResult {
  std::vector<std::string> responses;
  grpc::Status status;
};

// Sends `request` to `method` and reads every response until the call ends (at most 30 s).
inline RawCallResult RawCall(const std::string& target, const std::string& method,
                             const std::string& request) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  grpc::GenericStub stub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, method, &queue);
  RawCallResult result;
  auto await = [&queue] {
    void* tag = nullptr;
    bool ok = false;
    return queue.Next(&tag, &ok) && ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  bool ok = await();
  grpc::Slice slice(request);
  grpc::ByteBuffer bytes(&slice, 1);
  if (ok) {
    call->Write(bytes, reinterpret_cast<void*>(2));
    ok = await();
  }
  if (ok) {
    call->WritesDone(reinterpret_cast<void*>(3));
    ok = await();
  }
  while (ok) {
    grpc::ByteBuffer response;
    call->Read(&response, reinterpret_cast<void*>(4));
    if (!await()) break;
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string text;
    for (const grpc::Slice& part : slices) {
      text.append(reinterpret_cast<const char*>(part.begin()), part.size());
    }
    result.responses.push_back(std::move(text));
  }
  call->Finish(&result.status, reinterpret_cast<void*>(5));
  await();
  queue.Shutdown();
  void* tag = nullptr;
  bool drained = false;
  while (queue.Next(&tag, &drained)) {
  }
  return result;
}

}  // namespace dataloader::testing

#endif  // TESTS_SERVER_SERVICE_RAW_CALL_H_
