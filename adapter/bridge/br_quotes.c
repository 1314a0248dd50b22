/* br_quotes.c — placeholder: this module registers no endpoint yet (work in progress). */
#include "br_internal.h"

const brModule br_quotesModule = {
    .name = "quotes",
};
