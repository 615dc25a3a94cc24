/*
 * test_x25519.c - our X25519 (src/crypto/x25519.c) against every case of
 * x25519.json (Wycheproof and RFC 7748, incl. the 1,000-iteration value), the
 * RFC 7748 §6.1 exchange, the fixed-base path against the ladder on u = 9,
 * x25519_pub_and_shared against both,
 * input handling (top bit, non-canonical u, aliasing), and 100,000 random
 * (scalar, u) pairs against BearSSL's br_ec_c25519_m31.
 */
#include "vectors.h"

#include <bearssl.h>

#include "crypto/rand.h"
#include "crypto/x25519.h"

#define RANDOM_CASES_PER_TEST 25000     /* four tests: 100,000 in all */

static const uint8_t nine[32] = { 9 };

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int has_flag(const cJSON *tc, const char *flag)
{
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(tc, "flags"), *f;

    cJSON_ArrayForEach(f, flags)
        if (cJSON_IsString(f) && strcmp(f->valuestring, flag) == 0)
            return 1;
    return 0;
}

/* RFC 7748 X25519 by BearSSL (its m31 code clamps the scalar and masks the top bit of u itself). */
static void bearssl_x25519(uint8_t out[32], const uint8_t k[32], const uint8_t u[32])
{
    memcpy(out, u, 32);
    cr_assert_eq(br_ec_c25519_m31.mul(out, 32, k, 32, BR_EC_curve25519), 1);
}

/*
 * Every case: "valid" must give shared; "acceptable" may be refused, but ours
 * never refuses (X-Wing must not), so it must give shared too, and the
 * all-zero results (ZeroSharedSecret) must be flagged by the -1 return;
 * "invalid" (none in the file today) must be refused.
 */
Test(x25519, vectors)
{
    cJSON *root = vec_load("x25519.json");
    const cJSON *tc;
    int ran = 0, valid = 0, acceptable = 0, zero = 0, base_checked = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        int id = cJSON_GetObjectItem(tc, "tcId")->valueint;
        const char *result = vec_str(tc, "result");
        uint8_t *k = vec_hex_n(tc, "private", 32), *u = vec_hex_n(tc, "public", 32);
        uint8_t *want = vec_hex_n(tc, "shared", 32);
        uint8_t out[32], k_copy[32], u_copy[32], viaB[32], via9[32], pub[32], sh[32];
        int rc;

        memcpy(k_copy, k, 32);
        memcpy(u_copy, u, 32);
        rc = x25519(out, k, u);
        cr_assert_arr_eq(k, k_copy, 32, "tcId %d: scalar modified", id);
        cr_assert_arr_eq(u, u_copy, 32, "tcId %d: u modified", id);
        if (strcmp(result, "invalid") == 0) {
            cr_assert_eq(rc, -1, "tcId %d: invalid case accepted", id);
        } else {
            cr_assert(strcmp(result, "valid") == 0 || strcmp(result, "acceptable") == 0,
                      "tcId %d: unknown result %s", id, result);
            cr_assert_arr_eq(out, want, 32, "tcId %d (%s): wrong shared secret", id,
                             vec_str(tc, "comment"));
            cr_assert_eq(rc, all_zero(want, 32) ? -1 : 0, "tcId %d: return value", id);
            if (has_flag(tc, "ZeroSharedSecret")) {
                cr_assert_eq(rc, -1, "tcId %d: zero result not flagged", id);
                zero++;
            }
            if (strcmp(result, "valid") == 0) {
                cr_assert_eq(rc, 0, "tcId %d: valid case gave zero", id);
                valid++;
            } else {
                acceptable++;
            }
        }
        /* the same scalar through the fixed-base path */
        x25519(via9, k, nine);
        cr_assert_eq(x25519_base(viaB, k), 0);
        cr_assert_arr_eq(viaB, via9, 32, "tcId %d: fixed base differs from the ladder", id);
        /* and both at once: the same two values, the same flag */
        cr_assert_eq(x25519_pub_and_shared(pub, sh, k, u), rc, "tcId %d: pair flag", id);
        cr_assert_arr_eq(pub, via9, 32, "tcId %d: pair pub", id);
        cr_assert_arr_eq(sh, out, 32, "tcId %d: pair shared", id);
        base_checked++;
        free(k); free(u); free(want);
        ran++;
    }
    printf("x25519.json: %d cases (%d valid, %d acceptable, %d zero results)\n",
           ran, valid, acceptable, zero);
    cr_assert_eq(ran, vec_count(root), "ran %d of %d", ran, vec_count(root));
    cr_assert_eq(valid, 266);                   /* README's counts */
    cr_assert_eq(acceptable, 254);
    cr_assert_eq(zero, 31);
    cr_assert_eq(base_checked, ran);
    cJSON_Delete(root);
}

