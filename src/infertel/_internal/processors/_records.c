/*
 * infertel._internal.processors._records: the statistics buffer in C (optional; see _buffer.py).
 *
 * A `Records` object is the buffer the statistics processor's on_end appends its span records to
 * (the 7-tuples of _fold.SPAN_RECORD_FIELDS). `append` reads the six attribute values the fold
 * needs from the span's attribute dict while the span is still in the CPU's caches, and keeps them
 * as C numbers in one dense array: the fold, seconds later on the background folder's thread,
 * reads that array instead of thousands of attribute dicts and value objects that have left the
 * caches by then. A record whose values are not all of the plain types (an exact dict, float or
 * None durations, int or None token counts, int ids and elapsed time, a float clock) is kept as
 * the tuple it was, as are the records built from values (_fold.RECORD_FIELDS): `take` hands both
 * kinds to the fold, in order, and `RecordBatch.columns()` declines a batch holding any of them.
 *
 * Threading: every method runs under the GIL and leaves the object consistent before it releases
 * a reference (a deallocation may run Python code). Not for free-threaded builds (the module does
 * not declare Py_mod_gil_not_used). Every value the batch gives back equals the one appended: a
 * float or int rebuilt from the C number it was read into, the other objects themselves.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define HAS_MODEL 0x01
#define HAS_ERROR 0x02
#define HAS_TTFT 0x04
#define HAS_TPOT 0x08
#define HAS_INPUT 0x10
#define HAS_OUTPUT 0x20
#define HAS_PARENT 0x40
#define WHOLE 0x80 /* kept as the tuple it was: `other` */
#define EXACT_INT (1LL << 53)

enum { K_MODEL, K_ERROR, K_TTFT, K_TPOT, K_INPUT, K_OUTPUT, N_KEYS };

typedef struct {
    double t, ttft, tpot;
    long long elapsed, input, output;
    unsigned long long span_id, parent_id;
    PyObject *operation, *model, *error, *status; /* strong; model / error NULL when absent */
    PyObject *other;                              /* strong: the record itself when WHOLE, else NULL */
    unsigned int flags;
} Rec;

typedef struct {
    PyObject_HEAD
    Rec *items;
    Py_ssize_t len, cap;
    PyObject *keys[N_KEYS];
} Records;

typedef struct {
    PyObject_HEAD
    Rec *items;
    Py_ssize_t len;
    PyObject *keys[N_KEYS];
} RecordBatch;

static PyTypeObject RecordsType;
static PyTypeObject RecordBatchType;

static void
rec_clear(Rec *r)
{
    /* Release the references of records already detached from their container. */
    Py_XDECREF(r->operation);
    Py_XDECREF(r->model);
    Py_XDECREF(r->error);
    Py_XDECREF(r->status);
    Py_XDECREF(r->other);
}

static void
recs_release(Rec *items, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        rec_clear(&items[i]);
    }
    PyMem_Free(items);
}

