// docs/openapi.yaml as the engine serves it: GET /v1/openapi.json,
// and the document's paths and methods against the router's, in both directions. Whether the
// answers match the schemas is checked by scripts/check-openapi.sh (ctest openapi.prism).
#include "api/openapi.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "api/router.hpp"
#include "api/server.hpp"
#include "runtime/registry.hpp"
#include "runtime/runtime.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::api {
namespace {

TEST(OpenApiDocument, IsTheEmbeddedYamlAsJson) {
  const auto& doc = openapi_document().as_object();
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  EXPECT_EQ(doc.at("info").at("version"), "1") << "a quoted scalar stays a string";
  EXPECT_EQ(doc.at("components").at("parameters").at("Limit").at("schema").at("maximum"), 500);
  EXPECT_EQ(doc.at("components").at("headers").at("ETag").at("required"), true);
  EXPECT_NE(openapi_yaml().find("openapi: 3.1.0"), std::string_view::npos);
}

class OpenApiRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::open((dir_ / "cases.db").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    runtime_ = std::make_unique<runtime::Runtime>(*store_, clock_, registry_);
    router_ = std::make_unique<Router>(*runtime_, *store_);
    auto issued = security::issue_token("ops", {"admin"}, clock_.now());
    ASSERT_TRUE(issued) << issued.error().message;
    ASSERT_TRUE(store_->create_token(issued->record));
    admin_ = issued->token;
  }

  HttpReply call(const std::string& method, const std::string& target,
                 bool with_token = true) const {
    HttpRequest request;
    request.method = method;
    request.target = target;
    if (with_token) {
      request.headers["authorization"] = "Bearer " + admin_;
    }
    return router_->handle(request);
  }

  static std::string problem_type(const HttpReply& reply) {
    if (reply.content_type != "application/problem+json") {
      return {};
    }
    return std::string(boost::json::parse(reply.body).at("type").as_string());
  }

  test::TempDir dir_;
  ManualClock clock_{1'790'000'000'000};
  runtime::WorkflowRegistry registry_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<Router> router_;
  std::string admin_;
};

TEST_F(OpenApiRoutes, ServedWithoutATokenForGetOnly) {
  const auto reply = call("GET", "/v1/openapi.json", false);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  const auto body = boost::json::parse(reply.body);
  EXPECT_EQ(body.at("openapi"), "3.1.0");
  EXPECT_EQ(body, openapi_document());

  const auto post = call("POST", "/v1/openapi.json", false);
  EXPECT_EQ(post.status, 405) << post.body;
  const auto allow = std::find_if(post.headers.begin(), post.headers.end(),
                                  [](const auto& h) { return h.first == "Allow"; });
  ASSERT_NE(allow, post.headers.end());
  EXPECT_EQ(allow->second, "GET");
}

// Over HTTP too, so that the answer goes through Prism in the openapi.prism run.
TEST_F(OpenApiRoutes, ServedOverHttp) {
  ServerOptions options;
  options.port = test::listen_port();
  Server server(options, *runtime_, *store_);
  auto port = server.start();
  ASSERT_TRUE(port) << port.error().message;
  const auto r = test::http_request(*port, "GET", "/v1/openapi.json");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.json().at("openapi"), "3.1.0");
}

// "/v1/cases/{id}/graph" -> "/v1/cases/x/graph".
std::string instantiate(std::string_view path) {
  std::string out;
  bool in_parameter = false;
  for (const char c : path) {
    if (c == '{') {
      in_parameter = true;
      out += 'x';
    } else if (c == '}') {
      in_parameter = false;
    } else if (!in_parameter) {
      out += c;
    }
  }
  return out;
}

bool matches_template(std::string_view path, std::string_view templ) {
  std::size_t p = 0;
  std::size_t t = 0;
  while (t < templ.size()) {
    if (templ[t] == '{') {
      t = templ.find('}', t) + 1;
      const auto end = path.find('/', p);
      if (end == p) {
        return false;
      }
      p = end == std::string_view::npos ? path.size() : end;
    } else if (p < path.size() && path[p] == templ[t]) {
      ++p;
      ++t;
    } else {
      return false;
    }
  }
  return p == path.size();
}

constexpr std::array<std::string_view, 5> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};

