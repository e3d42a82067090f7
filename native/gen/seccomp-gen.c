/* seccomp-gen: builds the runtime's default seccomp profile with libseccomp, re-encodes it as a
   compact classic BPF program (see "The compact program") and prints that as a C header for
   src/seccomp.c. It runs at build time because compiling the profile takes libseccomp 2 to 7 ms,
   which every container start would otherwise pay.

   The profile has the intent of Docker's default (moby/profiles seccomp/default.json): an
   allow-list answering EPERM to everything else, so keyctl, add_key, request_key, bpf,
   perf_event_open, userfaultfd, kexec_*, *_module, open_by_handle_at, mount, unshare, setns,
   namespace flags to clone, and personality beyond the usual values are refused. Rules that
   Docker grants with a capability are granted here only if the container keeps that capability
   (see SHOAL_DEFAULT_CAPS). Deliberately stricter than current moby: ptrace and its relatives
   stay refused without CAP_SYS_PTRACE (moby allows them on kernels >= 4.8). A system call newer
   than every one libseccomp knows answers ENOSYS, as on an older kernel, so a libc falls back
   (runc does the same); see enosys_prefix. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/caps.h"

#define ALWAYS (-1)
#define NAMESPACE_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

struct allow {
  const char *name;
  int cap; /* allowed only while the container holds this capability; ALWAYS for everyone */
};

