// The fast path of the container's init: it runs the plan rt made
// (pkg/initplan) from the ELF entry point, with no libc or Go runtime, and
// execs the container's program. rt sends a plan only for configurations
// whose every field the plan covers; anything else takes the Go path.
//
// Until the init reports ready, a failure makes it send 'F' with the reason
// and exit: rt then starts the container again on the Go path, whose error,
// if the config is at fault, is the one the user sees. After ready a failure
// goes where the Go path sends it: stderr until `rt start` opens the fifo,
// the fifo after.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/sockios.h>
#include <linux/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <netinet/in.h>
#include <errno.h>

#include "nolibc.h"

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* Op codes: pkg/initplan/plan.go has the same list. */
enum {
	OP_MOUNT = 1, OP_ROOT, OP_MOUNT_IN, OP_REMOUNT_IN, OP_PROPAGATE_IN, OP_SETATTR_IN,
	OP_DEVICE, OP_SYMLINK_IN, OP_JOINED, OP_WRITE_PROC, OP_HOSTNAME, OP_DOMAINNAME,
	OP_LO_UP, OP_KEYRING, OP_PIVOT, OP_MKDIR_ALL, OP_READONLY, OP_MASK, OP_REMOUNT,
	OP_SETHOME, OP_LOOKPATH, OP_RLIMIT, OP_CLOSE_FDS, OP_CHDIR, OP_READY, OP_WAIT_START,
	OP_PRESERVE, OP_CAPS, OP_USER, OP_CREDS, OP_EXEC,
};

#define PLAN_MAGIC 0x52544658u /* "RTFX" */
#define MAX_STR 64
#define MAX_RLIMITS 16
#define FD_FIFO 4
#define FD_PRESERVED 5
#define MOUNT_KIND_DIR 0
#define MOUNT_KIND_BIND 1
#define PROC_RULE_NONE 0 /* the destination must not resolve into /proc */
#define PROC_RULE_PROC 1 /* a procfs, which may only be /proc itself */
#define DEV_FROM_SPEC 0x100000u

extern char rt_msgbuf[];
extern int rt_initfd;
int rt_send(char type, const void *data, uint32_t len);
long rt_recv(char want, char *buf, uint32_t cap);
void rt_msg_errno(struct buf *b, long e);

struct op {
	uint32_t code, nstr;
	uint64_t a, b, c, d;
	char *s[MAX_STR];
};

static struct {
	int stage; /* 0 setting up, 1 ready, 2 started */
	int rootfd, nullfd, fifofd;
	const char *rootpath;
	size_t rootlen;
	char path[4096];  /* the program, from OP_LOOKPATH */
	char home[4096];  /* "HOME=…", from OP_SETHOME, or empty */
	struct { uint32_t res; uint64_t cur, max; } rl[MAX_RLIMITS];
	int nrl;
	uint64_t caps[4]; /* bounding, effective, permitted, inheritable */
	uint64_t ambient;
	uint64_t uid, gid, umask, nnp;
	const char *groups;
	uint32_t ngroups;
} st = {.rootfd = -1, .nullfd = -1, .fifofd = -1};

static char passwd[1 << 18];

/* fail reports a failure where the stage says (see the top) and exits. */
static void fail(const char *a, const char *b, long e) __attribute__((noreturn));
static void fail(const char *a, const char *b, long e)
{
	char msg[2048];
	struct buf m = {msg, 0, sizeof(msg)};
	msg[0] = '\0';
	buf_str(&m, a);
	if (b)
		buf_str(&m, b);
	rt_msg_errno(&m, e);
	switch (st.stage) {
	case 0:
		rt_send('F', msg, (uint32_t)m.len);
		SYS(exit_group, 1);
		break;
	case 1:
		SYS(write, 2, "rt-init: ", 9);
		buf_str(&m, "\n");
		SYS(write, 2, msg, m.len);
		break;
	default:
		SYS(write, st.fifofd, msg, m.len);
	}
	SYS(exit_group, 127);
	for (;;)
		;
}

