"""Type rules of the device ops: counting GPUs, naming a device, the device a tensor lives on, copying to one."""
from __future__ import annotations

from d2lc.core.ops.spec import Ctx
from d2lc.core.types import INT, OpaqueType, Type

DEVICE = OpaqueType("device")  # a framework's device value: torch.device, a TensorFlow device name, a jax Device, ...
DEVICES = OpaqueType("devices")  # the devices try_all_gpus() picks (how many depends on the machine)


def count(c: Ctx) -> Type:
    return INT


def device(c: Ctx) -> Type:
    return DEVICE


def devices(c: Ctx) -> Type:
    return DEVICES


def copy_to(c: Ctx) -> Type:
    """`to_device(x, device)`: x's type (the front end checks that `device` is one)."""
    return c.t("x")
