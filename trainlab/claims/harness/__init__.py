"""Harnesses: re-run a paper's own baseline set-up and put our numbers next to its published ones.

Unlike a claim (a paired baseline/treatment comparison with a verdict), a harness checks that our
data and training reproduce a table; it reports, it does not judge.
"""
