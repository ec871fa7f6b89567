"""Customer lifetime value: BG/NBD purchase counts and Gamma-Gamma spend.

The pure numerical core of the CLV view: it imports only numpy, scipy and the
standard library. Turning transactions into the per-customer summary below is
the job of the data layer.

Inputs: the calibration summary
-------------------------------
Every function takes one value per customer (arrays, or scalars that
broadcast):

``frequency`` (x)
    number of repeat purchases: distinct purchase *days* after the first one
    (several orders on one day are one purchase) within the calibration period.
``recency`` (t_x)
    time from the first to the last purchase, in weeks (days / 7); 0 if x = 0.
``T``
    time from the first purchase to the end of the calibration period, in
    weeks (days / 7).
``monetary``
    mean amount of the repeat purchases (a purchase's amount is the sum of its
    day's orders); only used where x > 0.

This is the convention behind the published CDNOW numbers. For the CDNOW
sample (2,357 customers who first bought in the first quarter of 1997) and the
calibration period 1997-01-01 .. 1997-09-30: merge each customer's rows of one
day into one purchase (summing the dollars), keep the purchases dated up to
and including 1997-09-30, and measure T *to* 1997-09-30, i.e. T = (1997-09-30
- first purchase date).days / 7 (a customer who first bought on 1997-01-01 has
T = 272 / 7 = 38.857, not 273 / 7). This gives 946 repeat buyers and 2,457
repeat purchases, and the fits reproduce the published r = 0.243, alpha =
4.414, a = 0.793, b = 2.426 (Fader, Hardie & Lee 2005a) and p = 6.25, q = 3.74,
gamma = 15.44 (Hardie note 025). In lifetimes this summary is
``summary_data_from_transaction_data(..., observation_period_end="1997-09-30",
freq="D", freq_multiplier=7)``; ``freq="W"`` instead counts calendar-week
periods (fewer repeat purchases, whole-week times) and gives other parameters
(r = 0.291, alpha = 6.85, a = 0.665, b = 2.32).

The models
----------
BG/NBD (Fader, Hardie & Lee 2005a, "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2)): while alive, a
customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after
each repeat purchase the customer drops out with probability p ~ Beta(a, b).

* Likelihood of one customer (paper eq. 6, in the form of its section 7)::

      L = A1 * A2 * (A3 + [x > 0] * A4)
      A1 = Gamma(r + x) alpha^r / Gamma(r)
      A2 = Gamma(a + b) Gamma(b + x) / (Gamma(b) Gamma(a + b + x))
      A3 = (alpha + T)^-(r + x)
      A4 = a / (b + x - 1) * (alpha + t_x)^-(r + x)

  computed in logs, with ``log(A3 + A4)`` as a log-add-exp: ``log A3 +
  softplus(log A4 - log A3)``.
* P(alive | x, t_x, T) (Hardie note 021)::

      1 / (1 + [x > 0] * a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x))

* Expected purchases in (T, T + t] (paper eq. 10) is P(alive) times the
  expectation for a customer known to be alive at T::

      E = (a + b + x - 1) / (a - 1) * (1 - (1 - z)^(r + x) 2F1(r + x, b + x; a + b + x - 1; z)),
      z = t / (alpha + T + t).

  Where the 2F1 series diverges at z = 1 (a - 1 - r - x <= 0: large x, and
  then overflow for long t) it is taken after Euler's transformation,
  ``(1 - z)^(r + x) 2F1(...) = (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a +
  b + x - 1; z)``. With x = 0 and T = 0 this is the unconditional E[X(t)]
  (paper eq. 9). At a = 1 both factors of E are singular with a finite
  limit: within 1e-5 of it E is interpolated between a = 1 -/+ 1e-5. Where
  scipy's hyp2f1 fails (seen for large a and b with t much longer than alpha
  + T), E is computed from its definition, E[(1 - (1 + p s)^-(r + x)) / p]
  over the posterior p ~ Beta(a, b + x), s = t / (alpha + T), by
  Gauss-Jacobi quadrature.

Gamma-Gamma (Fader, Hardie & Lee 2005b, "RFM and CLV: using iso-value curves
for customer base analysis", JMR 42(4); Hardie note 025, "The Gamma-Gamma
model of monetary value"): a customer's order values are Gamma(p, nu), and
nu ~ Gamma(q, gamma) across customers (``gamma`` is the key ``"v"``). The mean
m of x orders is Gamma(p x, nu x), so (note 025 eq. 1a)::

    log L = lnGamma(p x + q) - lnGamma(p x) - lnGamma(q) + q log v
            + (p x - 1) log m + p x log x - (p x + q) log(v + x m)

and the conditional expected average order value is (note 025 eq. 5)::

    E[M | x, m] = p (v + x m) / (p x + q - 1),   population mean p v / (q - 1).

Customer lifetime value sums, over steps of ``step_weeks`` up to the horizon,
the expected purchases in each step times the expected spend, discounted at
the step's end: the discrete scheme of lifetimes' ``customer_lifetime_value``.

Fitting: speed
--------------
* Compression: customers with the same (x, t_x, T) -- Gamma-Gamma: (x, m) --
  are fitted once, as one row with a count weight (what ``np.unique(...,
  axis=0, return_inverse=True, return_counts=True)`` gives, computed from
  per-column ranks combined into one integer key, which is several times
  faster on a million rows).
* The likelihood is split by what each term depends on: the lnGamma/digamma
  terms depend only on x, and ``log A1 + log A3`` (apart from the
  log-add-exp) only on (x, T), so they are summed once per distinct x or T
  with precomputed weights; only the softplus of the repeat buyers runs row by
  row, in place in preallocated buffers.
* Analytic gradients (derived in the objective classes' docstrings), L-BFGS-B
  on the mean negative log-likelihood in log-parameter space, with time (and
  money) rescaled to order one so that fixed starting values suit any unit.
* Dot products use ``einsum`` instead of BLAS, and the optimiser runs with
  this thread's OpenBLAS limited to one thread: scipy's L-BFGS-B calls BLAS
  on tiny arrays every iteration, and waking OpenBLAS's worker threads for
  that costs, on a busy machine, many times the fit itself.

Fitting: robustness
-------------------
The optimiser runs from up to three fixed starting points. A run is accepted
if it converged and the shape parameters (r, a, b; p, q - 1) lie in [1e-4,
1e4]: a shape running off beyond that means the data cannot identify it (for
example every customer's drop-out probability is the same, or nobody ever
drops out). If no run is accepted, or nobody made a repeat purchase (then a
and b do not enter the likelihood), the fit is redone with a small L2 penalty
on the log-parameters, which keeps them finite: ``penalized_`` is then True
and ``message_`` says so in plain words. Data never raise an exception except
when there is no customer at all or, for Gamma-Gamma, no repeat buyer with a
positive spend. Gamma-Gamma is optimised in (log p, log(q - 1), log gamma):
q > 1 is needed for a finite mean spend, and the maximum is the same as the
unconstrained one whenever that has q > 1.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
from pathlib import Path

import numpy as np
import scipy
from scipy import optimize, special

__all__ = ["BGNBD", "GammaGamma", "NotFittedError", "customer_lifetime_value"]

#: Weeks per year, for turning an annual discount rate into a weekly one.
WEEKS_PER_YEAR = 365.25 / 7

# Shape parameters outside [1/_SHAPE_LIMIT, _SHAPE_LIMIT] mean the optimiser ran
# off to the edge of the parameter space.
_SHAPE_LIMIT = 1e4
# Box on every (rescaled) log-parameter, so that no evaluation overflows.
_LOG_BOUND = math.log(1e8)
# Weight of the L2 penalty on the log-parameters in the fallback fit (added to
# the mean negative log-likelihood per customer).
_PENALTY = 1e-2
# Half-width of the interval around a = 1 over which E[purchases] is interpolated.
_A_ONE_GAP = 1e-5


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit`` was called."""


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------


