"""Customer lifetime value: BG/NBD purchase counts and Gamma-Gamma spend.

This is the pure numerical core of the CLV view. It imports only numpy, scipy
and the standard library; turning transactions into the per-customer summary
below is the job of the data layer.

Inputs: the calibration summary
-------------------------------
Every function takes one value per customer (arrays, or scalars that
broadcast):

``frequency`` (x)
    number of repeat purchases: distinct purchase *days* after the first one
    (several orders on the same day are one purchase), within the calibration
    period.
``recency`` (t_x)
    time from the first to the last purchase, in weeks (days / 7); 0 if x = 0.
``T``
    time from the first purchase to the end of the calibration period, in
    weeks (days / 7).
``monetary``
    mean amount of the repeat purchases (a same-day purchase's amount is the
    sum of that day's orders); only used where x > 0.

This is exactly the convention behind the published CDNOW numbers. For the
CDNOW sample (2,357 customers who first bought in the first quarter of 1997)
with calibration period 1997-01-01 .. 1997-09-30: merge each customer's rows
of one day into one purchase (summing the dollars), keep purchases dated up to
and including 1997-09-30, and measure T *to* 1997-09-30 (a customer who first
bought on 1997-01-01 has T = 272 / 7 = 38.857 weeks, not 273 / 7). This gives
946 repeat buyers and 1,432 repeat purchases, and the fits below reproduce the
published r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (Fader, Hardie & Lee
2005a) and p = 6.25, q = 3.74, gamma = 15.44 (Fader, Hardie & Lee 2005b, Hardie
note 025). In lifetimes this is ``summary_data_from_transaction_data(...,
observation_period_end="1997-09-30", freq="D", freq_multiplier=7)``; its
``freq="W"`` instead counts calendar-week periods (fewer repeat purchases,
whole-week recencies) and gives different parameters (r = 0.291, a = 0.665).

The models
----------
BG/NBD (Fader, Hardie & Lee 2005a, "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2)): while alive a
customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after
each purchase the customer drops out with probability p ~ Beta(a, b).

* Likelihood of one customer (paper eq. 6, written as in its section 7)::

      L = A1 * A2 * (A3 + [x > 0] * A4)
      A1 = Gamma(r + x) alpha^r / Gamma(r)
      A2 = Gamma(a + b) Gamma(b + x) / (Gamma(b) Gamma(a + b + x))
      A3 = (alpha + T)^-(r + x)
      A4 = a / (b + x - 1) * (alpha + t_x)^-(r + x)

  computed in logs, ``log(A3 + A4)`` as a log-add-exp, i.e. ``log A3 +
  softplus(d)`` with ``d = log A4 - log A3``.
* P(alive | x, t_x, T) (Hardie note 021)::

      1 / (1 + [x > 0] * a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x))

* Expected purchases in (T, T + t] (paper eq. 10) = P(alive) times the
  expectation for a customer known to be alive::

      (a + b + x - 1) / (a - 1) * (1 - (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)),
      z = t / (alpha + T + t)

  This is eq. 10's numerator after Euler's transformation 2F1(A, B; C; z) =
  (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z), which absorbs the factor
  ((alpha + T) / (alpha + T + t))^(r + x) and so neither overflows nor loses
  accuracy for large x or large t. With x = 0, T = 0 it is the unconditional
  E[X(t)] (paper eq. 9). At a = 1 both factors are singular with a finite
  limit; within 1e-6 of it the value is the mean of a = 1 -/+ 1e-6.

Gamma-Gamma (Fader, Hardie & Lee 2005b, "RFM and CLV: using iso-value curves
for customer base analysis", JMR 42(4); Hardie note 025 "The Gamma-Gamma model
of monetary value"): a customer's order values are Gamma(p, nu), and nu ~
Gamma(q, gamma) across customers (``gamma`` is the key ``"v"``). For a repeat
buyer with x repeat purchases of mean m the mean is Gamma(p x, nu x), giving
(note 025 eq. 1a)::

    log L = lnGamma(p x + q) - lnGamma(p x) - lnGamma(q) + q log v
            + (p x - 1) log m + p x log x - (p x + q) log(v + x m)

and the conditional expected average order value (note 025 eq. 5)::

    E[M | x, m] = p (v + x m) / (p x + q - 1),   population mean p v / (q - 1).

Customer lifetime value sums, over steps of ``step_weeks`` up to the horizon,
the expected purchases in each step times the expected spend, discounted at
the end of the step -- the discrete scheme of lifetimes'
``customer_lifetime_value``.

Fitting: speed
--------------
* Compression: customers with the same (x, t_x, T) (Gamma-Gamma: (x, m)) are
  one row with a count weight. The rows are found with ``np.unique`` per
  column, combined into one integer key and uniqued again (with
  ``return_inverse`` / ``return_counts``): the same result as
  ``np.unique(np.column_stack(...), axis=0)`` but about eight times faster.
* The likelihood is split by what each term depends on: the lnGamma/digamma
  terms depend only on x and the ``(r + x) log(alpha + T)`` term only on (x,
  T), so both are summed once per distinct x or T with precomputed weights;
  only the log-add-exp of repeat buyers is evaluated row by row, into
  preallocated buffers.
* Analytic gradient (derived from the formulas above, chain rule to the
  log-parameters), L-BFGS-B on the mean negative log-likelihood in
  log-parameter space, with time (and money) rescaled so that the data are of
  order one and the starting values need no tuning.

Fitting: robustness
-------------------
The optimiser runs from a few fixed starting points in turn. A run is
accepted if it converged and the shape parameters (r, a, b; p, q - 1) lie in
[1e-4, 1e4]; a shape running off beyond that means the data cannot identify
it (for example, nobody repeat-purchased, so nothing is known about drop-out).
If no run is accepted, the fit is redone with a small L2 penalty on the
log-parameters, which keeps them finite: ``penalized_`` is then True and
``message_`` says so in plain words. Data never cause an exception except when
there is no customer at all, or (Gamma-Gamma) no repeat buyer with a positive
spend. Gamma-Gamma is optimised in (log p, log(q - 1), log gamma): q > 1 is
needed for a finite mean spend, and the maximum is the same whenever the
unconstrained one has q > 1.
"""

