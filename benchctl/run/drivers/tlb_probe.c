/*
 * tlb-probe: the cost of address-translation misses, measured natively.
 *
 * The same access kernels run over buffers that differ only in how they are
 * mapped: 4 KiB pages (MADV_NOHUGEPAGE), transparent huge pages (2 MiB,
 * MADV_HUGEPAGE) and, where the host has free huge pages, hugetlbfs (2 MiB,
 * 1 GiB). Every arm uses the same offsets in the same order, so the data
 * traffic is the same and only the translations differ:
 *
 *   chase     dependent loads over every cache line of the buffer, each step
 *             on a random page: a TLB miss per step on 4 KiB pages with the
 *             walk on the critical path, and a cold line in both arms when
 *             the buffer exceeds the last-level cache (ns per step).
 *   seqcopy   memcpy of the buffer, 4 KiB at a time, in address order, into a
 *             64 KiB ring that stays in cache: a streaming copy that crosses
 *             a 4 KiB translation boundary every page on 4 KiB pages and
 *             none inside a huge page (ns per 4 KiB).
 *   randcopy  memcpy of whole 4 KiB pages taken in a random order into the
 *             same ring: every page starts a new stream on every arm, so the
 *             difference is the translation alone (ns per 4 KiB).
 *
 * Repetitions alternate the order of the arms (AB, BA, AB, ...) so that a
 * drift in the machine's speed cancels out of the paired differences.
 * Where the PMU allows, user-mode counters (cycles, instructions, dTLB read
 * misses; DTLB_WALK and DTLB_WALK_PERCYC on arm64) are read around every
 * sample with perf_event_open; otherwise the output says why they are missing.
 *
 * Output: line records "kind key=value ...", first line "tlb-probe 1"; parsed
 * by benchctl/parsers/tlbprobe.py. Built by benchctl with the system cc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif

#define PAGE 4096UL
#define LINE 64UL
#define RING (64 * 1024UL)
#define MAX_ARMS 4
#define MAX_COUNTERS 5

struct arm {
    const char *name;
    char *buf;
    char *base;
    char *cursor;
    size_t map_len;
    int ok;
    char status[200];
};

struct counter {
    const char *name;
    uint32_t type;
    uint64_t config;
    int fd;
    char status[120];
};

static struct counter counters[MAX_COUNTERS];
static int ncounters;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic for a seed, identical for every arm */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long perf_open(struct perf_event_attr *attr)
{
    return syscall(SYS_perf_event_open, attr, 0, -1, -1, 0);
}

static void add_counter(const char *name, uint32_t type, uint64_t config)
{
    struct counter *c = &counters[ncounters++];
    struct perf_event_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = type;
    attr.config = config;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    c->name = name;
    c->type = type;
    c->config = config;
    c->fd = (int)perf_open(&attr);
    if (c->fd < 0)
        snprintf(c->status, sizeof(c->status), "unsupported errno=%d (%s)", errno, strerror(errno));
    else
        snprintf(c->status, sizeof(c->status), "ok");
}

static void setup_counters(int enabled)
{
    if (!enabled)
        return;
    add_counter("cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);
    add_counter("instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS);
    add_counter("dtlb_read_miss", PERF_TYPE_HW_CACHE,
                PERF_COUNT_HW_CACHE_DTLB | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
                    (PERF_COUNT_HW_CACHE_RESULT_MISS << 16));
#if defined(__aarch64__)
    add_counter("dtlb_walk", PERF_TYPE_RAW, 0x34);            /* DTLB_WALK */
    add_counter("dtlb_walk_percyc", PERF_TYPE_RAW, 0x8128);   /* DTLB_WALK_PERCYC */
#endif
}

static void counters_start(void)
{
    for (int i = 0; i < ncounters; i++)
        if (counters[i].fd >= 0) {
            ioctl(counters[i].fd, PERF_EVENT_IOC_RESET, 0);
            ioctl(counters[i].fd, PERF_EVENT_IOC_ENABLE, 0);
        }
}

static void counters_stop(char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < ncounters; i++) {
        uint64_t v;
        if (counters[i].fd < 0)
            continue;
        ioctl(counters[i].fd, PERF_EVENT_IOC_DISABLE, 0);
        if (read(counters[i].fd, &v, sizeof(v)) == (ssize_t)sizeof(v) && used < len)
            used += (size_t)snprintf(out + used, len - used, " %s=%llu", counters[i].name,
                                     (unsigned long long)v);
    }
}

/* kB of huge pages backing [addr, addr+len) and the VMA's KernelPageSize, from /proc/self/smaps */
static void smaps_info(void *addr, unsigned long *anon_huge_kb, unsigned long *kpage_kb)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    unsigned long lo, hi, a = (unsigned long)addr;

    *anon_huge_kb = 0;
    *kpage_kb = 0;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (a >= lo && a < hi);
            continue;
        }
        if (!inside)
            continue;
        sscanf(line, "AnonHugePages: %lu kB", anon_huge_kb);
        sscanf(line, "KernelPageSize: %lu kB", kpage_kb);
    }
    fclose(f);
}

