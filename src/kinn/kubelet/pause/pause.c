/*
 * pause: the process that owns a pod sandbox's namespaces (kinn's own, behaving as
 * kubernetes/build/pause/linux/pause.c): it does nothing but exist, so the pod's network, IPC and
 * UTS namespaces outlive any app container; it reaps zombies re-parented to it and exits 0 on
 * SIGINT/SIGTERM. Small and static so that a pod costs a few hundred KB of memory, not a Python
 * interpreter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

/* Tell the kubelet on fd 3 that the sandbox is ready ("ok") or which step failed, then close it. */
static int report(const char *failed) {
  char message[256];
  int len = failed ? snprintf(message, sizeof(message), "%s: %s", failed, strerror(errno))
                   : snprintf(message, sizeof(message), "ok");
  if (write(3, message, (size_t)len) < 0 || close(3) < 0)
    return -1;
  return failed ? -1 : 0;
}

/* kinn: runc's part of RunPodSandbox. Upstream, the runtime creates the sandbox's network, IPC and
 * UTS namespaces, sets the pod's hostname and containerd brings `lo` up before pause runs. kinn has
 * no runc, and forking the kubelet (a large Python process) to do it there costs ~8 ms per pod, so
 * the kubelet spawns pause directly and, with KINN_SANDBOX_HOSTNAME set, pause does it first. */
static int become_sandbox(const char *hostname) {
  if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
    return report("unshare");
  if (sethostname(hostname, strlen(hostname)) < 0)
    return report("sethostname");
  struct ifreq lo = {.ifr_name = "lo"};
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &lo) < 0)
    return report("lo");
  lo.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &lo) < 0)
    return report("lo up");
  close(sock);
  return report(NULL);
}

/* kinn: a hostNetwork pod keeps its node's network and UTS namespaces, as containerd leaves both
 * to the node for it; only its IPC namespace is its own. */
static int become_host_network_sandbox(void) {
  if (unshare(CLONE_NEWIPC) < 0)
    return report("unshare");
  return report(NULL);
}

int main(int argc, char **argv) {
  const char *hostname = getenv("KINN_SANDBOX_HOSTNAME");
  if (getenv("KINN_SANDBOX_HOST_NETWORK") ? become_host_network_sandbox() < 0
                                          : hostname && become_sandbox(hostname) < 0)
    return 4;
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
