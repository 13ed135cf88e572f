// Copyright 2026 The dataloader Authors.
//
// dataloader_client._native: the Python package's native backend, pybind11 over the C++
// client library (client/). Used by dataloader_client/_native_backend.py, never directly:
//
//   stream = _native.BatchStream(target, failover_targets, security, pipeline, shard_index,
//                                shard_count, epoch, seed, resume_token, max_batches,
//                                prefetch, max_retries, initial_backoff_s, max_backoff_s)
//   while (item := stream.next()) is not None:
//       sequence, epoch, resume_token, sample_ids, tensors = item  # tensors: [(name, dtype,
//       array)]
//
// Receiving, parsing, reconnecting and prefetching run on the C++ stream's reader thread,
// which never takes the GIL; next() releases the GIL while it waits. The arrays are numpy
// views of the received batch (ReceivedBatch: payloads in gRPC's memory, copied at most
// once): each array's base is a TensorData object that exposes the same bytes through the
// buffer protocol and holds the batch, so the batch lives as long as any of its arrays.
//
// Errors raise dataloader_client.DataLoaderError(code, message) with the gRPC status code.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/batch_stream.h"
#include "client/client_options.h"
#include "client/list_pipelines.h"
#include "client/received_batch.h"
#include "client/replica_stream.h"
#include "client/tensor_view.h"

namespace py = pybind11;

