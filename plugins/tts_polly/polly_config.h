/* Resolving and validating the Polly backends' options: region, endpoint, format, rate, lexicons. */
#ifndef POLLY_CONFIG_H
#define POLLY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLLY_REGION_MAX 64u
#define POLLY_ENDPOINT_MAX 512u
#define POLLY_HOST_MAX 300u
#define POLLY_LEXICONS_MAX 5u
#define POLLY_LEXICON_NAME_MAX 20u

/* The MIME type given to the sink for an OutputFormat. */
const char *polly_config_mime(const char *format);
/* The sample rate Polly uses when none is given. */
uint32_t polly_config_default_rate(const char *engine, const char *format);
/* True if Polly accepts `rate` for `format`. */
bool polly_config_rate_ok(const char *format, uint32_t rate);

/* Split "a b,c" into at most 5 names of [0-9A-Za-z]{1,20}.  Returns 0, or -1 with `why`. */
int polly_config_lexicons(const char *text, char names[POLLY_LEXICONS_MAX][POLLY_LEXICON_NAME_MAX + 1],
                          size_t *n, char *why, size_t why_cap);

/* Region: `option` if set, else AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region` in
 * the shared config/credentials files.  Returns 0 and fills `out` (and `from`, a static
 * description), or -1 with `why`. */
int polly_config_region(const char *option, const char *profile, char out[POLLY_REGION_MAX], const char **from,
                        char *why, size_t why_cap);

/* Endpoint: `option` if set, else AWS_ENDPOINT_URL_POLLY, AWS_ENDPOINT_URL, else
 * https://polly.REGION.amazonaws.com (.com.cn in China).  Fills the base URL (no trailing slash)
 * and the Host header value (host[:port]).  Plain http is accepted for loopback hosts only.
 * Returns 0 or -1 with `why`. */
int polly_config_endpoint(const char *option, const char *region, char url[POLLY_ENDPOINT_MAX],
                          char host[POLLY_HOST_MAX], char *why, size_t why_cap);

#endif
