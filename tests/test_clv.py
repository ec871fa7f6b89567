"""Tests of crmflow.clv: BG/NBD and Gamma-Gamma.

The published CDNOW numbers are checked on the CDNOW sample read by this
file's own loader (the convention is documented in crmflow/clv.py). The
comparison with the archived ``lifetimes`` package is skipped where it is not
installed. ``test_speed_report`` prints timings (run pytest with ``-s`` to see
them) and asserts none.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmflow import clv

CDNOW_SAMPLE = Path(__file__).parent / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = pd.Timestamp("1997-09-30")

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def read_cdnow_transactions() -> pd.DataFrame:
    """The CDNOW sample file: one row per order (id, date, dollars)."""
    orders = pd.read_csv(
        CDNOW_SAMPLE,
        sep=r"\s+",
        header=None,
        names=["master_id", "id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    orders["date"] = pd.to_datetime(orders["date"], format="%Y%m%d")
    return orders[["id", "date", "dollars"]]


def cdnow_summary() -> pd.DataFrame:
    """Calibration summary of the CDNOW sample, 1997-01-01 .. 1997-09-30.

    Orders of one customer on one day are one purchase (dollars summed);
    frequency = purchase days - 1, recency = (last - first) days / 7,
    T = (1997-09-30 - first) days / 7, monetary = mean of the repeat purchases.
    """
    orders = read_cdnow_transactions()
    daily = orders.groupby(["id", "date"], as_index=False)["dollars"].sum()
    calibration = daily[daily["date"] <= CALIBRATION_END].sort_values(["id", "date"])
    by_customer = calibration.groupby("id")
    first, last = by_customer["date"].min(), by_customer["date"].max()
    frequency = by_customer.size() - 1
    repeat_dollars = by_customer["dollars"].sum() - by_customer["dollars"].first()
    monetary = (repeat_dollars / frequency.where(frequency > 0)).fillna(0.0)
    return pd.DataFrame(
        {
            "frequency": frequency.astype(float),
            "recency": (last - first).dt.days / 7,
            "T": (CALIBRATION_END - first).dt.days / 7,
            "monetary": monetary,
        }
    )


def simulate_bgnbd(n, r=0.243, alpha=4.414, a=0.793, b=2.426, max_days=1400, seed=0):
    """Calibration summaries of n customers drawn from a BG/NBD process.

    First purchases are spread uniformly over the last ``max_days`` days
    (T up to 200 weeks); recency is rounded down to whole days.
    """
    rng = np.random.default_rng(seed)
    T_days = rng.integers(1, max_days + 1, n)
    T = T_days / 7
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    purchases_until_dropout = rng.geometric(dropout)
    purchases_if_alive = rng.poisson(rate * T)
    x = np.minimum(purchases_if_alive, purchases_until_dropout)
    # The x-th of n uniform purchase times on (0, T) is T * Beta(x, n - x + 1).
    last = rng.beta(np.maximum(x, 1), np.maximum(purchases_if_alive - x + 1, 1))
    recency_days = np.where(x > 0, np.maximum(np.floor(last * T_days), 1), 0)
    return x.astype(float), recency_days / 7, T


def simulate_spend(frequency, p=6.25, q=3.74, v=15.44, seed=0):
    """Mean order value of each customer's repeat purchases under Gamma-Gamma
    (0 for customers without repeat purchases)."""
    rng = np.random.default_rng(seed)
    x = np.maximum(frequency, 1)
    nu = rng.gamma(q, 1 / v, frequency.size)
    return np.where(frequency > 0, rng.gamma(p * x, 1 / (nu * x)), 0.0)


@pytest.fixture(scope="module")
def cdnow():
    return cdnow_summary()


@pytest.fixture(scope="module")
def cdnow_arrays(cdnow):
    return tuple(cdnow[c].to_numpy() for c in ("frequency", "recency", "T", "monetary"))


@pytest.fixture(scope="module")
def bgnbd(cdnow_arrays):
    x, tx, T, _ = cdnow_arrays
    return clv.BGNBD().fit(x, tx, T)


@pytest.fixture(scope="module")
def gamma_gamma(cdnow_arrays):
    x, _, _, m = cdnow_arrays
    return clv.GammaGamma().fit(x, m)


def fitted_bgnbd(r, alpha, a, b):
    model = clv.BGNBD()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    return model


def central_gradient(fun, theta, h=1e-6):
    grad = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        grad[i] = (fun(theta + step)[0] - fun(theta - step)[0]) / (2 * h)
    return grad


# ---------------------------------------------------------------------------
# Published numbers
# ---------------------------------------------------------------------------


def test_cdnow_summary_is_the_published_sample(cdnow):
    assert len(cdnow) == 2357
    assert (cdnow["frequency"] > 0).sum() == 946
    first = cdnow.iloc[0]  # customer 1: Jan 1, Jan 18, Aug 2 (and Dec 12, after calibration)
    assert first["frequency"] == 2
    assert first["recency"] == pytest.approx(213 / 7)
    assert first["T"] == pytest.approx(272 / 7)
    assert first["monetary"] == pytest.approx((29.73 + 14.96) / 2)


def test_bgnbd_reproduces_published_parameters(bgnbd):
    assert bgnbd.converged_ and not bgnbd.penalized_
    for name, published in PUBLISHED_BGNBD.items():
        assert bgnbd.params_[name] == pytest.approx(published, rel=0.01), name
    assert bgnbd.n_customers_ == 2357
    # Fader, Hardie & Lee (2005a) report a log-likelihood of -9582.4.
    assert bgnbd.loglik_ == pytest.approx(-9582.4, abs=0.1)
    assert bgnbd.message_ == "The purchase model converged (2,357 customers, 946 of them repeat buyers)."


def test_gamma_gamma_reproduces_published_parameters(gamma_gamma):
    assert gamma_gamma.converged_ and not gamma_gamma.penalized_
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert gamma_gamma.params_[name] == pytest.approx(published, rel=0.01), name
    assert gamma_gamma.n_customers_ == 946


# ---------------------------------------------------------------------------
# Likelihood, gradient and compression
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "theta",
    [np.log([0.243, 0.114, 0.793, 2.426]), np.log([2.0, 0.01, 0.2, 30.0]), np.log([0.05, 3.0, 5.0, 0.3])],
)
def test_bgnbd_gradient_matches_finite_differences(cdnow_arrays, theta):
    x, tx, T, _ = cdnow_arrays
    (ux, utx, uT), _, w = clv._compress(x, tx, T)
    objective = clv._BGNBDObjective(ux, utx / uT.max(), uT / uT.max(), w)
    _, grad = objective(theta)
    np.testing.assert_allclose(grad, central_gradient(objective, theta), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "theta", [np.log([6.25, 2.74, 0.6]), np.log([0.5, 0.1, 3.0]), np.log([40.0, 20.0, 0.05])]
)
def test_gamma_gamma_gradient_matches_finite_differences(cdnow_arrays, theta):
    x, _, _, m = cdnow_arrays
    (ux, um), _, w = clv._compress(x[x > 0], m[x > 0])
    objective = clv._GammaGammaObjective(ux, um / um.mean(), w)
    _, grad = objective(theta)
    np.testing.assert_allclose(grad, central_gradient(objective, theta), rtol=1e-6, atol=1e-9)


def test_compressed_likelihood_equals_uncompressed(cdnow_arrays, bgnbd, gamma_gamma):
    x, tx, T, m = cdnow_arrays
    (ux, utx, uT), inverse, counts = clv._compress(x, tx, T)
    assert counts.sum() == x.size and len(ux) < x.size
    np.testing.assert_array_equal(ux[inverse], x)
    np.testing.assert_array_equal(utx[inverse], tx)
    np.testing.assert_array_equal(uT[inverse], T)
    theta = np.log([0.3, 0.2, 0.7, 2.0])
    compressed = clv._BGNBDObjective(ux, utx, uT, counts)(theta)
    raw = clv._BGNBDObjective(x, tx, T, np.ones_like(x))(theta)
    assert compressed[0] == pytest.approx(raw[0], rel=1e-12)
    np.testing.assert_allclose(compressed[1], raw[1], rtol=1e-10, atol=1e-14)
    # The fits' log-likelihoods equal the sum of per-customer log-likelihoods.
    assert bgnbd.loglik_ == pytest.approx(bgnbd.log_likelihood(x, tx, T).sum(), rel=1e-12)
    assert gamma_gamma.loglik_ == pytest.approx(gamma_gamma.log_likelihood(x, m).sum(), rel=1e-12)
    rep = x > 0
    (ux, um), _, counts = clv._compress(x[rep], m[rep])
    theta = np.log([5.0, 2.0, 0.5])
    compressed = clv._GammaGammaObjective(ux, um, counts)(theta)
    raw = clv._GammaGammaObjective(x[rep], m[rep], np.ones(rep.sum()))(theta)
    assert compressed[0] == pytest.approx(raw[0], rel=1e-12)
    np.testing.assert_allclose(compressed[1], raw[1], rtol=1e-10, atol=1e-14)


def test_fit_is_equivariant_in_the_time_unit():
    x, tx, T = simulate_bgnbd(20_000, seed=3)
    weeks = clv.BGNBD().fit(x, tx, T).params_
    for factor in (7.0, 168.0, 1 / 52):  # days, hours, years
        other = clv.BGNBD().fit(x, tx * factor, T * factor).params_
        for name in ("r", "a", "b"):
            assert other[name] == pytest.approx(weeks[name], rel=1e-5)
        assert other["alpha"] == pytest.approx(weeks["alpha"] * factor, rel=1e-5)


# ---------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------


def test_p_alive_is_a_probability_and_one_without_repeats(bgnbd, cdnow_arrays):
    x, tx, T, _ = cdnow_arrays
    alive = bgnbd.p_alive(x, tx, T)
    assert alive.shape == x.shape
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(alive[x == 0] == 1.0)
    assert np.all(alive[x > 0] < 1.0)
    # Customer 1 of the paper's example: x = 2, t_x = 30.43, T = 38.86.
    assert bgnbd.p_alive(2, 30.43, 38.86) > bgnbd.p_alive(2, 10.0, 38.86)


def test_expected_purchases_nonnegative_and_increasing(bgnbd, cdnow_arrays):
    x, tx, T, _ = cdnow_arrays
    previous = np.zeros_like(x)
    for t in (0.5, 4, 13, 39, 52, 104, 520, 5200):
        expected = bgnbd.expected_purchases(t, x, tx, T)
        assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
        assert np.all(expected >= previous)
        assert np.any(expected > previous)
        previous = expected
    assert np.all(bgnbd.expected_purchases(0.0, x, tx, T) == 0)
    new = bgnbd.expected_purchases_new(np.array([1.0, 13, 39, 78]))
    assert np.all(np.diff(new) > 0)
    assert isinstance(bgnbd.expected_purchases_new(39), float)
    # A new customer is a customer with no history at age 0.
    assert bgnbd.expected_purchases_new(39) == pytest.approx(float(bgnbd.expected_purchases(39, 0, 0, 0)))


# Reference values of paper eq. 10 from mpmath (50 digits) for hard parameters:
# a near 1, and large a and b with long t, where scipy's hyp2f1 fails.
@pytest.mark.parametrize(
    ("params", "t", "x", "tx", "T", "expected"),
    [
        ((0.243, 4.414, 1.000000001, 2.426), 52, 0, 0, 38, 0.24978211261278263),
        ((0.243, 4.414, 0.99999, 2.426), 52, 0, 0, 38, 0.2497824140242184),
        ((1.0, 1.0, 50.0, 100.0), 100, 0, 0, 0, 2.9499001006622803),
        ((1.0, 1.0, 50.0, 100.0), 1e4, 5, 10, 20, 0.12946698746376503),
        ((0.01, 0.01, 0.01, 0.01), 5000, 300, 199, 200, 7321.765448130086),
    ],
)
def test_expected_purchases_hard_cases(params, t, x, tx, T, expected):
    value = float(fitted_bgnbd(*params).expected_purchases(t, x, tx, T))
    assert value == pytest.approx(expected, rel=1e-6)


def test_expected_purchases_continuous_through_a_equal_one():
    values = [
        float(fitted_bgnbd(0.243, 4.414, a, 2.426).expected_purchases(52, 2, 30.43, 38.86))
        for a in (1 - 1e-3, 1 - 1e-5, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-5, 1 + 1e-3)
    ]
    assert np.all(np.isfinite(values))
    assert np.all(np.abs(np.diff(values)) < 1e-3 * values[0])


def test_expected_spend_shrinks_to_population_mean(gamma_gamma):
    p, q, v = (gamma_gamma.params_[k] for k in ("p", "q", "v"))
    population_mean = p * v / (q - 1)
    spend = gamma_gamma.expected_spend([0, 1, 1, 50], [np.nan, 10.0, 100.0, 100.0])
    assert spend[0] == pytest.approx(population_mean)
    assert 10.0 < spend[1] < population_mean < spend[2] < 100.0
    assert abs(spend[3] - 100.0) < abs(spend[2] - 100.0)
    assert np.all(gamma_gamma.expected_spend([1, 2], [-5.0, 0.0]) > 0)


def test_clv_nonnegative_and_equal_to_the_stepwise_sum(bgnbd, gamma_gamma, cdnow_arrays):
    x, tx, T, m = cdnow_arrays
    value = clv.customer_lifetime_value(bgnbd, gamma_gamma, x, tx, T, m)
    assert value.shape == x.shape
    assert np.all(np.isfinite(value)) and np.all(value >= 0)
    # By hand: 13 steps of 4 weeks, discounted at 10% a year.
    spend = gamma_gamma.expected_spend(x, m)
    by_hand = np.zeros_like(x)
    for k in range(1, 14):
        end, start = (bgnbd.expected_purchases(weeks, x, tx, T) for weeks in (4 * k, 4 * (k - 1)))
        by_hand += spend * (end - start) / 1.10 ** (4 * k / clv.WEEKS_PER_YEAR)
    np.testing.assert_allclose(value, by_hand, rtol=1e-10)
    # A horizon that is not a whole number of steps ends with a shorter step.
    short = clv.customer_lifetime_value(bgnbd, gamma_gamma, x, tx, T, m, horizon_weeks=10, step_weeks=4)
    longer = clv.customer_lifetime_value(bgnbd, gamma_gamma, x, tx, T, m, horizon_weeks=12, step_weeks=4)
    assert np.all(short <= longer) and np.all(short <= value)
    assert np.all(clv.customer_lifetime_value(bgnbd, gamma_gamma, 0, 0, 10.0, np.nan) > 0)


# ---------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------


def test_all_customers_without_repeats_expect_no_purchases_with_a_message():
    # Behaviour changed in issue 13: no penalised fallback any more; the
    # maximum-likelihood answer (r -> 0) is kept and predicts exactly 0.
    T = np.linspace(1, 50, 1000)
    model = clv.BGNBD().fit(np.zeros_like(T), np.zeros_like(T), T)
    assert not model.penalized_ and model.converged_ and model.no_repeaters_
    assert "Nobody made a repeat purchase" in model.message_
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert np.all(model.p_alive(0, 0, T) == 1)
    assert np.all(model.expected_purchases(52, 0, 0, T) == 0)


@pytest.mark.parametrize(
    ("frequency", "recency", "T"),
    [([0], [0], [10]), ([3], [5], [10]), ([3, 0], [5, 0], [10, 20]), ([0, 0], [0, 0], [0, 0])],
)
def test_tiny_data_never_raises(frequency, recency, T):
    model = clv.BGNBD().fit(frequency, recency, T)
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert isinstance(model.message_, str) and model.message_.endswith(".")
    assert np.all(np.isfinite(model.expected_purchases(52, frequency, recency, T)))


def test_degenerate_data_is_flagged_not_raised():
    x, _, T = simulate_bgnbd(5000, seed=4)
    # Repeat purchases all at the first purchase: the likelihood has no maximum.
    model = clv.BGNBD().fit(x, np.zeros_like(x), T)
    assert model.penalized_ and not model.converged_
    assert "did not converge" in model.message_ or "could not be fitted" in model.message_
    # Everybody spends exactly the same: the spend model's shapes run off.
    spend = clv.GammaGamma().fit(np.full(100, 2.0), np.full(100, 10.0))
    assert spend.penalized_
    assert spend.expected_spend(0, np.nan) == pytest.approx(10.0, rel=0.05)


def test_heavy_buyer_and_long_horizons_stay_finite():
    x, tx, T = simulate_bgnbd(20_000, seed=5)
    x, tx, T = np.append(x, 2000.0), np.append(tx, 199.0), np.append(T, 200.0)
    model = clv.BGNBD().fit(x, tx, T)
    assert model.converged_
    for t in (52, 5200):
        expected = model.expected_purchases(t, x, tx, T)
        assert np.all(np.isfinite(expected)) and np.all(expected >= 0)


def test_empty_input_raises_plain_value_error():
    with pytest.raises(ValueError, match="no customers"):
        clv.BGNBD().fit([], [], [])
    with pytest.raises(ValueError, match="no customers"):
        clv.GammaGamma().fit([], [])
    with pytest.raises(ValueError, match="no repeat buyers"):
        clv.GammaGamma().fit([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match="positive average spend"):
        clv.GammaGamma().fit([1, 2], [-5.0, 0.0])


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "match"),
    [
        ([1], [5], [4], "recency cannot be larger than T"),
        ([-1], [0], [4], "whole number"),
        ([1.5], [1], [4], "whole number"),
        ([np.nan], [1], [4], "missing"),
        ([1], [np.inf], [4], "missing"),
        ([1, 2], [1, 2, 3], [4, 5, 6], "different lengths"),
    ],
)
def test_invalid_input_raises_plain_value_error(frequency, recency, T, match):
    with pytest.raises(ValueError, match=match):
        clv.BGNBD().fit(frequency, recency, T)


def test_unfitted_models_raise_not_fitted_error():
    with pytest.raises(clv.NotFittedError, match="not fitted"):
        clv.BGNBD().p_alive(1, 1, 2)
    with pytest.raises(clv.NotFittedError, match="not fitted"):
        clv.BGNBD().expected_purchases(1, 1, 1, 2)
    with pytest.raises(clv.NotFittedError, match="not fitted"):
        clv.BGNBD().expected_purchases_new(1)
    with pytest.raises(clv.NotFittedError, match="not fitted"):
        clv.GammaGamma().expected_spend(1, 10.0)
    with pytest.raises(clv.NotFittedError, match="not fitted"):
        clv.customer_lifetime_value(clv.BGNBD(), clv.GammaGamma(), 1, 1, 2, 10.0)


# ---------------------------------------------------------------------------
# Comparison with lifetimes
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifetimes():
    return pytest.importorskip("lifetimes")


def test_lifetimes_summary_convention_matches_loader(lifetimes, cdnow):
    from lifetimes.utils import summary_data_from_transaction_data

    summary = summary_data_from_transaction_data(
        read_cdnow_transactions(),
        "id",
        "date",
        "dollars",
        observation_period_end="1997-09-30",
        freq="D",
        freq_multiplier=7,
    )
    np.testing.assert_array_equal(summary["frequency"].to_numpy(), cdnow["frequency"].to_numpy())
    np.testing.assert_allclose(summary["recency"].to_numpy(), cdnow["recency"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(summary["T"].to_numpy(), cdnow["T"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(summary["monetary_value"].to_numpy(), cdnow["monetary"].to_numpy(), rtol=1e-9)


def test_same_results_as_lifetimes_on_cdnow(lifetimes, bgnbd, gamma_gamma, cdnow_arrays, cdnow):
    x, tx, T, m = cdnow_arrays
    reference = lifetimes.BetaGeoFitter().fit(x, tx, T)
    for name in ("r", "alpha", "a", "b"):
        assert bgnbd.params_[name] == pytest.approx(reference.params_[name], rel=1e-3), name
    # Predictions of lifetimes' formulas at our parameters.
    reference.params_ = pd.Series(bgnbd.params_)
    np.testing.assert_allclose(
        bgnbd.p_alive(x, tx, T), reference.conditional_probability_alive(x, tx, T), rtol=1e-10
    )
    for t in (4, 39, 52):
        np.testing.assert_allclose(
            bgnbd.expected_purchases(t, x, tx, T),
            reference.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T),
            rtol=1e-8,
        )
        new_customer = reference.expected_number_of_purchases_up_to_time(t)
        assert bgnbd.expected_purchases_new(t) == pytest.approx(new_customer, rel=1e-10)

    rep = x > 0
    spend_reference = lifetimes.GammaGammaFitter().fit(x[rep], m[rep])
    for name in ("p", "q", "v"):
        assert gamma_gamma.params_[name] == pytest.approx(spend_reference.params_[name], rel=1e-3), name
    spend_reference.params_ = pd.Series(gamma_gamma.params_)
    frequency, monetary = cdnow["frequency"], cdnow["monetary"]
    np.testing.assert_allclose(
        gamma_gamma.expected_spend(x, m),
        spend_reference.conditional_expected_average_profit(frequency, monetary).to_numpy(),
        rtol=1e-12,
    )
    # lifetimes' CLV: 12 months of 4.345 weeks, 1% a month.
    month = 4.345
    value = clv.customer_lifetime_value(
        bgnbd,
        gamma_gamma,
        x,
        tx,
        T,
        m,
        horizon_weeks=12 * month,
        step_weeks=month,
        discount_rate_annual=1.01 ** (clv.WEEKS_PER_YEAR / month) - 1,
    )
    reference_value = spend_reference.customer_lifetime_value(
        reference, frequency, cdnow["recency"], cdnow["T"], monetary, time=12, discount_rate=0.01, freq="W"
    )
    np.testing.assert_allclose(value, reference_value.to_numpy(), rtol=1e-8)


# ---------------------------------------------------------------------------
# Speed (printed, not asserted)
# ---------------------------------------------------------------------------


def _cpu_seconds(fit):
    start = time.process_time()
    result = fit()
    return time.process_time() - start, result


def test_speed_report():
    lines = []
    for n in (100_000, 1_000_000):
        x, tx, T = simulate_bgnbd(n, seed=1)
        seconds, model = _cpu_seconds(lambda: clv.BGNBD().fit(x, tx, T))
        assert model.converged_
        n_rows = clv._compress(x, tx, T)[2].size
        lines.append(f"BGNBD.fit on {n:>9,} customers ({n_rows:,} distinct rows): {seconds:.3f} s CPU")
        m = simulate_spend(x, seed=2)
        seconds, spend_model = _cpu_seconds(lambda: clv.GammaGamma().fit(x, m))
        assert spend_model.converged_
        lines.append(f"GammaGamma.fit on {n:>9,} customers: {seconds:.3f} s CPU")
        if n == 100_000:
            ours = model
            sample = (x, tx, T)
    try:
        import lifetimes
    except ImportError:
        lines.append("lifetimes is not installed: no comparison")
    else:
        seconds_lt, reference = _cpu_seconds(lambda: lifetimes.BetaGeoFitter().fit(*sample))
        for name in ("r", "alpha", "a", "b"):
            assert ours.params_[name] == pytest.approx(reference.params_[name], rel=1e-3), name
        seconds_ours, _ = _cpu_seconds(lambda: clv.BGNBD().fit(*sample))
        lines.append(
            f"lifetimes BetaGeoFitter on 100,000 customers: {seconds_lt:.3f} s CPU "
            f"({seconds_lt / seconds_ours:.0f}x slower; same parameters to 1e-3)"
        )
    print("\n" + "\n".join(lines))
