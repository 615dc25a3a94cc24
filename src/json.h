/*
 * json.h - small JSON helpers around cJSON, shared by every module that
 * reads or writes JSON text: one escaper for string bytes, the \u0000
 * refusal, and the wipe of decrypted values.
 */
#ifndef MTE_JSON_H
#define MTE_JSON_H

#include <stddef.h>

struct cJSON;

/* Longest escape json_escape_byte writes ("\u00XX"). */
#define JSON_ESCAPE_MAX 6

/*
 * Writes byte c as it appears inside a JSON string to out: '"' and '\\'
 * backslash-escaped, control bytes and DEL as \u00XX, any other byte as
 * itself (so UTF-8 passes through).  Returns the length, 1..JSON_ESCAPE_MAX.
 */
size_t json_escape_byte(char out[JSON_ESCAPE_MAX], unsigned char c);

/*
 * 1 when the JSON text buf[0..len) holds the escape \u0000 (a NUL once
 * decoded).  cJSON's strings end at a NUL, so such a value would be cut
 * short without notice; callers refuse it instead.
 */
int json_has_nul_escape(const char *buf, size_t len);

/* Zeroes every name and string value of a parsed tree (before cJSON_Delete
 * frees decrypted text).  NULL is allowed. */
void json_wipe(struct cJSON *j);

#endif
