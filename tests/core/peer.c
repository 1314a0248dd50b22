/* peer.c — the scripted IB server used by the session tests; see peer.h. */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ib_wire.h"

#define MAX_FDS 64

struct testPeer {
    int listen_fd;
    int port;
    int stop_pipe[2];
    atomic_bool stopping;
    atomic_int accepts;
    double accept_time[MAX_FDS];
    int fds[MAX_FDS];
    pthread_t thread;
    testPeerScript script;
    void *arg;
};

double peer_Now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *peer_main(void *arg)
{
    testPeer *p = arg;
    p->script(p, p->arg);
    return NULL;
}

testPeer *peer_Start(testPeerScript script, void *arg)
{
    testPeer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->script = script;
    p->arg = arg;
    for (int i = 0; i < MAX_FDS; i++)
        p->fds[i] = -1;
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof a;
    if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(p->listen_fd, 16) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&a, &al) != 0 || pipe(p->stop_pipe) != 0) {
        close(p->listen_fd);
        free(p);
        return NULL;
    }
    p->port = ntohs(a.sin_port);
    if (pthread_create(&p->thread, NULL, peer_main, p) != 0) {
        close(p->listen_fd);
        free(p);
        return NULL;
    }
    return p;
}

int peer_Port(const testPeer *p) { return p->port; }
bool peer_Stopping(const testPeer *p) { return atomic_load(&((testPeer *)p)->stopping); }
int peer_Accepts(const testPeer *p) { return atomic_load(&((testPeer *)p)->accepts); }
double peer_AcceptTime(const testPeer *p, int i) { return i >= 0 && i < MAX_FDS ? p->accept_time[i] : 0.0; }

