/* testutil.h: the tiny harness of the C unit tests. A test file defines functions
 * `static void test_x(void)` and a main() that calls RUN(test_x) for each; CHECK
 * failures print file:line and the expression, and the program exits non-zero. */
#ifndef LT_TESTUTIL_H
#define LT_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lt_test_failures = 0;
static int lt_test_count = 0;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    lt_test_failures++; return; } } while (0)
#define CHECK_OK(expr) do { int rc_ = (expr); if (rc_ != 0) { \
    fprintf(stderr, "%s:%d: %s returned %d (%s)\n", __FILE__, __LINE__, #expr, rc_, lt_errmsg()); \
    lt_test_failures++; return; } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { \
    fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, a_, #b, b_); \
    lt_test_failures++; return; } } while (0)

#define RUN(fn) do { int before_ = lt_test_failures; lt_test_count++; fn(); \
    fprintf(stderr, "%s %s\n", lt_test_failures == before_ ? "ok  " : "FAIL", #fn); } while (0)

#define TEST_MAIN_END() do { \
    printf("%d passed, %d failed\n", lt_test_count - lt_test_failures, lt_test_failures); \
    return lt_test_failures ? 1 : 0; } while (0)

#endif
