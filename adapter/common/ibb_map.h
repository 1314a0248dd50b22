/* ibb_map.h — a small open-addressing hash map from byte-string keys to pointers.
 *
 * A building block (no project headers). One implementation for string keys (ibbMap_Put with
 * strlen) and integer keys (ibbMap_PutInt, the 8 bytes of an int64). The map copies keys and owns
 * those copies; values are borrowed pointers (the caller owns what they point to).
 * Not thread-safe: each map belongs to one thread. Iteration order is unspecified; a map must not
 * be changed while iterating (collect the keys to delete, then delete). */
#ifndef IBB_MAP_H
#define IBB_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "ibb_status.h"

typedef struct ibbMap ibbMap;

ibbStatus ibbMap_Create(ibbMap **out);
void ibbMap_Destroy(ibbMap *m);      /* NULL-safe; does not touch the values */
size_t ibbMap_Count(const ibbMap *m);
/* Removes every entry, calling free_value(value) for each when given (NULL-safe map). */
void ibbMap_Clear(ibbMap *m, void (*free_value)(void *));

/* Inserts or replaces. IBB_ERR_NOMEM leaves the map unchanged. */
ibbStatus ibbMap_PutBytes(ibbMap *m, const void *key, size_t klen, void *value);
void *ibbMap_GetBytes(const ibbMap *m, const void *key, size_t klen);   /* NULL when absent */
void *ibbMap_DelBytes(ibbMap *m, const void *key, size_t klen);         /* the removed value or NULL */

ibbStatus ibbMap_Put(ibbMap *m, const char *key, void *value);
void *ibbMap_Get(const ibbMap *m, const char *key);
void *ibbMap_Del(ibbMap *m, const char *key);
ibbStatus ibbMap_PutInt(ibbMap *m, int64_t key, void *value);
void *ibbMap_GetInt(const ibbMap *m, int64_t key);
void *ibbMap_DelInt(ibbMap *m, int64_t key);

typedef struct ibbMapIter { ibbMap *m; size_t pos; } ibbMapIter;
void ibbMapIter_Init(ibbMapIter *it, ibbMap *m);
/* Next entry: 1 with key, klen and value set (each may be NULL), 0 at the end. Keys are
 * NUL-terminated copies owned by the map. */
int ibbMapIter_Next(ibbMapIter *it, const char **key, size_t *klen, void **value);

#endif
