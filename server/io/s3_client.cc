// Copyright 2026 The dataloader Authors.

#include "server/io/s3_client.h"

#include <expat.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace dataloader::server::io {
namespace {

// SHA-256 of an empty body: GETs sign their (empty) payload with it, as AWS's own examples do.
constexpr absl::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Reads the elements of an S3 XML document that this client needs, by path from the root
// ("ListBucketResult/Contents/Key"); anything else is skipped.
class S3XmlReader {
 public:
  struct Result {
    std::vector<S3Object> objects;
    bool truncated = false;
    std::string continuation_token;
    std::string error_code;
    std::string error_message;
  };

  static absl::StatusOr<Result> Parse(absl::string_view xml) {
    S3XmlReader reader;
    XML_Parser parser = XML_ParserCreate("UTF-8");
    XML_SetUserData(parser, &reader);
    XML_SetElementHandler(parser, &Start, &End);
    XML_SetCharacterDataHandler(parser, &Text);
    const bool ok =
        XML_Parse(parser, xml.data(), static_cast<int>(xml.size()), 1) != XML_STATUS_ERROR;
    std::string error;
    if (!ok) {
      error = absl::StrCat(XML_ErrorString(XML_GetErrorCode(parser)), " at line ",
                           XML_GetCurrentLineNumber(parser));
    }
    XML_ParserFree(parser);
    if (!ok) return absl::DataLossError(absl::StrCat("malformed XML from the store: ", error));
    return std::move(reader.result_);
  }

 private:
  static void Start(void* user, const XML_Char* name, const XML_Char**) {
    auto* self = static_cast<S3XmlReader*>(user);
    if (!self->path_.empty()) self->path_ += '/';
    absl::StrAppend(&self->path_, LocalName(name));
    self->text_.clear();
    if (self->path_ == "ListBucketResult/Contents") self->result_.objects.emplace_back();
  }
  static void End(void* user, const XML_Char*) {
    auto* self = static_cast<S3XmlReader*>(user);
    const std::string& path = self->path_;
    Result& result = self->result_;
    if (path == "ListBucketResult/Contents/Key" && !result.objects.empty()) {
      result.objects.back().key = self->text_;
    } else if (path == "ListBucketResult/Contents/Size" && !result.objects.empty()) {
      int64_t size = 0;
      if (absl::SimpleAtoi(self->text_, &size)) result.objects.back().size = size;
    } else if (path == "ListBucketResult/IsTruncated") {
      result.truncated = absl::AsciiStrToLower(absl::StripAsciiWhitespace(self->text_)) == "true";
    } else if (path == "ListBucketResult/NextContinuationToken") {
      result.continuation_token = self->text_;
    } else if (path == "Error/Code") {
      result.error_code = self->text_;
    } else if (path == "Error/Message") {
      result.error_message = self->text_;
    }
    const size_t slash = self->path_.rfind('/');
    self->path_.resize(slash == std::string::npos ? 0 : slash);
    self->text_.clear();
  }
  static void Text(void* user, const XML_Char* text, int length) {
    static_cast<S3XmlReader*>(user)->text_.append(text, static_cast<size_t>(length));
  }
  // Without a namespace prefix ("s3:Key" -> "Key"); expat is not namespace-aware here.
  static absl::string_view LocalName(absl::string_view name) {
    const size_t colon = name.rfind(':');
    return colon == absl::string_view::npos ? name : name.substr(colon + 1);
  }

  std::string path_;
  std::string text_;
  Result result_;
};

std::string AmzDate(absl::Time time) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", time, absl::UTCTimeZone());
}

}  // namespace

std::string AwsUriEncode(absl::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

absl::Status ResponseError(const HttpResponse& response) {
  std::string detail;
  std::string code;
  if (absl::StrContains(absl::string_view(reinterpret_cast<const char*>(response.body.data()),
                                          response.body.size()),
                        "<Error>")) {
    absl::StatusOr<S3XmlReader::Result> parsed = S3XmlReader::Parse(absl::string_view(
        reinterpret_cast<const char*>(response.body.data()), response.body.size()));
    if (parsed.ok()) {
      code = parsed->error_code;
      if (!code.empty()) detail = absl::StrCat(" ", code);
      if (!parsed->error_message.empty()) absl::StrAppend(&detail, ": ", parsed->error_message);
    }
  }
  const int status = response.status;
  std::string message = absl::StrCat("HTTP ", status, detail);
  if (status == 404) {
    if (code == "NoSuchBucket") absl::StrAppend(&message, " (the bucket does not exist)");
    return absl::NotFoundError(message);
  }
  if (status == 401 || status == 403) {
    absl::StrAppend(&message, " (access denied: check the credentials and the bucket's policy)");
    return absl::PermissionDeniedError(message);
  }
  if (status == 416) return absl::OutOfRangeError(message);
  if (IsRetryableHttpStatus(status)) {
    absl::StrAppend(&message, " after ", response.attempts,
                    response.attempts == 1 ? " attempt" : " attempts");
    return absl::UnavailableError(message);
  }
  if (status >= 300 && status < 400) {
    absl::StrAppend(&message, " (redirected: wrong region or endpoint?)");
    return absl::FailedPreconditionError(message);
  }
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<std::unique_ptr<S3Client>> S3Client::Create(S3Options options,
                                                           std::shared_ptr<HttpClient> http) {
  if (options.region.empty()) options.region = "us-east-1";
  for (char c : options.region) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "S3 region '", options.region, "' is not a region name (letters, digits, '-')"));
    }
  }
  if (options.endpoint.empty()) {
    options.endpoint = absl::StrCat("https://s3.", options.region, ".amazonaws.com");
  }
  absl::string_view endpoint = absl::StripSuffix(options.endpoint, "/");
  std::string scheme;
  if (absl::ConsumePrefix(&endpoint, "https://")) {
    scheme = "https";
  } else if (absl::ConsumePrefix(&endpoint, "http://")) {
    scheme = "http";
  } else {
    return absl::InvalidArgumentError(absl::StrCat("S3 endpoint '", RedactUrl(options.endpoint),
                                                   "' must start with http:// or https://"));
  }
  if (endpoint.empty() || absl::StrContains(endpoint, '/') || absl::StrContains(endpoint, '@') ||
      absl::StrContains(endpoint, '?')) {
    return absl::InvalidArgumentError(absl::StrCat("S3 endpoint '", RedactUrl(options.endpoint),
                                                   "' must be scheme://host[:port] with no path"));
  }
  if (!options.anonymous && (options.credentials.access_key_id.empty() ||
                             options.credentials.secret_access_key.empty())) {
    return absl::InvalidArgumentError("S3 credentials are missing (or set anonymous)");
  }
  std::string host(endpoint);
  return std::unique_ptr<S3Client>(
      new S3Client(std::move(options), std::move(http), std::move(scheme), std::move(host)));
}

