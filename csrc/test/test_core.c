/* Unit tests of the sans-IO core. Usage: test_core <vectors.json>... */
#define TAP_MAIN /* the counters of tap.h live here */
#include "test_util.h"

int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            test_provider_vectors(argv[i]); /* spec/vectors/providers */
        else
            test_vectors(argv[i]); /* counts each vector as a case */
    }
    RUN(test_base64);
    RUN(test_utf8_consttime);
    RUN(test_normalize_errors);
    RUN(test_params);
    RUN(test_request_signed);
    RUN(test_request_errors);
    RUN(test_request_other_auth);
    RUN(test_jwt);
    RUN(test_response);
    RUN(test_validators);
    RUN(test_providers);
    RUN(test_fuzz_regressions);
    RUN(test_cstrict_saturation);
    RUN(test_cstrict_nul_inputs);
    RUN(test_alloc_failures);
    RUN(test_guard_urls);
    RUN(test_guard_addresses);
    RUN(test_wire_fidelity);
    RUN(test_wiping);
    RUN(test_oauth_hard);
    RUN(test_api_errors);
    RUN(test_api_provider_request);
    RUN(test_api_provider_parse);
    RUN(test_api_response_info_bookmark);
    RUN(test_compose_engine);
    RUN(test_compose_cut_hostile);
    RUN(test_text_urls_linear);
    RUN(test_compose_nul);
    RUN(test_media_multipart_boundary_clash);
    RUN(test_compose_media_nothing);
    RUN(test_media_sniff_brands);
    RUN(test_compose_specs);
    RUN(test_media_multipart);
    RUN(test_media_sniff);
    RUN(test_media_items);
    RUN(test_compose_action_links);
    RUN(test_http_date);
    RUN(test_civil_dates);
    RUN(test_control_bytes);
    RUN(test_json_escaping);
    RUN(test_json_numbers);
    RUN(test_json_depth);
    RUN(test_json_utf8);
    RUN(test_json_key_order);
    RUN(test_json_misuse);
    RUN(test_json_alloc_failures);
    RUN(test_json_provider_bodies);
    RUN(test_json_deep_replies);
    return tap_done("c-core");
}
