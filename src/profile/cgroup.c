/* Limiting the process's CPU with a cgroup: v2 cpu.max or v1
 * cpu.cfs_quota_us. */
#define _POSIX_C_SOURCE 200809L /* kill, openat-free POSIX I/O, nanosleep */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "profile/internal.h"
#include "util/util.h"

#define LINE_MAX_LEN 4096
#define PREFIX "cleave-"

struct clv_cpu_limit {
    int version;
    char *dir;  /* the group we made */
    char *home; /* the group to return to */
};

/* ---- small file helpers --------------------------------------------------- */

/* Writes `text` to an existing (cgroup) file. 0, or errno. */
static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return errno;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int e = w < 0 ? errno : (size_t)w != len ? EIO : 0;
    if (close(fd) != 0 && !e)
        e = errno;
    return e;
}

/* Reads up to cap-1 bytes of a small file into buf (NUL-terminated).
 * 0, or errno. */
static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno;
    size_t n = fread(buf, 1, cap - 1, f);
    int e = ferror(f) ? EIO : 0;
    fclose(f);
    buf[n] = '\0';
    return e;
}

/* true when the space-separated list `list` holds the word `w`. */
static bool has_word(const char *list, const char *w, const char *seps)
{
    size_t wl = strlen(w);
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, seps);
        if (n == wl && strncmp(p, w, wl) == 0)
            return true;
        p += n;
        if (*p)
            p++;
    }
    return false;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    bool slash = la > 0 && a[la - 1] != '/' && lb > 0 && b[0] != '/';
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (slash)
        s[la++] = '/';
    /* drop a doubled slash where a ends and b starts with one */
    if (la > 0 && s[la - 1] == '/' && lb > 0 && b[0] == '/') {
        b++;
        lb--;
    }
    memcpy(s + la, b, lb + 1);
    return s;
}

/* ---- finding the hierarchy ------------------------------------------------- */

typedef struct mount_info {
    char point[1024]; /* mount point */
    char root[1024];  /* the part of the hierarchy mounted there */
    bool found;
} mount_info;

/* Scans /proc/self/mountinfo for a cgroup2 mount (v2) or a cgroup v1 mount
 * whose super options include "cpu". */
static int find_mounts(mount_info *v1, mount_info *v2, clv_error *err)
{
    char line[LINE_MAX_LEN];
    FILE *f = fopen("/proc/self/mountinfo", "r");
    memset(v1, 0, sizeof *v1);
    memset(v2, 0, sizeof *v2);
    if (!f)
        return clv_error_set(err, CLV_EIO,
                             "cannot limit the CPU: /proc/self/mountinfo: "
                             "%s (is /proc mounted?)",
                             strerror(errno));
    while (fgets(line, sizeof line, f)) {
        /* id parent maj:min root point options [optional...] - type src super */
        char root[1024], point[1024];
        if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2)
            continue;
        const char *dash = strstr(line, " - ");
        if (!dash)
            continue;
        char type[64], super[1024];
        if (sscanf(dash + 3, "%63s %*s %1023s", type, super) != 2)
            continue;
        mount_info *m = NULL;
        if (strcmp(type, "cgroup2") == 0 && !v2->found)
            m = v2;
        else if (strcmp(type, "cgroup") == 0 && !v1->found &&
                 has_word(super, "cpu", ","))
            m = v1;
        if (!m)
            continue;
        snprintf(m->point, sizeof m->point, "%s", point);
        snprintf(m->root, sizeof m->root, "%s", root);
        m->found = true;
    }
    fclose(f);
    return 0;
}

/* The process's group path in the hierarchy of `version` (v1: the line
 * whose controllers include cpu), relative to the mount's root `mroot`,
 * into buf. 0 or CLV_EIO. */
