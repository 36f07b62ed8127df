/* The layout of plugin_abi.h as a C11 compiler sees it (plugin_abi_c11.c), for comparison with
 * C++ in plugin_abi_test.cpp. */
#ifndef CP_TESTS_SDK_ABI_LAYOUT_C11_H_
#define CP_TESTS_SDK_ABI_LAYOUT_C11_H_

#include <carepath/plugin_abi.h>
#include <stddef.h> /* NOLINT(modernize-deprecated-headers): also read by C */

/* C names in a C header, as in plugin_abi.h. */
/* NOLINTBEGIN */

#ifdef __cplusplus
extern "C" {
#endif

/* One line of abi_layout.inc: the expression as written, and its value. */
typedef struct cp_test_layout_entry {
  const char* expression;
  size_t value;
} cp_test_layout_entry;

extern const cp_test_layout_entry cp_test_c11_layout[];
extern const size_t cp_test_c11_layout_count;

/* The entry function of a one-step plugin written in C ("c", step "c.step"). */
extern const cp_plugin_entry_fn cp_test_c11_entry;

/* __STDC_VERSION__ of the compiler that built plugin_abi_c11.c. */
extern const long cp_test_c11_stdc_version;

#ifdef __cplusplus
} /* extern "C" */
#endif

/* NOLINTEND */

#endif /* CP_TESTS_SDK_ABI_LAYOUT_C11_H_ */
