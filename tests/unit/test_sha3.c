/* test_sha3.c - SHA3-256/512 and SHAKE128/256 against sha3.json, plus the incremental API. */
#include "vectors.h"

#include "crypto/sha3.h"

static void run_one(const char *alg, const uint8_t *msg, size_t len, uint8_t *out, size_t outlen)
{
    if (strcmp(alg, "SHA3-256") == 0) {
        cr_assert_eq(outlen, SHA3_256_LEN);
        sha3_256(out, msg, len);
    } else if (strcmp(alg, "SHA3-512") == 0) {
        cr_assert_eq(outlen, SHA3_512_LEN);
        sha3_512(out, msg, len);
    } else if (strcmp(alg, "SHAKE128") == 0) {
        shake128(out, outlen, msg, len);
    } else if (strcmp(alg, "SHAKE256") == 0) {
        shake256(out, outlen, msg, len);
    } else {
        cr_assert_fail("unknown alg %s", alg);
    }
}

static void init_alg(struct keccak_ctx *c, const char *alg)
{
    if (strcmp(alg, "SHA3-256") == 0) sha3_256_init(c);
    else if (strcmp(alg, "SHA3-512") == 0) sha3_512_init(c);
    else if (strcmp(alg, "SHAKE128") == 0) shake128_init(c);
    else shake256_init(c);
}

Test(sha3, vectors)
{
    cJSON *root = vec_load("sha3.json");
    const cJSON *tc;
    int ran = 0, per[4] = { 0 };
    const char *algs[4] = { "SHA3-256", "SHA3-512", "SHAKE128", "SHAKE256" };

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        const char *alg = vec_str(tc, "alg");
        size_t mlen, mdlen;
        uint8_t *msg = vec_hex(tc, "msg", &mlen);
        uint8_t *md = vec_hex(tc, "md", &mdlen);
        cr_assert_eq((int)mlen, cJSON_GetObjectItem(tc, "msgLen")->valueint);
        uint8_t *out = malloc(mdlen + 1);

        /* one-shot */
        memset(out, 0, mdlen);
        run_one(alg, msg, mlen, out, mdlen);
        cr_assert_arr_eq(out, md, mdlen, "%s one-shot", vec_str(tc, "src"));

        /* incremental: odd-sized absorb pieces and squeeze pieces */
        struct keccak_ctx c;
        init_alg(&c, alg);
        for (size_t off = 0, step = 1; off < mlen; off += step, step = step * 3 % 200 + 1)
            keccak_absorb(&c, msg + off, step < mlen - off ? step : mlen - off);
        keccak_finalize(&c);
        memset(out, 0, mdlen);
        for (size_t off = 0, step = 7; off < mdlen; off += step, step = step * 5 % 170 + 1)
            keccak_squeeze(&c, out + off, step < mdlen - off ? step : mdlen - off);
        cr_assert_arr_eq(out, md, mdlen, "%s incremental", vec_str(tc, "src"));

        for (int i = 0; i < 4; i++)
            if (strcmp(alg, algs[i]) == 0)
                per[i]++;
        ran++;
        free(msg);
        free(md);
        free(out);
    }
    cr_log_info("sha3.json: %d cases (SHA3-256 %d, SHA3-512 %d, SHAKE128 %d, SHAKE256 %d)",
                ran, per[0], per[1], per[2], per[3]);
    printf("sha3.json: %d cases (SHA3-256 %d, SHA3-512 %d, SHAKE128 %d, SHAKE256 %d)\n",
           ran, per[0], per[1], per[2], per[3]);
    cr_assert_eq(ran, vec_count(root));
    cr_assert_eq(per[0] + per[1] + per[2] + per[3], ran, "unknown alg in file");
    cJSON_Delete(root);
}

/* Whole-block squeezes continue the same stream as byte squeezes. */
Test(sha3, squeeze_blocks_matches_stream)
{
    uint8_t a[3 * SHAKE128_RATE + 5], b[3 * SHAKE128_RATE + 5];
    struct keccak_ctx c;

    shake128(a, sizeof a, "abc", 3);
    shake128_init(&c);
    keccak_absorb(&c, "abc", 3);
    keccak_finalize(&c);
    keccak_squeeze_blocks(&c, b, 2);
    keccak_squeeze_blocks(&c, b + 2 * SHAKE128_RATE, 1);
    keccak_squeeze(&c, b + 3 * SHAKE128_RATE, 5);
    cr_assert_arr_eq(a, b, sizeof a);
}

/* Absorbing after finalize is ignored; finalize twice is harmless. */
Test(sha3, absorb_after_finalize_ignored)
{
    uint8_t a[32], b[32];
    struct keccak_ctx c;

    sha3_256(a, "x", 1);
    sha3_256_init(&c);
    keccak_absorb(&c, "x", 1);
    keccak_finalize(&c);
    keccak_absorb(&c, "y", 1);
    keccak_finalize(&c);
    keccak_squeeze(&c, b, 32);
    cr_assert_arr_eq(a, b, 32);
}

/* Message lengths around the rate boundary agree between one-shot and byte-wise absorb. */
Test(sha3, rate_boundaries)
{
    uint8_t msg[3 * 168 + 2];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    const size_t lens[] = { 71, 72, 73, 135, 136, 137, 167, 168, 169, 271, 272, 273, 336, 337 };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        uint8_t a[64], b[64];
        struct keccak_ctx c;
        for (int alg = 0; alg < 4; alg++) {
            static const char *names[4] = { "SHA3-256", "SHA3-512", "SHAKE128", "SHAKE256" };
            size_t outlen = alg == 1 ? 64 : 32;
            run_one(names[alg], msg, n, a, outlen);
            init_alg(&c, names[alg]);
            for (size_t i = 0; i < n; i++)
                keccak_absorb(&c, msg + i, 1);
            keccak_squeeze(&c, b, outlen);
            cr_assert_arr_eq(a, b, outlen, "%s len %zu", names[alg], n);
        }
    }
}
