# Copyright 2026 The dataloader Authors.
"""Writes the fuzzers' seed corpora, tests/fuzz/corpus/<target>/ (small, committed).

Rerun from anywhere (it writes next to itself, replacing the seed files it makes):

    /usr/bin/python3 tests/fuzz/make_seeds.py

Standard library only: protobuf messages are written with their wire format by hand (field
numbers from proto/dataloader/v1/*.proto), so that seeds can hold what no generated code
writes (a uint32 past 2^32, a string that is not UTF-8, a field with the wrong wire type).

  server_config/   the shipped configs (deploy/), the built-in default, one pipeline per op
                   with its arguments, file sources (a list file after "@@list"), and values
                   at and past the limits.
  stream_request/  one mode byte (see stream_request_fuzzer.cc), then a StreamBatchesRequest:
                   plain requests, edge values, and resume points to be signed (mode 1) and
                   given the pipeline's fingerprint (mode 3).
  image_decode/    every image of tests/data/images (good and bad).
  client_batch/    Batch messages: each dtype, scalars, empty and zero-sized tensors, sizes
                   that do not match, negative and huge dimensions, unknown dtypes.
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, data):
    if isinstance(data, str):
        data = data.encode()
    return varint((number << 3) | 2) + varint(len(data)) + data


def field_fixed64(number, value):
    return varint((number << 3) | 1) + struct.pack("<Q", value)


def packed(number, values):
    return field_bytes(number, b"".join(varint(v) for v in values))


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- server_config --------------------------------------------------------------------------

DEFAULT_CONFIG = """pipelines {
  name: "synthetic"
  description: "10,000 generated 128x128 RGB images"
  synthetic { num_samples: 10000 height: 128 width: 128 channels: 3 num_classes: 1000 }
  stages { op: "random_brightness" args { key: "max_delta" value: "32" } concurrency: 2 }
  stages {
    op: "normalize"
    args { key: "mean" value: "0.485,0.456,0.406" }
    args { key: "std" value: "0.229,0.224,0.225" }
    args { key: "layout" value: "chw" }
    concurrency: 2
  }
  batch_size: 32
  load_concurrency: 2
  sink_buffer: 4
}
"""

EVERY_OP = """pipelines {
  name: "images"
  image_folder { root: "/pinned/by/the/fuzzer" extensions: "jpg" extensions: ".PNG" }
  stages { name: "read" op: "read_file" args { key: "max_bytes" value: "1048576" } concurrency: 8 }
  stages { op: "decode_image" args { key: "min_size" value: "256" } args { key: "max_pixels" value: "1000000" } }
  stages { op: "resize" args { key: "shorter_side" value: "256" } args { key: "filter" value: "area" } }
  stages { op: "center_crop" args { key: "size" value: "224,200" } }
  stages { op: "random_resized_crop" args { key: "size" value: "112" } args { key: "scale" value: "0.08,1" } args { key: "ratio" value: "0.75,1.3333" } }
  stages { op: "random_horizontal_flip" args { key: "p" value: "0.5" } output_order: OUTPUT_ORDER_COMPLETION }
  stages { op: "cast" args { key: "dtype" value: "float32" } }
  stages { op: "cast" args { key: "dtype" value: "uint8" } }
  stages { op: "random_brightness" args { key: "max_delta" value: "255" } }
  stages { op: "normalize" args { key: "mean" value: "0.5,0.5,0.5" } args { key: "std" value: "0.25" } args { key: "layout" value: "hwc" } max_failures: 3 }
  stages { op: "cpu_cost" args { key: "micros" value: "0" } }
  stages { op: "latency" args { key: "millis" value: "0.5" } concurrency: 64 }
  batch_size: 16
  drop_last: true
  shuffle: false
  max_failures: 100
}
pipelines {
  name: "train"
  image_folder { root: "/x" }
  stages { op: "read_file" }
  stages { op: "decode_random_resized_crop" args { key: "size" value: "224" } args { key: "flip" value: "0.5" } }
  batch_size: 32
}
"""

FILE_LIST = """pipelines {
  name: "listed"
  file_list { root: "/x" list_file: "/x/list.txt" }
  stages { op: "read_file" }
  stages { op: "decode_image" }
  batch_size: 2
}

