// An engine with its own master key file and database in a temp dir, serving the shipped
// workflows and plugins over real HTTP (through Prism in the openapi.prism run): the fixture of
// the tests of encryption, break-glass and the audit trail.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "app/engine.hpp"
#include "security/crypto.hpp"
#include "security/tokens.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::test {

class EncryptedEngineTest : public ::testing::Test {
 protected:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  void SetUp() override {
    config_.host = "127.0.0.1";
    config_.port = listen_port();
    config_.db = (dir_ / "carepath.db").string();
    config_.master_key = (dir_ / "master.key").string();
    config_.workflows = source_path("workflows").string();
    config_.plugins = {(std::filesystem::path(CP_BINARY_DIR) / "plugins").string()};
    ASSERT_TRUE(security::create_key_file(config_.master_key));
  }

  // Opens the engine on `config_` and starts its server.
  void start() {
    auto engine = app::Engine::open(config_);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
    auto port = engine_->start();
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
  }

  void stop() { engine_.reset(); }

  // A new API token for `user` with `roles` (and teams and homes).
  std::string token(const std::string& user, std::vector<std::string> roles,
                    security::TokenScope scope = {}) {
    auto issued = security::issue_token(user, std::move(roles), 0, std::move(scope));
    EXPECT_TRUE(issued && engine_->store().create_token(issued->record));
    return issued->token;
  }

  HttpResponse call(std::string_view method, const std::string& target, const std::string& bearer,
                    const std::string& body = {}, Headers headers = {}) {
    headers.emplace_back("Authorization", "Bearer " + bearer);
    return http_request(port_, method, target, body, headers);
  }

  TempDir dir_;
  app::Config config_;
  std::unique_ptr<app::Engine> engine_;
  std::uint16_t port_ = 0;
};

}  // namespace carepath::test
