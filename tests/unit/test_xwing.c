/* test_xwing.c - X-Wing against xwing.json, round trips and input checks. */
#include "vectors.h"

#include "crypto/mlkem.h"
#include "crypto/sha3.h"
#include "crypto/xwing.h"

Test(xwing, vectors)
{
    cJSON *root = vec_load("xwing.json");
    const cJSON *tc;
    int ran = 0, with_expansion = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        const char *src = vec_str(tc, "src");
        uint8_t *seed = vec_hex_n(tc, "seed", XWING_SEED_LEN);
        uint8_t *eseed = vec_hex_n(tc, "eseed", XWING_ESEED_LEN);
        uint8_t *pk = vec_hex_n(tc, "pk", XWING_PK_LEN);
        uint8_t *ct = vec_hex_n(tc, "ct", XWING_CT_LEN);
        uint8_t *ss = vec_hex_n(tc, "ss", XWING_SS_LEN);
        uint8_t pk2[XWING_PK_LEN], ct2[XWING_CT_LEN], ss2[XWING_SS_LEN];

        xwing_keygen(pk2, seed);
        cr_assert_arr_eq(pk2, pk, XWING_PK_LEN, "%s keygen", src);
        memset(ss2, 0, sizeof ss2);
        cr_assert_eq(xwing_encaps(ct2, ss2, pk, XWING_PK_LEN, eseed), 0, "%s encaps", src);
        cr_assert_arr_eq(ct2, ct, XWING_CT_LEN, "%s ct", src);
        cr_assert_arr_eq(ss2, ss, XWING_SS_LEN, "%s encaps ss", src);
        memset(ss2, 0, sizeof ss2);
        cr_assert_eq(xwing_decaps(ss2, ct, XWING_CT_LEN, seed), 0, "%s decaps", src);
        cr_assert_arr_eq(ss2, ss, XWING_SS_LEN, "%s decaps ss", src);

        if (vec_has(tc, "dk_pq_seed")) {
            uint8_t *pq = vec_hex_n(tc, "dk_pq_seed", 64), *t = vec_hex_n(tc, "dk_t", 32);
            uint8_t exp[96];
            shake256(exp, sizeof exp, seed, XWING_SEED_LEN);
            cr_assert_arr_eq(exp, pq, 64, "%s dk_pq_seed", src);
            cr_assert_arr_eq(exp + 64, t, 32, "%s dk_t", src);
            free(pq); free(t);
            with_expansion++;
        }
        free(seed); free(eseed); free(pk); free(ct); free(ss);
        ran++;
    }
    cr_assert_eq(with_expansion, 10);
    cr_log_info("xwing.json: %d cases", ran);
    printf("xwing.json: %d cases\n", ran);
    cr_assert_eq(ran, vec_count(root));
    cJSON_Delete(root);
}

static void test_bytes(uint8_t *out, size_t n, uint32_t label, uint32_t ctr)
{
    uint8_t in[8] = { (uint8_t)label, (uint8_t)(label >> 8), (uint8_t)(label >> 16),
                      (uint8_t)(label >> 24), (uint8_t)ctr, (uint8_t)(ctr >> 8),
                      (uint8_t)(ctr >> 16), (uint8_t)(ctr >> 24) };
    shake128(out, n, in, sizeof in);
}

/* Round trips; tampering with either half of ct changes the secret. */
Test(xwing, roundtrip_and_tamper)
{
    for (uint32_t i = 0; i < 20; i++) {
        uint8_t seed[32], eseed[64], pk[XWING_PK_LEN], ct[XWING_CT_LEN];
        uint8_t ss[32], ss2[32];

        test_bytes(seed, sizeof seed, 11, i);
        test_bytes(eseed, sizeof eseed, 12, i);
        xwing_keygen(pk, seed);
        cr_assert_eq(xwing_encaps(ct, ss, pk, sizeof pk, eseed), 0);
        cr_assert_eq(xwing_decaps(ss2, ct, sizeof ct, seed), 0);
        cr_assert_arr_eq(ss, ss2, 32, "round trip %u", i);

        ct[i * 53 % MLKEM768_CT_LEN] ^= 1;              /* ML-KEM half */
        cr_assert_eq(xwing_decaps(ss2, ct, sizeof ct, seed), 0);
        cr_assert_arr_neq(ss, ss2, 32, "ML-KEM tamper undetected");
        ct[i * 53 % MLKEM768_CT_LEN] ^= 1;
        ct[MLKEM768_CT_LEN + i % 31] ^= 4;              /* X25519 half */
        cr_assert_eq(xwing_decaps(ss2, ct, sizeof ct, seed), 0);
        cr_assert_arr_neq(ss, ss2, 32, "X25519 tamper undetected");

        seed[0] ^= 1;                                   /* wrong key */
        ct[MLKEM768_CT_LEN + i % 31] ^= 4;
        cr_assert_eq(xwing_decaps(ss2, ct, sizeof ct, seed), 0);
        cr_assert_arr_neq(ss, ss2, 32, "wrong seed gave the secret");
    }
}

Test(xwing, input_checks)
{
    uint8_t seed[32] = { 1 }, eseed[64] = { 2 }, pk[XWING_PK_LEN + 1], ct[XWING_CT_LEN + 1];
    uint8_t ss[32], sentinel[32];

    xwing_keygen(pk, seed);
    memset(ss, 0xa5, sizeof ss);
    memcpy(sentinel, ss, sizeof ss);
    cr_assert_eq(xwing_encaps(ct, ss, pk, XWING_PK_LEN - 1, eseed), -1);
    cr_assert_eq(xwing_encaps(ct, ss, pk, XWING_PK_LEN + 1, eseed), -1);
    cr_assert_eq(xwing_encaps(ct, ss, NULL, 0, eseed), -1);
    cr_assert_arr_eq(ss, sentinel, 32, "ss written on failure");

    /* a coefficient >= q in the ML-KEM key: 0xff 0xff -> 4095 */
    uint8_t bad[XWING_PK_LEN];
    memcpy(bad, pk, sizeof bad);
    bad[600] = 0xff;
    bad[601] = 0xff;
    cr_assert_eq(xwing_encaps(ct, ss, bad, sizeof bad, eseed), -1);
    cr_assert_arr_eq(ss, sentinel, 32, "ss written on failure");

    cr_assert_eq(xwing_encaps(ct, ss, pk, XWING_PK_LEN, eseed), 0);
    cr_assert_eq(xwing_decaps(ss, ct, XWING_CT_LEN - 1, seed), -1);
    cr_assert_eq(xwing_decaps(ss, ct, XWING_CT_LEN + 1, seed), -1);
    cr_assert_eq(xwing_decaps(ss, NULL, 0, seed), -1);
    cr_assert_eq(xwing_decaps(ss, ct, XWING_CT_LEN, seed), 0);
}