static int own_group(int version, const char *mroot, char *buf, size_t cap,
                     clv_error *err)
{
    char line[LINE_MAX_LEN];
    FILE *f = fopen("/proc/self/cgroup", "r");
    bool found = false;
    if (!f)
        return clv_error_set(err, CLV_EIO,
                             "cannot limit the CPU: /proc/self/cgroup: %s",
                             strerror(errno));
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = '\0'; /* line: the hierarchy id */
        *c2 = '\0'; /* c1 + 1: its controllers */
        const char *ctl = c1 + 1, *path = c2 + 1;
        if (version == 2 ? (strcmp(line, "0") == 0 && ctl[0] == '\0')
                         : has_word(ctl, "cpu", ",")) {
            size_t rl = strlen(mroot);
            if (strcmp(mroot, "/") != 0 && strncmp(path, mroot, rl) == 0)
                path += rl;
            snprintf(buf, cap, "%s", path[0] ? path : "/");
            found = true;
        }
    }
    fclose(f);
    if (!found)
        snprintf(buf, cap, "/");
    return 0;
}

/* ---- stale groups ------------------------------------------------------------ */

/* Removes "cleave-<pid>-<n>" groups under `parent` whose pid is dead (only
 * empty groups can be removed; errors are ignored). */
static void sweep(const char *parent)
{
    DIR *d = opendir(parent);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(de->d_name + strlen(PREFIX), &end, 10);
        if (pid <= 0 || *end != '-' || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char *p = join(parent, de->d_name);
        if (p)
            rmdir(p);
        free(p);
    }
    closedir(d);
}

/* ---- enter and leave ----------------------------------------------------------- */

static int why_mkdir(const char *dir, int e, clv_error *err)
{
    if (e == EROFS)
        return clv_error_set(err, CLV_EIO,
                             "cannot limit the CPU: cannot create cgroup %s: "
                             "the cgroup file system is mounted read-only "
                             "(a container without cgroup write access); "
                             "use --slowdown F instead",
                             dir);
    if (e == EACCES || e == EPERM)
        return clv_error_set(err, CLV_EIO,
                             "cannot limit the CPU: cannot create cgroup %s: "
                             "%s: creating a cgroup needs root (effective "
                             "uid is %ld) or a delegated cgroup tree; use "
                             "--slowdown F instead",
                             dir, strerror(e), (long)geteuid());
    return clv_error_set(err, CLV_EIO,
                         "cannot limit the CPU: cannot create cgroup %s: %s",
                         dir, strerror(e));
}

static int why_write(const char *file, const char *what, int e,
                     clv_error *err)
{
    const char *hint = "";
    if (e == EACCES || e == EPERM)
        hint = " (needs root or a delegated cgroup)";
    else if (e == EROFS)
        hint = " (the cgroup file system is read-only)";
    else if (e == ENOENT)
        hint = " (the file does not exist: no cpu controller in this group)";
    return clv_error_set(err, CLV_EIO,
                         "cannot limit the CPU: writing \"%s\" to %s: %s%s",
                         what, file, strerror(e), hint);
}

/* Writes `text` to the control file `name` of the group `dir`; on
 * failure an error saying what could not be written where, and why. */
static int write_setting(const char *dir, const char *name, const char *text,
                         clv_error *err)
{
    char *file = join(dir, name);
    int e, rc = 0;
    if (!file)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if ((e = write_file(file, text)))
        rc = why_write(file, text, e, err);
    free(file);
    return rc;
}

/* Makes the group directory under `parent`, named after the pid and the
 * clock; *dir receives its path. */
