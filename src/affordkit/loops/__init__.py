"""Loops that drive envs and learners: rollouts, evaluation, checkpoints. Timing and progress
live here, not in the algorithms."""
