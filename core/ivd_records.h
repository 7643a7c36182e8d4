/* Durable session records: a JSON-lines log per session and audio answer files, fsynced before acks. */
#ifndef IVD_RECORDS_H
#define IVD_RECORDS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ivd_record;

/* Create the records directory if needed (mode 0700) and check it is writable.  Returns 0, or -1
 * with a message in `error`. */
int ivd_records_prepare(const char *records_dir, char *error, size_t error_size);

/* Worker thread.  Create <records_dir>/<session_id>/ and its session.jsonl, both made durable. */
int ivd_record_open(const char *records_dir, const char *session_id, struct ivd_record **out,
                    char *error, size_t error_size);
/* Append `object` (a "t" timestamp is added) as one line; with `sync`, it is on disk when this
 * returns 0.  Takes ownership of `object`. */
int ivd_record_append(struct ivd_record *record, cJSON *object, bool sync);

/* Audio answers: one open at a time. */
int ivd_record_audio_begin(struct ivd_record *record, uint32_t index, const char *mime_type,
                           char *file_name, size_t file_name_size);
int ivd_record_audio_write(struct ivd_record *record, const void *data, size_t len);
/* Flush the file and its directory entry to disk; reports size and SHA-256 (hex). */
int ivd_record_audio_finish(struct ivd_record *record, uint64_t *bytes, char sha256_hex[65]);
/* Name of the open (or last finished) audio answer file, NULL if none was begun. */
const char *ivd_record_audio_name(const struct ivd_record *record);
/* Drop an unfinished answer file. */
void ivd_record_audio_abort(struct ivd_record *record);

/* Full path of a file in the session's directory. */
void ivd_record_path(const struct ivd_record *record, const char *file_name, char *out, size_t size);
void ivd_record_close(struct ivd_record *record);

/* SHA-256 of a buffer, as 64 hex characters. */
void ivd_sha256_hex(const void *data, size_t len, char out[65]);

#endif
