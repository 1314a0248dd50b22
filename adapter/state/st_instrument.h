/* st_instrument.h — instruments and their NATS-safe, reversible keys.
 *
 * A key names one instrument in subjects (`ib.quote.<key>`). Rules:
 *   - a US stock on SMART in USD is just its symbol:        AAPL
 *   - anything else is SECTYPE:SYMBOL:EXCHANGE:CURRENCY, then for derivatives :EXPIRY, and for
 *     options :RIGHT:STRIKE:MULTIPLIER                       STK:SAP:IBIS:EUR  FUT:ES:CME:USD:202512
 *                                                             CASH:EUR:IDEALPRO:USD
 *                                                             OPT:AAPL:SMART:USD:20251219:C:200:100
 *   - a bare conId is also a key:                             @265598
 * A key never contains '.', ' ', '*', '>' (nor any byte outside [A-Za-z0-9_+#=:@-]): other bytes
 * inside a field are escaped as ~XX (hex), so "BRK B" is BRK~20B and "BRK.B" is BRK~2EB. Parsing
 * reverses every escape, so key -> spec -> key gives the same text.
 *
 * stInstrumentSpec is a plain value: fixed-size, caller-allocated, copied freely. */
#ifndef ST_INSTRUMENT_H
#define ST_INSTRUMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ib_msgs.h"
#include "ibb_status.h"

#define ST_KEY_MAX 128
#define ST_FIELD_MAX 32

typedef struct stInstrumentSpec {
    int64_t con_id;                      /* 0 when not known */
    char sec_type[8];
    char symbol[ST_FIELD_MAX];
    char exchange[ST_FIELD_MAX];
    char primary_exchange[ST_FIELD_MAX];
    char currency[8];
    char expiry[16];                     /* lastTradeDateOrContractMonth */
    char right[4];
    double strike;                       /* 0 when none */
    char multiplier[16];
    char local_symbol[ST_FIELD_MAX];
    char trading_class[ST_FIELD_MAX];
} stInstrumentSpec;

/* Parses a key. IBB_ERR_INVALID_ARG (with a reason in `why`, may be NULL) when malformed. */
ibbStatus stInstrument_ParseKey(const char *key, stInstrumentSpec *out, const char **why);
/* Formats the canonical key of a spec into out (ST_KEY_MAX bytes). */
ibbStatus stInstrument_FormatKey(const stInstrumentSpec *spec, char *out, size_t cap);
/* Builds a spec from an IB contract (e.g. from contractData). */
void stInstrument_FromContract(stInstrumentSpec *spec, const ibContract *c);
/* Points an ibContract at the spec's fields (borrowed: valid while spec lives). A spec with a
 * conId asks IB by conId (exchange kept when known so SMART routing stays). */
void stInstrument_ToContract(const stInstrumentSpec *spec, ibContract *c);

#endif
