/* A nesting check run on ONNX bytes before protobuf-c unpacks them.
 *
 * protobuf-c's unpacker recurses once per nested message and has no depth
 * limit, and the ONNX schema is recursive (a graph holds nodes whose
 * attributes hold graphs; a type holds a sequence of a type), so a few
 * kilobytes of crafted input could exhaust the stack. This walker knows
 * which fields of onnx.proto lead back into a recursive message and follows
 * only those, iteratively over siblings, refusing nesting deeper than a
 * fixed limit. It is a guard, not a parser: malformed bytes are left to
 * protobuf-c to reject. */
#include "nn/onnx/onnx.h"

enum {
    M_MODEL,
    M_GRAPH,
    M_NODE,
    M_ATTR,
    M_VALUEINFO,
    M_TYPE,
    M_TYPE_ONE,
    M_TYPE_MAP,
    M_FUNCTION,
    M_TRAINING
};

/* The kind of the sub-message in `field` of a `kind` message, or -1 when
 * that field cannot lead to recursion. Field numbers are onnx.proto's. */
static int child(int kind, unsigned field) {
    switch (kind) {
    case M_MODEL:
        return field == 7 ? M_GRAPH : field == 20 ? M_TRAINING : field == 25 ? M_FUNCTION : -1;
    case M_TRAINING:
        return field == 1 || field == 2 ? M_GRAPH : -1;
    case M_GRAPH:
        return field == 1 ? M_NODE : field >= 11 && field <= 13 ? M_VALUEINFO : -1;
    case M_NODE:
        return field == 5 ? M_ATTR : -1;
    case M_ATTR:
        return field == 6 || field == 11 ? M_GRAPH : field == 14 || field == 15 ? M_TYPE : -1;
    case M_VALUEINFO:
        return field == 2 ? M_TYPE : -1;
    case M_TYPE:
        return field == 4 || field == 9 ? M_TYPE_ONE : field == 5 ? M_TYPE_MAP : -1;
    case M_TYPE_ONE:
        return field == 1 ? M_TYPE : -1; /* Sequence / Optional elem_type */
    case M_TYPE_MAP:
        return field == 2 ? M_TYPE : -1;
    case M_FUNCTION:
        return field == 7 ? M_NODE : -1;
    default:
        return -1;
    }
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* 0: fine (or malformed: protobuf-c will say so); -1: too deep. */
static int walk(const uint8_t *p, const uint8_t *end, int kind, unsigned depth, unsigned max) {
    if (depth > max) return -1;
    while (p < end) {
        uint64_t key, len;
        if (varint(&p, end, &key) < 0) return 0;
        switch (key & 7) {
        case 0:
            if (varint(&p, end, &len) < 0) return 0;
            break;
        case 1:
            if (end - p < 8) return 0;
            p += 8;
            break;
        case 5:
            if (end - p < 4) return 0;
            p += 4;
            break;
        case 2: {
            if (varint(&p, end, &len) < 0 || len > (uint64_t)(end - p)) return 0;
            int sub = child(kind, (unsigned)(key >> 3 > 0xffffffffu ? 0 : key >> 3));
            if (sub >= 0 && walk(p, p + len, sub, depth + 1, max) < 0) return -1;
            p += len;
            break;
        }
        default:
            return 0; /* groups and invalid wire types */
        }
    }
    return 0;
}

int onnx_check_depth(const uint8_t *buf, size_t len, unsigned max_depth) {
    if (walk(buf, buf + len, M_MODEL, 0, max_depth) < 0)
        return err_set(PARLEY_E_FORMAT, "ONNX model nests messages deeper than %u levels",
                       max_depth);
    return 0;
}
