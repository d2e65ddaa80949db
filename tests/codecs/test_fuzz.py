"""Fuzzing the decoder with real streams (SCIC/JPEG and DNNC/dct in both entropy models from a tiny real
model), truncated,
bit-flipped, spliced, random, and with corrupt payloads (as decoded and as stored) re-framed in a valid container (so the codec
decoders themselves see the damage, not only the CRCs).

Every case must either decode to an image of the declared size in [0, 1] or raise a one-line
BitstreamError; each case runs under a time limit (a hang fails) and an allocation bound
(tracemalloc, which sees Python and NumPy buffers). `make test` runs 500 cases, `make test-full` all 10,000.
"""

from __future__ import annotations

import resource
import signal
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from conftest import natural_crop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcnlit.codecs import BitstreamError, DnncCodec, StandardCodec, pack, unpack
from vcnlit.codecs.byteio import ByteReader, put_varint
from vcnlit.compressor import Compressor
from vcnlit.nets import ResamplingSystem
from vcnlit.pixels import from_uint8

CASES = 10_000
FAST_CASES = 500  # the fast tier's share
PER_CASE_S = 10  # generous: a case takes milliseconds
ALLOC_BOUND = 64 << 20  # bytes allocated at once by one case (declared sizes are at most 300x300)
KINDS = ("truncate", "flip", "splice", "random", "payload_flip", "payload_truncate", "payload_bytes", "header",
         "stored")


@contextmanager
def time_limit(seconds: float):
    def fail(*_):
        raise TimeoutError(f"decoding took over {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def seeds() -> Iterator[list[tuple[Compressor, bytes]]]:
    # tiny tensors: one thread (several threads on a busy machine spend their time waiting on each other)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = []
    new = {"entropy": "context", "colour": "ycbcr420", "deadzone": 0.45, "deadzone_hf": 0.1}  # the context model's format
    for codec, channels, scale, rates in ((StandardCodec("jpeg", 50), 3, 2, (10, 80)),
                                          (DnncCodec(8.0), 1, 1, (4.0, 32.0)),
                                          (DnncCodec(8.0), 3, 2, (16.0,)),
                                          (DnncCodec(8.0, **new), 1, 1, (2.0, 32.0)),
                                          (DnncCodec(8.0, **new), 3, 2, (4.0, 40.0))):
        system = ResamplingSystem(channels=channels, scale=scale, width=8, rsn_depth=1, idn_depth=1,
                                  outer_kernel=3).eval()
        comp = Compressor(system, codec, tile_size=32)  # tiled decoding is fuzzed too
        for size in ((40, 56), (1, 1), (17, 9)):
            x = from_uint8(natural_crop("astronaut", size, rgb=channels == 3))
            out += [(comp, comp.compress(x, r)) for r in rates]
    yield out
    torch.set_num_threads(threads)


def _mutate(kind: str, data: bytes, draw) -> bytes:
    n = len(data)
    if kind == "truncate":
        return data[: draw(st.integers(0, n - 1))]
    if kind == "flip":
        bad = bytearray(data)
        for i in draw(st.lists(st.integers(0, 8 * n - 1), min_size=1, max_size=8, unique=True)):
            bad[i // 8] ^= 1 << (i % 8)
        return bytes(bad)
    if kind == "splice":
        i = draw(st.integers(0, n))
        return data[:i] + draw(st.binary(max_size=64)) + data[draw(st.integers(i, n)):]
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "stored":  # damage the payload as stored (a compact or recompressed JPEG), framed with a valid CRC
        r = ByteReader(data, "stream")
        r.read(5)
        body = r.read(r.varint())
        stored = r.read(r.varint())
        i = draw(st.integers(0, len(stored)))
        stored = stored[:i] + draw(st.binary(max_size=8)) + stored[draw(st.integers(i, len(stored))):]
        out = bytearray(data[:5])
        put_varint(out, len(body))
        out += body
        put_varint(out, len(stored))
        out += stored
        return bytes(out) + struct.pack(">I", zlib.crc32(out))
    hdr, payload = unpack(data)
    m = len(payload)
    if kind == "payload_flip" and m:
        bad = bytearray(payload)
        for i in draw(st.lists(st.integers(0, 8 * m - 1), min_size=1, max_size=8, unique=True)):
            bad[i // 8] ^= 1 << (i % 8)
        payload = bytes(bad)
    elif kind == "payload_truncate" and m:
        payload = payload[: draw(st.integers(0, m - 1))]
    elif kind == "payload_bytes":
        i = draw(st.integers(0, m))
        payload = payload[:i] + draw(st.binary(max_size=32)) + payload[draw(st.integers(i, m)):]
    elif kind == "header":  # plausible but wrong sizes and rates, framed with valid CRCs
        hdr.height = draw(st.integers(1, 300))
        hdr.width = draw(st.integers(1, 300))
        hdr.rate = draw(st.sampled_from([hdr.rate, 0.0, -1.0, 1e-9, 1e9, 95.0, 4.0]))
    return pack(hdr, payload)


def _check(comp: Compressor, data: bytes, kind: str) -> str:
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    with time_limit(PER_CASE_S):
        try:
            x = comp.decompress(data)
        except BitstreamError as e:
            assert "\n" not in str(e)
            result = "rejected"
        else:
            hdr, _ = unpack(data)
            assert x.shape == (hdr.channels, hdr.height, hdr.width)
            assert bool(torch.isfinite(x).all()) and 0 <= float(x.min()) <= float(x.max()) <= 1
            result = "decoded"
        if kind.startswith("payload") and isinstance(comp.codec, DnncCodec):
            # the DNNC decoder itself must reject damage with BitstreamError, not some other error
            hdr, payload = unpack(data)
            m, s = comp.multiple, comp.system.scale
            try:
                comp.codec.decode(payload, (hdr.channels, *(-(-v // m) * m // s for v in (hdr.height, hdr.width))))
            except BitstreamError:
                pass
    assert tracemalloc.get_traced_memory()[1] - base < ALLOC_BOUND
    if kind in ("truncate", "flip"):  # the container's CRCs and lengths catch these
        assert result == "rejected"
    return result


def _fuzz(seeds: list[tuple[Compressor, bytes]], n: int) -> dict[str, int]:
    counts: dict[str, int] = {}

    @settings(max_examples=n, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data):
        comp, stream = data.draw(st.sampled_from(seeds))
        kind = data.draw(st.sampled_from(KINDS))
        result = _check(comp, _mutate(kind, stream, data.draw), kind)
        counts[result] = counts.get(result, 0) + 1

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        case()
    finally:
        tracemalloc.stop()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 512 * 1024  # KiB
    return counts


def test_seeds_decode(seeds):
    for comp, stream in seeds:
        hdr, _ = unpack(stream)
        assert comp.decompress(stream).shape == (hdr.channels, hdr.height, hdr.width)


@pytest.mark.parametrize("cases", [FAST_CASES, pytest.param(CASES, marks=pytest.mark.slow)])
def test_fuzz_decoder(seeds, cases):
    counts = _fuzz(seeds, cases)
    print(f"fuzz: {counts}")
    assert sum(counts.values()) >= cases and counts.get("rejected", 0) > 0