static unsigned long meminfo_value(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long v = 0;
    size_t n = strlen(key);
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = strtoul(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static int thp_mode_never(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[128] = "";
    if (!f)
        return 1;
    if (!fgets(line, sizeof(line), f))
        line[0] = 0;
    fclose(f);
    return strstr(line, "[never]") != NULL;
}

static void touch(char *buf, size_t size)
{
    for (size_t off = 0; off < size; off += PAGE)
        buf[off] = (char)off;
}

static void map_arm(struct arm *a, size_t size)
{
    a->ok = 0;
    if (!strcmp(a->name, "4k") || !strcmp(a->name, "thp")) {
        size_t len = size + (2UL << 20);
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            snprintf(a->status, sizeof(a->status), "unavailable reason=\"mmap: %s\"", strerror(errno));
            return;
        }
        char *al = (char *)(((uintptr_t)p + (2UL << 20) - 1) & ~((2UL << 20) - 1));
        if (!strcmp(a->name, "thp")) {
            if (thp_mode_never()) {
                munmap(p, len);
                snprintf(a->status, sizeof(a->status),
                         "unavailable reason=\"transparent_hugepage/enabled is never\"");
                return;
            }
            if (madvise(al, size, MADV_HUGEPAGE) != 0) {
                munmap(p, len);
                snprintf(a->status, sizeof(a->status), "unavailable reason=\"madvise(MADV_HUGEPAGE): %s\"",
                         strerror(errno));
                return;
            }
        } else {
            madvise(al, size, MADV_NOHUGEPAGE);
        }
        a->buf = al;
        a->base = p;
        a->map_len = len;
        touch(al, size);
        a->ok = 1;
        return;
    }
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
    unsigned long hp_kb = 2048;
    if (!strcmp(a->name, "hugetlb1g")) {
        flags |= MAP_HUGE_1GB;
        hp_kb = 1048576;
    } else {
        flags |= MAP_HUGE_2MB;
    }
    size_t len = (size + hp_kb * 1024 - 1) / (hp_kb * 1024) * (hp_kb * 1024);
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(a->status, sizeof(a->status),
                 "unavailable reason=\"mmap(MAP_HUGETLB, %lu kB): %s; HugePages_Free=%lu (default size)\"",
                 hp_kb, strerror(errno), meminfo_value("HugePages_Free"));
        return;
    }
    a->buf = p;
    a->base = p;
    a->map_len = len;
    touch(p, size);
    a->ok = 1;
}

/* One random line per page, and one random cyclic order over the pages: the same for every arm. */
static size_t *line_offsets;
static size_t *page_order;

static void build_pattern(size_t pages)
{
    line_offsets = malloc(pages * sizeof(size_t));
    page_order = malloc(pages * sizeof(size_t));
    if (!line_offsets || !page_order) {
        fprintf(stderr, "tlb-probe: out of memory for the access pattern\n");
        exit(2);
    }
    for (size_t i = 0; i < pages; i++) {
        line_offsets[i] = (rnd() % (PAGE / LINE)) * LINE;
        page_order[i] = i;
    }
    for (size_t i = pages - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = rnd() % (i + 1);
        size_t t = page_order[i];
        page_order[i] = page_order[j];
        page_order[j] = t;
    }
}

