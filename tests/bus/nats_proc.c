/* nats_proc.c — a real nats-server for the bus tests; see nats_proc.h. */
#include "nats_proc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

extern char **environ;
static pid_t server_pid;

int natsProc_FreePort(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

bool natsProc_PortOpen(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Starts nats-server with extra args; returns its pid. *port 0 picks a free port and sets it. */
pid_t natsProc_Start(int *port, const char *a1, const char *a2, const char *a3, const char *a4)
{
    if (*port == 0)
        *port = natsProc_FreePort();
    char p[16];
    snprintf(p, sizeof p, "%d", *port);
    const char *bin = getenv("NATS_SERVER") ? getenv("NATS_SERVER") : "nats-server";
    char *argv[12] = {(char *)bin, "-a", "127.0.0.1", "-p", p};
    int n = 5;
    const char *extra[] = {a1, a2, a3, a4};
    for (int i = 0; i < 4 && extra[i]; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 0, 0);
    pid_t pid;
    cr_assert_eq(posix_spawnp(&pid, bin, &fa, NULL, argv, environ), 0, "cannot start %s", bin);
    server_pid = pid;
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 200 && !natsProc_PortOpen(*port); i++)
        usleep(50000);
    cr_assert(natsProc_PortOpen(*port), "nats-server did not listen on %d", *port);
    return pid;
}

void natsProc_Stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    server_pid = 0;
}

/* a failed assertion ends the test early: never leave its server behind */
void natsProc_Reap(void)
{
    if (server_pid > 0)
        natsProc_Stop(server_pid);
}

