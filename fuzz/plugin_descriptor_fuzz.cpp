// Fuzz target: the checks of a plugin's descriptor (plugin_host::read_descriptor), and the JSON
// Schema checks and validation of a step's config_schema they lead to.
//
// Input: lines "key value" that build a cp_plugin and its cp_step_type table the way a plugin
// library would hand them over (a key left out is a NULL pointer or its default):
//   size N | abi MAJOR MINOR | name TEXT | version TEXT | count N | table null
//   step [null]              starts the next step type (a NULL entry with "null")
//   ssize N | sname TEXT | description TEXT | schema JSON | read TEXT | read null |
//   read_count N | reads null | create 0 | run 0 | destroy 0      (of the current step type)
//   config JSON              validated against every config_schema that passed
// Counts larger than the tables are padded with NULL entries (up to 4096, past every bound the
// host allows; a larger count is passed over a short table, which the host must refuse unread).
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "core/json_schema.hpp"
#include "fuzz/fuzz_support.hpp"
#include "plugin_host/descriptor.hpp"

namespace {

using namespace carepath;

constexpr std::size_t kMaxPadding = 4096;

cp_status fake_create(cp_str, void**, cp_sink) {
  return CP_STATUS_FAILED;
}
cp_status fake_run(void*, const cp_host_api*, void*, cp_str, cp_sink, cp_sink) {
  return CP_STATUS_FAILED;
}
void fake_destroy(void*) {
}

std::uint64_t number(std::string_view text) {
  std::uint64_t n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

struct StepSpec {
  bool null_entry = false;
  std::optional<std::uint64_t> size;
  std::optional<std::string> name, description, schema;
  std::vector<std::optional<std::string>> reads;
  std::optional<std::uint64_t> read_count;
  bool reads_null = false;
  bool create = true, run = true, destroy = true;
};

bool printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);

  std::optional<std::uint64_t> plugin_size, count;
  std::uint16_t abi_major = CP_ABI_MAJOR, abi_minor = CP_ABI_MINOR;
  std::optional<std::string> name, version;
  bool table_null = false;
  std::deque<StepSpec> steps;
  std::vector<std::string> configs;

  std::size_t pos = 0;
  while (pos < input.size()) {
    auto end = input.find('\n', pos);
    if (end == std::string_view::npos) {
      end = input.size();
    }
    const std::string_view line = input.substr(pos, end - pos);
    pos = end + 1;
    const auto space = line.find(' ');
    const std::string_view key = line.substr(0, space);
    const std::string_view value =
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    StepSpec* step = steps.empty() ? nullptr : &steps.back();
    if (key == "size") {
      plugin_size = number(value);
    } else if (key == "abi") {
      const auto gap = value.find(' ');
      abi_major = static_cast<std::uint16_t>(number(value.substr(0, gap)));
      abi_minor = static_cast<std::uint16_t>(
          gap == std::string_view::npos ? 0 : number(value.substr(gap + 1)));
    } else if (key == "name") {
      name = std::string(value);
    } else if (key == "version") {
      version = std::string(value);
    } else if (key == "count") {
      count = number(value);
    } else if (key == "table") {
      table_null = true;
    } else if (key == "step") {
      steps.emplace_back().null_entry = value == "null";
    } else if (key == "config") {
      configs.emplace_back(value);
    } else if (step == nullptr) {
      continue;
    } else if (key == "ssize") {
      step->size = number(value);
    } else if (key == "sname") {
      step->name = std::string(value);
    } else if (key == "description") {
      step->description = std::string(value);
    } else if (key == "schema") {
      step->schema = std::string(value);
    } else if (key == "read") {
      step->reads.emplace_back(value == "null" ? std::nullopt
                                               : std::optional<std::string>(std::string(value)));
    } else if (key == "read_count") {
      step->read_count = number(value);
    } else if (key == "reads") {
      step->reads_null = true;
    } else if (key == "create") {
      step->create = value != "0";
    } else if (key == "run") {
      step->run = value != "0";
    } else if (key == "destroy") {
      step->destroy = value != "0";
    }
  }

  // The plugin's side: structs, tables and strings that stay put during the call.
  std::deque<cp_step_type> types;
  std::deque<std::vector<const char*>> read_tables;
  std::vector<const cp_step_type*> table;
  for (const auto& spec : steps) {
    if (spec.null_entry) {
      table.push_back(nullptr);
      continue;
    }
    auto& reads = read_tables.emplace_back();
    for (const auto& r : spec.reads) {
      reads.push_back(r ? r->c_str() : nullptr);
    }
    const std::size_t declared_reads = spec.read_count.value_or(reads.size());
    if (declared_reads > reads.size() && declared_reads <= kMaxPadding) {
      reads.resize(declared_reads, nullptr);
    }
    cp_step_type& t = types.emplace_back();
    t.struct_size = static_cast<std::uint32_t>(spec.size.value_or(sizeof(cp_step_type)));
    t.name = spec.name ? spec.name->c_str() : nullptr;
    t.description = spec.description ? spec.description->c_str() : nullptr;
    t.config_schema = spec.schema ? spec.schema->c_str() : nullptr;
    t.reads = spec.reads_null || reads.empty() ? nullptr : reads.data();
    t.read_count = declared_reads;
    t.create = spec.create ? fake_create : nullptr;
    t.run = spec.run ? fake_run : nullptr;
    t.destroy = spec.destroy ? fake_destroy : nullptr;
    table.push_back(&t);
  }
  const std::size_t declared_steps = count.value_or(table.size());
  if (declared_steps > table.size() && declared_steps <= kMaxPadding) {
    table.resize(declared_steps, nullptr);
  }
  cp_plugin plugin{};
  plugin.struct_size = static_cast<std::uint32_t>(plugin_size.value_or(sizeof(cp_plugin)));
  plugin.abi_major = abi_major;
  plugin.abi_minor = abi_minor;
  plugin.name = name ? name->c_str() : nullptr;
  plugin.version = version ? version->c_str() : nullptr;
  plugin.step_types = table_null || table.empty() ? nullptr : table.data();
  plugin.step_type_count = declared_steps;

  const auto read = plugin_host::read_descriptor(&plugin);
  if (!read) {
    const Error error = read.error();
    if (std::getenv("FUZZ_VERBOSE") != nullptr) {
      std::fprintf(stderr, "refused: %s\n", error.message.c_str());
    }
    FUZZ_CHECK(error.code == Errc::plugin || error.code == Errc::conflict);
    // Messages quote only short, printable excerpts of what the plugin supplied.
    FUZZ_CHECK(printable(error.message));
    FUZZ_CHECK(error.message.size() < 4096);
    return 0;
  }
  FUZZ_CHECK(plugin_host::is_name(read->name));
  FUZZ_CHECK(read->step_types.size() == declared_steps);
  for (const auto& step : read->step_types) {
    FUZZ_CHECK(step.name.starts_with(read->name + "."));
    FUZZ_CHECK(step.functions.create && step.functions.run && step.functions.destroy);
    for (const auto& r : step.reads) {
      FUZZ_CHECK(plugin_host::is_name(r));
    }
    if (step.config_schema.is_null()) {
      continue;
    }
    FUZZ_CHECK(check_schema(step.config_schema).has_value());
    for (const auto& config : configs) {
      boost::system::error_code ec;
      const boost::json::value instance = boost::json::parse(config, ec);
      if (!ec) {
        (void)validate_schema(step.config_schema, instance);
      }
    }
  }
  return 0;
}
