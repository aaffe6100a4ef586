/* What the C stage needs instead of libc. The stage runs from the ELF entry
 * point, before glibc's start-up code: no TLS (so no errno and no stack
 * protector), no IFUNC relocations applied (so no call into glibc at all,
 * memcpy included). Every system call goes through sys6 and returns
 * -errno on failure. Headers are used for constants and structs only. */
#ifndef RT_NOLIBC_H
#define RT_NOLIBC_H

/* gcc may turn a byte loop into a call to memcpy or memset, which would be
 * glibc's, unusable here; cgo refuses these flags on the command line. */
#pragma GCC optimize("no-tree-loop-distribute-patterns", "no-stack-protector")

#include <stdint.h>
#include <stddef.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}
#elif defined(__aarch64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#else
#error "rt-init's C stage supports x86_64 and aarch64"
#endif

#define SYS(n, ...) SYS_N(n, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define SYS_N(n, a, b, c, d, e, f, ...) sys6(SYS_##n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define SYS0(n) sys6(SYS_##n, 0, 0, 0, 0, 0, 0)

static inline size_t rt_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static inline void rt_memcpy(void *dst, const void *src, size_t n)
{
	volatile char *d = dst;
	const char *s = src;
	while (n--)
		*d++ = *s++;
}

static inline void rt_memzero(void *dst, size_t n)
{
	volatile char *d = dst;
	while (n--)
		*d++ = 0;
}

static inline int rt_streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static inline int rt_hasprefix(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}

/* buf is a bounded string builder for messages and paths. */
struct buf {
	char *p;
	size_t len, cap; /* cap includes the NUL */
};

static inline void buf_str(struct buf *b, const char *s)
{
	while (*s && b->len + 1 < b->cap)
		b->p[b->len++] = *s++;
	b->p[b->len] = '\0';
}

static inline void buf_uint(struct buf *b, unsigned long long v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0 && b->len + 1 < b->cap)
		b->p[b->len++] = tmp[--n];
	b->p[b->len] = '\0';
}

static inline void buf_hex(struct buf *b, unsigned long long v)
{
	char tmp[20];
	int n = 0;
	do
		tmp[n++] = "0123456789abcdef"[v % 16];
	while ((v /= 16) != 0);
	buf_str(b, "0x");
	while (n > 0 && b->len + 1 < b->cap)
		b->p[b->len++] = tmp[--n];
	b->p[b->len] = '\0';
}

static inline void buf_int(struct buf *b, long long v)
{
	if (v < 0) {
		buf_str(b, "-");
		v = -v;
	}
	buf_uint(b, (unsigned long long)v);
}

/* errstr is glibc's strerror text for the errors the stage can meet, so
 * that rt's messages read as before. */
const char *rt_errstr(long e);

#endif
