/* vector_check.h — the one request check the codec tests share: a request struct filled by hand
 * encodes, at the vector's server version, to exactly the vector's frame (be32 length + payload).
 * Header-only, beside vector_file.h (which loads the vectors). */
#ifndef VECTOR_CHECK_H
#define VECTOR_CHECK_H

#include "ib_msgs.h"
#include "vector_file.h"

static inline void tvec_ExpectRequest(const tvec *v, const ibRequest *r)
{
    cr_assert(v->to_server, "%s is a request", v->message);
    ibWriter w;
    ibWriter_Init(&w);
    ibbStatus st = ib_encodeRequest(&w, v->sv, r);
    cr_assert_eq(st, IBB_OK, "%s: %s", v->message, ibbStatus_Name(st));
    size_t flen;
    char *frame = tvec_Frame(v, &flen);
    cr_assert_eq(ibWriter_Len(&w), flen, "%s: length want %zu got %zu", v->message, flen, ibWriter_Len(&w));
    cr_assert_eq(memcmp(ibWriter_Data(&w), frame, flen), 0, "%s: bytes differ", v->message);
    free(frame);
    ibWriter_Free(&w);
}

#endif
