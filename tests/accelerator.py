"""A stand-in accelerator for machines without a GPU: tensors on torch's `meta` device that
carry real CPU data behind them. It behaves as CUDA does where a misplaced tensor matters:

- an op that mixes it with a CPU tensor of one or more dimensions raises (as CUDA does; a
  0-dim CPU tensor is allowed, as there; so are CPU indices and cross-device copy_);
- `.numpy()` on it raises until `.cpu()`;
- a factory call with `device=` it, drawing from a CPU generator, raises (CUDA wants its own);
- `.to(it)`, `.cpu()` and nn.Module.to move data as on a GPU.

`meta` rather than a fake `cuda`, because autograd's engine needs a device guard for the
tensors' device type, and a CPU-only torch has one for `meta` but none for `cuda`. Code under
test must then never test `device.type == "cuda"` to decide where to put a tensor (it asks
the tensors), which is the design anyway. Use inside `accelerator()`; run with the torch
backend (the compiled kernels read raw CPU pointers, which the stand-in does not have)."""

from __future__ import annotations

import contextlib

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

DEVICE = torch.device("meta")
_MIXING_ALLOWED = {torch.ops.aten.copy_.default, torch.ops.aten.index.Tensor, torch.ops.aten._to_copy.default}


class Mixed(RuntimeError):
    """A CPU tensor met an accelerator one: on a GPU this op would fail."""


class OnAccelerator(torch.Tensor):
    @staticmethod
    def __new__(cls, data: torch.Tensor):
        if type(data) is not torch.Tensor:  # a Parameter: wrap its data (Module.to makes it a Parameter again)
            data = data.detach()
        out = torch.Tensor._make_wrapper_subclass(
            cls,
            data.size(),
            strides=data.stride(),
            storage_offset=data.storage_offset(),
            dtype=data.dtype,
            device=DEVICE,
            requires_grad=data.requires_grad,
        )
        out.data_cpu = data
        return out

    def __repr__(self):
        return f"OnAccelerator({self.data_cpu!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        cpu = []

        def unwrap(x):
            if isinstance(x, OnAccelerator):
                return x.data_cpu
            if isinstance(x, torch.Tensor) and x.dim() > 0:
                cpu.append(x)
            return x

        args, kwargs_cpu = tree_map(unwrap, (args, kwargs))
        if cpu and func not in _MIXING_ALLOWED:
            raise Mixed(f"{func}: a CPU tensor of shape {tuple(cpu[0].shape)} met one on the accelerator")
        to_cpu = func is torch.ops.aten._to_copy.default and _is_cpu(kwargs.get("device"))
        if "device" in kwargs_cpu:
            kwargs_cpu["device"] = torch.device("cpu")
        out = func(*args, **kwargs_cpu)
        if to_cpu:
            return out
        return tree_map(lambda x: OnAccelerator(x) if type(x) is torch.Tensor else x, out)


def _list_index(args) -> bool:
    index = args[1] if isinstance(args[1], tuple) else (args[1],)
    return isinstance(args[0], OnAccelerator) and any(isinstance(i, list) for i in index)


def _is_cpu(device) -> bool:
    return device is not None and torch.device(device).type == "cpu"


def _is_accelerator(device) -> bool:
    return device is not None and torch.device(device).type == DEVICE.type


class _Mode(TorchFunctionMode):
    """Turns factory calls and moves to the accelerator into OnAccelerator tensors."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.Tensor.to:
            rest, target = list(args[1:]), kwargs.get("device")
            for i, x in enumerate(rest):
                if isinstance(x, (str, torch.device)):
                    target, rest[i] = x, "cpu"
            if _is_accelerator(target):
                kwargs["device"] = "cpu" if "device" in kwargs else None
                if kwargs["device"] is None:
                    del kwargs["device"]
                src = args[0].data_cpu if isinstance(args[0], OnAccelerator) else args[0]
                return OnAccelerator(func(src, *rest, **kwargs))
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__) and _list_index(args):
            # A Python list index becomes an index tensor inside C++ on the indexed tensor's
            # device: on `meta` it would hold no data, so index the data itself (no autograd:
            # hfcli indexes by lists only where nothing needs a gradient).
            plain = tree_map(lambda x: x.data_cpu if isinstance(x, OnAccelerator) else x, args)
            out = func(*plain)
            return OnAccelerator(out) if type(out) is torch.Tensor else out
        if func is torch.Tensor.tolist and isinstance(args[0], OnAccelerator):
            return args[0].data_cpu.tolist()  # as on a GPU: a copy to the host
        if func is torch.Tensor.numpy and isinstance(args[0], OnAccelerator):
            raise TypeError("can't convert an accelerator tensor to numpy: use Tensor.cpu() first")
        if _is_accelerator(kwargs.get("device")):
            gen = kwargs.get("generator")
            if gen is not None and gen.device.type != DEVICE.type:
                raise Mixed(f"{func.__name__}: a CPU generator cannot draw on the accelerator")
            kwargs["device"] = "cpu"
            out = func(*args, **kwargs)
            return OnAccelerator(out) if type(out) is torch.Tensor else out
        if func is torch.Generator and _is_accelerator(args[0] if args else kwargs.get("device")):
            raise Mixed("no generator on the accelerator in these tests: draw on the CPU and move")
        return func(*args, **kwargs)


@contextlib.contextmanager
def accelerator():
    """Within: device DEVICE is the stand-in, and nn.Module.to(DEVICE) moves parameters there."""
    swap = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        with _Mode():
            yield DEVICE
    finally:
        torch.__future__.set_swap_module_params_on_conversion(swap)


def on_accelerator(t: torch.Tensor) -> bool:
    return isinstance(t, OnAccelerator)
