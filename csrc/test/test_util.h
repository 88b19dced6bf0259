/* Shared by the C unit tests (test_core.c with main, test_sign.c,
 * test_net.c, test_hard.c, test_json.c). */
#ifndef SZ_TEST_UTIL_H
#define SZ_TEST_UTIL_H
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "socialize.h"
#include "sz_jansson.h" /* the tree entry points the tables drive */
#include "tap.h"
/* the test files use the real allocator (sz_internal.h redirects the core's
 * to the counting hooks of test_hard.c under SZ_TEST_FAIL_ALLOC) */
#undef malloc
#undef calloc
#undef realloc
#undef free

static const char *S(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static const char *const SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ==";

/* the test functions main() runs, each one case (RUN) */
void test_vectors(const char *path);
void test_base64(void);
void test_utf8_consttime(void);
void test_normalize_errors(void);
void test_params(void);
void test_request_signed(void);
void test_request_errors(void);
void test_request_other_auth(void);
void test_jwt(void);
void test_response(void);
void test_validators(void);
void test_providers(void);
void test_fuzz_regressions(void);
void test_cstrict_saturation(void);
void test_cstrict_nul_inputs(void);
void test_alloc_failures(void);
void test_guard_urls(void);
void test_guard_addresses(void);
void test_wire_fidelity(void);
void test_compose_engine(void);
void test_compose_cut_hostile(void);
void test_text_urls_linear(void);
void test_compose_nul(void);
void test_media_multipart_boundary_clash(void);
void test_compose_media_nothing(void);
void test_media_sniff_brands(void);
void test_compose_specs(void);
void test_media_multipart(void);
void test_media_sniff(void);
void test_media_items(void);
void test_compose_action_links(void);
void test_http_date(void);
void test_provider_vectors(const char *dir);
void test_wiping(void);
void test_oauth_hard(void);
void test_api_errors(void);
void test_api_provider_request(void);
void test_api_provider_parse(void);
void test_api_response_info_bookmark(void);
void test_civil_dates(void);
void test_control_bytes(void);
void test_json_escaping(void);
void test_json_numbers(void);
void test_json_depth(void);
void test_json_utf8(void);
void test_json_key_order(void);
void test_json_misuse(void);
void test_json_alloc_failures(void);
void test_json_provider_bodies(void);
void test_json_deep_replies(void);

#endif
