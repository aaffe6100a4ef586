/*
 * rt-bench-launch: runs one runtime command for the bench and reports what
 * it cost. Built once per bench run with the system's cc, static, so that
 * the fork below copies a few hundred KiB, not the Go harness: a child the
 * harness starts itself (vfork/CLONE_VM + exec) carries the harness's RSS
 * into its ru_maxrss, which is how every cell once read 15024 KiB.
 *
 * Usage: rt-bench-launch CMD [ARGS...]; fd 3 gets one line:
 *   wall_ns own_hwm_kib tree_maxrss_kib utime_us stime_us nvcsw nivcsw stops
 * - own_hwm_kib: VmHWM of the command's own process (after its execve), read
 *   at its PTRACE_EVENT_EXIT stop, while its memory still exists; -1 when the
 *   kernel skipped that stop (the main thread killed by another's exit_group).
 *   Its children (rt-init, runc init, criu) are not in it.
 * - tree_maxrss_kib, utime, stime, nvcsw, nivcsw: wait4's rusage of the
 *   command: the command and the descendants it waited for (ru_maxrss is the
 *   largest single process among them, not a sum).
 * - stops: the ptrace stops the command made (exec, exit, signals), each a
 *   voluntary context switch the bench subtracts.
 * stdin, stdout and stderr are the command's; fd 3 is close-on-exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long hwm(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: rt-bench-launch CMD [ARGS...]\n");
		return 127;
	}
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
		perror("rt-bench-launch: fd 3");
		return 127;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("rt-bench-launch: fork");
		return 127;
	}
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "rt-bench-launch: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	long own = -1, stops = 0;
	int status, first = 1;
	struct rusage ru;
	for (;;) {
		pid_t w = wait4(pid, &status, __WALL, &ru);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("rt-bench-launch: wait4");
			return 127;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (!WIFSTOPPED(status))
			continue;
		stops++;
		int sig = WSTOPSIG(status), deliver = 0;
		if (first && sig == SIGTRAP) {
			/* the stop after execve */
			first = 0;
			ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
		} else if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			own = hwm(pid);
		} else if (status >> 16 != 0) {
			/* another event stop (an execve of its own): nothing to deliver */
		} else {
			deliver = sig;
		}
		ptrace(PTRACE_CONT, pid, 0, (void *)(long)deliver);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	dprintf(3, "%lld %ld %ld %ld %ld %ld %ld %ld\n", ns, own, ru.ru_maxrss,
		(long)(ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec),
		(long)(ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec),
		ru.ru_nvcsw, ru.ru_nivcsw, stops);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
