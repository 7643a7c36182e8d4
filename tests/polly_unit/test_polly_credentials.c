/* Unit tests: AWS shared config/credentials parsing, environment credentials, IMDS/ECS JSON, refresh timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "polly_config.h"
#include "polly_credentials.h"
#include "polly_ini.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *path_of(const char *name)
{
	static char path[2][512];
	static int which;
	which ^= 1;
	snprintf(path[which], sizeof path[which], "%s/%s", tmpdir, name);
	return path[which];
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/polly-unit-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	/* Isolate from the machine's own AWS settings. */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_SECURITY_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("HOME", tmpdir, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_profiles(void **state)
{
	(void)state;
	/* A session token longer than libinih's 200-byte line limit must survive intact. */
	char token[1201];
	for (size_t i = 0; i < 1200; i++)
		token[i] = (char)('A' + i % 26);
	token[1200] = '\0';
	char credentials[2048];
	snprintf(credentials, sizeof credentials,
	         "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = secretdefault\n\n"
	         "[work]\naws_access_key_id=AKIDWORK ; inline comment\naws_secret_access_key = secretwork\n"
	         "aws_session_token = %s\n",
	         token);
	write_file("credentials", credentials);
	write_file("config", "[default]\nregion = us-east-1\n\n[profile work]\nregion = ap-northeast-2\n"
	                     "aws_access_key_id = AKIDFROMCONFIG\n\n[profile sso]\nsso_session = corp\nregion = eu-west-1\n"
	                     "[work]\nregion = wrong-section\n");
	struct polly_profile p;
	char why[256];
	assert_int_equal(polly_ini_load_profile(path_of("credentials"), path_of("config"), "work", &p, why, sizeof why), 0);
	assert_true(p.found);
	assert_string_equal(p.access_key_id, "AKIDWORK"); /* the credentials file wins */
	assert_string_equal(p.secret_access_key, "secretwork");
	assert_string_equal(p.session_token, token);
	assert_string_equal(p.region, "ap-northeast-2"); /* [profile work], not [work], in config */
	polly_profile_clear(&p);

	assert_int_equal(polly_ini_load_profile(path_of("credentials"), path_of("config"), "default", &p, why, sizeof why), 0);
	assert_string_equal(p.access_key_id, "AKIDDEFAULT");
	assert_null(p.session_token);
	assert_string_equal(p.region, "us-east-1");
	polly_profile_clear(&p);

	assert_int_equal(polly_ini_load_profile(path_of("credentials"), path_of("config"), "sso", &p, why, sizeof why), 0);
	assert_true(p.found);
	assert_null(p.access_key_id);
	assert_string_equal(p.unsupported, "sso_session");
	polly_profile_clear(&p);

	assert_int_equal(polly_ini_load_profile(path_of("credentials"), path_of("nothing"), "absent", &p, why, sizeof why), 0);
	assert_false(p.found);
	polly_profile_clear(&p);

	/* A malformed file is reported with its line, without values. */
	write_file("bad", "[default]\naws_access_key_id = AKID\nthis line is not ini\n");
	assert_int_equal(polly_ini_load_profile(path_of("bad"), NULL, "default", &p, why, sizeof why), -1);
	assert_non_null(strstr(why, "bad:3"));
	assert_null(strstr(why, "AKID"));
	polly_profile_clear(&p);
}

static void test_chain_sources(void **state)
{
	(void)state;
	struct polly_credentials c;
	char why[POLLY_WHY_MAX];
	assert_int_equal(polly_cred_from_env(&c, why, sizeof why), POLLY_CRED_NONE);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	assert_int_equal(polly_cred_from_env(&c, why, sizeof why), POLLY_CRED_ERROR);
	assert_non_null(strstr(why, "AWS_SECRET_ACCESS_KEY"));
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	assert_int_equal(polly_cred_from_env(&c, why, sizeof why), POLLY_CRED_FOUND);
	assert_string_equal(c.access_key_id, "AKIDENV");
	assert_string_equal(c.session_token, "envtoken");
	assert_int_equal(c.expiration, 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");

	/* Shared files through the environment variables, profile from AWS_PROFILE. */
	write_file("creds2", "[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = cisecret\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path_of("creds2"), 1);
	setenv("AWS_CONFIG_FILE", path_of("config2"), 1);
	setenv("AWS_PROFILE", "ci", 1);
	assert_string_equal(polly_cred_profile_name(""), "ci");
	assert_string_equal(polly_cred_profile_name("explicit"), "explicit");
	assert_int_equal(polly_cred_from_profile("ci", &c, why, sizeof why), POLLY_CRED_FOUND);
	assert_string_equal(c.access_key_id, "AKIDCI");
	assert_string_equal(c.source, "profile ci");
	assert_int_equal(polly_cred_from_profile("other", &c, why, sizeof why), POLLY_CRED_NONE);
	assert_non_null(strstr(why, "profile other not found"));

	/* The provider walks the chain: env first, then the profile. */
	struct polly_cred_provider *provider = polly_cred_provider_new(NULL, NULL, "");
	assert_non_null(provider);
	assert_int_equal(polly_cred_provider_get(provider, &c, why, sizeof why), 0);
	assert_string_equal(c.access_key_id, "AKIDCI");
	polly_cred_provider_free(provider);
	unsetenv("AWS_PROFILE");
	provider = polly_cred_provider_new(NULL, NULL, "");
	assert_int_equal(polly_cred_provider_get(provider, &c, why, sizeof why), -1);
	assert_non_null(strstr(why, "no AWS credentials found"));
	polly_cred_provider_free(provider);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
}

static void test_region(void **state)
{
	(void)state;
	char region[POLLY_REGION_MAX];
	const char *from = NULL;
	char why[256];
	write_file("config3", "[profile seoul]\nregion = ap-northeast-2\n");
	setenv("AWS_CONFIG_FILE", path_of("config3"), 1);
	assert_int_equal(polly_config_region(NULL, "seoul", region, &from, why, sizeof why), 0);
	assert_string_equal(region, "ap-northeast-2");
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	assert_int_equal(polly_config_region(NULL, "seoul", region, &from, why, sizeof why), 0);
	assert_string_equal(region, "eu-west-1");
	setenv("AWS_REGION", "us-west-2", 1);
	assert_int_equal(polly_config_region(NULL, "seoul", region, &from, why, sizeof why), 0);
	assert_string_equal(region, "us-west-2");
	assert_int_equal(polly_config_region("ca-central-1", "seoul", region, &from, why, sizeof why), 0);
	assert_string_equal(region, "ca-central-1");
	assert_int_equal(polly_config_region("bad region!", "seoul", region, &from, why, sizeof why), -1);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	assert_int_equal(polly_config_region(NULL, "nowhere", region, &from, why, sizeof why), -1);
	assert_non_null(strstr(why, "no AWS region"));
	unsetenv("AWS_CONFIG_FILE");
}

static void test_metadata_json(void **state)
{
	(void)state;
	struct polly_credentials c;
	char why[POLLY_WHY_MAX];
	/* IMDS answer. */
	const char *imds = "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-01-01T00:00:00Z\",\n"
	                   "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAIMDS\",\n"
	                   "  \"SecretAccessKey\" : \"imdssecret\",\n  \"Token\" : \"imdstoken\",\n"
	                   "  \"Expiration\" : \"2026-01-01T06:00:00Z\"\n}";
	assert_int_equal(polly_cred_parse_json(imds, strlen(imds), &c, why, sizeof why), POLLY_CRED_FOUND);
	assert_string_equal(c.access_key_id, "ASIAIMDS");
	assert_string_equal(c.secret_access_key, "imdssecret");
	assert_string_equal(c.session_token, "imdstoken");
	assert_int_equal(c.expiration, 1767247200); /* 2026-01-01T06:00:00Z */
	/* ECS answer (no Code, fractional seconds). */
	const char *ecs = "{\"AccessKeyId\":\"ASIAECS\",\"SecretAccessKey\":\"ecssecret\",\"Token\":\"ecstoken\","
	                  "\"Expiration\":\"2026-01-01T06:00:00.123Z\",\"RoleArn\":\"arn:aws:iam::1:role/x\"}";
	assert_int_equal(polly_cred_parse_json(ecs, strlen(ecs), &c, why, sizeof why), POLLY_CRED_FOUND);
	assert_int_equal(c.expiration, 1767247200);
	/* Failures. */
	const char *failed = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\"}";
	assert_int_equal(polly_cred_parse_json(failed, strlen(failed), &c, why, sizeof why), POLLY_CRED_ERROR);
	assert_non_null(strstr(why, "AssumeRoleUnauthorizedAccess"));
	const char *partial = "{\"AccessKeyId\":\"A\"}";
	assert_int_equal(polly_cred_parse_json(partial, strlen(partial), &c, why, sizeof why), POLLY_CRED_ERROR);
	assert_int_equal(polly_cred_parse_json("not json", 8, &c, why, sizeof why), POLLY_CRED_ERROR);
	const char *bad_time = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\",\"Expiration\":\"tomorrow\"}";
	assert_int_equal(polly_cred_parse_json(bad_time, strlen(bad_time), &c, why, sizeof why), POLLY_CRED_ERROR);

	time_t t;
	assert_int_equal(polly_parse_iso8601("2026-01-01T09:00:00+09:00", &t), 0);
	assert_int_equal(t, 1767225600);
	assert_int_equal(polly_parse_iso8601("2026-13-01T00:00:00Z", &t), -1);
}

static void test_refresh_time(void **state)
{
	(void)state;
	/* Static keys never refresh; a 6 h role refreshes 5 minutes before expiry; a 4 minute token at
	 * half its life. */
	assert_int_equal(polly_cred_refresh_time(1000, 0), 0);
	assert_int_equal(polly_cred_refresh_time(1000, 1000 + 6 * 3600), 1000 + 6 * 3600 - 300);
	assert_int_equal(polly_cred_refresh_time(1000, 1000 + 240), 1000 + 120);
	assert_int_equal(polly_cred_refresh_time(1000, 900), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_chain_sources),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_metadata_json),
		cmocka_unit_test(test_refresh_time),
	};
	return cmocka_run_group_tests_name("polly_credentials", tests, setup, teardown);
}