/* An exact int that fits a long long into *out; 0 when it is not one. */
static int
read_ll(PyObject *value, long long *out)
{
    if (!PyLong_CheckExact(value)) {
        return 0;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    *out = v;
    return 1;
}

/* An exact int in [0, 2**64) into *out; 0 when it is not one. */
static int
read_ull(PyObject *value, unsigned long long *out)
{
    if (!PyLong_CheckExact(value)) {
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    *out = v;
    return 1;
}

/* Read a span record's seven fields into *r; 0 when it must be kept whole. Takes no reference. */
static int
read_span_record(PyObject *const *keys, PyObject *const *fields, Rec *r)
{
    PyObject *t = fields[0];
    PyObject *attributes = fields[2];
    PyObject *parent = fields[6];
    if (!PyFloat_CheckExact(t) || !PyDict_CheckExact(attributes)) {
        return 0;
    }
    r->t = PyFloat_AS_DOUBLE(t);
    r->flags = 0;
    if (!read_ull(fields[3], &r->span_id) || !read_ll(fields[4], &r->elapsed)) {
        return 0;
    }
    if (r->elapsed >= EXACT_INT || r->elapsed <= -EXACT_INT) {
        return 0; /* (its latency in seconds: Python's int / int rounds once, a double division would twice) */
    }
    if (parent != Py_None) {
        if (!read_ull(parent, &r->parent_id)) {
            return 0;
        }
        r->flags |= HAS_PARENT;
    }
    PyObject *values[N_KEYS];
    for (int k = 0; k < N_KEYS; k++) {
        values[k] = PyDict_GetItemWithError(attributes, keys[k]); /* borrowed */
        if (values[k] == NULL && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
    }
    if (values[K_TTFT] != NULL) {
        if (!PyFloat_CheckExact(values[K_TTFT])) {
            return 0;
        }
        r->ttft = PyFloat_AS_DOUBLE(values[K_TTFT]);
        r->flags |= HAS_TTFT;
    }
    if (values[K_TPOT] != NULL) {
        if (!PyFloat_CheckExact(values[K_TPOT])) {
            return 0;
        }
        r->tpot = PyFloat_AS_DOUBLE(values[K_TPOT]);
        r->flags |= HAS_TPOT;
    }
    if (values[K_INPUT] != NULL) {
        if (!read_ll(values[K_INPUT], &r->input)) {
            return 0;
        }
        r->flags |= HAS_INPUT;
    }
    if (values[K_OUTPUT] != NULL) {
        if (!read_ll(values[K_OUTPUT], &r->output)) {
            return 0;
        }
        r->flags |= HAS_OUTPUT;
    }
    r->model = values[K_MODEL];
    r->error = values[K_ERROR];
    r->flags |= (r->model ? HAS_MODEL : 0) | (r->error ? HAS_ERROR : 0);
    r->operation = fields[1];
    r->status = fields[5];
    return 1;
}

static int
records_grow(Records *self)
{
    Py_ssize_t cap = self->cap ? self->cap * 2 : 256;
    Rec *items = PyMem_Realloc(self->items, (size_t)cap * sizeof(Rec));
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->items = items;
    self->cap = cap;
    return 0;
}

/* Store a record: its seven span-record fields when `fields` is not NULL and they are plain, else `record` whole.
 * (Read into a local first: making the tuple may run the garbage collector, whose finalizers may
 * append to this buffer too.) */
static int
records_store(Records *self, PyObject *const *fields, PyObject *record)
{
    if (self->keys[0] == NULL) {
        PyErr_SetString(PyExc_TypeError, "Records() was not initialised");
        return -1;
    }
    Rec r;
    if (fields != NULL && read_span_record(self->keys, fields, &r)) {
        Py_INCREF(r.operation);
        Py_XINCREF(r.model);
        Py_XINCREF(r.error);
        Py_INCREF(r.status);
        r.other = NULL;
    } else {
        if (record == NULL) {
            record = PyTuple_New(7);
            if (record == NULL) {
                return -1;
            }
            for (int i = 0; i < 7; i++) {
                PyTuple_SET_ITEM(record, i, Py_NewRef(fields[i]));
            }
        } else {
            Py_INCREF(record);
        }
        memset(&r, 0, sizeof(Rec));
        r.flags = WHOLE;
        r.other = record;
    }
    if (self->len == self->cap && records_grow(self) < 0) {
        rec_clear(&r);
        return -1;
    }
    self->items[self->len++] = r;
    return 0;
}

static PyObject *
Records_append(Records *self, PyObject *record)
{
    int span = PyTuple_CheckExact(record) && PyTuple_GET_SIZE(record) == 7;
    if (records_store(self, span ? ((PyTupleObject *)record)->ob_item : NULL, record) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Records_extend(Records *self, PyObject *iterable)
{
    PyObject *iterator = PyObject_GetIter(iterable);
    if (iterator == NULL) {
        return NULL;
    }
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        PyObject *done = Records_append(self, item);
        Py_DECREF(item);
        if (done == NULL) {
            Py_DECREF(iterator);
            return NULL;
        }
        Py_DECREF(done);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}


/* The record as appended: the tuple kept whole, or a span record whose attribute mapping holds the six values read. */
static PyObject *
rec_record(PyObject *const *keys, const Rec *r)
{
    if (r->flags & WHOLE) {
        return Py_NewRef(r->other);
    }
    PyObject *attributes = PyDict_New();
    if (attributes == NULL) {
        return NULL;
    }
    PyObject *values[N_KEYS] = {
        r->model ? Py_NewRef(r->model) : NULL,
        r->error ? Py_NewRef(r->error) : NULL,
        (r->flags & HAS_TTFT) ? PyFloat_FromDouble(r->ttft) : NULL,
        (r->flags & HAS_TPOT) ? PyFloat_FromDouble(r->tpot) : NULL,
        (r->flags & HAS_INPUT) ? PyLong_FromLongLong(r->input) : NULL,
        (r->flags & HAS_OUTPUT) ? PyLong_FromLongLong(r->output) : NULL,
    };
    static const unsigned int present[N_KEYS] = {HAS_MODEL, HAS_ERROR, HAS_TTFT, HAS_TPOT, HAS_INPUT, HAS_OUTPUT};
    int failed = 0;
    for (int k = 0; k < N_KEYS; k++) {
        if (r->flags & present[k]) {
            if (values[k] == NULL || PyDict_SetItem(attributes, keys[k], values[k]) < 0) {
                failed = 1;
            }
            Py_XDECREF(values[k]);
        }
    }
    if (failed) {
        Py_DECREF(attributes);
        return NULL;
    }
    PyObject *record = Py_BuildValue(
        "(dONKLON)", r->t, r->operation, attributes, r->span_id, r->elapsed, r->status,
        (r->flags & HAS_PARENT) ? PyLong_FromUnsignedLongLong(r->parent_id) : Py_NewRef(Py_None));
    return record;
}

static Py_ssize_t
Records_length(Records *self)
{
    return self->len;
}

static PyObject *
Records_item(Records *self, Py_ssize_t i)
{
    if (i < 0 || i >= self->len) {
        PyErr_SetString(PyExc_IndexError, "Records index out of range");
        return NULL;
    }
    /* A copy with its own references: building the tuple may run the garbage collector, whose
     * finalizers may append to this buffer (and move its array). */
    Rec r = self->items[i];
    Py_XINCREF(r.operation);
    Py_XINCREF(r.model);
    Py_XINCREF(r.error);
    Py_XINCREF(r.status);
    Py_XINCREF(r.other);
    PyObject *record = rec_record(self->keys, &r);
    rec_clear(&r);
    return record;
}

static PyObject *
Records_pop(Records *self, PyObject *Py_UNUSED(ignored))
{
    if (self->len == 0) {
        PyErr_SetString(PyExc_IndexError, "pop from empty Records");
        return NULL;
    }
    Rec r = self->items[self->len - 1];
    self->len--; /* consistent before any reference is released */
    PyObject *record = rec_record(self->keys, &r);
    rec_clear(&r);
    return record;
}

static PyObject *
Records_clear(Records *self, PyObject *Py_UNUSED(ignored))
{
    Rec *items = self->items;
    Py_ssize_t n = self->len;
    self->items = NULL;
    self->len = self->cap = 0;
    recs_release(items, n);
    Py_RETURN_NONE;
}

static PyObject *
Records_take(Records *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0 || n > self->len) {
        n = self->len;
    }
    RecordBatch *batch = PyObject_New(RecordBatch, &RecordBatchType);
    if (batch == NULL) {
        return NULL;
    }
    batch->items = NULL;
    batch->len = 0;
    for (int k = 0; k < N_KEYS; k++) {
        batch->keys[k] = Py_XNewRef(self->keys[k]);
    }
    if (n) {
        batch->items = PyMem_Malloc((size_t)n * sizeof(Rec));
        if (batch->items == NULL) {
            Py_DECREF(batch);
            return PyErr_NoMemory();
        }
        memcpy(batch->items, self->items, (size_t)n * sizeof(Rec));
        memmove(self->items, self->items + n, (size_t)(self->len - n) * sizeof(Rec));
        self->len -= n;
        batch->len = n;
        if (self->cap > 4096 && self->len < self->cap / 4) { /* give back what a burst took */
            Py_ssize_t cap = self->len > 256 ? self->len : 256;
            Rec *items = PyMem_Realloc(self->items, (size_t)cap * sizeof(Rec));
            if (items != NULL) {
                self->items = items;
                self->cap = cap;
            }
        }
    }
    return (PyObject *)batch;
}

static int
Records_init(Records *self, PyObject *args, PyObject *kwds)
{
    PyObject *keys[N_KEYS];
    static char *names[] = {"model", "error_type", "ttft", "tpot", "input_tokens", "output_tokens", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UUUUUU:Records", names, &keys[0], &keys[1], &keys[2], &keys[3],
                                     &keys[4], &keys[5])) {
        return -1;
    }
    for (int k = 0; k < N_KEYS; k++) {
        Py_XSETREF(self->keys[k], Py_NewRef(keys[k]));
    }
    return 0;
}

static void
Records_dealloc(Records *self)
{
    recs_release(self->items, self->len);
    for (int k = 0; k < N_KEYS; k++) {
        Py_XDECREF(self->keys[k]);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Records_methods[] = {
    {"append", (PyCFunction)Records_append, METH_O, "Append a record (a span record's six attribute values are read now)."},
    {"extend", (PyCFunction)Records_extend, METH_O, "Append every record of an iterable."},
    {"pop", (PyCFunction)Records_pop, METH_NOARGS, "Remove and return the newest record."},
    {"clear", (PyCFunction)Records_clear, METH_NOARGS, "Drop every record."},
    {"take", (PyCFunction)Records_take, METH_O, "Remove the oldest n records (all if n is out of range) as a RecordBatch."},
    {NULL},
};

static PySequenceMethods Records_as_sequence = {
    .sq_length = (lenfunc)Records_length,
    .sq_item = (ssizeargfunc)Records_item,
};

static PyTypeObject RecordsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "infertel._internal.processors._records.Records",
    .tp_basicsize = sizeof(Records),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The statistics buffer: span records read into C numbers on append (see the module).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Records_init,
    .tp_dealloc = (destructor)Records_dealloc,
    .tp_methods = Records_methods,
    .tp_as_sequence = &Records_as_sequence,
};

/* --- RecordBatch ------------------------------------------------------------------------------ */

static Py_ssize_t
RecordBatch_length(RecordBatch *self)
{
    return self->len;
}

static PyObject *
RecordBatch_records(RecordBatch *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(self->len);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->len; i++) {
        PyObject *record = rec_record(self->keys, &self->items[i]);
        if (record == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, record);
    }
    return list;
}

/* A float64 column as bytes, NaN where a record has no value. */
static PyObject *
duration_column(const Rec *items, Py_ssize_t n, size_t offset, unsigned int flag)
{
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    if (bytes == NULL) {
        return NULL;
    }
    double *out = (double *)PyBytes_AS_STRING(bytes);
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = (items[i].flags & flag) ? *(const double *)((const char *)&items[i] + offset) : Py_NAN;
    }
    return bytes;
}

/* A list of the records' objects at `offset` (None where NULL). */
static PyObject *
object_column(const Rec *items, Py_ssize_t n, size_t offset)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = *(PyObject *const *)((const char *)&items[i] + offset);
        PyList_SET_ITEM(list, i, Py_NewRef(item ? item : Py_None));
    }
    return list;
}

