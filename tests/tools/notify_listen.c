/*
 * notify_listen - stands in for systemd's notification socket in tests.
 *
 *   notify_listen [-t seconds | --timeout seconds] path
 *
 * Binds a unix datagram socket at path (or, for "@name", at name in the
 * abstract namespace, as NOTIFY_SOCKET allows) and prints every datagram it
 * receives as one line on stdout, flushed at once: the newlines between the
 * assignments become '|' (a trailing newline is dropped, a NUL byte shows
 * as "\0"), so a daemon's
 *
 *   sd_notifyf(0, "READY=1\nSTATUS=consuming")
 *
 * prints "READY=1|STATUS=consuming". A test runs the daemon with
 * NOTIFY_SOCKET=path and reads the lines in order: READY=1, STATUS=...,
 * RELOADING=1, STOPPING=1. Datagrams sent once the socket file exists are
 * queued, so a test starts this, waits for `[ -S path ]`, then the daemon.
 *
 * Exits 0 on SIGTERM or SIGINT, or when the timeout (if any) has passed,
 * removing the socket file; 1 on an error, 64 on bad usage. Diagnostics go
 * to stderr, datagrams only to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM	65536	/* sd_notify's are a few hundred bytes */

static int sigpipe_w = -1;	/* the handler writes here: poll wakes up */

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	ssize_t n;

	/* Async-signal-safe; a full pipe already holds a wake-up. */
	n = write(sigpipe_w, &c, 1);
	(void)n;
	errno = saved;
}

static void
usage(void)
{
	fprintf(stderr, "usage: notify_listen [-t seconds | --timeout "
	    "seconds] path\n");
	exit(64);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Fills *a for path ("@name": abstract) and returns its length for bind(),
 * or 0 when the path does not fit in sun_path.
 */
static socklen_t
make_addr(const char *path, struct sockaddr_un *a)
{
	size_t n = strlen(path);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(a->sun_path))
		return 0;
	memcpy(a->sun_path, path, n);
	if (path[0] == '@') {
		a->sun_path[0] = '\0';	/* abstract: no file, no NUL end */
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	return (socklen_t)sizeof(*a);
}

/* One datagram as one line: '\n' -> '|', NUL -> "\0", then a newline. */
static void
print_datagram(const char *buf, size_t n)
{
	size_t i;

	while (n > 0 && buf[n - 1] == '\n')
		n--;
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			putchar('|');
		else if (buf[i] == '\0')
			fputs("\\0", stdout);
		else
			putchar(buf[i]);
	}
	putchar('\n');
	fflush(stdout);
}

/*
 * Prints every datagram queued on fd without waiting. Returns 0, or -1
 * after a receive error (reported).
 */
static int
drain(int fd)
{
	static char buf[MAX_DATAGRAM];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
		print_datagram(buf, (size_t)n);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	fprintf(stderr, "notify_listen: recv: %s\n", strerror(errno));
	return -1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un addr;
	struct sigaction sa;
	struct stat st;
	struct pollfd pfd[2];
	const char *path = NULL;
	long long deadline = -1;
	socklen_t alen;
	int fd, sp[2], i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 ||
		    strcmp(argv[i], "--timeout") == 0) {
			char *end;
			double secs;

			if (++i == argc)
				usage();
			errno = 0;
			secs = strtod(argv[i], &end);
			if (errno != 0 || end == argv[i] || *end != '\0' ||
			    !(secs >= 0) || secs > 86400.0 * 365)
				usage();
			deadline = now_ms() + (long long)(secs * 1000);
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			printf("usage: notify_listen [-t seconds | --timeout "
			    "seconds] path\n");
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0')
			usage();
		else if (path == NULL)
			path = argv[i];
		else
			usage();
	}
	if (path == NULL)
		usage();
	if ((alen = make_addr(path, &addr)) == 0) {
		fprintf(stderr, "notify_listen: %s: path too long\n", path);
		return 1;
	}

	/* The self-pipe: a signal between two polls is never missed. */
	if (pipe(sp) == -1 || fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(sp[1], F_SETFL, O_NONBLOCK) == -1) {
		fprintf(stderr, "notify_listen: pipe: %s\n", strerror(errno));
		return 1;
	}
	sigpipe_w = sp[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "notify_listen: socket: %s\n", strerror(errno));
		return 1;
	}
	/*
	 * A socket left by an earlier run would make bind fail; anything
	 * else at path is not ours to remove, and bind says so.
	 */
	if (path[0] != '@' && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, alen) == -1) {
		fprintf(stderr, "notify_listen: bind %s: %s\n", path,
		    strerror(errno));
		return 1;
	}

	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sp[0];
	pfd[1].events = POLLIN;
	for (;;) {
		int timeout = -1;

		if (deadline >= 0) {
			long long left = deadline - now_ms();

			if (left <= 0)
				break;
			timeout = left > 60000 ? 60000 : (int)left;
		}
		if (poll(pfd, 2, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notify_listen: poll: %s\n",
			    strerror(errno));
			rc = 1;
			break;
		}
		if (pfd[1].revents & POLLIN)
			break;		/* SIGTERM or SIGINT */
		if ((pfd[0].revents & POLLIN) && drain(fd) == -1) {
			rc = 1;
			break;
		}
	}
	/* What the daemon sent just before the signal is still printed. */
	if (rc == 0 && drain(fd) == -1)
		rc = 1;
	close(fd);
	if (path[0] != '@')
		(void)unlink(path);
	return rc;
}
