/*
 * xwing_tool.c - X-Wing over stdin/stdout for the cross-implementation test
 * (tests/node/xwing-cross.test.mjs).  One command per line, hex arguments,
 * one answer line per command, so a whole batch runs in one process:
 *
 *   keygen SEED             -> PK
 *   encaps PK [ESEED]       -> CT SS      (ESEED from rand_bytes when omitted)
 *   decaps CT SEED          -> SS
 *
 * A command that fails (bad hex, wrong length, rejected key) answers "error".
 * Test tool only: it prints secrets.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rand.h"
#include "crypto/xwing.h"

#define ARG_MAX_BYTES 2048

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a hex token into out (cap bytes); returns its length or -1. */
static long unhex(const char *tok, uint8_t *out, size_t cap)
{
    size_t n = strlen(tok);
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(tok[2 * i]), lo = hexval(tok[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

static void puthex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

/* Runs one command line; returns 0 on success, -1 on failure. */
static int run(char *line)
{
    static uint8_t a[ARG_MAX_BYTES], b[ARG_MAX_BYTES];
    char *save = NULL;
    const char *cmd = strtok_r(line, " \t", &save);
    const char *t1 = strtok_r(NULL, " \t", &save);
    const char *t2 = strtok_r(NULL, " \t", &save);
    long la, lb = -1;

    if (cmd == NULL || t1 == NULL || strtok_r(NULL, " \t", &save) != NULL)
        return -1;
    if ((la = unhex(t1, a, sizeof a)) < 0)
        return -1;
    if (t2 != NULL && (lb = unhex(t2, b, sizeof b)) < 0)
        return -1;

    if (strcmp(cmd, "keygen") == 0 && t2 == NULL && la == XWING_SEED_LEN) {
        uint8_t pk[XWING_PK_LEN];
        xwing_keygen(pk, a);
        puthex(pk, sizeof pk);
    } else if (strcmp(cmd, "encaps") == 0) {
        uint8_t eseed[XWING_ESEED_LEN], ct[XWING_CT_LEN], ss[XWING_SS_LEN];
        if (t2 == NULL)
            rand_bytes(eseed, sizeof eseed);
        else if (lb == XWING_ESEED_LEN)
            memcpy(eseed, b, sizeof eseed);
        else
            return -1;
        if (xwing_encaps(ct, ss, a, (size_t)la, eseed) != 0)
            return -1;
        puthex(ct, sizeof ct);
        putchar(' ');
        puthex(ss, sizeof ss);
    } else if (strcmp(cmd, "decaps") == 0 && lb == XWING_SEED_LEN) {
        uint8_t ss[XWING_SS_LEN];
        if (xwing_decaps(ss, a, (size_t)la, b) != 0)
            return -1;
        puthex(ss, sizeof ss);
    } else {
        return -1;
    }
    putchar('\n');
    return 0;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) > 0) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == 0)
            continue;
        if (run(line) != 0)
            puts("error");
    }
    free(line);
    return fflush(stdout) == 0 ? 0 : 1;
}
