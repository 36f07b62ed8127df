// Fuzz target: JSON request bodies through the REST API's router, in process (no sockets): the
// router's body parser and JSON limits, the event handler and the runtime behind it, over an
// in-memory SQLite store and the shipped workflows (their plugin steps stood in by steps that
// do nothing).
//
// Input: one request body, or several separated by a line "###". Each body is sent, in order, as
// POST /v1/cases/{id}/events to an aftercare case and to an education_support case opened for
// this input; the first body is also sent as POST /v1/cases (open a case) and as
// PATCH /v1/cases/{id} (update). No answer may be a 500, and every answer is JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "api/router.hpp"
#include "core/log.hpp"
#include "fuzz/fuzz_support.hpp"
#include "runtime/registry.hpp"
#include "runtime/runtime.hpp"
#include "security/digest.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_store.hpp"
#include "workflow/loader.hpp"

namespace {

using namespace carepath;

// Starts again from an empty store after this many inputs, so a long run does not grow it
// without bound.
constexpr int kInputsPerStore = 2000;

struct Fixture {
  fuzz::AnyStepCatalog steps;
  runtime::WorkflowRegistry registry;
  std::vector<std::string> roles;
  ManualClock clock{1'790'000'000'000};
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<runtime::Runtime> runtime;
  std::unique_ptr<api::Router> router;
  std::string authorization;
  Actor actor;
  int inputs = 0;
  // FUZZ_VERBOSE=1: every request and the start of its answer on stderr, to see what an input
  // reaches.
  bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;

  Fixture() {
    // The engine's log lines are not findings; keep the fuzzer's output readable.
    set_log_sink([](LogLevel, std::string_view, std::initializer_list<LogAttribute>) {});
    std::set<std::string> all_roles;
    for (const char* file : {"aftercare.yaml", "education_support.yaml"}) {
      auto loaded = workflow::load_workflow_file(fuzz::source_dir() / "workflows" / file, &steps);
      FUZZ_CHECK(loaded.ok());
      all_roles.insert(loaded.workflow->roles.begin(), loaded.workflow->roles.end());
      registry.add(loaded.workflow);
    }
    roles.assign(all_roles.begin(), all_roles.end());
    reset();
  }

  void reset() {
    router.reset();
    runtime.reset();
    store.reset();
    auto opened = store::SqliteStore::open(":memory:", &security::sha256_hex);
    FUZZ_CHECK(opened.has_value());
    store = std::move(*opened);
    runtime = std::make_unique<runtime::Runtime>(*store, clock, registry);
    router = std::make_unique<api::Router>(*runtime, *store, &steps);
    auto issued = security::issue_token("fuzzer", roles, clock.now());
    FUZZ_CHECK(issued.has_value());
    FUZZ_CHECK(store->create_token(issued->record).has_value());
    authorization = "Bearer " + issued->token;
    actor = Actor{"fuzzer", roles};
    inputs = 0;
  }

  api::HttpReply send(std::string method, std::string target, std::string_view body) {
    api::HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.headers["authorization"] = authorization;
    request.headers["content-type"] = "application/json";
    request.body = std::string(body);
    request.remote_address = "127.0.0.1";
    api::HttpReply reply = router->handle(request);
    if (verbose) {
      std::fprintf(stderr, "%s %s -> %d %.300s\n", request.method.c_str(), request.target.c_str(),
                   reply.status, reply.body.c_str());
    }
    FUZZ_CHECK(reply.status >= 200 && reply.status < 600);
    FUZZ_CHECK(reply.status != 500);
    boost::system::error_code ec;
    (void)boost::json::parse(reply.body, ec);
    FUZZ_CHECK(!ec);
    return reply;
  }

  std::string open(std::string_view workflow, const boost::json::object& data) {
    auto record = runtime->open_case(actor, workflow, data);
    FUZZ_CHECK(record.has_value());
    return record->id;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<std::string_view> bodies(std::string_view input) {
  std::vector<std::string_view> out;
  constexpr std::string_view kSeparator = "\n###\n";
  while (out.size() < 16) {
    const auto at = input.find(kSeparator);
    out.push_back(input.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    input.remove_prefix(at + kSeparator.size());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  Fixture& f = fixture();
  if (++f.inputs > kInputsPerStore) {
    f.reset();
    f.inputs = 1;
  }
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  const auto pieces = bodies(input);

  const std::string aftercare = f.open("aftercare", {{"name", "Invented Child"}});
  const std::string education = f.open("education_support", {});
  for (const auto body : pieces) {
    f.send("POST", "/v1/cases/" + aftercare + "/events", body);
    f.send("POST", "/v1/cases/" + education + "/events", body);
  }
  f.send("POST", "/v1/cases", pieces.front());
  f.send("PATCH", "/v1/cases/" + aftercare, pieces.front());
  return 0;
}
