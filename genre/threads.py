"""One way to hold the maths libraries (BLAS, OpenMP) to one thread.

The matrix products and tree walks in feature extraction and inference take milliseconds; on a
busy 2-core machine a multi-threaded BLAS/OpenMP region waiting for its second thread made them
10-50x slower and erratic. Results do not depend on the thread count.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

    return ThreadpoolController()


def one_thread(user_api: str | None = None):
    """Context manager limiting native thread pools to one thread.

    Parameters
    ----------
    user_api : {None, "blas", "openmp"}
        Which pools to limit; ``None`` limits all of them.
    """
    return _controller().limit(limits=1, user_api=user_api)
