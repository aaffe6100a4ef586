/*
 * pause: the process that holds a pod sandbox's namespaces. It sleeps until
 * SIGINT or SIGTERM ends it, and reaps whatever is re-parented to it (it is
 * PID 1 when the pod shares its PID namespace). test/cri builds it with
 * `gcc -static` into the suite's pause image: no image can be pulled here.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig)
{
	(void)sig;
	_exit(0);
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, 0, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction q = {.sa_handler = quit};
	struct sigaction r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};

	sigaction(SIGINT, &q, 0);
	sigaction(SIGTERM, &q, 0);
	sigaction(SIGCHLD, &r, 0);
	for (;;)
		pause();
}
