// The wire side of the API: accepting connections and reading and writing HTTP/1.1 with Beast.
// Everything about what a request means is in router.cpp.
#include "api/server.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/health.hpp"
#include "api/http.hpp"
#include "api/problem.hpp"
#include "api/router.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace carepath::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using Tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
// A connection's strand. Its socket's executor is the same strand behind an any_io_executor.
using Strand = net::strand<net::io_context::executor_type>;

// Reading is bounded by ServerOptions::header_timeout and request_timeout (a timer of the
// session's own, so that it can still answer 408); writing by this.
constexpr std::chrono::seconds kWriteTimeout{30};
// How long stop() waits for requests being answered.
constexpr std::chrono::seconds kStopGrace{10};
// When we answer before reading a whole request (413, 431, 400) and close, unread bytes would
// make close() send a reset that can destroy the answer before the client reads it. So the
// connection is half-closed and the rest read and dropped for a while ("lingering close").
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::size_t kMaxLingerBytes = std::size_t{1024} * 1024;
// Accepting fails when the process is out of descriptors; retrying at once would spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
constexpr std::size_t kMaxLoggedPathSize = 200;

class Session;

// What every session shares: limits, the router, the request threads' queue, and the registry
// stop() uses to reach them.
struct Shared {
  Shared(ServerOptions server_options, runtime::Runtime& runtime, Store& store,
         const StepCatalog* steps)
      : options(std::move(server_options)),
        router(runtime, store, steps, options.test_clock, options.reload_workflows,
               options.run_migration, options.limits) {}

  enum class Admission { admitted, stopping, full };

  // `stopping`: the session should close at once; `full`: max_connections are open, the
  // session should answer 503 and close. Only an admitted session is registered.
  Admission add(const std::shared_ptr<Session>& session) {
    const std::lock_guard lock(mutex);
    if (stopping) {
      return Admission::stopping;
    }
    if (sessions.size() >= static_cast<std::size_t>(std::max(1, options.max_connections))) {
      return Admission::full;
    }
    sessions.emplace(session.get(), session);
    return Admission::admitted;
  }

  void remove(const Session* session) {
    {
      const std::lock_guard lock(mutex);
      sessions.erase(session);
    }
    sessions_changed.notify_all();
  }

  const ServerOptions options;
  const Router router;
  // Where read requests are handed to the request threads (owned by Server::Impl, which
  // destroys it before the sessions' io_context and this).
  net::io_context* requests = nullptr;

  std::mutex mutex;
  std::condition_variable sessions_changed;
  std::map<const Session*, std::weak_ptr<Session>> sessions;  // GUARDED_BY(mutex)
  bool stopping = false;                                      // GUARDED_BY(mutex)
};

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

HttpRequest to_request(http::request<http::string_body>&& message) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), ascii_lower);
    auto [it, inserted] = request.headers.emplace(std::move(name), std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += field.value();
    }
  }
  request.body = std::move(message.body());
  return request;
}

// The router's answer to `request`, with `context` as the thread's log context. Nothing
// escapes: on a request thread an exception would end the thread; the caller gets a 500.
HttpReply answer(const Router& router, const HttpRequest& request, LogContext& context) {
  const ScopedLogContext scoped_log_context(context);
  try {
    return router.handle(request);
  } catch (const std::exception& e) {
    // what() of our code and of Boost.JSON names things, never case values.
    log(LogLevel::error, "request failed",
        {{"request_id", context.request_id}, {"error", e.what()}});
  } catch (...) {
    log(LogLevel::error, "request failed",
        {{"request_id", context.request_id}, {"error", "unknown exception"}});
  }
  return render_problem(Error{Errc::internal, "internal error"});
}

// The request path for the log line: no query (its values could be anything), printable only.
std::string loggable_path(std::string_view target) {
  std::string path(target_path(target).substr(0, kMaxLoggedPathSize));
  std::replace_if(
      path.begin(), path.end(), [](char c) { return c < 0x20 || c > 0x7e; }, '?');
  return path.empty() ? "-" : path;
}

