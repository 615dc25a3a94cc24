/* json.c - JSON helpers (see json.h). */
#include "json.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

#include "crypto/wipe.h"
#include "hex.h"

size_t
json_escape_byte(char out[JSON_ESCAPE_MAX], unsigned char c)
{
	uint8_t b = c;

	if (c == '"' || c == '\\') {
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	if (c < 0x20 || c == 0x7f) {
		memcpy(out, "\\u00", 4);
		hex_encode(out + 4, &b, 1);
		return 6;
	}
	out[0] = (char)c;
	return 1;
}

int
json_has_nul_escape(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\\')
			continue;
		if (buf[i + 1] == 'u' && len - i >= 6 && memcmp(buf + i + 2, "0000", 4) == 0)
			return 1;
		i++;    /* skip the escaped character, so an escaped backslash before u0000 is text */
	}
	return 0;
}

void
json_wipe(cJSON *j)
{
	cJSON *e;

	if (j == NULL)
		return;
	if (j->string != NULL)
		crypto_wipe(j->string, strlen(j->string));
	if (cJSON_IsString(j) && j->valuestring != NULL)
		crypto_wipe(j->valuestring, strlen(j->valuestring));
	cJSON_ArrayForEach(e, j)
		json_wipe(e);
}
