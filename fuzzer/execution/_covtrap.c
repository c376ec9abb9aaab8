/* _covtrap: breakpoint ("coverage-guided tracing") coverage of a loaded library's code, libc only.
 *
 * plant() moves the code pages that hold the sites into a memfd mapped read+exec at the original
 * address (MAP_SHARED|MAP_FIXED), keeps a second writable MAP_SHARED view of the same memfd, and
 * writes 0xCC at every site.  The SIGTRAP handler restores a site's original byte through the
 * writable view (so the block is uncovered for every process sharing the memfd: the parent and all
 * forked children), rewinds the PC and appends the site to a MAP_SHARED hit log.  Any SIGTRAP that
 * is not at one of our sites goes to the handler installed before ours.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

typedef struct {
    uint64_t count;    /* entries claimed so far (atomic) */
    uint64_t capacity; /* room for every site: each is logged at most once */
    uint32_t entries[];
} hitlog_t;

static struct {
    int planted;
    uintptr_t bias;            /* runtime address = bias + site offset */
    uintptr_t lo, hi;          /* remapped code range (runtime addresses) */
    uint8_t *wview;            /* writable MAP_SHARED view of [lo, hi) */
    const uint32_t *sites;     /* sorted site offsets */
    const uint8_t *orig;       /* original byte of each site */
    size_t nsites;
    hitlog_t *log;
    size_t log_bytes;
    struct sigaction prev;
} g;

static long find_site(uint32_t off) {
    size_t a = 0, b = g.nsites;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (g.sites[m] < off) a = m + 1;
        else b = m;
    }
    return (a < g.nsites && g.sites[a] == off) ? (long)a : -1;
}

/* Restore site k; true if this call is the one that uncovered it. */
static int uncover(long k) {
    uint8_t *p = g.wview + (g.bias + g.sites[k] - g.lo);
    uint8_t expected = 0xCC;
    return __atomic_compare_exchange_n(p, &expected, g.orig[k], 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static void chain(int sig, siginfo_t *si, void *uc) {
    if (g.prev.sa_flags & SA_SIGINFO) {
        if (g.prev.sa_sigaction) g.prev.sa_sigaction(sig, si, uc);
        return;
    }
    if (g.prev.sa_handler == SIG_IGN) return;
    if (g.prev.sa_handler == SIG_DFL) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        raise(sig); /* blocked until we return, then the default action (core dump) */
        return;
    }
    g.prev.sa_handler(sig);
}

static void on_trap(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = (ucontext_t *)ucv;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP] - 1;
    /* int3 reports SI_KERNEL on x86-64 Linux; anything sent by kill() or a single step is not ours */
    int breakpoint = si->si_code == SI_KERNEL || si->si_code == TRAP_BRKPT;
    if (g.planted && breakpoint && pc >= g.lo && pc < g.hi) {
        long k = find_site((uint32_t)(pc - g.bias));
        if (k >= 0) {
            if (uncover(k)) {
                uint64_t i = __atomic_fetch_add(&g.log->count, 1, __ATOMIC_SEQ_CST);
                if (i < g.log->capacity) __atomic_store_n(&g.log->entries[i], g.sites[k], __ATOMIC_SEQ_CST);
            }
            /* else another thread or process restored it first: just run the original byte */
            uc->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
            return;
        }
    }
    chain(sig, si, ucv);
}

static int get_sites(PyObject *obj, Py_buffer *view) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char *fmt = view->format ? view->format + strlen(view->format) - 1 : "B";
    if (view->itemsize != 4 || view->len % 4 || (*fmt != 'I' && *fmt != 'L')) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "site offsets must be a contiguous uint32 buffer");
        return -1;
    }
    return 0;
}

static void *anon(size_t n, int flags) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static PyObject *oserr(const char *what) {
    return PyErr_Format(PyExc_OSError, "%s: %s", what, strerror(errno));
}

PyDoc_STRVAR(plant_doc, "plant(bias, sites) -> int: remap the code holding sorted uint32 `sites` "
                        "(offsets from `bias`) into a memfd, install the SIGTRAP handler, arm the sites.");

static PyObject *py_plant(PyObject *self, PyObject *args) {
    unsigned long long bias;
    PyObject *obj;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "KO", &bias, &obj)) return NULL;
    if (g.planted) return PyErr_Format(PyExc_RuntimeError, "coverage is already planted in this process");
    if (get_sites(obj, &view) < 0) return NULL;
    size_t n = (size_t)view.len / 4;
    const uint32_t *in = (const uint32_t *)view.buf;
    int ok = n > 0;
    for (size_t i = 1; ok && i < n; i++) ok = in[i] > in[i - 1];
    if (!ok) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "site offsets must be non-empty, sorted and distinct");
    }
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = (bias + in[0]) & ~(uintptr_t)(page - 1);
    uintptr_t hi = (bias + in[n - 1] + 1 + page - 1) & ~(uintptr_t)(page - 1);
    size_t len = hi - lo, log_bytes = sizeof(hitlog_t) + n * 4, m = 0;
    const char *what = "mmap";
    int fd = -1;
    uint8_t *wview = MAP_FAILED;
    uint32_t *sites = anon(n * 4, MAP_PRIVATE);
    uint8_t *orig = anon(n, MAP_PRIVATE);
    hitlog_t *log = anon(log_bytes, MAP_SHARED);
    if (!sites || !orig || !log) goto fail;
    what = "memfd_create";
    fd = memfd_create("tirfuzz-covtrap", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)len) < 0) goto fail;
    what = "copying code into the memfd";
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, (const char *)lo + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) goto fail;
        done += (size_t)w;
    }
    what = "mmap writable view";
    wview = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (wview == MAP_FAILED) goto fail;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = wview[bias + in[i] - lo];
        if (b == 0xCC) continue; /* a real int3: never arm it */
        sites[m] = in[i];
        orig[m++] = b;
    }
    what = "mmap code over the library";
    if (mmap((void *)lo, len, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) goto fail;
    close(fd);
    PyBuffer_Release(&view);
    log->capacity = m;
    g.bias = bias;
    g.lo = lo;
    g.hi = hi;
    g.wview = wview;
    g.sites = sites;
    g.orig = orig;
    g.nsites = m;
    g.log = log;
    g.log_bytes = log_bytes;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTRAP, &sa, &g.prev) < 0) return oserr("sigaction");
    g.planted = 1;
    for (size_t i = 0; i < m; i++) wview[bias + sites[i] - lo] = 0xCC;
    return PyLong_FromSize_t(m);

