"""The safetensors file format, read and written by hand (no extra dependency).

    bytes 0..8      N, the header length, an unsigned 64-bit little-endian integer
    bytes 8..8+N    a JSON header: {name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}
                    plus an optional "__metadata__": {str: str}
    bytes 8+N..     the raw little-endian tensor bytes; tensor `name` is data[b:e]

This is the layout in which Hugging Face publishes GPT-2 (model.safetensors), which is all
`GPT.from_pretrained` needs.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import torch

from rlhf_from_scratch.utils.errors import ConfigError

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


def load_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read every tensor of a .safetensors file; returns (tensors, metadata)."""
    if sys.byteorder != "little":  # pragma: no cover - every machine we run on is little-endian
        raise RuntimeError("this reader assumes a little-endian machine")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"safetensors file '{path}' does not exist")
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ConfigError(f"'{path}' is too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"'{path}' is not a safetensors file (bad header: {error})") from None
    metadata = header.pop("__metadata__", {}) or {}
    data = bytearray(raw[8 + n :])  # writable copy: torch.frombuffer wants a mutable buffer
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in DTYPES:
            raise ConfigError(f"tensor '{name}' in '{path}' has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if end == begin:
            tensor = torch.empty(0, dtype=dtype)
        else:
            tensor = torch.frombuffer(data[begin:end], dtype=dtype)
        tensors[name] = tensor.reshape(info["shape"]).clone()
    return tensors, metadata


def save_file(
    tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None
) -> None:
    """Write tensors in the safetensors layout (the header is padded with spaces to 8 bytes)."""
    header: dict = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        # A uint8 view of the tensor's memory is its raw little-endian bytes.
        blob = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {
            "dtype": NAMES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        chunks.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in chunks:
            f.write(blob)
