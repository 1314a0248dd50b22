/* st_depthbook.c — IB's market-depth row operations on an ordered list per side (st_depthbook.h). */
#include <stdio.h>
#include <string.h>

#include "st_depthbook.h"

void stDepthBook_Init(stDepthBook *bk, int rows)
{
    memset(bk, 0, sizeof *bk);
    bk->rows = rows < 1 ? 1 : rows > ST_DEPTH_MAX_ROWS ? ST_DEPTH_MAX_ROWS : rows;
}

void stDepthBook_Clear(stDepthBook *bk)
{
    bk->count[0] = bk->count[1] = 0;
}

static void set_row(stDepthRow *r, double price, double size, const char *mm)
{
    r->price = price;
    r->size = size;
    snprintf(r->market_maker, sizeof r->market_maker, "%s", mm ? mm : "");
}

ibbStatus stDepthBook_Apply(stDepthBook *bk, int side, int op, int64_t position, double price, double size,
                            const char *market_maker)
{
    if ((side != ST_DEPTH_ASK && side != ST_DEPTH_BID) || position < 0 || position >= ST_DEPTH_CAP)
        return IBB_ERR_PROTOCOL;
    stDepthRow *rows = bk->side[side];
    int n = bk->count[side], pos = (int)position;
    switch (op) {
    case ST_DEPTH_INSERT:
        if (pos > n)
            return IBB_ERR_PROTOCOL;
        if (n == ST_DEPTH_CAP)
            n--; /* the last row falls off: IB deletes it with its next operation */
        memmove(&rows[pos + 1], &rows[pos], (size_t)(n - pos) * sizeof *rows);
        set_row(&rows[pos], price, size, market_maker);
        bk->count[side] = n + 1;
        break;
    case ST_DEPTH_UPDATE:
        if (pos >= n)
            return IBB_ERR_PROTOCOL;
        set_row(&rows[pos], price, size, market_maker);
        break;
    case ST_DEPTH_DELETE:
        if (pos >= n)
            return IBB_ERR_PROTOCOL;
        memmove(&rows[pos], &rows[pos + 1], (size_t)(n - pos - 1) * sizeof *rows);
        bk->count[side] = n - 1;
        break;
    default:
        return IBB_ERR_PROTOCOL;
    }
    bk->ops++;
    return IBB_OK;
}