static int make_group(const char *parent, char **dir, clv_error *err)
{
    struct stat st;
    *dir = NULL;
    if (stat(parent, &st) != 0)
        return clv_error_set(err, CLV_EIO, "cannot limit the CPU: %s: %s",
                             parent, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return clv_error_set(err, CLV_EIO,
                             "cannot limit the CPU: %s is not a directory",
                             parent);
    unsigned long n = (unsigned long)(fmod(clv_profile_now() * 1e6, 1e9));
    for (int tries = 0; tries < 100; tries++, n++) {
        char name[64];
        snprintf(name, sizeof name, PREFIX "%ld-%lu", (long)getpid(), n);
        char *d = join(parent, name);
        if (!d)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        if (mkdir(d, 0755) == 0) {
            *dir = d;
            return 0;
        }
        int e = errno;
        if (e != EEXIST) {
            why_mkdir(d, e, err);
            free(d);
            return CLV_EIO;
        }
        free(d);
    }
    return clv_error_set(err, CLV_EIO,
                         "cannot limit the CPU: cannot find a free group "
                         "name under %s",
                         parent);
}

/* Writes our pid into group `dir`'s cgroup.procs. 0 or errno. */
static int join_group(const char *dir)
{
    char pid[32];
    char *f = join(dir, "cgroup.procs");
    if (!f)
        return ENOMEM;
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    int e = write_file(f, pid);
    free(f);
    return e;
}

/* rmdir with a few retries: the kernel may take a moment to let go of a
 * group the process just left. */
static int remove_group(const char *dir)
{
    for (int i = 0; i < 50; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return errno;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return EBUSY;
}

/* v2: the cpu controller must be available at the mount's root and
 * enabled for its children. */
static int prepare_v2(const char *parent, clv_error *err)
{
    char buf[1024];
    char *f = join(parent, "cgroup.controllers");
    if (!f)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    int e = read_small(f, buf, sizeof buf);
    if (e) {
        clv_error_set(err, CLV_EIO, "cannot limit the CPU: %s: %s", f,
                      strerror(e));
        free(f);
        return CLV_EIO;
    }
    buf[strcspn(buf, "\n")] = '\0';
    if (!has_word(buf, "cpu", " ")) {
        clv_error_set(err, CLV_EIO,
                      "cannot limit the CPU: cgroup v2 at %s offers the "
                      "controllers \"%s\" but not cpu",
                      parent, buf);
        free(f);
        return CLV_EIO;
    }
    free(f);
    f = join(parent, "cgroup.subtree_control");
    if (!f)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    e = read_small(f, buf, sizeof buf);
    buf[strcspn(buf, "\n")] = '\0';
    if (e || !has_word(buf, "cpu", " ")) {
        e = write_file(f, "+cpu");
        if (e) {
            if (e == EBUSY)
                clv_error_set(err, CLV_EIO,
                              "cannot limit the CPU: writing \"+cpu\" to "
                              "%s: %s (cgroup v2 allows controllers in "
                              "child groups only of a group with no "
                              "processes of its own)",
                              f, strerror(e));
            else
                why_write(f, "+cpu", e, err);
            free(f);
            return CLV_EIO;
        }
    }
    free(f);
    return 0;
}

int clv_cpu_limit_enter(double quota, const clv_cpu_limit_options *opt,
                        clv_cpu_limit **out, clv_error *err)
{
    clv_cpu_limit_options o;
    mount_info v1, v2;
    char own[2048], text[64];
    char *parent = NULL;
    clv_cpu_limit *l = NULL;
    int rc, version, e;

    *out = NULL;
    if (opt)
        o = *opt;
    else
        memset(&o, 0, sizeof o);
    if (!isfinite(quota) || quota < 0.01 || quota > 64)
        return clv_error_set(err, CLV_EINVAL,
                             "cpu quota %g is out of range: give a fraction "
                             "of one core from 0.01 to 64",
                             quota);
    if (o.version < 0 || o.version > 2)
        return clv_error_set(err, CLV_EINVAL,
                             "cgroup version %d: use 1, 2 or 0 (auto)",
                             o.version);
    if (o.period_us == 0)
        o.period_us = CLV_CPU_LIMIT_PERIOD_US;
    if (o.period_us < 1000 || o.period_us > 1000000)
        return clv_error_set(err, CLV_EINVAL,
                             "cgroup period %d us is out of range (1000 to "
                             "1000000)",
                             o.period_us);
    long period = o.period_us;
    long q = lround(quota * (double)period);
    if (q < 1000) { /* the kernel's least quota is 1 ms */
        period = (long)ceil(1000.0 / quota);
        q = lround(quota * (double)period);
    }

    l = calloc(1, sizeof *l);
    if (!l)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");

    if (o.root) {
        char *ctl = join(o.root, "cgroup.controllers");
        struct stat st;
        if (!ctl) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
        version = o.version ? o.version : stat(ctl, &st) == 0 ? 2 : 1;
        free(ctl);
        parent = clv_util_strdup(o.root);
        l->home = clv_util_strdup(o.root);
        if (!parent || !l->home) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
    } else {
        if ((rc = find_mounts(&v1, &v2, err)))
            goto fail;
        bool v2cpu = false;
        char ctl[1024] = "";
        if (v2.found && o.version != 1) {
            char *f = join(v2.point, "cgroup.controllers");
            if (!f) {
                rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
                goto fail;
            }
            if (read_small(f, ctl, sizeof ctl) == 0) {
                ctl[strcspn(ctl, "\n")] = '\0';
                v2cpu = has_word(ctl, "cpu", " ");
            }
            free(f);
        }
        if (v2cpu) {
            version = 2;
        } else if (v1.found && o.version != 2) {
            version = 1;
        } else {
            if (v2.found && o.version != 1)
                rc = clv_error_set(err, CLV_EIO,
                                   "cannot limit the CPU: cgroup v2 at %s "
                                   "offers the controllers \"%s\" but not "
                                   "cpu, and %s",
                                   v2.point, ctl,
                                   o.version == 2
                                       ? "cgroup v2 was asked for"
                                       : "no cgroup v1 cpu hierarchy is "
                                         "mounted");
            else if (v1.found || v2.found)
                rc = clv_error_set(err, CLV_EIO,
                                   "cannot limit the CPU: no cgroup v%d "
                                   "with the cpu controller is mounted "
                                   "(see /proc/self/mountinfo)",
                                   o.version);
            else
                rc = clv_error_set(err, CLV_EIO,
                                   "cannot limit the CPU: no cgroup file "
                                   "system is mounted (no cgroup2 or "
                                   "cgroup cpu entry in "
                                   "/proc/self/mountinfo); use --slowdown F "
                                   "instead");
            goto fail;
        }
        const mount_info *m = version == 2 ? &v2 : &v1;
        if ((rc = own_group(version, m->root, own, sizeof own, err)))
            goto fail;
        l->home = join(m->point, own);
        /* v2: a child of the root (the root may hold processes and still
         * have child groups with controllers); v1: a child of our own
         * group, so that a limit already on it stays in force. */
        parent = version == 2 ? clv_util_strdup(m->point)
                              : clv_util_strdup(l->home);
        if (!l->home || !parent) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
    }
    l->version = version;

    sweep(parent);
    if (version == 2 && (rc = prepare_v2(parent, err)))
        goto fail;
    if ((rc = make_group(parent, &l->dir, err)))
        goto fail;

    if (version == 2) {
        snprintf(text, sizeof text, "%ld %ld", q, period);
        if ((rc = write_setting(l->dir, "cpu.max", text, err)))
            goto fail;
    } else {
        snprintf(text, sizeof text, "%ld", period);
        if ((rc = write_setting(l->dir, "cpu.cfs_period_us", text, err)))
            goto fail;
        snprintf(text, sizeof text, "%ld", q);
        if ((rc = write_setting(l->dir, "cpu.cfs_quota_us", text, err)))
            goto fail;
    }
    if ((e = join_group(l->dir))) {
        char *procs = join(l->dir, "cgroup.procs");
        snprintf(text, sizeof text, "%ld", (long)getpid());
        why_write(procs ? procs : l->dir, text, e, err);
        free(procs);
        rc = CLV_EIO;
        goto fail;
    }
    free(parent);
    *out = l;
    return 0;

fail:
    if (l && l->dir)
        remove_group(l->dir);
    free(parent);
    if (l) {
        free(l->dir);
        free(l->home);
        free(l);
    }
    if (rc == CLV_ENOMEM && err && !err->msg[0])
        clv_error_set(err, CLV_ENOMEM, "out of memory");
    return rc;
}

const char *clv_cpu_limit_path(const clv_cpu_limit *l)
{
    return l ? l->dir : NULL;
}

int clv_cpu_limit_version(const clv_cpu_limit *l)
{
    return l ? l->version : 0;
}

int clv_cpu_limit_leave(clv_cpu_limit *l, clv_error *err)
{
    int rc = 0, e;
    if (!l)
        return 0;
    if ((e = join_group(l->home)))
        rc = clv_error_set(err, CLV_EIO,
                           "cannot move the process back to cgroup %s: %s; "
                           "it stays limited in %s",
                           l->home, strerror(e), l->dir);
    else if ((e = remove_group(l->dir)))
        rc = clv_error_set(err, CLV_EIO, "cannot remove cgroup %s: %s",
                           l->dir, strerror(e));
    free(l->dir);
    free(l->home);
    free(l);
    return rc;
}
