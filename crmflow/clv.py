"""Customer lifetime value: BG/NBD or MBG/NBD purchase counts and Gamma-Gamma spend.

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

* P(X(t) = n) for a new customer (paper eq. 8), with NB(n) the negative
  binomial probability of n purchases of a customer who never drops out and
  k = 0::

      P = B(a, b + n + k) / B(a, b) NB(n)
          + [n + k > 0] B(a + 1, b + n + k - 1) / B(a, b) P(NB >= n)

MBG/NBD (Batislam, Denizel & Filiztekin 2007, "Empirical validation and
comparison of models for customer base analysis", IJRM 24(3); lifetimes'
``ModifiedBetaGeoFitter``): as BG/NBD, but a customer may also drop out right
after the first purchase, so one-time buyers are not all alive forever. Every
formula above holds with one more drop-out opportunity, k = 1: the
likelihood has ``B(a, b + x + 1) / B(a, b)`` and ``a / (b + x)`` instead of
``B(a, b + x) / B(a, b)`` and ``a / (b + x - 1)``, and A4 for x = 0 too;
P(alive) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x)); the
expectation of a customer alive at T is BG/NBD's with b + 1 (the posterior
of p is Beta(a, b + x + 1)); E[X(t)] of a new customer is P(alive at 0) =
b / (a + b) times that with x = T = 0; P(X(t) = n) takes k = 1.

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
The optimiser runs from up to three fixed starting points, in a box of
|log-parameter| <= log(1e8) (time and money rescaled to order one). A run is
*done* when it converged (or its line search stalled on rounding noise with a
tiny gradient) with a finite likelihood, and wherever it stopped on the box,
the likelihood is flat there: it tends to a limit at that edge of the
parameter space. The first done run with every (rescaled) parameter in
[1e-4, 1e4] and no less likely than the runs before it is taken; failing
that, the done run with the highest likelihood. That
maximum-likelihood fit is **kept at an edge**: it is a valid answer, and
``boundary_`` names the parameters at the edge while ``message_`` (and the
label ``note_key_`` with ``note_params_``) says what the edge means in plain
words:

* a -> 0 (or b -> infinity alone): the drop-out probability p ~ Beta(a, b)
  is ~0 for everybody -- "customers here do not seem to drop out";
* a and b -> infinity together: p is the same a / (a + b) for everybody;
* b -> 0 (or a -> infinity alone): customers drop out soon after a purchase;
* r -> infinity (with alpha): everybody buys at the same rate r / alpha;
* r -> 0: most customers buy very rarely and a few often;
* Gamma-Gamma: p -> infinity, a customer's orders are all of one value;
  q -> infinity (with gamma), every customer has the same mean spend;
  q -> 1, a few customers spend far more than the rest.

Only when no run is done -- the likelihood is not finite, or rises without
bound at the box (e.g. every repeat purchase on the first day: alpha -> 0)
-- is the fit redone with a small L2 penalty on the log-parameters
(``penalized_`` True, ``converged_`` False, and the message says so).
``fit(..., penalizer=w)`` asks for that penalised fit with weight w (w times
the squared norm of the rescaled log-parameters, added to the mean negative
log-likelihood): a deliberate candidate with ``penalized_`` True.
``log_likelihood_`` is always the plain log-likelihood at ``params_``.

When nobody made a repeat purchase, the maximum-likelihood fit has r -> 0
(and a, b do not matter): ``no_repeaters_`` is True and every expected
purchase, and so every CLV, is exactly 0; P(alive) stays defined (1 for
BG/NBD; for MBG/NBD the data cannot tell "nobody buys" from "everybody left
right after the first purchase", and the fit lands near the latter, with
P(alive) near 0).

Predictions at an edge stay finite: where the posterior mean drop-out
probability a / (a + b + x) is below 1e-12 the expected purchases are the
no-drop-out (NBD) limit (r + x) t / (alpha + T); for very large a and b
(where 2F1 and Gauss-Jacobi fail) the quadrature runs over the posterior's
quantiles (Gauss-Legendre).

Data never raise an exception except when there is no customer at all or,
for Gamma-Gamma, no repeat buyer with a positive spend. Gamma-Gamma is
optimised in (log p, log(q - 1), log gamma): q > 1 is needed for a finite
mean spend, and the maximum is the same as the unconstrained one whenever
that has q > 1.

Uncertainty
-----------
``covariance_`` is the inverse Hessian of the total negative log-likelihood
(penalised if the fit was) in log-parameter space, the Hessian taken by
central differences of the analytic gradient; ``standard_errors_`` its
delta-method image in natural parameters (se = |d param / d log-param|
sqrt(var)), as lifetimes' ``summary`` reports ``se(coef)`` (CDNOW: equal to
lifetimes' within 0.1%). Parameters at an edge, or so weakly identified that
their log has a standard deviation above 3, get NaN and are held at their
estimate; ``sample_params`` draws the others from the asymptotic normal in
log space (a parametric bootstrap), and ``with_params`` gives a fitted copy
with other values, so any prediction can be repeated over the draws.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy
from scipy import special  # optimize (0.3 s to import) where a fit needs it

__all__ = ["BGNBD", "MBGNBD", "GammaGamma", "NotFittedError", "customer_lifetime_value", "discounted_purchases"]

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
# Largest |gradient| of the mean negative log-likelihood (per log-parameter)
# at the box |theta| = _LOG_BOUND for the likelihood to count as flat there
# (tending to a limit at that edge rather than rising without bound).
_FLAT_GRADIENT = 1e-6
# The same for a deliberately penalised fit. Its penalty bounds every direction
# except the edges where it vanishes (a -> 0, b -> 0 under ``ridge``): there the
# objective tends to a finite limit, and a run stopped at the box with a
# gradient this small is that limit to well under 1e-4 per customer.
_FLAT_GRADIENT_PENALISED = 1e-4
# Below this posterior mean drop-out probability a / (a + b + x), expected
# purchases take the no-drop-out (NBD) limit.
_NO_DROPOUT = 1e-12
# Largest standard deviation of a log-parameter for which a standard error is
# reported (beyond it the parameter counts as not identified by the data).
_MAX_LOG_SD = 3.0


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


class _Solution(NamedTuple):
    """What :func:`_maximise` found: the log-parameters, whether the run
    converged, whether a penalty was used (and its weight) and whether the
    penalty was the fallback for a likelihood that failed."""

    theta: np.ndarray
    converged: bool
    penalized: bool
    penalty: float
    fallback: bool
    kind: str = "log"


def _check_penalizer(penalizer):
    if penalizer is None:
        return None
    penalizer = float(penalizer)
    if not (math.isfinite(penalizer) and penalizer >= 0):
        raise ValueError("penalizer must be a number, 0 or more (None for plain maximum likelihood).")
    return penalizer if penalizer > 0 else None


def _penalty_terms(theta, weight, kind):
    """Value and gradient of the penalty at the log-parameters ``theta``:
    ``log`` is ``weight * |theta|^2`` (pulls every parameter towards 1);
    ``ridge`` is ``weight * |exp(theta)|^2``, lifetimes' ``penalizer_coef``
    term on the (time-rescaled) parameters themselves."""
    if kind == "ridge":
        e2 = np.exp(2 * theta)
        return weight * float(e2.sum()), 2 * weight * e2
    return weight * _dot(theta, theta), 2 * weight * theta


def _penalty_hessian(theta, weight, kind):
    """Diagonal of the penalty's Hessian in log-parameters."""
    if kind == "ridge":
        return 4 * weight * np.exp(2 * theta)
    return np.full(theta.shape, 2 * weight)


