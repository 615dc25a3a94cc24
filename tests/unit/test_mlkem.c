/*
 * test_mlkem.c - ML-KEM-768 against every case of the ACVP, CCTV and
 * Wycheproof files in VECTORS_DIR, plus round trips and implicit rejection.
 * Each vector test prints how many cases it ran and asserts that number equals
 * the file's count, so a file silently skipped fails.
 */
#include "vectors.h"

#include "crypto/mlkem.h"
#include "crypto/sha3.h"

#define MODULUS_FULL_LINES 780   /* README: 780 lines */

/* J(z || c) = SHAKE256(z || c, 32): the implicit-rejection key, computed independently. */
static void reject_key(uint8_t out[32], const uint8_t *dk, const uint8_t *c, size_t c_len)
{
    struct keccak_ctx j;
    shake256_init(&j);
    keccak_absorb(&j, dk + MLKEM768_DK_LEN - 32, 32);
    keccak_absorb(&j, c, c_len);
    keccak_squeeze(&j, out, 32);
}

static void report(const char *file, int ran, const cJSON *root)
{
    cr_log_info("%s: %d cases", file, ran);
    printf("%s: %d cases\n", file, ran);
    cr_assert_eq(ran, vec_count(root), "%s: ran %d of %d", file, ran, vec_count(root));
}

Test(mlkem, acvp_keygen)
{
    cJSON *root = vec_load("mlkem768-keygen.json");
    const cJSON *tc;
    int ran = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        uint8_t *d = vec_hex_n(tc, "d", 32), *z = vec_hex_n(tc, "z", 32);
        uint8_t *ek = vec_hex_n(tc, "ek", MLKEM768_EK_LEN), *dk = vec_hex_n(tc, "dk", MLKEM768_DK_LEN);
        uint8_t ek2[MLKEM768_EK_LEN], dk2[MLKEM768_DK_LEN];
        int id = cJSON_GetObjectItem(tc, "tcId")->valueint;

        mlkem768_keygen_internal(ek2, dk2, d, z);
        cr_assert_arr_eq(ek2, ek, sizeof ek2, "tcId %d ek", id);
        cr_assert_arr_eq(dk2, dk, sizeof dk2, "tcId %d dk", id);
        cr_assert_eq(mlkem768_ek_check(ek2, sizeof ek2), 0);
        cr_assert_eq(mlkem768_dk_check(dk2, sizeof dk2), 0);
        free(d); free(z); free(ek); free(dk);
        ran++;
    }
    report("mlkem768-keygen.json", ran, root);
    cJSON_Delete(root);
}

Test(mlkem, acvp_encap)
{
    cJSON *root = vec_load("mlkem768-encap.json");
    const cJSON *tc;
    int ran = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        uint8_t *ek = vec_hex_n(tc, "ek", MLKEM768_EK_LEN), *m = vec_hex_n(tc, "m", 32);
        uint8_t *c = vec_hex_n(tc, "c", MLKEM768_CT_LEN), *k = vec_hex_n(tc, "k", 32);
        uint8_t *dk = vec_hex_n(tc, "dk", MLKEM768_DK_LEN);
        uint8_t c2[MLKEM768_CT_LEN], k2[32], k3[32];
        int id = cJSON_GetObjectItem(tc, "tcId")->valueint;

        cr_assert_eq(mlkem768_encaps_internal(c2, k2, ek, MLKEM768_EK_LEN, m), 0, "tcId %d", id);
        cr_assert_arr_eq(c2, c, sizeof c2, "tcId %d c", id);
        cr_assert_arr_eq(k2, k, 32, "tcId %d k", id);
        cr_assert_eq(mlkem768_decaps(k3, dk, MLKEM768_DK_LEN, c, MLKEM768_CT_LEN), 0);
        cr_assert_arr_eq(k3, k, 32, "tcId %d decaps", id);
        free(ek); free(m); free(c); free(k); free(dk);
        ran++;
    }
    report("mlkem768-encap.json", ran, root);
    cJSON_Delete(root);
}