def _float_arrays(**named):
    """Broadcast the named inputs to float64 arrays of one shape."""
    try:
        arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in named.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in named.items())
        raise ValueError(f"The inputs have different lengths ({shapes}).") from None
    return arrays


def _check_frequency(x):
    if not np.all(np.isfinite(x)):
        raise ValueError("frequency has missing or infinite values.")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("frequency must be a whole number of repeat purchases, 0 or more.")


def _summary(frequency, recency, T):
    """Validated (x, t_x, T) float arrays of one shape."""
    x, tx, T = _float_arrays(frequency=frequency, recency=recency, T=T)
    _check_frequency(x)
    if not (np.all(np.isfinite(tx)) and np.all(np.isfinite(T))):
        raise ValueError("recency and T must not have missing or infinite values.")
    if np.any(tx < 0):
        raise ValueError("recency must be 0 or more.")
    if np.any(tx > T * (1 + 1e-9) + 1e-12):
        raise ValueError("recency cannot be larger than T (the last purchase must lie before the end).")
    return x, tx, T


def _spend_summary(frequency, monetary):
    """Validated (x, m) float arrays; m may be missing where x = 0."""
    x, m = _float_arrays(frequency=frequency, monetary=monetary)
    _check_frequency(x)
    if not np.all(np.isfinite(m[x > 0])):
        raise ValueError("monetary has missing or infinite values for customers with repeat purchases.")
    return x, m


