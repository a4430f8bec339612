/* test_dbformat.c: internal keys (building, order, parsing) and file names. */
#include <stdint.h>
#include "../db/dbformat.h"
#include "../util/status.h"
#include "testutil.h"

static void test_ikey_append(void) {
    lt_buf b = { 0 };
    CHECK_OK(lt_ikey_append(&b, lt_slice_make("abc", 3), 0x123456789abcull, LT_TYPE_VALUE));
    CHECK_EQ_INT(b.size, 11);
    lt_slice k = lt_slice_make(b.data, b.size);
    CHECK(lt_ikey_valid(k));
    CHECK(lt_slice_eq(lt_ikey_user(k), lt_slice_make("abc", 3)));
    CHECK_EQ_INT(lt_ikey_seq(k), 0x123456789abcull);
    CHECK_EQ_INT(lt_ikey_type(k), LT_TYPE_VALUE);
    /* appends after what is there; the empty user key is allowed */
    CHECK_OK(lt_ikey_append(&b, lt_slice_make(NULL, 0), LT_MAX_SEQ, LT_TYPE_DELETION));
    CHECK_EQ_INT(b.size, 19);
    lt_slice e = lt_slice_make(b.data + 11, 8);
    CHECK(lt_ikey_valid(e));
    CHECK_EQ_INT(lt_ikey_user(e).size, 0);
    CHECK_EQ_INT(lt_ikey_seq(e), LT_MAX_SEQ);
    CHECK_EQ_INT(lt_ikey_type(e), LT_TYPE_DELETION);
    lt_buf_free(&b);
}

static int cmp_of(const char *ua, uint64_t sa, int ta, const char *ub, uint64_t sb, int tb) {
    lt_buf a = { 0 }, b = { 0 };
    if (lt_ikey_append(&a, lt_slice_make(ua, strlen(ua)), sa, ta) ||
        lt_ikey_append(&b, lt_slice_make(ub, strlen(ub)), sb, tb))
        return 99;
    int r = lt_ikey_cmp(lt_slice_make(a.data, a.size), lt_slice_make(b.data, b.size));
    lt_buf_free(&a);
    lt_buf_free(&b);
    return r < 0 ? -1 : r > 0;
}

static void test_ikey_order(void) {
    CHECK_EQ_INT(cmp_of("a", 5, 1, "b", 1, 1), -1);          /* user key first */
    CHECK_EQ_INT(cmp_of("a", 5, 1, "ab", 9, 1), -1);         /* prefix sorts first */
    CHECK_EQ_INT(cmp_of("a", 9, 1, "a", 5, 1), -1);          /* newer first */
    CHECK_EQ_INT(cmp_of("a", 5, 1, "a", 5, 0), -1);          /* higher type first */
    CHECK_EQ_INT(cmp_of("a", 5, 1, "a", 5, 1), 0);
    CHECK_EQ_INT(cmp_of("\xff", 1, 1, "\x01", 1, 1), 1);     /* bytes are unsigned */
    /* the lookup key (seq, FOR_SEEK) sorts before every entry of that seq or older */
    CHECK_EQ_INT(cmp_of("k", 7, LT_TYPE_FOR_SEEK, "k", 7, LT_TYPE_DELETION), -1);
    CHECK_EQ_INT(cmp_of("k", 7, LT_TYPE_FOR_SEEK, "k", 8, LT_TYPE_DELETION), 1);
    /* a malformed type is caught by lt_ikey_valid */
    char bad[9] = "x";
    lt_put_fixed64(bad + 1, lt_pack_trailer(3, 2));
    CHECK(!lt_ikey_valid(lt_slice_make(bad, 9)));
    CHECK(!lt_ikey_valid(lt_slice_make(bad, 7)));
}

static void test_file_names(void) {
    char out[64];
    lt_table_file_name(out, sizeof out, "/db", 12);
    CHECK(strcmp(out, "/db/000012.ldt") == 0);
    lt_log_file_name(out, sizeof out, "/db", 7);
    CHECK(strcmp(out, "/db/000007.log") == 0);
    lt_manifest_file_name(out, sizeof out, "/db", 5);
    CHECK(strcmp(out, "/db/MANIFEST-000005") == 0);
    lt_table_file_name(out, sizeof out, "d", 12345678901ull);  /* wider than six digits */
    CHECK(strcmp(out, "d/12345678901.ldt") == 0);
    lt_log_file_name(out, 8, "/db", 7);  /* truncated, still terminated */
    CHECK(strcmp(out, "/db/000") == 0);
}

int main(void) {
    RUN(test_ikey_append);
    RUN(test_ikey_order);
    RUN(test_file_names);
    TEST_MAIN_END();
}