// One connection. All of its handlers run on its strand, so it needs no lock.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Tcp::socket&& socket, Strand strand, Shared& shared)
      : stream_(std::move(socket)), strand_(std::move(strand)), shared_(shared) {
    beast::error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_address_ = peer.address().to_string();
    }
  }
  ~Session() { shared_.remove(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&&) = delete;
  Session& operator=(Session&&) = delete;

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::on_start, shared_from_this()));
  }

  // Callable from any thread: closes the connection if it is idle, else once the answer in
  // progress is written.
  void shut_down() {
    net::post(stream_.get_executor(),
              beast::bind_front_handler(&Session::on_shut_down, shared_from_this()));
  }

 private:
  struct Exchange {
    std::string method = "-";
    std::string path = "-";
    std::string request_id;
    std::string route = "unmatched";  // the template, for the metrics and the access log
    unsigned version = 11;
    bool keep_alive = false;
    bool linger = false;  // the request was not read whole
  };

  void on_start() {
    switch (shared_.add(shared_from_this())) {
      case Shared::Admission::admitted:
        return read_header();
      case Shared::Admission::stopping:
        return;  // the socket closes with the session
      case Shared::Admission::full:
        break;
    }
    log(LogLevel::warning, "connection refused: max_connections reached",
        {{"max_connections", std::to_string(shared_.options.max_connections)}});
    Exchange exchange;
    exchange.linger = true;  // whatever the client sends is drained, not read
    exchange.request_id = request_id_for(nullptr);
    busy_ = true;
    HttpReply reply = render_problem(Error{Errc::unavailable,
                                           "too many open connections; retry shortly",
                                           {},
                                           std::string(kTooManyConnections)});
    reply.headers.emplace_back("Retry-After", "1");
    send(std::move(reply), std::move(exchange));
  }

  // Reading is timed by `timer_` rather than the stream's own deadline, which would close the
  // socket and leave no way to answer 408. A generation number retires expiries that were
  // already queued when the timer was re-armed.
  void arm_timer(SteadyClock::time_point deadline) {
    ++timer_generation_;
    timer_.expires_at(deadline);
    timer_.async_wait(
        [weak = weak_from_this(), generation = timer_generation_](beast::error_code ec) {
          const auto self = weak.lock();
          if (!self || ec || generation != self->timer_generation_) {
            return;
          }
          self->timed_out_ = true;
          self->stream_.cancel();  // the pending read ends with operation_aborted
        });
  }

  void disarm_timer() {
    ++timer_generation_;
    timer_.cancel();
  }

  void on_shut_down() {
    disarm_timer();
    stopping_ = true;
    if (!busy_) {
      stream_.close();  // aborts the pending read; its handler ends the session
    }
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(shared_.options.header_limit, UINT32_MAX)));
    parser_->body_limit(shared_.options.body_limit);
    stream_.expires_never();
    timed_out_ = false;
    read_start_ = SteadyClock::now();
    arm_timer(read_start_ +
              std::min(shared_.options.header_timeout, shared_.options.request_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      return on_read_error(ec);
    }
    started_ = SteadyClock::now();
    arm_timer(read_start_ + shared_.options.request_timeout);
    if (parser_->is_done()) {
      return on_read({}, 0);
    }
    // Clients such as curl wait for this before sending a larger body.
    if (iequals(parser_->get()[http::field::expect], "100-continue")) {
      auto interim =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(kWriteTimeout);
      http::async_write(
          stream_, *interim,
          [self = shared_from_this(), interim](beast::error_code write_ec, std::size_t /*bytes*/) {
            if (!write_ec) {
              self->read_body();
            }
          });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_never();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read_error(beast::error_code ec) {
    disarm_timer();
    if (ec == http::error::end_of_stream) {
      return close(false);  // the client is done
    }
    const bool timed_out = timed_out_ && ec == net::error::operation_aborted && !stopping_;
    if (timed_out && buffer_.size() == 0 && !parser_->got_some()) {
      return close(false);  // an idle kept-alive connection: nothing to answer
    }
    const bool is_http =
        ec.category() == http::make_error_code(http::error::end_of_stream).category();
    if (!timed_out && (!is_http || ec == http::error::partial_message || stopping_)) {
      return;  // reset or shut down: nobody to answer
    }
    started_ = SteadyClock::now();
    Exchange exchange;
    const auto& header = parser_->get();
    if (!header.method_string().empty()) {
      exchange.method = std::string(header.method_string());
    }
    exchange.path = loggable_path(header.target());
    exchange.version = header.version() == 10 ? 10 : 11;
    exchange.linger = true;
    Error error;
    if (timed_out) {
      const bool head = !parser_->is_header_done();
      const auto limit =
          head ? std::min(shared_.options.header_timeout, shared_.options.request_timeout)
               : shared_.options.request_timeout;
      error = Error{Errc::invalid_argument,
                    std::string(head ? "request head" : "request") + " not received within " +
                        std::to_string(limit.count()) + " ms",
                    {},
                    std::string(kRequestTimeout)};
    } else if (ec == http::error::body_limit) {
      error = Error{Errc::too_large, "request body is larger than the limit of " +
                                         std::to_string(shared_.options.body_limit) + " bytes"};
    } else if (ec == http::error::header_limit) {
      error = Error{Errc::invalid_argument,
                    "request header is larger than the limit of " +
                        std::to_string(shared_.options.header_limit) + " bytes",
                    {},
                    std::string(kHeaderTooLarge)};
    } else {
      error = Error{Errc::invalid_argument,
                    "malformed HTTP request (" + ec.message() + "); expected HTTP/1.1",
                    {},
                    std::string(kMalformedRequest)};
    }
    exchange.request_id = request_id_for(nullptr);
    busy_ = true;
    send(render_problem(error), std::move(exchange));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      return on_read_error(ec);
    }
    disarm_timer();
    busy_ = true;
    http::request<http::string_body> message = parser_->release();
    Exchange exchange;
    exchange.version = message.version() == 10 ? 10 : 11;
    exchange.keep_alive = message.keep_alive();
    HttpRequest request = to_request(std::move(message));
    request.remote_address = client_address(remote_address_, request.header("x-forwarded-for"),
                                            shared_.options.trusted_proxies);
    exchange.method = request.method;
    exchange.path = loggable_path(request.target);
    exchange.request_id = request_id_for(request.header("x-request-id"));
    exchange.route = std::string(route_template(target_path(request.target)));
    // Every line logged while this request is answered, the access line included, carries its
    // id, and its caller once the router knows it.
    LogContext request_log_context{exchange.request_id, {}};

    // /healthz touches neither the store nor the runtime, so it is answered here on the I/O
    // thread: two thread hand-offs would cost more than the answer.
    if (exchange.route == "/healthz") {
      HttpReply reply = answer(shared_.router, request, request_log_context);
      return reply_with(std::move(reply), std::move(exchange), request_log_context);
    }
    // Anything else may wait for the store (a group commit takes milliseconds), so it runs on a
    // request thread and the I/O thread goes back to other connections. The job holds the
    // session, which therefore outlives it; it touches nothing of the session's but the router
    // and the strand its answer is posted back to, where send() carries on.
    net::post(*shared_.requests, [self = shared_from_this(), strand = strand_,
                                  request = std::move(request), exchange = std::move(exchange),
                                  context = std::move(request_log_context)]() mutable {
      HttpReply reply = answer(self->shared_.router, request, context);
      net::post(strand, [self = std::move(self), reply = std::move(reply),
                         exchange = std::move(exchange), context = std::move(context)]() mutable {
        self->reply_with(std::move(reply), std::move(exchange), context);
      });
    });
  }

  // On the strand: writes the answer to a read request, under the request's log context (which
  // the router may have given the caller's name) so that the access line carries it.
  void reply_with(HttpReply reply, Exchange exchange, LogContext& context) {
    const ScopedLogContext scoped_log_context(context);
    send(std::move(reply), std::move(exchange));
  }

  void send(HttpReply reply, Exchange exchange) {
    response_.emplace();
    auto& response = *response_;
    response.version(exchange.version);
    response.result(static_cast<unsigned>(reply.status));
    response.set(http::field::content_type, reply.content_type);
    for (auto& [name, value] : reply.headers) {
      response.insert(name, value);
    }
    response.set("X-Request-Id", exchange.request_id);
    // Answers carry case data: no cache anywhere may keep a copy.
    response.set(http::field::cache_control, "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.keep_alive(exchange.keep_alive && !exchange.linger && !stopping_);
    response.body() = std::move(reply.body);
    response.prepare_payload();

    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started_)
            .count();
    count_request(exchange.route, exchange.method, reply.status,
                  std::chrono::duration<double>(SteadyClock::now() - started_).count());
    log(LogLevel::info, "request",
        {{"method", exchange.method},
         {"route", exchange.route},
         {"status", std::to_string(reply.status)},
         {"ms", std::to_string(ms)},
         {"request_id", exchange.request_id}});

    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, response,
                      beast::bind_front_handler(&Session::on_write, shared_from_this(),
                                                response.need_eof(), exchange.linger));
  }

  void on_write(bool close_after, bool linger, beast::error_code ec, std::size_t /*bytes*/) {
    busy_ = false;
    response_.reset();
    if (ec) {
      return;
    }
    if (close_after || stopping_) {
      return close(linger);
    }
    read_header();
  }

  // Half-closes; with `linger`, drains what the client still sends before the session ends.
  void close(bool linger) {
    beast::error_code ec;
    stream_.socket().shutdown(Tcp::socket::shutdown_send, ec);
    if (linger && !stopping_ && !ec) {
      stream_.expires_after(kLingerTimeout);  // one deadline for the whole drain
      drain();
    }
  }

  void drain() {
    stream_.async_read_some(net::buffer(discard_),
                            beast::bind_front_handler(&Session::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t bytes) {
    drained_ += bytes;
    if (!ec && !stopping_ && drained_ <= kMaxLingerBytes) {
      drain();
    }
  }

  beast::tcp_stream stream_;
  const Strand strand_;  // the one stream_ runs on, where request threads post answers
  net::steady_timer timer_{stream_.get_executor()};
  std::uint64_t timer_generation_ = 0;
  bool timed_out_ = false;  // timer_ cut the read in progress short
  SteadyClock::time_point read_start_ = SteadyClock::now();
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::array<char, 4096> discard_{};
  std::size_t drained_ = 0;
  Shared& shared_;
  SteadyClock::time_point started_ = SteadyClock::now();
  bool busy_ = false;      // a request was read and its answer is not yet written
  bool stopping_ = false;  // the server is stopping: answer what is in progress, then close
};

}  // namespace