@@list
a/1.jpg 0
b/c/3.png 1
# a comment
  a/2.JPEG	  7
"""

EDGES = [
    # Integers at and past the limits, non-finite numbers, missing and repeated things.
    'pipelines { name: "a" synthetic { num_samples: 281474976710656 } batch_size: 1 }',
    'pipelines { name: "a" synthetic { num_samples: 1 height: 65535 width: 65535 channels: 65535 } batch_size: 1 }',
    'pipelines { name: "a" synthetic {} batch_size: 18446744073709551615 load_concurrency: 65537 }',
    'pipelines { name: "a" synthetic {} batch_size: 8 stages { op: "latency" args { key: "millis" value: "nan" } concurrency: 2000000000 } }',
    'pipelines { name: "a" synthetic {} batch_size: 8 stages { op: "normalize" args { key: "std" value: "inf,0,-1" } } max_failures: 18446744073709551615 }',
    'pipelines { name: "a" synthetic {} batch_size: 8 } pipelines { name: "a" synthetic {} batch_size: 8 }',
    'pipelines { name: "" batch_size: 8 sink_buffer: 1025 }',
    'pipelines { name: "b" synthetic {} batch_size: 8 stages { op: "resize" args { key: "size" value: "0,-3" } args { key: "shorter_side" value: "9" } } }',
    'pipelines { name: "c" synthetic {} batch_size: 8 stages { op: "no_such_op" args { key: "x" value: "y" } } }',
    'pipelines { name: "d" file_list { root: "/" list_file: "" } batch_size: 1 }\n@@list\n/etc/passwd\n../up 1\nok 99999999999\n',
]


def server_config_seeds():
    for name in ("imagenet_train.textproto", "imagenet_eval.textproto"):
        shutil.copyfile(os.path.join(ROOT, "deploy", "pipelines", name),
                        os.path.join(CORPUS, "server_config", name))
    shutil.copyfile(os.path.join(ROOT, "deploy", "kubernetes", "pipeline_config.textproto"),
                    os.path.join(CORPUS, "server_config", "kubernetes.textproto"))
    write("server_config", "default.textproto", DEFAULT_CONFIG)
    write("server_config", "every_op.textproto", EVERY_OP)
    write("server_config", "file_list.textproto", FILE_LIST)
    for i, text in enumerate(EDGES):
        write("server_config", f"edge_{i}.textproto", text)


# --- stream_request -------------------------------------------------------------------------

def request(pipeline="small", shard_index=None, shard_count=None, epoch=None, seed=None,
            token=None, max_batches=None):
    out = field_bytes(1, pipeline)
    for number, value in ((2, shard_index), (3, shard_count), (4, epoch), (5, seed)):
        if value is not None:
            out += field_varint(number, value)
    if token is not None:
        out += field_bytes(6, token)
    if max_batches is not None:
        out += field_varint(7, max_batches)
    return out


def resume_point(pipeline="small", shard_index=0, shard_count=1, epoch=2, seed=17,
                 next_sequence=5, version=1, fingerprint=0):
    return (field_varint(1, version) + field_bytes(2, pipeline) + field_fixed64(3, fingerprint)
            + field_varint(4, shard_index) + field_varint(5, shard_count) + field_varint(6, epoch)
            + field_varint(7, seed) + field_varint(8, next_sequence))


def stream_request_seeds():
    plain = {
        "empty": b"",
        "small": request(),
        "shard": request(shard_index=1, shard_count=2, epoch=2, seed=17, max_batches=3),
        "exact": request("exact", shard_index=2, shard_count=3, max_batches=1),
        "max_batches_huge": request(max_batches=(1 << 64) - 1),
        "shard_count_past_uint32": request(shard_count=1 << 32),
        "shard_index_too_big": request(shard_index=5, shard_count=5),
        "not_utf8": field_bytes(1, b"sm\xff\xfeall"),
        "wrong_wire_type": field_varint(1, 7) + field_bytes(4, b"\x01"),
        "unknown_field": request() + field_varint(99, 1) + field_fixed64(100, 1),
        "cut_short": request() + b"\x32\x05ab",
        "garbage_token": request(token=b"not a token"),
    }
    for name, data in plain.items():
        write("stream_request", f"plain_{name}", b"\x00" + data)
    signed = {
        "resume": resume_point(),
        "other_shard": resume_point(shard_index=1, shard_count=2),
        "past_the_end": resume_point(next_sequence=1 << 40),
        "past_int64": resume_point(next_sequence=(1 << 64) - 1),
        "old_version": resume_point(version=0),
        "exact_last": resume_point(pipeline="exact", epoch=0, seed=0, next_sequence=3),
    }
    for name, point in signed.items():
        data = request(epoch=2, seed=17, token=point)
        if name == "exact_last":
            data = request("exact", token=point)
        elif name == "other_shard":
            data = request(shard_index=1, shard_count=2, epoch=2, seed=17, token=point)
        write("stream_request", f"signed_{name}", b"\x01" + data)
        write("stream_request", f"signed_fingerprinted_{name}", b"\x03" + data)


# --- image_decode ---------------------------------------------------------------------------

def image_decode_seeds():
    images = os.path.join(ROOT, "tests", "data", "images")
    for name in sorted(os.listdir(images)):
        if name.endswith((".jpg", ".png", ".gif")):
            shutil.copyfile(os.path.join(images, name),
                            os.path.join(CORPUS, "image_decode", name))


# --- client_batch ---------------------------------------------------------------------------

def tensor(name, dtype, shape, data):
    return (field_bytes(1, name) + field_varint(2, dtype) + packed(3, shape)
            + field_bytes(4, data))


def batch(tensors, sequence=3, epoch=1, sample_ids=(4, 7), token=b"t"):
    out = field_varint(1, sequence) + field_varint(2, epoch)
    for t in tensors:
        out += field_bytes(3, t)
    return out + packed(4, sample_ids) + field_bytes(5, token)


# dtype value -> element size (proto/dataloader/v1/data_loader.proto's DType).
DTYPES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 2, 7: 2, 8: 4, 9: 8, 10: 1}


def client_batch_seeds():
    for dtype, size in DTYPES.items():
        data = bytes((i * 37) % 256 for i in range(2 * 3 * size))
        if dtype == 10:
            data = bytes(i % 2 for i in range(6))
        label = tensor("label", 5, [2], struct.pack("<qq", 4, 7))
        write("client_batch", f"dtype_{dtype}", batch([tensor("image", dtype, [2, 3], data), label]))
    write("client_batch", "scalar", batch([tensor("x", 8, [], struct.pack("<f", 1.5))]))
    write("client_batch", "empty", batch([], sample_ids=()))
    write("client_batch", "zero_dim", batch([tensor("x", 9, [0, 1 << 40], b"")]))
    write("client_batch", "size_mismatch", batch([tensor("x", 4, [2, 2], b"\x00" * 12)]))
    write("client_batch", "negative_dim", batch([tensor("x", 1, [-1 & ((1 << 64) - 1)], b"")]))
    write("client_batch", "overflow", batch([tensor("x", 9, [1 << 62, 1 << 62], b"")]))
    write("client_batch", "unknown_dtype", batch([tensor("x", 42, [1], b"\x00")]))
    write("client_batch", "bool_not_0_or_1", batch([tensor("mask", 10, [3], b"\x00\x01\x02")]))
    unpacked = (field_bytes(1, "x") + field_varint(2, 1) + field_varint(3, 2) + field_varint(3, 2)
                + field_bytes(4, b"abcd"))
    write("client_batch", "unpacked_shape", batch([unpacked]))


def main():
    for target in ("server_config", "stream_request", "image_decode", "client_batch"):
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    server_config_seeds()
    stream_request_seeds()
    image_decode_seeds()
    client_batch_seeds()
    total = 0
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        total += size
        print(f"{target}: {len(files)} seeds, {size} bytes")
    print(f"total {total} bytes in {CORPUS}")


if __name__ == "__main__":
    main()
