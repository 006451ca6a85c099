/*
 * LD_PRELOAD shim for redis-server / valkey-server: a power loss, emulated. What the server
 * writes to its AOF files stays in this process's memory until it fsyncs them (fsync,
 * fdatasync), as unsynced data stays in the kernel's page cache; SIGKILL then loses exactly what a
 * machine crash would (the kernel keeps a killed process's writes, so without this a crash of
 * every process loses nothing, with or without fsync).
 *
 * Files whose path contains "appendonly" are held (Redis 7 and Valkey 8: appendonlydir/
 * appendonly.aof.N.incr.aof and its manifest). Build: cc -shared -fPIC -O2 -o volatileaof.so
 * volatileaof.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FD 4096

struct held {
  char *data;
  size_t length;
  size_t capacity;
  int tracked;
};

static struct held files[MAX_FD];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);

static void init(void) {
  if (real_write) return;
  real_write = dlsym(RTLD_NEXT, "write");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  real_open = dlsym(RTLD_NEXT, "open");
  real_open64 = dlsym(RTLD_NEXT, "open64");
  real_openat = dlsym(RTLD_NEXT, "openat");
  real_close = dlsym(RTLD_NEXT, "close");
}

static void track(int fd, const char *path) {
  if (fd < 0 || fd >= MAX_FD || path == NULL || strstr(path, "appendonly") == NULL) return;
  pthread_mutex_lock(&lock);
  files[fd].tracked = 1;
  files[fd].length = 0;
  pthread_mutex_unlock(&lock);
}

/* Writes what is held for fd to the file (the caller holds the lock). */
static int flush_held(int fd) {
  struct held *file = &files[fd];
  size_t done = 0;
  while (done < file->length) {
    ssize_t n = real_write(fd, file->data + done, file->length - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    done += (size_t)n;
  }
  file->length = 0;
  return 0;
}

#define OPEN_MODE(flags, mode)                                                                  \
  do {                                                                                          \
    if ((flags) & O_CREAT) {                                                                    \
      va_list args;                                                                             \
      va_start(args, flags);                                                                    \
      mode = va_arg(args, int);                                                                 \
      va_end(args);                                                                             \
    }                                                                                           \
  } while (0)

/* Opens with `real` and tracks the file: the body of every open wrapper below. */
#define OPEN_TRACKED(real, ...)                                                                 \
  do {                                                                                          \
    init();                                                                                     \
    int mode = 0;                                                                               \
    OPEN_MODE(flags, mode);                                                                     \
    int fd = real(__VA_ARGS__, flags, mode);                                                    \
    track(fd, path);                                                                            \
    return fd;                                                                                  \
  } while (0)

int open(const char *path, int flags, ...) { OPEN_TRACKED(real_open, path); }
int open64(const char *path, int flags, ...) { OPEN_TRACKED(real_open64, path); }
int openat(int dir, const char *path, int flags, ...) { OPEN_TRACKED(real_openat, dir, path); }

ssize_t write(int fd, const void *buffer, size_t count) {
  init();
  if (fd < 0 || fd >= MAX_FD || !files[fd].tracked) return real_write(fd, buffer, count);
  pthread_mutex_lock(&lock);
  struct held *file = &files[fd];
  if (file->length + count > file->capacity) {
    size_t capacity = (file->length + count) * 2 + 4096;
    char *grown = realloc(file->data, capacity);
    if (grown == NULL) {
      pthread_mutex_unlock(&lock);
      errno = ENOMEM;
      return -1;
    }
    file->data = grown;
    file->capacity = capacity;
  }
  memcpy(file->data + file->length, buffer, count);
  file->length += count;
  pthread_mutex_unlock(&lock);
  return (ssize_t)count;
}

static int synced(int fd, int which) {
  init();
  int (*real)(int) = which ? real_fdatasync : real_fsync;
  if (fd >= 0 && fd < MAX_FD && files[fd].tracked) {
    pthread_mutex_lock(&lock);
    int failed = flush_held(fd);
    pthread_mutex_unlock(&lock);
    if (failed) return -1;
  }
  return real(fd);
}

int fsync(int fd) { return synced(fd, 0); }
int fdatasync(int fd) { return synced(fd, 1); }

int close(int fd) {
  init();
  if (fd >= 0 && fd < MAX_FD && files[fd].tracked) {
    /* Closed without fsync: as on a machine that then loses power, what was held is gone. The
       server fsyncs an AOF before it closes one it keeps (a rewrite's). */
    pthread_mutex_lock(&lock);
    files[fd].tracked = 0;
    files[fd].length = 0;
    pthread_mutex_unlock(&lock);
  }
  return real_close(fd);
}
