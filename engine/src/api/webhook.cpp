#include "api/webhook.hpp"

#include <chrono>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"
#include "core/time.hpp"
#include "security/digest.hpp"

namespace carepath::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

const std::string kCorePlugin = "core";
const std::string kCoreVersion = "0.1.0";
constexpr auto kTimeout = std::chrono::seconds(10);

constexpr std::string_view kSchema = R"({
  "type": "object",
  "properties": {
    "url": {"type": "string", "pattern": "^http://[^/:]+(:[0-9]+)?(/.*)?$",
            "description": "http://host[:port][/path]; put a TLS relay in front for https"},
    "event": {"type": "string", "minLength": 1, "maxLength": 100,
              "description": "a name for the receiver; default: the transition's event"}
  },
  "required": ["url"],
  "additionalProperties": false
})";

struct Url {
  std::string host;
  std::string port;
  std::string target;
};

Url parse_url(std::string_view url) {
  url.remove_prefix(std::string_view("http://").size());
  const auto slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  Url out;
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  const auto colon = authority.find(':');
  out.host = std::string(authority.substr(0, colon));
  out.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  return out;
}

class Webhook final : public StepInstance {
 public:
  Webhook(Url url, std::string event, const std::string& secret)
      : url_(std::move(url)), event_(std::move(event)), secret_(secret) {}

  StepOutcome run(const StepInput& input) const override {
    const auto& in = input.input;
    boost::json::object body{
        {"case", in.at("case")},
        {"event", event_.empty() ? in.at("event") : boost::json::value(event_)},
        {"from", in.at("from")},
        {"to", in.at("to")},
        {"idempotency_key", input.idempotency_key},
        {"sent_at", format_timestamp(SystemClock().now())},
    };
    const std::string text = boost::json::serialize(body);
    try {
      net::io_context ioc;
      net::ip::tcp::resolver resolver(ioc);
      beast::tcp_stream stream(ioc);
      stream.expires_after(kTimeout);
      stream.connect(resolver.resolve(url_.host, url_.port));
      http::request<http::string_body> request{http::verb::post, url_.target, 11};
      request.set(http::field::host, url_.host);
      request.set(http::field::content_type, "application/json");
      request.set(http::field::user_agent, "carepath-webhook/0.1");
      request.set("X-Carepath-Idempotency-Key", input.idempotency_key);
      if (!secret_.empty()) {
        request.set("X-Carepath-Signature", "sha256=" + security::hmac_sha256_hex(secret_, text));
      }
      request.body() = text;
      request.prepare_payload();
      stream.expires_after(kTimeout);
      http::write(stream, request);
      beast::flat_buffer buffer;
      http::response<http::string_body> response;
      stream.expires_after(kTimeout);
      http::read(stream, buffer, response);
      beast::error_code ignored;
      stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
      const unsigned status = response.result_int();
      if (status >= 200 && status < 300) {
        return StepOutcome{StepStatus::ok, {}, {}};
      }
      const std::string message = "receiver answered HTTP " + std::to_string(status);
      // 4xx: the receiver will not accept it however often it is sent (except 408 and 429).
      if (status >= 400 && status < 500 && status != 408 && status != 429) {
        return StepOutcome{StepStatus::failed, {}, message};
      }
      return StepOutcome{StepStatus::retryable, {}, message};
    } catch (const std::exception& e) {
      return StepOutcome{StepStatus::retryable, {}, std::string("cannot deliver: ") + e.what()};
    }
  }

 private:
  Url url_;
  std::string event_;
  const std::string& secret_;
};

class WebhookType final : public StepType {
 public:
  explicit WebhookType(std::string secret)
      : secret_(std::move(secret)), schema_(boost::json::parse(kSchema)) {}
  const std::string& name() const override { return name_; }
  const std::string& description() const override { return description_; }
  const boost::json::value& config_schema() const override { return schema_; }
  const std::vector<std::string>& reads() const override { return reads_; }
  const std::string& plugin() const override { return kCorePlugin; }
  const std::string& plugin_version() const override { return kCoreVersion; }
  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& config) const override {
    std::string event;
    if (const auto* e = config.if_contains("event")) {
      event = e->as_string();
    }
    if (secret_.empty()) {
      log(LogLevel::warning, "core.webhook sends unsigned requests: no webhook_secret is set");
    }
    return std::make_shared<Webhook>(parse_url(config.at("url").as_string()), event, secret_);
  }

 private:
  std::string name_ = "core.webhook";
  std::string description_ =
      "POSTs the case's transition to a URL, signed with HMAC-SHA-256 (run it async)";
  std::string secret_;
  boost::json::value schema_;
  std::vector<std::string> reads_;
};

}  // namespace

std::unique_ptr<StepType> make_core_webhook(std::string secret) {
  return std::make_unique<WebhookType>(std::move(secret));
}

}  // namespace carepath::api