Test(mlkem, acvp_decap)
{
    cJSON *root = vec_load("mlkem768-decap.json");
    const cJSON *tc;
    int ran = 0, seed_fmt = 0, modified = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        uint8_t *dk = vec_hex_n(tc, "dk", MLKEM768_DK_LEN), *c = vec_hex_n(tc, "c", MLKEM768_CT_LEN);
        uint8_t *k = vec_hex_n(tc, "k", 32);
        uint8_t k2[32], kr[32];
        int id = cJSON_GetObjectItem(tc, "tcId")->valueint;

        if (strcmp(vec_str(tc, "keyFormat"), "seed") == 0) {
            uint8_t *d = vec_hex_n(tc, "d", 32), *z = vec_hex_n(tc, "z", 32);
            uint8_t seed[64], ek2[MLKEM768_EK_LEN], dk2[MLKEM768_DK_LEN];
            memcpy(seed, d, 32);
            memcpy(seed + 32, z, 32);
            mlkem768_keygen_internal(ek2, dk2, d, z);
            cr_assert_arr_eq(dk2, dk, sizeof dk2, "tcId %d regenerated dk", id);
            cr_assert_eq(mlkem768_decaps_seed(k2, seed, 64, c, MLKEM768_CT_LEN), 0);
            cr_assert_arr_eq(k2, k, 32, "tcId %d decaps_seed", id);
            free(d); free(z);
            seed_fmt++;
        }
        cr_assert_eq(mlkem768_decaps(k2, dk, MLKEM768_DK_LEN, c, MLKEM768_CT_LEN), 0);
        cr_assert_arr_eq(k2, k, 32, "tcId %d decaps", id);
        if (strcmp(vec_str(tc, "reason"), "modified ciphertext") == 0) {
            reject_key(kr, dk, c, MLKEM768_CT_LEN);
            cr_assert_arr_eq(kr, k, 32, "tcId %d: expected implicit rejection", id);
            modified++;
        }
        free(dk); free(c); free(k);
        ran++;
    }
    cr_assert_eq(modified, 10);
    cr_assert_eq(seed_fmt, 10);
    report("mlkem768-decap.json", ran, root);
    cJSON_Delete(root);
}

Test(mlkem, acvp_keycheck)
{
    cJSON *root = vec_load("mlkem768-keycheck.json");
    const cJSON *tc;
    int ran = 0, failing = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        const char *fn = vec_str(tc, "function");
        int passed = cJSON_IsTrue(cJSON_GetObjectItem(tc, "testPassed"));
        int id = cJSON_GetObjectItem(tc, "tcId")->valueint;
        size_t n;
        int got;

        if (strcmp(fn, "encapsulationKeyCheck") == 0) {
            uint8_t *ek = vec_hex(tc, "ek", &n);
            got = mlkem768_ek_check(ek, n);
            if (!passed) {
                /* and encapsulation refuses such a key */
                uint8_t c[MLKEM768_CT_LEN], k[32], m[32] = { 0 };
                cr_assert_eq(mlkem768_encaps_internal(c, k, ek, n, m), -1, "tcId %d", id);
            }
            free(ek);
        } else {
            cr_assert_str_eq(fn, "decapsulationKeyCheck");
            uint8_t *dk = vec_hex(tc, "dk", &n);
            got = mlkem768_dk_check(dk, n);
            if (!passed) {
                uint8_t c[MLKEM768_CT_LEN] = { 0 }, k[32];
                cr_assert_eq(mlkem768_decaps(k, dk, n, c, sizeof c), -1, "tcId %d", id);
            }
            free(dk);
        }
        cr_assert_eq(got, passed ? 0 : -1, "tcId %d (%s) got %d", id, fn, got);
        failing += !passed;
        ran++;
    }
    cr_assert_eq(failing, 10);
    report("mlkem768-keycheck.json", ran, root);
    cJSON_Delete(root);
}

Test(mlkem, cctv)
{
    cJSON *root = vec_load("mlkem768-cctv.json");
    const cJSON *tc;
    int ran = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        const char *name = vec_str(tc, "name");
        uint8_t *dk = vec_hex_n(tc, "dk", MLKEM768_DK_LEN), *c = vec_hex_n(tc, "c", MLKEM768_CT_LEN);
        uint8_t *k = vec_hex_n(tc, "k", 32);
        uint8_t k2[32];

        cr_assert_eq(mlkem768_decaps(k2, dk, MLKEM768_DK_LEN, c, MLKEM768_CT_LEN), 0, "%s", name);
        cr_assert_arr_eq(k2, k, 32, "%s decaps", name);
        if (strcmp(name, "strcmp") == 0) {
            uint8_t kr[32];
            reject_key(kr, dk, c, MLKEM768_CT_LEN);
            cr_assert_arr_eq(kr, k, 32, "strcmp: must be the rejection key");
        } else {
            cr_assert_str_eq(name, "unluckysample");
            uint8_t *ek = vec_hex_n(tc, "ek", MLKEM768_EK_LEN), *m = vec_hex_n(tc, "m", 32);
            uint8_t c2[MLKEM768_CT_LEN];
            cr_assert_eq(mlkem768_encaps_internal(c2, k2, ek, MLKEM768_EK_LEN, m), 0);
            cr_assert_arr_eq(c2, c, sizeof c2, "unluckysample c");
            cr_assert_arr_eq(k2, k, 32, "unluckysample k");
            free(ek); free(m);
        }
        free(dk); free(c); free(k);
        ran++;
    }
    report("mlkem768-cctv.json", ran, root);
    cJSON_Delete(root);
}

