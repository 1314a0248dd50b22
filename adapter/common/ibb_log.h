/* ibb_log.h — one log line per event: "<UTC time> <LEVEL> <event> key=value ...".
 *
 * A building block (no project headers). Thread-safe: each line is formatted into a local buffer
 * and written with one write(2), so lines from different threads never interleave. Values that
 * may contain spaces should be quoted by the caller with ibbLog_Quote or %s inside "...". */
#ifndef IBB_LOG_H
#define IBB_LOG_H

#include <stdarg.h>

typedef enum ibbLogLevel {
    IBB_LOG_DEBUG = 0,
    IBB_LOG_INFO,
    IBB_LOG_WARN,
    IBB_LOG_ERROR,
    IBB_LOG_OFF
} ibbLogLevel;

/* Global threshold (default INFO). Settable at start-up, before threads exist. */
void ibbLog_SetLevel(ibbLogLevel level);
/* Parses "debug" / "info" / "warn" / "error" / "off"; returns -1 for anything else. */
int ibbLog_ParseLevel(const char *name);
/* Sets the fd lines go to (default 2). */
void ibbLog_SetFd(int fd);
int ibbLog_Enabled(ibbLogLevel level);

/* `event` is a dotted name such as "ib.connected"; fmt gives the key=value fields (may be NULL). */
void ibbLog_Write(ibbLogLevel level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ibbLog_WriteV(ibbLogLevel level, const char *event, const char *fmt, va_list ap);

#define IBB_DEBUG(event, ...) \
    do { if (ibbLog_Enabled(IBB_LOG_DEBUG)) ibbLog_Write(IBB_LOG_DEBUG, event, __VA_ARGS__); } while (0)
#define IBB_INFO(event, ...) ibbLog_Write(IBB_LOG_INFO, event, __VA_ARGS__)
#define IBB_WARN(event, ...) ibbLog_Write(IBB_LOG_WARN, event, __VA_ARGS__)
#define IBB_ERROR(event, ...) ibbLog_Write(IBB_LOG_ERROR, event, __VA_ARGS__)

#endif
