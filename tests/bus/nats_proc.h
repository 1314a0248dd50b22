/* nats_proc.h — a real nats-server for the bus tests: free ports, start (with extra arguments), stop.
 * One server at a time per test process; natsProc_Reap (a suite's .fini) kills one a failed assertion
 * left running. The binary is $NATS_SERVER or nats-server on PATH. */
#ifndef NATS_PROC_H
#define NATS_PROC_H

#include <stdbool.h>
#include <sys/types.h>

int natsProc_FreePort(void);
bool natsProc_PortOpen(int port);
/* Starts nats-server on 127.0.0.1 with up to four extra arguments (NULL ends them); *port 0 picks a
 * free port and sets it. Fails the running test when the server does not listen within 10 s. */
pid_t natsProc_Start(int *port, const char *a1, const char *a2, const char *a3, const char *a4);
void natsProc_Stop(pid_t pid);
void natsProc_Reap(void);

#endif
