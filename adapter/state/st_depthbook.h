/* st_depthbook.h — one market-depth book (PROTOCOL.md §3.12): IB's row operations applied in order.
 *
 * Each side is an ordered list of at most ST_DEPTH_MAX_ROWS rows; insert at `position` shifts the
 * rows below it down, delete shifts them up, update replaces a row in place. An operation that does
 * not fit the list (insert past the end, update/delete of a missing row, a position beyond the cap)
 * is refused with IBB_ERR_PROTOCOL and leaves the book unchanged, so the owner can log it and ask IB
 * for the book again. Error 317 (reset) is stDepthBook_Clear.
 *
 * Caller-allocated (about 8 KiB), no heap, no clock; single-threaded like the rest of state/. */
#ifndef ST_DEPTHBOOK_H
#define ST_DEPTHBOOK_H

#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"

#define ST_DEPTH_MAX_ROWS 50
#define ST_DEPTH_CAP (ST_DEPTH_MAX_ROWS + 1)  /* room for IB's insert-then-delete at the bottom */
#define ST_DEPTH_MM_MAX 16

enum { ST_DEPTH_ASK = 0, ST_DEPTH_BID = 1 };           /* IB's side numbers */
enum { ST_DEPTH_INSERT = 0, ST_DEPTH_UPDATE = 1, ST_DEPTH_DELETE = 2 }; /* IB's operations */

typedef struct stDepthRow {
    double price, size;
    char market_maker[ST_DEPTH_MM_MAX];   /* "" when IB gave none (updateMktDepth) */
} stDepthRow;

typedef struct stDepthBook {
    int rows;                             /* rows a side kept (1..ST_DEPTH_MAX_ROWS) */
    int count[2];                         /* rows held per side (publish at most `rows`) */
    stDepthRow side[2][ST_DEPTH_CAP];
    uint64_t ops;                         /* operations applied since Init */
} stDepthBook;

/* An empty book keeping `rows` rows a side (clamped to 1..ST_DEPTH_MAX_ROWS). */
void stDepthBook_Init(stDepthBook *bk, int rows);
/* Empties both sides (IB error 317); the row count stays. */
void stDepthBook_Clear(stDepthBook *bk);
/* Applies one operation. side ST_DEPTH_ASK/BID, op ST_DEPTH_INSERT/UPDATE/DELETE; market_maker may be
 * NULL (truncated to ST_DEPTH_MM_MAX - 1 chars). IBB_ERR_PROTOCOL when it does not fit the book.
 * A side may hold one row more than `rows` between IB's insert at the top and its delete at the
 * bottom; an insert into a full side (ST_DEPTH_CAP rows) drops the last row. */
ibbStatus stDepthBook_Apply(stDepthBook *bk, int side, int op, int64_t position, double price, double size,
                            const char *market_maker);

#endif
