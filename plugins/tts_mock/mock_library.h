/* mock TTS plugin: the audio library, which maps a text to the file that speaks it. */
#ifndef MOCK_LIBRARY_H
#define MOCK_LIBRARY_H

#include <interviewd/plugin.h>

struct mock_library;

/* Open the library in `audio_dir`: read the optional manifest (JSON object, text -> file name
 * relative to audio_dir) and check that the default file exists.  Returns NULL with `err` filled
 * (class CONFIG) on failure. */
struct mock_library *mock_library_open(const struct ivd_host_api *api, const char *audio_dir,
                                       const char *manifest_name, const char *default_name,
                                       struct ivd_error *err);
void mock_library_close(struct mock_library *library);

/* Number of manifest entries (for the startup log line). */
size_t mock_library_manifest_size(const struct mock_library *library);

/* Find the file for `text`: the manifest entry, else "<sha256(text) hex>.mp3" if it exists, else
 * the default file.  Writes the absolute path into `path` (size `path_size`).  Returns true if the
 * text had its own recording, false if the default file was chosen. */
bool mock_library_lookup(const struct mock_library *library, const char *text, char *path,
                         size_t path_size);

#endif
