/* peer.h — a scripted IB server for the session tests: plain sockets on 127.0.0.1 (a free port
 * picked by the kernel), its own thread, the wire layer (ibWriter, ibFramer) for the bytes.
 *
 * A script is a function run on the peer thread: it accepts connections and talks to ib-bridge's
 * session, recording what it saw into its own struct (read it after peer_Stop, or through the
 * atomic counters while running). Every blocking call takes a timeout, and peer_Stop makes them
 * all return, so a broken session can fail a test but never hang it. */
#ifndef TEST_PEER_H
#define TEST_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct testPeer testPeer;
typedef void (*testPeerScript)(testPeer *p, void *arg);

testPeer *peer_Start(testPeerScript script, void *arg);
int peer_Port(const testPeer *p);
/* Asks the script to stop, closes the sockets, joins the thread, frees. */
void peer_Stop(testPeer *p);
bool peer_Stopping(const testPeer *p);

/* Connections accepted so far, and their CLOCK_MONOTONIC accept times (first 64). */
int peer_Accepts(const testPeer *p);
double peer_AcceptTime(const testPeer *p, int i);

double peer_Now(void); /* CLOCK_MONOTONIC seconds */

/* Next connection, or -1 on timeout / stop. Enables SO_TIMESTAMPNS on it. */
int peer_Accept(testPeer *p, int timeout_ms);
/* Reads "API\0" + the version text into ver. false on EOF, timeout or a malformed prefix. */
bool peer_ReadHandshake(testPeer *p, int fd, char *ver, size_t cap, int timeout_ms);
/* Reads one frame; copies its NUL-separated fields into fields[] (pointing into buf).
 * Returns the field count, 0 on timeout, -1 on EOF/error. *rx_time (may be NULL) gets the
 * kernel receive time of the frame's first bytes (CLOCK_REALTIME seconds). */
int peer_ReadFrame(testPeer *p, int fd, char *buf, size_t cap, const char **fields, int max_fields,
                   int timeout_ms, double *rx_time);
/* Waits for the client to close: true on EOF (frames before it are skipped). */
bool peer_WaitEof(testPeer *p, int fd, int timeout_ms);
/* Frames the fields (NULL-terminated list) with ibWriter and sends them. */
bool peer_Send(int fd, ...) __attribute__((sentinel));
bool peer_SendRaw(int fd, const void *data, size_t len);

/* The usual opening: read the handshake, answer `sv`, read startApi (its client id goes to
 * *client_id). Returns false if anything differs from PROTOCOL.md §2.1. */
bool peer_Open(testPeer *p, int fd, const char *sv, int64_t *client_id);
/* peer_Open + managedAccounts + nextValidId: the session becomes ready. */
bool peer_OpenReady(testPeer *p, int fd, int64_t *client_id);

#endif
