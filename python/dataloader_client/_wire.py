# Copyright 2026 The dataloader Authors.
"""The protobuf wire format of data_loader.proto, read and written directly.

Why not generated protobuf classes: reading a `bytes` field of a Python protobuf message
copies it, on every access. Here a batch's tensors are numpy.frombuffer views of the received
message bytes (no copy), and the package needs nothing beyond numpy (and grpcio for the
fallback backend): no protoc-generated code whose protobuf runtime must match.

Follows protobuf's parsing rules: unknown fields (and known fields with another wire type)
are skipped, the last value of a scalar wins, repeated int64 fields may be packed or not. A
message that protobuf would refuse raises DataLoaderError(INTERNAL) naming what is wrong, as
does a tensor whose data does not fit its dtype and shape.
"""

import numpy as np

from ._errors import DataLoaderError, StatusCode

# DType enum value -> (name, numpy dtype). bfloat16 has no numpy type: its raw bits come as
# uint16 (dataloader_client.torch views them as torch.bfloat16).
DTYPES = {
    1: ("uint8", np.dtype("|u1")),
    2: ("int8", np.dtype("|i1")),
    3: ("int16", np.dtype("<i2")),
    4: ("int32", np.dtype("<i4")),
    5: ("int64", np.dtype("<i8")),
    6: ("float16", np.dtype("<f2")),
    7: ("bfloat16", np.dtype("<u2")),
    8: ("float32", np.dtype("<f4")),
    9: ("float64", np.dtype("<f8")),
    10: ("bool", np.dtype("|b1")),
}
DTYPE_NAMES = {code: name for code, (name, _) in DTYPES.items()}

_VARINT, _FIXED64, _BYTES, _START_GROUP, _END_GROUP, _FIXED32 = 0, 1, 2, 3, 4, 5
_INT64 = np.dtype("<i8")
_EMPTY_IDS = np.zeros(0, dtype=_INT64)


def _malformed(what, position):
    return DataLoaderError(StatusCode.INTERNAL,
                           f"malformed message from the server: {what} at byte {position}")


def _varint(buf, pos, end):
    """(value, next position) of the varint at pos."""
    result = 0
    shift = 0
    while shift < 70:
        if pos >= end:
            raise _malformed("truncated varint", pos)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
    raise _malformed("varint longer than 10 bytes", pos)


def _length(buf, pos, end, what):
    length, pos = _varint(buf, pos, end)
    if length > end - pos:
        raise _malformed(f"truncated {what}", pos)
    return length, pos


