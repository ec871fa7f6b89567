"""The speed benchmark of crmflow: synthetic data, the harness, the pandas and
lifetimes baselines. Run it with ``.venv/bin/python -m bench.run`` (see the
README, section "Benchmark")."""