static void link_chase(char *buf, size_t pages)
{
    /*
     * One cycle through every line of the buffer: lap k visits every page in
     * page_order at line (base + k) mod 64, so consecutive steps land on
     * random pages (a TLB miss each on 4 KiB pages) and a line comes back only
     * after the whole buffer has been walked (it is out of the caches when
     * the buffer is larger than the last-level cache).
     */
    size_t lines = PAGE / LINE;
    size_t *pos = malloc(pages * sizeof(size_t));
    if (!pos) {
        fprintf(stderr, "tlb-probe: out of memory for the access pattern\n");
        exit(2);
    }
    for (size_t i = 0; i < pages; i++)
        pos[page_order[i]] = i;
    for (size_t from = 0; from < pages; from++) { /* address order: the links are written sequentially */
        size_t i = pos[from];
        for (size_t k = 0; k < lines; k++) {
            size_t to = page_order[(i + 1) % pages];
            size_t kt = (i + 1 < pages) ? k : (k + 1) % lines;
            size_t off_f = ((line_offsets[from] / LINE + k) % lines) * LINE;
            size_t off_t = ((line_offsets[to] / LINE + kt) % lines) * LINE;
            *(char **)(buf + from * PAGE + off_f) = buf + to * PAGE + off_t;
        }
    }
    free(pos);
}

static volatile uintptr_t sink;
static char *ring;

static double run_kernel(const char *kernel, struct arm *a, size_t pages, size_t ops)
{
    double t0, t1;
    char *buf = a->buf;
    if (!strcmp(kernel, "chase")) {
        char *p = a->cursor ? a->cursor : buf + page_order[0] * PAGE + line_offsets[page_order[0]];
        t0 = now_ns();
        for (size_t i = 0; i < ops; i++)
            p = *(char **)p;
        t1 = now_ns();
        a->cursor = p; /* the next sample continues the cycle: its lines are the least recently used */
        sink = (uintptr_t)p;
    } else if (!strcmp(kernel, "seqcopy")) {
        t0 = now_ns();
        for (size_t i = 0; i < ops; i++)
            memcpy(ring + (i % (RING / PAGE)) * PAGE, buf + (i % pages) * PAGE, PAGE);
        t1 = now_ns();
        sink = (uintptr_t)ring[ops % RING];
    } else { /* randcopy */
        t0 = now_ns();
        for (size_t i = 0; i < ops; i++)
            memcpy(ring + (i % (RING / PAGE)) * PAGE, buf + page_order[i % pages] * PAGE, PAGE);
        t1 = now_ns();
        sink = (uintptr_t)ring[ops % RING];
    }
    return t1 - t0;
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    switch (*end) {
    case 'G': case 'g': v <<= 30; break;
    case 'M': case 'm': v <<= 20; break;
    case 'K': case 'k': v <<= 10; break;
    case 0: break;
    default: return 0;
    }
    return (size_t)v;
}

/* chase: a fixed number of steps (a full cycle is 64 steps per page); copies: one pass over the pages */
static size_t ops_for(const char *kernel, size_t pages, size_t chase_steps)
{
    if (!strcmp(kernel, "chase"))
        return chase_steps < pages * (PAGE / LINE) ? chase_steps : pages * (PAGE / LINE);
    return pages;
}