/* A token count column (None where absent) and its total. */
static PyObject *
count_column(const Rec *items, Py_ssize_t n, size_t offset, unsigned int flag, long long *total)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    long long sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = Py_None;
        if (items[i].flags & flag) {
            long long value = *(const long long *)((const char *)&items[i] + offset);
            sum += value; /* (each value is checked to be in [0, 2**53) first: no overflow) */
            item = PyLong_FromLongLong(value);
            if (item == NULL) {
                Py_DECREF(list);
                return NULL;
            }
        } else {
            Py_INCREF(item);
        }
        PyList_SET_ITEM(list, i, item);
    }
    *total = sum;
    return list;
}

/*
 * The column fold's inputs, or None when it must decline the batch (a record kept whole, a
 * negative or NaN TTFT or TPOT, a negative token count, token counts summing to 2**53 or more):
 * (times, operations, models, error_types, (latency, ttft, tpot), (input_tokens, total),
 *  (output_tokens, total), statuses). The durations are float64 bytes
 * (NaN where absent); the latency is elapsed_ns / 1e9 (0 when elapsed_ns <= 0), as Python divides
 * an int below 2**53.
 */
static PyObject *
RecordBatch_columns(RecordBatch *self, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t n = self->len;
    Rec *items = self->items;
    long long input_sum = 0, output_sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Rec *r = &items[i];
        unsigned int f = r->flags;
        if (f & WHOLE) {
            Py_RETURN_NONE;
        }
        if (((f & HAS_TTFT) && !(r->ttft >= 0.0)) || ((f & HAS_TPOT) && !(r->tpot >= 0.0))) {
            Py_RETURN_NONE; /* a negative or NaN duration */
        }
        if ((f & HAS_INPUT) && (r->input < 0 || r->input >= EXACT_INT || (input_sum += r->input) >= EXACT_INT)) {
            Py_RETURN_NONE;
        }
        if ((f & HAS_OUTPUT) && (r->output < 0 || r->output >= EXACT_INT || (output_sum += r->output) >= EXACT_INT)) {
            Py_RETURN_NONE;
        }
    }
    PyObject *latency = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    if (latency != NULL) {
        double *out = (double *)PyBytes_AS_STRING(latency);
        for (Py_ssize_t i = 0; i < n; i++) {
            long long e = items[i].elapsed;
            out[i] = e > 0 ? (double)e / 1e9 : 0.0;
        }
    }
    long long input_total = 0, output_total = 0;
    PyObject *times = PyList_New(n);
    if (times != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PyFloat_FromDouble(items[i].t);
            if (item == NULL) {
                Py_CLEAR(times);
                break;
            }
            PyList_SET_ITEM(times, i, item);
        }
    }
    PyObject *ttft = duration_column(items, n, offsetof(Rec, ttft), HAS_TTFT);
    PyObject *tpot = duration_column(items, n, offsetof(Rec, tpot), HAS_TPOT);
    PyObject *operations = object_column(items, n, offsetof(Rec, operation));
    PyObject *models = object_column(items, n, offsetof(Rec, model));
    PyObject *errors = object_column(items, n, offsetof(Rec, error));
    PyObject *statuses = object_column(items, n, offsetof(Rec, status));
    PyObject *inputs = count_column(items, n, offsetof(Rec, input), HAS_INPUT, &input_total);
    PyObject *outputs = count_column(items, n, offsetof(Rec, output), HAS_OUTPUT, &output_total);
    PyObject *result = NULL;
    if (latency && times && ttft && tpot && operations && models && errors && statuses && inputs && outputs) {
        result = Py_BuildValue("(OOOO(OOO)(OL)(OL)O)", times, operations, models, errors, latency, ttft, tpot, inputs,
                               input_total, outputs, output_total, statuses);
    }
    Py_XDECREF(latency);
    Py_XDECREF(times);
    Py_XDECREF(ttft);
    Py_XDECREF(tpot);
    Py_XDECREF(operations);
    Py_XDECREF(models);
    Py_XDECREF(errors);
    Py_XDECREF(statuses);
    Py_XDECREF(inputs);
    Py_XDECREF(outputs);
    return result;
}