/* Number of 12-bit coefficients >= q in the encoded vector of ek; fixes them mod q if fix. */
static int count_unreduced(uint8_t *ek, int fix)
{
    int bad = 0;
    for (size_t i = 0; i < 1152; i += 3) {
        unsigned t0 = ek[i] | ((ek[i + 1] & 0x0fu) << 8);
        unsigned t1 = (ek[i + 1] >> 4) | ((unsigned)ek[i + 2] << 4);
        bad += (t0 >= 3329) + (t1 >= 3329);
        if (fix) {
            t0 %= 3329;
            t1 %= 3329;
            ek[i] = (uint8_t)t0;
            ek[i + 1] = (uint8_t)((t0 >> 8) | (t1 << 4));
            ek[i + 2] = (uint8_t)(t1 >> 4);
        }
    }
    return bad;
}

/* ek must fail the check and encapsulation; once reduced mod q it must pass. */
static void check_modulus_key(uint8_t *ek, size_t n, const char *what)
{
    uint8_t c[MLKEM768_CT_LEN], k[32], m[32] = { 1 };

    cr_assert_eq(n, MLKEM768_EK_LEN, "%s: length", what);
    cr_assert_eq(count_unreduced(ek, 0), 1, "%s: expected one unreduced coefficient", what);
    cr_assert_eq(mlkem768_ek_check(ek, n), -1, "%s accepted", what);
    cr_assert_eq(mlkem768_encaps_internal(c, k, ek, n, m), -1, "%s encapsulated", what);
    count_unreduced(ek, 1);
    cr_assert_eq(mlkem768_ek_check(ek, n), 0, "%s: reduced key rejected", what);
}

Test(mlkem, cctv_modulus_short)
{
    cJSON *root = vec_load("mlkem768-modulus-short.json");
    const cJSON *tc;
    int ran = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        size_t n;
        uint8_t *ek = vec_hex(tc, "ek", &n);
        char what[64];
        snprintf(what, sizeof what, "line %d", cJSON_GetObjectItem(tc, "line")->valueint);
        check_modulus_key(ek, n, what);
        free(ek);
        ran++;
    }
    report("mlkem768-modulus-short.json", ran, root);
    cJSON_Delete(root);
}

