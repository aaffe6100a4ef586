// The namespace stage of rt-init, and its fast path. It runs from the ELF
// entry point (rtentry, set by the link flags in nsexec.go), before glibc's
// start-up code and the Go runtime: setns(2) into mount, user and pid
// namespaces and unshare(CLONE_NEWUSER) need a single-threaded process, and
// on a VM glibc's start-up alone costs ~0.7 ms (its CPU cache probing traps
// to the hypervisor on every cpuid). See nolibc.h for what that forbids.
//
// Protocol (framed messages on the socket whose fd is in _RT_INITFD, each
// [type:1][len:4, host order][payload]):
//   rt  -> stage 0 'N' nsmsg             what to join and create
//   stage 0 -> rt  'P' int32 pid          the container init, a sibling (CLONE_PARENT)
//   rt  -> init    'G' uint32 setid       maps are written; become uid/gid 0 if setid
//   rt  -> init    'X' plan               the fast path: fastinit.c runs the
//                                         plan and execs the program; no
//                                         libc or Go runtime ever starts
//   any -> rt      'E' text               the step that failed and why
// Stage 0 exits after 'P'. Unless the next message is 'X', the init jumps
// to glibc's _start and the Go program continues on the same socket (its
// 'C').
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <signal.h>
#include <errno.h>

#include "nolibc.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define RT_NS_MAGIC 0x5254534eu /* "RTNS" */
#define RT_MAX_JOIN 16

struct rt_nsmsg {
	uint32_t magic;
	uint32_t cloneflags; /* CLONE_NEW* to create (no CLONE_NEWTIME) */
	uint32_t newtime;    /* create a time namespace with the offsets below */
	uint32_t njoin;
	int64_t mono_sec, mono_nsec, boot_sec, boot_nsec;
	uint32_t cgroupfd, ncgroup; /* v1 tasks files to enter, see enter_cgroups */
	/* followed by njoin x { uint32 nstype; uint32 len; char path[len]; } */
};

int rt_initfd = -1;

/* RLIMIT_NOFILE as rt-init was started with. The Go runtime raises its soft
 * limit at start-up and restores it in what it execs; rt-init execs the
 * program with a raw execve (nothing may allocate after the container's
 * rlimits are in force), so it restores the limit itself from here. */
static struct rlimit orig_nofile;
static int orig_nofile_ok;

int rt_orig_nofile(unsigned long long *cur, unsigned long long *max)
{
	*cur = orig_nofile.rlim_cur;
	*max = orig_nofile.rlim_max;
	return orig_nofile_ok;
}