/*
 * The one-count-per-request rule over the batch, as processors._columns._count_parents does it
 * record by record: a record whose span id is in the table of counted parents (`table.young`,
 * `table.old`: dicts) with its own series key is skipped; each other record's parent id is
 * remembered with its key (`young` becomes `old` past `max_parents`). `keys`: the batch's one key
 * (a tuple) or a list of each record's key. Returns the skipped indices (a list), or None.
 */
static PyObject *
RecordBatch_count_parents(RecordBatch *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "count_parents(keys, table, max_parents)");
        return NULL;
    }
    PyObject *keys = args[0], *table = args[1];
    Py_ssize_t max_parents = PyLong_AsSsize_t(args[2]);
    if (max_parents == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int one_key = PyTuple_Check(keys);
    if (!one_key && (!PyList_CheckExact(keys) || PyList_GET_SIZE(keys) != self->len)) {
        PyErr_SetString(PyExc_TypeError, "keys: one key (a tuple) or a list of one key per record");
        return NULL;
    }
    PyObject *young = PyObject_GetAttrString(table, "young");
    PyObject *old = young ? PyObject_GetAttrString(table, "old") : NULL;
    PyObject *skipped = NULL, *result = NULL;
    if (old == NULL) {
        goto done;
    }
    if (!PyDict_CheckExact(young) || !PyDict_CheckExact(old)) {
        PyErr_SetString(PyExc_TypeError, "the table's halves must be dicts");
        goto done;
    }
    int parents = 0;
    for (Py_ssize_t i = 0; i < self->len && !parents; i++) {
        parents = (self->items[i].flags & HAS_PARENT) != 0;
    }
    if (!parents && PyDict_GET_SIZE(young) == 0 && PyDict_GET_SIZE(old) == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    skipped = PyList_New(0);
    if (skipped == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < self->len; i++) {
        const Rec *r = &self->items[i];
        PyObject *key = one_key ? keys : PyList_GET_ITEM(keys, i);
        if (PyDict_GET_SIZE(young) || PyDict_GET_SIZE(old)) {
            PyObject *span_id = PyLong_FromUnsignedLongLong(r->span_id);
            if (span_id == NULL) {
                goto done;
            }
            int in_young = PyDict_Contains(young, span_id);
            int in_old = in_young == 0 && PyDict_GET_SIZE(old) ? PyDict_Contains(old, span_id) : 0;
            if (in_young < 0 || in_old < 0) {
                Py_DECREF(span_id);
                goto done;
            }
            if (in_young || in_old) {
                /* young.pop(span_id, None), old.pop(span_id, None): young holds the newer key when both have it */
                PyObject *found = PyDict_GetItemWithError(young, span_id);
                PyObject *stale = found || !PyErr_Occurred() ? PyDict_GetItemWithError(old, span_id) : NULL;
                PyObject *counted = found ? found : stale;
                int same = -1;
                if (!PyErr_Occurred()) {
                    Py_XINCREF(counted);
                    int popped = (found == NULL || PyDict_DelItem(young, span_id) == 0) &&
                                 (stale == NULL || PyDict_DelItem(old, span_id) == 0);
                    same = popped ? (counted ? PyObject_RichCompareBool(counted, key, Py_EQ) : 0) : -1;
                    Py_XDECREF(counted);
                }
                Py_DECREF(span_id);
                if (same < 0) {
                    goto done;
                }
                if (same) { /* a child of the same series already counted this request */
                    PyObject *index = PyLong_FromSsize_t(i);
                    if (index == NULL || PyList_Append(skipped, index) < 0) {
                        Py_XDECREF(index);
                        goto done;
                    }
                    Py_DECREF(index);
                    continue;
                }
            } else {
                Py_DECREF(span_id);
            }
        }
        if (r->flags & HAS_PARENT) {
            PyObject *parent_id = PyLong_FromUnsignedLongLong(r->parent_id);
            if (parent_id == NULL || PyDict_SetItem(young, parent_id, key) < 0) {
                Py_XDECREF(parent_id);
                goto done;
            }
            Py_DECREF(parent_id);
            if (PyDict_GET_SIZE(young) > max_parents) {
                PyObject *fresh = PyDict_New();
                if (fresh == NULL || PyObject_SetAttrString(table, "old", young) < 0 ||
                    PyObject_SetAttrString(table, "young", fresh) < 0) {
                    Py_XDECREF(fresh);
                    goto done;
                }
                Py_SETREF(old, young);
                young = fresh;
            }
        }
    }
    result = PyList_GET_SIZE(skipped) ? Py_NewRef(skipped) : Py_NewRef(Py_None);
done:
    Py_XDECREF(young);
    Py_XDECREF(old);
    Py_XDECREF(skipped);
    return result;
}

static void
RecordBatch_dealloc(RecordBatch *self)
{
    recs_release(self->items, self->len);
    for (int k = 0; k < N_KEYS; k++) {
        Py_XDECREF(self->keys[k]);
    }
    PyObject_Free(self);
}

static PyMethodDef RecordBatch_methods[] = {
    {"records", (PyCFunction)RecordBatch_records, METH_NOARGS, "Every record as appended, in order (a list of tuples)."},
    {"columns", (PyCFunction)RecordBatch_columns, METH_NOARGS,
     "columns() -> the column fold's inputs, or None when it must decline the batch (see _records.c)."},
    {"count_parents", (PyCFunction)(void (*)(void))RecordBatch_count_parents, METH_FASTCALL,
     "count_parents(keys, table, max_parents) -> the skipped record indices, or None (see _records.c)."},
    {NULL},
};

static PySequenceMethods RecordBatch_as_sequence = {
    .sq_length = (lenfunc)RecordBatch_length,
};

static PyTypeObject RecordBatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "infertel._internal.processors._records.RecordBatch",
    .tp_basicsize = sizeof(RecordBatch),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Records taken from a Records buffer, for one fold.",
    .tp_dealloc = (destructor)RecordBatch_dealloc,
    .tp_methods = RecordBatch_methods,
    .tp_as_sequence = &RecordBatch_as_sequence,
};

