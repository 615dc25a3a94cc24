/*
 * ct_x25519.c - constant-time check of our X25519 (src/crypto/x25519.c) under
 * valgrind memcheck (make test-ct).
 *
 * The scalar is marked undefined with a memcheck client request, so memcheck
 * reports any conditional jump, move or memory address that depends on it: a
 * secret-dependent branch in the ladder or the signed-digit recoding, or a
 * table index in the fixed-base lookups.  The ladder runs twice: with u
 * public (a peer's key, as in X-Wing) and with u secret as well (the header
 * promises constant time in u too), and so does x25519_pub_and_shared.  Results, and the zero-result flag, are
 * declared public only after the call, before this program compares them.
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "crypto/rand.h"
#include "crypto/x25519.h"

#define SECRET(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

#define ROUNDS 4

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "ct_x25519: FAILED: %s\n", what);
        failures++;
    }
}

static void check_round(void)
{
    static const uint8_t nine[X25519_LEN] = { 9 };
    uint8_t k[X25519_LEN], u[X25519_LEN], a[X25519_LEN], b[X25519_LEN], c[X25519_LEN];
    uint8_t pub[X25519_LEN], sh[X25519_LEN];
    int rc_a, rc_b, rc_c;

    rand_bytes(k, sizeof k);
    rand_bytes(u, sizeof u);

    /* ladder: secret scalar, public u */
    SECRET(k, sizeof k);
    rc_a = x25519(a, k, u);
    PUBLIC(a, sizeof a);
    PUBLIC(&rc_a, sizeof rc_a);
    expect(rc_a == 0, "random u gave the zero result");

    /* ladder: secret scalar and secret u */
    SECRET(u, sizeof u);
    rc_b = x25519(b, k, u);
    PUBLIC(b, sizeof b);
    PUBLIC(&rc_b, sizeof rc_b);
    expect(rc_b == rc_a && memcmp(a, b, sizeof a) == 0, "ladder result depends on definedness");

    /* fixed base against the ladder on u = 9, both with the scalar secret */
    rc_a = x25519_base(a, k);
    PUBLIC(a, sizeof a);
    PUBLIC(&rc_a, sizeof rc_a);
    rc_c = x25519(c, k, nine);
    PUBLIC(c, sizeof c);
    PUBLIC(&rc_c, sizeof rc_c);
    expect(rc_a == 0 && rc_c == 0 && memcmp(a, c, sizeof a) == 0, "fixed base != ladder on 9");

    /* both at once (X-Wing's call), scalar and u secret */
    rc_c = x25519_pub_and_shared(pub, sh, k, u);
    PUBLIC(pub, sizeof pub);
    PUBLIC(sh, sizeof sh);
    PUBLIC(&rc_c, sizeof rc_c);
    expect(rc_c == 0 && memcmp(pub, a, sizeof a) == 0 && memcmp(sh, b, sizeof b) == 0,
           "pub_and_shared != base and ladder");

    /* a low-order u: the zero flag is computed without branching too */
    memset(u, 0, sizeof u);
    rc_b = x25519(b, k, u);
    PUBLIC(b, sizeof b);
    PUBLIC(&rc_b, sizeof rc_b);
    expect(rc_b == -1, "u = 0 not flagged");
    rc_c = x25519_pub_and_shared(pub, sh, k, u);
    PUBLIC(pub, sizeof pub);
    PUBLIC(sh, sizeof sh);
    PUBLIC(&rc_c, sizeof rc_c);
    expect(rc_c == -1 && memcmp(pub, a, sizeof a) == 0, "pub_and_shared with u = 0");
}

int main(void)
{
    for (int i = 0; i < ROUNDS; i++)
        check_round();
    if (RUNNING_ON_VALGRIND == 0)
        fprintf(stderr, "ct_x25519: not under valgrind: functional checks only\n");
    printf("ct_x25519: %d rounds of X25519 ladder, fixed base and both at once, %d failures\n",
           ROUNDS, failures);
    return failures == 0 ? 0 : 1;
}
