/*
 * vectors.h - helpers for the unit tests that read ../shared/vectors (VECTORS_DIR).
 * Header-only (static inline) so each criterion binary stays one .c file.
 */
#ifndef MTE_TEST_VECTORS_H
#define MTE_TEST_VECTORS_H

#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VECTORS_DIR
#error "VECTORS_DIR must be defined by the Makefile"
#endif

/* Reads and parses VECTORS_DIR/name; fails the test on any error. */
static inline cJSON *vec_load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", VECTORS_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_gt(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    cr_assert_not_null(root, "%s: invalid JSON", name);
    return root;
}

/* The file's declared number of cases. */
static inline int vec_count(const cJSON *root)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "count");
    cr_assert(cJSON_IsNumber(c), "missing count");
    return c->valueint;
}

static inline const cJSON *vec_tests(const cJSON *root)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "tests");
    cr_assert(cJSON_IsArray(t), "missing tests array");
    return t;
}

static inline const char *vec_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    cr_assert(cJSON_IsString(v), "missing string field %s", key);
    return v->valuestring;
}

static inline int vec_has(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

static inline int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes hex text into a fresh buffer (at least 1 byte allocated); sets *len. */
static inline uint8_t *hex_decode(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    cr_assert_eq(n % 2, 0, "odd hex length");
    uint8_t *out = malloc(n / 2 + 1);
    cr_assert_not_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        cr_assert(hi >= 0 && lo >= 0, "bad hex digit");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

/* Hex field of a case as bytes; *len receives its length. */
static inline uint8_t *vec_hex(const cJSON *obj, const char *key, size_t *len)
{
    return hex_decode(vec_str(obj, key), len);
}

/* Hex field that must have exactly want bytes. */
static inline uint8_t *vec_hex_n(const cJSON *obj, const char *key, size_t want)
{
    size_t n;
    uint8_t *p = vec_hex(obj, key, &n);
    cr_assert_eq(n, want, "field %s: %zu bytes, expected %zu", key, n, want);
    return p;
}

#endif /* MTE_TEST_VECTORS_H */
