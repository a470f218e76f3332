"""The versioned binary encoding of a tick block (layout in docs/storage.md).

Ticks are sorted by timestamp; timestamps and price coefficients are delta-encoded as varints, so
a tick of a liquid symbol costs 6-10 bytes instead of the ~100 of one DynamoDB item per tick.
Decimals are stored as (coefficient, scale), which reproduces their text exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = ["VERSION", "DecodeError", "EncodedTick", "TickFields", "decode_block", "encode_block"]

VERSION: Final = 1
_HAS_SIZE: Final = 1
_HAS_ID: Final = 2


class DecodeError(ValueError):
    """The bytes are not a block of a version this code reads."""


@dataclass(frozen=True, slots=True)
class EncodedTick:
    """A tick as a block holds it: the symbol is the block's, not the tick's."""

    timestamp: int
    price: str
    size: str | None = None
    id: str | None = None


class TickFields(Protocol):
    """What encoding reads of a tick (a validated `Tick` or an `EncodedTick`)."""

    @property
    def timestamp(self) -> int: ...
    @property
    def price(self) -> str: ...
    @property
    def size(self) -> str | None: ...
    @property
    def id(self) -> str | None: ...


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _join_decimal(coefficient: int, scale: int) -> str:
    digits = str(coefficient)
    if not scale:
        return digits
    digits = digits.rjust(scale + 1, "0")
    return f"{digits[:-scale]}.{digits[-scale:]}"


def encode_block(ticks: Sequence[TickFields]) -> bytes:
    """Encode ticks already sorted by timestamp (the caller sorts; the order is kept)."""
    out = bytearray((VERSION,))
    put = _put_varint
    append = out.append
    put(out, len(ticks))
    previous_ts = ticks[0].timestamp if ticks else 0
    put(out, previous_ts)
    previous_coefficient = 0
    for tick in ticks:
        size, tick_id = tick.size, tick.id
        append((_HAS_SIZE if size is not None else 0) | (_HAS_ID if tick_id is not None else 0))
        delta_ts = tick.timestamp - previous_ts
        if delta_ts < 0:
            raise ValueError("ticks must be sorted by timestamp")
        # Most deltas fit one byte: skip the varint call for them (this loop is the hot path).
        if delta_ts < 0x80:
            append(delta_ts)
        else:
            put(out, delta_ts)
        previous_ts = tick.timestamp
        whole, _, frac = tick.price.partition(".")
        coefficient = int(whole + frac) if frac else int(whole)
        delta = coefficient - previous_coefficient
        zigzag = (delta << 1) if delta >= 0 else ((-delta << 1) - 1)
        if zigzag < 0x80:
            append(zigzag)
        else:
            put(out, zigzag)
        previous_coefficient = coefficient
        append(len(frac))
        if size is not None:
            whole, _, frac = size.partition(".")
            put(out, int(whole + frac) if frac else int(whole))
            append(len(frac))
        if tick_id is not None:
            raw = tick_id.encode("ascii")
            append(len(raw))  # ids are at most 64 characters: one varint byte
            out += raw
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError("block is truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift > 140:
                raise DecodeError("varint too long")

    def raw(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError("block is truncated")
        value = self.data[self.pos : end]
        self.pos = end
        return value


def decode_block(data: bytes) -> list[EncodedTick]:
    """Decode a block written by any supported version; DecodeError if it is not one."""
    reader = _Reader(data)
    version = reader.byte()
    if version != VERSION:
        raise DecodeError(f"unknown block version {version}")
    count = reader.varint()
    timestamp = reader.varint()
    coefficient = 0
    ticks: list[EncodedTick] = []
    for _ in range(count):
        flags = reader.byte()
        timestamp += reader.varint()
        zigzag = reader.varint()
        coefficient += (zigzag >> 1) if not zigzag & 1 else -((zigzag + 1) >> 1)
        price = _join_decimal(coefficient, reader.byte())
        size = None
        if flags & _HAS_SIZE:
            size_coefficient = reader.varint()
            size = _join_decimal(size_coefficient, reader.byte())
        tick_id = None
        if flags & _HAS_ID:
            try:
                tick_id = reader.raw(reader.varint()).decode("ascii")
            except UnicodeDecodeError:
                raise DecodeError("tick id is not ASCII") from None
        ticks.append(EncodedTick(timestamp, price, size, tick_id))
    if reader.pos != len(data):
        raise DecodeError("trailing bytes after the last tick")
    return ticks
