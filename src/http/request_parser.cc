#include "parley/http/request_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cassert>
#include <optional>
#include <string>

#include "parley/http/url.h"

namespace parley::http {
namespace {

constexpr int kBadRequest = 400;
constexpr int kPayloadTooLarge = 413;
constexpr int kUriTooLong = 414;
constexpr int kHeadersTooLarge = 431;
constexpr size_t kBodyReserve = 64 * 1024;

const char* method_name(uint8_t method) {
  switch (method) {
#define PARLEY_METHOD_NAME(NUM, NAME, STRING) \
  case HTTP_##NAME:                           \
    return #STRING;
    HTTP_ALL_METHOD_MAP(PARLEY_METHOD_NAME)
#undef PARLEY_METHOD_NAME
    default:
      return "";
  }
}

void lower_ascii(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

std::string trim_ows(std::string_view s) {
  const auto ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// RFC 9110 tchar: what a header name may be made of.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// RFC 9110 field-value: no control characters other than HTAB (obs-text is allowed).
bool is_field_value(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Splits a request-target into its raw path and raw query. Absolute-form targets
// ("http://host/p?q") yield their path; a fragment, if a client sends one, is dropped.
void split_target(std::string_view target, std::string_view& raw_path, std::string_view& query) {
  target = target.substr(0, target.find('#'));
  const size_t q = target.find('?');
  raw_path = target.substr(0, q);
  query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (starts_with_nocase(raw_path, scheme)) {
      const size_t slash = raw_path.find('/', scheme.size());
      raw_path = slash == std::string_view::npos ? std::string_view("/") : raw_path.substr(slash);
      break;
    }
  }
}

}  // namespace

// Parser state. llhttp's `data` points here, so an Impl never moves.
struct RequestParser::Impl {
  enum class Phase : uint8_t {
    kParsing,   // reading a request
    kDone,      // paused in on_message_complete; request() is complete
    kUpgraded,  // llhttp returned HPE_PAUSED_UPGRADE; request() is complete
    kFailed,    // kError returned; the parser is stuck until next()
  };

  explicit Impl(HttpLimits l) : limits(l) {
    llhttp_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_field_complete = on_header_field_complete;
    settings.on_header_value = on_header_value;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = this;
  }

  static Impl& self(llhttp_t* p) { return *static_cast<Impl*>(p->data); }

  // Records a limit or validation failure; the callback then returns -1 so llhttp stops.
  int fail(int status, std::string_view why) {
    error_status = status;
    error = why;
    return -1;
  }

  // Counts bytes toward max_header_bytes (target, names and values, trailers included).
  bool add_header_bytes(size_t n) {
    header_bytes += n;
    return header_bytes <= limits.max_header_bytes;
  }

  static int on_url(llhttp_t* p, const char* at, size_t len) {
    Impl& s = self(p);
    if (s.req.target.size() + len > s.limits.max_target) {
      return s.fail(kUriTooLong, "request target too long");
    }
    if (!s.add_header_bytes(len)) return s.fail(kHeadersTooLarge, "headers too large");
    s.req.target.append(at, len);
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, size_t len) {
    Impl& s = self(p);
    if (!s.add_header_bytes(len)) return s.fail(kHeadersTooLarge, "headers too large");
    s.name.append(at, len);
    return 0;
  }

  // llhttp's loose mode lets some bytes into names ("Bad Name") and values (NUL) that RFC 9110
  // forbids; they are refused here so nothing downstream has to think about them.
  static int on_header_field_complete(llhttp_t* p) {
    Impl& s = self(p);
    if (!is_token(s.name)) return s.fail(kBadRequest, "invalid header name");
    if (++s.header_count > s.limits.max_headers) {
      return s.fail(kHeadersTooLarge, "too many headers");
    }
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, size_t len) {
    Impl& s = self(p);
    if (!s.add_header_bytes(len)) return s.fail(kHeadersTooLarge, "headers too large");
    s.value.append(at, len);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    Impl& s = self(p);
    if (!is_field_value(s.value)) return s.fail(kBadRequest, "invalid header value");
    if (!s.headers_done) {  // trailers of a chunked body are counted but not kept
      lower_ascii(s.name);
      s.req.headers.push_back(Header{std::move(s.name), trim_ows(s.value)});
    }
    s.name.clear();
    s.value.clear();
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    Impl& s = self(p);
    s.headers_done = true;
    Request& r = s.req;
    r.method = method_name(p->method);
    r.version_major = p->http_major;
    r.version_minor = p->http_minor;
    r.keep_alive = llhttp_should_keep_alive(p) != 0;

    std::string_view raw_path, query;
    split_target(r.target, raw_path, query);
    std::optional<std::string> path = percent_decode(raw_path, false);
    if (!path) return s.fail(kBadRequest, "bad percent-encoding in path");
    r.path = std::move(*path);
    r.query = std::string(query);
    s.body_limit = s.limits.body_limit ? s.limits.body_limit(r) : s.limits.max_body;

    // Refuse an oversized body before any of it arrives. With Transfer-Encoding, llhttp ignores
    // Content-Length (or rejects the pair), and on_body enforces the limit instead.
    if ((p->flags & F_CONTENT_LENGTH) && !(p->flags & (F_CHUNKED | F_TRANSFER_ENCODING))) {
      if (p->content_length > s.body_limit) {
        return s.fail(kPayloadTooLarge, "body too large");
      }
      // Reserve only a little up front: a client announcing a big body costs us nothing until
      // it actually sends it.
      r.body.reserve(std::min<size_t>(static_cast<size_t>(p->content_length), kBodyReserve));
    }
    return 0;
  }

  static int on_body(llhttp_t* p, const char* at, size_t len) {
    Impl& s = self(p);
    if (len > s.body_limit - s.body_seen) return s.fail(kPayloadTooLarge, "body too large");
    s.body_seen += len;
    s.req.body.append(at, len);
    return 0;
  }

  // Pauses so that feed() returns exactly one request. For an upgrade, llhttp pauses on its
  // own right after this callback (HPE_PAUSED_UPGRADE); pausing here too would hide that.
  static int on_message_complete(llhttp_t* p) {
    Impl& s = self(p);
    s.req.keep_alive = llhttp_should_keep_alive(p) != 0;
    if (p->upgrade) {
      s.req.upgrade = true;
      return 0;
    }
    s.phase = Phase::kDone;
    return HPE_PAUSED;
  }

  HttpLimits limits;
  llhttp_settings_t settings;
  llhttp_t parser;
  Request req;
  Phase phase = Phase::kParsing;
  bool started = false;       // a byte was fed since the last next()
  size_t body_limit = 0;      // this request's (from limits.body_limit, else max_body)
  size_t body_seen = 0;       // body bytes so far (the caller may have taken some from req.body)
  bool headers_done = false;  // on_headers_complete ran: later fields are trailers
  size_t header_bytes = 0;    // toward limits.max_header_bytes
  size_t header_count = 0;    // toward limits.max_headers
  std::string name;           // header field being read
  std::string value;          // header value being read
  int error_status = 0;       // set by fail(); 0 means llhttp itself rejected the input
  std::string_view error;     // static text describing the failure
};

RequestParser::RequestParser(HttpLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
RequestParser::RequestParser(RequestParser&&) noexcept = default;
RequestParser& RequestParser::operator=(RequestParser&&) noexcept = default;
RequestParser::~RequestParser() = default;

const Request& RequestParser::request() const { return impl_->req; }
Request& RequestParser::request() { return impl_->req; }
bool RequestParser::in_progress() const { return impl_->started; }
bool RequestParser::headers_complete() const { return impl_->headers_done; }
size_t RequestParser::body_received() const { return impl_->body_seen; }

HttpParseResult RequestParser::feed(std::span<const uint8_t> in) {
  Impl& s = *impl_;
  using Phase = Impl::Phase;
  if (s.phase == Phase::kDone || s.phase == Phase::kUpgraded) {
    return {HttpParseStatus::kRequest, 0, 0, {}};
  }
  if (s.phase == Phase::kFailed) return {HttpParseStatus::kError, 0, s.error_status, s.error};
  if (in.empty()) return {HttpParseStatus::kNeedMore, 0, 0, {}};

  s.started = true;
  const char* data = reinterpret_cast<const char*>(in.data());
  const llhttp_errno_t err = llhttp_execute(&s.parser, data, in.size());
  const char* pos = llhttp_get_error_pos(&s.parser);
  const size_t consumed =
      (pos != nullptr && pos >= data && pos <= data + in.size()) ? size_t(pos - data) : in.size();

  switch (err) {
    case HPE_OK:
      return {HttpParseStatus::kNeedMore, in.size(), 0, {}};
    case HPE_PAUSED:
      assert(s.phase == Phase::kDone);
      return {HttpParseStatus::kRequest, consumed, 0, {}};
    case HPE_PAUSED_UPGRADE:
      s.phase = Phase::kUpgraded;
      s.req.upgrade = true;
      return {HttpParseStatus::kRequest, consumed, 0, {}};
    default:
      s.phase = Phase::kFailed;
      if (s.error_status == 0) {
        s.error_status = kBadRequest;
        const char* reason = llhttp_get_error_reason(&s.parser);
        s.error = reason != nullptr ? reason : "bad request";
      }
      return {HttpParseStatus::kError, consumed, s.error_status, s.error};
  }
}

void RequestParser::next() {
  Impl& s = *impl_;
  if (s.phase == Impl::Phase::kDone && llhttp_get_errno(&s.parser) == HPE_PAUSED) {
    llhttp_resume(&s.parser);  // continue after the message, keeping llhttp's keep-alive state
  } else {
    llhttp_reset(&s.parser);
  }
  s.req = Request{};
  s.phase = Impl::Phase::kParsing;
  s.started = false;
  s.headers_done = false;
  s.body_seen = 0;
  s.header_bytes = 0;
  s.header_count = 0;
  s.name.clear();
  s.value.clear();
  s.error_status = 0;
  s.error = {};
}

}  // namespace parley::http