def _maximise(objective, starts, *, max_iter, tol, penalizer=None, kind="log"):
    """Minimise ``objective(theta) -> (value, gradient)`` over log-parameters.

    With ``penalizer=None``, runs L-BFGS-B from each start in turn. A run is
    *done* when its value and gradient are finite and it converged: scipy
    says so, or its line search stalled on rounding noise with the projected
    gradient already below ``1000 * tol``; and wherever it stopped on the box
    ``|theta| = _LOG_BOUND`` the objective is flat there (gradient below
    ``_FLAT_GRADIENT``): the likelihood tends to a limit at that edge of the
    parameter space, as when customers never drop out (a -> 0). A likelihood
    still rising at the box is unbounded and the run is not done. A done run
    with every log-parameter within ``log(_SHAPE_LIMIT)`` that is the best
    so far is returned at once; otherwise the done run with the lowest
    objective (an edge fit, kept: it is the maximum-likelihood answer).

    Only when no run is done does it fall back to the objective plus
    ``_PENALTY * |theta|^2`` from the first start (``fallback`` True). A
    positive ``penalizer`` asks for that penalised fit with the given weight
    from the start (``fallback`` False), of the form ``kind`` (see
    :func:`_penalty_terms`; the fallback is always ``log``).
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    from scipy import optimize

    options = {"maxiter": max_iter, "gtol": tol, "ftol": 1e-14}

    def run(fun, start, flat_tol=_FLAT_GRADIENT):
        res = optimize.minimize(fun, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        theta = res.x
        with np.errstate(all="ignore"):
            value, grad = fun(theta)
        finite = bool(np.isfinite(value) and np.all(np.isfinite(grad)) and np.all(np.isfinite(theta)))
        if not finite:
            return theta, math.inf, False
        at_box = np.abs(theta) >= _LOG_BOUND * (1 - 1e-9)
        projected = np.where(at_box, 0.0, grad)
        done = res.success or (res.status == 2 and np.max(np.abs(projected)) <= 1e3 * tol)
        flat = np.all(np.abs(grad[at_box]) <= flat_tol)
        return theta, float(value), bool(done and flat)

    def penalised(weight, kind):
        def fun(theta):
            value, grad = objective(theta)
            p_value, p_grad = _penalty_terms(theta, weight, kind)
            return value + p_value, grad + p_grad

        return fun

    with _single_threaded_blas():
        if penalizer is None:
            best = None
            for start in starts:
                theta, value, done = run(objective, np.asarray(start, dtype=np.float64))
                if not done:
                    continue
                interior = bool(np.all(np.abs(theta) <= math.log(_SHAPE_LIMIT)))
                if best is None or value < best[1]:
                    best = (theta, value)
                if interior and best[0] is theta:
                    return _Solution(theta, True, False, 0.0, False)
            if best is not None:
                return _Solution(best[0], True, False, 0.0, False)
            weight, fallback, kind = _PENALTY, True, "log"
        else:
            weight, fallback = penalizer, False
        theta, _, converged = run(penalised(weight, kind), np.asarray(starts[0], dtype=np.float64),
                                  _FLAT_GRADIENT if fallback else _FLAT_GRADIENT_PENALISED)
    return _Solution(theta, converged, True, weight, fallback, kind)


def _edges(theta):
    """Which log-parameters lie at an edge: -1 below 1/_SHAPE_LIMIT, +1 above
    _SHAPE_LIMIT (time and money rescaled to order one), 0 inside."""
    limit = math.log(_SHAPE_LIMIT)
    return np.where(theta < -limit, -1, np.where(theta > limit, 1, 0))


def _hessian(objective, theta, free, n, penalty, kind="log"):
    """Hessian of the total (n times the mean) objective, plus the penalty
    if any, over the ``free`` log-parameters, by central differences of the
    analytic gradient; None when it is not finite."""
    idx = np.flatnonzero(free)
    hess = np.empty((idx.size, idx.size))
    with _single_threaded_blas(), np.errstate(all="ignore"):
        for j, i in enumerate(idx):
            h = 1e-5 * max(1.0, abs(theta[i]))
            up, down = theta.copy(), theta.copy()
            up[i] += h
            down[i] -= h
            hess[:, j] = (objective(up)[1][idx] - objective(down)[1][idx]) / (2 * h)
    hess = n * (hess + hess.T) / 2 + n * np.diag(_penalty_hessian(theta[idx], penalty, kind))
    return hess if np.all(np.isfinite(hess)) else None


def _covariance(objective, theta, edges, n, penalty, kind="log"):
    """Covariance of the log-parameters: the inverse Hessian of the total
    negative log-likelihood (penalised if the fit was) over the parameters not
    at an edge; NaN rows and columns for those at an edge and for those the
    data barely identify (standard deviation of the log-parameter above
    ``_MAX_LOG_SD``, a factor of e^3 either way, where the normal
    approximation means nothing; they are held at their estimate), and NaN
    everywhere when the Hessian is not positive definite."""
    k = theta.size
    cov = np.full((k, k), np.nan)
    free = edges == 0
    hess = _hessian(objective, theta, free, n, penalty, kind) if np.any(free) else None
    if hess is None:
        return cov
    idx = np.flatnonzero(free)
    keep = np.ones(idx.size, dtype=bool)
    while np.any(keep):
        sub = hess[np.ix_(keep, keep)]
        try:
            inv_chol = np.linalg.inv(np.linalg.cholesky(sub))
        except np.linalg.LinAlgError:
            return cov
        block = inv_chol.T @ inv_chol
        sd = np.sqrt(np.diag(block))
        if not np.all(np.isfinite(block)) or np.any(sd <= 0):
            return cov
        if sd.max() <= _MAX_LOG_SD:
            kept = idx[keep]
            cov[np.ix_(kept, kept)] = block
            return cov
        # A direction the data barely constrain (e.g. b once a -> 0): leave
        # the worst parameter out, fixed at its estimate, and look again.
        keep[np.flatnonzero(keep)[np.argmax(sd)]] = False
    return cov


def _count(n, noun):
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _fit_message(model, converged, penalized, reason):
    """The one-sentence ``message_`` of a fit (no edge)."""
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


class _FittedParameters:
    """Uncertainty and copies shared by the fitted models.

    Subclasses define ``PARAMS`` and ``_to_log`` / ``_from_log`` between the
    natural parameters and the log-parameters the fit works in (for BG/NBD
    and MBG/NBD the logs of the parameters; for Gamma-Gamma ``(log p,
    log(q - 1), log v)``). ``covariance_`` is in that log space (the time or
    money unit only shifts a log-parameter, so it does not matter), and
    ``standard_errors_`` is its delta-method image in natural parameters:
    ``se_i = |d param_i / d theta_i| sqrt(cov_ii)``, what lifetimes' ``summary``
    reports as ``se(coef)``.
    """

    PARAMS: tuple[str, ...] = ()

    def _set_uncertainty(self, objective, theta, edges, penalty, kind="log"):
        cov = _covariance(objective, theta, edges, objective.n, penalty, kind)
        self.covariance_ = cov
        natural_theta = self._to_log(self.params_)
        slope = self._slope(natural_theta)
        with np.errstate(invalid="ignore"):
            se = slope * np.sqrt(np.diag(cov))
        self.standard_errors_ = {name: float(value) for name, value in zip(self.PARAMS, se)}
        self.boundary_ = tuple(name for name, e in zip(self.PARAMS, edges) if e != 0)

    def _slope(self, theta):
        """d param / d theta at ``theta`` (log-parameters)."""
        return np.exp(theta)

    def sample_params(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        """``n`` parameter draws from the asymptotic normal distribution of
        the estimates in log-parameter space (a parametric bootstrap).

        Parameters at an edge, or all of them when the covariance is not
        defined, stay at their fitted value in every draw."""
        _need_fit(self)
        n = int(n)
        if n < 0:
            raise ValueError("n must be 0 or more.")
        theta = self._to_log(self.params_)
        cov = getattr(self, "covariance_", None)
        free = np.isfinite(np.diag(cov)) if cov is not None else np.zeros(theta.size, dtype=bool)
        if not np.any(free) or n == 0:
            return [dict(self.params_) for _ in range(n)]
        draws = np.tile(theta, (n, 1))
        draws[:, free] = rng.multivariate_normal(theta[free], cov[np.ix_(free, free)], size=n, method="cholesky")
        fixed = [name for name, f in zip(self.PARAMS, free) if not f]
        return [{**self._from_log(row), **{name: self.params_[name] for name in fixed}} for row in draws]

    def with_params(self, params: dict[str, float]):
        """A copy of this fitted model with other parameter values (all of
        ``PARAMS``, positive and finite); everything else is kept."""
        _need_fit(self)
        missing = [name for name in self.PARAMS if name not in params]
        if missing:
            raise ValueError(f"with_params needs every parameter; missing: {', '.join(missing)}.")
        values = {name: float(params[name]) for name in self.PARAMS}
        if not all(math.isfinite(v) and v > 0 for v in values.values()):
            raise ValueError("Every parameter must be a positive finite number.")
        model = copy.copy(self)
        model.params_ = values
        return model


# ---------------------------------------------------------------------------
# BG/NBD and MBG/NBD
# ---------------------------------------------------------------------------


class _BGNBDObjective:
    """Mean negative log-likelihood of BG/NBD (``k = 0``) or MBG/NBD (``k =
    1``) and its gradient in log-parameters.

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

    (s = 0 where x = 0). MBG/NBD replaces ``b + x`` by ``b + x + 1`` in the
    lnGamma/digamma terms and ``b + x - 1`` by ``b + x`` in d, and every row,
    x = 0 included, carries the softplus term (a customer may drop out right
    after the first purchase): ``k`` is that shift.

    The parts without s depend only on x or on (x, T)
    and are summed once per distinct x or T; the rows of repeat buyers, kept
    sorted by x, carry only the softplus/sigmoid part, summed per x with
    ``np.add.reduceat`` and over all rows with ``einsum`` (single-threaded).
    """

    def __init__(self, x, tx, T, w, k=0):
        self.n = float(w.sum())
        self.k = k
        # Terms in x only: one entry per distinct x, weighted by its count.
        self.x_values, x_code = np.unique(x, return_inverse=True)
        self.x_weight = np.bincount(x_code, weights=w, minlength=self.x_values.size)
        # -(r + x) log(alpha + T) = -log(alpha + T) (r w + w x), summed per distinct T.
        self.T_values, T_code = np.unique(T, return_inverse=True)
        self.T_weight = np.bincount(T_code, weights=w, minlength=self.T_values.size)
        self.T_weight_x = np.bincount(T_code, weights=w * x, minlength=self.T_values.size)
        # Rows of repeat buyers, sorted by x, and where each x starts.
        rep = np.flatnonzero(x + k > 0)
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
        xk = xv + self.k
        value = _dot(nx, special.gammaln(r + xv) + special.gammaln(b + xk) - special.gammaln(a + b + xk))
        value += n * (special.gammaln(a + b) - special.gammaln(r) - special.gammaln(b))
        g_r = _dot(nx, special.digamma(r + xv)) - n * special.digamma(r)
        g_a = n * special.digamma(a + b) - _dot(nx, special.digamma(a + b + xk))
        g_b = g_a + _dot(nx, special.digamma(b + xk)) - n * special.digamma(b)
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
        inv_b = 1.0 / (b + self.rx_values + (self.k - 1.0))
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
        if a + bx < 500:
            nodes, weights = special.roots_jacobi(128, bx - 1, a - 1)
            p = (1 + nodes) / 2
        else:
            # Jacobi weights overflow for large shapes; there the posterior is
            # narrow, and Gauss-Legendre over its quantiles suits it.
            nodes, weights = special.roots_legendre(128)
            p = special.betaincinv(a, bx, (1 + nodes) / 2)
        h = -np.expm1(-(r + x[sel, None]) * np.log1p(p * s[sel, None])) / p
        value[sel] = h @ (weights / weights.sum())
    return value




def _nbd_log_pmf(n, r, alpha, t):
    """log P(N = n) of the negative binomial count of a Gamma(r, alpha)-Poisson
    process over t (t > 0)."""
    return (
        special.gammaln(r + n) - special.gammaln(r) - special.gammaln(n + 1)
        + r * np.log(alpha / (alpha + t)) + n * np.log(t / (alpha + t))
    )


# Meaning of the edges of the purchase models, in the order the note names them:
# (key stem, plain words, condition on the edges e_r, e_alpha, e_a, e_b).
_PURCHASE_EDGES = (
    ("no_dropout", "customers here do not seem to drop out",
     lambda r, al, a, b: a < 0 or (b > 0 and a <= 0)),
    ("same_dropout", "every customer seems to have the same chance of dropping out after a purchase",
     lambda r, al, a, b: a > 0 and b > 0),
    ("quick_dropout", "customers seem to drop out soon after a purchase",
     lambda r, al, a, b: b < 0 or (a > 0 and b <= 0)),
    ("same_rate", "every customer seems to buy at the same rate while active",
     lambda r, al, a, b: r > 0),
    ("rare_buyers", "most customers seem to buy very rarely and a few often",
     lambda r, al, a, b: r < 0),
)


class _PurchaseModel(_FittedParameters):
    """BG/NBD and MBG/NBD: the same fit, predictions and uncertainty with a
    shift ``_K`` (0 for BG/NBD, 1 for MBG/NBD) in the drop-out opportunities:
    an MBG/NBD customer may also drop out right after the first purchase.

    After :meth:`fit`: ``params_`` (``r``, ``alpha`` in weeks, ``a``, ``b``),
    ``log_likelihood_`` (total log-likelihood at ``params_``, unpenalised,
    time in weeks; ``loglik_`` is the same number), ``n_customers_``,
    ``converged_``, ``penalized_``, ``penalizer_`` (weight used, 0 if none),
    ``boundary_``, ``no_repeaters_``, ``message_``, ``note_key_``,
    ``note_params_``, ``standard_errors_`` and ``covariance_``.
    """

    name = ""
    label = ""
    PARAMS = ("r", "alpha", "a", "b")
    _K = 0

    # -- fitting ---------------------------------------------------------

    def fit(self, frequency, recency, T, *, penalizer: float | None = None, penalty: str = "log",
            max_iter=1000, tol=1e-8):
        """Fit by maximum likelihood (``penalizer=None``) or a deliberately
        penalised likelihood (module doc) of the form ``penalty``: ``"log"``
        (the log-parameters' squared norm) or ``"ridge"`` (the parameters'
        squared norm, time rescaled so the oldest customer's age is 1: the
        same objective as lifetimes' ``penalizer_coef``); ``tol`` bounds the
        gradient of the mean log-likelihood with respect to the log-parameters."""
        penalizer = _check_penalizer(penalizer)
        if penalty not in ("log", "ridge"):
            raise ValueError("penalty must be 'log' or 'ridge'.")
        x, tx, T = (v.ravel() for v in _summary(frequency, recency, T))
        if x.size == 0:
            raise ValueError("There are no customers to fit the purchase model on.")
        (ux, utx, uT), _, w = _compress(x, tx, T)
        # Time unit for fitting: the longest customer age, so that T <= 1.
        scale = float(uT.max()) if uT.max() > 0 else 1.0
        objective = _BGNBDObjective(ux, utx / scale, uT / scale, w, k=self._K)
        # Start from a purchase rate matching the data (scaled time).
        exposure, purchases = _dot(w, uT) / scale, _dot(w, ux)
        rate = purchases / exposure if purchases > 0 and exposure > 0 else 1.0
        starts = [
            [math.log(r0), math.log(r0 / rate), math.log(a0), math.log(b0)]
            for r0, a0, b0 in ((1.0, 1.0, 1.0), (0.25, 0.5, 2.0), (4.0, 2.0, 8.0))
        ]
        starts = np.clip(starts, -_LOG_BOUND / 2, _LOG_BOUND / 2)
        n_repeat = int(np.count_nonzero(x))
        sol = _maximise(objective, starts, max_iter=max_iter, tol=tol, penalizer=penalizer, kind=penalty)
        theta = sol.theta
        r, alpha, a, b = np.exp(theta)
        self.params_ = {"r": float(r), "alpha": float(alpha * scale), "a": float(a), "b": float(b)}
        self.converged_ = bool(sol.converged and not sol.fallback)
        self.penalized_ = bool(sol.penalized)
        self.penalizer_ = float(sol.penalty)
        self.penalty_ = sol.kind
        self.no_repeaters_ = n_repeat == 0
        # Back to weeks: each repeat purchase's density gains a factor 1/scale.
        self.log_likelihood_ = float(-objective.n * objective(theta)[0] - math.log(scale) * purchases)
        self.loglik_ = self.log_likelihood_
        self.n_customers_ = int(x.size)
        edges = _edges(theta)
        self._set_uncertainty(objective, theta, edges, sol.penalty, sol.kind)
        self._set_note(sol, edges, n_repeat)
        return self

    def _set_note(self, sol, edges, n_repeat):
        n = self.n_customers_
        self.note_params_ = {"model": self.label, "customers": n, "repeat": n_repeat,
                             "penalizer": self.penalizer_, "boundary": ", ".join(self.boundary_)}
        who = f"{_count(n, 'customer')}, {n_repeat:,} of them repeat buyers"
        if self.no_repeaters_ and not sol.fallback:
            self.note_key_ = "clv_purchase_no_repeaters"
            self.message_ = (
                f"Nobody made a repeat purchase ({_count(n, 'customer')}), so the purchase model "
                f"({self.label}) expects no further purchases."
            )
        elif sol.fallback:
            if n_repeat == 0:
                reason = "no customer made a repeat purchase"
            else:
                verb = "does" if n == 1 else "do"
                who_all = f"{_count(n, 'customer')} with {_count(n_repeat, 'repeat buyer')}"
                reason = f"{who_all} {verb} not pin the model down"
            self.note_params_["reason"] = reason
            self.note_key_ = "clv_purchase_regularised" if sol.converged else "clv_purchase_failed"
            self.message_ = _fit_message("purchase", sol.converged, True, reason)
        elif sol.penalized:
            self.note_key_ = "clv_purchase_penalised"
            state = "converged" if sol.converged else "did not converge"
            self.message_ = (
                f"The purchase model ({self.label}) was fitted with a deliberate penalty of weight "
                f"{self.penalizer_:g} ({who}); the fit {state}."
            )
        elif self.boundary_:
            e_r, e_alpha, e_a, e_b = (int(e) for e in edges)
            meanings = [(key, words) for key, words, test in _PURCHASE_EDGES if test(e_r, e_alpha, e_a, e_b)]
            if meanings:
                self.note_key_ = f"clv_purchase_edge_{meanings[0][0]}"
                words = "; ".join(w for _, w in meanings)
            else:
                self.note_key_ = "clv_purchase_edge"
                words = f"the data do not pin down {', '.join(self.boundary_)} further"
            self.message_ = (
                f"The purchase model ({self.label}) converged at an edge of its parameters "
                f"({', '.join(self.boundary_)}; {who}): {words}."
            )
        else:
            self.note_key_ = "clv_purchase_converged"
            self.message_ = f"The purchase model converged ({who})."

    @staticmethod
    def _to_log(params):
        return np.log([params["r"], params["alpha"], params["a"], params["b"]])

    @staticmethod
    def _from_log(theta):
        r, alpha, a, b = (float(v) for v in np.exp(theta))
        return {"r": r, "alpha": alpha, "a": a, "b": b}

    # -- predictions -------------------------------------------------------

    def _params(self):
        _need_fit(self)
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def _no_repeaters(self):
        return bool(getattr(self, "no_repeaters_", False))

    def log_likelihood(self, frequency, recency, T) -> np.ndarray:
        """Each customer's log-likelihood at ``params_`` (time in weeks)."""
        r, alpha, a, b = self._params()
        k = self._K
        x, tx, T = _summary(frequency, recency, T)
        log_a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore"):
            log_a4 = np.where(
                x + k > 0,
                math.log(a) - np.log(np.maximum(b + x + k - 1, 1e-300)) - (r + x) * np.log(alpha + tx),
                -np.inf,
            )
        log_a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
        log_a2 = (
            special.gammaln(a + b) - special.gammaln(b) + special.gammaln(b + x + k) - special.gammaln(a + b + x + k)
        )
        return log_a1 + log_a2 + np.logaddexp(log_a3, log_a4)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Probability that each customer is still active at T (Hardie note
        021; for MBG/NBD, Batislam et al. 2007)."""
        _need_fit(self)
        x, tx, T = _summary(frequency, recency, T)
        return self._p_alive(x, tx, T)

    def _p_alive(self, x, tx, T):
        r, alpha, a, b = self._params()
        k = self._K
        with np.errstate(divide="ignore"):
            log_odds_dead = (
                math.log(a) - np.log(np.maximum(b + x + k - 1, 1e-300))
                + (r + x) * np.log1p((T - tx) / (alpha + tx))
            )
        return np.where(x + k > 0, special.expit(-log_odds_dead), 1.0)

    def _expected_if_alive(self, t, x, T):
        """Expected purchases in (T, T + t] of a customer alive at T (module doc);
        MBG/NBD's is BG/NBD's with b + 1 (one more drop-out opportunity survived)."""
        r, alpha, a, b = self._params()
        b = b + self._K
        t, x, T = np.broadcast_arrays(t, x, T)
        shape = t.shape
        if self._no_repeaters():
            return np.zeros(shape)
        x = x.ravel().astype(np.float64)
        s = (t / (alpha + T)).ravel()
        # Nobody drops out (a -> 0 or b -> infinity): the NBD limit (r + x) s,
        # closer than 1e-9 relative to the exact value there.
        no_dropout = a / (a + b + x) < _NO_DROPOUT
        value = np.empty(s.shape)
        value[no_dropout] = (r + x[no_dropout]) * s[no_dropout]
        rest = ~no_dropout
        if np.any(rest):
            xr, sr = x[rest], s[rest]
            if abs(a - 1) < _A_ONE_GAP:
                low, high = (_expected_if_alive_closed(r, a0, b, xr, sr) for a0 in (1 - _A_ONE_GAP, 1 + _A_ONE_GAP))
                part = low + (a - 1 + _A_ONE_GAP) / (2 * _A_ONE_GAP) * (high - low)
            else:
                part = _expected_if_alive_closed(r, a, b, xr, sr)
            # 0 <= value <= (r + x) s, the purchases expected if nobody ever dropped out.
            with np.errstate(invalid="ignore"):
                bad = ~((part >= 0) & (part <= (r + xr) * sr * (1 + 1e-9)))
            if np.any(bad):
                part[bad] = _expected_if_alive_quadrature(r, a, b, xr[bad], sr[bad])
            value[rest] = part
        return value.reshape(shape)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected number of purchases in (T, T + t] given each customer's
        history (BG/NBD paper eq. 10); ``t`` in weeks, scalar or per customer.
        Exactly 0 when nobody made a repeat purchase in the fitted data."""
        _need_fit(self)
        t = _check_t(t)
        x, tx, T = _summary(frequency, recency, T)
        t, x, tx, T = np.broadcast_arrays(t, x, tx, T)
        return self._p_alive(x, tx, T) * self._expected_if_alive(t, x, T)

    def expected_purchases_new(self, t):
        """E[X(t)]: expected repeat purchases in the first t weeks of a new
        customer (BG/NBD paper eq. 9); a float for a scalar ``t``."""
        _need_fit(self)
        t_arr = _check_t(t)
        value = self._p_alive(0.0, 0.0, 0.0) * self._expected_if_alive(t_arr, 0.0, 0.0)
        return float(value) if value.ndim == 0 else value

    def probability_of_n_purchases(self, t, n):
        """P(X(t) = n): probability that a new customer makes exactly n
        repeat purchases in the first t weeks (BG/NBD paper eq. 8; MBG/NBD
        with one more drop-out opportunity). ``t`` and ``n`` broadcast; a
        float when both are scalars.

        With NB(n) the negative binomial probability of n purchases of a
        customer who never drops out::

            P = B(a, b + n + k) / B(a, b) NB(n)
                + [n + k > 0] B(a + 1, b + n + k - 1) / B(a, b) P(NB >= n)
        """
        r, alpha, a, b = self._params()
        k = self._K
        t_arr = _check_t(t)
        n_arr = np.asarray(n, dtype=np.float64)
        if not np.all(np.isfinite(n_arr)) or np.any(n_arr < 0) or np.any(n_arr != np.floor(n_arr)):
            raise ValueError("n must be a whole number of purchases, 0 or more.")
        t_arr, n_arr = np.broadcast_arrays(t_arr, n_arr)
        if self._no_repeaters():
            value = (n_arr == 0).astype(np.float64)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                stay = np.exp(special.betaln(a, b + n_arr + k) - special.betaln(a, b))
                pmf = np.where(t_arr > 0, np.exp(_nbd_log_pmf(n_arr, r, alpha, np.maximum(t_arr, 1e-300))),
                               (n_arr == 0).astype(np.float64))
                # P(NB >= n) = 1 - P(NB <= n - 1); regularised incomplete beta form.
                p_nb = alpha / (alpha + t_arr)
                tail = np.where(n_arr > 0, special.betainc(np.maximum(n_arr, 1), r, 1 - p_nb), 1.0)
                tail = np.where(t_arr > 0, tail, (n_arr == 0).astype(np.float64))
                left = np.where(
                    n_arr + k > 0,
                    np.exp(special.betaln(a + 1, np.maximum(b + n_arr + k - 1, 1e-300)) - special.betaln(a, b)),
                    0.0,
                )
            value = stay * pmf + left * tail
        return float(value) if value.ndim == 0 else value


def _check_t(t):
    t = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t must be a finite number of weeks, 0 or more.")
    return t


class BGNBD(_PurchaseModel):
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005a)."""

    name = "bgnbd"
    label = "BG/NBD"
    _K = 0


class MBGNBD(_PurchaseModel):
    """Modified BG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but a
    customer may also drop out right after the first purchase, so one-time
    buyers are not all alive forever."""

    name = "mbgnbd"
    label = "MBG/NBD"
    _K = 1


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



_SPEND_EDGES = (
    ("steady_orders", "each customer's orders seem to be of the same value", lambda p, q, v: p > 0),
    ("same_spend", "every customer seems to have the same average order value", lambda p, q, v: q > 0),
    ("heavy_tail", "a few customers seem to spend far more per order than the rest", lambda p, q, v: q < 0),
)


class GammaGamma(_FittedParameters):
    """Gamma-Gamma model of the average order value (Fader, Hardie & Lee 2005b).

    After :meth:`fit`: ``params_`` (dict with ``p``, ``q``, ``v``, ``v`` in
    money units), ``log_likelihood_`` (= ``loglik_``), ``n_customers_``
    (repeat buyers used), ``converged_``, ``penalized_``, ``penalizer_``,
    ``boundary_``, ``message_``, ``note_key_``, ``note_params_``,
    ``standard_errors_`` and ``covariance_`` (in ``(log p, log(q - 1), log
    v)``), as for :class:`BGNBD`.
    """

    name = "gamma_gamma"
    PARAMS = ("p", "q", "v")

    def fit(self, frequency, monetary, *, penalizer: float | None = None, max_iter=1000, tol=1e-8) -> "GammaGamma":
        """Fit on the customers with frequency > 0 (those with a zero or negative
        average spend are left out, and the message says so)."""
        penalizer = _check_penalizer(penalizer)
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
        sol = _maximise(objective, starts, max_iter=max_iter, tol=tol, penalizer=penalizer)
        theta = sol.theta
        p, q1, v = np.exp(theta)
        self.params_ = {"p": float(p), "q": float(1 + q1), "v": float(v * scale)}
        self.converged_ = bool(sol.converged and not sol.fallback)
        self.penalized_ = bool(sol.penalized)
        self.penalizer_ = float(sol.penalty)
        self.log_likelihood_ = float(-objective.n * (objective(theta)[0] + math.log(scale)))
        self.loglik_ = self.log_likelihood_
        self.n_customers_ = int(x.size)
        edges = _edges(theta)
        self._set_uncertainty(objective, theta, edges, sol.penalty)
        buyers = _count(x.size, "repeat buyer")
        self.note_params_ = {"customers": int(x.size), "penalizer": self.penalizer_,
                             "boundary": ", ".join(self.boundary_), "left_out": n_left_out}
        if sol.fallback:
            self.note_key_ = "clv_spend_regularised" if sol.converged else "clv_spend_failed"
            reason = f"the spend of {buyers} does not pin the model down"
            self.message_ = _fit_message("spend", sol.converged, True, reason)
        elif sol.penalized:
            self.note_key_ = "clv_spend_penalised"
            state = "converged" if sol.converged else "did not converge"
            self.message_ = (
                f"The spend model was fitted with a deliberate penalty of weight {self.penalizer_:g} "
                f"({buyers}); the fit {state}."
            )
        elif self.boundary_:
            e_p, e_q, e_v = (int(e) for e in edges)
            meanings = [(key, words) for key, words, test in _SPEND_EDGES if test(e_p, e_q, e_v)]
            if meanings:
                self.note_key_ = f"clv_spend_edge_{meanings[0][0]}"
                words = "; ".join(w for _, w in meanings)
            else:
                self.note_key_ = "clv_spend_edge"
                words = f"the data do not pin down {', '.join(self.boundary_)} further"
            self.message_ = (
                f"The spend model converged at an edge of its parameters ({', '.join(self.boundary_)}; "
                f"{buyers}): {words}."
            )
        else:
            self.note_key_ = "clv_spend_converged"
            self.message_ = _fit_message("spend", True, False, buyers)
        if n_left_out:
            self.message_ += (
                f" {_count(n_left_out, 'repeat buyer')} with a zero or negative average spend "
                + ("was" if n_left_out == 1 else "were") + " left out."
            )
        return self

    @staticmethod
    def _to_log(params):
        return np.log([params["p"], params["q"] - 1, params["v"]])

    @staticmethod
    def _from_log(theta):
        p, q1, v = (float(t) for t in np.exp(theta))
        return {"p": p, "q": 1.0 + q1, "v": v}

    def with_params(self, params):
        if "q" in params and not float(params["q"]) > 1:
            raise ValueError("q must be above 1 (the mean spend is finite only then).")
        return super().with_params(params)

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
    purchase_model, gamma_gamma, frequency, recency, T, monetary, *,
    horizon_weeks=52, discount_rate_annual=0.10, step_weeks=4,
) -> np.ndarray:
    """Discounted expected spend of each customer over the next ``horizon_weeks``.

    The horizon is cut into steps of ``step_weeks`` (the last one shorter if
    needed); the expected purchases of each step (difference of
    ``purchase_model.expected_purchases`` at its end and start; a
    :class:`BGNBD` or :class:`MBGNBD`) times
    :meth:`GammaGamma.expected_spend` are discounted at the step's end by
    ``(1 + discount_rate_annual) ** (-weeks / WEEKS_PER_YEAR)`` and summed, as
    lifetimes' ``customer_lifetime_value`` does (:func:`discounted_purchases`
    times the expected spend). Never negative.
    """
    _need_fit(purchase_model)
    _need_fit(gamma_gamma)
    frequency, recency, T, monetary = _float_arrays(
        frequency=frequency, recency=recency, T=T, monetary=monetary
    )
    x, tx, T = _summary(frequency, recency, T)
    spend = gamma_gamma.expected_spend(x, monetary)
    return spend * discounted_purchases(purchase_model, x, tx, T, horizon_weeks=horizon_weeks,
                                        discount_rate_annual=discount_rate_annual, step_weeks=step_weeks)


def discounted_purchases(
    purchase_model, frequency, recency, T, *, horizon_weeks=52, discount_rate_annual=0.10, step_weeks=4,
) -> np.ndarray:
    """The stepwise discounted expected purchases of each customer over the
    next ``horizon_weeks`` (:func:`customer_lifetime_value` before the spend
    per purchase): each step's expected purchases discounted at its end."""
    _need_fit(purchase_model)
    if not all(math.isfinite(w) and w > 0 for w in (horizon_weeks, step_weeks)):
        raise ValueError("horizon_weeks and step_weeks must be positive numbers of weeks.")
    if not (math.isfinite(discount_rate_annual) and discount_rate_annual > -1):
        raise ValueError("discount_rate_annual must be a number above -1 (0.10 means 10% a year).")
    x, tx, T = _summary(frequency, recency, T)
    alive = purchase_model._p_alive(x, tx, T)
    # The expected purchases of an alive customer depend on (x, T) only.
    (ux, uT), inverse, _ = _compress(x.ravel(), T.ravel())
    n_steps = math.ceil(horizon_weeks / step_weeks - 1e-9)
    ends = np.minimum(step_weeks * np.arange(1, n_steps + 1), horizon_weeks)
    discount = (1.0 + discount_rate_annual) ** (-ends / WEEKS_PER_YEAR)
    previous = np.zeros(ux.size)
    total = np.zeros(ux.size)
    for end, factor in zip(ends, discount):
        current = purchase_model._expected_if_alive(end, ux, uT)
        total += factor * np.maximum(current - previous, 0.0)
        previous = current
    return alive * total[inverse].reshape(x.shape)
