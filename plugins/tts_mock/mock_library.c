/* mock TTS plugin: the audio library, which maps a text to the file that speaks it. */
#include "mock_library.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOCK_MANIFEST_MAX_BYTES (16u * 1024u * 1024u)

struct mock_manifest_entry {
	char *text;
	char *file; /* relative to the audio directory */
};

struct mock_library {
	const struct ivd_host_api *api;
	char *audio_dir;
	char *default_file;
	struct mock_manifest_entry *entries; /* sorted by text */
	size_t n_entries;
};

static int compare_entries(const void *a, const void *b)
{
	const struct mock_manifest_entry *x = a, *y = b;
	return strcmp(x->text, y->text);
}

static bool is_regular_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read a whole small file into a NUL-terminated buffer.  Returns NULL and sets errno on failure. */
static char *read_small_file(const char *path, size_t max_bytes)
{
	FILE *file = fopen(path, "rb");
	if (!file)
		return NULL;
	char *text = malloc(max_bytes + 1);
	size_t len = text ? fread(text, 1, max_bytes + 1, file) : 0;
	int failed = !text || ferror(file);
	fclose(file);
	if (failed || len > max_bytes) {
		free(text);
		errno = failed ? EIO : EFBIG;
		return NULL;
	}
	text[len] = '\0';
	return text;
}

/* A manifest file name must stay inside the audio directory. */
static bool is_safe_relative_name(const char *name)
{
	return name[0] != '\0' && name[0] != '/' && strstr(name, "..") == NULL;
}

static bool load_manifest(struct mock_library *library, const char *path, struct ivd_error *err)
{
	const struct ivd_host_api *api = library->api;
	char *text = read_small_file(path, MOCK_MANIFEST_MAX_BYTES);
	if (!text) {
		if (errno == ENOENT)
			return true; /* the manifest is optional */
		api->error_set(err, IVD_ERRC_CONFIG, "mock manifest unreadable", "cannot read manifest %s: %s",
		               path, strerror(errno));
		return false;
	}
	cJSON *root = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		api->error_set(err, IVD_ERRC_CONFIG, "mock manifest invalid",
		               "manifest %s is not a JSON object of \"text\": \"file.mp3\" pairs", path);
		return false;
	}
	size_t count = (size_t)cJSON_GetArraySize(root);
	library->entries = calloc(count ? count : 1, sizeof(*library->entries));
	bool ok = library->entries != NULL;
	const cJSON *item;
	cJSON_ArrayForEach(item, root)
	{
		if (!ok)
			break;
		if (!cJSON_IsString(item) || !is_safe_relative_name(item->valuestring)) {
			api->error_set(err, IVD_ERRC_CONFIG, "mock manifest invalid",
			               "manifest %s: the entry for \"%.60s\" must be a file name inside %s", path,
			               item->string, library->audio_dir);
			ok = false;
			break;
		}
		struct mock_manifest_entry *entry = &library->entries[library->n_entries];
		entry->text = strdup(item->string);
		entry->file = strdup(item->valuestring);
		library->n_entries++;
		ok = entry->text && entry->file;
	}
	cJSON_Delete(root);
	if (!ok) {
		if (err && err->error_class == IVD_ERRC_NONE)
			api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory reading %s", path);
		return false;
	}
	qsort(library->entries, library->n_entries, sizeof(*library->entries), compare_entries);
	return true;
}

static char *join_path(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *path = malloc(len);
	if (path)
		snprintf(path, len, "%s/%s", dir, name);
	return path;
}

struct mock_library *mock_library_open(const struct ivd_host_api *api, const char *audio_dir,
                                       const char *manifest_name, const char *default_name,
                                       struct ivd_error *err)
{
	struct stat st;
	if (!audio_dir || stat(audio_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		api->error_set(err, IVD_ERRC_CONFIG, "mock audio directory missing",
		               "audio_dir %s is not a directory%s", audio_dir ? audio_dir : "(unset)",
		               " (build the project, or point [tts.mock] audio_dir at your recordings)");
		return NULL;
	}
	struct mock_library *library = calloc(1, sizeof(*library));
	if (!library) {
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		return NULL;
	}
	library->api = api;
	library->audio_dir = strdup(audio_dir);
	library->default_file = library->audio_dir ? join_path(audio_dir, default_name) : NULL;
	if (!library->default_file) {
		api->error_set(err, IVD_ERRC_INTERNAL, "out of memory", "out of memory");
		mock_library_close(library);
		return NULL;
	}
	if (!is_regular_file(library->default_file)) {
		api->error_set(err, IVD_ERRC_CONFIG, "mock default audio missing",
		               "default_file %s does not exist (set [tts.mock] default_file to a file in %s)",
		               library->default_file, audio_dir);
		mock_library_close(library);
		return NULL;
	}
	char *manifest_path = manifest_name && manifest_name[0] ? join_path(audio_dir, manifest_name) : NULL;
	bool ok = !manifest_path || load_manifest(library, manifest_path, err);
	free(manifest_path);
	if (!ok) {
		mock_library_close(library);
		return NULL;
	}
	return library;
}

void mock_library_close(struct mock_library *library)
{
	if (!library)
		return;
	for (size_t i = 0; i < library->n_entries; i++) {
		free(library->entries[i].text);
		free(library->entries[i].file);
	}
	free(library->entries);
	free(library->default_file);
	free(library->audio_dir);
	free(library);
}

size_t mock_library_manifest_size(const struct mock_library *library)
{
	return library->n_entries;
}

static void sha256_hex(const char *text, char hex[65])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(), NULL))
		len = 0;
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	hex[len ? 64 : 0] = '\0';
}

bool mock_library_lookup(const struct mock_library *library, const char *text, char *path,
                         size_t path_size)
{
	struct mock_manifest_entry key = {.text = (char *)text};
	const struct mock_manifest_entry *entry =
		library->n_entries ? bsearch(&key, library->entries, library->n_entries,
		                             sizeof(*library->entries), compare_entries)
		                   : NULL;
	if (entry) {
		int n = snprintf(path, path_size, "%s/%s", library->audio_dir, entry->file);
		if (n > 0 && (size_t)n < path_size && is_regular_file(path))
			return true;
	}
	char hex[65];
	sha256_hex(text, hex);
	if (hex[0]) {
		int n = snprintf(path, path_size, "%s/%s.mp3", library->audio_dir, hex);
		if (n > 0 && (size_t)n < path_size && is_regular_file(path))
			return true;
	}
	snprintf(path, path_size, "%s", library->default_file);
	return false;
}