/* --- Hooks: the statistics processor's on_start / on_end on SDK spans ----------------------------- */

enum { F_ATTRIBUTES, F_DICT, F_CONTEXT, F_PARENT, F_START, F_END, F_STATUS, F_STATUS_CODE, N_FIELDS };

typedef struct {
    PyObject_HEAD
    Records *buffer;
    PyObject *started; /* dict: span id -> attribute dict of a started GenAI span */
    PyObject *name;    /* the attribute that makes a span count (gen_ai.operation.name) */
    Py_ssize_t max_tracked, fold_batch;
    PyObject *buffer_full, *clock, *public_on_start, *public_on_end, *on_error;
    PyObject *fields[N_FIELDS]; /* the private span fields' names, given by infertel._internal.compat */
} Hooks;

/* An Exception raised by our own code: `on_error(exc)` (logs it, or re-raises under the test switch).
 * A BaseException (KeyboardInterrupt, SystemExit) propagates. */
static PyObject *
hooks_error(Hooks *self)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return NULL;
    }
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    PyObject *result = PyObject_CallOneArg(self->on_error, value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return result;
}

/* A private read failed: a span of another shape (AttributeError, TypeError) goes to the public hook. */
static PyObject *
hooks_read_failed(Hooks *self, PyObject *public_hook, PyObject *const *args, Py_ssize_t nargs)
{
    if (PyErr_ExceptionMatches(PyExc_AttributeError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        PyObject *result = PyObject_Vectorcall(public_hook, args, nargs, NULL);
        return result; /* (the public hook applies the error policy itself) */
    }
    return hooks_error(self);
}

/* span.<a>.<b> (a new reference), or NULL with an exception set. */
static PyObject *
get2(PyObject *object, PyObject *a, PyObject *b)
{
    PyObject *first = PyObject_GetAttr(object, a);
    if (first == NULL) {
        return NULL;
    }
    PyObject *second = PyObject_GetAttr(first, b);
    Py_DECREF(first);
    return second;
}

static PyObject *
Hooks_on_start(Hooks *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    if (nargs < 1 || total > 2) {
        PyErr_SetString(PyExc_TypeError, "on_start(span, parent_context=None)");
        return NULL;
    }
    PyObject *call[2] = {args[0], total == 2 ? args[1] : Py_None};
    PyObject *attributes = get2(args[0], self->fields[F_ATTRIBUTES], self->fields[F_DICT]);
    if (attributes == NULL) {
        return hooks_read_failed(self, self->public_on_start, call, 2);
    }
    if (!PyDict_Check(attributes)) {
        Py_DECREF(attributes);
        return PyObject_Vectorcall(self->public_on_start, call, 2, NULL);
    }
    PyObject *value = PyDict_GetItemWithError(attributes, self->name);
    if (value == NULL && PyErr_Occurred()) {
        Py_DECREF(attributes);
        return hooks_read_failed(self, self->public_on_start, call, 2);
    }
    if (value != NULL && value != Py_None && PyDict_GET_SIZE(self->started) < self->max_tracked) {
        PyObject *context = PyObject_GetAttr(args[0], self->fields[F_CONTEXT]);
        PyObject *span_id = context ? PySequence_GetItem(context, 1) : NULL;
        Py_XDECREF(context);
        if (span_id == NULL) {
            Py_DECREF(attributes);
            return hooks_read_failed(self, self->public_on_start, call, 2);
        }
        int failed = PyDict_SetItem(self->started, span_id, attributes) < 0;
        Py_DECREF(span_id);
        if (failed) {
            Py_DECREF(attributes);
            return hooks_error(self);
        }
    }
    Py_DECREF(attributes);
    Py_RETURN_NONE;
}

static PyObject *
Hooks_on_end(Hooks *self, PyObject *span)
{
    PyObject *attributes = NULL, *parent = NULL, *context = NULL, *end = NULL, *start = NULL;
    PyObject *fields[7] = {NULL};
    PyObject *result = NULL;
    attributes = get2(span, self->fields[F_ATTRIBUTES], self->fields[F_DICT]);
    if (attributes == NULL) {
        goto read_failed;
    }
    if (!PyDict_Check(attributes)) {
        Py_DECREF(attributes);
        return PyObject_Vectorcall(self->public_on_end, &span, 1, NULL);
    }
    PyObject *value = PyDict_GetItemWithError(attributes, self->name);
    if (value == NULL || value == Py_None) {
        if (PyErr_Occurred()) {
            goto read_failed;
        }
        Py_DECREF(attributes);
        Py_RETURN_NONE; /* not a GenAI span */
    }
    fields[1] = Py_NewRef(value);
    fields[2] = Py_NewRef(attributes);
    if ((parent = PyObject_GetAttr(span, self->fields[F_PARENT])) == NULL ||
        (context = PyObject_GetAttr(span, self->fields[F_CONTEXT])) == NULL ||
        (fields[3] = PySequence_GetItem(context, 1)) == NULL || (fields[0] = PyObject_CallNoArgs(self->clock)) == NULL ||
        (end = PyObject_GetAttr(span, self->fields[F_END])) == NULL ||
        (start = PyObject_GetAttr(span, self->fields[F_START])) == NULL ||
        (fields[4] = PyNumber_Subtract(end, start)) == NULL ||
        (fields[5] = get2(span, self->fields[F_STATUS], self->fields[F_STATUS_CODE])) == NULL ||
        (fields[6] = parent == Py_None ? Py_NewRef(Py_None) : PySequence_GetItem(parent, 1)) == NULL) {
        goto read_failed;
    }
    if (PyDict_GET_SIZE(self->started) && PyDict_DelItem(self->started, fields[3]) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            result = hooks_error(self);
            goto done;
        }
        PyErr_Clear();
    }
    if (records_store(self->buffer, fields, NULL) < 0) {
        result = hooks_error(self);
        goto done;
    }
    if (self->buffer->len >= self->fold_batch) {
        result = PyObject_CallNoArgs(self->buffer_full);
        if (result == NULL) {
            result = hooks_error(self);
        }
        goto done;
    }
    result = Py_NewRef(Py_None);
    goto done;
read_failed:
    result = hooks_read_failed(self, self->public_on_end, &span, 1);
done:
    Py_XDECREF(attributes);
    Py_XDECREF(parent);
    Py_XDECREF(context);
    Py_XDECREF(end);
    Py_XDECREF(start);
    for (int i = 0; i < 7; i++) {
        Py_XDECREF(fields[i]);
    }
    return result;
}