static void fdpath(char *out, size_t cap, long fd)
{
	struct buf b = {out, 0, cap};
	buf_str(&b, "/proc/self/fd/");
	buf_uint(&b, (unsigned long long)fd);
}

static long openat2_in_root(const char *path, uint64_t flags)
{
	struct open_how how;
	rt_memzero(&how, sizeof(how));
	how.flags = flags | O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	long r;
	do
		r = SYS(openat2, st.rootfd, path, &how, sizeof(how));
	while (r == -EAGAIN || r == -EINTR);
	return r;
}

/* in_root returns an O_PATH fd of path inside the root, creating what is
 * missing when create is set: directories, and the last component as an
 * empty file when file is set. Every existing prefix is resolved with
 * RESOLVE_IN_ROOT, so that no symlink or ".." leads out; a component made
 * here is opened with O_NOFOLLOW, so that one swapped for a symlink
 * meanwhile fails. */
static long in_root(const char *path, int create, int file)
{
	long fd = openat2_in_root(path, file ? 0 : O_DIRECTORY);
	if (fd != -ENOENT || !create)
		return fd;
	char prefix[4096];
	size_t n = rt_strlen(path);
	if (n >= sizeof(prefix))
		return -ENAMETOOLONG;
	long cur = openat2_in_root("/", O_DIRECTORY);
	if (cur < 0)
		return cur;
	size_t i = 0;
	while (i < n) {
		while (path[i] == '/')
			i++;
		if (i >= n)
			break;
		size_t start = i;
		while (i < n && path[i] != '/')
			i++;
		size_t j = i;
		while (j < n && path[j] == '/')
			j++;
		int last = j >= n;
		rt_memcpy(prefix, path, i);
		prefix[i] = '\0';
		char name[256];
		if (i - start >= sizeof(name)) {
			SYS(close, cur);
			return -ENAMETOOLONG;
		}
		rt_memcpy(name, path + start, i - start);
		name[i - start] = '\0';
		long next = openat2_in_root(prefix, (last && file) ? 0 : O_DIRECTORY);
		if (next == -ENOENT) {
			long r;
			if (last && file) {
				r = SYS(openat, cur, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
				if (r >= 0)
					SYS(close, r);
			} else {
				r = SYS(mkdirat, cur, name, 0755);
			}
			if (r < 0 && r != -EEXIST) {
				SYS(close, cur);
				return r;
			}
			next = SYS(openat, cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC | ((last && file) ? 0 : O_DIRECTORY));
		}
		SYS(close, cur);
		if (next < 0)
			return next;
		cur = next;
	}
	return cur;
}

/* check_resolved refuses a destination that resolved outside the root or
 * into /proc (but a procfs onto /proc itself): a symlink in the rootfs can
 * lead there from a harmless-looking path. The Go path allows runc's list
 * of overmountable /proc files; those configs fall back to it. */
static void check_resolved(long fd, uint64_t rule, const char *dest)
{
	char link[64], full[4096];
	fdpath(link, sizeof(link), fd);
	long n = SYS(readlinkat, AT_FDCWD, link, full, sizeof(full) - 1);
	if (n < 0)
		fail("read back the destination ", dest, n);
	full[n] = '\0';
	const char *in = full + st.rootlen;
	if (!rt_hasprefix(full, st.rootpath) || (*in != '\0' && *in != '/'))
		fail("destination outside the rootfs: ", dest, 0);
	if (*in == '\0')
		in = "/";
	if (rt_streq(in, "/proc") ? rule != PROC_RULE_PROC : rt_hasprefix(in, "/proc/"))
		fail("destination in /proc: ", dest, 0);
}

static const char *str_or_null(const char *s) { return *s ? s : 0; }

static uint64_t statfs_flags(const char *target)
{
	struct statfs sf;
	uint64_t out = 0;
	if (SYS(statfs, target, &sf) < 0)
		return 0;
	if (sf.f_flags & 1) out |= MS_RDONLY;
	if (sf.f_flags & 2) out |= MS_NOSUID;
	if (sf.f_flags & 4) out |= MS_NODEV;
	if (sf.f_flags & 8) out |= MS_NOEXEC;
	if (sf.f_flags & 1024) out |= MS_NOATIME;
	if (sf.f_flags & 2048) out |= MS_NODIRATIME;
	if (sf.f_flags & 4096) out |= MS_RELATIME;
	return out;
}

/* remount_bind applies flags to a bind mount, keeping those it has that
 * the caller cannot clear. */
static long remount_bind(const char *target, uint64_t flags)
{
	flags |= statfs_flags(target);
	return SYS(mount, "", target, 0, MS_BIND | MS_REMOUNT | flags, 0);
}

static long reopen(const char *dest, char *fdp, size_t cap)
{
	long fd = openat2_in_root(dest, 0);
	if (fd < 0)
		fail("open after mount: ", dest, fd);
	fdpath(fdp, cap, fd);
	return fd;
}

static void op_mount_in(struct op *o)
{
	const char *dest = o->s[0], *src = o->s[1];
	int file = 0;
	if (o->b == MOUNT_KIND_BIND) {
		struct statx sx;
		long r = SYS(statx, AT_FDCWD, src, 0, STATX_TYPE, &sx);
		if (r < 0)
			fail("bind source ", src, r);
		file = (sx.stx_mode & S_IFMT) != S_IFDIR;
	}
	long fd = in_root(dest, 1, file);
	if (fd < 0)
		fail("mkdir in rootfs ", dest, fd);
	check_resolved(fd, o->c, dest);
	char target[64];
	fdpath(target, sizeof(target), fd);
	long r = SYS(mount, str_or_null(src), target, str_or_null(o->s[2]), o->a, str_or_null(o->s[3]));
	SYS(close, fd);
	if (r < 0)
		fail("mount on ", dest, r);
}

static void op_device(struct op *o)
{
	const char *path = o->s[0], *name = o->s[1], *dir = o->s[2];
	uint32_t type = (uint32_t)o->a & S_IFMT, perm = (uint32_t)o->a & 07777;
	uint64_t maj = o->b, min = o->c;
	uint64_t dev = ((maj & 0xfffff000ULL) << 32) | ((maj & 0xfffULL) << 8) |
		       ((min & 0xffffff00ULL) << 12) | (min & 0xffULL);
	long parent = in_root(dir, 1, 0);
	if (parent < 0)
		fail("device ", path, parent);
	long pd = SYS(openat, parent, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	SYS(close, parent);
	if (pd < 0)
		fail("device ", path, pd);
	struct statx sx;
	long r = SYS(statx, pd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_SIZE, &sx);
	if (r == 0) {
		uint32_t t = sx.stx_mode & S_IFMT;
		if (t == type && (type == S_IFIFO || (sx.stx_rdev_major == maj && sx.stx_rdev_minor == min))) {
			SYS(close, pd);
			return;
		}
		if (!(t == S_IFREG && sx.stx_size == 0) && (o->a & DEV_FROM_SPEC))
			fail("linux.devices: unexpected file at ", path, 0);
		if ((r = SYS(unlinkat, pd, name, 0)) < 0)
			fail("device replace ", path, r);
	} else if (r != -ENOENT) {
		fail("device ", path, r);
	}
	if ((r = SYS(mknodat, pd, name, type | perm, dev)) < 0)
		fail("mknod ", path, r);
	/* mknod applies the umask; a name swapped for a symlink meanwhile is
	 * refused, not followed (see chmodNoFollow in pkg/rootfs). */
	if ((r = SYS(fchmodat2, pd, name, perm, AT_SYMLINK_NOFOLLOW)) < 0)
		fail("chmod ", path, r);
	uint32_t uid = (uint32_t)o->d, gid = (uint32_t)(o->d >> 32);
	if ((uid != 0xffffffffu || gid != 0xffffffffu) &&
	    (r = SYS(fchownat, pd, name, (int)uid, (int)gid, AT_SYMLINK_NOFOLLOW)) < 0)
		fail("chown ", path, r);
	SYS(close, pd);
}

static void op_write_proc(struct op *o)
{
	char p[4096];
	struct buf b = {p, 0, sizeof(p)};
	buf_str(&b, "/proc/");
	buf_str(&b, o->s[0]);
	long fd = SYS(openat, AT_FDCWD, p, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fail("open ", p, fd);
	struct statfs sf;
	long r = SYS(fstatfs, fd, &sf);
	if (r < 0 || sf.f_type != PROC_SUPER_MAGIC)
		fail("not a procfs file: ", p, r < 0 ? r : 0);
	size_t n = rt_strlen(o->s[1]);
	if ((r = SYS(write, fd, o->s[1], n)) < 0)
		fail("write ", p, r);
	SYS(close, fd);
}

static void op_lo_up(void)
{
	struct ifreq ifr;
	rt_memzero(&ifr, sizeof(ifr));
	rt_memcpy(ifr.ifr_name, "lo", 3);
	long s = SYS(socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail("bring up lo: socket", 0, s);
	long r = SYS(ioctl, s, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = SYS(ioctl, s, SIOCSIFFLAGS, &ifr);
	}
	SYS(close, s);
	if (r < 0)
		fail("bring up lo", 0, r);
}

static void op_pivot(void)
{
	long oldroot = SYS(openat, AT_FDCWD, "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	long newroot = SYS(openat, AT_FDCWD, st.rootpath, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0 || newroot < 0)
		fail("pivot_root: open roots", 0, oldroot < 0 ? oldroot : newroot);
	long r;
	if ((r = SYS(fchdir, newroot)) < 0)
		fail("pivot_root: chdir rootfs", 0, r);
	/* pivot_root(".", ".") stacks the old root on top of the new one. */
	if ((r = SYS(pivot_root, ".", ".")) < 0)
		fail("pivot_root ", st.rootpath, r);
	if ((r = SYS(fchdir, oldroot)) < 0)
		fail("pivot_root: chdir old root", 0, r);
	if ((r = SYS(mount, "", ".", 0, MS_SLAVE | MS_REC, 0)) < 0)
		fail("pivot_root: make old root rslave", 0, r);
	if ((r = SYS(umount2, ".", MNT_DETACH)) < 0)
		fail("pivot_root: detach old root", 0, r);
	if ((r = SYS(chdir, "/")) < 0)
		fail("pivot_root: chdir /", 0, r);
	/* Handles of the host's view must not outlive the switch. */
	SYS(close, oldroot);
	SYS(close, newroot);
	SYS(close, st.rootfd);
	st.rootfd = -1;
}

static void op_mkdir_all(const char *path)
{
	char p[4096];
	size_t n = rt_strlen(path);
	if (n >= sizeof(p))
		fail("mkdir ", path, -ENAMETOOLONG);
	for (size_t i = 1; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		rt_memcpy(p, path, i);
		p[i] = '\0';
		long r = SYS(mkdirat, AT_FDCWD, p, 0755);
		if (r < 0 && r != -EEXIST)
			fail("process: create cwd ", path, r);
	}
}

static void op_mask(const char *path)
{
	struct statx sx;
	long r = SYS(statx, AT_FDCWD, path, 0, STATX_TYPE, &sx);
	if (r == -ENOENT)
		return;
	if (r < 0)
		fail("masked path ", path, r);
	if ((sx.stx_mode & S_IFMT) == S_IFDIR) {
		r = SYS(mount, "tmpfs", path, "tmpfs", MS_RDONLY, "size=0k");
	} else {
		/* CVE-2025-31133: the null device opened once, checked, and
		 * cloned from its fd, never looked up by name again. */
		if (st.nullfd < 0) {
			long fd = SYS(openat, AT_FDCWD, "/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				fail("masked paths: open /dev/null", 0, fd);
			r = SYS(statx, fd, "", AT_EMPTY_PATH, STATX_TYPE, &sx);
			if (r < 0 || (sx.stx_mode & S_IFMT) != S_IFCHR || sx.stx_rdev_major != 1 || sx.stx_rdev_minor != 3)
				fail("masked paths: /dev/null in the container is not the null device", 0, 0);
			st.nullfd = (int)fd;
		}
		long tree = SYS(open_tree, st.nullfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (tree < 0)
			fail("masked path open_tree ", path, tree);
		r = SYS(move_mount, tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
		SYS(close, tree);
		/* The target was there a moment ago: ENOENT is the source, the
		 * null device unlinked by a container sharing this /dev. Never
		 * skip the mask for it (the race tests caught that). */
		if (r == -ENOENT)
			fail("masked paths: /dev/null in the container is not the null device any more (unlinked while masking): ", path, r);
	}
	if (r < 0 && r != -ENOENT)
		fail("masked path ", path, r);
}

static void op_sethome(uint64_t uid)
{
	struct buf h = {st.home, 0, sizeof(st.home)};
	buf_str(&h, "HOME=");
	long fd = SYS(openat, AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC);
	long n = 0;
	if (fd >= 0) {
		long r;
		while (n < (long)sizeof(passwd) - 1 && (r = SYS(read, fd, passwd + n, sizeof(passwd) - 1 - n)) > 0)
			n += r;
		SYS(close, fd);
		if (n >= (long)sizeof(passwd) - 1)
			fail("/etc/passwd too large for the fast path", 0, 0);
	}
	passwd[n] = '\0';
	char want[24];
	struct buf w = {want, 0, sizeof(want)};
	buf_uint(&w, uid);
	for (char *line = passwd; *line;) {
		char *f[7] = {0};
		int nf = 0;
		char *p = line;
		f[nf++] = p;
		while (*p && *p != '\n') {
			if (*p == ':' && nf < 7)
				f[nf++] = p + 1;
			p++;
		}
		char *next = *p ? p + 1 : p;
		if (nf >= 6) {
			char *uidend = f[3] - 1, *homeend = nf > 6 ? f[6] - 1 : p;
			size_t ul = (size_t)(uidend - f[2]);
			if (ul == w.len && homeend > f[5]) {
				int eq = 1;
				for (size_t k = 0; k < ul; k++)
					eq &= f[2][k] == want[k];
				if (eq) {
					*homeend = '\0';
					buf_str(&h, f[5]);
					return;
				}
			}
		}
		line = next;
	}
	buf_str(&h, "/");
}

/* check_exec is process.checkExecutable: exists, not a directory, some x
 * bit. */
static long check_exec(const char *p)
{
	struct statx sx;
	long r = SYS(statx, AT_FDCWD, p, 0, STATX_TYPE | STATX_MODE, &sx);
	if (r < 0)
		return r;
	if ((sx.stx_mode & S_IFMT) == S_IFDIR || !(sx.stx_mode & 0111))
		return -EACCES;
	return 0;
}

static void op_lookpath(const char *name, const char *path)
{
	struct buf b = {st.path, 0, sizeof(st.path)};
	for (const char *c = name; *c; c++) {
		if (*c == '/') {
			buf_str(&b, name);
			long r = check_exec(st.path);
			if (r < 0)
				fail("exec ", name, r);
			return;
		}
	}
	const char *p = path;
	for (;;) {
		const char *e = p;
		while (*e && *e != ':')
			e++;
		b.len = 0;
		if (e == p)
			buf_str(&b, ".");
		for (const char *c = p; c < e && b.len + 1 < b.cap; c++)
			b.p[b.len++] = *c;
		b.p[b.len] = '\0';
		buf_str(&b, "/");
		buf_str(&b, name);
		if (check_exec(st.path) == 0)
			return;
		if (!*e)
			break;
		p = e + 1;
	}
	fail("exec: executable file not found in $PATH: ", name, 0);
}

static void op_rlimit(struct op *o)
{
	struct rlimit cur, up;
	long r = SYS(prlimit64, 0, o->a, 0, &cur);
	if (r < 0)
		fail("rlimit", 0, r);
	up.rlim_cur = cur.rlim_cur > o->b ? cur.rlim_cur : o->b;
	up.rlim_max = cur.rlim_max > o->c ? cur.rlim_max : o->c;
	if ((up.rlim_cur != cur.rlim_cur || up.rlim_max != cur.rlim_max) &&
	    (r = SYS(prlimit64, 0, o->a, &up, 0)) < 0)
		fail("rlimit raise", 0, r);
	if (st.nrl >= MAX_RLIMITS)
		fail("too many rlimits", 0, 0);
	st.rl[st.nrl].res = (uint32_t)o->a;
	st.rl[st.nrl].cur = o->b;
	st.rl[st.nrl].max = o->c;
	st.nrl++;
}

static void lockdown(void)
{
	for (int i = 0; i < st.nrl; i++) {
		struct rlimit want = {st.rl[i].cur, st.rl[i].max};
		long r = SYS(prlimit64, 0, st.rl[i].res, &want, 0);
		if (r < 0)
			fail("process: rlimit", 0, r);
	}
}

/* op_creds is process.Credentials without seccomp (a config with a filter
 * takes the Go path): bounding set, then groups, gid and uid with the
 * permitted set kept, then the other sets, the ambient ones, no_new_privs. */
static void op_creds(void)
{
	long r;
	if (!st.nnp)
		lockdown();
	for (long c = 0; c < 64; c++) {
		if (st.caps[0] & (1ULL << c))
			continue;
		r = SYS(prctl, PR_CAPBSET_DROP, c, 0, 0, 0);
		if (r == -EINVAL)
			break; /* past the kernel's last capability */
		if (r < 0)
			fail("process: set capability bounding set", 0, r);
	}
	if ((r = SYS(prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0)) < 0)
		fail("process: keep capabilities", 0, r);
	r = SYS(setgroups, st.ngroups, st.groups);
	if (r < 0 && !(r == -EPERM && st.ngroups == 0))
		fail("process: setgroups", 0, r);
	if ((r = SYS(setresgid, st.gid, st.gid, st.gid)) < 0)
		fail("process: setgid", 0, r);
	if ((r = SYS(setresuid, st.uid, st.uid, st.uid)) < 0)
		fail("process: setuid", 0, r);
	SYS(umask, st.umask);
	if ((r = SYS(prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0)) < 0)
		fail("process: clear keepcaps", 0, r);
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(st.caps[1] >> (32 * i));
		data[i].permitted = (uint32_t)(st.caps[2] >> (32 * i));
		data[i].inheritable = (uint32_t)(st.caps[3] >> (32 * i));
	}
	if ((r = SYS(capset, &hdr, data)) < 0)
		fail("process: set capabilities", 0, r);
	for (long c = 0; c < 64; c++)
		if (st.ambient & (1ULL << c))
			SYS(prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	if (st.nnp) {
		if ((r = SYS(prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0)
			fail("process: no_new_privs", 0, r);
		lockdown();
	}
}

static void op_exec(struct op *o)
{
	uint32_t argc = (uint32_t)o->a, envc = o->nstr - argc;
	char *argv[MAX_STR + 1], *envp[MAX_STR + 2];
	for (uint32_t i = 0; i < argc; i++)
		argv[i] = o->s[i];
	argv[argc] = 0;
	for (uint32_t i = 0; i < envc; i++)
		envp[i] = o->s[argc + i];
	if (st.home[0])
		envp[envc++] = st.home;
	envp[envc] = 0;
	long r = SYS(execve, st.path, argv, envp);
	fail("exec ", argv[0], r);
}

static void run(struct op *o)
{
	char fdp[64];
	long r = 0, fd;
	switch (o->code) {
	case OP_MOUNT:
		r = SYS(mount, str_or_null(o->s[0]), o->s[1], str_or_null(o->s[2]), o->a, str_or_null(o->s[3]));
		if (r < 0)
			fail("mount ", o->s[1], r);
		break;
	case OP_ROOT:
		fd = SYS(openat, AT_FDCWD, o->s[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			fail("open rootfs ", o->s[0], fd);
		st.rootfd = (int)fd;
		st.rootpath = o->s[0];
		st.rootlen = rt_strlen(o->s[0]);
		break;
	case OP_MOUNT_IN:
		op_mount_in(o);
		break;
	case OP_REMOUNT_IN:
	case OP_PROPAGATE_IN:
	case OP_SETATTR_IN:
		fd = reopen(o->s[0], fdp, sizeof(fdp));
		if (o->code == OP_REMOUNT_IN) {
			r = remount_bind(fdp, o->a);
		} else if (o->code == OP_PROPAGATE_IN) {
			r = SYS(mount, "", fdp, 0, o->a, 0);
		} else {
			struct mount_attr attr;
			rt_memzero(&attr, sizeof(attr));
			attr.attr_set = o->a;
			attr.attr_clr = o->b;
			r = SYS(mount_setattr, AT_FDCWD, fdp, AT_RECURSIVE, &attr, sizeof(attr));
		}
		SYS(close, fd);
		if (r < 0)
			fail("set mount options on ", o->s[0], r);
		break;
	case OP_DEVICE:
		op_device(o);
		break;
	case OP_SYMLINK_IN:
		fd = in_root(o->s[0], 1, 0);
		if (fd < 0)
			fail("symlink in ", o->s[0], fd);
		r = SYS(symlinkat, o->s[2], fd, o->s[1]);
		SYS(close, fd);
		if (r < 0 && r != -EEXIST)
			fail("symlink ", o->s[1], r);
		break;
	case OP_JOINED:
		if ((r = rt_recv('J', rt_msgbuf, 64)) < 0)
			fail("cgroups: wait for rt", 0, r);
		if (o->a && (r = SYS(unshare, CLONE_NEWCGROUP)) < 0)
			fail("create cgroup namespace", 0, r);
		break;
	case OP_WRITE_PROC:
		op_write_proc(o);
		break;
	case OP_HOSTNAME:
		if ((r = SYS(sethostname, o->s[0], rt_strlen(o->s[0]))) < 0)
			fail("sethostname ", o->s[0], r);
		break;
	case OP_DOMAINNAME:
		if ((r = SYS(setdomainname, o->s[0], rt_strlen(o->s[0]))) < 0)
			fail("setdomainname ", o->s[0], r);
		break;
	case OP_LO_UP:
		op_lo_up();
		break;
	case OP_KEYRING:
		r = SYS(keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, o->s[0]);
		if (r < 0 && r != -ENOSYS && r != -EDQUOT)
			fail("join session keyring", 0, r);
		break;
	case OP_PIVOT:
		op_pivot();
		break;
	case OP_MKDIR_ALL:
		op_mkdir_all(o->s[0]);
		break;
	case OP_READONLY:
		r = SYS(mount, o->s[0], o->s[0], 0, MS_BIND | MS_REC, 0);
		if (r == -ENOENT)
			break;
		if (r < 0 || (r = remount_bind(o->s[0], o->a)) < 0)
			fail("readonly path ", o->s[0], r);
		break;
	case OP_MASK:
		op_mask(o->s[0]);
		break;
	case OP_REMOUNT:
		if ((r = remount_bind(o->s[0], o->a)) < 0)
			fail("remount ", o->s[0], r);
		break;
	case OP_SETHOME:
		op_sethome(o->a);
		break;
	case OP_LOOKPATH:
		op_lookpath(o->s[0], o->s[1]);
		break;
	case OP_RLIMIT:
		op_rlimit(o);
		break;
	case OP_CLOSE_FDS:
		if (st.nullfd >= 0) {
			SYS(close, st.nullfd);
			st.nullfd = -1;
		}
		if ((r = SYS(close_range, o->a, ~0U, CLOSE_RANGE_CLOEXEC)) < 0)
			fail("close fds", 0, r);
		break;
	case OP_CHDIR: {
		char wd[4096];
		if ((r = SYS(chdir, o->s[0])) < 0)
			fail("chdir to cwd ", o->s[0], r);
		r = SYS(getcwd, wd, sizeof(wd));
		if (r < 0 || wd[0] != '/')
			fail("cwd is outside the container: ", o->s[0], r < 0 ? r : 0);
		break;
	}
	case OP_READY:
		if ((r = rt_send('R', "", 0)) < 0)
			fail("sync", 0, r);
		st.stage = 1;
		break;
	case OP_WAIT_START:
		/* `rt start` opens the fifo for reading; until then this
		 * blocks. The write end stays open until execve: start reads
		 * to end of file, so it knows whether the program runs. */
		fdpath(fdp, sizeof(fdp), FD_FIFO);
		fd = SYS(openat, AT_FDCWD, fdp, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			fail("open exec fifo", 0, fd);
		if ((r = SYS(write, fd, "", 1)) < 0)
			fail("write exec fifo", 0, r);
		st.fifofd = (int)fd;
		st.stage = 2;
		break;
	case OP_PRESERVE:
		for (uint64_t i = 0; i < o->a; i++)
			if ((r = SYS(dup3, FD_PRESERVED + i, 3 + i, 0)) < 0)
				fail("preserve fds", 0, r);
		if ((r = SYS(close_range, 3 + o->a, ~0U, CLOSE_RANGE_CLOEXEC)) < 0)
			fail("preserve fds", 0, r);
		break;
	case OP_CAPS:
		st.caps[0] = o->a, st.caps[1] = o->b, st.caps[2] = o->c, st.caps[3] = o->d;
		break;
	case OP_USER:
		st.uid = o->a, st.gid = o->b, st.umask = o->c & 0777, st.nnp = o->d & 1;
		st.groups = o->s[0];
		st.ngroups = (uint32_t)(o->d >> 32);
		break;
	case OP_CREDS:
		st.ambient = o->a;
		op_creds();
		break;
	case OP_EXEC:
		op_exec(o);
		break;
	default:
		fail("fast path: unknown op", 0, 0);
	}
}

void rt_fast_init(void)
{
	long len = rt_recv('X', rt_msgbuf, 1u << 20);
	if (len < 8)
		fail("fast path: read plan", 0, len < 0 ? len : -EPROTO);
	char *p = rt_msgbuf, *end = rt_msgbuf + len;
	uint32_t magic, nops;
	rt_memcpy(&magic, p, 4);
	rt_memcpy(&nops, p + 4, 4);
	if (magic != PLAN_MAGIC)
		fail("fast path: bad plan (rt and rt-init from different builds?)", 0, 0);
	p += 8;
	struct op o;
	for (uint32_t i = 0; i < nops; i++) {
		if (p + 40 > end)
			fail("fast path: truncated plan", 0, 0);
		rt_memcpy(&o.code, p, 4);
		rt_memcpy(&o.nstr, p + 4, 4);
		rt_memcpy(&o.a, p + 8, 8);
		rt_memcpy(&o.b, p + 16, 8);
		rt_memcpy(&o.c, p + 24, 8);
		rt_memcpy(&o.d, p + 32, 8);
		p += 40;
		if (o.nstr > MAX_STR)
			fail("fast path: too many strings in an op", 0, 0);
		for (uint32_t k = 0; k < o.nstr; k++) {
			uint32_t l;
			if (p + 4 > end)
				fail("fast path: truncated plan", 0, 0);
			rt_memcpy(&l, p, 4);
			p += 4;
			if (l == 0 || p + l > end || p[l - 1] != '\0')
				fail("fast path: bad string in plan", 0, 0);
			o.s[k] = p;
			p += l;
		}
		run(&o);
	}
	fail("fast path: plan ended without exec", 0, 0);
}