struct Server::Impl {
  Impl(ServerOptions options, runtime::Runtime& runtime, Store& store, const StepCatalog* steps)
      : shared(std::move(options), runtime, store, steps),
        ioc(std::max(1, shared.options.io_threads)),
        requests(std::max(1, shared.options.threads)) {
    shared.requests = &requests;
  }

  void do_accept() {
    Strand strand = net::make_strand(ioc);
    acceptor.async_accept(strand, beast::bind_front_handler(&Impl::on_accept, this, strand));
  }

  void on_accept(const Strand& strand, beast::error_code ec, Tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) {
      return;
    }
    if (ec) {
      log(LogLevel::warning, "accept failed", {{"error", ec.message()}});
      accept_retry.expires_after(kAcceptRetryDelay);
      accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor.is_open()) {
          do_accept();
        }
      });
      return;
    }
    std::make_shared<Session>(std::move(socket), strand, shared)->start();
    do_accept();
  }

  // Declared before the io_contexts: destroying them destroys the sessions still queued in them,
  // and they unregister themselves from `shared`.
  Shared shared;
  // Sockets, timers and the sessions' strands, run by the I/O threads.
  net::io_context ioc;
  // Keeps the I/O threads running while nothing waits on `ioc`: a session whose handler runs on
  // a request thread has no operation pending there until its answer is posted back.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> ioc_work;
  // Request handlers, run by the request threads. Declared after `ioc`, so destroyed before it:
  // a handler never run still holds its session, whose socket belongs to `ioc`.
  net::io_context requests;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> requests_work;
  // Declared after the io_contexts, so destroyed before them.
  Tcp::acceptor acceptor{net::make_strand(ioc)};
  net::steady_timer accept_retry{acceptor.get_executor()};
  std::vector<std::thread> threads;          // I/O threads
  std::vector<std::thread> request_threads;  // request threads
  bool started = false;
  bool stopped = false;
};