static int
Hooks_init(Hooks *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"buffer",  "started",         "name",          "max_tracked", "fold_batch", "buffer_full",
                            "clock",   "public_on_start", "public_on_end", "on_error",    "fields",     NULL};
    PyObject *buffer, *started, *name, *buffer_full, *clock, *public_on_start, *public_on_end, *on_error, *fields;
    Py_ssize_t max_tracked, fold_batch;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!UnnOOOOOO!:Hooks", names, &RecordsType, &buffer, &PyDict_Type,
                                     &started, &name, &max_tracked, &fold_batch, &buffer_full, &clock,
                                     &public_on_start, &public_on_end, &on_error, &PyTuple_Type, &fields)) {
        return -1;
    }
    if (PyTuple_GET_SIZE(fields) != N_FIELDS) {
        PyErr_Format(PyExc_ValueError, "fields: %d attribute names", N_FIELDS);
        return -1;
    }
    for (int i = 0; i < N_FIELDS; i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(fields, i))) {
            PyErr_SetString(PyExc_TypeError, "fields: attribute names (str)");
            return -1;
        }
        Py_XSETREF(self->fields[i], Py_NewRef(PyTuple_GET_ITEM(fields, i)));
    }
    Py_XSETREF(self->buffer, (Records *)Py_NewRef(buffer));
    Py_XSETREF(self->started, Py_NewRef(started));
    Py_XSETREF(self->name, Py_NewRef(name));
    Py_XSETREF(self->buffer_full, Py_NewRef(buffer_full));
    Py_XSETREF(self->clock, Py_NewRef(clock));
    Py_XSETREF(self->public_on_start, Py_NewRef(public_on_start));
    Py_XSETREF(self->public_on_end, Py_NewRef(public_on_end));
    Py_XSETREF(self->on_error, Py_NewRef(on_error));
    self->max_tracked = max_tracked;
    self->fold_batch = fold_batch;
    return 0;
}