def _group(values):
    """Distinct values of a 1-d array, like ``np.unique`` with
    ``return_index``, ``return_inverse`` and ``return_counts``, but with an
    unstable argsort (the index is of *some* occurrence), which is several
    times faster on a million values."""
    order = np.argsort(values)
    ordered = values[order]
    new = np.empty(values.size, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(values.size, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    return order[starts], inverse, np.diff(starts, append=values.size)


def _compress(*columns):
    """Distinct rows of equal-length 1-d columns, in lexicographic order.

    Returns ``(unique_columns, inverse, counts)`` with
    ``unique_columns[j][inverse] == columns[j]`` -- what
    ``np.unique(np.column_stack(columns), axis=0, return_inverse=True,
    return_counts=True)`` gives, in a fraction of its time: each column is
    replaced by its rank among its distinct values, the ranks are combined
    into one int64 key (re-ranked whenever the next product could overflow)
    and the key's distinct values are found with :func:`_group`.
    """
    key, n_key = np.zeros(columns[0].size, dtype=np.int64), 1
    for column in columns:
        first, code, _ = _group(column)
        if n_key * first.size >= 2**62:
            key_first, key, _ = _group(key)
            n_key = key_first.size
        key = key * first.size + code
        n_key *= first.size
    first, inverse, counts = _group(key)
    return [column[first] for column in columns], inverse, counts.astype(np.float64)


# ---------------------------------------------------------------------------
# Optimisation strategy shared by both models
# ---------------------------------------------------------------------------


@functools.cache
def _blas_thread_limiter():
    """``openblas_set_num_threads_local`` of the OpenBLAS shipped in scipy's
    wheel, or None when scipy uses another BLAS (then nothing is changed)."""
    package = Path(scipy.__file__).resolve().parent
    for path in sorted([*package.parent.glob("scipy.libs/*openblas*"), *package.glob(".dylibs/*openblas*")]):
        try:
            limiter = ctypes.CDLL(str(path)).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        limiter.argtypes, limiter.restype = [ctypes.c_int], ctypes.c_int
        return limiter
    return None


@contextlib.contextmanager
def _single_threaded_blas():
    """Run the block with this thread's BLAS calls on one thread.

    scipy's L-BFGS-B calls BLAS/LAPACK on tiny arrays at every iteration;
    with a multithreaded OpenBLAS each call wakes the worker threads, which on
    a busy machine costs ten times the fit itself. The setting is per thread,
    so BLAS work elsewhere in the process is unaffected.
    """
    limiter = _blas_thread_limiter()
    if limiter is None:
        yield
        return
    previous = limiter(1)
    try:
        yield
    finally:
        limiter(previous)


def _maximise(objective, starts, shape_index, *, max_iter, tol, identifiable=True):
    """Minimise ``objective(theta) -> (value, gradient)`` over log-parameters.

    Unless the caller knows the data cannot identify the model
    (``identifiable=False``), runs L-BFGS-B from each start in turn and
    returns ``(theta, True, False)`` for the first run that converged with
    every shape parameter (the entries of ``shape_index``) within
    [1/_SHAPE_LIMIT, _SHAPE_LIMIT]. Failing that, minimises the objective plus
    ``_PENALTY * |theta|^2`` from the first start and returns ``(theta,
    converged, True)``.

    A run has converged when scipy says so, or when its line search stalled
    on rounding noise with the gradient already below ``1000 * tol``, and it
    stopped inside the box ``|theta| < _LOG_BOUND``.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    options = {"maxiter": max_iter, "gtol": tol, "ftol": 1e-14}

    def run(fun, start):
        res = optimize.minimize(fun, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        done = res.success or (res.status == 2 and np.max(np.abs(res.jac)) <= 1e3 * tol)
        inside = np.all(np.isfinite(res.x)) and np.all(np.abs(res.x) < _LOG_BOUND * (1 - 1e-9))
        return res.x, bool(done and inside)

    def penalised(theta):
        value, grad = objective(theta)
        return value + _PENALTY * _dot(theta, theta), grad + 2 * _PENALTY * theta

    with _single_threaded_blas():
        for start in starts if identifiable else []:
            theta, converged = run(objective, np.asarray(start, dtype=np.float64))
            if converged and np.all(np.abs(theta[shape_index]) <= math.log(_SHAPE_LIMIT)):
                return theta, True, False
        theta, converged = run(penalised, np.asarray(starts[0], dtype=np.float64))
    return theta, converged, True


def _count(n, noun):
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _fit_message(model, converged, penalized, reason):
    """The one-sentence ``message_`` of a fit."""
    if not penalized:
        return f"The {model} model converged ({reason})."
    if converged:
        return (
            f"The {model} model did not converge on this data ({reason}); results use a lightly "
            "regularised fit and are less reliable."
        )
    return (
        f"The {model} model could not be fitted on this data ({reason}), not even with "
        "regularisation; its results should not be used."
    )


def _dot(u, v):
    """Dot product without BLAS: ``np.dot`` may wake the worker threads of a
    multithreaded OpenBLAS, which on a busy machine costs far more than the
    product itself."""
    return float(np.einsum("i,i->", u, v))


def _need_fit(model):
    if not hasattr(model, "params_"):
        raise NotFittedError(f"This {type(model).__name__} model is not fitted yet: call fit(...) first.")


# ---------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------


class _BGNBDObjective:
    """Mean negative log-likelihood of BG/NBD and its gradient in log-parameters.

    Built from rows ``(x, t_x, T)`` with count weights ``w`` (compressed or
    not, in any time unit). Calling it with ``theta = log(r, alpha, a, b)``
    returns ``(-sum(w * loglik) / sum(w), gradient)``.

    Writing ``d = log A4 - log A3 = log a - log(b + x - 1) + (r + x) D`` with
    ``D = log((alpha + T) / (alpha + t_x))`` and ``s = sigmoid(d)``, the
    log-likelihood of a row is ``log A1 + log A2 + log A3 + [x > 0]
    softplus(d)`` and its derivatives are::

        d/dr     = psi(r + x) - psi(r) + log alpha - log(alpha + T) + s D
        d/dalpha = r / alpha - (r + x) / (alpha + T) - s (r + x) (T - t_x) / ((alpha + T)(alpha + t_x))
        d/da     = psi(a + b) - psi(a + b + x) + s / a
        d/db     = psi(a + b) + psi(b + x) - psi(b) - psi(a + b + x) - s / (b + x - 1)

    (s = 0 where x = 0). The parts without s depend only on x or on (x, T)
    and are summed once per distinct x or T; the rows of repeat buyers, kept
    sorted by x, carry only the softplus/sigmoid part, summed per x with
    ``np.add.reduceat`` and over all rows with ``einsum`` (single-threaded).
    """

    def __init__(self, x, tx, T, w):
        self.n = float(w.sum())
        # Terms in x only: one entry per distinct x, weighted by its count.
        self.x_values, x_code = np.unique(x, return_inverse=True)
        self.x_weight = np.bincount(x_code, weights=w, minlength=self.x_values.size)
        # -(r + x) log(alpha + T) = -log(alpha + T) (r w + w x), summed per distinct T.
        self.T_values, T_code = np.unique(T, return_inverse=True)
        self.T_weight = np.bincount(T_code, weights=w, minlength=self.T_values.size)
        self.T_weight_x = np.bincount(T_code, weights=w * x, minlength=self.T_values.size)
        # Rows of repeat buyers, sorted by x, and where each x starts.
        rep = np.flatnonzero(x > 0)
        rep = rep[np.argsort(x[rep], kind="stable")]
        self.rx, self.rtx, self.rgap = x[rep], tx[rep], T[rep] - tx[rep]
        self.half_rw = 0.5 * w[rep]
        self.rw = w[rep]
        starts = np.flatnonzero(np.diff(self.rx, prepend=-1.0))
        self.rx_values, self.rx_starts = self.rx[starts], starts
        self.rx_counts = np.diff(starts, append=self.rx.size)
        self._buf = [np.empty(self.rx.size) for _ in range(5)]

    def __call__(self, theta):
        r, alpha, a, b = np.exp(theta)
        xv, nx, n = self.x_values, self.x_weight, self.n
        # x-only parts: log A1 - r log alpha, log A2 and their derivatives.
        value = _dot(nx, special.gammaln(r + xv) + special.gammaln(b + xv) - special.gammaln(a + b + xv))
        value += n * (special.gammaln(a + b) - special.gammaln(r) - special.gammaln(b))
        g_r = _dot(nx, special.digamma(r + xv)) - n * special.digamma(r)
        g_a = n * special.digamma(a + b) - _dot(nx, special.digamma(a + b + xv))
        g_b = g_a + _dot(nx, special.digamma(b + xv)) - n * special.digamma(b)
        # r log alpha and log A3 = -(r + x) log(alpha + T), per distinct T.
        weight_T = r * self.T_weight + self.T_weight_x
        log_aT = np.log(alpha + self.T_values)
        value += n * r * math.log(alpha) - _dot(log_aT, weight_T)
        g_r += n * math.log(alpha) - _dot(log_aT, self.T_weight)
        g_alpha = n * r / alpha - _dot(weight_T, 1.0 / (alpha + self.T_values))
        if self.rx.size:
            value, g_r, g_alpha, g_a, g_b = self._repeat_buyers(r, alpha, a, b, value, g_r, g_alpha, g_a, g_b)
        grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
        return -value / n, -grad / n

    def _repeat_buyers(self, r, alpha, a, b, value, g_r, g_alpha, g_a, g_b):
        """Add softplus(d) and its derivatives over the rows of repeat buyers."""
        inv_b = 1.0 / (b + self.rx_values - 1.0)
        rx, q, D, d, e = self._buf
        np.add(self.rx, r, out=rx)  # r + x
        np.add(self.rtx, alpha, out=q)  # alpha + t_x
        np.divide(self.rgap, q, out=D)
        np.log1p(D, out=D)  # D = log((alpha + T) / (alpha + t_x))
        np.multiply(rx, D, out=d)
        d += np.repeat(math.log(a) + np.log(inv_b), self.rx_counts)
        # softplus(d) = max(d, 0) + log1p(exp(-|d|))
        np.abs(d, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.log1p(e, out=e)
        value += _dot(self.rw, e) + _dot(self.rw, np.maximum(d, 0.0, out=e))
        # w s = w (1 + tanh(d / 2)) / 2
        np.multiply(d, 0.5, out=e)
        np.tanh(e, out=e)
        e += 1.0
        e *= self.half_rw
        g_r += _dot(e, D)
        # dD/dalpha = -(T - t_x) / ((alpha + t_x)(alpha + T)), with alpha + T = q + gap
        np.add(q, self.rgap, out=D)
        D *= q
        np.divide(self.rgap, D, out=D)
        rx *= e
        g_alpha -= _dot(rx, D)
        ws_by_x = np.add.reduceat(e, self.rx_starts)
        g_a += ws_by_x.sum() / a
        g_b -= _dot(ws_by_x, inv_b)
        return value, g_r, g_alpha, g_a, g_b


def _expected_if_alive_closed(r, a, b, x, s):
    """Paper eq. 10's numerator, with z = s / (1 + s), s = t / (alpha + T).

    ``((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; c; z)`` is
    evaluated as written where its series converges at z = 1 (c - A - B =
    a - 1 - r - x > 0) and after Euler's transformation elsewhere.
    """
    c = a + b + x - 1
    with np.errstate(all="ignore"):
        one_minus_z = 1 / (1 + s)
        z = s * one_minus_z
        term = np.empty(s.shape)
        euler = a - 1 - r - x <= 0
        ze, ce = z[euler], c[euler]
        term[euler] = one_minus_z[euler] ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, ce, ze)
        plain = ~euler
        zp, cp, xp = z[plain], c[plain], x[plain]
        term[plain] = one_minus_z[plain] ** (r + xp) * special.hyp2f1(r + xp, b + xp, cp, zp)
        return c / (a - 1) * (1 - term)


def _expected_if_alive_quadrature(r, a, b, x, s):
    """The same expectation as E[(1 - (1 + p s)^-(r + x)) / p] over the
    posterior p ~ Beta(a, b + x) of a customer alive at T, by 128-point
    Gauss-Jacobi quadrature: the fallback where scipy's hyp2f1 fails (large a
    and b with t much longer than alpha + T)."""
    value = np.empty(s.shape)
    for bx in np.unique(b + x):
        sel = b + x == bx
        nodes, weights = special.roots_jacobi(128, bx - 1, a - 1)
        p = (1 + nodes) / 2
        h = -np.expm1(-(r + x[sel, None]) * np.log1p(p * s[sel, None])) / p
        value[sel] = h @ (weights / weights.sum())
    return value


class BGNBD:
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005a).

    After :meth:`fit`: ``params_`` (dict with ``r``, ``alpha`` in weeks, ``a``,
    ``b``), ``loglik_`` (total log-likelihood at ``params_``, time in weeks),
    ``n_customers_``, ``converged_`` (True when the plain maximum-likelihood
    fit converged), ``penalized_`` (True when the regularised fallback was
    used) and ``message_`` (one plain sentence saying which).
    """

    def fit(self, frequency, recency, T, *, max_iter=1000, tol=1e-8) -> "BGNBD":
        """Fit by maximum likelihood; ``tol`` bounds the gradient of the mean
        log-likelihood with respect to the log-parameters."""
        x, tx, T = (v.ravel() for v in _summary(frequency, recency, T))
        if x.size == 0:
            raise ValueError("There are no customers to fit the purchase model on.")
        (ux, utx, uT), _, w = _compress(x, tx, T)
        # Time unit for fitting: the longest customer age, so that T <= 1.
        scale = float(uT.max()) if uT.max() > 0 else 1.0
        objective = _BGNBDObjective(ux, utx / scale, uT / scale, w)
        # Start from a purchase rate matching the data (scaled time).
        exposure, purchases = _dot(w, uT) / scale, _dot(w, ux)
        rate = purchases / exposure if purchases > 0 and exposure > 0 else 1.0
        starts = [
            [math.log(r0), math.log(r0 / rate), math.log(a0), math.log(b0)]
            for r0, a0, b0 in ((1.0, 1.0, 1.0), (0.25, 0.5, 2.0), (4.0, 2.0, 8.0))
        ]
        starts = np.clip(starts, -_LOG_BOUND / 2, _LOG_BOUND / 2)
        # Without repeat purchases a and b do not enter the likelihood at all.
        n_repeat = int(np.count_nonzero(x))
        theta, converged, self.penalized_ = _maximise(
            objective, starts, [0, 2, 3], max_iter=max_iter, tol=tol, identifiable=n_repeat > 0
        )
        self.converged_ = converged and not self.penalized_
        r, alpha, a, b = np.exp(theta)
        self.params_ = {"r": float(r), "alpha": float(alpha * scale), "a": float(a), "b": float(b)}
        # Back to weeks: each repeat purchase's density gains a factor 1/scale.
        self.loglik_ = float(-objective.n * objective(theta)[0] - math.log(scale) * purchases)
        self.n_customers_ = int(x.size)
        if not self.penalized_:
            reason = f"{_count(x.size, 'customer')}, {n_repeat:,} of them repeat buyers"
        elif n_repeat == 0:
            reason = "no customer made a repeat purchase"
        else:
            verb = "does" if x.size == 1 else "do"
            who = f"{_count(x.size, 'customer')} with {_count(n_repeat, 'repeat buyer')}"
            reason = f"{who} {verb} not pin the model down"
        self.message_ = _fit_message("purchase", converged, self.penalized_, reason)
        return self

    def _params(self):
        _need_fit(self)
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def log_likelihood(self, frequency, recency, T) -> np.ndarray:
        """Each customer's log-likelihood at ``params_`` (paper eq. 6, time in weeks)."""
        r, alpha, a, b = self._params()
        x, tx, T = _summary(frequency, recency, T)
        log_a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore"):
            log_a4 = np.where(
                x > 0, math.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx), -np.inf
            )
        log_a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
        log_a2 = (
            special.gammaln(a + b) - special.gammaln(b) + special.gammaln(b + x) - special.gammaln(a + b + x)
        )
        return log_a1 + log_a2 + np.logaddexp(log_a3, log_a4)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Probability that each customer is still active at T (Hardie note 021)."""
        _need_fit(self)
        x, tx, T = _summary(frequency, recency, T)
        return self._p_alive(x, tx, T)

    def _p_alive(self, x, tx, T):
        r, alpha, a, b = self._params()
        log_odds_dead = (
            math.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * np.log1p((T - tx) / (alpha + tx))
        )
        return np.where(x > 0, special.expit(-log_odds_dead), 1.0)

    def _expected_if_alive(self, t, x, T):
        """Expected purchases in (T, T + t] of a customer alive at T (module doc)."""
        r, alpha, a, b = self._params()
        t, x, T = np.broadcast_arrays(t, x, T)
        shape = t.shape
        x = x.ravel()
        s = (t / (alpha + T)).ravel()
        if abs(a - 1) < _A_ONE_GAP:
            low, high = (_expected_if_alive_closed(r, a0, b, x, s) for a0 in (1 - _A_ONE_GAP, 1 + _A_ONE_GAP))
            value = low + (a - 1 + _A_ONE_GAP) / (2 * _A_ONE_GAP) * (high - low)
        else:
            value = _expected_if_alive_closed(r, a, b, x, s)
        # 0 <= value <= (r + x) s, the purchases expected if nobody ever dropped out.
        with np.errstate(invalid="ignore"):
            bad = ~((value >= 0) & (value <= (r + x) * s * (1 + 1e-9)))
        if np.any(bad):
            value[bad] = _expected_if_alive_quadrature(r, a, b, x[bad], s[bad])
        return value.reshape(shape)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected number of purchases in (T, T + t] given each customer's
        history (paper eq. 10); ``t`` in weeks, scalar or per customer."""
        _need_fit(self)
        t = np.asarray(t, dtype=np.float64)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError("t must be a finite number of weeks, 0 or more.")
        x, tx, T = _summary(frequency, recency, T)
        t, x, tx, T = np.broadcast_arrays(t, x, tx, T)
        return self._p_alive(x, tx, T) * self._expected_if_alive(t, x, T)

    def expected_purchases_new(self, t):
        """E[X(t)]: expected repeat purchases in the first t weeks of a new
        customer (paper eq. 9); a float for a scalar ``t``."""
        _need_fit(self)
        t_arr = np.asarray(t, dtype=np.float64)
        if not np.all(np.isfinite(t_arr)) or np.any(t_arr < 0):
            raise ValueError("t must be a finite number of weeks, 0 or more.")
        value = self._expected_if_alive(t_arr, 0.0, 0.0)
        return float(value) if value.ndim == 0 else value


# ---------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------


class _GammaGammaObjective:
    """Mean negative log-likelihood of Gamma-Gamma and its gradient.

    Rows ``(x, m)`` of repeat buyers (x > 0, m > 0) with count weights ``w``;
    ``theta = (log p, log(q - 1), log v)``. With ``L = log(v + x m)`` the
    derivatives of a row's log-likelihood (module doc) are::

        d/dp = x (psi(p x + q) - psi(p x) + log m + log x - L)
        d/dq = psi(p x + q) - psi(q) + log v - L
        d/dv = q / v - (p x + q) / (v + x m)

    The lnGamma/digamma terms are summed per distinct x, the ``log m`` and
    ``log x`` terms are precomputed, and only L and 1 / (v + x m) run per row.
    """

    def __init__(self, x, m, w):
        self.n = float(w.sum())
        self.x_values, x_code = np.unique(x, return_inverse=True)
        self.x_weight = np.bincount(x_code, weights=w, minlength=self.x_values.size)
        self.xm = x * m
        self.w = w
        self.wx = w * x
        self.sum_x_log_mx = _dot(self.wx, np.log(m) + np.log(x))
        self.sum_log_m = _dot(w, np.log(m))
        self._buf = np.empty(x.size)

    def __call__(self, theta):
        p, q1, v = np.exp(theta)
        q = 1.0 + q1
        xv, nx, n = self.x_values, self.x_weight, self.n
        px = p * xv
        L = np.log(np.add(self.xm, v, out=self._buf), out=self._buf)
        wx_L, w_L = _dot(self.wx, L), _dot(self.w, L)
        value = _dot(nx, special.gammaln(px + q) - special.gammaln(px)) - n * special.gammaln(q)
        value += n * q * math.log(v) + p * self.sum_x_log_mx - self.sum_log_m - p * wx_L - q * w_L
        psi_pxq = special.digamma(px + q)
        g_p = _dot(nx * xv, psi_pxq - special.digamma(px)) + self.sum_x_log_mx - wx_L
        g_q = _dot(nx, psi_pxq) - n * special.digamma(q) + n * math.log(v) - w_L
        R = np.reciprocal(np.add(self.xm, v, out=self._buf), out=self._buf)
        g_v = n * q / v - p * _dot(self.wx, R) - q * _dot(self.w, R)
        grad = np.array([g_p * p, g_q * q1, g_v * v])
        return -value / n, -grad / n


class GammaGamma:
    """Gamma-Gamma model of the average order value (Fader, Hardie & Lee 2005b).

    After :meth:`fit`: ``params_`` (dict with ``p``, ``q``, ``v``, ``v`` in
    money units), ``loglik_``, ``n_customers_`` (repeat buyers used),
    ``converged_``, ``penalized_`` and ``message_``, as for :class:`BGNBD`.
    """

    def fit(self, frequency, monetary, *, max_iter=1000, tol=1e-8) -> "GammaGamma":
        """Fit on the customers with frequency > 0 (those with a zero or negative
        average spend are left out, and the message says so)."""
        x, m = (v.ravel() for v in _spend_summary(frequency, monetary))
        if x.size == 0:
            raise ValueError("There are no customers to fit the spend model on.")
        repeat = x > 0
        if not np.any(repeat):
            raise ValueError("There are no repeat buyers to fit the spend model on (every frequency is 0).")
        usable = repeat & (m > 0)
        n_left_out = int(np.count_nonzero(repeat & ~usable))
        if not np.any(usable):
            raise ValueError(
                "There are no repeat buyers with a positive average spend to fit the spend model on."
            )
        x, m = x[usable], m[usable]
        (ux, um), _, w = _compress(x, m)
        scale = _dot(w, um) / float(w.sum())  # money unit: the mean spend
        objective = _GammaGammaObjective(ux, um / scale, w)
        # Starts whose population mean p v / (q - 1) equals the mean spend.
        starts = [
            [math.log(p0), math.log(q0 - 1), math.log((q0 - 1) / p0)]
            for p0, q0 in ((1.0, 2.0), (4.0, 4.0), (0.5, 1.5))
        ]
        theta, converged, self.penalized_ = _maximise(objective, starts, [0, 1], max_iter=max_iter, tol=tol)
        self.converged_ = converged and not self.penalized_
        p, q1, v = np.exp(theta)
        self.params_ = {"p": float(p), "q": float(1 + q1), "v": float(v * scale)}
        self.loglik_ = float(-objective.n * (objective(theta)[0] + math.log(scale)))
        self.n_customers_ = int(x.size)
        buyers = _count(x.size, "repeat buyer")
        reason = buyers if not self.penalized_ else f"the spend of {buyers} does not pin the model down"
        self.message_ = _fit_message("spend", converged, self.penalized_, reason)
        if n_left_out:
            self.message_ += (
                f" {_count(n_left_out, 'repeat buyer')} with a zero or negative average spend "
                + ("was" if n_left_out == 1 else "were") + " left out."
            )
        return self

    def _params(self):
        _need_fit(self)
        p = self.params_
        return p["p"], p["q"], p["v"]

    def log_likelihood(self, frequency, monetary) -> np.ndarray:
        """Each customer's log-likelihood at ``params_`` (note 025 eq. 1a);
        0 for customers without repeat purchases or with a spend <= 0."""
        p, q, v = self._params()
        x, m = _spend_summary(frequency, monetary)
        used = (x > 0) & (m > 0)
        x, m = np.where(used, x, 1.0), np.where(used, m, 1.0)
        px = p * x
        ll = (
            special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * math.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + x * m)
        )
        return np.where(used, ll, 0.0)

    def expected_spend(self, frequency, monetary) -> np.ndarray:
        """Conditional expected average order value (note 025 eq. 5); the
        population mean p v / (q - 1) for customers without repeat purchases.
        A zero or negative ``monetary`` counts as 0."""
        p, q, v = self._params()
        x, m = _spend_summary(frequency, monetary)
        m = np.where(x > 0, np.maximum(m, 0.0), 0.0)
        return p * (v + x * m) / (p * x + q - 1)