from __future__ import annotations

import math

import numpy as np
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
_PENALTY = 1e-3
# Half-width of the interval around a = 1 over which E[purchases] is averaged.
_A_ONE_GAP = 1e-6


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


def _maximise(objective, starts, shape_index, *, max_iter, tol):
    """Minimise ``objective(theta) -> (value, gradient)`` over log-parameters.

    Tries each start; returns ``(theta, converged, penalized)`` for the first
    run that converged with every shape parameter (the entries of
    ``shape_index``) within [1/_SHAPE_LIMIT, _SHAPE_LIMIT]. If none does, the
    objective plus ``_PENALTY * |theta|^2`` is minimised from the first start.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    options = {"maxiter": max_iter, "gtol": tol, "ftol": 1e-14}
    shape_limit = math.log(_SHAPE_LIMIT)

    def run(fun, start):
        return optimize.minimize(fun, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)

    def acceptable(res):
        theta = res.x
        return (
            res.success
            and np.all(np.isfinite(theta))
            and np.all(np.abs(theta[shape_index]) <= shape_limit)
            and np.all(np.abs(theta) < _LOG_BOUND * (1 - 1e-9))
        )

    for start in starts:
        res = run(objective, np.asarray(start, dtype=np.float64))
        if acceptable(res):
            return res.x, True, False

    def penalised(theta):
        value, grad = objective(theta)
        return value + _PENALTY * (theta @ theta), grad + 2 * _PENALTY * theta

    res = run(penalised, np.asarray(starts[0], dtype=np.float64))
    return res.x, bool(res.success and np.all(np.isfinite(res.x))), True


def _fit_message(model, converged, penalized, reason):
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
    """Dot product of two long vectors without BLAS, whose idle threads would
    spin and double the CPU time of a fit."""
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
        value = nx @ (
            special.gammaln(r + xv) + special.gammaln(b + xv) - special.gammaln(a + b + xv)
        ) + n * (special.gammaln(a + b) - special.gammaln(r) - special.gammaln(b))
        g_r = nx @ special.digamma(r + xv) - n * special.digamma(r)
        g_a = n * special.digamma(a + b) - nx @ special.digamma(a + b + xv)
        g_b = g_a + nx @ special.digamma(b + xv) - n * special.digamma(b)
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
        g_b -= ws_by_x @ inv_b
        return value, g_r, g_alpha, g_a, g_b


def _shapes_message(model, n, n_repeat, converged, penalized):
    if not penalized:
        reason = f"{n:,} customers, {n_repeat:,} of them repeat buyers"
    elif n_repeat == 0:
        reason = "no customer made a repeat purchase"
    else:
        reason = f"{n_repeat:,} of {n:,} customers made a repeat purchase, which does not pin the model down"
    return _fit_message(model, converged, penalized, reason)


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
        exposure, purchases = float(w @ uT) / scale, float(w @ ux)
        rate = purchases / exposure if purchases > 0 and exposure > 0 else 1.0
        starts = [
            [math.log(r0), math.log(r0 / rate), math.log(a0), math.log(b0)]
            for r0, a0, b0 in ((1.0, 1.0, 1.0), (0.25, 0.5, 2.0), (4.0, 2.0, 8.0))
        ]
        starts = np.clip(starts, -_LOG_BOUND / 2, _LOG_BOUND / 2)
        theta, self.converged_, self.penalized_ = _maximise(
            objective, starts, [0, 2, 3], max_iter=max_iter, tol=tol
        )
        r, alpha, a, b = np.exp(theta)
        self.params_ = {"r": float(r), "alpha": float(alpha * scale), "a": float(a), "b": float(b)}
        # Back to weeks: each repeat purchase's density gains a factor 1/scale.
        self.loglik_ = float(-objective.n * objective(theta)[0] - math.log(scale) * purchases)
        self.n_customers_ = int(x.size)
        self.message_ = _shapes_message(
            "purchase", x.size, int(np.count_nonzero(x)), self.converged_, self.penalized_
        )
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
        return (
            special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
            + special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
            + np.logaddexp(log_a3, log_a4)
        )

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Probability that each customer is still active at T (Hardie note 021)."""
        r, alpha, a, b = self._params()
        x, tx, T = _summary(frequency, recency, T)
        return self._p_alive(x, tx, T)

    def _p_alive(self, x, tx, T):
        r, alpha, a, b = self._params()
        log_odds_dead = (
            math.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * np.log1p((T - tx) / (alpha + tx))
        )
        return np.where(x > 0, special.expit(-log_odds_dead), 1.0)

    def _expected_if_alive(self, t, x, T):
        """Expected purchases in (T, T + t] of a customer alive at T (see module doc)."""
        r, alpha, a, b = self._params()
        z = t / (alpha + T + t)

        def at(a):
            c = a + b + x - 1
            return c / (a - 1) * (1 - (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, c, z))

        if abs(a - 1) < _A_ONE_GAP:
            return 0.5 * (at(1 - _A_ONE_GAP) + at(1 + _A_ONE_GAP))
        return at(a)

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
        self.sum_x_log_mx = float(self.wx @ (np.log(m) + np.log(x)))
        self.sum_log_m = float(w @ np.log(m))
        self._buf = np.empty(x.size)

    def __call__(self, theta):
        p, q1, v = np.exp(theta)
        q = 1.0 + q1
        xv, nx, n = self.x_values, self.x_weight, self.n
        px = p * xv
        L = np.log(np.add(self.xm, v, out=self._buf), out=self._buf)
        wx_L, w_L = self.wx @ L, self.w @ L
        value = (
            nx @ (special.gammaln(px + q) - special.gammaln(px)) - n * special.gammaln(q) + n * q * math.log(v)
            + p * self.sum_x_log_mx - self.sum_log_m - p * wx_L - q * w_L
        )
        psi_pxq = special.digamma(px + q)
        g_p = (nx * xv) @ (psi_pxq - special.digamma(px)) + self.sum_x_log_mx - wx_L
        g_q = nx @ psi_pxq - n * special.digamma(q) + n * math.log(v) - w_L
        R = np.reciprocal(np.add(self.xm, v, out=self._buf), out=self._buf)
        g_v = n * q / v - p * (self.wx @ R) - q * (self.w @ R)
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
        repeat = x > 0
        if not np.any(repeat):
            raise ValueError("There are no repeat buyers to fit the spend model on (every frequency is 0).")
        usable = repeat & (m > 0)
        n_left_out = int(np.count_nonzero(repeat & ~usable))
        if not np.any(usable):
            raise ValueError("There are no repeat buyers with a positive average spend to fit the spend model on.")
        x, m = x[usable], m[usable]
        (ux, um), _, w = _compress(x, m)
        scale = float(w @ um) / float(w.sum())  # money unit: the mean spend
        objective = _GammaGammaObjective(ux, um / scale, w)
        # Starts whose population mean p v / (q - 1) equals the mean spend.
        starts = [[math.log(p0), math.log(q0 - 1), math.log((q0 - 1) / p0)] for p0, q0 in ((1.0, 2.0), (4.0, 4.0), (0.5, 1.5))]
        theta, self.converged_, self.penalized_ = _maximise(objective, starts, [0, 1], max_iter=max_iter, tol=tol)
        p, q1, v = np.exp(theta)
        self.params_ = {"p": float(p), "q": float(1 + q1), "v": float(v * scale)}
        self.loglik_ = float(-objective.n * (objective(theta)[0] + math.log(scale)))
        self.n_customers_ = int(x.size)
        reason = f"{x.size:,} repeat buyers"
        self.message_ = _fit_message("spend", self.converged_, self.penalized_, reason)
        if n_left_out:
            self.message_ += f" {n_left_out:,} repeat buyers with a zero or negative average spend were left out."
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
    if not (math.isfinite(horizon_weeks) and horizon_weeks > 0 and math.isfinite(step_weeks) and step_weeks > 0):
        raise ValueError("horizon_weeks and step_weeks must be positive numbers of weeks.")
    if not (math.isfinite(discount_rate_annual) and discount_rate_annual > -1):
        raise ValueError("discount_rate_annual must be a number above -1 (0.10 means 10% a year).")
    frequency, recency, T, monetary = _float_arrays(frequency=frequency, recency=recency, T=T, monetary=monetary)
    x, tx, T = _summary(frequency, recency, T)
    spend = gg.expected_spend(x, monetary)
    alive = bgnbd._p_alive(x, tx, T)
    # The expected purchases of an alive customer depend on (x, T) only.
    (ux, uT), inverse, _ = _compress(x.ravel(), T.ravel())
    ends = np.minimum(step_weeks * np.arange(1, math.ceil(horizon_weeks / step_weeks - 1e-9) + 1), horizon_weeks)
    discount = (1.0 + discount_rate_annual) ** (-ends / WEEKS_PER_YEAR)
    previous = np.zeros(ux.size)
    discounted_purchases = np.zeros(ux.size)
    for end, factor in zip(ends, discount):
        current = bgnbd._expected_if_alive(end, ux, uT)
        discounted_purchases += factor * np.maximum(current - previous, 0.0)
        previous = current
    return spend * alive * discounted_purchases[inverse].reshape(x.shape)