/* RFC 7748 §5.2: start with k = u = 9; (k, u) = (X25519(k, u), k). */
Test(x25519, iterated)
{
    cJSON *root = vec_load("x25519.json");
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "iterated"), *c;
    uint8_t k[32] = { 9 }, u[32] = { 9 }, t[32];
    int done = 0, checked = 0;

    cr_assert(cJSON_IsArray(it), "missing iterated");
    cJSON_ArrayForEach(c, it) {
        int n = cJSON_GetObjectItemCaseSensitive(c, "iterations")->valueint;
        uint8_t *want = vec_hex_n(c, "result", 32);

        cr_assert_geq(n, done, "iterations must be ascending");
        for (; done < n; done++) {
            x25519(t, k, u);
            memcpy(u, k, 32);
            memcpy(k, t, 32);
        }
        cr_assert_arr_eq(k, want, 32, "after %d iterations", n);
        free(want);
        checked++;
    }
    cr_assert_eq(checked, 2);
    cr_assert_eq(done, 1000);
    cJSON_Delete(root);
}

/* RFC 7748 §6.1: both public keys and the shared secret, through both paths. */
Test(x25519, rfc7748_dh)
{
    size_t n;
    uint8_t *a = hex_decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", &n);
    uint8_t *a_pub = hex_decode("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", &n);
    uint8_t *b = hex_decode("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", &n);
    uint8_t *b_pub = hex_decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", &n);
    uint8_t *shared = hex_decode("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", &n);
    uint8_t out[32];

    cr_assert_eq(x25519_base(out, a), 0);
    cr_assert_arr_eq(out, a_pub, 32);
    cr_assert_eq(x25519(out, a, nine), 0);
    cr_assert_arr_eq(out, a_pub, 32);
    cr_assert_eq(x25519_base(out, b), 0);
    cr_assert_arr_eq(out, b_pub, 32);
    cr_assert_eq(x25519(out, a, b_pub), 0);
    cr_assert_arr_eq(out, shared, 32);
    cr_assert_eq(x25519(out, b, a_pub), 0);
    cr_assert_arr_eq(out, shared, 32);
    free(a); free(a_pub); free(b); free(b_pub); free(shared);
}

/* Scalars that stress the signed-digit recoding of the fixed-base path: every
 * nibble 0, 8 or 15 (longest carry chains) and the clamping extremes. */
Test(x25519, base_edge_scalars)
{
    static const uint8_t fill[] = { 0x00, 0xff, 0x88, 0x80, 0x08, 0x77, 0xf0, 0x0f, 0x7f };
    uint8_t k[32], a[32], b[32];

    for (size_t i = 0; i < sizeof fill; i++) {
        memset(k, fill[i], sizeof k);
        x25519(a, k, nine);
        cr_assert_eq(x25519_base(b, k), 0);
        cr_assert_arr_eq(a, b, 32, "fill 0x%02x", fill[i]);
    }
    /* one nibble set at a time: each table row and entry on its own */
    for (int pos = 0; pos < 64; pos++) {
        for (int v = 1; v < 16; v++) {
            memset(k, 0, sizeof k);
            k[pos / 2] = (uint8_t)(pos % 2 ? v << 4 : v);
            x25519(a, k, nine);
            cr_assert_eq(x25519_base(b, k), 0);
            cr_assert_arr_eq(a, b, 32, "nibble %d = %d", pos, v);
        }
    }
}