Test(mlkem, cctv_modulus_full, .timeout = 120)
{
    char cmd[1200], line[4096];
    int ran = 0;

    snprintf(cmd, sizeof cmd, "gzip -dc '%s/mlkem768-modulus-full.txt.gz'", VECTORS_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    while (fgets(line, sizeof line, p) != NULL) {
        size_t len = strcspn(line, "\r\n"), n;
        line[len] = 0;
        if (len == 0)
            continue;
        uint8_t *ek = hex_decode(line, &n);
        char what[64];
        snprintf(what, sizeof what, "modulus-full line %d", ran + 1);
        check_modulus_key(ek, n, what);
        free(ek);
        ran++;
    }
    cr_assert_eq(pclose(p), 0, "gzip failed");
    cr_log_info("mlkem768-modulus-full.txt.gz: %d cases", ran);
    printf("mlkem768-modulus-full.txt.gz: %d cases\n", ran);
    cr_assert_eq(ran, MODULUS_FULL_LINES);
}

Test(mlkem, wycheproof)
{
    cJSON *root = vec_load("mlkem768-wycheproof.json");
    const cJSON *tc;
    int ran = 0, n_enc = 0, n_seed = 0, n_exp = 0, n_invalid = 0;

    cJSON_ArrayForEach(tc, vec_tests(root)) {
        const char *op = vec_str(tc, "op");
        int valid = strcmp(vec_str(tc, "result"), "valid") == 0;
        int id = cJSON_GetObjectItem(tc, "tcId")->valueint;
        uint8_t k2[32];

        cr_assert(valid || strcmp(vec_str(tc, "result"), "invalid") == 0, "tcId %d result", id);
        if (strcmp(op, "encaps") == 0) {
            size_t ek_len;
            uint8_t *ek = vec_hex(tc, "ek", &ek_len), *m = vec_hex_n(tc, "m", 32);
            uint8_t c2[MLKEM768_CT_LEN];
            int rc = mlkem768_encaps_internal(c2, k2, ek, ek_len, m);
            if (valid) {
                uint8_t *c = vec_hex_n(tc, "c", MLKEM768_CT_LEN), *k = vec_hex_n(tc, "k", 32);
                cr_assert_eq(rc, 0, "tcId %d rejected", id);
                cr_assert_arr_eq(c2, c, sizeof c2, "tcId %d c", id);
                cr_assert_arr_eq(k2, k, 32, "tcId %d k", id);
                free(c); free(k);
            } else {
                cr_assert_eq(rc, -1, "tcId %d accepted", id);
                cr_assert_eq(mlkem768_ek_check(ek, ek_len), -1, "tcId %d ek_check", id);
            }
            free(ek); free(m);
            n_enc++;
        } else if (strcmp(op, "keygen_seed+decaps") == 0) {
            size_t seed_len, c_len, ek_len;
            uint8_t *seed = vec_hex(tc, "seed", &seed_len), *c = vec_hex(tc, "c", &c_len);
            uint8_t *ek = vec_hex(tc, "ek", &ek_len);
            int rc = mlkem768_decaps_seed(k2, seed, seed_len, c, c_len);
            if (seed_len == MLKEM768_SEED_LEN && ek_len > 0) {
                uint8_t ek2[MLKEM768_EK_LEN], dk2[MLKEM768_DK_LEN];
                cr_assert_eq(ek_len, MLKEM768_EK_LEN);
                mlkem768_keygen_internal(ek2, dk2, seed, seed + 32);
                cr_assert_arr_eq(ek2, ek, sizeof ek2, "tcId %d ek", id);
                uint8_t k3[32];
                int rc2 = mlkem768_decaps(k3, dk2, sizeof dk2, c, c_len);
                cr_assert_eq(rc2, rc, "tcId %d: expanded and seed decaps disagree", id);
                if (rc2 == 0)
                    cr_assert_arr_eq(k3, k2, 32);
            }
            if (valid) {
                uint8_t *k = vec_hex_n(tc, "k", 32);
                cr_assert_eq(rc, 0, "tcId %d rejected", id);
                cr_assert_arr_eq(k2, k, 32, "tcId %d k", id);
                free(k);
            } else {
                cr_assert_eq(rc, -1, "tcId %d accepted", id);
            }
            free(seed); free(c); free(ek);
            n_seed++;
        } else {
            cr_assert_str_eq(op, "decaps_expanded", "tcId %d op", id);
            size_t dk_len, c_len;
            uint8_t *dk = vec_hex(tc, "dk", &dk_len), *c = vec_hex(tc, "c", &c_len);
            int rc = mlkem768_decaps(k2, dk, dk_len, c, c_len);
            if (valid) {
                uint8_t *k = vec_hex_n(tc, "k", 32);
                cr_assert_eq(rc, 0, "tcId %d rejected", id);
                cr_assert_arr_eq(k2, k, 32, "tcId %d k", id);
                free(k);
            } else {
                cr_assert_eq(rc, -1, "tcId %d accepted", id);
            }
            free(dk); free(c);
            n_exp++;
        }
        n_invalid += !valid;
        ran++;
    }
    cr_log_info("mlkem768-wycheproof.json: encaps %d, keygen_seed+decaps %d, decaps_expanded %d, "
                "invalid %d", n_enc, n_seed, n_exp, n_invalid);
    printf("mlkem768-wycheproof.json: encaps %d, keygen_seed+decaps %d, decaps_expanded %d, "
           "invalid %d\n", n_enc, n_seed, n_exp, n_invalid);
    cr_assert_eq(n_enc, 165);
    cr_assert_eq(n_seed, 93);
    cr_assert_eq(n_exp, 9);
    cr_assert_eq(n_invalid, 178);
    report("mlkem768-wycheproof.json", ran, root);
    cJSON_Delete(root);
}

/* Deterministic test randomness: SHAKE128(label || counter). */
static void test_bytes(uint8_t *out, size_t n, uint32_t label, uint32_t ctr)
{
    uint8_t in[8] = { (uint8_t)label, (uint8_t)(label >> 8), (uint8_t)(label >> 16),
                      (uint8_t)(label >> 24), (uint8_t)ctr, (uint8_t)(ctr >> 8),
                      (uint8_t)(ctr >> 16), (uint8_t)(ctr >> 24) };
    shake128(out, n, in, sizeof in);
}

/* Random round trips; every single-bit flip class of c is implicitly rejected. */
Test(mlkem, roundtrip_and_implicit_rejection)
{
    for (uint32_t i = 0; i < 100; i++) {
        uint8_t seed[64], m[32], ek[MLKEM768_EK_LEN], dk[MLKEM768_DK_LEN];
        uint8_t c[MLKEM768_CT_LEN], k[32], k2[32], kr[32];

        test_bytes(seed, 64, 1, i);
        test_bytes(m, 32, 2, i);
        mlkem768_keygen_internal(ek, dk, seed, seed + 32);
        cr_assert_eq(mlkem768_encaps_internal(c, k, ek, sizeof ek, m), 0);
        cr_assert_eq(mlkem768_decaps(k2, dk, sizeof dk, c, sizeof c), 0);
        cr_assert_arr_eq(k, k2, 32, "round trip %u", i);
        cr_assert_eq(mlkem768_decaps_seed(k2, seed, 64, c, sizeof c), 0);
        cr_assert_arr_eq(k, k2, 32, "seed round trip %u", i);

        /* flip one bit: first byte, last byte (in v), a byte in between */
        size_t pos = (i * 131) % sizeof c;
        c[pos] ^= (uint8_t)(1u << (i % 8));
        cr_assert_eq(mlkem768_decaps(k2, dk, sizeof dk, c, sizeof c), 0);
        reject_key(kr, dk, c, sizeof c);
        cr_assert_arr_eq(k2, kr, 32, "flip at %zu not rejected", pos);
        c[pos] ^= (uint8_t)(1u << (i % 8));
        c[sizeof c - 1] ^= 0x80;
        cr_assert_eq(mlkem768_decaps(k2, dk, sizeof dk, c, sizeof c), 0);
        reject_key(kr, dk, c, sizeof c);
        cr_assert_arr_eq(k2, kr, 32, "last-byte flip not rejected");
    }
}

/* Wrong lengths and NULL inputs are refused, never read. */
Test(mlkem, length_checks)
{
    uint8_t ek[MLKEM768_EK_LEN + 1] = { 0 }, dk[MLKEM768_DK_LEN + 1] = { 0 };
    uint8_t c[MLKEM768_CT_LEN + 1] = { 0 }, k[32], m[32] = { 0 }, seed[65] = { 0 };

    cr_assert_eq(mlkem768_ek_check(ek, MLKEM768_EK_LEN), 0);       /* all-zero key is well formed */
    cr_assert_eq(mlkem768_ek_check(ek, MLKEM768_EK_LEN - 1), -1);
    cr_assert_eq(mlkem768_ek_check(ek, MLKEM768_EK_LEN + 1), -1);
    cr_assert_eq(mlkem768_ek_check(NULL, 0), -1);
    cr_assert_eq(mlkem768_encaps_internal(c, k, ek, MLKEM768_EK_LEN + 1, m), -1);
    cr_assert_eq(mlkem768_dk_check(NULL, 0), -1);
    cr_assert_eq(mlkem768_dk_check(dk, MLKEM768_DK_LEN + 1), -1);
    cr_assert_eq(mlkem768_dk_check(dk, MLKEM768_DK_LEN), -1);      /* zero hash is wrong */
    cr_assert_eq(mlkem768_decaps(k, NULL, 0, c, MLKEM768_CT_LEN), -1);
    cr_assert_eq(mlkem768_decaps_seed(k, seed, 63, c, MLKEM768_CT_LEN), -1);
    cr_assert_eq(mlkem768_decaps_seed(k, seed, 65, c, MLKEM768_CT_LEN), -1);
    cr_assert_eq(mlkem768_decaps_seed(k, seed, 64, c, MLKEM768_CT_LEN + 1), -1);
    cr_assert_eq(mlkem768_decaps_seed(k, seed, 64, c, MLKEM768_CT_LEN - 1), -1);
    cr_assert_eq(mlkem768_decaps_seed(k, seed, 64, NULL, 0), -1);
    cr_assert_eq(mlkem768_decaps_seed(k, seed, 64, c, MLKEM768_CT_LEN), 0);
}
