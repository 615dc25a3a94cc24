/*
 * mime.h - content types of the static files we serve, by file extension.
 * Header-only so that the build-time embedder (tools/embed.c) and the relay
 * agree on one table.
 */
#ifndef MTE_MIME_H
#define MTE_MIME_H

#include <string.h>

static inline const char *
mime_type(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".js",   "text/javascript; charset=utf-8" },
		{ ".mjs",  "text/javascript; charset=utf-8" },
		{ ".ts",   "text/plain; charset=utf-8" },
		{ ".map",  "application/json" },
		{ ".html", "text/html; charset=utf-8" },
		{ ".css",  "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".svg",  "image/svg+xml" },
		{ ".png",  "image/png" },
		{ ".ico",  "image/x-icon" },
		{ ".txt",  "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot != NULL)
		for (i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

#endif