void peer_Stop(testPeer *p)
{
    if (!p)
        return;
    atomic_store(&p->stopping, true);
    ssize_t w = write(p->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(p->thread, NULL);
    for (int i = 0; i < MAX_FDS; i++)
        if (p->fds[i] >= 0)
            close(p->fds[i]);
    close(p->listen_fd);
    close(p->stop_pipe[0]);
    close(p->stop_pipe[1]);
    free(p);
}

/* 1 when fd is readable, 0 on timeout, -1 when stopping. */
static int wait_readable(testPeer *p, int fd, int timeout_ms)
{
    double deadline = peer_Now() + timeout_ms / 1000.0;
    for (;;) {
        if (atomic_load(&p->stopping))
            return -1;
        int left = (int)((deadline - peer_Now()) * 1000.0);
        if (left < 0)
            return 0;
        struct pollfd pf[2] = {{fd, POLLIN, 0}, {p->stop_pipe[0], POLLIN, 0}};
        int n = poll(pf, 2, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (pf[1].revents & POLLIN))
            return -1;
        if (n > 0)
            return 1;
    }
}

int peer_Accept(testPeer *p, int timeout_ms)
{
    if (wait_readable(p, p->listen_fd, timeout_ms) != 1)
        return -1;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0)
        return -1;
    int n = atomic_load(&p->accepts);
    if (n < MAX_FDS) {
        p->accept_time[n] = peer_Now();
        p->fds[n] = fd;
    }
    atomic_store(&p->accepts, n + 1);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Reads exactly len bytes. 1 ok, 0 timeout, -1 EOF / error / stop. */
static int read_exact(testPeer *p, int fd, char *buf, size_t len, int timeout_ms, double *rx_time)
{
    size_t got = 0;
    while (got < len) {
        int r = wait_readable(p, fd, timeout_ms);
        if (r != 1)
            return r == 0 ? 0 : -1;
        char ctrl[256];
        struct iovec iov = {buf + got, len - got};
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctrl;
        mh.msg_controllen = sizeof ctrl;
        ssize_t n = recvmsg(fd, &mh, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        if (got == 0 && rx_time) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
            *rx_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        }
        got += (size_t)n;
    }
    return 1;
}

bool peer_ReadHandshake(testPeer *p, int fd, char *ver, size_t cap, int timeout_ms)
{
    char head[8];
    if (read_exact(p, fd, head, 8, timeout_ms, NULL) != 1 || memcmp(head, "API\0", 4) != 0)
        return false;
    uint32_t n = ((uint32_t)(unsigned char)head[4] << 24) | ((uint32_t)(unsigned char)head[5] << 16) |
                 ((uint32_t)(unsigned char)head[6] << 8) | (uint32_t)(unsigned char)head[7];
    char text[256];
    if (n == 0 || n >= sizeof text || read_exact(p, fd, text, n, timeout_ms, NULL) != 1)
        return false;
    /* Let the codec's framer check it the way ib-sim would. */
    ibFramer *f;
    if (ibFramer_Create(&f, IB_FRAMER_SERVER) != IBB_OK)
        return false;
    bool ok = ibFramer_Feed(f, head, 8) == IBB_OK && ibFramer_Feed(f, text, n) == IBB_OK;
    const char *payload;
    size_t len;
    bool is_hs = false;
    ok = ok && ibFramer_Next(f, &payload, &len, &is_hs) == IBB_OK && is_hs;
    if (ok)
        snprintf(ver, cap, "%s", payload);
    ibFramer_Destroy(f);
    return ok;
}

int peer_ReadFrame(testPeer *p, int fd, char *buf, size_t cap, const char **fields, int max_fields,
                   int timeout_ms, double *rx_time)
{
    char head[4];
    int r = read_exact(p, fd, head, 4, timeout_ms, rx_time);
    if (r != 1)
        return r;
    uint32_t n = ((uint32_t)(unsigned char)head[0] << 24) | ((uint32_t)(unsigned char)head[1] << 16) |
                 ((uint32_t)(unsigned char)head[2] << 8) | (uint32_t)(unsigned char)head[3];
    if (n == 0 || n >= cap)
        return -1;
    if (read_exact(p, fd, buf, n, timeout_ms, NULL) != 1)
        return -1;
    if (buf[n - 1] != '\0')
        return -1;
    int k = 0;
    for (size_t i = 0; i < n && k < max_fields; k++) {
        fields[k] = buf + i;
        i += strlen(buf + i) + 1;
    }
    return k;
}

bool peer_WaitEof(testPeer *p, int fd, int timeout_ms)
{
    double deadline = peer_Now() + timeout_ms / 1000.0;
    char buf[4096];
    for (;;) {
        int left = (int)((deadline - peer_Now()) * 1000.0);
        if (left <= 0 || wait_readable(p, fd, left) != 1)
            return false;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return true;
    }
}

bool peer_SendRaw(int fd, const void *data, size_t len)
{
    const char *b = data;
    while (len) {
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

bool peer_Send(int fd, ...)
{
    ibWriter w;
    ibWriter_Init(&w);
    ibWriter_Begin(&w);
    va_list ap;
    va_start(ap, fd);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        ibWriter_Str(&w, s);
    va_end(ap);
    bool ok = ibWriter_End(&w) == IBB_OK && peer_SendRaw(fd, ibWriter_Data(&w), ibWriter_Len(&w));
    ibWriter_Free(&w);
    return ok;
}

bool peer_Open(testPeer *p, int fd, const char *sv, int64_t *client_id)
{
    char ver[128];
    if (!peer_ReadHandshake(p, fd, ver, sizeof ver, 5000) || strcmp(ver, "v100..176") != 0)
        return false;
    if (!peer_Send(fd, sv, "20250415 19:38:30 British Summer Time", (const char *)NULL))
        return false;
    char buf[512];
    const char *f[8];
    int n = peer_ReadFrame(p, fd, buf, sizeof buf, f, 8, 5000, NULL);
    if (n != 4 || strcmp(f[0], "71") != 0 || strcmp(f[1], "2") != 0 || strcmp(f[3], "") != 0)
        return false;
    if (client_id)
        *client_id = strtoll(f[2], NULL, 10);
    return true;
}

bool peer_OpenReady(testPeer *p, int fd, int64_t *client_id)
{
    return peer_Open(p, fd, "176", client_id) && peer_Send(fd, "15", "1", "DU1234567,", (const char *)NULL) &&
           peer_Send(fd, "9", "1", "1", (const char *)NULL);
}