static void usage(void)
{
    fprintf(stderr, "usage: tlb-probe --size BYTES [--reps N] [--arms 4k,thp,hugetlb,hugetlb1g] "
                    "[--kernels chase,seqcopy,randcopy] [--chase-steps N] [--seed N] [--cpu N] [--no-perf]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t size = 0;
    int reps = 5, cpu = -1, perf = 1;
    char arms_arg[128] = "4k,thp", kernels_arg[128] = "chase,seqcopy,randcopy";
    unsigned long long seed = 1;
    size_t chase_steps = 1UL << 20;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arms") && i + 1 < argc)
            snprintf(arms_arg, sizeof(arms_arg), "%s", argv[++i]);
        else if (!strcmp(argv[i], "--kernels") && i + 1 < argc)
            snprintf(kernels_arg, sizeof(kernels_arg), "%s", argv[++i]);
        else if (!strcmp(argv[i], "--chase-steps") && i + 1 < argc)
            chase_steps = parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
            cpu = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-perf"))
            perf = 0;
        else
            usage();
    }
    if (size < (4UL << 20) || reps < 1 || chase_steps < 1)
        usage();
    size = size / (2UL << 20) * (2UL << 20);
    rng_state ^= seed * 0x2545F4914F6CDD1DULL;
    if (!rng_state)
        rng_state = 1;

    printf("tlb-probe 1\n");
    printf("config size=%zu reps=%d seed=%llu chase_steps=%zu page=%lu line=%lu ring=%lu\n", size, reps, seed, chase_steps, PAGE, LINE, RING);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0)
            printf("warning pin=\"sched_setaffinity(cpu %d): %s\"\n", cpu, strerror(errno));
        else
            printf("pin cpu=%d\n", cpu);
    }

    struct arm arms[MAX_ARMS];
    int narms = 0;
    for (char *tok = strtok(arms_arg, ","); tok && narms < MAX_ARMS; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "4k") && strcmp(tok, "thp") && strcmp(tok, "hugetlb") && strcmp(tok, "hugetlb1g"))
            usage();
        memset(&arms[narms], 0, sizeof(arms[narms]));
        arms[narms++].name = tok;
    }
    const char *kernels[3];
    int nkernels = 0;
    for (char *tok = strtok(kernels_arg, ","); tok && nkernels < 3; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "chase") && strcmp(tok, "seqcopy") && strcmp(tok, "randcopy"))
            usage();
        kernels[nkernels++] = tok;
    }

    size_t pages = size / PAGE;
    build_pattern(pages);
    ring = aligned_alloc(PAGE, RING);
    if (!ring)
        return 2;
    memset(ring, 1, RING);

    int usable[MAX_ARMS], nusable = 0;
    for (int a = 0; a < narms; a++) {
        map_arm(&arms[a], size);
        if (!arms[a].ok) {
            printf("arm name=%s status=%s\n", arms[a].name, arms[a].status);
            continue;
        }
        unsigned long huge_kb, kpage_kb;
        link_chase(arms[a].buf, pages);
        smaps_info(arms[a].buf, &huge_kb, &kpage_kb);
        printf("arm name=%s status=ok bytes=%zu anon_huge_kb=%lu kernel_page_kb=%lu\n", arms[a].name, size,
               huge_kb, kpage_kb);
        usable[nusable++] = a;
    }
    fflush(stdout);

    setup_counters(perf);
    for (int c = 0; c < ncounters; c++)
        printf("counter name=%s status=%s\n", counters[c].name, counters[c].status);
    if (!perf)
        printf("counter name=all status=disabled\n");

    /* one untimed pass of every kernel on every arm: faults, caches and predictors warm alike */
    for (int k = 0; k < nkernels; k++)
        for (int u = 0; u < nusable; u++)
            run_kernel(kernels[k], &arms[usable[u]], pages, ops_for(kernels[k], pages, chase_steps));

    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < nkernels; k++) {
            for (int j = 0; j < nusable; j++) {
                int u = (r % 2 == 0) ? j : nusable - 1 - j; /* AB, BA, AB, ...: drift cancels in pairs */
                struct arm *a = &arms[usable[u]];
                char cbuf[512];
                counters_start();
                size_t ops = ops_for(kernels[k], pages, chase_steps);
                double ns = run_kernel(kernels[k], a, pages, ops);
                counters_stop(cbuf, sizeof(cbuf));
                printf("sample rep=%d pos=%d arm=%s kernel=%s ops=%zu ns=%.0f ns_per_op=%.3f%s\n", r, j, a->name,
                       kernels[k], ops, ns, ns / (double)ops, cbuf);
            }
        }
        fflush(stdout);
    }
    for (int a = 0; a < narms; a++)
        if (arms[a].ok)
            munmap(arms[a].base, arms[a].map_len);
    printf("done\n");
    return 0;
}
