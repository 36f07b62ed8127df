// The load client of the HTTP benchmarks (http_bench, large_bench): raw HTTP/1.1 requests built
// once, and an asynchronous Beast client that keeps N connections busy over loopback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace carepath::bench {

// Latencies in microseconds, and what they add up to.
struct Figures {
  double seconds = 0;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::vector<std::uint32_t> latencies_us;

  double rate() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  // The p-th quantile (0.5, 0.99) in milliseconds; sorts the latencies.
  double percentile_ms(double p);
};

// A raw HTTP/1.1 request, ready to write.
std::string request_text(std::string_view method, const std::string& target,
                         const std::string& token, const std::string& body = {});

// One request on a fresh blocking connection, for setting up: the status and the body.
std::pair<int, std::string> call(std::uint16_t port, const std::string& text);

// What each connection sends next; `connection` and `n` (its request count) pick the case.
using NextRequest = std::function<const std::string&(std::size_t connection, std::uint64_t n)>;

// Keeps `count` connections busy, each sending a request as soon as the answer to its last one
// arrived, for `seconds` after a warm-up of a tenth of that.
Figures drive(std::uint16_t port, int count, double seconds, const NextRequest& next);

// drive()'s figures, and the share of the run's time (warm-up included) during which the engine
// in this process held its write lock (carepath_db_write_group_duration_seconds): near 1, the
// single writer is what holds the rate.
struct Measured {
  Figures figures;
  double writer_busy = 0;
};
Measured drive_measured(std::uint16_t port, int count, double seconds, const NextRequest& next);

}  // namespace carepath::bench
