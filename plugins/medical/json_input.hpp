// The medical steps read their JSON (the `with:` block and the step input's `data`) with the
// helpers the first-party plugins share (plugins/common/plugin_json.hpp).
#pragma once

#include "plugin_json.hpp"

namespace medical {

using plugin_json::BadInput;
using plugin_json::config_enum_list;
using plugin_json::list_field_size;
using plugin_json::parse_config;
using plugin_json::parse_input_data;
using plugin_json::string_list_field;

}  // namespace medical
