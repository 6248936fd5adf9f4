"""Turn results, manifests and predictions into strict JSON (NumPy types unwrapped, NaN/inf -> null)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def finite(x: float) -> float | None:
    """``x`` as a float, or ``None`` when it is NaN or infinite (strict JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None


def jsonable(obj: Any) -> Any:
    """A copy of ``obj`` made of dict/list/str/int/float/bool/None only (unknown objects -> ``str``)."""
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return finite(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    return str(obj)
