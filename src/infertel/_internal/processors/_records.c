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

/* Store a record: its seven span-record fields when `fields` is not NULL and they are plain, else `record` whole. */
static int
records_store(Records *self, PyObject *const *fields, PyObject *record)
{
    if (self->keys[0] == NULL) {
        PyErr_SetString(PyExc_TypeError, "Records() was not initialised");
        return -1;
    }
    if (self->len == self->cap && records_grow(self) < 0) {
        return -1;
    }
    Rec *r = &self->items[self->len];
    if (fields != NULL && read_span_record(self->keys, fields, r)) {
        Py_INCREF(r->operation);
        Py_XINCREF(r->model);
        Py_XINCREF(r->error);
        Py_INCREF(r->status);
        r->other = NULL;
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
        memset(r, 0, sizeof(Rec));
        r->flags = WHOLE;
        r->other = record;
    }
    self->len++;
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
Records_add(Records *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_Format(PyExc_TypeError, "add() takes the 7 fields of a span record (%zd given)", nargs);
        return NULL;
    }
    if (records_store(self, args, NULL) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(self->len);
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
    return rec_record(self->keys, &self->items[i]);
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
        batch->keys[k] = Py_NewRef(self->keys[k]);
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
    {"add", (PyCFunction)(void (*)(void))Records_add, METH_FASTCALL,
     "add(time, operation, attributes, span_id, elapsed_ns, status_code, parent_span_id) -> length: append "
     "a span record given as its fields (no tuple made)."},
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

/* A float64 column: a list of floats (None where absent) when `lists`, else bytes (NaN where absent). */
static PyObject *
duration_column(const Rec *items, Py_ssize_t n, size_t offset, unsigned int flag, int lists)
{
    if (lists) {
        PyObject *list = PyList_New(n);
        if (list == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            double value = *(const double *)((const char *)&items[i] + offset);
            PyObject *item = (items[i].flags & flag) ? PyFloat_FromDouble(value) : Py_NewRef(Py_None);
            if (item == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, i, item);
        }
        return list;
    }
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
 * (times, operations, models, error_types, (latency, ttft, tpot), (ttft count, tpot count),
 *  (input_tokens, total), (output_tokens, total), statuses, parents). The durations are lists of
 * floats (None where absent) when `lists`, else float64 bytes (NaN where absent); the latency is
 * elapsed_ns / 1e9 (0 when elapsed_ns <= 0), as Python divides an int below 2**53.
 */
static PyObject *
RecordBatch_columns(RecordBatch *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "columns(lists) takes one argument");
        return NULL;
    }
    int lists = PyObject_IsTrue(args[0]);
    if (lists < 0) {
        return NULL;
    }
    Py_ssize_t n = self->len;
    Rec *items = self->items;
    Py_ssize_t ttft_count = 0, tpot_count = 0;
    long long input_sum = 0, output_sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Rec *r = &items[i];
        unsigned int f = r->flags;
        if (f & WHOLE) {
            Py_RETURN_NONE;
        }
        if (f & HAS_TTFT) {
            if (!(r->ttft >= 0.0)) {
                Py_RETURN_NONE;
            }
            ttft_count++;
        }
        if (f & HAS_TPOT) {
            if (!(r->tpot >= 0.0)) {
                Py_RETURN_NONE;
            }
            tpot_count++;
        }
        if ((f & HAS_INPUT) && (r->input < 0 || r->input >= EXACT_INT || (input_sum += r->input) >= EXACT_INT)) {
            Py_RETURN_NONE;
        }
        if ((f & HAS_OUTPUT) && (r->output < 0 || r->output >= EXACT_INT || (output_sum += r->output) >= EXACT_INT)) {
            Py_RETURN_NONE;
        }
    }
    PyObject *latency;
    if (lists) {
        latency = PyList_New(n);
        for (Py_ssize_t i = 0; latency != NULL && i < n; i++) {
            long long e = items[i].elapsed;
            PyObject *item = PyFloat_FromDouble(e > 0 ? (double)e / 1e9 : 0.0);
            if (item == NULL) {
                Py_CLEAR(latency);
                break;
            }
            PyList_SET_ITEM(latency, i, item);
        }
    } else {
        latency = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
        if (latency != NULL) {
            double *out = (double *)PyBytes_AS_STRING(latency);
            for (Py_ssize_t i = 0; i < n; i++) {
                long long e = items[i].elapsed;
                out[i] = e > 0 ? (double)e / 1e9 : 0.0;
            }
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
    PyObject *parents = PyList_New(n);
    if (parents != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = (items[i].flags & HAS_PARENT) ? PyLong_FromUnsignedLongLong(items[i].parent_id) : Py_NewRef(Py_None);
            if (item == NULL) {
                Py_CLEAR(parents);
                break;
            }
            PyList_SET_ITEM(parents, i, item);
        }
    }
    PyObject *ttft = duration_column(items, n, offsetof(Rec, ttft), HAS_TTFT, lists);
    PyObject *tpot = duration_column(items, n, offsetof(Rec, tpot), HAS_TPOT, lists);
    PyObject *operations = object_column(items, n, offsetof(Rec, operation));
    PyObject *models = object_column(items, n, offsetof(Rec, model));
    PyObject *errors = object_column(items, n, offsetof(Rec, error));
    PyObject *statuses = object_column(items, n, offsetof(Rec, status));
    PyObject *inputs = count_column(items, n, offsetof(Rec, input), HAS_INPUT, &input_total);
    PyObject *outputs = count_column(items, n, offsetof(Rec, output), HAS_OUTPUT, &output_total);
    PyObject *result = NULL;
    if (latency && times && parents && ttft && tpot && operations && models && errors && statuses && inputs && outputs) {
        result = Py_BuildValue("(OOOO(OOO)(nn)(OL)(OL)OO)", times, operations, models, errors, latency, ttft, tpot,
                               ttft_count, tpot_count, inputs, input_total, outputs, output_total, statuses, parents);
    }
    Py_XDECREF(latency);
    Py_XDECREF(times);
    Py_XDECREF(parents);
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

/* The records' span ids (a list of ints). */
static PyObject *
RecordBatch_span_ids(RecordBatch *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(self->len);
    for (Py_ssize_t i = 0; list != NULL && i < self->len; i++) {
        PyObject *item = PyLong_FromUnsignedLongLong(self->items[i].span_id);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
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
    {"columns", (PyCFunction)(void (*)(void))RecordBatch_columns, METH_FASTCALL,
     "columns(lists) -> the column fold's inputs, or None when it must decline the batch (see _records.c)."},
    {"span_ids", (PyCFunction)RecordBatch_span_ids, METH_NOARGS, "The records' span ids (a list of ints)."},
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

static struct PyModuleDef records_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "infertel._internal.processors._records",
    .m_doc = "The statistics buffer in C (optional; see infertel._internal.processors._buffer).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__records(void)
{
    if (PyType_Ready(&RecordsType) < 0 || PyType_Ready(&RecordBatchType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&records_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Records", (PyObject *)&RecordsType) < 0 ||
        PyModule_AddObjectRef(module, "RecordBatch", (PyObject *)&RecordBatchType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
