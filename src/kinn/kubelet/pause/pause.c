/*
 * pause: the process that owns a pod sandbox's namespaces (kinn's own, behaving as
 * kubernetes/build/pause/linux/pause.c): it does nothing but exist, so the pod's network, IPC and
 * UTS namespaces outlive any app container; it reaps zombies re-parented to it and exits 0 on
 * SIGINT/SIGTERM. Small and static so that a pod costs a few hundred KB of memory, not a Python
 * interpreter.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define STRINGIFY(x) #x
#define VERSION_STRING(x) STRINGIFY(x)
#ifndef VERSION
#define VERSION HEAD
#endif

static void sigdown(int signo) {
  psignal(signo, "Shutting down, got signal");
  exit(0);
}

static void sigreap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
}

int main(int argc, char **argv) {
  /* kinn: the binary lives in a cache dir, not at /pause as in the upstream image. Some launchers
   * (uvloop's) cannot set argv[0] apart from the path, so pause names itself: `ps` and `lsns` then
   * show "/pause" as on a real node. Upstream's pause.c has no such step. */
  if (argc == 1 && strcmp(argv[0], "/pause") != 0) {
    char path[4096];
    ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (len > 0) {
      path[len] = '\0';
      char *const self[] = {"/pause", NULL};
      execv(path, self); /* by its real path, so the process stays named "pause" (comm) */
    }
  }
  for (int i = 1; i < argc; ++i) {
    if (!strcasecmp(argv[i], "-v")) {
      printf("pause.c %s\n", VERSION_STRING(VERSION));
      return 0;
    }
  }
  if (getpid() != 1)
    /* Not an error: pause is also used outside a PID namespace (kinn does, as upstream allows). */
    fprintf(stderr, "Warning: pause should be the first process\n");

  if (sigaction(SIGINT, &(struct sigaction){.sa_handler = sigdown}, NULL) < 0)
    return 1;
  if (sigaction(SIGTERM, &(struct sigaction){.sa_handler = sigdown}, NULL) < 0)
    return 2;
  if (sigaction(SIGCHLD, &(struct sigaction){.sa_handler = sigreap, .sa_flags = SA_NOCLDSTOP}, NULL) < 0)
    return 3;

  for (;;)
    pause();
  fprintf(stderr, "Error: infinite loop terminated\n");
  return 42;
}