namespace {

// The body of an I/O or request thread. Handlers catch what they can; this keeps an escaped
// exception (say bad_alloc while posting) from ending the process.
void run_catching(net::io_context& context, const char* what) noexcept {
  while (true) {
    try {
      context.run();
      return;
    } catch (const std::exception& e) {
      log(LogLevel::error, std::string(what) + ": unexpected exception", {{"error", e.what()}});
    } catch (...) {
      log(LogLevel::error, std::string(what) + ": unexpected exception",
          {{"error", "unknown exception"}});
    }
  }
}

}  // namespace

Server::Server(ServerOptions options, runtime::Runtime& runtime, Store& store,
               const StepCatalog* steps)
    : impl_(std::make_unique<Impl>(std::move(options), runtime, store, steps)) {
}

Server::~Server() {
  // stop() throws only when the system cannot lock a mutex or join a thread; a destructor has
  // nobody to tell.
  try {
    stop();
  } catch (...) {
  }
}

Result<std::uint16_t> Server::start() {
  Impl& impl = *impl_;
  if (impl.started || impl.stopped) {
    return Error{Errc::conflict, "server already started"};
  }
  const ServerOptions& options = impl.shared.options;
  const std::string where = options.host + ":" + std::to_string(options.port);
  const auto cannot_listen = [&](std::string_view why) {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    return Error{Errc::unavailable, "cannot listen on " + where + ": " + std::string(why)};
  };

  beast::error_code ec;
  Tcp::resolver resolver(impl.ioc);
  const auto endpoints =
      resolver.resolve(options.host, std::to_string(options.port),
                       Tcp::resolver::passive | Tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return cannot_listen(ec ? ec.message() : "host not found");
  }
  const Tcp::endpoint endpoint = endpoints.begin()->endpoint();
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    impl.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    impl.acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    impl.acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  const std::uint16_t port = ec ? 0 : impl.acceptor.local_endpoint(ec).port();
  if (ec) {
    return cannot_listen(ec.message());
  }

  impl.started = true;
  // Without these the threads would return from run() while no request waits.
  impl.ioc_work.emplace(impl.ioc.get_executor());
  impl.requests_work.emplace(impl.requests.get_executor());
  impl.do_accept();
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    impl.threads.emplace_back([&ioc = impl.ioc] {
      name_this_thread("cp-io");
      run_catching(ioc, "I/O thread");
    });
  }
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl.request_threads.emplace_back([&requests = impl.requests] {
      name_this_thread("cp-request");
      run_catching(requests, "request thread");
    });
  }
  log(LogLevel::info, "listening",
      {{"host", options.host},
       {"port", std::to_string(port)},
       {"io_threads", std::to_string(std::max(1, options.io_threads))},
       {"threads", std::to_string(std::max(1, options.threads))}});
  return port;
}

