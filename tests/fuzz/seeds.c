/* seeds.c - writes the unit test tables (tests/unit/http_cases.h) as the
 * fuzzer's seed corpus: one file per case, into the directory argv[1]. */
#include <stdio.h>
#include <string.h>

#include "http_cases.h"

static int put(const char *dir, const char *kind, size_t i, const char *in, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/seed-%s-%03zu", dir, kind, i);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(in, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int bad = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	for (size_t i = 0; i < N_REQ_CASES; i++)
		bad |= put(argv[1], "req", i, req_cases[i].in,
		    req_cases[i].len ? req_cases[i].len : strlen(req_cases[i].in));
	for (size_t i = 0; i < N_CHUNK_CASES; i++)
		bad |= put(argv[1], "chunk", i, chunk_cases[i].in,
		    chunk_cases[i].len ? chunk_cases[i].len : strlen(chunk_cases[i].in));
	return bad;
}