# ---------------------------------------------------------------------------
# Customer lifetime value
# ---------------------------------------------------------------------------


def customer_lifetime_value(
    bgnbd, gg, frequency, recency, T, monetary, *, horizon_weeks=52, discount_rate_annual=0.10, step_weeks=4
) -> np.ndarray:
    """Discounted expected spend of each customer over the next ``horizon_weeks``.

    The horizon is cut into steps of ``step_weeks`` (the last one shorter if
    needed); the expected purchases of each step (difference of
    :meth:`BGNBD.expected_purchases` at its end and start) times
    :meth:`GammaGamma.expected_spend` are discounted at the step's end by
    ``(1 + discount_rate_annual) ** (-weeks / WEEKS_PER_YEAR)`` and summed, as
    lifetimes' ``customer_lifetime_value`` does. Never negative.
    """
    _need_fit(bgnbd)
    _need_fit(gg)
    if not all(math.isfinite(w) and w > 0 for w in (horizon_weeks, step_weeks)):
        raise ValueError("horizon_weeks and step_weeks must be positive numbers of weeks.")
    if not (math.isfinite(discount_rate_annual) and discount_rate_annual > -1):
        raise ValueError("discount_rate_annual must be a number above -1 (0.10 means 10% a year).")
    frequency, recency, T, monetary = _float_arrays(
        frequency=frequency, recency=recency, T=T, monetary=monetary
    )
    x, tx, T = _summary(frequency, recency, T)
    spend = gg.expected_spend(x, monetary)
    alive = bgnbd._p_alive(x, tx, T)
    # The expected purchases of an alive customer depend on (x, T) only.
    (ux, uT), inverse, _ = _compress(x.ravel(), T.ravel())
    n_steps = math.ceil(horizon_weeks / step_weeks - 1e-9)
    ends = np.minimum(step_weeks * np.arange(1, n_steps + 1), horizon_weeks)
    discount = (1.0 + discount_rate_annual) ** (-ends / WEEKS_PER_YEAR)
    previous = np.zeros(ux.size)
    discounted_purchases = np.zeros(ux.size)
    for end, factor in zip(ends, discount):
        current = bgnbd._expected_if_alive(end, ux, uT)
        discounted_purchases += factor * np.maximum(current - previous, 0.0)
        previous = current
    return spend * alive * discounted_purchases[inverse].reshape(x.shape)