static void
Hooks_dealloc(Hooks *self)
{
    Py_XDECREF(self->buffer);
    Py_XDECREF(self->started);
    Py_XDECREF(self->name);
    Py_XDECREF(self->buffer_full);
    Py_XDECREF(self->clock);
    Py_XDECREF(self->public_on_start);
    Py_XDECREF(self->public_on_end);
    Py_XDECREF(self->on_error);
    for (int i = 0; i < N_FIELDS; i++) {
        Py_XDECREF(self->fields[i]);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Hooks_not_ready(Hooks *self)
{
    PyErr_SetString(PyExc_TypeError, "Hooks() was not initialised");
    return NULL;
}

static PyObject *
Hooks_on_start_checked(Hooks *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return self->buffer == NULL ? Hooks_not_ready(self) : Hooks_on_start(self, args, nargs, kwnames);
}

static PyObject *
Hooks_on_end_checked(Hooks *self, PyObject *span)
{
    return self->buffer == NULL ? Hooks_not_ready(self) : Hooks_on_end(self, span);
}

static PyMethodDef Hooks_methods[] = {
    {"on_start", (PyCFunction)(void (*)(void))Hooks_on_start_checked, METH_FASTCALL | METH_KEYWORDS,
     "on_start(span, parent_context=None): count a GenAI span in flight."},
    {"on_end", (PyCFunction)Hooks_on_end_checked, METH_O, "on_end(span): append an ended GenAI span's record."},
    {NULL},
};

static PyTypeObject HooksType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "infertel._internal.processors._records.Hooks",
    .tp_basicsize = sizeof(Hooks),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The statistics processor's on_start / on_end on SDK spans, reading the private fields compat names.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Hooks_init,
    .tp_dealloc = (destructor)Hooks_dealloc,
    .tp_methods = Hooks_methods,
};

/* --- Packed duration columns: float64 bytes, NaN where a record has no value (processors._column_packed) --- */

static int
packed(PyObject *column, const double **data, Py_ssize_t *n)
{
    if (!PyBytes_Check(column) || PyBytes_GET_SIZE(column) % (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_TypeError, "a packed column: bytes of float64");
        return -1;
    }
    *data = (const double *)PyBytes_AS_STRING(column);
    *n = PyBytes_GET_SIZE(column) / (Py_ssize_t)sizeof(double);
    return 0;
}

static PyObject *
new_packed(Py_ssize_t n, double **out)
{
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    if (bytes != NULL) {
        *out = (double *)PyBytes_AS_STRING(bytes);
    }
    return bytes;
}

/* clamp(ttft, latency): each TTFT clamped to its latency (NaN stays NaN). */
static PyObject *
packed_clamp(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const double *ttft, *latency;
    Py_ssize_t n, m;
    double *out;
    if (nargs != 2 || packed(args[0], &ttft, &n) < 0 || packed(args[1], &latency, &m) < 0) {
        return nargs != 2 ? (PyErr_SetString(PyExc_TypeError, "clamp(ttft, latency)"), NULL) : NULL;
    }
    if (n != m) {
        PyErr_SetString(PyExc_ValueError, "clamp: columns of different lengths");
        return NULL;
    }
    PyObject *result = new_packed(n, &out);
    for (Py_ssize_t i = 0; result != NULL && i < n; i++) {
        out[i] = ttft[i] > latency[i] ? latency[i] : ttft[i];
    }
    return result;
}

/*
 * derive(latency, ttft, tpot, output_tokens): (tpot, decode speed) for the records without a TPOT
 * but with output tokens, or None if there are none: TPOT (latency - TTFT) / (output tokens - 1)
 * for a stream with two or more output tokens that ended after its first chunk, else the speed
 * output tokens / latency (the counts are ints below 2**53: exact as doubles, each operation
 * rounds as Python's does).
 */
static PyObject *
packed_derive(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const double *latency, *ttft, *tpot;
    Py_ssize_t n, n1, n2;
    if (nargs != 4 || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "derive(latency, ttft, tpot, output_tokens: list)");
        return NULL;
    }
    if (packed(args[0], &latency, &n) < 0 || packed(args[1], &ttft, &n1) < 0 || packed(args[2], &tpot, &n2) < 0) {
        return NULL;
    }
    if (n1 != n || n2 != n || PyList_GET_SIZE(args[3]) != n) {
        PyErr_SetString(PyExc_ValueError, "derive: columns of different lengths");
        return NULL;
    }
    double *new_tpot, *speed;
    PyObject *tpot_column = NULL, *speed_column = NULL;
    int found = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(args[3], i);
        if (!isnan(tpot[i]) || item == Py_None) {
            continue;
        }
        double output = PyFloat_AsDouble(item);
        if (output == -1.0 && PyErr_Occurred()) {
            goto failed;
        }
        if (!(output > 0.0)) {
            continue;
        }
        if (!found) {
            found = 1;
            tpot_column = new_packed(n, &new_tpot);
            speed_column = tpot_column ? new_packed(n, &speed) : NULL;
            if (speed_column == NULL) {
                goto failed;
            }
            memcpy(new_tpot, tpot, (size_t)n * sizeof(double));
            for (Py_ssize_t k = 0; k < n; k++) {
                speed[k] = Py_NAN;
            }
        }
        if (output >= 2.0 && latency[i] > ttft[i]) { /* (false where there is no TTFT: NaN) */
            new_tpot[i] = (latency[i] - ttft[i]) / (output - 1.0);
        } else if (latency[i] > 0.0) {
            speed[i] = output / latency[i];
        }
    }
    if (!found) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(NN)", tpot_column, speed_column);
