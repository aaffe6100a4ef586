// The namespace stage of rt-init. It runs as a constructor, before the Go
// runtime starts threads, because setns(2) into mount, user and pid
// namespaces and unshare(CLONE_NEWUSER) need a single-threaded process.
//
// Protocol (framed messages on the socket whose fd is in _RT_INITFD, each
// [type:1][len:4, host order][payload]):
//   rt  -> stage 0 'N' nsmsg             what to join and create
//   stage 0 -> rt  'P' int32 pid          the container init, a sibling (CLONE_PARENT)
//   rt  -> init    'G' uint32 setid       maps are written; become uid/gid 0 if setid
//   any -> rt      'E' text               the step that failed and why
// Stage 0 exits after 'P'; the init returns from the constructor and the Go
// program continues on the same socket.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
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

static int initfd = -1;

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

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_msg(char type, const void *data, uint32_t len)
{
	char hdr[5];
	hdr[0] = type;
	memcpy(hdr + 1, &len, 4);
	if (write_all(initfd, hdr, 5) < 0)
		return -1;
	return write_all(initfd, data, len);
}

/* recv_msg reads one message of the expected type into a malloc'd buffer. */
static char *recv_msg(char want, uint32_t *len)
{
	char hdr[5];
	if (read_all(initfd, hdr, 5) < 0)
		return NULL;
	memcpy(len, hdr + 1, 4);
	if (hdr[0] != want || *len > (1u << 20)) {
		errno = EPROTO;
		return NULL;
	}
	char *buf = malloc(*len + 1);
	if (buf == NULL)
		return NULL;
	if (read_all(initfd, buf, *len) < 0) {
		free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}

/* bail reports the failed step to rt and exits; rt turns it into the
 * command's error. */
static void bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void bail(const char *fmt, ...)
{
	char msg[1024];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (saved != 0)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	send_msg('E', msg, (uint32_t)n);
	_exit(1);
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
	if (njoin > RT_MAX_JOIN) {
		errno = 0;
		bail("nsexec: %u namespaces to join, at most %d", njoin, RT_MAX_JOIN);
	}
	/* Open every path before joining any: after setns(mount) the paths
	 * would resolve in the other namespace. */
	for (uint32_t i = 0; i < njoin; i++) {
		uint32_t len;
		if (p + 8 > end)
			goto short_msg;
		memcpy(&types[i], p, 4);
		memcpy(&len, p + 4, 4);
		p += 8;
		if (p + len > end)
			goto short_msg;
		paths[i] = strndup(p, len);
		p += len;
		fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			bail("join %s namespace: open %s", nsname(types[i]), paths[i]);
	}
	/* The user namespace first: it grants the capabilities the others
	 * are checked against. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < njoin; i++) {
			if ((pass == 0) != (types[i] == CLONE_NEWUSER))
				continue;
			if (setns(fds[i], (int)types[i]) < 0)
				bail("join %s namespace %s", nsname(types[i]), paths[i]);
			close(fds[i]);
		}
	}
	return;
short_msg:
	errno = 0;
	bail("nsexec: truncated namespace message");
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
		ssize_t w;
		do
			w = write(fd, "0", 1);
		while (w < 0 && errno == EINTR);
		if (w < 0) {
			int saved = errno;
			char link[64], path[512];
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			ssize_t len = readlink(link, path, sizeof(path) - 1);
			path[len < 0 ? 0 : len] = '\0';
			errno = saved;
			bail("join cgroup: write %s", len < 0 ? link : path);
		}
		close(fd);
	}
}

static void set_time_offsets(const struct rt_nsmsg *m)
{
	char buf[128];
	if (unshare(CLONE_NEWTIME) < 0)
		bail("create time namespace");
	int n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
			 (long long)m->mono_sec, (long long)m->mono_nsec,
			 (long long)m->boot_sec, (long long)m->boot_nsec);
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bail("open /proc/self/timens_offsets");
	if (write_all(fd, buf, (size_t)n) < 0)
		bail("write timens_offsets");
	close(fd);
}

__attribute__((constructor)) static void rt_nsexec(void)
{
	const char *env = getenv("_RT_INITFD");
	if (env == NULL || *env == '\0')
		return;
	initfd = atoi(env);
	orig_nofile_ok = getrlimit(RLIMIT_NOFILE, &orig_nofile) == 0;
	/* Until it execs the program, this process holds rt's state and sits in
	 * the container's namespaces: nothing there may ptrace it or read its
	 * memory (CVE-2016-9962). execve resets this for the program. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "rt-init: set non-dumpable: %s\n", strerror(errno));
		_exit(1);
	}
	/* Executed from /proc/self/fd/N, the process would be named "N" in ps
	 * and /proc/<pid>/comm; name it for what it is. */
	prctl(PR_SET_NAME, (unsigned long)"rt-init:stage0", 0, 0, 0);
	if (fcntl(initfd, F_GETFD) < 0) {
		fprintf(stderr, "rt-init: _RT_INITFD=%s is not an open fd\n", env);
		_exit(1);
	}

	uint32_t len;
	char *buf = recv_msg('N', &len);
	if (buf == NULL)
		bail("nsexec: read namespace message");
	struct rt_nsmsg m;
	if (len < sizeof(m)) {
		errno = 0;
		bail("nsexec: namespace message too short (%u bytes)", len);
	}
	memcpy(&m, buf, sizeof(m));
	if (m.magic != RT_NS_MAGIC) {
		errno = 0;
		bail("nsexec: bad namespace message (rt and rt-init from different builds?)");
	}
	/* In rt's namespaces and with rt's credentials still: the kernel
	 * checks the move from there. */
	enter_cgroups(m.cgroupfd, m.ncgroup);
	/* Everything from cgroupfd up is not the protocol's: fds rt inherited
	 * from its caller (a shell's pipe, say) would otherwise reach the
	 * container, open until execve and reachable through /proc/1/fd in
	 * the created state. Closed, not marked close-on-exec. */
	if (m.cgroupfd > (uint32_t)initfd && syscall(SYS_close_range, m.cgroupfd, ~0U, 0) < 0)
		bail("nsexec: close inherited fds");
	join_namespaces(buf + sizeof(m), buf + len, m.njoin);
	free(buf);
	if (m.newtime)
		set_time_offsets(&m);

	/* One clone creates every new namespace, and makes the init a child of
	 * rt (CLONE_PARENT) so that rt can wait for it. */
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(m.cloneflags | CLONE_PARENT | SIGCHLD), 0, 0, 0, 0);
	if (pid < 0) {
		/* This process is in the container's cgroups already: a full
		 * pids cgroup refuses the fork (as it refuses runc's exec). */
		if (errno == EAGAIN)
			bail("fork the container process (clone flags %#x; at the container's pids limit?)", m.cloneflags);
		bail("create namespaces (clone flags %#x)", m.cloneflags);
	}
	if (pid > 0) {
		int32_t p = pid;
		send_msg('P', &p, sizeof(p));
		_exit(0);
	}

	prctl(PR_SET_NAME, (unsigned long)"rt-init", 0, 0, 0);
	/* A session of its own, as runc's init and exec'd processes have: the
	 * container is not part of the caller's session and terminal job
	 * control, and CRIU refuses to dump a process whose session leader is
	 * outside the container's pid namespace. (A terminal's SetupSlave
	 * finds it a leader already.) */
	if (setsid() < 0)
		bail("setsid");
	buf = recv_msg('G', &len);
	if (buf == NULL)
		bail("nsexec: wait for rt");
	uint32_t setid = 0;
	if (len >= 4)
		memcpy(&setid, buf, 4);
	free(buf);
	if (setid) {
		if (setresgid(0, 0, 0) < 0)
			bail("setresgid(0) in the user namespace");
		if (setresuid(0, 0, 0) < 0)
			bail("setresuid(0) in the user namespace");
	}
}
