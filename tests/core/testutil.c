/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ibb_log.h"

typedef struct runCtx {
    testCond cond;
    void *arg;
    bool done;
} runCtx;

static void on_tick(uv_timer_t *t)
{
    runCtx *c = t->data;
    if (c->cond && c->cond(c->arg)) {
        c->done = true;
        uv_stop(t->loop);
    }
}

static void on_deadline(uv_timer_t *t) { uv_stop(t->loop); }

bool test_RunUntil(uv_loop_t *loop, testCond cond, void *arg, int timeout_ms)
{
    runCtx c = {cond, arg, false};
    if (cond && cond(arg))
        return true;
    uv_timer_t tick, deadline;
    uv_timer_init(loop, &tick);
    uv_timer_init(loop, &deadline);
    tick.data = &c;
    uv_timer_start(&tick, on_tick, 5, 5);
    uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return cond ? cond(arg) : true;
}

void test_RunFor(uv_loop_t *loop, int ms) { test_RunUntil(loop, NULL, NULL, ms); }

static char log_path[64];
static int log_fd = -1;

void test_LogCapture(void)
{
    snprintf(log_path, sizeof log_path, "/tmp/ibb-core-log-XXXXXX");
    log_fd = mkstemp(log_path);
    if (log_fd >= 0) {
        unlink(log_path);
        ibbLog_SetFd(log_fd);
    }
    ibbLog_SetLevel(IBB_LOG_DEBUG);
}

static char *log_read(void)
{
    if (log_fd < 0)
        return NULL;
    off_t end = lseek(log_fd, 0, SEEK_END);
    if (end < 0)
        return NULL;
    char *buf = malloc((size_t)end + 1);
    if (!buf)
        return NULL;
    ssize_t n = pread(log_fd, buf, (size_t)end, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

bool test_LogContains(const char *needle)
{
    char *b = log_read();
    bool found = b && strstr(b, needle) != NULL;
    free(b);
    return found;
}

void test_LogDump(void)
{
    char *b = log_read();
    if (b)
        fprintf(stderr, "---- captured log ----\n%s---- end ----\n", b);
    free(b);
}

/* ---- child processes -------------------------------------------------------------------------- */

static char **build_env(const char *const env[])
{
    size_t n = 0;
    while (env && env[n])
        n++;
    char **e = calloc(n + 2, sizeof *e);
    if (!e)
        return NULL;
    e[0] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
    for (size_t i = 0; i < n; i++)
        e[i + 1] = (char *)env[i];
    return e;
}

/* Sanitizer settings must reach the child, or an ASan build would behave unlike the parent. */
static char **build_env_keep_san(const char *const env[])
{
    static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
    char **base = build_env(env);
    if (!base)
        return NULL;
    size_t n = 0;
    while (base[n])
        n++;
    char **e = realloc(base, (n + 4) * sizeof *e);
    if (!e) {
        free(base);
        return NULL;
    }
    for (size_t k = 0; k < 3; k++) {
        const char *v = getenv(keep[k]);
        if (!v)
            continue;
        static char bufs[3][1024];
        snprintf(bufs[k], sizeof bufs[k], "%s=%s", keep[k], v);
        e[n++] = bufs[k];
    }
    e[n] = NULL;
    return e;
}

pid_t test_SpawnLogged(const char *const argv[], const char *const env[], const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char **e = build_env_keep_san(env);
    pid_t pid = -1;
    if (!e || posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, e) != 0)
        pid = -1;
    free(e);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

int test_Wait(pid_t pid, int timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms > timeout_ms)
            return -1;
        usleep(10 * 1000);
    }
}

char *test_ReadFile(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    if (f) {
        FILE *m = open_memstream(&buf, &len);
        char chunk[4096];
        size_t n;
        while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
            fwrite(chunk, 1, n, m);
        if (m)
            fclose(m);
        fclose(f);
    }
    return buf ? buf : strdup("");
}

static void slurp(const char *path, char *buf, size_t cap)
{
    if (!buf || !cap)
        return;
    char *s = test_ReadFile(path);
    snprintf(buf, cap, "%s", s);
    free(s);
}

int test_Run(const char *const argv[], const char *const env[], char *out, size_t outcap, char *err,
             size_t errcap, int timeout_ms)
{
    char opath[] = "/tmp/ibb-core-out-XXXXXX", epath[] = "/tmp/ibb-core-err-XXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath);
    if (ofd < 0 || efd < 0)
        return -1;
    close(ofd);
    close(efd);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, opath, O_WRONLY | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, epath, O_WRONLY | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char **e = build_env_keep_san(env);
    pid_t pid = -1;
    int rc = -1;
    if (e && posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, e) == 0) {
        rc = test_Wait(pid, timeout_ms);
        if (rc == -1) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    free(e);
    posix_spawn_file_actions_destroy(&fa);
    slurp(opath, out, outcap);
    slurp(epath, err, errcap);
    unlink(opath);
    unlink(epath);
    return rc;
}