void Server::stop() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) {
    return;
  }
  impl.stopped = true;

  // The acceptor lives on its strand; close it there and wait, so that no session starts after
  // the registry below is read (one that does anyway sees `stopping` and closes).
  std::promise<void> closed;
  net::post(impl.acceptor.get_executor(), [&impl, &closed] {
    beast::error_code ignored;
    impl.acceptor.close(ignored);
    impl.accept_retry.cancel();
    closed.set_value();
  });
  closed.get_future().wait();

  std::vector<std::shared_ptr<Session>> live;
  {
    const std::lock_guard lock(impl.shared.mutex);
    impl.shared.stopping = true;
    for (const auto& entry : impl.shared.sessions) {
      if (auto session = entry.second.lock()) {
        live.push_back(std::move(session));
      }
    }
  }
  for (const auto& session : live) {
    session->shut_down();
  }
  live.clear();
  {
    std::unique_lock lock(impl.shared.mutex);
    impl.shared.sessions_changed.wait_for(lock, kStopGrace,
                                          [&impl] { return impl.shared.sessions.empty(); });
  }
  // The request threads next: each finishes the handler it runs (its answer is posted to the
  // session's strand, which the I/O threads still serve), then returns. Handlers not started
  // yet are dropped with their connections; there are some only when the grace ran out, as each
  // holds a session. Then the I/O threads stop.
  impl.requests_work.reset();
  impl.requests.stop();
  for (auto& thread : impl.request_threads) {
    thread.join();
  }
  impl.request_threads.clear();
  impl.ioc_work.reset();
  impl.ioc.stop();
  for (auto& thread : impl.threads) {
    thread.join();
  }
  impl.threads.clear();
  log(LogLevel::info, "stopped");
}

}  // namespace carepath::api
