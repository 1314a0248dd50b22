/* test_map.c — ibbMap: insert, replace, delete with probe-run repair, growth, int keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdint.h>

#include "ibb_map.h"

Test(map, put_get_replace_delete)
{
    ibbMap *m;
    cr_assert_eq(ibbMap_Create(&m), IBB_OK);
    int a = 1, b = 2;
    cr_assert_eq(ibbMap_Put(m, "AAPL", &a), IBB_OK);
    cr_assert_eq(ibbMap_Get(m, "AAPL"), &a);
    cr_assert_eq(ibbMap_Put(m, "AAPL", &b), IBB_OK);
    cr_assert_eq(ibbMap_Get(m, "AAPL"), &b);
    cr_assert_eq(ibbMap_Count(m), 1);
    cr_assert_eq(ibbMap_Del(m, "AAPL"), &b);
    cr_assert_null(ibbMap_Get(m, "AAPL"));
    cr_assert_null(ibbMap_Del(m, "AAPL"));
    cr_assert_eq(ibbMap_Count(m), 0);
    ibbMap_Destroy(m);
    ibbMap_Destroy(NULL);
}

Test(map, many_keys_survive_growth_and_deletes)
{
    ibbMap *m;
    ibbMap_Create(&m);
    char key[32];
    for (intptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof key, "K%ld", (long)i);
        cr_assert_eq(ibbMap_Put(m, key, (void *)i), IBB_OK);
        cr_assert_eq(ibbMap_PutInt(m, -i, (void *)(i * 2)), IBB_OK);
    }
    for (intptr_t i = 1; i <= 5000; i += 3) { /* delete a third: exercises backward shift */
        snprintf(key, sizeof key, "K%ld", (long)i);
        cr_assert_eq(ibbMap_Del(m, key), (void *)i);
        cr_assert_eq(ibbMap_DelInt(m, -i), (void *)(i * 2));
    }
    for (intptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof key, "K%ld", (long)i);
        void *want = (i - 1) % 3 == 0 ? NULL : (void *)i;
        cr_assert_eq(ibbMap_Get(m, key), want, "key %s", key);
        cr_assert_eq(ibbMap_GetInt(m, -i), want ? (void *)(i * 2) : NULL);
    }
    size_t n = 0;
    ibbMapIter it;
    ibbMapIter_Init(&it, m);
    while (ibbMapIter_Next(&it, NULL, NULL, NULL))
        n++;
    cr_assert_eq(n, ibbMap_Count(m));
    cr_assert_eq(n, 2 * (5000 - 1667));
    ibbMap_Destroy(m);
}

static int freed;
static void count_free(void *v) { freed += v != NULL; }

Test(map, clear_frees_values_and_empties)
{
    ibbMap *m = NULL;
    cr_assert_eq(ibbMap_Create(&m), IBB_OK);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(ibbMap_PutInt(m, i, (void *)(intptr_t)(i + 1)), IBB_OK);
    freed = 0;
    ibbMap_Clear(m, count_free);
    cr_assert_eq(freed, 100);
    cr_assert_eq(ibbMap_Count(m), 0);
    cr_assert_null(ibbMap_GetInt(m, 5));
    cr_assert_eq(ibbMap_PutInt(m, 5, (void *)1), IBB_OK, "usable after a clear");
    cr_assert_eq(ibbMap_GetInt(m, 5), (void *)1);
    ibbMap_Clear(NULL, count_free);
    ibbMap_Destroy(m);
}
