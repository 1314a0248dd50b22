/* ibb_log.c — line logger; see ibb_log.h. */
#include "ibb_log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static ibbLogLevel log_level = IBB_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void ibbLog_SetLevel(ibbLogLevel level) { log_level = level; }
void ibbLog_SetFd(int fd) { log_fd = fd; }
int ibbLog_Enabled(ibbLogLevel level) { return level >= log_level && level < IBB_LOG_OFF; }

int ibbLog_ParseLevel(const char *name)
{
    for (int i = 0; name && i <= IBB_LOG_OFF; i++)
        if (strcasecmp(name, level_names[i]) == 0 || (i == IBB_LOG_WARN && strcasecmp(name, "warning") == 0))
            return i;
    return -1;
}

void ibbLog_WriteV(ibbLogLevel level, const char *event, const char *fmt, va_list ap)
{
    if (!ibbLog_Enabled(level))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     level_names[level], event ? event : "-");
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (fmt && *fmt && len < sizeof line - 2) {
        line[len++] = ' ';
        int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
        if (m > 0)
            len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
    }
    if (len >= sizeof line - 1)
        len = sizeof line - 2; /* truncated line: still one line */
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
}

void ibbLog_Write(ibbLogLevel level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ibbLog_WriteV(level, event, fmt, ap);
    va_end(ap);
}
