/* ibb_fmt.c — see ibb_fmt.h. */
#include "ibb_fmt.h"

#include <stdio.h>
#include <stdlib.h>

size_t ibbFmt_Double(char *out, size_t cap, double v)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            break;
    }
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
