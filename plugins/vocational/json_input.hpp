// The vocational steps read their JSON (the `with:` block and the step input's `data`) with the
// helpers the first-party plugins share (plugins/common/plugin_json.hpp).
#pragma once

#include "plugin_json.hpp"

namespace vocational {

using plugin_json::BadInput;
using plugin_json::config_integer;
using plugin_json::parse_config;
using plugin_json::parse_input_data;
using plugin_json::string_field;
using plugin_json::string_list_field;
using plugin_json::whole_number_field;

}  // namespace vocational