static const struct allow allowed[] = {
    {"accept", ALWAYS}, {"accept4", ALWAYS}, {"access", ALWAYS}, {"adjtimex", ALWAYS}, {"alarm", ALWAYS},
    {"bind", ALWAYS}, {"brk", ALWAYS}, {"cachestat", ALWAYS}, {"capget", ALWAYS}, {"capset", ALWAYS},
    {"chdir", ALWAYS}, {"chmod", ALWAYS}, {"chown", ALWAYS}, {"chown32", ALWAYS}, {"clock_adjtime", ALWAYS},
    {"clock_adjtime64", ALWAYS}, {"clock_getres", ALWAYS}, {"clock_getres_time64", ALWAYS},
    {"clock_gettime", ALWAYS}, {"clock_gettime64", ALWAYS}, {"clock_nanosleep", ALWAYS},
    {"clock_nanosleep_time64", ALWAYS}, {"close", ALWAYS}, {"close_range", ALWAYS}, {"connect", ALWAYS},
    {"copy_file_range", ALWAYS}, {"creat", ALWAYS}, {"dup", ALWAYS}, {"dup2", ALWAYS}, {"dup3", ALWAYS},
    {"epoll_create", ALWAYS}, {"epoll_create1", ALWAYS}, {"epoll_ctl", ALWAYS}, {"epoll_ctl_old", ALWAYS},
    {"epoll_pwait", ALWAYS}, {"epoll_pwait2", ALWAYS}, {"epoll_wait", ALWAYS}, {"epoll_wait_old", ALWAYS},
    {"eventfd", ALWAYS}, {"eventfd2", ALWAYS}, {"execve", ALWAYS}, {"execveat", ALWAYS}, {"exit", ALWAYS},
    {"exit_group", ALWAYS}, {"faccessat", ALWAYS}, {"faccessat2", ALWAYS}, {"fadvise64", ALWAYS},
    {"fadvise64_64", ALWAYS}, {"fallocate", ALWAYS}, {"fanotify_mark", ALWAYS}, {"fchdir", ALWAYS},
    {"fchmod", ALWAYS}, {"fchmodat", ALWAYS}, {"fchmodat2", ALWAYS}, {"fchown", ALWAYS}, {"fchown32", ALWAYS},
    {"fchownat", ALWAYS}, {"fcntl", ALWAYS}, {"fcntl64", ALWAYS}, {"fdatasync", ALWAYS}, {"fgetxattr", ALWAYS},
    {"flistxattr", ALWAYS}, {"flock", ALWAYS}, {"fork", ALWAYS}, {"fremovexattr", ALWAYS}, {"fsetxattr", ALWAYS},
    {"fstat", ALWAYS}, {"fstat64", ALWAYS}, {"fstatat64", ALWAYS}, {"fstatfs", ALWAYS}, {"fstatfs64", ALWAYS},
    {"fsync", ALWAYS}, {"ftruncate", ALWAYS}, {"ftruncate64", ALWAYS}, {"futex", ALWAYS},
    {"futex_requeue", ALWAYS}, {"futex_time64", ALWAYS}, {"futex_wait", ALWAYS}, {"futex_waitv", ALWAYS},
    {"futex_wake", ALWAYS}, {"futimesat", ALWAYS}, {"getcpu", ALWAYS}, {"getcwd", ALWAYS}, {"getdents", ALWAYS},
    {"getdents64", ALWAYS}, {"getegid", ALWAYS}, {"getegid32", ALWAYS}, {"geteuid", ALWAYS},
    {"geteuid32", ALWAYS}, {"getgid", ALWAYS}, {"getgid32", ALWAYS}, {"getgroups", ALWAYS},
    {"getgroups32", ALWAYS}, {"getitimer", ALWAYS}, {"getpeername", ALWAYS}, {"getpgid", ALWAYS},
    {"getpgrp", ALWAYS}, {"getpid", ALWAYS}, {"getppid", ALWAYS}, {"getpriority", ALWAYS}, {"getrandom", ALWAYS},
    {"getresgid", ALWAYS}, {"getresgid32", ALWAYS}, {"getresuid", ALWAYS}, {"getresuid32", ALWAYS},
    {"getrlimit", ALWAYS}, {"get_robust_list", ALWAYS}, {"getrusage", ALWAYS}, {"getsid", ALWAYS},
    {"getsockname", ALWAYS}, {"getsockopt", ALWAYS}, {"get_thread_area", ALWAYS}, {"gettid", ALWAYS},
    {"gettimeofday", ALWAYS}, {"getuid", ALWAYS}, {"getuid32", ALWAYS}, {"getxattr", ALWAYS},
    {"inotify_add_watch", ALWAYS}, {"inotify_init", ALWAYS}, {"inotify_init1", ALWAYS},
    {"inotify_rm_watch", ALWAYS}, {"io_cancel", ALWAYS}, {"ioctl", ALWAYS}, {"io_destroy", ALWAYS},
    {"io_getevents", ALWAYS}, {"io_pgetevents", ALWAYS}, {"io_pgetevents_time64", ALWAYS},
    {"ioprio_get", ALWAYS}, {"ioprio_set", ALWAYS}, {"io_setup", ALWAYS}, {"io_submit", ALWAYS}, {"ipc", ALWAYS},
    {"kill", ALWAYS}, {"landlock_add_rule", ALWAYS}, {"landlock_create_ruleset", ALWAYS},
    {"landlock_restrict_self", ALWAYS}, {"lchown", ALWAYS}, {"lchown32", ALWAYS}, {"lgetxattr", ALWAYS},
    {"link", ALWAYS}, {"linkat", ALWAYS}, {"listen", ALWAYS}, {"listxattr", ALWAYS}, {"llistxattr", ALWAYS},
    {"_llseek", ALWAYS}, {"lremovexattr", ALWAYS}, {"lseek", ALWAYS}, {"lsetxattr", ALWAYS}, {"lstat", ALWAYS},
    {"lstat64", ALWAYS}, {"madvise", ALWAYS}, {"map_shadow_stack", ALWAYS}, {"membarrier", ALWAYS},
    {"memfd_create", ALWAYS}, {"memfd_secret", ALWAYS}, {"mincore", ALWAYS}, {"mkdir", ALWAYS},
    {"mkdirat", ALWAYS}, {"mknod", ALWAYS}, {"mknodat", ALWAYS}, {"mlock", ALWAYS}, {"mlock2", ALWAYS},
    {"mlockall", ALWAYS}, {"mmap", ALWAYS}, {"mmap2", ALWAYS}, {"mprotect", ALWAYS}, {"mq_getsetattr", ALWAYS},
    {"mq_notify", ALWAYS}, {"mq_open", ALWAYS}, {"mq_timedreceive", ALWAYS}, {"mq_timedreceive_time64", ALWAYS},
    {"mq_timedsend", ALWAYS}, {"mq_timedsend_time64", ALWAYS}, {"mq_unlink", ALWAYS}, {"mremap", ALWAYS},
    {"msgctl", ALWAYS}, {"msgget", ALWAYS}, {"msgrcv", ALWAYS}, {"msgsnd", ALWAYS}, {"msync", ALWAYS},
    {"munlock", ALWAYS}, {"munlockall", ALWAYS}, {"munmap", ALWAYS}, {"name_to_handle_at", ALWAYS},
    {"nanosleep", ALWAYS}, {"newfstatat", ALWAYS}, {"_newselect", ALWAYS}, {"open", ALWAYS}, {"openat", ALWAYS},
    {"openat2", ALWAYS}, {"pause", ALWAYS}, {"pidfd_open", ALWAYS}, {"pidfd_send_signal", ALWAYS},
    {"pipe", ALWAYS}, {"pipe2", ALWAYS}, {"pkey_alloc", ALWAYS}, {"pkey_free", ALWAYS}, {"pkey_mprotect", ALWAYS},
    {"poll", ALWAYS}, {"ppoll", ALWAYS}, {"ppoll_time64", ALWAYS}, {"prctl", ALWAYS}, {"pread64", ALWAYS},
    {"preadv", ALWAYS}, {"preadv2", ALWAYS}, {"prlimit64", ALWAYS}, {"process_mrelease", ALWAYS},
    {"pselect6", ALWAYS}, {"pselect6_time64", ALWAYS}, {"pwrite64", ALWAYS}, {"pwritev", ALWAYS},
    {"pwritev2", ALWAYS}, {"read", ALWAYS}, {"readahead", ALWAYS}, {"readlink", ALWAYS}, {"readlinkat", ALWAYS},
    {"readv", ALWAYS}, {"recv", ALWAYS}, {"recvfrom", ALWAYS}, {"recvmmsg", ALWAYS}, {"recvmmsg_time64", ALWAYS},
    {"recvmsg", ALWAYS}, {"remap_file_pages", ALWAYS}, {"removexattr", ALWAYS}, {"rename", ALWAYS},
    {"renameat", ALWAYS}, {"renameat2", ALWAYS}, {"restart_syscall", ALWAYS}, {"rmdir", ALWAYS}, {"rseq", ALWAYS},
    {"rt_sigaction", ALWAYS}, {"rt_sigpending", ALWAYS}, {"rt_sigprocmask", ALWAYS}, {"rt_sigqueueinfo", ALWAYS},
    {"rt_sigreturn", ALWAYS}, {"rt_sigsuspend", ALWAYS}, {"rt_sigtimedwait", ALWAYS},
    {"rt_sigtimedwait_time64", ALWAYS}, {"rt_tgsigqueueinfo", ALWAYS}, {"sched_getaffinity", ALWAYS},
    {"sched_getattr", ALWAYS}, {"sched_getparam", ALWAYS}, {"sched_get_priority_max", ALWAYS},
    {"sched_get_priority_min", ALWAYS}, {"sched_getscheduler", ALWAYS}, {"sched_rr_get_interval", ALWAYS},
    {"sched_rr_get_interval_time64", ALWAYS}, {"sched_setaffinity", ALWAYS}, {"sched_setattr", ALWAYS},
    {"sched_setparam", ALWAYS}, {"sched_setscheduler", ALWAYS}, {"sched_yield", ALWAYS}, {"seccomp", ALWAYS},
    {"select", ALWAYS}, {"semctl", ALWAYS}, {"semget", ALWAYS}, {"semop", ALWAYS}, {"semtimedop", ALWAYS},
    {"semtimedop_time64", ALWAYS}, {"send", ALWAYS}, {"sendfile", ALWAYS}, {"sendfile64", ALWAYS},
    {"sendmmsg", ALWAYS}, {"sendmsg", ALWAYS}, {"sendto", ALWAYS}, {"setfsgid", ALWAYS}, {"setfsgid32", ALWAYS},
    {"setfsuid", ALWAYS}, {"setfsuid32", ALWAYS}, {"setgid", ALWAYS}, {"setgid32", ALWAYS}, {"setgroups", ALWAYS},
    {"setgroups32", ALWAYS}, {"setitimer", ALWAYS}, {"setpgid", ALWAYS}, {"setpriority", ALWAYS},
    {"setregid", ALWAYS}, {"setregid32", ALWAYS}, {"setresgid", ALWAYS}, {"setresgid32", ALWAYS},
    {"setresuid", ALWAYS}, {"setresuid32", ALWAYS}, {"setreuid", ALWAYS}, {"setreuid32", ALWAYS},
    {"setrlimit", ALWAYS}, {"set_robust_list", ALWAYS}, {"setsid", ALWAYS}, {"setsockopt", ALWAYS},
    {"set_thread_area", ALWAYS}, {"set_tid_address", ALWAYS}, {"setuid", ALWAYS}, {"setuid32", ALWAYS},
    {"setxattr", ALWAYS}, {"shmat", ALWAYS}, {"shmctl", ALWAYS}, {"shmdt", ALWAYS}, {"shmget", ALWAYS},
    {"shutdown", ALWAYS}, {"sigaltstack", ALWAYS}, {"signalfd", ALWAYS}, {"signalfd4", ALWAYS},
    {"sigprocmask", ALWAYS}, {"sigreturn", ALWAYS}, {"socketcall", ALWAYS}, {"socketpair", ALWAYS},
    {"splice", ALWAYS}, {"stat", ALWAYS}, {"stat64", ALWAYS}, {"statfs", ALWAYS}, {"statfs64", ALWAYS},
    {"statx", ALWAYS}, {"symlink", ALWAYS}, {"symlinkat", ALWAYS}, {"sync", ALWAYS}, {"sync_file_range", ALWAYS},
    {"syncfs", ALWAYS}, {"sysinfo", ALWAYS}, {"tee", ALWAYS}, {"tgkill", ALWAYS}, {"time", ALWAYS},
    {"timer_create", ALWAYS}, {"timer_delete", ALWAYS}, {"timer_getoverrun", ALWAYS}, {"timer_gettime", ALWAYS},
    {"timer_gettime64", ALWAYS}, {"timer_settime", ALWAYS}, {"timer_settime64", ALWAYS},
    {"timerfd_create", ALWAYS}, {"timerfd_gettime", ALWAYS}, {"timerfd_gettime64", ALWAYS},
    {"timerfd_settime", ALWAYS}, {"timerfd_settime64", ALWAYS}, {"times", ALWAYS}, {"tkill", ALWAYS},
    {"truncate", ALWAYS}, {"truncate64", ALWAYS}, {"ugetrlimit", ALWAYS}, {"umask", ALWAYS}, {"uname", ALWAYS},
    {"unlink", ALWAYS}, {"unlinkat", ALWAYS}, {"utime", ALWAYS}, {"utimensat", ALWAYS},
    {"utimensat_time64", ALWAYS}, {"utimes", ALWAYS}, {"vfork", ALWAYS}, {"vmsplice", ALWAYS}, {"wait4", ALWAYS},
    {"waitid", ALWAYS}, {"waitpid", ALWAYS}, {"write", ALWAYS}, {"writev", ALWAYS},
    /* per architecture: libseccomp skips a name an architecture does not have */
    {"arch_prctl", ALWAYS}, {"modify_ldt", ALWAYS}, {"arm_fadvise64_64", ALWAYS}, {"arm_sync_file_range", ALWAYS},
    {"sync_file_range2", ALWAYS}, {"breakpoint", ALWAYS}, {"cacheflush", ALWAYS}, {"set_tls", ALWAYS},
    /* granted with a capability */
    {"open_by_handle_at", CAP_DAC_READ_SEARCH},
    {"bpf", CAP_SYS_ADMIN}, {"clone", CAP_SYS_ADMIN}, {"clone3", CAP_SYS_ADMIN}, {"fanotify_init", CAP_SYS_ADMIN},
    {"fsconfig", CAP_SYS_ADMIN}, {"fsmount", CAP_SYS_ADMIN}, {"fsopen", CAP_SYS_ADMIN}, {"fspick", CAP_SYS_ADMIN},
    {"lookup_dcookie", CAP_SYS_ADMIN}, {"mount", CAP_SYS_ADMIN}, {"mount_setattr", CAP_SYS_ADMIN},
    {"move_mount", CAP_SYS_ADMIN}, {"open_tree", CAP_SYS_ADMIN}, {"perf_event_open", CAP_SYS_ADMIN},
    {"quotactl", CAP_SYS_ADMIN}, {"quotactl_fd", CAP_SYS_ADMIN}, {"setdomainname", CAP_SYS_ADMIN},
    {"sethostname", CAP_SYS_ADMIN}, {"setns", CAP_SYS_ADMIN}, {"syslog", CAP_SYS_ADMIN}, {"umount", CAP_SYS_ADMIN},
    {"umount2", CAP_SYS_ADMIN}, {"unshare", CAP_SYS_ADMIN},
    {"reboot", CAP_SYS_BOOT}, {"chroot", CAP_SYS_CHROOT},
    {"delete_module", CAP_SYS_MODULE}, {"init_module", CAP_SYS_MODULE}, {"finit_module", CAP_SYS_MODULE},
    {"acct", CAP_SYS_PACCT},
    {"kcmp", CAP_SYS_PTRACE}, {"pidfd_getfd", CAP_SYS_PTRACE}, {"process_madvise", CAP_SYS_PTRACE},
    {"process_vm_readv", CAP_SYS_PTRACE}, {"process_vm_writev", CAP_SYS_PTRACE}, {"ptrace", CAP_SYS_PTRACE},
    {"iopl", CAP_SYS_RAWIO}, {"ioperm", CAP_SYS_RAWIO},
    {"settimeofday", CAP_SYS_TIME}, {"stime", CAP_SYS_TIME}, {"clock_settime", CAP_SYS_TIME},
    {"clock_settime64", CAP_SYS_TIME},
    {"vhangup", CAP_SYS_TTY_CONFIG},
    {"get_mempolicy", CAP_SYS_NICE}, {"mbind", CAP_SYS_NICE}, {"set_mempolicy", CAP_SYS_NICE},
    {"set_mempolicy_home_node", CAP_SYS_NICE},
    {"syslog", CAP_SYSLOG}, {"bpf", CAP_BPF}, {"perf_event_open", CAP_PERFMON},
};

