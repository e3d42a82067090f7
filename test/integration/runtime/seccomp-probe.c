/* Tries the system calls Docker's default seccomp profile refuses, and a few it allows, and
   prints one line per call: "NAME ok" or "NAME ERRNO-NAME". Built static by security.test.ts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc) {
  if (rc < 0) printf("%s %s\n", name, strerrorname_np(errno));
  else printf("%s ok\n", name);
}

static void *thread_main(void *arg) { return arg; }

static long thread_roundtrip(void) {
  pthread_t t;
  int rc = pthread_create(&t, NULL, thread_main, NULL); /* glibc tries clone3, then clone */
  if (rc) {
    errno = rc;
    return -1;
  }
  return pthread_join(t, NULL) ? -1 : 0;
}

static long fork_roundtrip(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int st;
  return pid < 0 ? -1 : waitpid(pid, &st, 0);
}

int main(int argc, char **argv) {
  pid_t other = argc > 1 ? atoi(argv[1]) : 0; /* another process of the container, to trace */
  report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1));
  report("add_key", syscall(SYS_add_key, "user", "probe", "secret", 6, KEY_SPEC_PROCESS_KEYRING));
  report("request_key", syscall(SYS_request_key, "user", "probe", NULL, 0));
  if (other > 0) {
    long rc = ptrace(PTRACE_ATTACH, other, NULL, NULL);
    report("ptrace", rc);
    if (rc == 0) ptrace(PTRACE_DETACH, other, NULL, NULL);
  }
  report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
  report("umount2", umount2("/proc", MNT_DETACH));
  report("unshare-mount", unshare(CLONE_NEWNS));
  report("unshare-user", unshare(CLONE_NEWUSER));
  int ns = open("/proc/self/ns/net", O_RDONLY);
  report("setns", setns(ns, 0));
  long child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
  if (child == 0) _exit(0);
  if (child > 0) waitpid((pid_t)child, NULL, 0);
  report("clone-newuser", child);
  report("clone3", syscall(SYS_clone3, NULL, 0));
  report("bpf", syscall(SYS_bpf, 0, NULL, 0));
  report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  report("userfaultfd", syscall(SYS_userfaultfd, 0));
  report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
  report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
  report("init_module", syscall(SYS_init_module, NULL, 0, ""));
  report("personality-exec", personality(READ_IMPLIES_EXEC));
  report("personality-query", personality(0xffffffff));
  report("socket-vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
  report("socket-inet", socket(AF_INET, SOCK_STREAM, 0));
  report("syscall-462", syscall(462, 0, 0, 0)); /* mseal: newer than the profile knows */
  report("thread", thread_roundtrip());
  report("fork", fork_roundtrip());
  fflush(stdout);
  return 0;
}