failed:
    Py_XDECREF(tpot_column);
    Py_XDECREF(speed_column);
    return NULL;
}

/* select(column, indices): the values at `indices` (a list of ints; None: every record), NaN left out. */
static PyObject *
packed_select(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const double *column;
    Py_ssize_t n;
    if (nargs != 2 || packed(args[0], &column, &n) < 0) {
        return nargs != 2 ? (PyErr_SetString(PyExc_TypeError, "select(column, indices)"), NULL) : NULL;
    }
    PyObject *indices = args[1];
    int every = indices == Py_None;
    if (!every && !PyList_Check(indices)) {
        PyErr_SetString(PyExc_TypeError, "select: indices must be a list or None");
        return NULL;
    }
    Py_ssize_t m = every ? n : PyList_GET_SIZE(indices);
    double *out;
    PyObject *result = new_packed(m, &out);
    if (result == NULL) {
        return NULL;
    }
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < m; k++) {
        Py_ssize_t i = k;
        if (!every) {
            i = PyLong_AsSsize_t(PyList_GET_ITEM(indices, k));
            if (i == -1 && PyErr_Occurred()) {
                Py_DECREF(result);
                return NULL;
            }
            if (i < 0 || i >= n) {
                Py_DECREF(result);
                PyErr_SetString(PyExc_IndexError, "select: index out of range");
                return NULL;
            }
        }
        if (!isnan(column[i])) {
            out[kept++] = column[i];
        }
    }
    if (kept != m) {
        PyObject *shorter = PyBytes_FromStringAndSize((const char *)out, kept * (Py_ssize_t)sizeof(double));
        Py_DECREF(result);
        return shorter;
    }
    return result;
}

/*
 * bucket_counts(values, inv_ln_gamma, min_value, max_value, max_index) -> (zero count, low, counts):
 * each value's bucket as LogMapping.index gives it (ceil(log(value) * inv_ln_gamma), the same libm
 * log and IEEE operations as Python's math.log and math.ceil; at or below min_value: the zero
 * bucket; at or above max_value, or NaN: max_index), counted per bucket from `low` on.
 */
static PyObject *
packed_bucket_counts(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const double *values;
    Py_ssize_t n;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "bucket_counts(values, inv_ln_gamma, min_value, max_value, max_index)");
        return NULL;
    }
    if (packed(args[0], &values, &n) < 0) {
        return NULL;
    }
    double inv = PyFloat_AsDouble(args[1]), min_value = PyFloat_AsDouble(args[2]), max_value = PyFloat_AsDouble(args[3]);
    long long max_index = PyLong_AsLongLong(args[4]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    long long *index = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(long long));
    if (index == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t zero = 0, inside = 0;
    long long low = 0, high = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = values[i];
        long long b;
        if (v <= min_value) {
            zero++;
            continue;
        }
        b = v < max_value ? (long long)ceil(log(v) * inv) : max_index;
        if (inside == 0 || b < low) {
            low = b;
        }
        if (inside == 0 || b > high) {
            high = b;
        }
        index[inside++] = b;
    }
    PyObject *counts = PyList_New(inside ? (Py_ssize_t)(high - low + 1) : 0);
    if (counts == NULL) {
        PyMem_Free(index);
        return NULL;
    }
    Py_ssize_t width = PyList_GET_SIZE(counts);
    Py_ssize_t *tally = PyMem_Calloc((size_t)(width ? width : 1), sizeof(Py_ssize_t));
    if (tally == NULL) {
        PyMem_Free(index);
        Py_DECREF(counts);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < inside; i++) {
        tally[index[i] - low]++;
    }
    PyMem_Free(index);
    for (Py_ssize_t k = 0; k < width; k++) {
        PyObject *count = PyLong_FromSsize_t(tally[k]);
        if (count == NULL) {
            PyMem_Free(tally);
            Py_DECREF(counts);
            return NULL;
        }
        PyList_SET_ITEM(counts, k, count);
    }
    PyMem_Free(tally);
    return Py_BuildValue("(nLN)", zero, low, counts);
}

static PyMethodDef records_functions[] = {
    {"clamp", (PyCFunction)(void (*)(void))packed_clamp, METH_FASTCALL, "clamp(ttft, latency) -> packed TTFT clamped to its latency."},
    {"derive", (PyCFunction)(void (*)(void))packed_derive, METH_FASTCALL,
     "derive(latency, ttft, tpot, output_tokens) -> (tpot, decode speed) packed, or None."},
    {"select", (PyCFunction)(void (*)(void))packed_select, METH_FASTCALL,
     "select(column, indices) -> the packed values at indices (None: all), NaN left out."},
    {"bucket_counts", (PyCFunction)(void (*)(void))packed_bucket_counts, METH_FASTCALL,
     "bucket_counts(values, inv_ln_gamma, min_value, max_value, max_index) -> (zero count, low, counts)."},
    {NULL},
};

static struct PyModuleDef records_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "infertel._internal.processors._records",
    .m_doc = "The statistics buffer in C (optional; see infertel._internal.processors._buffer).",
    .m_size = -1,
    .m_methods = records_functions,
};

PyMODINIT_FUNC
PyInit__records(void)
{
    if (PyType_Ready(&RecordsType) < 0 || PyType_Ready(&RecordBatchType) < 0 || PyType_Ready(&HooksType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&records_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Records", (PyObject *)&RecordsType) < 0 ||
        PyModule_AddObjectRef(module, "RecordBatch", (PyObject *)&RecordBatchType) < 0 ||
        PyModule_AddObjectRef(module, "Hooks", (PyObject *)&HooksType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