S3Client::S3Client(S3Options options, std::shared_ptr<HttpClient> http, std::string scheme,
                   std::string host)
    : options_(std::move(options)),
      http_(std::move(http)),
      scheme_(std::move(scheme)),
      host_(std::move(host)) {}

std::string S3Client::ObjectUrl(absl::string_view bucket, absl::string_view key) {
  return absl::StrCat("s3://", bucket, "/", key);
}

std::string S3Client::Url(absl::string_view bucket, absl::string_view encoded_path,
                          absl::string_view query) const {
  std::string url = options_.path_style
                        ? absl::StrCat(scheme_, "://", host_, "/", bucket,
                                       encoded_path.empty() ? "" : "/", encoded_path)
                        : absl::StrCat(scheme_, "://", bucket, ".", host_, "/", encoded_path);
  if (!query.empty()) absl::StrAppend(&url, "?", query);
  return url;
}

HttpRequest S3Client::Signed(std::string url) const {
  HttpRequest request;
  request.url = std::move(url);
  if (options_.anonymous) return request;
  // curl 7.88 dates the request itself; given an x-amz-date header it uses that value but
  // sends the header twice, which S3 would read as one comma-joined value. So only a fixed
  // clock (tests reproducing AWS's examples) sets it.
  if (options_.clock) {
    request.headers.push_back(absl::StrCat("x-amz-date: ", AmzDate(options_.clock())));
  }
  request.headers.push_back(absl::StrCat("x-amz-content-sha256: ", kEmptyPayloadSha256));
  if (!options_.credentials.session_token.empty()) {
    request.headers.push_back(
        absl::StrCat("x-amz-security-token: ", options_.credentials.session_token));
  }
  request.sigv4 = AwsSigV4{.region = options_.region,
                           .service = "s3",
                           .access_key_id = options_.credentials.access_key_id,
                           .secret_access_key = options_.credentials.secret_access_key};
  return request;
}

HttpRequest S3Client::GetObjectRequest(absl::string_view bucket, absl::string_view key,
                                       std::optional<ByteRange> range) const {
  HttpRequest request = Signed(Url(bucket, AwsUriEncode(key, /*keep_slash=*/true), ""));
  request.range = range;
  return request;
}

absl::StatusOr<std::vector<S3Object>> S3Client::ListObjects(absl::string_view bucket,
                                                            absl::string_view prefix,
                                                            int page_size) const {
  if (page_size < 1 || page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("list page size must be in [1, 1000], got ", page_size));
  }
  std::vector<S3Object> objects;
  std::string token;
  for (int page = 1;; ++page) {
    // Parameters sorted by name, values encoded: the canonical query SigV4 signs.
    std::string query;
    if (!token.empty()) {
      absl::StrAppend(&query, "continuation-token=", AwsUriEncode(token, false), "&");
    }
    absl::StrAppend(&query, "list-type=2&max-keys=", page_size,
                    "&prefix=", AwsUriEncode(prefix, false));
    HttpRequest request = Signed(Url(bucket, "", query));
    request.max_body_bytes = int64_t{64} << 20;
    absl::StatusOr<HttpResponse> response = http_->FetchAndWait(std::move(request));
    const std::string where =
        absl::StrCat("listing ", ObjectUrl(bucket, prefix), " (page ", page, ")");
    if (!response.ok()) {
      return absl::Status(response.status().code(),
                          absl::StrCat(where, ": ", response.status().message()));
    }
    if (response->status != 200) {
      const absl::Status error = ResponseError(*response);
      return absl::Status(error.code(), absl::StrCat(where, ": ", error.message()));
    }
    absl::StatusOr<S3XmlReader::Result> parsed = S3XmlReader::Parse(absl::string_view(
        reinterpret_cast<const char*>(response->body.data()), response->body.size()));
    if (!parsed.ok()) {
      return absl::Status(parsed.status().code(),
                          absl::StrCat(where, ": ", parsed.status().message()));
    }
    for (S3Object& object : parsed->objects) objects.push_back(std::move(object));
    if (!parsed->truncated) break;
    if (parsed->continuation_token.empty() || parsed->continuation_token == token) {
      return absl::DataLossError(
          absl::StrCat(where, ": truncated listing without a new continuation token"));
    }
    token = std::move(parsed->continuation_token);
  }
  return objects;
}

}  // namespace dataloader::server::io