Test(x25519, base_random)
{
    uint8_t k[32], u[32], a[32], b[32], pub[32], sh[32];

    for (int i = 0; i < 10000; i++) {
        rand_bytes(k, sizeof k);
        x25519(a, k, nine);
        x25519_base(b, k);
        cr_assert_arr_eq(a, b, 32, "random scalar %d", i);
        if (i % 10 == 0) {
            rand_bytes(u, sizeof u);
            cr_assert_eq(x25519_pub_and_shared(pub, sh, k, u), 0);
            cr_assert_arr_eq(pub, b, 32, "pair pub %d", i);
            x25519(a, k, u);
            cr_assert_arr_eq(sh, a, 32, "pair shared %d", i);
        }
    }
}

/* RFC 7748 §5: the top bit of u is masked; u >= p counts as u mod p. */
Test(x25519, input_handling)
{
    uint8_t k[32], u[32], v[32], a[32], b[32];

    rand_bytes(k, sizeof k);
    for (int i = 0; i < 200; i++) {
        rand_bytes(u, sizeof u);
        memcpy(v, u, 32);
        v[31] ^= 0x80;
        x25519(a, k, u);
        x25519(b, k, v);
        cr_assert_arr_eq(a, b, 32, "top bit of u not masked");
        cr_assert_lt(a[31], 0x80);
    }
    /* u + p for u = 0..18 (still below 2^255) is the same point as u */
    for (uint8_t small = 0; small < 19; small++) {
        memset(u, 0, sizeof u);
        u[0] = small;
        memset(v, 0xff, sizeof v);
        v[31] = 0x7f;
        v[0] = (uint8_t)(0xed + small);         /* p = 2^255 - 19 = 7fff..ffed */
        x25519(a, k, u);
        x25519(b, k, v);
        cr_assert_arr_eq(a, b, 32, "u = %u + p", small);
        v[31] = 0xff;                            /* and with the top bit set too */
        x25519(b, k, v);
        cr_assert_arr_eq(a, b, 32, "u = %u + p, top bit", small);
    }
    /* u = 0 is of small order: the all-zero result, flagged */
    memset(u, 0, sizeof u);
    cr_assert_eq(x25519(a, k, u), -1);
    cr_assert(all_zero(a, 32));
    /* the output and the inputs may be the same buffer */
    rand_bytes(u, sizeof u);
    x25519(a, k, u);
    memcpy(b, u, 32);
    x25519(b, k, b);
    cr_assert_arr_eq(a, b, 32, "out aliasing u");
    memcpy(b, k, 32);
    x25519(b, b, u);
    cr_assert_arr_eq(a, b, 32, "out aliasing scalar");
    x25519_base(a, k);
    memcpy(b, k, 32);
    x25519_base(b, b);
    cr_assert_arr_eq(a, b, 32, "fixed base: out aliasing scalar");
    {
        uint8_t pub[32], sh[32], pub2[32], sh2[32];

        x25519_pub_and_shared(pub, sh, k, u);
        memcpy(pub2, k, 32);
        memcpy(sh2, u, 32);
        x25519_pub_and_shared(pub2, sh2, pub2, sh2);
        cr_assert_arr_eq(pub, pub2, 32, "pair: pub aliasing scalar");
        cr_assert_arr_eq(sh, sh2, 32, "pair: shared aliasing u");
    }
}

/* 100,000 random (scalar, u), split in four tests so criterion can run them in parallel. */
static void random_vs_bearssl(int part)
{
    uint8_t k[32], u[32], ours[32], theirs[32];

    for (int i = 0; i < RANDOM_CASES_PER_TEST; i++) {
        rand_bytes(k, sizeof k);
        rand_bytes(u, sizeof u);
        x25519(ours, k, u);
        bearssl_x25519(theirs, k, u);
        cr_assert_arr_eq(ours, theirs, 32, "part %d case %d differs from BearSSL", part, i);
    }
}

Test(x25519, random_vs_bearssl_1) { random_vs_bearssl(1); }
Test(x25519, random_vs_bearssl_2) { random_vs_bearssl(2); }
Test(x25519, random_vs_bearssl_3) { random_vs_bearssl(3); }
Test(x25519, random_vs_bearssl_4) { random_vs_bearssl(4); }
