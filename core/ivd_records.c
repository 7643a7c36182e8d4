/* Durable session records: a JSON-lines log per session and audio answer files, fsynced before acks. */
#include "ivd_records.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ivd_log.h"

struct ivd_record {
	char dir[PATH_MAX];
	int dir_fd;
	int log_fd;
	int audio_fd;
	char audio_name[64];
	uint64_t audio_bytes;
	EVP_MD_CTX *audio_hash;
};

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int ivd_records_prepare(const char *records_dir, char *error, size_t error_size)
{
	if (mkdir_p(records_dir, 0700) != 0) {
		snprintf(error, error_size, "cannot create the records directory '%s': %s",
		         records_dir, strerror(errno));
		return -1;
	}
	if (access(records_dir, W_OK | X_OK) != 0) {
		snprintf(error, error_size, "the records directory '%s' is not writable: %s",
		         records_dir, strerror(errno));
		return -1;
	}
	return 0;
}

int ivd_record_open(const char *records_dir, const char *session_id, struct ivd_record **out,
                    char *error, size_t error_size)
{
	struct ivd_record *record = calloc(1, sizeof *record);
	if (!record) {
		snprintf(error, error_size, "out of memory");
		return -1;
	}
	record->dir_fd = record->log_fd = record->audio_fd = -1;
	snprintf(record->dir, sizeof record->dir, "%s/%s", records_dir, session_id);
	if (mkdir(record->dir, 0700) != 0 && errno != EEXIST)
		goto fail;
	if (fsync_dir(records_dir) != 0)
		goto fail;
	record->dir_fd = open(record->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (record->dir_fd < 0)
		goto fail;
	record->log_fd = openat(record->dir_fd, "session.jsonl",
	                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (record->log_fd < 0 || fsync(record->dir_fd) != 0)
		goto fail;
	*out = record;
	return 0;
fail:
	snprintf(error, error_size, "cannot create the session record '%s': %s", record->dir,
	         strerror(errno));
	ivd_record_close(record);
	return -1;
}

static void add_timestamp(cJSON *object)
{
	struct timespec now;
	struct tm tm;
	char text[40];
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t used = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(text + used, sizeof text - used, ".%03ldZ", now.tv_nsec / 1000000L);
	cJSON_AddStringToObject(object, "t", text);
}

int ivd_record_append(struct ivd_record *record, cJSON *object, bool sync)
{
	add_timestamp(object);
	char *line = cJSON_PrintUnformatted(object);
	cJSON_Delete(object);
	if (!line) {
		errno = ENOMEM;
		return -1;
	}
	size_t len = strlen(line);
	line[len] = '\n'; /* replaces the terminator: we write len + 1 bytes */
	int rc = write_all(record->log_fd, line, len + 1);
	cJSON_free(line);
	if (rc == 0 && sync)
		rc = fdatasync(record->log_fd);
	if (rc != 0)
		ivd_log_error("records: writing %s/session.jsonl failed: %s", record->dir,
		              strerror(errno));
	return rc;
}

static const char *extension_for(const char *mime_type)
{
	static const struct {
		const char *mime, *ext;
	} map[] = {{"audio/webm", "webm"}, {"audio/ogg", "ogg"},  {"audio/mpeg", "mp3"},
	           {"audio/wav", "wav"},   {"audio/x-wav", "wav"}, {"audio/mp4", "m4a"},
	           {"audio/aac", "aac"},   {"audio/flac", "flac"}, {"audio/L16", "pcm"}};
	if (mime_type)
		for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
			if (strncasecmp(mime_type, map[i].mime, strlen(map[i].mime)) == 0)
				return map[i].ext;
	return "bin";
}

int ivd_record_audio_begin(struct ivd_record *record, uint32_t index, const char *mime_type,
                           char *file_name, size_t file_name_size)
{
	ivd_record_audio_abort(record);
	snprintf(record->audio_name, sizeof record->audio_name, "answer-%03u.%s", index,
	         extension_for(mime_type));
	record->audio_fd = openat(record->dir_fd, record->audio_name,
	                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (record->audio_fd < 0)
		return -1;
	record->audio_hash = EVP_MD_CTX_new();
	if (!record->audio_hash || EVP_DigestInit_ex(record->audio_hash, EVP_sha256(), NULL) != 1) {
		ivd_record_audio_abort(record);
		errno = ENOMEM;
		return -1;
	}
	record->audio_bytes = 0;
	snprintf(file_name, file_name_size, "%s", record->audio_name);
	return 0;
}

int ivd_record_audio_write(struct ivd_record *record, const void *data, size_t len)
{
	if (record->audio_fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (write_all(record->audio_fd, data, len) != 0)
		return -1;
	EVP_DigestUpdate(record->audio_hash, data, len);
	record->audio_bytes += len;
	return 0;
}

static void to_hex(const unsigned char *digest, unsigned len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < len; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[2 * len] = '\0';
}

int ivd_record_audio_finish(struct ivd_record *record, uint64_t *bytes, char sha256_hex[65])
{
	if (record->audio_fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (fsync(record->audio_fd) != 0 || fsync(record->dir_fd) != 0)
		return -1;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned digest_len = 0;
	EVP_DigestFinal_ex(record->audio_hash, digest, &digest_len);
	to_hex(digest, digest_len, sha256_hex);
	*bytes = record->audio_bytes;
	close(record->audio_fd);
	record->audio_fd = -1;
	EVP_MD_CTX_free(record->audio_hash);
	record->audio_hash = NULL;
	return 0;
}

const char *ivd_record_audio_name(const struct ivd_record *record)
{
	return record->audio_name[0] ? record->audio_name : NULL;
}

void ivd_record_audio_abort(struct ivd_record *record)
{
	if (record->audio_fd >= 0) {
		close(record->audio_fd);
		record->audio_fd = -1;
		unlinkat(record->dir_fd, record->audio_name, 0);
	}
	EVP_MD_CTX_free(record->audio_hash);
	record->audio_hash = NULL;
}

void ivd_record_path(const struct ivd_record *record, const char *file_name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", record->dir, file_name);
}

void ivd_record_close(struct ivd_record *record)
{
	if (!record)
		return;
	ivd_record_audio_abort(record);
	if (record->log_fd >= 0)
		close(record->log_fd);
	if (record->dir_fd >= 0)
		close(record->dir_fd);
	free(record);
}

void ivd_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned digest_len = 0;
	EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL);
	to_hex(digest, digest_len, out);
}