/* personality(2) values Docker allows: PER_LINUX, UNAME26, PER_LINUX32, both, and the query. */
static const uint64_t personalities[] = {0x0, 0x0008, 0x20000, 0x20008, 0xffffffff};

static void die(const char *what, int rc) {
  fprintf(stderr, "seccomp-gen: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
  exit(1);
}

static int has(uint64_t caps, int cap) { return cap == ALWAYS || (caps >> cap) & 1; }

static void rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned nargs, const struct scmp_arg_cmp *args) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return; /* newer than this libseccomp: left to enosys_prefix */
  int rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);
  if (rc < 0) die(name, rc);
}

static void profile(scmp_filter_ctx ctx, uint64_t caps) {
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
    if (has(caps, allowed[i].cap)) rule(ctx, SCMP_ACT_ALLOW, allowed[i].name, 0, NULL);
  for (size_t i = 0; i < sizeof personalities / sizeof personalities[0]; i++) {
    struct scmp_arg_cmp eq = SCMP_A0(SCMP_CMP_EQ, personalities[i]);
    rule(ctx, SCMP_ACT_ALLOW, "personality", 1, &eq);
  }
  /* Every socket family but AF_ALG (kernel crypto) and AF_VSOCK (the hypervisor's). */
  struct scmp_arg_cmp below = SCMP_A0(SCMP_CMP_LT, AF_ALG), between = SCMP_A0(SCMP_CMP_EQ, AF_ALG + 1),
                      above = SCMP_A0(SCMP_CMP_GT, AF_VSOCK);
  rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &below);
  rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &between);
  rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &above);
  if (!has(caps, CAP_SYS_ADMIN)) {
    /* fork and threads, but no new namespaces; clone3 hides its flags in memory BPF cannot read,
       so it answers ENOSYS and libc falls back to clone. */
    struct scmp_arg_cmp no_ns = SCMP_A0(SCMP_CMP_MASKED_EQ, NAMESPACE_FLAGS, 0);
    rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &no_ns);
    rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
  }
}

