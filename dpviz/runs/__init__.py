"""Runs: the persistent store, worker processes and the queue that feeds them (no TensorFlow here)."""
