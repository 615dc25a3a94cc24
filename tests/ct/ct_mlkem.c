/*
 * ct_mlkem.c - constant-time check of ML-KEM-768 and X-Wing under valgrind.
 *
 * Every secret input (d, z, m, the secret parts of dk, the X-Wing seed and
 * eseed) is marked undefined with memcheck client requests.  memcheck then
 * reports any conditional jump, move or memory address that depends on them
 * ("Conditional jump or move depends on uninitialised value(s)", "Use of
 * uninitialised value of size 8"): a secret-dependent branch or table index.
 * The crypto code is compiled with CRYPTO_CT_TESTING so that values public by
 * design but computed from secrets (the matrix seed rho) are declared public at
 * the point they are published.  Outputs that are public (ek, ciphertexts) and
 * the shared secrets, once produced, are declared defined before this program
 * branches on them.  Run: valgrind --error-exitcode=1 build/tests/ct/ct_mlkem
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "crypto/mlkem.h"
#include "crypto/rand.h"
#include "crypto/xwing.h"

#define SECRET(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

#define ROUNDS 3

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "ct_mlkem: FAILED: %s\n", what);
        failures++;
    }
}

static void check_mlkem(void)
{
    uint8_t d[32], z[32], m[32], seed[64];
    uint8_t ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN], c[MLKEM768_CT_LEN];
    uint8_t k[32], k2[32], k3[32];

    rand_bytes(d, sizeof d);
    rand_bytes(z, sizeof z);
    rand_bytes(m, sizeof m);
    memcpy(seed, d, 32);
    memcpy(seed + 32, z, 32);
    SECRET(d, sizeof d);
    SECRET(z, sizeof z);
    SECRET(m, sizeof m);
    SECRET(seed, sizeof seed);

    mlkem768_keygen_internal(ek, dk, d, z);
    PUBLIC(ek, sizeof ek);
    /* dk = s_hat || ek || H(ek) || z: only s_hat and z are secret */
    PUBLIC(dk + 1152, MLKEM768_EK_LEN + 32);

    expect(mlkem768_encaps_internal(c, k, ek, sizeof ek, m) == 0, "encaps");
    PUBLIC(c, sizeof c);

    expect(mlkem768_decaps(k2, dk, sizeof dk, c, sizeof c) == 0, "decaps");
    expect(mlkem768_decaps_seed(k3, seed, sizeof seed, c, sizeof c) == 0, "decaps_seed");
    PUBLIC(k, sizeof k);
    PUBLIC(k2, sizeof k2);
    PUBLIC(k3, sizeof k3);
    expect(memcmp(k, k2, 32) == 0 && memcmp(k, k3, 32) == 0, "ML-KEM round trip");

    /* the implicit-rejection path: a modified ciphertext */
    c[17] ^= 1;
    expect(mlkem768_decaps(k2, dk, sizeof dk, c, sizeof c) == 0, "decaps (rejected c)");
    PUBLIC(k2, sizeof k2);
    expect(memcmp(k, k2, 32) != 0, "modified ciphertext must not give the key");
}

static void check_xwing(void)
{
    uint8_t seed[XWING_SEED_LEN], eseed[XWING_ESEED_LEN], pk[XWING_PK_LEN];
    uint8_t ct[XWING_CT_LEN], ss[XWING_SS_LEN], ss2[XWING_SS_LEN];

    rand_bytes(seed, sizeof seed);
    rand_bytes(eseed, sizeof eseed);
    SECRET(seed, sizeof seed);
    SECRET(eseed, sizeof eseed);

    xwing_keygen(pk, seed);
    PUBLIC(pk, sizeof pk);
    expect(xwing_encaps(ct, ss, pk, sizeof pk, eseed) == 0, "xwing encaps");
    PUBLIC(ct, sizeof ct);
    expect(xwing_decaps(ss2, ct, sizeof ct, seed) == 0, "xwing decaps");
    PUBLIC(ss, sizeof ss);
    PUBLIC(ss2, sizeof ss2);
    expect(memcmp(ss, ss2, sizeof ss) == 0, "X-Wing round trip");
}

int main(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        check_mlkem();
        check_xwing();
    }
    if (RUNNING_ON_VALGRIND == 0)
        fprintf(stderr, "ct_mlkem: not under valgrind: functional checks only\n");
    printf("ct_mlkem: %d rounds of ML-KEM-768 and X-Wing keygen/encaps/decaps, %d failures\n",
           ROUNDS, failures);
    return failures == 0 ? 0 : 1;
}