/* The highest system call number libseccomp can name on arch (the x32 range aside). */
static int highest_known(uint32_t arch) {
  int top = -1;
  for (int nr = 0; nr < 4096; nr++) {
    char *name = seccomp_syscall_resolve_num_arch(arch, nr);
    if (name) top = nr;
    free(name);
  }
  return top;
}

#define STMT(code, k) ((struct sock_filter){(unsigned short)(code), 0, 0, (unsigned)(k)})
#define JUMP(code, k, jt, jf) ((struct sock_filter){(unsigned short)(code), (unsigned char)(jt), (unsigned char)(jf), (unsigned)(k)})
#define X32_SYSCALL_BIT 0x40000000u

/* Instructions run before libseccomp's program: for each architecture, a number above the
   highest it knows answers ENOSYS; everything else, other architectures too, goes on to the
   profile. Jump targets are written as markers first, then resolved. */
enum { TO_ENOSYS = 0xfe, TO_PROFILE = 0xff };

static int enosys_prefix(const uint32_t *arches, int narches, struct sock_filter *out) {
  int n = 0;
  out[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  for (int i = 0; i < narches; i++) {
    int x86_64 = arches[i] == SCMP_ARCH_X86_64;
    int rest = 2 + x86_64; /* the instructions of this block after its arch test */
    out[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, arches[i], 0, i == narches - 1 ? TO_PROFILE : rest);
    out[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    if (x86_64) out[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, TO_PROFILE, 0); /* x32: the profile's */
    out[n++] = JUMP(BPF_JMP | BPF_JGT | BPF_K, highest_known(arches[i]), TO_ENOSYS, TO_PROFILE);
  }
  out[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  int enosys = n - 1;
  for (int i = 0; i < n; i++) {
    unsigned char *targets[2] = {&out[i].jt, &out[i].jf};
    for (int t = 0; t < 2; t++) {
      if (BPF_CLASS(out[i].code) != BPF_JMP) continue;
      if (*targets[t] == TO_ENOSYS) *targets[t] = (unsigned char)(enosys - i - 1);
      else if (*targets[t] == TO_PROFILE) *targets[t] = (unsigned char)(n - i - 1);
    }
  }
  return n;
}

/* The architectures a container may call in: the native one, and its 32-bit one as Docker allows. */
static int container_arches(uint32_t *arches) {
  int n = 0;
  arches[n++] = seccomp_arch_native();
  if (arches[0] == SCMP_ARCH_X86_64) arches[n++] = SCMP_ARCH_X86;
  if (arches[0] == SCMP_ARCH_AARCH64) arches[n++] = SCMP_ARCH_ARM;
  return n;
}

/* ---- The compact program ----------------------------------------------------------------
   The kernel pays for the filter at every container start: it checks the program, translates
   it to eBPF and JIT-compiles it (cost by length), then runs it once for every system call
   number of each architecture to fill its cache of constant answers (cost by path length).
   libseccomp's program for this profile is 870 instructions and took 0.39-0.44 ms to load here.
   Most numbers get the same answer as their neighbours, so the profile is compiled here as
   ranges of numbers with one answer each, found by a balanced tree of JGE tests whose branches
   jump straight to a shared return or to a short block for a call whose answer depends on its
   first argument: 236 instructions, 0.14-0.16 ms. It uses only the instructions the kernel's
   cache understands (loads of nr and arch, JEQ/JGE/JSET/JA, RET), so allowed calls still skip the
   filter. libseccomp stays the compiler of the rules and the reference: main() runs both programs
   on every architecture, number and telling argument value, and refuses to print a program that
   answers differently. */

enum verdict { V_EPERM, V_ALLOW, V_ENOSYS, V_PERSONALITY, V_SOCKET, V_CLONE, V_COUNT };

static uint32_t answer(enum verdict v) {
  return v == V_ALLOW ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | (v == V_ENOSYS ? ENOSYS : EPERM);
}

struct range {
  uint32_t first; /* the range runs to the next range's first number */
  enum verdict v;
};

struct program {
  struct sock_filter insn[BPF_MAXINSNS];
  int n;
  /* jumps to a verdict's code, placed after an architecture's tree: (instruction, jt or jf, verdict) */
  int fixup[1024][3];
  int nfixups;
};

static int emit(struct program *p, struct sock_filter f) {
  if (p->n >= BPF_MAXINSNS) die("program longer than the kernel takes", E2BIG);
  p->insn[p->n] = f;
  return p->n++;
}

static unsigned char forward(const struct program *p, int from, int to) {
  int off = to - from - 1;
  if (off < 0 || off > 255) die("jump too long for classic BPF", E2BIG);
  return (unsigned char)off;
}

enum { JT, JF };

/* Ranges a..b as a balanced tree of tests, each sending numbers at or above its middle range's
   first number right. A branch that reaches a single range jumps straight to that range's
   verdict: the returns and argument blocks follow the tree, each once. */
static void emit_tree(struct program *p, const struct range *r, int a, int b) {
  int mid = (a + b + 1) / 2;
  int test = emit(p, JUMP(BPF_JMP | BPF_JGE | BPF_K, r[mid].first, 0, 0));
  int branches[2][3] = {{JF, a, mid - 1}, {JT, mid, b}};
  for (int i = 0; i < 2; i++) {
    int field = branches[i][0], lo = branches[i][1], hi = branches[i][2];
    if (lo == hi) {
      if (p->nfixups == 1024) die("too many jumps", E2BIG);
      int *f = p->fixup[p->nfixups++];
      f[0] = test, f[1] = field, f[2] = r[lo].v;
    } else {
      if (field == JT) p->insn[test].jt = forward(p, test, p->n);
      emit_tree(p, r, lo, hi);
    }
  }
}

#define ARG0_LO offsetof(struct seccomp_data, args[0])
#define ARG0_HI (offsetof(struct seccomp_data, args[0]) + 4)

/* Returns `v` unless the first argument's high word (64-bit architectures) is not zero: then
   `otherwise`. libseccomp compares all 64 bits on a 64-bit architecture, the low 32 on others. */
static void emit_high_word_zero(struct program *p, int is64, enum verdict otherwise) {
  if (!is64) return;
  emit(p, STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_HI));
  emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));
  emit(p, STMT(BPF_RET | BPF_K, answer(otherwise)));
}