fail:;
    PyObject *err = oserr(what);
    if (fd >= 0) close(fd);
    if (wview != MAP_FAILED) munmap(wview, len);
    if (sites) munmap(sites, n * 4);
    if (orig) munmap(orig, n);
    if (log) munmap(log, log_bytes);
    PyBuffer_Release(&view);
    return err;
}

PyDoc_STRVAR(restore_doc, "restore(sites) -> int: uncover these site offsets without logging them; "
                          "returns how many were still armed.");

static PyObject *py_restore(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (!g.planted) return PyErr_Format(PyExc_RuntimeError, "coverage is not planted");
    if (get_sites(arg, &view) < 0) return NULL;
    const uint32_t *in = (const uint32_t *)view.buf;
    size_t n = (size_t)view.len / 4, done = 0;
    for (size_t i = 0; i < n; i++) {
        long k = find_site(in[i]);
        if (k >= 0 && uncover(k)) done++;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSize_t(done);
}

PyDoc_STRVAR(privatize_doc, "privatize() -> int: in this process only, replace the shared code with a private "
                            "copy holding every site's original byte: nothing it runs from now on is logged or "
                            "uncovered for the other processes. Returns the sites disarmed here (0 if not planted).");

static PyObject *py_privatize(PyObject *self, PyObject *unused) {
    if (!g.planted) return PyLong_FromLong(0);
    size_t len = g.hi - g.lo;
    uint8_t *copy = anon(len, MAP_PRIVATE);
    if (!copy) return oserr("mmap private code");
    memcpy(copy, g.wview, len);
    for (size_t i = 0; i < g.nsites; i++) copy[g.bias + g.sites[i] - g.lo] = g.orig[i];
    if (mprotect(copy, len, PROT_READ | PROT_EXEC) < 0) {
        munmap(copy, len);
        return oserr("mprotect private code");
    }
    /* One call swaps the mapping: no moment without code at [lo, hi) (this process runs one thread). */
    if (mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)g.lo) == MAP_FAILED) {
        munmap(copy, len);
        return oserr("mremap private code");
    }
    munmap(g.wview, len);
    g.planted = 0; /* a SIGTRAP from now on is not ours; count() reads 0 here */
    return PyLong_FromSize_t(g.nsites);
}

PyDoc_STRVAR(count_doc, "count() -> int: entries in the shared hit log.");

static PyObject *py_count(PyObject *self, PyObject *unused) {
    if (!g.planted) return PyLong_FromLong(0);
    uint64_t c = __atomic_load_n(&g.log->count, __ATOMIC_SEQ_CST);
    return PyLong_FromUnsignedLongLong(c < g.log->capacity ? c : g.log->capacity);
}

PyDoc_STRVAR(log_doc, "log() -> memoryview: the shared hit log (uint32 site offsets, capacity entries).");

static PyObject *py_log(PyObject *self, PyObject *unused) {
    if (!g.planted) return PyErr_Format(PyExc_RuntimeError, "coverage is not planted");
    return PyMemoryView_FromMemory((char *)g.log->entries, (Py_ssize_t)(g.log->capacity * 4), PyBUF_READ);
}

PyDoc_STRVAR(armed_doc, "armed() -> int: sites still holding 0xCC (a scan over all sites).");

static PyObject *py_armed(PyObject *self, PyObject *unused) {
    size_t c = 0;
    for (size_t i = 0; g.planted && i < g.nsites; i++) c += g.wview[g.bias + g.sites[i] - g.lo] == 0xCC;
    return PyLong_FromSize_t(c);
}

PyDoc_STRVAR(state_doc, "state() -> dict: planted, sites, bias, lo, hi.");

static PyObject *py_state(PyObject *self, PyObject *unused) {
    return Py_BuildValue("{s:O,s:n,s:K,s:K,s:K}", "planted", g.planted ? Py_True : Py_False, "sites",
                         (Py_ssize_t)g.nsites, "bias", (unsigned long long)g.bias, "lo",
                         (unsigned long long)g.lo, "hi", (unsigned long long)g.hi);
}

static PyMethodDef methods[] = {
    {"plant", py_plant, METH_VARARGS, plant_doc},
    {"restore", py_restore, METH_O, restore_doc},
    {"privatize", py_privatize, METH_NOARGS, privatize_doc},
    {"count", py_count, METH_NOARGS, count_doc},
    {"log", py_log, METH_NOARGS, log_doc},
    {"armed", py_armed, METH_NOARGS, armed_doc},
    {"state", py_state, METH_NOARGS, state_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_covtrap", "Breakpoint coverage of a loaded library (SIGTRAP handler, libc only).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__covtrap(void) { return PyModule_Create(&module); }
