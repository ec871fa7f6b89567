"""Purchase histories drawn from BG/NBD or MBG/NBD (Fader, Hardie & Lee 2005a;
Batislam, Denizel & Filiztekin 2007), for the model-choice tests: plain numpy,
independent of crmflow."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

START = date(2022, 1, 1)


def simulate(n: int, *, model: str, r: float, alpha: float, a: float, b: float, days: int,
             arrival_days: int, seed: int) -> pd.DataFrame:
    """Transactions (customer_id, order_date, amount) of ``n`` customers over
    ``days`` days from START: each arrives (first purchase) uniformly in the
    first ``arrival_days``, buys at rate lambda ~ Gamma(r, alpha) per week while
    alive and, after each purchase, drops out with probability p ~ Beta(a, b);
    under MBG/NBD also right after the first purchase."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        first = rng.uniform(0, arrival_days)
        lam = rng.gamma(r, 1 / alpha) / 7  # per day
        p = rng.beta(a, b)
        times = [first]
        alive = not (model == "mbgnbd" and rng.random() < p)
        t = first
        while alive:
            t += rng.exponential(1 / lam) if lam > 0 else np.inf
            if t >= days:
                break
            times.append(t)
            alive = rng.random() >= p
        for when in times:
            rows.append((f"C{i:05d}", START + timedelta(days=int(when)), round(float(rng.gamma(4, 10)), 2)))
    return pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
