/* ibb_fmt.h — number formatting shared by the JSON writers of bus/ and http/.
 *
 * (The IB wire spells doubles the way IB's Python client does — fixed or scientific by exponent, always
 * with a '.' — which is ib_formatDouble in ib/ib_wire.h, tested byte for byte against IB's encoder.) */
#ifndef IBB_FMT_H
#define IBB_FMT_H

#include <stddef.h>

/* Writes a finite double in the shortest of %.15g / %.16g / %.17g that reads back as the same value
 * (no trailing ".0": callers that need one add it). Returns the length written (< cap; cap >= 32). */
size_t ibbFmt_Double(char *out, size_t cap, double v);

#endif