/* The argument blocks, in the same terms as profile()'s rules. */
static void emit_argument_block(struct program *p, enum verdict v, int is64) {
  if (v == V_PERSONALITY) {
    int n = (int)(sizeof personalities / sizeof personalities[0]);
    emit_high_word_zero(p, is64, V_EPERM);
    emit(p, STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO));
    for (int i = 0; i < n; i++) emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)personalities[i], n - i, 0));
    emit(p, STMT(BPF_RET | BPF_K, answer(V_EPERM)));
    emit(p, STMT(BPF_RET | BPF_K, answer(V_ALLOW)));
  } else if (v == V_SOCKET) {
    /* every family but AF_ALG and AF_VSOCK; a value above 32 bits is above AF_VSOCK too */
    emit_high_word_zero(p, is64, V_ALLOW);
    emit(p, STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO));
    emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_ALG, 1, 0));
    emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK, 0, 1));
    emit(p, STMT(BPF_RET | BPF_K, answer(V_EPERM)));
    emit(p, STMT(BPF_RET | BPF_K, answer(V_ALLOW)));
  } else if (v == V_CLONE) {
    emit(p, STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO));
    emit(p, JUMP(BPF_JMP | BPF_JSET | BPF_K, NAMESPACE_FLAGS, 0, 1));
    emit(p, STMT(BPF_RET | BPF_K, answer(V_EPERM)));
    emit(p, STMT(BPF_RET | BPF_K, answer(V_ALLOW)));
  }
}

