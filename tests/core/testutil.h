/* testutil.h — helpers shared by the core tests: run a libuv loop until a condition holds (or a
 * deadline passes), and capture ibbLog lines in a temp file to look for events. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <uv.h>

typedef bool (*testCond)(void *arg);

/* Runs the loop until cond(arg) is true or timeout_ms passed; returns cond's final value. */
bool test_RunUntil(uv_loop_t *loop, testCond cond, void *arg, int timeout_ms);
/* Runs the loop for ms milliseconds. */
void test_RunFor(uv_loop_t *loop, int ms);

/* Sends ibbLog output to a fresh temp file (also echoed to stderr at the end by LogDump). */
void test_LogCapture(void);
/* true when the captured log holds `needle`. */
bool test_LogContains(const char *needle);
/* Prints the captured log to stderr (for failing tests). */
void test_LogDump(void);

#include <stddef.h>
#include <sys/types.h>

/* Runs a program with exactly the environment `env` (NULL-terminated "K=V" list; PATH is added),
 * stdout and stderr captured (truncated to the buffers). Returns the exit code, 128+signal when
 * killed, -1 when it could not run or outlived timeout_ms (it is then killed). */
int test_Run(const char *const argv[], const char *const env[], char *out, size_t outcap, char *err,
             size_t errcap, int timeout_ms);
/* Starts a program in the background with stdout+stderr appended to log_path. */
pid_t test_SpawnLogged(const char *const argv[], const char *const env[], const char *log_path);
/* Waits up to timeout_ms for pid; returns the exit code as test_Run does, -1 on timeout. */
int test_Wait(pid_t pid, int timeout_ms);
/* Reads a whole file into a fresh buffer ("" when missing). */
char *test_ReadFile(const char *path);

#endif
