"""Verifying our own DP-SGD by a one-run privacy audit (Steinke, Nasr and Jagielski 2023).

Plain Python but for `dpviz.training.canary_audit` (TensorFlow, in the worker) and the statistics,
which import jax-privacy's `auditing` (and with it jax) only when a bound is computed.
"""