std::set<std::string> documented_methods(const boost::json::object& item) {
  std::set<std::string> methods;
  for (const auto& member : item) {
    std::string upper(member.key());
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
    if (std::find(kMethods.begin(), kMethods.end(), upper) != kMethods.end()) {
      methods.insert(upper);
    }
  }
  return methods;
}

// Every documented path answers its documented methods, and 405 with exactly those in `Allow`
// to any other.
TEST_F(OpenApiRoutes, EveryDocumentedPathAndMethodIsServed) {
  const auto& paths = openapi_document().at("paths").as_object();
  for (const auto& [templ, item] : paths) {
    const std::string target = instantiate(templ);
    const auto methods = documented_methods(item.as_object());
    for (const auto method : kMethods) {
      const auto reply = call(std::string(method), target);
      const std::string type = problem_type(reply);
      EXPECT_NE(type, "/problems/unknown-path") << method << " " << target;
      if (methods.count(std::string(method)) != 0) {
        EXPECT_NE(reply.status, 405) << method << " " << target << " is documented: " << reply.body;
        continue;
      }
      EXPECT_EQ(reply.status, 405) << method << " " << target << " is not documented";
      std::set<std::string> allowed;
      for (const auto& [name, value] : reply.headers) {
        if (name != "Allow") {
          continue;
        }
        std::size_t start = 0;
        while (start <= value.size()) {
          const auto end = std::min(value.find(", ", start), value.size());
          allowed.insert(value.substr(start, end - start));
          start = end + 2;
        }
      }
      EXPECT_EQ(allowed, methods) << "Allow of " << target;
    }
  }
}

// The metrics and the access log name a request by its documented path template, never by the
// path (which holds ids); anything else is "unmatched".
TEST(RouteTemplate, IsTheDocumentedTemplateOfEveryPath) {
  const auto& paths = openapi_document().at("paths").as_object();
  for (const auto& [templ, item] : paths) {
    EXPECT_EQ(route_template(instantiate(templ)), std::string_view(templ)) << templ;
  }
  EXPECT_EQ(route_template("/v1/cases/c1/nothing"), "unmatched");
  EXPECT_EQ(route_template("/v1/cases/3f9c0d2e/events"), "/v1/cases/{id}/events");
}

// Every route the router serves (keep this list in step with match_route in router.cpp) has a
// documented path.
TEST_F(OpenApiRoutes, EveryRouteOfTheRouterIsDocumented) {
  constexpr std::array<std::string_view, 30> kRouterPaths = {
      "/healthz",
      "/readyz",
      "/metrics",
      "/v1/openapi.json",
      "/v1/workflows",
      "/v1/workflows/w",
      "/v1/workflows/w/graph",
      "/v1/cases",
      "/v1/cases/c",
      "/v1/cases/c/events",
      "/v1/cases/c/transitions",
      "/v1/cases/c/incidents",
      "/v1/cases/c/incidents/i/retry",
      "/v1/cases/c/tasks",
      "/v1/cases/c/clocks",
      "/v1/cases/c/clocks/k/extend",
      "/v1/cases/c/clocks/k/pause",
      "/v1/cases/c/clocks/k/resume",
      "/v1/cases/c/schedule",
      "/v1/cases/c/graph",
      "/v1/cases/c/consents",
      "/v1/clocks",
      "/v1/notifications",
      "/v1/notifications/n/acknowledge",
      "/v1/admin/clock",
      "/v1/admin/workflows/reload",
      "/v1/admin/migrations",
      "/v1/plugins",
      "/v1/tasks/t/complete",
      "/v1/tasks/t/fail",
  };
  const auto& paths = openapi_document().at("paths").as_object();
  for (const auto path : kRouterPaths) {
    EXPECT_NE(problem_type(call("GET", std::string(path))), "/problems/unknown-path")
        << path << " is not a route: fix the list";
    const bool documented = std::any_of(paths.begin(), paths.end(), [&](const auto& member) {
      return matches_template(path, member.key());
    });
    EXPECT_TRUE(documented) << path << " is not in docs/openapi.yaml";
  }
  EXPECT_EQ(problem_type(call("GET", "/v1/cases/c/nothing")), "/problems/unknown-path");
}

}  // namespace
}  // namespace carepath::api