const char *rt_errstr(long e)
{
	switch (e) {
	case EPERM: return "Operation not permitted";
	case ENOENT: return "No such file or directory";
	case ESRCH: return "No such process";
	case EINTR: return "Interrupted system call";
	case EIO: return "Input/output error";
	case ENXIO: return "No such device or address";
	case E2BIG: return "Argument list too long";
	case ENOEXEC: return "Exec format error";
	case EBADF: return "Bad file descriptor";
	case EAGAIN: return "Resource temporarily unavailable";
	case ENOMEM: return "Cannot allocate memory";
	case EACCES: return "Permission denied";
	case EFAULT: return "Bad address";
	case EBUSY: return "Device or resource busy";
	case EEXIST: return "File exists";
	case EXDEV: return "Invalid cross-device link";
	case ENODEV: return "No such device";
	case ENOTDIR: return "Not a directory";
	case EISDIR: return "Is a directory";
	case EINVAL: return "Invalid argument";
	case EMFILE: return "Too many open files";
	case ETXTBSY: return "Text file busy";
	case ENOSPC: return "No space left on device";
	case EROFS: return "Read-only file system";
	case EPIPE: return "Broken pipe";
	case ENAMETOOLONG: return "File name too long";
	case ENOSYS: return "Function not implemented";
	case ENOTEMPTY: return "Directory not empty";
	case ELOOP: return "Too many levels of symbolic links";
	case EPROTO: return "Protocol error";
	case EOPNOTSUPP: return "Operation not supported";
	case EUSERS: return "Too many users";
	case EDQUOT: return "Disk quota exceeded";
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	while (len > 0) {
		long n = SYS(write, fd, c, len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t len)
{
	char *c = p;
	while (len > 0) {
		long n = SYS(read, fd, c, len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int rt_send(char type, const void *data, uint32_t len)
{
	char hdr[5];
	hdr[0] = type;
	rt_memcpy(hdr + 1, &len, 4);
	int r = write_all(rt_initfd, hdr, 5);
	return r < 0 ? r : write_all(rt_initfd, data, len);
}

/* rt_recv reads one message of type want into buf (at most cap bytes). */
long rt_recv(char want, char *buf, uint32_t cap)
{
	char hdr[5];
	uint32_t len;
	int r = read_all(rt_initfd, hdr, 5);
	if (r < 0)
		return r;
	rt_memcpy(&len, hdr + 1, 4);
	if (hdr[0] != want || len > cap)
		return -EPROTO;
	r = read_all(rt_initfd, buf, len);
	return r < 0 ? r : (long)len;
}

/* rt_msg_errno appends ": <strerror>" for a negative errno e. */
void rt_msg_errno(struct buf *b, long e)
{
	if (e >= 0)
		return;
	const char *s = rt_errstr(-e);
	buf_str(b, ": ");
	if (s) {
		buf_str(b, s);
	} else {
		buf_str(b, "errno ");
		buf_uint(b, (unsigned long long)-e);
	}
}

/* bail reports the failed step (a, b, c, d concatenated, then errno e if
 * negative) to rt and exits; rt turns it into the command's error. */
void rt_bail(const char *a, const char *b, const char *c, const char *d, long e)
{
	char msg[1024];
	struct buf m = {msg, 0, sizeof(msg)};
	msg[0] = '\0';
	buf_str(&m, a);
	if (b)
		buf_str(&m, b);
	if (c)
		buf_str(&m, c);
	if (d)
		buf_str(&m, d);
	rt_msg_errno(&m, e);
	rt_send('E', msg, (uint32_t)m.len);
	SYS(exit_group, 1);
	for (;;)
		;
}

static const char *nsname(uint32_t t)
{
	switch (t) {
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWNS: return "mount";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWNET: return "network";
	case CLONE_NEWIPC: return "ipc";
	case CLONE_NEWUTS: return "uts";
	case CLONE_NEWCGROUP: return "cgroup";
	case CLONE_NEWTIME: return "time";
	}
	return "unknown";
}

static void join_namespaces(char *p, char *end, uint32_t njoin)
{
	int fds[RT_MAX_JOIN];
	uint32_t types[RT_MAX_JOIN];
	char *paths[RT_MAX_JOIN];
	if (njoin > RT_MAX_JOIN)
		rt_bail("nsexec: too many namespaces to join", 0, 0, 0, 0);
	/* Open every path before joining any: after setns(mount) the paths
	 * would resolve in the other namespace. Each path is NUL-terminated
	 * in place: the byte after it is the next entry's type, read first. */
	for (uint32_t i = 0; i < njoin; i++) {
		uint32_t len;
		if (p + 8 > end)
			rt_bail("nsexec: truncated namespace message", 0, 0, 0, 0);
		rt_memcpy(&types[i], p, 4);
		rt_memcpy(&len, p + 4, 4);
		if (p + 8 + len > end || len == 0)
			rt_bail("nsexec: truncated namespace message", 0, 0, 0, 0);
		char path[4096];
		if (len >= sizeof(path))
			rt_bail("nsexec: namespace path too long", 0, 0, 0, 0);
		rt_memcpy(path, p + 8, len);
		path[len] = '\0';
		p += 8 + len;
		long fd = SYS(openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rt_bail("join ", nsname(types[i]), " namespace: open ", path, fd);
		fds[i] = (int)fd;
		paths[i] = p - len;
	}
	/* The user namespace first: it grants the capabilities the others
	 * are checked against. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < njoin; i++) {
			if ((pass == 0) != (types[i] == CLONE_NEWUSER))
				continue;
			long r = SYS(setns, fds[i], types[i]);
			if (r < 0) {
				char path[4096];
				uint32_t len;
				rt_memcpy(&len, paths[i] - 4, 4);
				rt_memcpy(path, paths[i], len);
				path[len] = '\0';
				rt_bail("join ", nsname(types[i]), " namespace ", path, r);
			}
			SYS(close, fds[i]);
		}
	}
}

/* enter_cgroups moves this process into the container's v1 cgroups: rt
 * opened their tasks files as fds cgroupfd.. cgroupfd+n-1. Writing "0"
 * moves the writing thread, and for a thread moving itself the kernel skips
 * the global lock (and its RCU grace period, 10-20 ms) that moving another
 * process takes; this process is still single-threaded, so the thread is the
 * whole process. Its children are born in the cgroups. The files are closed
 * at once: they carry rt's credentials and must not reach the container. */
static void enter_cgroups(uint32_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int fd = (int)(first + i);
		long w;
		do
			w = SYS(write, fd, "0", 1);
		while (w == -EINTR);
		if (w < 0) {
			char link[64], path[512];
			struct buf l = {link, 0, sizeof(link)};
			buf_str(&l, "/proc/self/fd/");
			buf_uint(&l, (unsigned)fd);
			long n = SYS(readlinkat, AT_FDCWD, link, path, sizeof(path) - 1);
			path[n < 0 ? 0 : n] = '\0';
			rt_bail("join cgroup: write ", n < 0 ? link : path, 0, 0, w);
		}
		SYS(close, fd);
	}
}

static void set_time_offsets(const struct rt_nsmsg *m)
{
	char tbuf[128];
	struct buf b = {tbuf, 0, sizeof(tbuf)};
	long r = SYS(unshare, CLONE_NEWTIME);
	if (r < 0)
		rt_bail("create time namespace", 0, 0, 0, r);
	buf_str(&b, "monotonic ");
	buf_int(&b, m->mono_sec);
	buf_str(&b, " ");
	buf_int(&b, m->mono_nsec);
	buf_str(&b, "\nboottime ");
	buf_int(&b, m->boot_sec);
	buf_str(&b, " ");
	buf_int(&b, m->boot_nsec);
	buf_str(&b, "\n");
	long fd = SYS(openat, AT_FDCWD, "/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		rt_bail("open /proc/self/timens_offsets", 0, 0, 0, fd);
	r = write_all((int)fd, tbuf, b.len);
	if (r < 0)
		rt_bail("write timens_offsets", 0, 0, 0, r);
	SYS(close, fd);
}

static long parse_fd(const char *s)
{
	long v = 0;
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static void die_early(const char *msg)
{
	SYS(write, 2, msg, rt_strlen(msg));
	SYS(exit_group, 1);
}

void rt_fast_init(void);

/* The message buffer: an nsmsg with its paths, and later the fast path's
 * plan. In .bss, so untouched pages cost nothing. */
#define RT_MSG_MAX (1u << 20)
char rt_msgbuf[RT_MSG_MAX];

/* rt_stage runs the stage with the process's initial stack (argc at sp[0]).
 * It returns only in the container's init on the Go path, and when
 * _RT_INITFD is unset (rt-init run by hand): rtentry then jumps to glibc's
 * _start with the stack as the kernel left it. */
void rt_stage(long *sp)
{
	long argc = sp[0];
	char **envp = (char **)(sp + argc + 2);
	const char *env = 0;
	for (char **e = envp; *e; e++)
		if (rt_hasprefix(*e, "_RT_INITFD="))
			env = *e + 11;
	if (env == 0 || *env == '\0')
		return;
	long fd = parse_fd(env);
	if (fd < 0)
		die_early("rt-init: _RT_INITFD is not an fd number\n");
	rt_initfd = (int)fd;
	orig_nofile_ok = SYS(prlimit64, 0, RLIMIT_NOFILE, 0, &orig_nofile) == 0;
	/* Until it execs the program, this process holds rt's state and sits in
	 * the container's namespaces: nothing there may ptrace it or read its
	 * memory (CVE-2016-9962). execve resets this for the program. */
	if (SYS(prctl, PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die_early("rt-init: set non-dumpable failed\n");
	/* Executed from /proc/self/fd/N, the process would be named "N" in ps
	 * and /proc/<pid>/comm; name it for what it is. */
	SYS(prctl, PR_SET_NAME, "rt-init:stage0", 0, 0, 0);
	if (SYS(fcntl, rt_initfd, F_GETFD) < 0)
		die_early("rt-init: _RT_INITFD is not an open fd\n");

	long len = rt_recv('N', rt_msgbuf, RT_MSG_MAX);
	if (len < 0)
		rt_bail("nsexec: read namespace message", 0, 0, 0, len);
	struct rt_nsmsg m;
	if ((size_t)len < sizeof(m))
		rt_bail("nsexec: namespace message too short", 0, 0, 0, 0);
	rt_memcpy(&m, rt_msgbuf, sizeof(m));
	if (m.magic != RT_NS_MAGIC)
		rt_bail("nsexec: bad namespace message (rt and rt-init from different builds?)", 0, 0, 0, 0);
	/* In rt's namespaces and with rt's credentials still: the kernel
	 * checks the move from there. */
	enter_cgroups(m.cgroupfd, m.ncgroup);
	/* Everything from cgroupfd up is not the protocol's: fds rt inherited
	 * from its caller (a shell's pipe, say) would otherwise reach the
	 * container, open until execve and reachable through /proc/1/fd in
	 * the created state. Closed, not marked close-on-exec. */
	if (m.cgroupfd > (uint32_t)rt_initfd) {
		long r = SYS(close_range, m.cgroupfd, ~0U, 0);
		if (r < 0)
			rt_bail("nsexec: close inherited fds", 0, 0, 0, r);
	}
	join_namespaces(rt_msgbuf + sizeof(m), rt_msgbuf + len, m.njoin);
	if (m.newtime)
		set_time_offsets(&m);

	/* One clone creates every new namespace, and makes the init a child of
	 * rt (CLONE_PARENT) so that rt can wait for it. Without CLONE_VM the
	 * child returns here on a copy of this stack. */
	/* An unprivileged rt writes the new user namespace's id maps itself
	 * (runtime/hostside.go): /proc/<pid>/uid_map of a non-dumpable process
	 * belongs to root, so the child stays dumpable (by this same user, who
	 * may ptrace it anyway) until the maps are written, as runc's does. */
	int unprivileged = (m.cloneflags & CLONE_NEWUSER) && SYS0(geteuid) != 0;
	/* Set before the clone, which copies it: rt writes the maps as soon
	 * as it has the pid, before the child could set it itself. */
	if (unprivileged && SYS(prctl, PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		rt_bail("set dumpable for the id maps", 0, 0, 0, 0);
	long pid = SYS(clone, (unsigned long)(m.cloneflags | CLONE_PARENT | SIGCHLD), 0, 0, 0, 0);
	if (pid < 0) {
		/* This process is in the container's cgroups already: a full
		 * pids cgroup refuses the fork (as it refuses runc's exec). */
		char flags[24];
		struct buf f = {flags, 0, sizeof(flags)};
		buf_hex(&f, m.cloneflags);
		if (pid == -EAGAIN)
			rt_bail("fork the container process (clone flags ", flags, "; at the container's pids limit?)", 0, pid);
		rt_bail("create namespaces (clone flags ", flags, ")", 0, pid);
	}
	if (pid > 0) {
		int32_t p = (int32_t)pid;
		rt_send('P', &p, sizeof(p));
		SYS(exit_group, 0);
	}

	SYS(prctl, PR_SET_NAME, "rt-init", 0, 0, 0);
	/* A session of its own, as runc's init and exec'd processes have: the
	 * container is not part of the caller's session and terminal job
	 * control, and CRIU refuses to dump a process whose session leader is
	 * outside the container's pid namespace. (A terminal's SetupSlave
	 * finds it a leader already.) */
	long r = SYS0(setsid);
	if (r < 0)
		rt_bail("setsid", 0, 0, 0, r);
	uint32_t setid = 0;
	len = rt_recv('G', rt_msgbuf, 64);
	if (len < 0)
		rt_bail("nsexec: wait for rt", 0, 0, 0, len);
	if (len >= 4)
		rt_memcpy(&setid, rt_msgbuf, 4);
	if (unprivileged && (r = SYS(prctl, PR_SET_DUMPABLE, 0, 0, 0, 0)) < 0)
		rt_bail("set non-dumpable", 0, 0, 0, r);
	if (setid) {
		if ((r = SYS(setresgid, 0, 0, 0)) < 0)
			rt_bail("setresgid(0) in the user namespace", 0, 0, 0, r);
		if ((r = SYS(setresuid, 0, 0, 0)) < 0)
			rt_bail("setresuid(0) in the user namespace", 0, 0, 0, r);
	}
	/* The next message decides the path: 'X' is the fast path's plan,
	 * anything else is the Go program's, left unread for it. */
	char hdr[5];
	do
		r = SYS(recvfrom, rt_initfd, hdr, 5, MSG_PEEK | MSG_WAITALL, 0, 0);
	while (r == -EINTR);
	if (r == 5 && hdr[0] == 'X')
		rt_fast_init();
}

/* rtentry is the ELF entry point. It keeps the kernel's stack pointer in a
 * callee-saved register across rt_stage and, when rt_stage returns, jumps to
 * glibc's _start as if the kernel had started it (rdx, the loader's fini
 * function, is 0 for a static binary). */
#if defined(__x86_64__)
__asm__(".text\n"
	".globl rtentry\n"
	".type rtentry,@function\n"
	"rtentry:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rbx\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call rt_stage\n"
	"	mov %rbx, %rsp\n"
	"	xor %edx, %edx\n"
	"	jmp _start\n");
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl rtentry\n"
	".type rtentry,%function\n"
	"rtentry:\n"
	"	mov x29, #0\n"
	"	mov x30, #0\n"
	"	mov x19, sp\n"
	"	mov x0, sp\n"
	"	bl rt_stage\n"
	"	mov sp, x19\n"
	"	mov x0, #0\n"
	"	b _start\n");
#endif