static int is_64bit(uint32_t arch) { return arch == SCMP_ARCH_X86_64 || arch == SCMP_ARCH_AARCH64; }

static uint32_t run_bpf(const struct sock_filter *prog, int n, const struct seccomp_data *d);

/* First arguments that tell the argument blocks' answers apart. */
static const uint64_t telling_args[] = {0, 1, 2, 8, 10, 16, 37, AF_ALG, AF_ALG + 1, AF_VSOCK, AF_VSOCK + 1, 0x20000,
                                        0x20008, 0x7fffffff, 0xffffffff, 0x100000000ull, 0x100000000ull + AF_ALG,
                                        0x100000008ull, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD,
                                        CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                                        CLONE_NEWNET, CLONE_NEWCGROUP, SIGCHLD, ~0ull};
#define NARGS (sizeof telling_args / sizeof telling_args[0])

/* The verdict whose answers match libseccomp's for number nr on arch. libseccomp stays the
   compiler of the profile's rules (it knows, say, that i386's socket calls have direct numbers
   beside socketcall); this only re-encodes its answers. */
static enum verdict verdict_of(const struct sock_filter *ref, int nref, uint32_t arch, uint32_t nr) {
  uint32_t want[NARGS];
  for (size_t j = 0; j < NARGS; j++) {
    struct seccomp_data d = {.nr = (int)nr, .arch = arch, .args = {telling_args[j], 0, 0, 0, 0, 0}};
    want[j] = run_bpf(ref, nref, &d);
  }
  static struct program block;
  for (int v = 0; v < V_COUNT; v++) {
    block.n = 0;
    if (v <= V_ENOSYS) emit(&block, STMT(BPF_RET | BPF_K, answer((enum verdict)v)));
    else emit_argument_block(&block, (enum verdict)v, is_64bit(arch));
    size_t j = 0;
    for (; j < NARGS; j++) {
      struct seccomp_data d = {.nr = (int)nr, .arch = arch, .args = {telling_args[j], 0, 0, 0, 0, 0}};
      if (run_bpf(block.insn, block.n, &d) != want[j]) break;
    }
    if (j == NARGS) return (enum verdict)v;
  }
  fprintf(stderr, "seccomp-gen: no verdict gives libseccomp's answers for arch 0x%x, nr %u\n", arch, nr);
  exit(1);
}

