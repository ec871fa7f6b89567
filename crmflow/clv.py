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


def _compress(*columns):
    """Distinct rows of the given equal-length columns.

    Returns ``(unique_columns, inverse, counts)`` such that
    ``unique_columns[j][inverse] == columns[j]``. Each column is coded by
    ``np.unique``; the codes are combined into one int64 key (re-coded
    whenever the next product could overflow) and the key is uniqued.
    """
    key = np.zeros(columns[0].shape[0], dtype=np.int64)
    n_key = 1
    for column in columns:
        values, code = np.unique(column, return_inverse=True)
        if n_key * values.size >= 2**62:
            uniq, key = np.unique(key, return_inverse=True)
            n_key = uniq.size
        key = key * values.size + code
        n_key *= values.size
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
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

    (s = 0 where x = 0). The first parts depend only on x or on (x, T) and are
    summed per distinct value; only the softplus/sigmoid part runs per row.
    """

    def __init__(self, x, tx, T, w):
        self.n = float(w.sum())
        # Terms in x only: one entry per distinct x, weighted by its count.
        self.x_values, x_code = np.unique(x, return_inverse=True)
        self.x_weight = np.bincount(x_code, weights=w, minlength=self.x_values.size)
        # Terms in (x, T): -(r + x) log(alpha + T) = -log(alpha + T) * (r w + w x) summed per T.
        self.T_values, T_code = np.unique(T, return_inverse=True)
        self.T_weight = np.bincount(T_code, weights=w, minlength=self.T_values.size)
        self.T_weight_x = np.bincount(T_code, weights=w * x, minlength=self.T_values.size)
        # Rows of repeat buyers: the log-add-exp part.
        rep = x > 0
        self.rx = x[rep]
        self.rx_values, self.rx_code = np.unique(self.rx, return_inverse=True)
        self.rtx = tx[rep]
        self.rgap = T[rep] - tx[rep]
        self.rw = w[rep]
        self.half_rw = 0.5 * self.rw
        self._buf = [np.empty(self.rx.size) for _ in range(5)]

    def __call__(self, theta):
        r, alpha, a, b = np.exp(theta)
        xv, nx = self.x_values, self.x_weight
        n = self.n
        # x-only parts: log A1 - r log alpha, log A2 and their derivatives.
        value = nx @ (
            special.gammaln(r + xv) + special.gammaln(b + xv) - special.gammaln(a + b + xv)
        ) + n * (special.gammaln(a + b) - special.gammaln(r) - special.gammaln(b))
        psi_ab_x = special.digamma(a + b + xv)
        g_r = nx @ special.digamma(r + xv) - n * special.digamma(r)
        g_a = n * special.digamma(a + b) - nx @ psi_ab_x
        g_b = g_a + nx @ special.digamma(b + xv) - n * special.digamma(b)
        # r log alpha and log A3 = -(r + x) log(alpha + T), per distinct T.
        log_aT = np.log(alpha + self.T_values)
        value += n * r * math.log(alpha) - log_aT @ (r * self.T_weight + self.T_weight_x)
        g_r += n * math.log(alpha) - log_aT @ self.T_weight
        g_alpha = n * r / alpha - (r * self.T_weight + self.T_weight_x) @ (1.0 / (alpha + self.T_values))
        if self.rx.size:
            # Repeat buyers: softplus(d) and s = sigmoid(d), d = c_x + (r + x) D.
            c_x = math.log(a) - np.log(b + self.rx_values - 1.0)
            q, D, d, e, f = self._buf
            np.add(self.rtx, alpha, out=q)  # alpha + t_x
            np.divide(self.rgap, q, out=D)
            np.log1p(D, out=D)  # D = log((alpha + T) / (alpha + t_x))
            np.add(self.rx, r, out=d)
            np.multiply(d, D, out=d)
            d += c_x[self.rx_code]
            # softplus(d) = max(d, 0) + log1p(exp(-|d|))
            np.abs(d, out=e)
            np.negative(e, out=e)
            np.exp(e, out=e)
            np.log1p(e, out=e)
            value += self.rw @ e + self.rw @ np.maximum(d, 0.0, out=e)
            # w s = w (1 + tanh(d / 2)) / 2
            np.multiply(d, 0.5, out=e)
            np.tanh(e, out=e)
            e += 1.0
            e *= self.half_rw
            g_r += e @ D
            # d D / d alpha = -(T - t_x) / ((alpha + T)(alpha + t_x))
            np.add(q, self.rgap, out=f)
            f *= q
            np.divide(self.rgap, f, out=f)
            np.add(self.rx, r, out=q)
            q *= e
            g_alpha -= q @ f
            ws_by_x = np.bincount(self.rx_code, weights=e, minlength=self.rx_values.size)
            g_a += ws_by_x.sum() / a
            g_b -= ws_by_x @ (1.0 / (b + self.rx_values - 1.0))
        grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
        return -value / n, -grad / n