namespace dataloader::client::python {
namespace {

// A Python str from bytes that should be UTF-8 but come from the network.
py::str Text(const std::string& bytes) {
  PyObject* text =
      PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace");
  if (text == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(text);
}

// Raises dataloader_client.DataLoaderError(code, message); absl's codes are gRPC's.
[[noreturn]] void Raise(const absl::Status& status) {
  py::object error = py::module_::import("dataloader_client._errors").attr("DataLoaderError");
  py::tuple args =
      py::make_tuple(static_cast<int>(status.code()), Text(std::string(status.message())));
  PyErr_SetObject(error.ptr(), args.ptr());
  throw py::error_already_set();
}

ClientSecurityOptions SecurityFrom(const py::dict& security) {
  ClientSecurityOptions options;
  auto text = [&](const char* key) -> std::string {
    if (!security.contains(key) || security[key].is_none()) return {};
    return security[key].cast<std::string>();
  };
  auto flag = [&](const char* key) {
    return security.contains(key) && !security[key].is_none() && security[key].cast<bool>();
  };
  options.tls = flag("tls");
  options.tls_ca_file = text("tls_ca_file");
  options.tls_cert_file = text("tls_cert_file");
  options.tls_key_file = text("tls_key_file");
  options.tls_server_name_override = text("tls_server_name");
  options.auth_token_file = text("auth_token_file");
  options.auth_token = text("auth_token");
  options.allow_insecure = flag("allow_insecure");
  return options;
}

// The numpy dtype of each wire DType (index = the enum's value). bfloat16 has no numpy type:
// its raw bits come as uint16 (dataloader_client.torch views them as torch.bfloat16).
constexpr const char* kNumpyFormats[] = {nullptr, "|u1", "|i1", "<i2", "<i4", "<i8",
                                         "<f2",   "<u2", "<f4", "<f8", "|b1"};

py::dtype NumpyDtype(v1::DType dtype) {
  // Created once; never destroyed (module-lifetime objects released at interpreter exit would
  // need the GIL in a static destructor).
  static std::vector<py::dtype>* dtypes = [] {
    auto* all = new std::vector<py::dtype>();
    for (const char* format : kNumpyFormats) {
      all->push_back(format == nullptr ? py::dtype("|u1") : py::dtype(format));
    }
    return all;
  }();
  return (*dtypes)[static_cast<size_t>(dtype)];
}

// One array's bytes and the batch that holds them: the base of the numpy array, and a
// buffer-protocol object of its own (memoryview(array.base) gives the same bytes).
struct TensorData {
  std::shared_ptr<const ReceivedBatch> batch;
  void* data = nullptr;
  py::ssize_t itemsize = 1;
  std::string format;
  std::vector<py::ssize_t> shape;
};

py::array ArrayOver(const std::shared_ptr<const ReceivedBatch>& batch, const void* data,
                    v1::DType dtype, const std::vector<int64_t>& shape) {
  py::dtype numpy_dtype = NumpyDtype(dtype);
  auto owner = std::make_unique<TensorData>();
  owner->batch = batch;
  owner->data = const_cast<void*>(data);
  owner->itemsize = numpy_dtype.itemsize();
  owner->format = py::str(numpy_dtype.attr("char")).cast<std::string>();
  owner->shape.assign(shape.begin(), shape.end());
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  py::object base = py::cast(std::move(owner));
  // The batch is ours alone after gRPC handed it over: the arrays may be written (torch
  // warns about read-only arrays and would otherwise need a copy).
  return py::array(numpy_dtype, std::move(dims), {}, data, base);
}

// (sequence, epoch, resume_token, sample_ids, [(name, dtype, array), ...]).
py::tuple ToPython(ReceivedBatch received) {
  auto batch = std::make_shared<const ReceivedBatch>(std::move(received));
  py::list tensors;
  for (const ReceivedTensor& tensor : batch->tensors()) {
    tensors.append(
        py::make_tuple(Text(tensor.name), static_cast<int>(tensor.dtype),
                       ArrayOver(batch, tensor.data.data(), tensor.dtype, tensor.shape)));
  }
  py::array sample_ids = ArrayOver(batch, batch->sample_ids().data(), v1::DTYPE_INT64,
                                   {static_cast<int64_t>(batch->sample_ids().size())});
  return py::make_tuple(batch->sequence(), batch->epoch(), py::bytes(batch->resume_token()),
                        std::move(sample_ids), std::move(tensors));
}

// One StreamBatches stream (with its prefetch, resume and failover) of ReceivedBatches.
// Thread-safe as ReceivedBatchStream: next() from one thread, cancel() from any.
class NativeStream {
 public:
  NativeStream(const std::string& target, std::vector<std::string> failover_targets,
               const py::dict& security, const std::string& pipeline, uint32_t shard_index,
               uint32_t shard_count, uint64_t epoch, uint64_t seed, const py::bytes& resume_token,
               uint64_t max_batches, int prefetch, int max_retries, double initial_backoff_s,
               double max_backoff_s) {
    ClientOptions options{.target = target,
                          .failover_targets = std::move(failover_targets),
                          .max_retries = max_retries,
                          .initial_backoff = absl::Seconds(initial_backoff_s),
                          .max_backoff = absl::Seconds(max_backoff_s),
                          .prefetch = prefetch,
                          .security = SecurityFrom(security)};
    v1::StreamBatchesRequest request;
    request.set_pipeline(pipeline);
    request.set_shard_index(shard_index);
    request.set_shard_count(shard_count);
    request.set_epoch(epoch);
    request.set_seed(seed);
    request.set_resume_token(std::string(resume_token));
    request.set_max_batches(max_batches);
    absl::StatusOr<std::unique_ptr<ReceivedBatchStream>> stream;
    {
      py::gil_scoped_release release;
      stream = ReceivedBatchStream::Open(options, std::move(request));
    }
    if (!stream.ok()) Raise(stream.status());
    stream_ = std::shared_ptr<ReceivedBatchStream>(*std::move(stream));
  }

  NativeStream(const NativeStream&) = delete;
  NativeStream& operator=(const NativeStream&) = delete;

  ~NativeStream() { Close(); }

  // The next batch as a tuple, None at the clean end; raises DataLoaderError.
  py::object Next() {
    // A reference of its own: close() from another thread while this one waits without the
    // GIL cancels the stream, and the last of the two to let go destroys it.
    std::shared_ptr<ReceivedBatchStream> stream = stream_;
    if (stream == nullptr) Raise(absl::CancelledError("the batch stream was closed"));
    absl::StatusOr<std::optional<ReceivedBatch>> next;
    {
      py::gil_scoped_release release;
      next = stream->Next();
      stream.reset();  // Joins the reader thread if close() came meanwhile: not under the GIL.
    }
    if (!next.ok()) Raise(next.status());
    if (!next->has_value()) return py::none();
    copied_bytes_ += (*next)->copied_bytes();
    wire_bytes_ += (*next)->wire_bytes();
    return ToPython(**std::move(next));
  }

  void Cancel() {
    std::shared_ptr<ReceivedBatchStream> stream = stream_;
    if (stream == nullptr) return;
    py::gil_scoped_release release;
    stream->Cancel();
  }

  // Cancels the call and joins the reader thread (unless a next() in another thread still
  // holds the stream: then that thread does), without holding the GIL meanwhile.
  void Close() {
    if (stream_ == nullptr) return;
    closed_reconnects_ = stream_->reconnects();
    std::shared_ptr<ReceivedBatchStream> stream = std::move(stream_);
    py::gil_scoped_release release;
    stream->Cancel();
    stream.reset();
  }

  int reconnects() const { return stream_ == nullptr ? closed_reconnects_ : stream_->reconnects(); }
  uint64_t copied_bytes() const { return copied_bytes_; }
  uint64_t wire_bytes() const { return wire_bytes_; }

 private:
  // Touched with the GIL held only.
  std::shared_ptr<ReceivedBatchStream> stream_;
  int closed_reconnects_ = 0;  // reconnects() once closed.
  uint64_t copied_bytes_ = 0;  // Of the batches returned (see ReceivedBatch::copied_bytes).
  uint64_t wire_bytes_ = 0;
};

py::bytes ListPipelinesBytes(const std::string& target, const py::dict& security,
                             double timeout_s) {
  absl::StatusOr<std::vector<v1::PipelineInfo>> pipelines;
  {
    ClientOptions options{.target = target, .security = SecurityFrom(security)};
    py::gil_scoped_release release;
    pipelines = ListPipelines(options, absl::Seconds(timeout_s));
  }
  if (!pipelines.ok()) Raise(pipelines.status());
  v1::ListPipelinesResponse response;
  for (v1::PipelineInfo& info : *pipelines) *response.add_pipelines() = std::move(info);
  return py::bytes(response.SerializeAsString());
}

std::vector<std::string> Resolve(const std::string& spec) {
  absl::StatusOr<std::vector<std::string>> replicas;
  {
    py::gil_scoped_release release;
    replicas = ResolveReplicas(spec);
  }
  if (!replicas.ok()) Raise(replicas.status());
  return *std::move(replicas);
}

void ValidateSecurity(const std::string& target, const py::dict& security) {
  if (absl::Status valid = ValidateClientSecurityOptions(SecurityFrom(security), target);
      !valid.ok()) {
    Raise(valid);
  }
}

// For tests: parses serialized Batch bytes, cut into slices at `cuts`, as a received
// message is (the same tuple as BatchStream.next()), plus the payload bytes copied.
py::tuple ParseBatch(const py::bytes& message, const std::vector<size_t>& cuts) {
  const std::string bytes(message);
  std::vector<grpc::Slice> slices;
  size_t start = 0;
  for (size_t cut : cuts) {
    if (cut < start || cut > bytes.size()) {
      throw py::value_error(
          absl::StrCat("cut ", cut, " is outside [", start, ", ", bytes.size(), "]"));
    }
    slices.emplace_back(bytes.substr(start, cut - start));
    start = cut;
  }
  slices.emplace_back(bytes.substr(start));
  absl::StatusOr<ReceivedBatch> batch = ReceivedBatch::Parse(std::move(slices));
  if (!batch.ok()) Raise(batch.status());
  const size_t copied = batch->copied_bytes();
  return py::make_tuple(ToPython(*std::move(batch)), copied);
}

}  // namespace
}  // namespace dataloader::client::python

PYBIND11_MODULE(_native, module) {
  using namespace ::dataloader::client::python;  // NOLINT: the module's own definitions.
  module.doc() =
      "dataloader_client's native backend: the C++ client library (receiving, parsing, "
      "reconnecting and prefetching without the GIL). Use dataloader_client, not this.";

  py::class_<TensorData>(module, "TensorData", py::buffer_protocol(),
                         "The bytes of one received tensor; holds its batch alive.")
      .def_buffer([](TensorData& data) {
        std::vector<py::ssize_t> strides(data.shape.size());
        py::ssize_t stride = data.itemsize;
        for (size_t i = data.shape.size(); i-- > 0;) {
          strides[i] = stride;
          stride *= data.shape[i];
        }
        return py::buffer_info(data.data, data.itemsize, data.format,
                               static_cast<py::ssize_t>(data.shape.size()), data.shape, strides,
                               /*readonly=*/false);
      });

  py::class_<NativeStream>(module, "BatchStream")
      .def(py::init<const std::string&, std::vector<std::string>, const py::dict&,
                    const std::string&, uint32_t, uint32_t, uint64_t, uint64_t, const py::bytes&,
                    uint64_t, int, int, double, double>(),
           py::arg("target"), py::arg("failover_targets"), py::arg("security"), py::arg("pipeline"),
           py::arg("shard_index"), py::arg("shard_count"), py::arg("epoch"), py::arg("seed"),
           py::arg("resume_token"), py::arg("max_batches"), py::arg("prefetch"),
           py::arg("max_retries"), py::arg("initial_backoff_s"), py::arg("max_backoff_s"))
      .def("next", &NativeStream::Next)
      .def("cancel", &NativeStream::Cancel)
      .def("close", &NativeStream::Close)
      .def_property_readonly("reconnects", &NativeStream::reconnects)
      .def_property_readonly("copied_bytes", &NativeStream::copied_bytes)
      .def_property_readonly("wire_bytes", &NativeStream::wire_bytes);

  module.def("list_pipelines", &ListPipelinesBytes, py::arg("target"), py::arg("security"),
             py::arg("timeout_s"), "Serialized ListPipelinesResponse, sorted by name.");
  module.def("resolve_replicas", &Resolve, py::arg("spec"));
  module.def("validate_security", &ValidateSecurity, py::arg("target"), py::arg("security"));
  module.def("parse_batch", &ParseBatch, py::arg("message"), py::arg("cuts"));
}