def _skip(buf, field, wire_type, pos, end, depth=0):
    if wire_type == _VARINT:
        return _varint(buf, pos, end)[1]
    if wire_type in (_FIXED64, _FIXED32):
        size = 8 if wire_type == _FIXED64 else 4
        if size > end - pos:
            raise _malformed("truncated field", pos)
        return pos + size
    if wire_type == _BYTES:
        length, pos = _length(buf, pos, end, "field")
        return pos + length
    if wire_type == _START_GROUP and depth < 100:
        while True:
            if pos >= end:
                raise _malformed("truncated group", pos)
            tag, pos = _varint(buf, pos, end)
            if tag & 7 == _END_GROUP:
                if tag >> 3 != field:
                    raise _malformed(f"group {field} ended by field {tag >> 3}", pos)
                return pos
            pos = _skip(buf, tag >> 3, tag & 7, pos, end, depth + 1)
    raise _malformed(f"field {field} with wire type {wire_type}", pos)


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _int32(value):
    """An enum's varint as protobuf reads it: the low 32 bits, signed."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _packed_int64s(buf, pos, end):
    """The varints in buf[pos:end] as an int64 array (vectorized: one pass per byte)."""
    raw = np.frombuffer(buf, dtype=np.uint8, count=end - pos, offset=pos)
    if raw.size == 0:
        return _EMPTY_IDS
    last = raw < 0x80  # The last byte of each varint.
    if not last[-1]:
        raise _malformed("truncated packed varint", end)
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if int((ends - starts).max()) >= 10:
        raise _malformed("varint longer than 10 bytes", pos)
    # Position of each byte within its varint: index - start of its varint.
    group = np.repeat(np.arange(ends.size), ends - starts + 1)
    shift = (np.arange(raw.size) - starts[group]).astype(np.uint64) * np.uint64(7)
    parts = (raw & 0x7F).astype(np.uint64) << shift
    return np.add.reduceat(parts, starts).view(_INT64)


def _int64s(buf, wire_type, pos, end, out):
    """Appends a repeated int64 field (packed or one varint) to the list `out`."""
    if wire_type == _VARINT:
        value, pos = _varint(buf, pos, end)
        out.append(np.array([_signed(value)], dtype=_INT64))
        return pos
    length, pos = _length(buf, pos, end, "packed field")
    out.append(_packed_int64s(buf, pos, pos + length))
    return pos + length


def _joined(parts):
    if not parts:
        return _EMPTY_IDS
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _utf8(buf, pos, end, what):
    try:
        return bytes(buf[pos:end]).decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(f"{what} is not valid UTF-8", pos) from None


def _tensor(buf, pos, end):
    """(name, dtype code, shape tuple, array) of the Tensor message in buf[pos:end]."""
    name = ""
    dtype = 0
    shape_parts = []
    data = None
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        field, wire_type = tag >> 3, tag & 7
        if field == 0:
            raise _malformed("field number 0", pos)
        if field == 1 and wire_type == _BYTES:
            length, pos = _length(buf, pos, end, "tensor name")
            name = _utf8(buf, pos, pos + length, "a tensor name")
            pos += length
        elif field == 2 and wire_type == _VARINT:
            value, pos = _varint(buf, pos, end)
            dtype = _int32(value)
        elif field == 3 and wire_type in (_VARINT, _BYTES):
            pos = _int64s(buf, wire_type, pos, end, shape_parts)
        elif field == 4 and wire_type == _BYTES:
            length, pos = _length(buf, pos, end, "tensor data")
            data = (pos, length)
            pos += length
        else:
            pos = _skip(buf, field, wire_type, pos, end, 1)
    shape = tuple(int(d) for d in _joined(shape_parts))
    entry = DTYPES.get(dtype)
    if entry is None:
        raise DataLoaderError(
            StatusCode.INTERNAL,
            f"tensor '{name}' has dtype DType({dtype}), which this client does not know")
    numpy_dtype = entry[1]
    elements = 1
    for dim in shape:
        if dim < 0:
            raise DataLoaderError(StatusCode.INTERNAL,
                                  f"tensor '{name}' has shape {list(shape)} with a negative "
                                  "dimension")
        elements *= dim
    start, size = data if data is not None else (0, 0)
    if elements * numpy_dtype.itemsize != size:
        raise DataLoaderError(
            StatusCode.INTERNAL,
            f"tensor '{name}' ({entry[0]}, shape {list(shape)}) has {size} bytes of data, "
            f"expected {elements * numpy_dtype.itemsize}")
    array = np.frombuffer(buf, dtype=numpy_dtype, count=elements, offset=start)
    if not array.flags.aligned:
        array = array.copy()  # Misaligned for its element type: the one copy allowed.
    return name, dtype, array.reshape(shape)


def decode_batch(buf):
    """(sequence, epoch, resume_token, sample_ids, [(name, dtype, array), ...]) of a
    serialized Batch. The arrays are views of `buf` (bytes), read-only, kept alive by it."""
    end = len(buf)
    pos = 0
    sequence = epoch = 0
    token = b""
    ids = []
    tensors = []
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        field, wire_type = tag >> 3, tag & 7
        if field == 0:
            raise _malformed("field number 0", pos)
        if field == 1 and wire_type == _VARINT:
            sequence, pos = _varint(buf, pos, end)
        elif field == 2 and wire_type == _VARINT:
            epoch, pos = _varint(buf, pos, end)
        elif field == 3 and wire_type == _BYTES:
            length, pos = _length(buf, pos, end, "tensor")
            tensors.append(_tensor(buf, pos, pos + length))
            pos += length
        elif field == 4 and wire_type in (_VARINT, _BYTES):
            pos = _int64s(buf, wire_type, pos, end, ids)
        elif field == 5 and wire_type == _BYTES:
            length, pos = _length(buf, pos, end, "resume_token")
            token = bytes(buf[pos:pos + length])
            pos += length
        else:
            pos = _skip(buf, field, wire_type, pos, end)
    return sequence, epoch, token, _joined(ids), tensors


def _put_varint(out, value):
    value &= 0xFFFFFFFFFFFFFFFF
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_bytes(out, field, value):
    _put_varint(out, (field << 3) | _BYTES)
    _put_varint(out, len(value))
    out += value


def encode_request(pipeline, shard_index, shard_count, epoch, seed, resume_token, max_batches):
    """A serialized StreamBatchesRequest (fields at their defaults are left out, as protobuf
    does)."""
    out = bytearray()
    if pipeline:
        _put_bytes(out, 1, pipeline.encode("utf-8"))
    for field, value in ((2, shard_index), (3, shard_count), (4, epoch), (5, seed)):
        if value:
            _put_varint(out, field << 3)
            _put_varint(out, value)
    if resume_token:
        _put_bytes(out, 6, resume_token)
    if max_batches:
        _put_varint(out, 7 << 3)
        _put_varint(out, max_batches)
    return bytes(out)


def _fields(buf, pos, end):
    """(field, wire type, value) of each field in buf[pos:end]; a length-delimited value is
    its (start, end)."""
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        field, wire_type = tag >> 3, tag & 7
        if field == 0:
            raise _malformed("field number 0", pos)
        if wire_type == _VARINT:
            value, pos = _varint(buf, pos, end)
            yield field, wire_type, value
        elif wire_type == _BYTES:
            length, pos = _length(buf, pos, end, "field")
            yield field, wire_type, (pos, pos + length)
            pos += length
        else:
            pos = _skip(buf, field, wire_type, pos, end)


def decode_list_pipelines(buf):
    """The PipelineInfo fields of a serialized ListPipelinesResponse, as dicts."""
    pipelines = []
    for field, wire_type, value in _fields(buf, 0, len(buf)):
        if field != 1 or wire_type != _BYTES:
            continue
        info = {"name": "", "description": "", "samples_per_epoch": 0, "batch_size": 0,
                "tensors": [], "drop_last": False, "shuffle": False, "exact_order": False,
                "remainder_policy": 0, "max_batch_bytes": 0}
        for f, t, v in _fields(buf, *value):
            if f in (1, 2) and t == _BYTES:
                info["name" if f == 1 else "description"] = _utf8(buf, v[0], v[1], "a name")
            elif f in (3, 4, 9, 10) and t == _VARINT:
                key = {3: "samples_per_epoch", 4: "batch_size", 9: "remainder_policy",
                       10: "max_batch_bytes"}[f]
                info[key] = v
            elif f in (6, 7, 8) and t == _VARINT:
                info[{6: "drop_last", 7: "shuffle", 8: "exact_order"}[f]] = v != 0
            elif f == 5 and t == _BYTES:
                spec = {"name": "", "dtype": 0, "shape": []}
                for sf, st, sv in _fields(buf, *v):
                    if sf == 1 and st == _BYTES:
                        spec["name"] = _utf8(buf, sv[0], sv[1], "a tensor name")
                    elif sf == 2 and st == _VARINT:
                        spec["dtype"] = _int32(sv)
                    elif sf == 3 and st == _BYTES:
                        spec["shape"] += [int(d) for d in _packed_int64s(buf, *sv)]
                    elif sf == 3 and st == _VARINT:
                        spec["shape"].append(_signed(sv))
                info["tensors"].append(spec)
        pipelines.append(info)
    return pipelines


# A merged stream's resume token: the client's own, holding each sub-stream's server token
# and the merge position. Never sent to a server (a server token starts with a field tag,
# never with this magic).
_MERGED_MAGIC = b"DLMS\x01"


def encode_merged_token(tokens, next_sub_stream):
    out = bytearray(_MERGED_MAGIC)
    _put_varint(out, len(tokens))
    _put_varint(out, next_sub_stream)
    for token in tokens:
        _put_varint(out, len(token))
        out += token
    return bytes(out)


def is_merged_token(token):
    return token[:4] == _MERGED_MAGIC[:4]


def decode_merged_token(token):
    """(tokens, next_sub_stream) of a merged-stream token; ValueError if it is not one."""
    if not token.startswith(_MERGED_MAGIC):
        raise ValueError("not a merged-stream resume token of this client version")
    end = len(token)
    try:
        count, pos = _varint(token, len(_MERGED_MAGIC), end)
        turn, pos = _varint(token, pos, end)
        tokens = []
        for _ in range(count):
            length, pos = _length(token, pos, end, "token")
            tokens.append(bytes(token[pos:pos + length]))
            pos += length
    except DataLoaderError as error:
        raise ValueError(f"a corrupt merged-stream resume token ({error.message})") from None
    if pos != end:
        raise ValueError("a corrupt merged-stream resume token (trailing bytes)")
    return tokens, turn