/* The profile's answer for each number on arch, as ranges covering every 32-bit value. */
static int arch_ranges(const struct sock_filter *ref, int nref, uint32_t arch, struct range *out, int max) {
  int top = highest_known(arch), n = 0;
  for (int nr = 0; nr <= top; nr++) {
    enum verdict v = verdict_of(ref, nref, arch, (uint32_t)nr);
    if (n == 0 || out[n - 1].v != v) {
      if (n == max) die("too many ranges", E2BIG);
      out[n++] = (struct range){(uint32_t)nr, v};
    }
  }
  /* above the highest known number: ENOSYS (see enosys_prefix); x32's numbers are refused */
  out[n++] = (struct range){(uint32_t)top + 1, V_ENOSYS};
  if (arch == SCMP_ARCH_X86_64) out[n++] = (struct range){X32_SYSCALL_BIT, V_EPERM};
  return n;
}

static void compact_program(struct program *p, const struct sock_filter *ref, int nref, const uint32_t *arches, int narches) {
  p->n = 0;
  int to_block[4];
  emit(p, STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  for (int i = 0; i < narches; i++) {
    emit(p, JUMP(BPF_JMP | BPF_JEQ | BPF_K, arches[i], 0, 1));
    to_block[i] = emit(p, STMT(BPF_JMP | BPF_JA, 0));
  }
  emit(p, STMT(BPF_RET | BPF_K, answer(V_EPERM))); /* another architecture */
  for (int i = 0; i < narches; i++) {
    p->insn[to_block[i]].k = (uint32_t)(p->n - to_block[i] - 1);
    static struct range ranges[1024];
    int nranges = arch_ranges(ref, nref, arches[i], ranges, 1000);
    p->nfixups = 0;
    emit(p, STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    emit_tree(p, ranges, 0, nranges - 1);
    for (int v = 0; v < V_COUNT; v++) {
      int used = 0, start = p->n;
      for (int f = 0; f < p->nfixups; f++) {
        if (p->fixup[f][2] != v) continue;
        struct sock_filter *test = &p->insn[p->fixup[f][0]];
        *(p->fixup[f][1] == JT ? &test->jt : &test->jf) = forward(p, p->fixup[f][0], start);
        used = 1;
      }
      if (!used) continue;
      if (v <= V_ENOSYS) emit(p, STMT(BPF_RET | BPF_K, answer((enum verdict)v)));
      else emit_argument_block(p, (enum verdict)v, is_64bit(arches[i]));
    }
  }
}

/* ---- A classic BPF interpreter, for comparing the two programs ---------------------------- */

static uint32_t run_bpf(const struct sock_filter *prog, int n, const struct seccomp_data *d) {
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
  for (int pc = 0; pc < n; pc++) {
    const struct sock_filter *f = &prog[pc];
    switch (f->code) {
    case BPF_LD | BPF_W | BPF_ABS:
      if (f->k + 4 > sizeof *d || f->k % 4) die("load outside seccomp_data", EINVAL);
      memcpy(&a, (const char *)d + f->k, 4);
      break;
    case BPF_LD | BPF_MEM: a = mem[f->k % BPF_MEMWORDS]; break;
    case BPF_LDX | BPF_MEM: x = mem[f->k % BPF_MEMWORDS]; break;
    case BPF_ST: mem[f->k % BPF_MEMWORDS] = a; break;
    case BPF_STX: mem[f->k % BPF_MEMWORDS] = x; break;
    case BPF_ALU | BPF_AND | BPF_K: a &= f->k; break;
    case BPF_ALU | BPF_OR | BPF_K: a |= f->k; break;
    case BPF_MISC | BPF_TAX: x = a; break;
    case BPF_MISC | BPF_TXA: a = x; break;
    case BPF_JMP | BPF_JA: pc += (int)f->k; break;
    case BPF_JMP | BPF_JEQ | BPF_K: pc += a == f->k ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JGT | BPF_K: pc += a > f->k ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JGE | BPF_K: pc += a >= f->k ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JSET | BPF_K: pc += (a & f->k) ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JEQ | BPF_X: pc += a == x ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JGT | BPF_X: pc += a > x ? f->jt : f->jf; break;
    case BPF_JMP | BPF_JGE | BPF_X: pc += a >= x ? f->jt : f->jf; break;
    case BPF_RET | BPF_K: return f->k;
    default: die("instruction the comparison does not know", EINVAL);
    }
  }
  die("program ran off its end", EINVAL);
  return 0;
}

/* Every number up to past the highest known, the edges of the 32-bit and x32 ranges, and first
   arguments that tell the argument blocks' answers apart, on each architecture and on others. */
static void compare(const struct sock_filter *ref, int nref, const struct program *p, const uint32_t *arches, int narches) {
  static const uint32_t edges[] = {0x3fffffff, X32_SYSCALL_BIT, X32_SYSCALL_BIT + 1, X32_SYSCALL_BIT + 59,
                                   X32_SYSCALL_BIT + 512, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
  uint32_t all_arches[6];
  int n = 0;
  for (int i = 0; i < narches; i++) all_arches[n++] = arches[i];
  all_arches[n++] = SCMP_ARCH_AARCH64 == arches[0] ? SCMP_ARCH_X86_64 : SCMP_ARCH_AARCH64;
  all_arches[n++] = 0;
  for (int ai = 0; ai < n; ai++)
    for (uint32_t i = 0; i < 2000 + sizeof edges / sizeof edges[0]; i++) {
      uint32_t nr = i < 2000 ? i : edges[i - 2000];
      for (size_t j = 0; j < NARGS; j++) {
        struct seccomp_data d = {.nr = (int)nr, .arch = all_arches[ai], .args = {telling_args[j], 0, 0, 0, 0, 0}};
        uint32_t want = run_bpf(ref, nref, &d), got = run_bpf(p->insn, p->n, &d);
        if (want != got) {
          fprintf(stderr, "seccomp-gen: the compact program answers 0x%x where libseccomp's answers 0x%x "
                          "(arch 0x%x, nr %u, arg0 0x%llx)\n", got, want, all_arches[ai], nr, (unsigned long long)telling_args[j]);
          exit(1);
        }
      }
    }
}

int main(void) {
  static const int default_caps[] = {SHOAL_DEFAULT_CAPS};
  uint64_t caps = 0;
  for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++) caps |= 1ull << default_caps[i];

  uint32_t arches[4];
  int narches = container_arches(arches);
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx) die("seccomp_init", ENOMEM);
  int rc;
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM))) < 0) die("bad-arch action", rc);
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) die("binary-tree optimization", rc);
  for (int i = 1; i < narches; i++)
    if ((rc = seccomp_arch_add(ctx, arches[i])) < 0) die("add architecture", rc);
  profile(ctx, caps);

  /* libseccomp 2.5 exports only to a file descriptor: read the program back from a temp file. */
  FILE *tmp = tmpfile();
  if (!tmp) die("tmpfile", errno);
  if ((rc = seccomp_export_bpf(ctx, fileno(tmp))) < 0) die("export BPF", rc);
  off_t size = lseek(fileno(tmp), 0, SEEK_END);
  if (size <= 0 || size % (long)sizeof(struct sock_filter)) die("exported program size", EINVAL);
  size_t nprog = (size_t)size / sizeof(struct sock_filter);
  struct sock_filter *prog = calloc(nprog + 32, sizeof *prog);
  if (!prog) die("allocate program", ENOMEM);
  int nprefix = enosys_prefix(arches, narches, prog);
  if (pread(fileno(tmp), prog + nprefix, (size_t)size, 0) != size) die("read exported program", errno);
  size_t total = nprog + (size_t)nprefix;
  if (total > BPF_MAXINSNS) die("reference program longer than the kernel takes", E2BIG);

  static struct program compact;
  compact_program(&compact, prog, (int)total, arches, narches);
  compare(prog, (int)total, &compact, arches, narches);

  printf("/* Generated by native/gen/seccomp-gen.c (libseccomp %u.%u.%u): do not edit. */\n",
         seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro);
  printf("/* %d instructions, where libseccomp's program has %zu; the same answers. */\n", compact.n, total);
  printf("static const struct sock_filter seccomp_default_filter[%d] = {\n", compact.n);
  for (int i = 0; i < compact.n; i++)
    printf("  {0x%04x, %u, %u, 0x%08x},\n", compact.insn[i].code, compact.insn[i].jt, compact.insn[i].jf, compact.insn[i].k);
  printf("};\n");
  if (fflush(stdout) != 0 || ferror(stdout)) die("write the program", errno);
  seccomp_release(ctx);
  return 0;
}
